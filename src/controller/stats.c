/* SPDX-License-Identifier: MIT */
/*
 * I/O counters per queue pair and namespace, their totals per subsystem,
 * and the metrics snapshot (stats.h, nvmf_target_visit_metrics).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/stats.h"
#include "transport/transport.h"
#include "util/lock.h"

static const char *const op_names[NVMF_IO_OP_COUNT] = {
	[NVMF_IO_OP_READ] = "read",
	[NVMF_IO_OP_WRITE] = "write",
	[NVMF_IO_OP_FLUSH] = "flush",
	[NVMF_IO_OP_WRITE_ZEROES] = "write_zeroes",
	[NVMF_IO_OP_DSM] = "dsm",
	[NVMF_IO_OP_COMPARE] = "compare",
};

const char *nvmf_io_op_name(enum nvmf_io_op op)
{
	return (unsigned)op < NVMF_IO_OP_COUNT ? op_names[op] : NULL;
}

bool stats_op_of(uint8_t opc, enum nvmf_io_op *op)
{
	switch (opc) {
	case NVME_IO_READ:
		*op = NVMF_IO_OP_READ;
		return true;
	case NVME_IO_WRITE:
		*op = NVMF_IO_OP_WRITE;
		return true;
	case NVME_IO_FLUSH:
		*op = NVMF_IO_OP_FLUSH;
		return true;
	case NVME_IO_WRITE_ZEROES:
		*op = NVMF_IO_OP_WRITE_ZEROES;
		return true;
	case NVME_IO_DATASET_MANAGEMENT:
		*op = NVMF_IO_OP_DSM;
		return true;
	case NVME_IO_COMPARE:
		*op = NVMF_IO_OP_COMPARE;
		return true;
	default:
		return false;
	}
}

struct conn_ns_stats *conn_ns_stats(struct nvmf_conn *conn, uint32_t nsid)
{
	struct conn_ns_stats *s = conn->stats_last;

	if (s != NULL && s->nsid == nsid)
		return s;
	for (s = atomic_load_explicit(&conn->stats, memory_order_relaxed); s != NULL; s = s->next)
		if (s->nsid == nsid)
			break;
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return NULL;
		s->nsid = nsid;
		s->next = atomic_load_explicit(&conn->stats, memory_order_relaxed);
		/* Scrapes walk the list while this thread prepends to it. */
		atomic_store_explicit(&conn->stats, s, memory_order_release);
	}
	conn->stats_last = s;
	return s;
}

