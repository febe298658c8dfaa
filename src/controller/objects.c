/* SPDX-License-Identifier: MIT */
/*
 * The controller's objects (objects.h): lookups every part uses, the
 * references of subsystems and namespaces, and the lock-free hand-offs to
 * the reaper and teardown threads.  Everything here works on the objects'
 * data only and calls no other part of the controller, so any part may
 * call it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "controller/objects.h"
#include "controller/stats.h"
#include "util/lock.h"
#include "util/log.h"

uint64_t ctrl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int target_start_thread(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *),
			void *arg)
{
	sigset_t all, old;
	int rc;

	/* Signals belong to the application's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(thread, attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

bool subsys_host_allowed(struct nvmf_subsys *subsys, const char *hostnqn)
{
	if (subsys->allow_any_host)
		return true;
	for (unsigned i = 0; i < subsys->nhosts; i++)
		if (strcmp(subsys->hosts[i], hostnqn) == 0)
			return true;
	return false;
}

bool port_has_subsys(const struct nvmf_port *port, const char *nqn)
{
	for (unsigned i = 0; i < port->conf.nsubsys; i++)
		if (strcmp(port->conf.subsystems[i], nqn) == 0)
			return true;
	return false;
}

struct nvmf_port *target_find_port(struct nvmf_target *t, uint16_t portid)
{
	for (struct nvmf_port *p = t->ports; p != NULL; p = p->next)
		if (p->conf.portid == portid)
			return p;
	return NULL;
}

struct nvmf_subsys *target_find_subsys(struct nvmf_target *t, const char *nqn)
{
	for (struct nvmf_subsys *s = t->subsystems; s != NULL; s = s->next)
		if (strcmp(s->nqn, nqn) == 0)
			return s;
	return NULL;
}

void subsys_free(struct nvmf_subsys *subsys)
{
	for (unsigned i = 0; i <= NVMF_MAX_NSID; i++)
		if (subsys->ns[i] != NULL)
			ns_put(subsys->ns[i]);
	stats_subsys_free(subsys);
	pthread_rwlock_destroy(&subsys->ns_lock);
	free(subsys->hosts);
	free(subsys);
}

void subsys_put(struct nvmf_subsys *subsys)
{
	struct nvmf_target *t = subsys->target;
	bool last;

	nvmf_mutex_lock(&t->lock);
	last = --subsys->refs == 0;
	nvmf_mutex_unlock(&t->lock);
	if (last)
		subsys_free(subsys);
}

int subsys_flush_all(struct nvmf_subsys *subsys)
{
	int first = 0;

	for (uint32_t nsid = 1; nsid <= NVMF_MAX_NSID; nsid++) {
		struct nvmf_ns *ns = subsys_get_ns(subsys, nsid);
		int rc;

		if (ns == NULL)
			continue;
		rc = ns->bdev->ops->flush(ns->bdev);
		if (rc != 0 && first == 0)
			first = rc;
		ns_put(ns);
	}
	return first;
}

struct nvmf_ns *subsys_get_ns(struct nvmf_subsys *subsys, uint32_t nsid)
{
	struct nvmf_ns *ns;

	if (nsid == 0 || nsid > NVMF_MAX_NSID)
		return NULL;
	pthread_rwlock_rdlock(&subsys->ns_lock);
	ns = subsys->ns[nsid];
	if (ns != NULL)
		atomic_fetch_add(&ns->refs, 1);
	pthread_rwlock_unlock(&subsys->ns_lock);
	return ns;
}

void ns_put(struct nvmf_ns *ns)
{
	if (atomic_fetch_sub(&ns->refs, 1) != 1)
		return;
	if (ns->resv != NULL)
		ns->resv_free(ns->resv);
	nvmf_bdev_close(ns->bdev);
	free(ns);
}

bool ctrl_ready(struct nvmf_ctrl *ctrl)
{
	uint32_t csts = atomic_load_explicit(&ctrl->csts, memory_order_relaxed);

	return (csts & NVME_CSTS_RDY) != 0 && (csts & NVME_CSTS_CFS) == 0;
}

void target_wake_reaper(struct nvmf_target *t)
{
	uint64_t one = 1;

	if (write(t->reaper_wake, &one, sizeof(one)) < 0 && errno != EAGAIN)
		NVMF_WARN("nvmfd: cannot wake the reaper: %s", strerror(errno));
}

void conn_mark_closing(struct nvmf_conn *conn)
{
	struct nvmf_target *t = conn->target;

	atomic_store(&conn->closing, true);
	target_wake_reaper(t);
}

void ctrl_kill_locked(struct nvmf_ctrl *ctrl)
{
	NVMF_ASSERT_LOCKED(&ctrl->target->lock);
	atomic_store(&ctrl->dead, true);
	if (ctrl->admin != NULL)
		atomic_store(&ctrl->admin->closing, true);
	for (unsigned q = 1; q <= ctrl->max_io_queues; q++)
		if (ctrl->io[q] != NULL)
			atomic_store(&ctrl->io[q]->closing, true);
}

void ctrl_kill(struct nvmf_ctrl *ctrl)
{
	struct nvmf_target *t = ctrl->target;

	nvmf_mutex_lock(&t->lock);
	ctrl_kill_locked(ctrl);
	nvmf_mutex_unlock(&t->lock);
	target_wake_reaper(t);
}

void teardown_conn_drained(struct nvmf_conn *conn)
{
	struct nvmf_target *t = conn->target;

	nvmf_mutex_lock(&t->teardown_lock);
	conn->next = NULL;
	*t->drained_tail = conn;
	t->drained_tail = &conn->next;
	pthread_cond_signal(&t->teardown_cond);
	nvmf_mutex_unlock(&t->teardown_lock);
}
