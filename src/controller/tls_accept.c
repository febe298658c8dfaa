/* SPDX-License-Identifier: MIT */
/*
 * TLS 1.3 on accepted connections (NVMe/TCP 1.1 §3.6, TP 8011): the
 * handshake runs before the ICReq, on a thread of its own per connection
 * so that a slow or silent host holds neither the listener nor an engine
 * thread, and for at most connect_timeout_ms.  The connection is counted
 * against max_connections from accept on.  The PSK comes from the host
 * entry the identity names (src/security/tls.c checks the identity and
 * derives the TLS PSK), and only for a subsystem that host may reach
 * through this port, or for discovery.  Then the queue pair gets the
 * session; Connect later checks that its NQNs are the identity's.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "controller/internal.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/testpoint.h"

#define TLS_RECORD_HANDSHAKE 0x16   /* the first byte of a ClientHello */

struct tls_accept {
	struct tls_accept *next;       /* target->accepting (target lock) */
	struct nvmf_target *target;
	struct nvmf_conn *conn;
	struct nvmf_qpair_params params;
	int fd;
};

/* The key of the host the identity names, if it may use subnqn here. */
static int tls_lookup(void *arg, const char *hostnqn, const char *subnqn,
		      struct nvmf_tls_key *key)
{
	struct tls_accept *a = arg;
	struct nvmf_target *t = a->target;
	const struct host_cred *h;
	bool reachable;
	int rc = -1;

	nvmf_mutex_lock(&t->lock);
	h = auth_find_host(t, hostnqn);
	if (strcmp(subnqn, NVMF_DISCOVERY_NQN) == 0) {
		reachable = true;
	} else {
		struct nvmf_subsys *s = target_find_subsys(t, subnqn);
		struct nvmf_port *port = target_find_port(t, a->conn->portid);

		reachable = s != NULL && port != NULL && port_has_subsys(port, subnqn) &&
			    subsys_host_allowed(s, hostnqn);
	}
	if (h != NULL && h->has_tls && reachable) {
		*key = h->tls_key;
		rc = 0;
	}
	nvmf_mutex_unlock(&t->lock);
	return rc;
}

/* TLS or not, on a port that allows both: the host's first byte says. */
static int first_byte(int fd, int timeout_ms, uint8_t *b)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return r == 0 ? ETIMEDOUT : errno;
	if (recv(fd, b, 1, MSG_PEEK | MSG_DONTWAIT) != 1)
		return ECONNRESET;
	return 0;
}

static void unlist(struct tls_accept *a)
{
	struct nvmf_target *t = a->target;

	nvmf_mutex_lock(&t->lock);
	for (struct tls_accept **pp = &t->accepting; *pp != NULL; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	nvmf_mutex_unlock(&t->lock);
}

static void refuse(struct tls_accept *a, const char *why)
{
	struct nvmf_target *t = a->target;

	NVMF_WARN("nvmfd: %s: %s; connection closed", a->conn->peer, why);
	nvmf_mutex_lock(&t->lock);
	t->stats.tls_refused++;
	nvmf_mutex_unlock(&t->lock);
	close(a->fd);
	target_conn_abandon(t, a->conn);
}

static void *tls_accept_main(void *arg)
{
	struct tls_accept *a = arg;
	struct nvmf_target *t = a->target;
	struct nvmf_conn *conn = a->conn;
	const struct nvmf_tls_server_params p = {
		.lookup = tls_lookup,
		.lookup_arg = a,
		.timeout_ms = (int)t->params.connect_timeout_ms,
	};
	struct nvmf_tls_session *s = NULL;
	struct nvmf_qpair *qp;
	char err[320] = "";
	bool plaintext = false;
	uint8_t b = 0;
	int e;

	if (conn->port_tls == NVMF_PORT_TLS_OPTIONAL) {
		e = first_byte(a->fd, p.timeout_ms, &b);
		if (e != 0)
			snprintf(err, sizeof(err), "nothing received before the %s: %s",
				 e == ETIMEDOUT ? "connect timeout" : "connection ended",
				 strerror(e));
		plaintext = e == 0 && b != TLS_RECORD_HANDSHAKE;
		if (e != 0) {
			unlist(a);
			refuse(a, err);
			free(a);
			return NULL;
		}
	}
	if (!plaintext)
		s = nvmf_tls_server_handshake(a->fd, &p, err, sizeof(err));
	unlist(a);
	if (!plaintext && s == NULL) {
		char why[400];

		snprintf(why, sizeof(why), "TLS: %s", err);
		refuse(a, why);
		free(a);
		return NULL;
	}
	if (s != NULL) {
		conn->tls = true;
		snprintf(conn->tls_hostnqn, sizeof(conn->tls_hostnqn), "%s", nvmf_tls_hostnqn(s));
		snprintf(conn->tls_subnqn, sizeof(conn->tls_subnqn), "%s", nvmf_tls_subnqn(s));
		NVMF_DEBUG("nvmfd: %s: TLS 1.3 %s with identity '%s'%s", conn->peer,
			   nvmf_tls_cipher(s), nvmf_tls_identity(s),
			   nvmf_tls_ktls_tx(s) ? " (kTLS)" : "");
	}
	a->params.tcp.fd = a->fd;
	a->params.tcp.tls = s;
	/* The queue pair owns socket and session from here, even on failure. */
	qp = nvmf_qpair_create(&a->params);
	if (qp == NULL) {
		NVMF_ERR("nvmfd: %s: cannot set up the queue pair: %s", conn->peer, strerror(errno));
		target_conn_abandon(t, conn);
		free(a);
		return NULL;
	}
	free(a);
	/* The last touch of the target: it may be gone once this returns. */
	target_conn_attach(t, conn, qp);
	NVMF_TESTPOINT("controller.tls_accept.attached", NULL);
	return NULL;
}

int tls_accept_start(struct nvmf_target *t, struct nvmf_conn *conn,
		     const struct nvmf_qpair_params *params, int fd)
{
	struct tls_accept *a = calloc(1, sizeof(*a));
	pthread_attr_t attr;
	pthread_t thread; /* not in a: the thread may free a before we could store it */
	int rc;

	if (a == NULL) {
		close(fd);
		target_conn_abandon(t, conn);
		return ENOMEM;
	}
	a->target = t;
	a->conn = conn;
	a->params = *params;
	a->fd = fd;
	nvmf_mutex_lock(&t->lock);
	a->next = t->accepting;
	t->accepting = a;
	nvmf_mutex_unlock(&t->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = target_start_thread(&thread, &attr, tls_accept_main, a);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		unlist(a);
		NVMF_ERR("nvmfd: %s: cannot start the TLS handshake: %s", conn->peer, strerror(rc));
		close(fd);
		target_conn_abandon(t, conn);
		free(a);
	}
	return rc;
}

void tls_accept_abort_all(struct nvmf_target *t)
{
	nvmf_mutex_lock(&t->lock);
	/* The handshake sees the end of the stream and gives up; its thread
	 * closes the socket after unlisting itself, so fd is still ours. */
	for (struct tls_accept *a = t->accepting; a != NULL; a = a->next)
		shutdown(a->fd, SHUT_RDWR);
	nvmf_mutex_unlock(&t->lock);
}
