/* SPDX-License-Identifier: MIT */
/*
 * The metrics page in the Prometheus text exposition format 0.0.4: the
 * library's snapshot (nvmf_target_visit_metrics) copied, then written one
 * metric family at a time, as the format wants each family's samples
 * together.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_http.h"

/* Label values are kept escaped, as the format asks: \\, \" and \n. */
#define ESCAPED_SIZE (2 * NVMF_NQN_SIZE)

struct ns_copy {
	char subsys[ESCAPED_SIZE];
	uint32_t nsid;
	struct nvmf_io_op_metrics op[NVMF_IO_OP_COUNT];
	unsigned nerrors;
	struct nvmf_io_error_metrics *errors;
};

struct session_copy {
	char subsys[ESCAPED_SIZE];
	char host[ESCAPED_SIZE];
	struct nvmf_session_metrics m;
};

struct collected {
	struct ns_copy *ns;
	size_t nns;
	struct session_copy *sessions;
	size_t nsessions;
	struct nvmf_transport_metrics xport;
	bool nomem;
};

/* src escaped into dst (ESCAPED_SIZE bytes: every NQN fits). */
static void escape(char *dst, const char *src)
{
	size_t n = 0;

	for (; *src != '\0' && n + 2 < ESCAPED_SIZE; src++) {
		if (*src == '\\' || *src == '"' || *src == '\n')
			dst[n++] = '\\';
		dst[n++] = *src == '\n' ? 'n' : *src;
	}
	dst[n] = '\0';
}

static void *append(void *array, size_t *n, size_t size, bool *nomem)
{
	void *p = realloc(array, (*n + 1) * size);

	if (p == NULL) {
		*nomem = true;
		return array;
	}
	(*n)++;
	return p;
}

static void on_ns(void *arg, const struct nvmf_ns_metrics *m)
{
	struct collected *c = arg;
	struct ns_copy *e;
	size_t n = c->nns;

	c->ns = append(c->ns, &c->nns, sizeof(*c->ns), &c->nomem);
	if (c->nns == n)
		return;
	e = &c->ns[n];
	memset(e, 0, sizeof(*e));
	escape(e->subsys, m->subsys_nqn);
	e->nsid = m->nsid;
	memcpy(e->op, m->op, sizeof(e->op));
	if (m->nerrors != 0) {
		e->errors = malloc(m->nerrors * sizeof(*e->errors));
		if (e->errors == NULL) {
			c->nomem = true;
			return;
		}
		memcpy(e->errors, m->errors, m->nerrors * sizeof(*e->errors));
		e->nerrors = m->nerrors;
	}
}

static void on_session(void *arg, const struct nvmf_session_metrics *m)
{
	struct collected *c = arg;
	struct session_copy *e;
	size_t n = c->nsessions;

	c->sessions = append(c->sessions, &c->nsessions, sizeof(*c->sessions), &c->nomem);
	if (c->nsessions == n)
		return;
	e = &c->sessions[n];
	escape(e->subsys, m->subsys_nqn);
	escape(e->host, m->host_nqn);
	e->m = *m;
}

