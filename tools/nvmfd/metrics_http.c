/* SPDX-License-Identifier: MIT */
/*
 * The metrics endpoint's HTTP/1.1 server (metrics_http.h): one thread,
 * one connection at a time, one request per connection (RFC 9112).  A
 * request must arrive whole within HTTP_TIMEOUT_MS and HTTP_MAX_REQUEST
 * bytes; the answer closes the connection.  Only GET and HEAD of
 * /metrics (any query string) are served.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "metrics_http.h"

#define HTTP_LINGER_MS 1000      /* to drop what a client still sends */
#define HTTP_LINGER_BYTES 65536

/* ------------------------------------------------------------------ */
/* Request parsing                                                     */
/* ------------------------------------------------------------------ */

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The end of the line starting at p (its CR LF, or a bare LF), or NULL. */
static const char *line_end(const char *p, const char *end)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));

	if (lf == NULL)
		return NULL;
	return lf > p && lf[-1] == '\r' ? lf - 1 : lf;
}

static const char *next_line(const char *eol)
{
	return *eol == '\r' ? eol + 2 : eol + 1;
}

/* request-line = method SP request-target SP HTTP-version (§3). */
static enum http_verdict parse_request_line(const char *p, const char *eol, bool *head,
					    bool *http11)
{
	const char *method = p, *target, *version;
	size_t mlen, tlen, path_len;

	while (p < eol && is_tchar((unsigned char)*p))
		p++;
	mlen = (size_t)(p - method);
	if (mlen == 0 || p == eol || *p != ' ')
		return HTTP_BAD_REQUEST;
	target = ++p;
	while (p < eol && *p > ' ' && *p < 0x7f)
		p++;
	tlen = (size_t)(p - target);
	if (tlen == 0 || p == eol || *p != ' ')
		return HTTP_BAD_REQUEST;
	version = ++p;
	if (eol - version != 8 || memcmp(version, "HTTP/", 5) != 0 || version[6] != '.' ||
	    version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
		return HTTP_BAD_REQUEST;
	if (version[5] != '1')
		return HTTP_VERSION_NOT_SUPPORTED;
	*http11 = version[7] != '0';
	/* Only the origin form (§3.2.1): the server has one resource. */
	if (target[0] != '/')
		return HTTP_BAD_REQUEST;
	*head = mlen == 4 && memcmp(method, "HEAD", 4) == 0;
	if (!*head && !(mlen == 3 && memcmp(method, "GET", 3) == 0))
		return HTTP_METHOD_NOT_ALLOWED;
	path_len = tlen;
	for (size_t i = 0; i < tlen; i++)
		if (target[i] == '?') {
			path_len = i;
			break;
		}
	if (path_len != 8 || memcmp(target, "/metrics", 8) != 0)
		return HTTP_NOT_FOUND;
	return HTTP_OK;
}

/* field-line = field-name ":" OWS field-value OWS (§5); no obs-fold. */
static bool parse_field(const char *p, const char *eol, bool *is_host)
{
	const char *name = p;

	while (p < eol && is_tchar((unsigned char)*p))
		p++;
	if (p == name || p == eol || *p != ':')
		return false;
	*is_host = p - name == 4 && strncasecmp(name, "host", 4) == 0;
	for (p++; p < eol; p++)
		if ((unsigned char)*p < ' ' && *p != '\t')
			return false; /* control characters (a lone CR) */
	return true;
}

enum http_verdict http_parse_request(const char *buf, size_t len, bool *head)
{
	const char *end = buf + len, *p = buf, *eol;
	enum http_verdict verdict;
	unsigned nfields = 0;
	bool http11 = false, host = false;

	*head = false;
	/* Empty lines before the request line are allowed (§2.2). */
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	if ((eol = line_end(p, end)) == NULL)
		return len >= HTTP_MAX_REQUEST ? HTTP_TOO_LARGE : HTTP_INCOMPLETE;
	verdict = parse_request_line(p, eol, head, &http11);
	for (p = next_line(eol);; p = next_line(eol)) {
		bool is_host = false;

		if ((eol = line_end(p, end)) == NULL)
			return len >= HTTP_MAX_REQUEST ? HTTP_TOO_LARGE : HTTP_INCOMPLETE;
		if (eol == p)
			break; /* the empty line: the header section is complete */
		if (++nfields > HTTP_MAX_HEADERS)
			return HTTP_TOO_LARGE;
		if (*p == ' ' || *p == '\t' || !parse_field(p, eol, &is_host))
			verdict = HTTP_BAD_REQUEST;
		if (is_host && host)
			verdict = HTTP_BAD_REQUEST; /* two Host fields (§3.2) */
		host = host || is_host;
	}
	if (verdict == HTTP_OK && http11 && !host)
		return HTTP_BAD_REQUEST; /* HTTP/1.1 requires Host (§3.2) */
	return verdict;
}

/* ------------------------------------------------------------------ */
/* Text buffer                                                         */
/* ------------------------------------------------------------------ */

void text_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->data != NULL ? t->data + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap != 0 ? t->cap * 2 : 16384;
		while (cap - t->len <= (size_t)n)
			cap *= 2;
		char *data = realloc(t->data, cap);
		if (data == NULL) {
			t->failed = true;
			return;
		}
		t->data = data;
		t->cap = cap;
	}
}

