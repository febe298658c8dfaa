/* SPDX-License-Identifier: MIT */
/*
 * The discovery log page (NVMe-oF 1.1 §5.3): one entry for the discovery
 * subsystem the host is talking to (SUBTYPE 3), then one per (port,
 * subsystem) pair the connecting host may use.  Built under the target
 * lock, so the generation counter matches the entries.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/discovery.h"
#include "util/lock.h"

#define EFLAGS_DUPRETINFO (1u << 0)

static bool traddr_is_wildcard(const struct nvmf_port *port)
{
	return port->conf.traddr[0] == '\0' || strcmp(port->conf.traddr, "0.0.0.0") == 0 ||
	       strcmp(port->conf.traddr, "::") == 0;
}

/* A wildcard listener is reported with the address the host reached us on. */
static void entry_traddr(const struct nvmf_port *port, const struct nvmf_ctrl *ctrl,
			 char *dst, size_t size)
{
	if (!traddr_is_wildcard(port) || ctrl->local_traddr[0] == '\0')
		snprintf(dst, size, "%s", port->conf.traddr);
	else
		snprintf(dst, size, "%s", ctrl->local_traddr);
}

static void fill_entry(struct nvmf_discovery_log_entry *e, const struct nvmf_port *port,
		       const struct nvmf_ctrl *ctrl, const char *nqn, uint8_t subtype)
{
	memset(e, 0, sizeof(*e));
	e->trtype = (uint8_t)port_trtype(&port->conf);
	e->adrfam = (uint8_t)port->conf.adrfam;
	e->subtype = subtype;
	/* The port's secure channel (TREQ bits 1:0, TSAS SECTYPE: NVMe-oF 1.1
	 * §5.3, TCP 1.1 §3.6); SQ flow control may be disabled. */
	e->treq = (port->conf.tls == NVMF_PORT_TLS_REQUIRED	? NVMF_TREQ_SECURE_REQUIRED
		   : port->conf.tls == NVMF_PORT_TLS_OPTIONAL ? NVMF_TREQ_SECURE_NOT_REQUIRED
							       : NVMF_TREQ_SECURE_NOT_SPECIFIED) |
		  NVMF_TREQ_DISABLE_SQFLOW;
	e->portid = port->conf.portid;
	e->cntlid = NVMF_CNTLID_DYNAMIC;
	e->asqsz = CTRL_ADMIN_QSIZE;
	if (subtype == NVMF_SUBTYPE_CURRENT_DISCOVERY)
		e->eflags = NVMF_EFLAGS_EPCSD | EFLAGS_DUPRETINFO;
	snprintf(e->trsvcid, sizeof(e->trsvcid), "%s", port->bound_trsvcid);
	snprintf(e->subnqn, sizeof(e->subnqn), "%s", nqn);
	entry_traddr(port, ctrl, e->traddr, sizeof(e->traddr));
	if (port_trtype(&port->conf) == NVMF_TRTYPE_TCP)
		e->tsas.tcp.sectype = port->conf.tls != NVMF_PORT_TLS_NONE ? NVMF_TCP_SECTYPE_TLS13
									    : NVMF_TCP_SECTYPE_NONE;
}

/* Fills in (entries != NULL) the entries the host may see; returns the count. */
static size_t for_each_entry(struct nvmf_target *t, struct nvmf_ctrl *ctrl,
			     struct nvmf_discovery_log_entry *entries)
{
	size_t n = 0;
	struct nvmf_port *self = target_find_port(t, ctrl->portid);

	if (self != NULL) {
		if (entries != NULL)
			fill_entry(&entries[n], self, ctrl, NVMF_DISCOVERY_NQN,
				   NVMF_SUBTYPE_CURRENT_DISCOVERY);
		n++;
	}
	for (struct nvmf_port *port = t->ports; port != NULL; port = port->next) {
		for (unsigned i = 0; i < port->conf.nsubsys; i++) {
			struct nvmf_subsys *subsys = target_find_subsys(t, port->conf.subsystems[i]);

			if (n >= CTRL_DISC_MAX_RECORDS)
				return n;
			/* A host never learns of subsystems it may not use. */
			if (subsys == NULL || !subsys_host_allowed(subsys, ctrl->hostnqn))
				continue;
			if (entries != NULL)
				fill_entry(&entries[n], port, ctrl, subsys->nqn, NVMF_SUBTYPE_NVME);
			n++;
		}
	}
	return n;
}

uint8_t *discovery_log_build(struct nvmf_target *t, struct nvmf_ctrl *ctrl, size_t *len)
{
	struct nvmf_discovery_log *log;
	size_t n;

	nvmf_mutex_lock(&t->lock);
	n = for_each_entry(t, ctrl, NULL);
	*len = sizeof(*log) + n * sizeof(struct nvmf_discovery_log_entry);
	log = calloc(1, *len);
	if (log != NULL) {
		log->genctr = t->genctr;
		log->numrec = for_each_entry(t, ctrl, log->entries);
		log->recfmt = 0;
	}
	nvmf_mutex_unlock(&t->lock);
	return (uint8_t *)log;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	return fnv1a(h, s, strlen(s) + 1);
}

uint64_t discovery_signature(struct nvmf_target *t)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (struct nvmf_port *port = t->ports; port != NULL; port = port->next) {
		h = fnv1a(h, &port->conf.portid, sizeof(port->conf.portid));
		h = fnv1a(h, &port->conf.adrfam, sizeof(port->conf.adrfam));
		h = fnv_str(h, port->conf.traddr);
		h = fnv1a(h, port->bound_trsvcid, strlen(port->bound_trsvcid));
		h = fnv1a(h, &port->conf.tls, sizeof(port->conf.tls));
		for (unsigned i = 0; i < port->conf.nsubsys; i++)
			h = fnv_str(h, port->conf.subsystems[i]);
	}
	for (struct nvmf_subsys *s = t->subsystems; s != NULL; s = s->next) {
		h = fnv_str(h, s->nqn);
		h = fnv1a(h, &s->allow_any_host, sizeof(s->allow_any_host));
		for (unsigned i = 0; i < s->nhosts; i++)
			h = fnv_str(h, s->hosts[i]);
	}
	return h;
}
