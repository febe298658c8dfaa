/* SPDX-License-Identifier: MIT */
/*
 * nvmfd's JSON-RPC server: a Unix stream socket (mode 0600), one thread
 * polling it and its clients.  A request is one JSON object; requests may
 * follow each other on a connection, each answered by one line of JSON.
 * A request's end is found by a small scanner (braces outside strings),
 * so each is parsed once, and a request that grows beyond
 * NVMFD_RPC_MAX_REQUEST, or does not start as an object, is answered with
 * a parse error and its connection closed.  Clients that go away
 * mid-request, or send garbage, cost only their own connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "nvmfd.h"

#define RPC_MAX_CLIENTS 16
#define RPC_READ_CHUNK 65536
#define RPC_MAX_PENDING_OUT (4u << 20) /* stop reading a client that does not read */
#define RPC_DEFAULT_NAME "nvmfd.sock"
#define RPC_DEFAULT_DIR "/run/nvmfd"

struct client {
	int fd;                   /* -1: a free slot */
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off;
	bool closing;             /* close once out is sent */
	/* The scanner over in[0..in_len): where it is and what it saw. */
	size_t scanned;
	unsigned depth;
	bool started, in_string, escape;
};

struct nvmfd_rpc {
	int fd;
	int lock_fd;
	int wake[2];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pthread_t thread;
	bool running;
	struct nvmfd_state *st;
	struct client clients[RPC_MAX_CLIENTS];
};

static void client_reset(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int client_queue(struct client *c, const char *text)
{
	size_t n = strlen(text);
	char *grown = realloc(c->out, c->out_len + n + 1);

	if (grown == NULL)
		return -1;
	c->out = grown;
	memcpy(c->out + c->out_len, text, n);
	c->out[c->out_len + n] = '\n';
	c->out_len += n + 1;
	return 0;
}

/* Answer a request we could not read, then hang up: we cannot resync. */
static void client_refuse(struct client *c, int code, const char *why)
{
	char text[256];

	snprintf(text, sizeof(text),
		 "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":%d,\"message\":\"%s\"}}", code,
		 why);
	if (client_queue(c, text) != 0)
		c->out_len = c->out_off;
	c->closing = true;
}

/* One byte through the scanner; true when it ends a top-level object. */
static bool scan_byte(struct client *c, char ch)
{
	if (c->in_string) {
		if (c->escape)
			c->escape = false;
		else if (ch == '\\')
			c->escape = true;
		else if (ch == '"')
			c->in_string = false;
		return false;
	}
	if (ch == '"') {
		c->in_string = true;
	} else if (ch == '{' || ch == '[') {
		c->depth++;
	} else if (ch == '}' || ch == ']') {
		if (c->depth > 0 && --c->depth == 0)
			return true;
	}
	return false;
}

/* Handle every complete request buffered. */
static void client_process(struct nvmfd_state *st, struct client *c)
{
	while (!c->closing && c->scanned < c->in_len) {
		char ch = c->in[c->scanned++];

		if (!c->started) {
			if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
				continue;
			if (ch != '{') {
				client_refuse(c, ch == '[' ? -32600 : -32700,
					      ch == '[' ? "a request is one JSON object (no batches)"
							: "parse error: a request is one JSON object");
				return;
			}
			c->started = true;
			c->depth = 1;
			/* Leading whitespace is not part of the request. */
			memmove(c->in, c->in + c->scanned - 1, c->in_len - c->scanned + 1);
			c->in_len -= c->scanned - 1;
			c->scanned = 1;
			continue;
		}
		if (scan_byte(c, ch)) {
			char *answer = nvmfd_rpc_handle(st, c->in, c->scanned);

			if (answer != NULL && client_queue(c, answer) != 0)
				c->closing = true;
			free(answer);
			memmove(c->in, c->in + c->scanned, c->in_len - c->scanned);
			c->in_len -= c->scanned;
			c->scanned = 0;
			c->started = false;
			c->in_string = c->escape = false;
		}
	}
	if (!c->started)
		c->in_len = c->scanned = 0; /* whitespace between requests */
	if (!c->closing && c->in_len > NVMFD_RPC_MAX_REQUEST)
		client_refuse(c, -32700, "parse error: request larger than 1 MiB");
}

bool nvmfd_rpc_feed(struct nvmfd_state *st, const char *data, size_t len, size_t chunk,
		    char **out, size_t *outlen)
{
	struct client c = {.fd = -1};
	bool open;

	*out = NULL;
	*outlen = 0;
	c.in = malloc(len ? len : 1);
	if (c.in == NULL)
		return false;
	c.in_cap = len;
	for (size_t off = 0; off < len && !c.closing;) {
		size_t n = chunk == 0 || chunk > len - off ? len - off : chunk;

		memcpy(c.in + c.in_len, data + off, n);
		c.in_len += n;
		off += n;
		client_process(st, &c);
	}
	open = !c.closing;
	*out = c.out;
	*outlen = c.out_len;
	c.out = NULL;
	client_reset(&c);
	return open;
}

static void client_read(struct nvmfd_rpc *rpc, struct client *c)
{
	ssize_t n;

	if (c->in_cap - c->in_len < RPC_READ_CHUNK) {
		size_t cap = c->in_len + RPC_READ_CHUNK;
		char *grown = realloc(c->in, cap);

		if (grown == NULL) {
			client_reset(c);
			return;
		}
		c->in = grown;
		c->in_cap = cap;
	}
	n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* Gone, perhaps mid-request: its half request goes with it. */
		client_reset(c);
		return;
	}
	c->in_len += (size_t)n;
	client_process(rpc->st, c);
}

