/* SPDX-License-Identifier: MIT */
/*
 * Snapshots of a running subsystem for management tools (nvmfd's JSON-RPC
 * nvmf_get_subsystems, nvmf_subsystem_get_controllers and _get_qpairs):
 * what is served, who is connected, taken under the target lock so the
 * three lists agree with each other.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/admin.h"
#include "util/lock.h"

static void ns_info(const struct nvmf_ns *ns, struct nvmf_target_ns_info *out)
{
	out->nsid = ns->nsid;
	out->block_size = ns->bdev->block_size;
	out->size = ns->bdev->size;
	out->readonly = ns->bdev->readonly;
	memcpy(out->uuid, ns->uuid, sizeof(out->uuid));
	memcpy(out->nguid, ns->nguid, sizeof(out->nguid));
	memcpy(out->eui64, ns->eui64, sizeof(out->eui64));
	snprintf(out->backend, sizeof(out->backend), "%s", ns->bdev->ops->name);
}

static int snapshot_ns(struct nvmf_subsys *s, struct nvmf_target_subsys_info *info)
{
	int rc = 0;

	pthread_rwlock_rdlock(&s->ns_lock);
	for (uint32_t id = 1; id <= NVMF_MAX_NSID; id++)
		info->nns += s->ns[id] != NULL;
	info->ns = calloc(info->nns ? info->nns : 1, sizeof(*info->ns));
	if (info->ns == NULL) {
		rc = -ENOMEM;
	} else {
		unsigned n = 0;

		for (uint32_t id = 1; id <= NVMF_MAX_NSID; id++)
			if (s->ns[id] != NULL)
				ns_info(s->ns[id], &info->ns[n++]);
	}
	pthread_rwlock_unlock(&s->ns_lock);
	return rc;
}

static void qpair_info(const struct nvmf_ctrl *ctrl, const struct nvmf_conn *c,
		       struct nvmf_target_qpair_info *out)
{
	out->cntlid = ctrl->cntlid;
	out->qid = c->qid;
	out->portid = c->portid;
	out->closing = atomic_load(&c->closing);
	snprintf(out->peer, sizeof(out->peer), "%s", c->peer);
	snprintf(out->local_traddr, sizeof(out->local_traddr), "%s", c->local_traddr);
}

/* Target lock held: ctrl->admin, ctrl->io[] and the controller list are its. */
static int snapshot_ctrls(struct nvmf_subsys *s, struct nvmf_target_subsys_info *info)
{
	unsigned nq = 0, nc = 0;

	NVMF_ASSERT_LOCKED(&s->target->lock);
	for (struct nvmf_ctrl *ctrl = s->ctrls; ctrl != NULL; ctrl = ctrl->next) {
		info->nctrls++;
		info->nqpairs += ctrl->nconns;
	}
	info->ctrls = calloc(info->nctrls ? info->nctrls : 1, sizeof(*info->ctrls));
	info->qpairs = calloc(info->nqpairs ? info->nqpairs : 1, sizeof(*info->qpairs));
	if (info->ctrls == NULL || info->qpairs == NULL)
		return -ENOMEM;
	for (struct nvmf_ctrl *ctrl = s->ctrls; ctrl != NULL; ctrl = ctrl->next) {
		struct nvmf_target_ctrl_info *ci = &info->ctrls[nc++];

		ci->cntlid = ctrl->cntlid;
		ci->portid = ctrl->portid;
		snprintf(ci->hostnqn, sizeof(ci->hostnqn), "%s", ctrl->hostnqn);
		memcpy(ci->hostid, ctrl->hostid, sizeof(ci->hostid));
		ci->kato_ms = atomic_load(&ctrl->kato_ms);
		ci->dead = atomic_load(&ctrl->dead);
		nvmf_mutex_lock(&ctrl->lock);
		ci->authenticated = ctrl->auth.required;
		ci->nr_io_queues = ctrl->nr_io_queues;
		nvmf_mutex_unlock(&ctrl->lock);
		if (ctrl->admin != NULL && nq < info->nqpairs)
			qpair_info(ctrl, ctrl->admin, &info->qpairs[nq++]);
		for (unsigned q = 1; q <= ctrl->max_io_queues; q++) {
			if (ctrl->io[q] == NULL || nq == info->nqpairs)
				continue;
			qpair_info(ctrl, ctrl->io[q], &info->qpairs[nq++]);
			ci->io_queues++;
		}
	}
	info->nqpairs = nq; /* nconns counts queues still being torn down */
	return 0;
}

int nvmf_target_subsys_info(struct nvmf_target *t, const char *subnqn,
			    struct nvmf_target_subsys_info **out)
{
	struct nvmf_target_subsys_info *info = calloc(1, sizeof(*info));
	struct nvmf_subsys *s;
	int rc;

	*out = NULL;
	if (info == NULL)
		return -ENOMEM;
	nvmf_mutex_lock(&t->lock);
	s = target_find_subsys(t, subnqn);
	if (s == NULL) {
		rc = -ENOENT;
	} else {
		snprintf(info->serial, sizeof(info->serial), "%s", s->serial);
		snprintf(info->model, sizeof(info->model), "%s", s->model);
		snprintf(info->firmware, sizeof(info->firmware), "%s", s->firmware);
		rc = snapshot_ns(s, info);
		if (rc == 0)
			rc = snapshot_ctrls(s, info);
	}
	nvmf_mutex_unlock(&t->lock);
	if (rc != 0) {
		nvmf_target_subsys_info_free(info);
		return rc;
	}
	*out = info;
	return 0;
}

void nvmf_target_subsys_info_free(struct nvmf_target_subsys_info *info)
{
	if (info == NULL)
		return;
	free(info->ns);
	free(info->ctrls);
	free(info->qpairs);
	free(info);
}