void text_free(struct text *t)
{
	free(t->data);
	*t = (struct text){0};
}

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

struct metrics_server {
	struct nvmf_target *target;
	int fd;
	int stop_fd;             /* eventfd: stop the thread */
	pthread_t thread;
	char name[80];           /* ADDR:PORT as bound */
};

/* The bound address as ADDR:PORT or [ADDR]:PORT. */
static void bound_name(struct metrics_server *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (getsockname(s->fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		snprintf(s->name, sizeof(s->name), "[%s]:%u", addr, port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		snprintf(s->name, sizeof(s->name), "%s:%u", addr, port);
	}
}

const char *metrics_server_name(const struct metrics_server *s)
{
	return s->name;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Read until the request's header section is complete, or a verdict. */
static enum http_verdict read_request(struct metrics_server *s, int fd, bool *head)
{
	char buf[HTTP_MAX_REQUEST];
	size_t len = 0;
	uint64_t deadline = now_ms() + HTTP_TIMEOUT_MS;

	for (;;) {
		struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = s->stop_fd, .events = POLLIN}};
		uint64_t now = now_ms();
		enum http_verdict v;
		ssize_t n;

		if (now >= deadline || poll(pfd, 2, (int)(deadline - now)) <= 0 ||
		    pfd[1].revents != 0)
			return HTTP_INCOMPLETE;
		n = recv(fd, buf + len, sizeof(buf) - len, 0);
		if (n <= 0)
			return HTTP_INCOMPLETE;
		len += (size_t)n;
		v = http_parse_request(buf, len, head);
		if (v != HTTP_INCOMPLETE)
			return v;
		if (len == sizeof(buf))
			return HTTP_TOO_LARGE;
	}
}

static const char *reason(enum http_verdict v)
{
	switch (v) {
	case HTTP_OK:
		return "OK";
	case HTTP_NOT_FOUND:
		return "Not Found";
	case HTTP_METHOD_NOT_ALLOWED:
		return "Method Not Allowed";
	case HTTP_TOO_LARGE:
		return "Request Header Fields Too Large";
	case HTTP_VERSION_NOT_SUPPORTED:
		return "HTTP Version Not Supported";
	case HTTP_INCOMPLETE:
	case HTTP_BAD_REQUEST:
		break;
	}
	return "Bad Request";
}

static void send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return; /* the peer went, or SO_SNDTIMEO ran out */
		p += n;
		len -= (size_t)n;
	}
}

/*
 * Closing with unread bytes would reset the connection, and the peer
 * could lose the answer (a request over the limit): stop sending, then
 * drop what still comes, for a bounded time and amount (RFC 9112 §9.6).
 */
static void lingering_close(int fd)
{
	uint64_t deadline = now_ms() + HTTP_LINGER_MS;
	char sink[4096];
	size_t total = 0;

	shutdown(fd, SHUT_WR);
	while (total < HTTP_LINGER_BYTES) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t now = now_ms();
		ssize_t n;

		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0)
			break;
		n = recv(fd, sink, sizeof(sink), 0);
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	close(fd);
}