static void client_write(struct client *c)
{
	ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		client_reset(c);
		return;
	}
	c->out_off += (size_t)n;
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		if (c->closing)
			client_reset(c);
	}
}

static void accept_client(struct nvmfd_rpc *rpc)
{
	static const char busy[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,"
				   "\"message\":\"too many clients: try again\"}}\n";
	int fd = accept4(rpc->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	for (unsigned i = 0; i < RPC_MAX_CLIENTS; i++)
		if (rpc->clients[i].fd < 0) {
			rpc->clients[i].fd = fd;
			return;
		}
	fprintf(stderr, "nvmfd: rpc: %d clients already connected: one more refused\n",
		RPC_MAX_CLIENTS);
	/* Said, not only closed, so its user knows to try again; best effort
	 * (the socket is new: it has room, and it does not block). */
	(void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);
	close(fd);
}

static void *rpc_thread(void *arg)
{
	struct nvmfd_rpc *rpc = arg;
	struct pollfd pfd[RPC_MAX_CLIENTS + 2];
	int slot[RPC_MAX_CLIENTS + 2];

	pthread_setname_np(pthread_self(), "nvmf-rpc"); /* for top -H */
	for (;;) {
		nfds_t n = 2;

		pfd[0] = (struct pollfd){.fd = rpc->wake[0], .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = rpc->fd, .events = POLLIN};
		for (int i = 0; i < RPC_MAX_CLIENTS; i++) {
			struct client *c = &rpc->clients[i];
			short ev = 0;

			if (c->fd < 0)
				continue;
			if (c->out_len > c->out_off)
				ev |= POLLOUT;
			if (!c->closing && c->out_len - c->out_off < RPC_MAX_PENDING_OUT)
				ev |= POLLIN;
			slot[n] = i;
			pfd[n++] = (struct pollfd){.fd = c->fd, .events = ev};
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "nvmfd: rpc: poll: %s: no more requests served\n",
				strerror(errno));
			return NULL;
		}
		if (pfd[0].revents != 0)
			return NULL;
		if (pfd[1].revents & POLLIN)
			accept_client(rpc);
		for (nfds_t k = 2; k < n; k++) {
			struct client *c = &rpc->clients[slot[k]];

			if (pfd[k].revents & POLLOUT)
				client_write(c);
			if (c->fd >= 0 && (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
				client_read(rpc, c);
		}
	}
}

/* ------------------------------------------------------------------ */

static int default_path(char *out, size_t size)
{
	const char *dir = getenv("RUNTIME_DIRECTORY");
	size_t len;

	if (dir == NULL || dir[0] == '\0')
		dir = RPC_DEFAULT_DIR;
	/* systemd lists several directories with ':'; the first is ours. */
	len = strcspn(dir, ":");
	return (size_t)snprintf(out, size, "%.*s/%s", (int)len, dir, RPC_DEFAULT_NAME) < size ? 0
											   : -1;
}

static int make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	return mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* Bind path, owner only; fills why on failure. */
static int rpc_bind(struct nvmfd_rpc *rpc, char *why, size_t whylen)
{
	char lock[sizeof(rpc->path) + 8];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old;
	int rc;

	if (make_parent(rpc->path) != 0) {
		snprintf(why, whylen, "cannot create its directory: %s", strerror(errno));
		return -1;
	}
	/* Held while we run: a second nvmfd must not take over a live socket. */
	snprintf(lock, sizeof(lock), "%s.lock", rpc->path);
	rpc->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (rpc->lock_fd < 0) {
		snprintf(why, whylen, "%s: %s", lock, strerror(errno));
		return -1;
	}
	if (flock(rpc->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(why, whylen, "in use by another nvmfd (%s is locked)", lock);
		return -1;
	}
	unlink(rpc->path); /* a socket left by one that died */
	rpc->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (rpc->fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	memcpy(sa.sun_path, rpc->path, strlen(rpc->path) + 1);
	old = umask(0177); /* born 0600: no window where others may connect */
	rc = bind(rpc->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || listen(rpc->fd, RPC_MAX_CLIENTS) != 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	return 0;
}

struct nvmfd_rpc *nvmfd_rpc_open(const char *path, bool *fatal)
{
	struct nvmfd_rpc *rpc = calloc(1, sizeof(*rpc));
	char why[300];

	*fatal = path != NULL;
	if (rpc == NULL) {
		fprintf(stderr, "nvmfd: rpc: out of memory\n");
		return NULL;
	}
	rpc->fd = rpc->lock_fd = rpc->wake[0] = rpc->wake[1] = -1;
	for (unsigned i = 0; i < RPC_MAX_CLIENTS; i++)
		rpc->clients[i].fd = -1;
	if (path != NULL ? strlen(path) >= sizeof(rpc->path)
			 : default_path(rpc->path, sizeof(rpc->path)) != 0) {
		snprintf(why, sizeof(why), "longer than a socket path may be (%zu bytes)",
			 sizeof(rpc->path) - 1);
		goto fail;
	}
	if (path != NULL)
		snprintf(rpc->path, sizeof(rpc->path), "%s", path);
	if (pipe2(rpc->wake, O_CLOEXEC) != 0) {
		snprintf(why, sizeof(why), "pipe: %s", strerror(errno));
		goto fail;
	}
	if (rpc_bind(rpc, why, sizeof(why)) != 0)
		goto fail;
	fprintf(stderr, "nvmfd: JSON-RPC on %s\n", rpc->path);
	return rpc;
fail:
	if (*fatal)
		fprintf(stderr, "nvmfd: --rpc-socket %s: %s\n", path, why);
	else
		fprintf(stderr, "nvmfd: warning: JSON-RPC socket %s: %s; running without it (--rpc-socket PATH names another)\n",
			rpc->path, why);
	nvmfd_rpc_close(rpc);
	return NULL;
}

int nvmfd_rpc_start(struct nvmfd_rpc *rpc, struct nvmfd_state *st)
{
	int rc;

	rpc->st = st;
	rc = pthread_create(&rpc->thread, NULL, rpc_thread, rpc);
	if (rc != 0) {
		fprintf(stderr, "nvmfd: rpc: cannot start its thread: %s\n", strerror(rc));
		return -1;
	}
	rpc->running = true;
	return 0;
}

void nvmfd_rpc_close(struct nvmfd_rpc *rpc)
{
	if (rpc == NULL)
		return;
	if (rpc->running) {
		if (write(rpc->wake[1], "x", 1) != 1)
			fprintf(stderr, "nvmfd: rpc: cannot wake its thread: %s\n", strerror(errno));
		pthread_join(rpc->thread, NULL);
	}
	for (unsigned i = 0; i < RPC_MAX_CLIENTS; i++)
		client_reset(&rpc->clients[i]);
	if (rpc->fd >= 0) {
		close(rpc->fd);
		unlink(rpc->path);
	}
	/* The lock file stays: removing it while held would let two daemons
	 * lock two different files of one name. */
	if (rpc->lock_fd >= 0)
		close(rpc->lock_fd);
	if (rpc->wake[0] >= 0) {
		close(rpc->wake[0]);
		close(rpc->wake[1]);
	}
	free(rpc);
}
