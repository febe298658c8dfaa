/* SPDX-License-Identifier: MIT */
/*
 * Ports: the target's side of each port's listener.  The transport accepts
 * and runs its handshakes (TLS for TCP); for each connection it asks the
 * target for the queue pair's parameters (accept: a connection reserved
 * against max_connections, its callbacks, the port's limits and secure
 * channel, the PSK of the host a TLS identity names) and hands the queue
 * pair over (attach).  A connection is counted from accept on, so a
 * shutdown waits for handshakes under way; none is attached after the
 * listener has been freed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/listen.h"
#include "util/lock.h"
#include "util/log.h"

/* What a listener's callbacks know: the port, looked up at each accept. */
struct port_listener {
	struct port_listener *next;    /* port_stop_all's list */
	struct nvmf_target *t;
	uint16_t portid;
	struct nvmf_listener *listener;
};

/* The key of the host the identity names, if it may use subnqn here. */
static int tls_lookup(void *arg, const char *hostnqn, const char *subnqn,
		      struct nvmf_tls_key *key)
{
	struct nvmf_conn *conn = arg;
	struct nvmf_target *t = conn->target;
	const struct host_cred *h;
	bool reachable;
	int rc = -1;

	nvmf_mutex_lock(&t->lock);
	h = auth_find_host(t, hostnqn);
	if (strcmp(subnqn, NVMF_DISCOVERY_NQN) == 0) {
		reachable = true;
	} else {
		struct nvmf_subsys *s = target_find_subsys(t, subnqn);
		struct nvmf_port *port = target_find_port(t, conn->portid);

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

static int port_accept(void *arg, const struct nvmf_peer *peer, struct nvmf_qpair_params *params,
		       void **out)
{
	struct port_listener *pl = arg;
	struct nvmf_conn *conn;
	int error;

	conn = target_conn_reserve(pl->t, pl->portid, params, &error);
	if (conn == NULL)
		return error;
	snprintf(conn->peer, sizeof(conn->peer), "%s", peer->name);
	snprintf(conn->local_traddr, sizeof(conn->local_traddr), "%s", peer->local_traddr);
	params->tcp.tls_lookup = tls_lookup;
	params->tcp.tls_lookup_arg = conn;
	params->tcp.connect_timeout_ms = pl->t->params.connect_timeout_ms;
	NVMF_DEBUG("nvmfd: %s: new connection on port %u", conn->peer, pl->portid);
	*out = conn;
	return 0;
}

static void port_attach(void *arg, struct nvmf_qpair *qp, const struct nvmf_error *err)
{
	struct nvmf_conn *conn = arg;
	struct nvmf_target *t = conn->target;

	if (qp != NULL) {
		/* The last touch of conn and target: either may go from here. */
		target_conn_attach(t, conn, qp);
		return;
	}
	NVMF_WARN("nvmfd: %s; connection closed", err->msg);
	if (err->errnum == EACCES) {
		nvmf_mutex_lock(&t->lock);
		t->stats.tls_refused++;
		nvmf_mutex_unlock(&t->lock);
	}
	target_conn_abandon(t, conn);
}

static const struct nvmf_listen_ops port_listen_ops = {
	.accept = port_accept,
	.attach = port_attach,
};

int port_listen(struct nvmf_target *t, struct nvmf_port *port, char *err, size_t errlen)
{
	const struct nvmf_port_conf *c = &port->conf;
	struct port_listener *pl = calloc(1, sizeof(*pl));
	struct nvmf_listen_params p = {.ops = &port_listen_ops, .arg = pl,
				       .handshake_timeout_ms = t->params.connect_timeout_ms};
	struct nvmf_error e;
	struct nvmf_addr bound;

	if (pl == NULL) {
		snprintf(err, errlen, "out of memory");
		return ENOMEM;
	}
	pl->t = t;
	pl->portid = c->portid;
	p.addr = (struct nvmf_addr){.trtype = port_trtype(c), .adrfam = c->adrfam};
	snprintf(p.addr.traddr, sizeof(p.addr.traddr), "%s", c->traddr);
	snprintf(p.addr.trsvcid, sizeof(p.addr.trsvcid), "%s", c->trsvcid);
	pl->listener = nvmf_listen(&p, &e);
	if (pl->listener == NULL) {
		snprintf(err, errlen, "port %u: %s", c->portid, e.msg);
		free(pl);
		return e.errnum != 0 ? e.errnum : EIO;
	}
	nvmf_listener_addr(pl->listener, &bound);
	memcpy(port->bound_trsvcid, bound.trsvcid, sizeof(port->bound_trsvcid));
	port->listener = pl;
	return 0;
}

void port_listener_move(struct nvmf_port *to, struct nvmf_port *from)
{
	to->listener = from->listener;
	memcpy(to->bound_trsvcid, from->bound_trsvcid, sizeof(to->bound_trsvcid));
	from->listener = NULL;
}

void port_stop(struct nvmf_port *port)
{
	if (port->listener == NULL)
		return;
	nvmf_listener_free(port->listener->listener);
	free(port->listener);
	port->listener = NULL;
}

void port_stop_all(struct nvmf_target *t)
{
	struct port_listener *all = NULL;

	/* Taken under the lock (a reload may be swapping ports), freed
	 * outside it: a handshake ending meanwhile attaches under it. */
	nvmf_mutex_lock(&t->lock);
	for (struct nvmf_port *p = t->ports; p != NULL; p = p->next) {
		if (p->listener == NULL)
			continue;
		p->listener->next = all;
		all = p->listener;
		p->listener = NULL;
	}
	nvmf_mutex_unlock(&t->lock);
	while (all != NULL) {
		struct port_listener *pl = all;

		all = pl->next;
		nvmf_listener_free(pl->listener);
		free(pl);
	}
}
