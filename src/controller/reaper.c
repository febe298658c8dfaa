/* SPDX-License-Identifier: MIT */
/*
 * Timers and teardown: two threads, so that a connection that is slow to go
 * never delays the timers of the others.
 *
 * The reaper enforces the connect timeout, the DH-HMAC-CHAP transaction
 * timer and keep alive (KATO) expiry, announces namespaces whose storage
 * grew (an RBD image resized), delivers the reservation notices other
 * gateways sent (resv.c), and moves connections marked closing off
 * the target's list onto the teardown queue.  It only ever waits for
 * the target lock, which nothing holds for long.
 *
 * The teardown thread stops each connection's queue pair (which may wait a
 * moment for queued PDUs to leave) and, once its last command has
 * finished, frees it and, with its last connection, the controller.  A
 * connection whose commands are still running (a backend I/O that hangs)
 * is parked until the last one completes; it holds up nothing else.
 *
 * Marking a connection closing takes no lock (conn_mark_closing may run
 * anywhere, the target lock held or not): the flag is atomic and the
 * reaper is woken through an eventfd.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "controller/reaper.h"
#include "controller/resv.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/testpoint.h"
#include "util/thread.h"

#define REAPER_TICK_MS 100

static void check_kato_locked(struct nvmf_target *t, struct nvmf_subsys *s, uint64_t now)
{
	NVMF_ASSERT_LOCKED(&t->lock);
	for (struct nvmf_ctrl *ctrl = s->ctrls; ctrl != NULL; ctrl = ctrl->next) {
		uint32_t kato = atomic_load(&ctrl->kato_ms);
		uint64_t last = atomic_load(&ctrl->last_activity_ms);
		/* KATO counts in KAS units, rounded up (Base 2.0 §5.27.1.12). */
		uint64_t limit = ((uint64_t)kato + CTRL_KAS * 100 - 1) / (CTRL_KAS * 100) * (CTRL_KAS * 100);

		if (kato == 0 || atomic_load(&ctrl->dead) || now < last || now - last <= limit)
			continue;
		NVMF_WARN("nvmfd: controller %u of %s (host %s): keep alive timeout (%u ms) expired, tearing the association down",
			  ctrl->cntlid, s->nqn, ctrl->hostnqn, kato);
		t->stats.kato_expired++;
		ctrl_kill_locked(ctrl);
	}
}

/* Connect and authentication deadlines, keep alive (target lock held). */
static void check_timers_locked(struct nvmf_target *t, uint64_t now)
{
	NVMF_ASSERT_LOCKED(&t->lock);
	for (struct nvmf_conn *c = t->conns; c != NULL; c = c->next) {
		if (atomic_load(&c->closing) || atomic_load(&c->connected) ||
		    now < c->connect_deadline_ms)
			continue;
		NVMF_WARN("nvmfd: %s: no Connect within %u ms, closing", c->peer,
			  t->params.connect_timeout_ms);
		t->stats.connect_timeouts++;
		atomic_store(&c->closing, true);
	}
	for (struct nvmf_conn *c = t->conns; c != NULL; c = c->next) {
		uint64_t deadline = atomic_load(&c->auth_deadline_ms);

		/* A DH-HMAC-CHAP transaction stalled (TP 8006 timer). */
		if (atomic_load(&c->closing) || deadline == 0 || now < deadline ||
		    !atomic_load(&c->connected))
			continue;
		NVMF_WARN("nvmfd: %s: queue %u: authentication not completed in time, ending the association",
			  c->peer, c->qid);
		t->stats.auth_failures++;
		ctrl_kill_locked(c->ctrl);
	}
	check_kato_locked(t, t->discovery, now);
	for (struct nvmf_subsys *s = t->subsystems; s != NULL; s = s->next)
		check_kato_locked(t, s, now);
}

/*
 * A namespace whose backing grew (bdev->grown_to, set by the backend) gets
 * its new capacity, and every controller of its subsystem a Namespace
 * Attribute Changed event, as a reload's change does.  Growth only: a
 * shrunk image keeps the old capacity, and I/O past its end fails.
 */
static void check_grown_locked(struct nvmf_target *t, struct nvmf_subsys *s)
{
	uint32_t grown[16];
	unsigned n = 0;

	NVMF_ASSERT_LOCKED(&t->lock);
	pthread_rwlock_rdlock(&s->ns_lock);
	for (uint32_t id = 1; id <= NVMF_MAX_NSID && n < sizeof(grown) / sizeof(grown[0]); id++) {
		struct nvmf_ns *ns = s->ns[id];
		uint64_t bytes, old;

		if (ns == NULL || atomic_load_explicit(&ns->bdev->grown_to, memory_order_relaxed) == 0)
			continue;
		bytes = atomic_exchange(&ns->bdev->grown_to, 0);
		old = atomic_load(&ns->nsze);
		if (bytes >> ns->lbads <= old)
			continue;
		atomic_store(&ns->nsze, bytes >> ns->lbads);
		NVMF_INFO("nvmfd: %s namespace %u grew from %llu to %llu blocks", s->nqn, id,
			  (unsigned long long)old, (unsigned long long)(bytes >> ns->lbads));
		grown[n++] = id;
	}
	pthread_rwlock_unlock(&s->ns_lock);
	for (struct nvmf_ctrl *ctrl = s->ctrls; ctrl != NULL; ctrl = ctrl->next)
		for (unsigned i = 0; i < n; i++)
			ctrl_ns_changed(ctrl, grown[i]);
}

