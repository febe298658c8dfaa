/* SPDX-License-Identifier: MIT */
/*
 * Asymmetric Namespace Access (NVMe Base 2.0 §8.1): every namespace is in
 * one ANA group; each port gives each group a state, which every
 * controller on that port reports in the ANA log page (0Ch) and enforces
 * on I/O.  Groups and states follow the Linux target (nvmet): group IDs
 * 1..128 shared by all subsystems, group 1 optimized and the others
 * inaccessible on a port that does not say, one change count for the
 * whole target.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller/ana.h"
#include "util/lock.h"

bool ana_state_valid(uint32_t state)
{
	return strcmp(nvmf_ana_state_name((enum nvme_ana_state)state), "unknown") != 0;
}

static uint8_t default_state(uint32_t grpid)
{
	return grpid == 1 ? NVME_ANA_OPTIMIZED : NVME_ANA_INACCESSIBLE;
}

struct ana_port *ana_port_get(struct nvmf_target *t, uint16_t portid)
{
	struct ana_port *p;

	for (p = t->ana_ports; p != NULL; p = p->next)
		if (p->portid == portid)
			return p;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->portid = portid;
	for (uint32_t g = 0; g <= NVMF_ANA_GRPMAX; g++)
		atomic_init(&p->state[g], default_state(g));
	p->next = t->ana_ports;
	t->ana_ports = p;
	return p;
}

bool ana_port_set(struct nvmf_target *t, struct ana_port *p, uint32_t grpid, uint8_t state)
{
	if (atomic_exchange(&p->state[grpid], state) == state)
		return false;
	atomic_fetch_add(&t->ana_chgcnt, 1);
	return true;
}

int ana_port_configure(struct nvmf_target *t, const struct nvmf_port_conf *c,
		       struct ana_groups *changed)
{
	struct ana_port *p = ana_port_get(t, c->portid);
	uint8_t want[NVMF_ANA_GRPMAX + 1];

	if (p == NULL)
		return -ENOMEM;
	for (uint32_t g = 0; g <= NVMF_ANA_GRPMAX; g++)
		want[g] = default_state(g);
	for (unsigned i = 0; i < c->nana; i++)
		want[c->ana[i].grpid] = (uint8_t)c->ana[i].state; /* validated */
	for (uint32_t g = 1; g <= NVMF_ANA_GRPMAX; g++)
		if (ana_port_set(t, p, g, want[g]))
			ana_groups_add(changed, g);
	return 0;
}

void ana_ports_free(struct nvmf_target *t)
{
	while (t->ana_ports != NULL) {
		struct ana_port *p = t->ana_ports;

		t->ana_ports = p->next;
		free(p);
	}
}

uint32_t ana_ns_grpid(const struct nvmf_ns *ns)
{
	return ns->conf.anagrpid != 0 ? ns->conf.anagrpid : 1;
}

bool ana_subsys_in_groups(struct nvmf_subsys *s, const struct ana_groups *g)
{
	bool found = false;

	pthread_rwlock_rdlock(&s->ns_lock);
	for (uint32_t id = 1; id <= NVMF_MAX_NSID && !found; id++)
		found = s->ns[id] != NULL && ana_groups_has(g, ana_ns_grpid(s->ns[id]));
	pthread_rwlock_unlock(&s->ns_lock);
	return found;
}

uint16_t ana_io_status(const struct nvmf_ctrl *ctrl, const struct nvmf_ns *ns)
{
	switch (atomic_load_explicit(&ctrl->ana->state[ana_ns_grpid(ns)], memory_order_relaxed)) {
	case NVME_ANA_OPTIMIZED:
	case NVME_ANA_NON_OPTIMIZED:
		return 0;
	case NVME_ANA_PERSISTENT_LOSS:
		return NVME_STATUS(NVME_SCT_PATH, NVME_SC_ANA_PERSISTENT_LOSS);
	case NVME_ANA_CHANGE:
		return NVME_STATUS(NVME_SCT_PATH, NVME_SC_ANA_TRANSITION);
	default:
		return NVME_STATUS(NVME_SCT_PATH, NVME_SC_ANA_INACCESSIBLE);
	}
}

void ana_identify_ctrl(struct nvme_id_ctrl *id)
{
	/* Several ports, several controllers, ANA reporting. */
	id->cmic = NVME_CTRL_CMIC_MULTI_PORT | NVME_CTRL_CMIC_MULTI_CTRL | NVME_CTRL_CMIC_ANA;
	id->oaes |= NVME_CTRL_OAES_ANA_CHANGE;
	id->anatt = ANA_TT_SECONDS;
	id->anacap = NVME_CTRL_ANACAP_OPTIMIZED | NVME_CTRL_ANACAP_NON_OPTIMIZED |
		     NVME_CTRL_ANACAP_INACCESSIBLE | NVME_CTRL_ANACAP_PERSISTENT_LOSS |
		     NVME_CTRL_ANACAP_CHANGE;
	id->anagrpmax = NVMF_ANA_GRPMAX;
	id->nanagrpid = NVMF_ANA_GRPMAX;
}

uint8_t *ana_log_build(struct nvmf_ctrl *ctrl, bool rgo, size_t *len)
{
	struct nvmf_subsys *s = ctrl->subsys;
	/* Every group and every NSID at most once: bounded by the limits. */
	size_t cap = sizeof(struct nvme_ana_log_hdr) +
		     NVMF_ANA_GRPMAX * sizeof(struct nvme_ana_group_desc) +
		     NVMF_MAX_NSID * sizeof(uint32_t);
	uint8_t *buf = calloc(1, cap);
	uint64_t chgcnt = atomic_load(&ctrl->target->ana_chgcnt);
	struct nvme_ana_log_hdr hdr = {.chgcnt = chgcnt};
	size_t off = sizeof(hdr);
	uint16_t nnsids[NVMF_ANA_GRPMAX + 1] = {0};

	if (buf == NULL)
		return NULL;
	pthread_rwlock_rdlock(&s->ns_lock);
	for (uint32_t id = 1; id <= NVMF_MAX_NSID; id++)
		if (s->ns[id] != NULL)
			nnsids[ana_ns_grpid(s->ns[id])]++;
	/* The groups this subsystem's namespaces are in, in ascending order. */
	for (uint32_t g = 1; g <= NVMF_ANA_GRPMAX; g++) {
		struct nvme_ana_group_desc d = {
			.grpid = g,
			.nnsids = rgo ? 0 : nnsids[g],
			.chgcnt = chgcnt,
			.state = atomic_load(&ctrl->ana->state[g]),
		};

		if (nnsids[g] == 0)
			continue;
		memcpy(buf + off, &d, sizeof(d));
		off += sizeof(d);
		hdr.ngrps++;
		for (uint32_t id = 1; !rgo && id <= NVMF_MAX_NSID; id++) {
			if (s->ns[id] == NULL || ana_ns_grpid(s->ns[id]) != g)
				continue;
			memcpy(buf + off, &id, sizeof(id));
			off += sizeof(id);
		}
	}
	pthread_rwlock_unlock(&s->ns_lock);
	memcpy(buf, &hdr, sizeof(hdr));
	*len = off;
	return buf;
}