static void on_transport(void *arg, const struct nvmf_transport_metrics *m)
{
	((struct collected *)arg)->xport = *m;
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
	text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{subsystem="...",nsid="N",op="..." (no closing brace) */
static void ns_labels(struct text *t, const char *name, const struct ns_copy *e, unsigned op)
{
	text_printf(t, "%s{subsystem=\"%s\",nsid=\"%u\",op=\"%s\"", name, e->subsys, e->nsid,
		    nvmf_io_op_name(op));
}

static void render_counter(struct text *t, const struct collected *c, const char *name,
			   const char *help, bool bytes)
{
	family(t, name, "counter", help);
	for (size_t i = 0; i < c->nns; i++)
		for (unsigned op = 0; op < NVMF_IO_OP_COUNT; op++) {
			ns_labels(t, name, &c->ns[i], op);
			text_printf(t, "} %llu\n", (unsigned long long)(bytes ? c->ns[i].op[op].bytes
									      : c->ns[i].op[op].ops));
		}
}

static void render_latency(struct text *t, const struct collected *c)
{
	const char *name = "nvmfd_namespace_latency_seconds";

	family(t, name, "histogram",
	       "Time from a command's receipt to its completion, by namespace and operation.");
	for (size_t i = 0; i < c->nns; i++) {
		for (unsigned op = 0; op < NVMF_IO_OP_COUNT; op++) {
			const struct nvmf_io_op_metrics *m = &c->ns[i].op[op];
			uint64_t cumulative = 0;

			for (unsigned b = 0; b < NVMF_LATENCY_BUCKETS; b++) {
				cumulative += m->latency[b];
				ns_labels(t, "nvmfd_namespace_latency_seconds_bucket", &c->ns[i], op);
				if (b + 1 < NVMF_LATENCY_BUCKETS)
					text_printf(t, ",le=\"%.9g\"} %llu\n",
						    (double)nvmf_latency_bucket_ns(b) / 1e9,
						    (unsigned long long)cumulative);
				else
					text_printf(t, ",le=\"+Inf\"} %llu\n",
						    (unsigned long long)cumulative);
			}
			ns_labels(t, "nvmfd_namespace_latency_seconds_sum", &c->ns[i], op);
			text_printf(t, "} %.9f\n", (double)m->latency_sum_ns / 1e9);
			ns_labels(t, "nvmfd_namespace_latency_seconds_count", &c->ns[i], op);
			text_printf(t, "} %llu\n", (unsigned long long)cumulative);
		}
	}
}

static void render_errors(struct text *t, const struct collected *c)
{
	const char *name = "nvmfd_namespace_errors_total";

	family(t, name, "counter",
	       "Commands completed with an error, by namespace, operation and NVMe status "
	       "(0xTTCC: status code type and code; \"other\" past 16 distinct ones).");
	for (size_t i = 0; i < c->nns; i++)
		for (unsigned k = 0; k < c->ns[i].nerrors; k++) {
			const struct nvmf_io_error_metrics *e = &c->ns[i].errors[k];

			ns_labels(t, name, &c->ns[i], e->op);
			if (e->status == 0xffff)
				text_printf(t, ",status=\"other\"} %llu\n",
					    (unsigned long long)e->count);
			else
				text_printf(t, ",status=\"0x%04x\"} %llu\n", e->status,
					    (unsigned long long)e->count);
		}
}

static void session_labels(struct text *t, const char *name, const struct session_copy *s)
{
	text_printf(t, "%s{subsystem=\"%s\",host=\"%s\"", name, s->subsys, s->host);
}

static void render_sessions(struct text *t, const struct collected *c)
{
	family(t, "nvmfd_connections", "gauge",
	       "TCP connections by subsystem and host (both empty: not connected yet).");
	for (size_t i = 0; i < c->nsessions; i++) {
		session_labels(t, "nvmfd_connections", &c->sessions[i]);
		text_printf(t, "} %u\n", c->sessions[i].m.connections);
	}
	family(t, "nvmfd_controllers", "gauge", "Controllers by subsystem and host.");
	for (size_t i = 0; i < c->nsessions; i++) {
		if (c->sessions[i].subsys[0] == '\0')
			continue;
		session_labels(t, "nvmfd_controllers", &c->sessions[i]);
		text_printf(t, "} %u\n", c->sessions[i].m.controllers);
	}
	family(t, "nvmfd_queue_pairs", "gauge", "Queue pairs by subsystem, host and type.");
	for (size_t i = 0; i < c->nsessions; i++) {
		if (c->sessions[i].subsys[0] == '\0')
			continue;
		session_labels(t, "nvmfd_queue_pairs", &c->sessions[i]);
		text_printf(t, ",type=\"admin\"} %u\n", c->sessions[i].m.admin_qpairs);
		session_labels(t, "nvmfd_queue_pairs", &c->sessions[i]);
		text_printf(t, ",type=\"io\"} %u\n", c->sessions[i].m.io_qpairs);
	}
}

static void render_transport(struct text *t, const struct nvmf_transport_metrics *x)
{
	const struct {
		const char *kind;
		uint64_t value;
	} kinds[] = {
		{"digest", x->digest_errors},
		{"termreq_sent", x->termreq_sent},
		{"termreq_received", x->termreq_received},
		{"pdu_validation", x->pdu_errors},
		{"keepalive_expired", x->kato_expired},
		{"auth_failure", x->auth_failures},
	};

	family(t, "nvmfd_transport_errors_total", "counter",
	       "Transport and session errors by kind (controller side).");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		text_printf(t, "nvmfd_transport_errors_total{kind=\"%s\"} %llu\n", kinds[i].kind,
			    (unsigned long long)kinds[i].value);
}

int metrics_render(struct nvmf_target *target, struct text *out)
{
	struct collected c = {0};
	struct nvmf_metrics_visitor v = {.size = sizeof(v), .ns = on_ns, .session = on_session,
					 .transport = on_transport, .arg = &c};
	int rc = nvmf_target_visit_metrics(target, &v);

	if (rc == 0 && !c.nomem) {
		render_counter(out, &c, "nvmfd_namespace_ops_total",
			       "NVM commands completed, by namespace and operation.", false);
		render_counter(out, &c, "nvmfd_namespace_bytes_total",
			       "Bytes read, written, compared, zeroed or deallocated by commands "
			       "that succeeded.", true);
		render_latency(out, &c);
		render_errors(out, &c);
		render_sessions(out, &c);
		render_transport(out, &c.xport);
	}
	for (size_t i = 0; i < c.nns; i++)
		free(c.ns[i].errors);
	free(c.ns);
	free(c.sessions);
	if (rc == 0 && (c.nomem || out->failed))
		rc = -ENOMEM;
	return rc;
}