static void serve(struct metrics_server *s, int fd)
{
	struct timeval tv = {.tv_sec = HTTP_TIMEOUT_MS / 1000};
	struct text body = {0}, hdr = {0};
	bool head = false;
	enum http_verdict v = read_request(s, fd, &head);

	if (v == HTTP_INCOMPLETE)
		return; /* timed out, closed early, or stopping: nothing to answer */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (v == HTTP_OK && metrics_render(s->target, &body) != 0) {
		static const char unavailable[] = "HTTP/1.1 503 Service Unavailable\r\n"
						  "Content-Length: 0\r\nConnection: close\r\n\r\n";

		fprintf(stderr, "nvmfd: metrics: out of memory rendering the page\n");
		text_free(&body);
		send_all(fd, unavailable, sizeof(unavailable) - 1);
		return;
	}
	if (v != HTTP_OK)
		text_printf(&body, "%d %s\n", (int)v, reason(v));
	text_printf(&hdr, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
		    "Connection: close\r\n\r\n", (int)v, reason(v),
		    v == HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain",
		    body.len, v == HTTP_METHOD_NOT_ALLOWED ? "Allow: GET, HEAD\r\n" : "");
	if (!hdr.failed && !body.failed) {
		send_all(fd, hdr.data, hdr.len);
		if (!head)
			send_all(fd, body.data, body.len);
	}
	text_free(&hdr);
	text_free(&body);
}

static void *server_main(void *arg)
{
	struct metrics_server *s = arg;

	pthread_setname_np(pthread_self(), "nvmf-metrics"); /* for top -H */
	for (;;) {
		struct pollfd pfd[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = s->stop_fd, .events = POLLIN}};
		int fd;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "nvmfd: metrics: poll: %s\n", strerror(errno));
			break;
		}
		if (pfd[1].revents != 0)
			break;
		fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			/* Out of descriptors: wait for one, without spinning. */
			if (errno == EMFILE || errno == ENFILE)
				poll(&pfd[1], 1, 100);
			continue;
		}
		serve(s, fd);
		lingering_close(fd);
	}
	return NULL;
}

/* "ADDR:PORT", "[IPV6]:PORT" or "PORT" into a socket address. */
static int parse_spec(const char *spec, struct sockaddr_storage *ss, socklen_t *sslen)
{
	char addr[64] = "127.0.0.1";
	const char *port = spec, *colon = strrchr(spec, ':');
	char *end;
	unsigned long n;

	if (colon != NULL) {
		const char *a = spec;
		size_t alen = (size_t)(colon - spec);

		if (alen >= 2 && a[0] == '[' && a[alen - 1] == ']') {
			a++;
			alen -= 2;
		}
		if (alen == 0 || alen >= sizeof(addr))
			return -1;
		memcpy(addr, a, alen);
		addr[alen] = '\0';
		port = colon + 1;
	}
	errno = 0;
	n = strtoul(port, &end, 10);
	if (*port < '0' || *port > '9' || *end != '\0' || errno != 0 || n > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)n);
		*sslen = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)n);
		*sslen = sizeof(struct sockaddr_in6);
		return 0;
	}
	return -1;
}

struct metrics_server *metrics_server_start(struct nvmf_target *target, const char *spec,
					    char *err, size_t errlen)
{
	struct metrics_server *s = calloc(1, sizeof(*s));
	struct sockaddr_storage ss;
	socklen_t sslen;
	int one = 1, rc;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->target = target;
	s->fd = s->stop_fd = -1;
	snprintf(s->name, sizeof(s->name), "%s", spec);
	if (parse_spec(spec, &ss, &sslen) != 0) {
		snprintf(err, errlen, "--metrics %s: expected ADDR:PORT, [IPV6]:PORT or PORT with a "
			 "numeric address and a port of 0-65535 (0: any free one)", spec);
		goto fail;
	}
	s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (s->fd < 0 || s->stop_fd < 0) {
		snprintf(err, errlen, "--metrics: %s", strerror(errno));
		goto fail;
	}
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->fd, (struct sockaddr *)&ss, sslen) != 0 || listen(s->fd, 16) != 0) {
		snprintf(err, errlen, "--metrics: cannot listen on %s: %s", spec, strerror(errno));
		goto fail;
	}
	bound_name(s);
	rc = pthread_create(&s->thread, NULL, server_main, s);
	if (rc != 0) {
		snprintf(err, errlen, "--metrics: cannot start its thread: %s", strerror(rc));
		goto fail;
	}
	return s;
fail:
	if (s->fd >= 0)
		close(s->fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	free(s);
	return NULL;
}

void metrics_server_stop(struct metrics_server *s)
{
	uint64_t one = 1;

	if (s == NULL)
		return;
	if (write(s->stop_fd, &one, sizeof(one)) != sizeof(one))
		fprintf(stderr, "nvmfd: metrics: cannot stop the server: %s\n", strerror(errno));
	pthread_join(s->thread, NULL);
	close(s->fd);
	close(s->stop_fd);
	free(s);
}
