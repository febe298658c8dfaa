/* SPDX-License-Identifier: MIT */
/*
 * Asymmetric Namespace Access (ana.c): the ports' group states, the ANA
 * log page, the Identify fields and the I/O path's check.  Works on the
 * objects alone; raising the ANA change event is the caller's (target.c,
 * through ctrl_ana_changed in admin.c).
 */
#ifndef NVMF_CONTROLLER_ANA_H
#define NVMF_CONTROLLER_ANA_H

#include "controller/objects.h"

#define ANA_TT_SECONDS 10 /* ANATT: a transition ends within, as nvmet */

/* A set of ANA group IDs, 0..NVMF_ANA_GRPMAX. */
struct ana_groups {
	uint64_t bits[(NVMF_ANA_GRPMAX + 64) / 64];
};

static inline void ana_groups_add(struct ana_groups *g, uint32_t grpid)
{
	g->bits[grpid / 64] |= 1ull << (grpid % 64);
}

static inline bool ana_groups_has(const struct ana_groups *g, uint32_t grpid)
{
	return (g->bits[grpid / 64] >> (grpid % 64)) & 1;
}

/* Target lock held: a port's states, created with the defaults (group 1
 * optimized, the others inaccessible) the first time; NULL: no memory. */
struct ana_port *ana_port_get(struct nvmf_target *t, uint16_t portid);
/* Target lock held: set the states a port's configuration gives, adding
 * the groups that changed to *changed.  0 or -ENOMEM. */
int ana_port_configure(struct nvmf_target *t, const struct nvmf_port_conf *c,
		       struct ana_groups *changed);
/* One group's state; true if it changed (bumps the change count). */
bool ana_port_set(struct nvmf_target *t, struct ana_port *p, uint32_t grpid, uint8_t state);
/* At target destruction. */
void ana_ports_free(struct nvmf_target *t);
/* A state a configuration may give. */
bool ana_state_valid(uint32_t state);

/* A namespace's group. */
uint32_t ana_ns_grpid(const struct nvmf_ns *ns);
/* Whether a subsystem has a namespace in one of these groups. */
bool ana_subsys_in_groups(struct nvmf_subsys *s, const struct ana_groups *g);

/* 0, or the path status (SCT 3) I/O to this namespace gets on this
 * controller's port. */
uint16_t ana_io_status(const struct nvmf_ctrl *ctrl, const struct nvmf_ns *ns);
/* CMIC, ANACAP, ANATT, ANAGRPMAX, NANAGRPID of an I/O controller. */
void ana_identify_ctrl(struct nvme_id_ctrl *id);
/* The ANA log page as this controller's port sees it, in a new buffer
 * (free it); rgo: group descriptors without NSIDs.  NULL: no memory. */
uint8_t *ana_log_build(struct nvmf_ctrl *ctrl, bool rgo, size_t *len);

#endif
