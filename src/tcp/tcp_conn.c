/* SPDX-License-Identifier: MIT */
/*
 * The TCP transport's connections: what the host and the controller know
 * only as an address.
 *
 * Host: nvmf_qpair_connect resolves the numeric address, connects within
 * the connect timeout, runs TLS 1.3 first when asked (TP 8011), then makes
 * the queue pair, which exchanges ICReq/ICResp; every failure is one line
 * saying what went wrong where.
 *
 * Controller: a listener binds the address and accepts on a thread of its
 * own; its owner fills in each connection's queue pair parameters (accept)
 * and gets the queue pair back (attach).  On a TLS port the handshake runs
 * on a thread per connection, bounded by the handshake timeout, so a slow
 * or silent host holds up neither the listener nor an engine thread.
 * Out of file descriptors, accepting pauses instead of spinning.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "security/tls_session.h"
#include "tcp/tcp.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/testpoint.h"
#include "util/thread.h"

#define LISTEN_BACKLOG 128
#define ACCEPT_BACKOFF_MS 100         /* out of descriptors: pause accepting */
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define TLS_RECORD_HANDSHAKE 0x16    /* the first byte of a ClientHello */

static void set_error(struct nvmf_error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_error(struct nvmf_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	memset(err, 0, sizeof(*err));
	err->errnum = errnum;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Host                                                                */
/* ------------------------------------------------------------------ */

/* A connected socket to addr within timeout_ms: the fd, or -errno with err. */
static int connect_socket(const struct nvmf_addr *addr, uint32_t timeout_ms,
			  struct nvmf_error *err)
{
	const struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				       .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *res;
	socklen_t len = sizeof(int);
	int fd, rc, soerr = 0;

	rc = getaddrinfo(addr->traddr, addr->trsvcid, &hints, &res);
	if (rc != 0) {
		set_error(err, EINVAL, "invalid address %s port %s: %s", addr->traddr,
			  addr->trsvcid, gai_strerror(rc));
		return -EINVAL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = errno;
		freeaddrinfo(res);
		set_error(err, rc, "socket: %s", strerror(rc));
		return -rc;
	}
	rc = connect(fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (rc != 0 && errno != EINPROGRESS) {
		soerr = errno;
	} else if (rc != 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};

		do
			rc = poll(&pfd, 1, (int)timeout_ms);
		while (rc < 0 && errno == EINTR);
		if (rc == 0)
			soerr = ETIMEDOUT;
		else if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
			soerr = errno;
	}
	if (soerr != 0) {
		close(fd);
		if (soerr == ECONNREFUSED)
			set_error(err, soerr, "connection refused by %s:%s", addr->traddr,
				  addr->trsvcid);
		else if (soerr == ETIMEDOUT)
			set_error(err, soerr, "timed out connecting to %s:%s", addr->traddr,
				  addr->trsvcid);
		else
			set_error(err, soerr, "cannot connect to %s:%s: %s", addr->traddr,
				  addr->trsvcid, strerror(soerr));
		return -soerr;
	}
	/* The threads engine sleeps in recv/send. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static struct nvmf_tls_session *client_tls(const struct nvmf_addr *addr, int fd,
					   const struct nvmf_tcp_params *tcp, uint32_t timeout_ms,
					   struct nvmf_error *err)
{
	const struct nvmf_tls_client_params p = {
		.hostnqn = tcp->tls_hostnqn,
		.subnqn = tcp->tls_subnqn,
		.key = tcp->tls_key,
		.identity_version = tcp->tls_identity_version,
		.timeout_ms = (int)timeout_ms,
	};
	char why[320];
	struct nvmf_tls_session *s;

	if (tcp->tls_key == NULL || tcp->tls_hostnqn == NULL || tcp->tls_subnqn == NULL) {
		set_error(err, EINVAL, "TLS needs a pre-shared key and the NQNs it names");
		return NULL;
	}
	s = nvmf_tls_client_handshake(fd, &p, why, sizeof(why));
	if (s == NULL) {
		int e = errno;

		set_error(err, e, "TLS with %s:%s: %s", addr->traddr, addr->trsvcid, why);
		/* A refused key stays refused: no point in retrying with it. */
		err->dnr = e == EACCES;
		return NULL;
	}
	NVMF_DEBUG("nvme-tcp: %s:%s: TLS 1.3 %s, identity '%s'", addr->traddr, addr->trsvcid,
		   nvmf_tls_cipher(s), nvmf_tls_identity(s));
	return s;
}

/* Why the queue pair could not be made (ICReq/ICResp), in words. */
static void icreq_error(const struct nvmf_addr *addr, const struct nvmf_qpair_params *params,
			uint32_t timeout_ms, int e, struct nvmf_error *err)
{
	const struct nvmf_tcp_params *tcp = &params->tcp;

	if (e == ETIMEDOUT)
		set_error(err, e, "%s:%s accepted the connection but sent no ICResp within %u ms "
			  "(timeout)", addr->traddr, addr->trsvcid, timeout_ms);
	else if ((e == ECONNRESET || e == EPROTO) && (tcp->header_digests || tcp->data_digests))
		set_error(err, e, "%s:%s refused the connection setup (ICReq, %s): digest "
			  "mismatch? (header digest %s, data digest %s requested)", addr->traddr,
			  addr->trsvcid, strerror(e), tcp->header_digests ? "on" : "off",
			  tcp->data_digests ? "on" : "off");
	else if (e == ECONNRESET && tcp->tls_mode == NVMF_TCP_TLS_NONE)
		set_error(err, e, "%s:%s reset the connection at ICReq: does the port require "
			  "TLS (--tls-key)?", addr->traddr, addr->trsvcid);
	else
		set_error(err, e, "connection setup (ICReq/ICResp) with %s:%s failed: %s",
			  addr->traddr, addr->trsvcid, strerror(e));
}

struct nvmf_qpair *tcp_qpair_connect(const struct nvmf_addr *addr,
				     const struct nvmf_qpair_params *params,
				     struct nvmf_error *err)
{
	struct nvmf_qpair_params p = *params;
	uint32_t timeout_ms = params->tcp.connect_timeout_ms != 0 ? params->tcp.connect_timeout_ms
								  : DEFAULT_CONNECT_TIMEOUT_MS;
	struct nvmf_qpair *qp;
	int fd = connect_socket(addr, timeout_ms, err);

	if (fd < 0)
		return NULL;
	p.tcp.fd = fd;
	p.tcp.tls = NULL;
	p.tcp.connect_timeout_ms = timeout_ms;
	if (params->tcp.tls_mode != NVMF_TCP_TLS_NONE) {
		p.tcp.tls = client_tls(addr, fd, &params->tcp, timeout_ms, err);
		if (p.tcp.tls == NULL) {
			close(fd);
			return NULL;
		}
	}
	/* From here the queue pair owns socket and session, even on failure. */
	qp = tcp_qpair_create(&p);
	if (qp == NULL)
		icreq_error(addr, params, timeout_ms, errno, err);
	return qp;
}

/* ------------------------------------------------------------------ */
/* Controller: listeners                                               */
/* ------------------------------------------------------------------ */

/* A TLS handshake under way on a thread of its own. */
struct handshake {
	struct handshake *next;        /* the listener's list (lock) */
	struct tcp_listener *l;
	void *conn;
	struct nvmf_qpair_params params;
	struct nvmf_peer peer;
	int fd;
};

struct tcp_listener {
	struct nvmf_listener base;
	struct nvmf_listen_params p;
	int fd;
	int wake[2];                   /* stops the accept thread */
	pthread_t thread;
	pthread_mutex_t lock;          /* the handshakes */
	pthread_cond_t cond;           /* a handshake ended */
	struct handshake *handshakes;  /* whose sockets a stop shuts down */
	unsigned nhandshakes;          /* threads still running */
};

static void format_addr(const struct sockaddr_storage *ss, bool with_port, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
	}
	if (!with_port)
		snprintf(buf, len, "%s", host);
	else if (ss->ss_family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", host, port);
	else
		snprintf(buf, len, "%s:%u", host, port);
}

static void describe_peer(int fd, struct nvmf_peer *peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(peer, 0, sizeof(*peer));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		format_addr(&ss, true, peer->name, sizeof(peer->name));
	else
		snprintf(peer->name, sizeof(peer->name), "unknown");
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		format_addr(&ss, false, peer->local_traddr, sizeof(peer->local_traddr));
}

/* The queue pair of an accepted (and, with TLS, handshaken) socket. */
static void hand_over(struct tcp_listener *l, void *conn, struct nvmf_qpair_params *params,
		      const struct nvmf_peer *peer, int fd, struct nvmf_tls_session *tls)
{
	struct nvmf_error err;
	struct nvmf_qpair *qp;

	params->tcp.fd = fd;
	params->tcp.tls = tls;
	/* The queue pair owns socket and session from here, even on failure. */
	qp = tcp_qpair_create(params);
	if (qp == NULL)
		set_error(&err, errno, "%s: cannot set up the queue pair: %s", peer->name,
			  strerror(errno));
	l->p.ops->attach(conn, qp, qp != NULL ? NULL : &err);
}

/* TLS or not, on a port that allows both: the host's first byte says. */
static int first_byte(int fd, uint32_t timeout_ms, uint8_t *b)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int r;

	do
		r = poll(&pfd, 1, (int)timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return r == 0 ? ETIMEDOUT : errno;
	if (recv(fd, b, 1, MSG_PEEK | MSG_DONTWAIT) != 1)
		return ECONNRESET;
	return 0;
}

/* Off the list before its socket is closed or handed over: a stop must
 * not shut down a descriptor number reused meanwhile. */
static void handshake_unlist(struct handshake *h)
{
	struct tcp_listener *l = h->l;

	nvmf_mutex_lock(&l->lock);
	for (struct handshake **pp = &l->handshakes; *pp != NULL; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	nvmf_mutex_unlock(&l->lock);
}

static void handshake_done(struct handshake *h)
{
	struct tcp_listener *l = h->l;

	nvmf_mutex_lock(&l->lock);
	l->nhandshakes--;
	pthread_cond_broadcast(&l->cond);
	nvmf_mutex_unlock(&l->lock);
	free(h);
}

static void *handshake_main(void *arg)
{
	struct handshake *h = arg;
	struct tcp_listener *l = h->l;
	const struct nvmf_tcp_params *tcp = &h->params.tcp;
	const struct nvmf_tls_server_params sp = {
		.lookup = tcp->tls_lookup,
		.lookup_arg = tcp->tls_lookup_arg,
		.timeout_ms = (int)l->p.handshake_timeout_ms,
	};
	struct nvmf_tls_session *s = NULL;
	struct nvmf_error err;
	char why[320] = "";
	uint8_t b = 0;
	int e = 0;

	nvmf_thread_name(pthread_self(), "nvmf-handshake");
	if (tcp->tls_mode == NVMF_TCP_TLS_OPTIONAL) {
		e = first_byte(h->fd, l->p.handshake_timeout_ms, &b);
		if (e != 0)
			set_error(&err, e, "%s: nothing received before the %s: %s", h->peer.name,
				  e == ETIMEDOUT ? "handshake timeout" : "connection ended",
				  strerror(e));
	}
	if (e == 0 && (tcp->tls_mode == NVMF_TCP_TLS_REQUIRED || b == TLS_RECORD_HANDSHAKE)) {
		s = nvmf_tls_server_handshake(h->fd, &sp, why, sizeof(why));
		if (s == NULL) {
			e = errno != 0 ? errno : EPROTO;
			set_error(&err, EACCES, "%s: TLS: %s", h->peer.name, why);
		} else {
			NVMF_DEBUG("nvme-tcp: %s: TLS 1.3 %s with identity '%s'%s", h->peer.name,
				   nvmf_tls_cipher(s), nvmf_tls_identity(s),
				   nvmf_tls_ktls_tx(s) ? " (kTLS)" : "");
		}
	}
	handshake_unlist(h);
	if (e != 0) {
		close(h->fd);
		l->p.ops->attach(h->conn, NULL, &err);
	} else {
		hand_over(l, h->conn, &h->params, &h->peer, h->fd, s);
		NVMF_TESTPOINT("tcp.listener.attached", NULL);
	}
	handshake_done(h);
	return NULL;
}

static void start_handshake(struct tcp_listener *l, void *conn, const struct nvmf_qpair_params *p,
			    const struct nvmf_peer *peer, int fd)
{
	struct handshake *h = calloc(1, sizeof(*h));
	struct nvmf_error err;
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;
	int rc = ENOMEM;

	if (h != NULL) {
		*h = (struct handshake){.l = l, .conn = conn, .params = *p, .peer = *peer, .fd = fd};
		nvmf_mutex_lock(&l->lock);
		h->next = l->handshakes;
		l->handshakes = h;
		l->nhandshakes++;
		nvmf_mutex_unlock(&l->lock);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		/* Handshake threads leave signals to the application's threads. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		rc = pthread_create(&thread, &attr, handshake_main, h);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&attr);
		if (rc == 0)
			return;
	}
	set_error(&err, rc, "%s: cannot start the TLS handshake: %s", peer->name, strerror(rc));
	if (h != NULL)
		handshake_unlist(h);
	close(fd);
	l->p.ops->attach(conn, NULL, &err);
	if (h != NULL)
		handshake_done(h);
}

/* One accepted socket: ask the owner, then hand it over or start TLS. */
static void accept_one(struct tcp_listener *l, int fd)
{
	struct nvmf_qpair_params params;
	struct nvmf_peer peer;
	void *conn = NULL;

	describe_peer(fd, &peer);
	memset(&params, 0, sizeof(params));
	if (l->p.ops->accept(l->p.arg, &peer, &params, &conn) != 0) {
		close(fd);
		return;
	}
	params.trtype = NVMF_TRTYPE_TCP;
	params.controller = true;
	if (params.tcp.tls_mode != NVMF_TCP_TLS_NONE)
		start_handshake(l, conn, &params, &peer, fd);
	else
		hand_over(l, conn, &params, &peer, fd, NULL);
}

static void *listener_main(void *arg)
{
	struct tcp_listener *l = arg;
	struct pollfd pfds[2] = {{.fd = l->wake[0], .events = POLLIN},
				 {.fd = l->fd, .events = POLLIN}};
	bool starved = false, backoff = false; /* out of file descriptors */

	nvmf_thread_name(pthread_self(), "nvmf-listen");
	for (;;) {
		/* Out of descriptors, a pending connection stays readable: poll
		 * only the wake-up pipe for a while instead of spinning. */
		int ready = poll(pfds, backoff ? 1 : 2, backoff ? ACCEPT_BACKOFF_MS : -1);
		int fd;

		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0) {
			NVMF_ERR("nvme-tcp: listener %s:%s: poll: %s", l->base.addr.traddr,
				 l->base.addr.trsvcid, strerror(errno));
			break;
		}
		if (pfds[0].revents != 0)
			break;
		if (backoff) {
			backoff = false;
			continue;
		}
		if (!(pfds[1].revents & POLLIN))
			continue;
		fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			if (starved)
				NVMF_INFO("nvme-tcp: %s:%s: accepting connections again",
					  l->base.addr.traddr, l->base.addr.trsvcid);
			starved = false;
			accept_one(l, fd);
		} else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			   errno == ENOMEM) {
			if (!starved)
				NVMF_WARN("nvme-tcp: accept on %s:%s: %s: new connections wait until some close (raise the open-file limit or lower the connection limit)",
					  l->base.addr.traddr, l->base.addr.trsvcid,
					  strerror(errno));
			starved = backoff = true;
		} else if (errno != EAGAIN && errno != ECONNABORTED && errno != EINTR) {
			NVMF_WARN("nvme-tcp: accept on %s:%s: %s", l->base.addr.traddr,
				  l->base.addr.trsvcid, strerror(errno));
		}
	}
	return NULL;
}

/* Bind and listen on addr; the fd and the port bound, or -errno with err. */
static int listen_socket(const struct nvmf_addr *addr, uint16_t *bound, struct nvmf_error *err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	unsigned long number = strtoul(addr->trsvcid, NULL, 10);
	int one = 1, fd, rc;

	memset(&ss, 0, sizeof(ss));
	if (addr->adrfam == NVMF_ADRFAM_IPV6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)number);
		rc = inet_pton(AF_INET6, addr->traddr, &sin6->sin6_addr);
		len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)number);
		rc = inet_pton(AF_INET, addr->traddr, &sin->sin_addr);
		len = sizeof(*sin);
	}
	if (rc != 1 || number > UINT16_MAX) {
		set_error(err, EINVAL, "%s port %s: not a numeric address and port", addr->traddr,
			  addr->trsvcid);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = errno;
		set_error(err, rc, "socket: %s", strerror(rc));
		return -rc;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		rc = errno;
		set_error(err, rc, "cannot listen on %s port %s: %s", addr->traddr, addr->trsvcid,
			  strerror(rc));
		close(fd);
		return -rc;
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*bound = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					       : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

struct nvmf_listener *tcp_listen(const struct nvmf_listen_params *params, struct nvmf_error *err)
{
	struct tcp_listener *l = calloc(1, sizeof(*l));
	sigset_t all, old;
	uint16_t bound = 0;
	int rc;

	if (l == NULL) {
		set_error(err, ENOMEM, "out of memory");
		return NULL;
	}
	l->p = *params;
	l->base.ops = &nvmf_tcp_transport;
	l->base.addr = params->addr;
	l->wake[0] = l->wake[1] = -1;
	l->fd = listen_socket(&params->addr, &bound, err);
	if (l->fd < 0) {
		free(l);
		return NULL;
	}
	snprintf(l->base.addr.trsvcid, sizeof(l->base.addr.trsvcid), "%u", bound);
	if (pipe2(l->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		rc = errno;
		goto fail;
	}
	nvmf_mutex_init(&l->lock);
	pthread_cond_init(&l->cond, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&l->thread, NULL, listener_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		return &l->base;
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
fail:
	set_error(err, rc, "listener on %s port %s: %s", params->addr.traddr,
		  params->addr.trsvcid, strerror(rc));
	if (l->wake[0] >= 0) {
		close(l->wake[0]);
		close(l->wake[1]);
	}
	close(l->fd);
	free(l);
	return NULL;
}

void tcp_listener_free(struct nvmf_listener *base)
{
	struct tcp_listener *l = (struct tcp_listener *)base;

	if (write(l->wake[1], "x", 1) < 0)
		NVMF_WARN("nvme-tcp: cannot wake a listener: %s", strerror(errno));
	pthread_join(l->thread, NULL);
	close(l->fd);
	/* The handshakes see the end of the stream and give up; each thread
	 * closes its socket after it left the list, so these fds are still
	 * theirs to close. */
	nvmf_mutex_lock(&l->lock);
	for (struct handshake *h = l->handshakes; h != NULL; h = h->next)
		shutdown(h->fd, SHUT_RDWR);
	NVMF_TESTPOINT("tcp.listener.draining", l);
	while (l->nhandshakes > 0)
		pthread_cond_wait(&l->cond, &l->lock);
	nvmf_mutex_unlock(&l->lock);
	close(l->wake[0]);
	close(l->wake[1]);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