static uint64_t load(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void add_counters(struct nvmf_io_op_metrics *m, struct op_counters *c)
{
	m->ops += load(&c->ops);
	m->bytes += load(&c->bytes);
	m->latency_sum_ns += load(&c->latency_sum_ns);
	for (unsigned b = 0; b < NVMF_LATENCY_BUCKETS; b++)
		m->latency[b] += load(&c->latency[b]);
}

static void add_conn_ns(struct nvmf_io_op_metrics *m, struct conn_ns_stats *s)
{
	for (unsigned op = 0; op < NVMF_IO_OP_COUNT; op++) {
		add_counters(&m[op], &s->rx[op]);
		add_counters(&m[op], &s->wq[op]);
	}
}

void stats_conn_sum(struct nvmf_conn *conn, enum nvmf_io_op op, uint64_t *ops, uint64_t *bytes)
{
	for (struct conn_ns_stats *s = atomic_load_explicit(&conn->stats, memory_order_acquire);
	     s != NULL; s = s->next) {
		*ops += load(&s->rx[op].ops) + load(&s->wq[op].ops);
		*bytes += load(&s->rx[op].bytes) + load(&s->wq[op].bytes);
	}
}

/* The subsystem's totals for nsid, made on first use (stats_lock held). */
static struct ns_totals *subsys_totals_locked(struct nvmf_subsys *subsys, uint32_t nsid)
{
	struct ns_totals *n;

	NVMF_ASSERT_LOCKED(&subsys->target->stats_lock);
	for (n = subsys->totals; n != NULL; n = n->next)
		if (n->nsid == nsid)
			return n;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->nsid = nsid;
	n->next = subsys->totals;
	subsys->totals = n;
	return n;
}

/* Add count errors of (op, status) to a namespace's list; beyond
 * NS_ERROR_KINDS distinct pairs, they count as the op's "others". */
static void add_error(struct nvmf_io_error_metrics *errors, unsigned *nerrors, enum nvmf_io_op op,
		      uint16_t status, uint64_t count)
{
	unsigned i;

	for (;;) {
		for (i = 0; i < *nerrors; i++)
			if (errors[i].op == op && errors[i].status == status)
				break;
		if (i < *nerrors || *nerrors < NS_ERROR_KINDS || status == NS_ERROR_OTHER)
			break;
		status = NS_ERROR_OTHER;
	}
	if (i == *nerrors) /* room: at most one "others" per op beyond the kinds */
		errors[(*nerrors)++] = (struct nvmf_io_error_metrics){.op = op, .status = status};
	errors[i].count += count;
}

void stats_note_error(struct nvmf_subsys *subsys, uint32_t nsid, enum nvmf_io_op op,
		      uint16_t status)
{
	struct nvmf_target *t = subsys->target;
	struct ns_totals *n;

	nvmf_mutex_lock(&t->stats_lock);
	n = subsys_totals_locked(subsys, nsid);
	if (n != NULL)
		add_error(n->errors, &n->nerrors, op, status, 1);
	nvmf_mutex_unlock(&t->stats_lock);
}

void stats_retire_conn_locked(struct nvmf_conn *conn, struct nvmf_subsys *subsys)
{
	struct nvmf_target *t = subsys->target;

	NVMF_ASSERT_LOCKED(&t->lock);
	nvmf_mutex_lock(&t->stats_lock);
	for (struct conn_ns_stats *s = atomic_load(&conn->stats); s != NULL; s = s->next) {
		struct ns_totals *n = subsys_totals_locked(subsys, s->nsid);

		if (n != NULL)
			add_conn_ns(n->op, s);
	}
	nvmf_mutex_unlock(&t->stats_lock);
	stats_conn_free(conn);
}

void stats_conn_free(struct nvmf_conn *conn)
{
	struct conn_ns_stats *s = atomic_exchange(&conn->stats, NULL);

	conn->stats_last = NULL;
	while (s != NULL) {
		struct conn_ns_stats *next = s->next;

		free(s);
		s = next;
	}
}

void stats_subsys_free(struct nvmf_subsys *subsys)
{
	while (subsys->totals != NULL) {
		struct ns_totals *next = subsys->totals->next;

		free(subsys->totals);
		subsys->totals = next;
	}
}

/* ------------------------------------------------------------------ */
/* Snapshot                                                            */
/* ------------------------------------------------------------------ */

struct snap_ns {
	char nqn[NVMF_NQN_SIZE];
	uint32_t nsid;
	struct nvmf_io_op_metrics op[NVMF_IO_OP_COUNT];
	unsigned nerrors;
	struct nvmf_io_error_metrics errors[NS_ERROR_ROOM];
};

struct snap_session {
	char subsys[NVMF_NQN_SIZE];
	char host[NVMF_NQN_SIZE];
	struct nvmf_session_metrics m;
};

struct snapshot {
	struct snap_ns *ns;
	size_t nns, ns_cap, subsys_first; /* entries of the subsystem at hand from subsys_first */
	struct snap_session *sessions;
	size_t nsessions, sessions_cap;
	bool nomem;
};

static bool grow(void **array, size_t *cap, size_t n, size_t size)
{
	size_t want = *cap != 0 ? *cap * 2 : 16;
	void *p;

	if (n < *cap)
		return true;
	p = realloc(*array, want * size);
	if (p == NULL)
		return false;
	*array = p;
	*cap = want;
	return true;
}

/* The entry for nsid of the subsystem being collected. */
static struct snap_ns *snap_ns_at(struct snapshot *snap, const char *nqn, uint32_t nsid)
{
	struct snap_ns *e;

	for (size_t i = snap->subsys_first; i < snap->nns; i++)
		if (snap->ns[i].nsid == nsid)
			return &snap->ns[i];
	if (!grow((void **)&snap->ns, &snap->ns_cap, snap->nns, sizeof(*snap->ns))) {
		snap->nomem = true;
		return NULL;
	}
	e = &snap->ns[snap->nns++];
	memset(e, 0, sizeof(*e));
	snprintf(e->nqn, sizeof(e->nqn), "%s", nqn);
	e->nsid = nsid;
	return e;
}

static void snap_subsys_ns_locked(struct snapshot *snap, struct nvmf_subsys *s)
{
	struct nvmf_target *t = s->target;

	snap->subsys_first = snap->nns;
	/* Every active namespace shows, counted or not. */
	pthread_rwlock_rdlock(&s->ns_lock);
	for (uint32_t nsid = 1; nsid <= NVMF_MAX_NSID; nsid++)
		if (s->ns[nsid] != NULL)
			snap_ns_at(snap, s->nqn, nsid);
	pthread_rwlock_unlock(&s->ns_lock);
	nvmf_mutex_lock(&t->stats_lock);
	for (struct ns_totals *n = s->totals; n != NULL; n = n->next) {
		struct snap_ns *e = snap_ns_at(snap, s->nqn, n->nsid);

		if (e == NULL)
			break;
		for (unsigned op = 0; op < NVMF_IO_OP_COUNT; op++) {
			e->op[op].ops += n->op[op].ops;
			e->op[op].bytes += n->op[op].bytes;
			e->op[op].latency_sum_ns += n->op[op].latency_sum_ns;
			for (unsigned b = 0; b < NVMF_LATENCY_BUCKETS; b++)
				e->op[op].latency[b] += n->op[op].latency[b];
		}
		for (unsigned i = 0; i < n->nerrors; i++)
			add_error(e->errors, &e->nerrors, n->errors[i].op, n->errors[i].status,
				  n->errors[i].count);
	}
	nvmf_mutex_unlock(&t->stats_lock);
	for (struct nvmf_ctrl *c = s->ctrls; c != NULL; c = c->next) {
		for (unsigned q = 1; q <= c->max_io_queues; q++) {
			if (c->io[q] == NULL)
				continue;
			for (struct conn_ns_stats *cs =
				     atomic_load_explicit(&c->io[q]->stats, memory_order_acquire);
			     cs != NULL; cs = cs->next) {
				struct snap_ns *e = snap_ns_at(snap, s->nqn, cs->nsid);

				if (e != NULL)
					add_conn_ns(e->op, cs);
			}
		}
	}
}

static struct snap_session *snap_session_at(struct snapshot *snap, const char *subsys,
					    const char *host)
{
	struct snap_session *e;

	for (size_t i = 0; i < snap->nsessions; i++)
		if (strcmp(snap->sessions[i].subsys, subsys) == 0 &&
		    strcmp(snap->sessions[i].host, host) == 0)
			return &snap->sessions[i];
	if (!grow((void **)&snap->sessions, &snap->sessions_cap, snap->nsessions,
		  sizeof(*snap->sessions))) {
		snap->nomem = true;
		return NULL;
	}
	e = &snap->sessions[snap->nsessions++];
	memset(e, 0, sizeof(*e));
	snprintf(e->subsys, sizeof(e->subsys), "%s", subsys);
	snprintf(e->host, sizeof(e->host), "%s", host);
	return e;
}

/* Sessions by subsystem and host; what is left of the connections has
 * not connected yet.  Target lock held. */
static void snap_sessions_locked(struct snapshot *snap, struct nvmf_target *t)
{
	unsigned qpairs = 0;
	struct snap_session *e;

	for (struct nvmf_subsys *s = t->subsystems; s != NULL; s = s->next) {
		for (struct nvmf_ctrl *c = s->ctrls; c != NULL; c = c->next) {
			e = snap_session_at(snap, s->nqn, c->hostnqn);
			if (e == NULL)
				return;
			e->m.controllers++;
			e->m.admin_qpairs += c->admin != NULL;
			for (unsigned q = 1; q <= c->max_io_queues; q++)
				e->m.io_qpairs += c->io[q] != NULL;
		}
	}
	for (size_t i = 0; i < snap->nsessions; i++) {
		e = &snap->sessions[i];
		e->m.connections = e->m.admin_qpairs + e->m.io_qpairs;
		qpairs += e->m.connections;
	}
	if (t->nconns > qpairs && (e = snap_session_at(snap, "", "")) != NULL)
		e->m.connections = t->nconns - qpairs;
}

static int cmp_ns(const void *a, const void *b)
{
	const struct snap_ns *x = a, *y = b;
	int c = strcmp(x->nqn, y->nqn);

	return c != 0 ? c : (x->nsid > y->nsid) - (x->nsid < y->nsid);
}

static void snap_visit(struct snapshot *snap, const struct nvmf_metrics_visitor *v,
		       const struct nvmf_transport_metrics *xport)
{
	qsort(snap->ns, snap->nns, sizeof(*snap->ns), cmp_ns);
	for (size_t i = 0; v->ns != NULL && i < snap->nns; i++) {
		struct snap_ns *e = &snap->ns[i];
		struct nvmf_ns_metrics m = {.subsys_nqn = e->nqn, .nsid = e->nsid,
					    .nerrors = e->nerrors, .errors = e->errors};

		memcpy(m.op, e->op, sizeof(m.op));
		v->ns(v->arg, &m);
	}
	for (size_t i = 0; v->session != NULL && i < snap->nsessions; i++) {
		struct snap_session *e = &snap->sessions[i];

		e->m.subsys_nqn = e->subsys;
		e->m.host_nqn = e->host;
		v->session(v->arg, &e->m);
	}
	if (v->transport != NULL)
		v->transport(v->arg, xport);
}

int nvmf_target_visit_metrics(struct nvmf_target *t, const struct nvmf_metrics_visitor *v)
{
	struct snapshot snap = {0};
	struct nvmf_transport_metrics xport = {0};

	if (v->size < sizeof(*v))
		return -EINVAL;
	nvmf_mutex_lock(&t->lock);
	for (struct nvmf_subsys *s = t->subsystems; s != NULL && !snap.nomem; s = s->next)
		if (!s->discovery)
			snap_subsys_ns_locked(&snap, s);
	if (!snap.nomem)
		snap_sessions_locked(&snap, t);
	xport.kato_expired = t->stats.kato_expired;
	xport.auth_failures = t->stats.auth_failures;
	nvmf_mutex_unlock(&t->lock);
	xport.digest_errors = nvmf_transport_events(true, NVMF_XPORT_DIGEST_ERROR);
	xport.termreq_sent = nvmf_transport_events(true, NVMF_XPORT_TERMREQ_SENT);
	xport.termreq_received = nvmf_transport_events(true, NVMF_XPORT_TERMREQ_RECEIVED);
	xport.pdu_errors = nvmf_transport_events(true, NVMF_XPORT_PDU_ERROR);
	if (!snap.nomem)
		snap_visit(&snap, v, &xport);
	free(snap.ns);
	free(snap.sessions);
	return snap.nomem ? -ENOMEM : 0;
}