/* Move closing connections onto the teardown queue (target lock held). */
static void doom_closing_locked(struct nvmf_target *t)
{
	struct nvmf_conn *doomed = NULL, **tail = &doomed;

	NVMF_ASSERT_LOCKED(&t->lock);
	for (struct nvmf_conn **pp = &t->conns; *pp != NULL;) {
		struct nvmf_conn *c = *pp;

		/* Not yet attached: its queue pair is the transport's until then. */
		if (!atomic_load(&c->closing) || c->qp == NULL) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		c->next = NULL;
		*tail = c;
		tail = &c->next;
	}
	if (doomed == NULL)
		return;
	nvmf_mutex_lock(&t->teardown_lock);
	*t->doomed_tail = doomed;
	t->doomed_tail = tail;
	pthread_cond_signal(&t->teardown_cond);
	nvmf_mutex_unlock(&t->teardown_lock);
}

static void *reaper_main(void *arg)
{
	struct nvmf_target *t = arg;
	struct pollfd pfd = {.fd = t->reaper_wake, .events = POLLIN};

	nvmf_thread_name(pthread_self(), "nvmf-reaper");
	for (;;) {
		uint64_t count;
		bool stop;

		nvmf_mutex_lock(&t->lock);
		stop = t->reaper_stop;
		if (!stop) {
			check_timers_locked(t, ctrl_now_ms());
			for (struct nvmf_subsys *s = t->subsystems; s != NULL; s = s->next) {
				check_grown_locked(t, s);
				resv_deliver_remote_locked(s);
			}
			doom_closing_locked(t);
		}
		nvmf_mutex_unlock(&t->lock);
		if (stop)
			break;
		if (poll(&pfd, 1, REAPER_TICK_MS) > 0 &&
		    read(t->reaper_wake, &count, sizeof(count)) < 0 && errno != EAGAIN)
			NVMF_WARN("nvmfd: reaper: %s", strerror(errno));
	}
	return NULL;
}

/* Take the head of a teardown list (teardown lock held). */
static struct nvmf_conn *list_pop_locked(struct nvmf_conn **head, struct nvmf_conn ***tail)
{
	struct nvmf_conn *c = *head;

	if (c != NULL) {
		*head = c->next;
		if (*head == NULL)
			*tail = head;
	}
	return c;
}

static void *teardown_main(void *arg)
{
	struct nvmf_target *t = arg;

	nvmf_thread_name(pthread_self(), "nvmf-teardown");
	nvmf_mutex_lock(&t->teardown_lock);
	for (;;) {
		struct nvmf_conn *c;

		if ((c = list_pop_locked(&t->drained, &t->drained_tail)) != NULL) {
			nvmf_mutex_unlock(&t->teardown_lock);
			conn_finish(c);
		} else if ((c = list_pop_locked(&t->doomed, &t->doomed_tail)) != NULL) {
			nvmf_mutex_unlock(&t->teardown_lock);
			/* Parks the connection if commands still run; they finish it. */
			if (conn_stop(c))
				conn_finish(c);
		} else if (t->teardown_stop) {
			break;
		} else {
			pthread_cond_wait(&t->teardown_cond, &t->teardown_lock);
			continue;
		}
		nvmf_mutex_lock(&t->teardown_lock);
	}
	nvmf_mutex_unlock(&t->teardown_lock);
	return NULL;
}

int reaper_start(struct nvmf_target *t)
{
	int rc;

	t->reaper_wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t->reaper_wake < 0)
		return errno;
	nvmf_mutex_init(&t->teardown_lock);
	pthread_cond_init(&t->teardown_cond, NULL);
	t->doomed_tail = &t->doomed;
	t->drained_tail = &t->drained;
	rc = target_start_thread(&t->teardown, NULL, teardown_main, t);
	if (rc != 0)
		goto fail;
	rc = target_start_thread(&t->reaper, NULL, reaper_main, t);
	if (rc == 0)
		return 0;
	nvmf_mutex_lock(&t->teardown_lock);
	t->teardown_stop = true;
	pthread_cond_signal(&t->teardown_cond);
	nvmf_mutex_unlock(&t->teardown_lock);
	pthread_join(t->teardown, NULL);
fail:
	pthread_cond_destroy(&t->teardown_cond);
	pthread_mutex_destroy(&t->teardown_lock);
	close(t->reaper_wake);
	return rc;
}

void reaper_stop(struct nvmf_target *t)
{
	nvmf_mutex_lock(&t->lock);
	t->reaper_stop = true;
	nvmf_mutex_unlock(&t->lock);
	target_wake_reaper(t);
	pthread_join(t->reaper, NULL);
	/* Every connection is gone by now (shutdown waited for them). */
	nvmf_mutex_lock(&t->teardown_lock);
	t->teardown_stop = true;
	pthread_cond_signal(&t->teardown_cond);
	nvmf_mutex_unlock(&t->teardown_lock);
	pthread_join(t->teardown, NULL);
	pthread_cond_destroy(&t->teardown_cond);
	pthread_mutex_destroy(&t->teardown_lock);
	close(t->reaper_wake);
}
