/* SPDX-License-Identifier: MIT */
/*
 * Host queues: command slots, sending, completion, holding commands while a
 * queue is down, and the poll interface.  See host_internal.h for the model.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/host_internal.h"
#include "util/clock.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/testpoint.h"

int queue_init(struct host_queue *q, struct nvmf_ctrl *c, uint16_t qid, uint16_t qsize,
	       unsigned naer)
{
	unsigned ninternal = qid == 0 ? HOST_ADMIN_INTERNAL : HOST_IO_INTERNAL;
	memset(q, 0, sizeof(*q));
	q->ctrl = c;
	q->qid = qid;
	q->qsize = qsize;
	/* One entry stays empty: a full submission queue holds qsize - 1. */
	q->nslots = qsize - 1u;
	if (q->nslots < naer + ninternal + 1)
		return -EINVAL;
	q->nuser = q->nslots - naer - ninternal;
	q->slots = calloc(q->nslots, sizeof(*q->slots));
	if (q->slots == NULL)
		return -ENOMEM;
	nvmf_mutex_init(&q->lock);
	nvmf_cond_init_monotonic(&q->cond);
	q->held_tail = &q->held_head;
	q->reap_tail = &q->reap_head;
	/* AER slots first, then internal ones, then the users'. */
	for (unsigned i = q->nslots; i-- > 0;) {
		struct host_slot *s = &q->slots[i];

		s->q = q;
		s->cid = (uint16_t)i;
		atomic_init(&s->state, SLOT_FREE);
		atomic_init(&s->wire_cid, s->cid);
		if (i < naer) {
			s->kind = SLOT_AER;
		} else if (i < naer + ninternal) {
			s->kind = SLOT_INTERNAL;
			s->next = q->free_internal;
			q->free_internal = s;
		} else {
			s->kind = SLOT_USER;
			s->next = q->free_user;
			q->free_user = s;
		}
	}
	return 0;
}

void queue_destroy(struct host_queue *q)
{
	if (q->slots == NULL)
		return;
	free(q->slots);
	q->slots = NULL;
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
}

static void wake_waiters_locked(struct host_queue *q)
{
	NVMF_ASSERT_LOCKED(&q->lock);
	if (q->waiters != 0)
		pthread_cond_broadcast(&q->cond);
}

/* The one place a slot changes hands (host_internal.h lists the moves). */
static void slot_set_state(struct host_slot *s, enum slot_state from, enum slot_state to)
{
#ifdef NVMF_DEBUG_CHECKS
	uint8_t seen = (uint8_t)from;

	if (!atomic_compare_exchange_strong(&s->state, &seen, (uint8_t)to)) {
		fprintf(stderr, "host: queue %u slot %u: state %u, expected %u (moving to %u)\n",
			s->q->qid, s->cid, seen, from, to);
		abort();
	}
#else
	(void)from;
	/* Release: a response that sees the slot in flight sees its new CID. */
	atomic_store_explicit(&s->state, (uint8_t)to, memory_order_release);
#endif
}

static void slot_put_locked(struct host_queue *q, struct host_slot *s, enum slot_state from)
{
	NVMF_ASSERT_LOCKED(&q->lock);
	slot_set_state(s, from, SLOT_FREE);
	switch (s->kind) {
	case SLOT_USER:
		s->next = q->free_user;
		q->free_user = s;
		q->busy--;
		wake_waiters_locked(q);
		break;
	case SLOT_INTERNAL:
		s->next = q->free_internal;
		q->free_internal = s;
		break;
	case SLOT_AER:
		break;
	}
}

int queue_get_slot(struct host_queue *q, struct host_slot **slot, bool wait)
{
	struct nvmf_ctrl *c = q->ctrl;
	int ret = 0;

	nvmf_mutex_lock(&q->lock);
	for (;;) {
		int state = atomic_load_explicit(&c->state, memory_order_relaxed);

		if (state == NVMF_CTRL_FAILED) {
			ret = -ENODEV;
			break;
		}
		if (state == NVMF_CTRL_DISCONNECTING) {
			ret = -ESHUTDOWN;
			break;
		}
		if (q->free_user != NULL)
			break;
		if (!wait) {
			ret = -EAGAIN;
			break;
		}
		q->waiters++;
		pthread_cond_wait(&q->cond, &q->lock);
		q->waiters--;
	}
	if (ret == 0) {
		*slot = q->free_user;
		q->free_user = (*slot)->next;
		q->busy++;
		slot_set_state(*slot, SLOT_FREE, SLOT_OWNED);
	}
	nvmf_mutex_unlock(&q->lock);
	return ret;
}

struct host_slot *queue_get_internal(struct host_queue *q)
{
	struct host_slot *s;

	nvmf_mutex_lock(&q->lock);
	s = q->free_internal;
	if (s != NULL) {
		q->free_internal = s->next;
		slot_set_state(s, SLOT_FREE, SLOT_OWNED);
	}
	nvmf_mutex_unlock(&q->lock);
	return s;
}

bool slot_claim_aer(struct host_slot *s)
{
	uint8_t free_state = SLOT_FREE;

	/* AER slots are on no list: the state alone says whether one is armed. */
	return atomic_compare_exchange_strong(&s->state, &free_state, SLOT_OWNED);
}

void slot_prepare(struct host_slot *s, const struct nvme_sqe *sqe, const struct iovec *iov,
		  int iovcnt, size_t len, bool send, nvmf_cmd_cb *cb, void *arg)
{
	s->sqe = *sqe;
	s->has_data = iov != NULL;
	s->send = send;
	s->data = (struct nvmf_iov){.iov = iov, .iovcnt = iovcnt, .len = len};
	s->cb = cb;
	s->arg = arg;
	s->retries = 0;
}

/*
 * Complete a slot whose cpl is filled in (the caller owns it: OWNED, or
 * INFLIGHT with `responded` claimed): release it, then tell its owner.
 */
static void slot_finish(struct host_slot *s, enum slot_state from)
{
	struct host_queue *q = s->q;
	nvmf_cmd_cb *cb = s->cb;
	void *arg = s->arg;
	struct nvmf_cpl cpl = s->cpl;

	nvmf_mutex_lock(&q->lock);
	if (s->kind == SLOT_USER && cb == NULL) {
		/* Kept until nvmf_ioq_poll hands the completion out. */
		slot_set_state(s, from, SLOT_REAP);
		s->next = NULL;
		*q->reap_tail = s;
		q->reap_tail = &s->next;
		q->nreap++;
		wake_waiters_locked(q);
		nvmf_mutex_unlock(&q->lock);
		return;
	}
	slot_put_locked(q, s, from);
	nvmf_mutex_unlock(&q->lock);
	if (cb != NULL)
		cb(arg, &cpl);
}

static void slot_fail(struct host_slot *s, int error)
{
	s->cpl = (struct nvmf_cpl){.error = error};
	slot_finish(s, SLOT_OWNED);
}

void slot_release(struct host_slot *s)
{
	nvmf_mutex_lock(&s->q->lock);
	slot_put_locked(s->q, s, SLOT_OWNED);
	nvmf_mutex_unlock(&s->q->lock);
}

/*
 * Park an OWNED user command until the queue is up again: 0 when held,
 * EAGAIN when the queue is live (again) and the command should be sent, or
 * the error to fail it with when the queue never will be.  `live` is
 * checked under the lock that queue_go_live sets it under, so a command
 * is never held on a queue that has just gone live (and so never sent).
 */
static int slot_hold(struct host_slot *s)
{
	struct host_queue *q = s->q;
	int state;

	nvmf_mutex_lock(&q->lock);
	state = atomic_load(&q->ctrl->state);
	if (state == NVMF_CTRL_FAILED || state == NVMF_CTRL_DISCONNECTING) {
		nvmf_mutex_unlock(&q->lock);
		return state == NVMF_CTRL_FAILED ? ENODEV : ESHUTDOWN;
	}
	if (atomic_load(&q->live)) {
		nvmf_mutex_unlock(&q->lock);
		return EAGAIN;
	}
	slot_set_state(s, SLOT_OWNED, SLOT_HELD);
	s->next = NULL;
	*q->held_tail = s;
	q->held_tail = &s->next;
	nvmf_mutex_unlock(&q->lock);
	return 0;
}

static void slot_complete(struct host_slot *s)
{
	/* A success whose data did not arrive intact is no success. */
	if (s->data_error != 0 && s->cpl.error == 0 && s->cpl.status == 0)
		s->cpl.error = s->data_error;
	slot_finish(s, SLOT_INFLIGHT);
}

static void slot_event(struct host_slot *s)
{
	if (atomic_fetch_sub_explicit(&s->pending, 1, memory_order_acq_rel) == 1)
		slot_complete(s);
}

/* A transfer short of its buffer is complete only for commands whose data
 * has a length of its own: Authentication Receive (AL is a maximum). */
static bool short_transfer_ok(const struct host_slot *s)
{
	const struct nvmf_fabrics_cmd *f = (const struct nvmf_fabrics_cmd *)&s->sqe;

	return s->sqe.opc == NVME_ADMIN_FABRICS && f->fctype == NVMF_FCTYPE_AUTH_RECV;
}

static void slot_data_done(void *arg, size_t xfered, int error)
{
	struct host_slot *s = arg;

	if (error == 0 && !s->send && xfered < s->data.len && !short_transfer_ok(s))
		error = ENODATA;
	if (error != 0)
		s->data_error = error;
	slot_event(s);
}

/*
 * A transmission failed: take the slot back from INFLIGHT, unless a
 * response (a stale or forged one: the command never left) claimed it
 * first; that one completes it, or the worker's reclaim does.  The caller
 * still counts in `users`, so the reclaim cannot run meanwhile.
 */
static bool slot_take_back(struct host_slot *s)
{
	bool mine;

	nvmf_mutex_lock(&s->q->lock);
	mine = atomic_load(&s->state) == SLOT_INFLIGHT && !atomic_exchange(&s->responded, true);
	if (mine)
		slot_set_state(s, SLOT_INFLIGHT, SLOT_OWNED);
	nvmf_mutex_unlock(&s->q->lock);
	return mine;
}

/*
 * Hand an OWNED slot to the transport: 0 once it is in flight (it is no
 * longer ours), else the error, with the slot OWNED again (or -EALREADY:
 * a response claimed it meanwhile, and it is not ours either).
 */
static int slot_transmit(struct host_slot *s)
{
	struct host_queue *q = s->q;
	struct nvmf_capsule *nc;
	int error;

	if (q->qp == NULL)
		return ECONNABORTED;
	s->cpl = (struct nvmf_cpl){0};
	s->data_error = 0;
	atomic_store_explicit(&s->responded, false, memory_order_relaxed);
	atomic_store_explicit(&s->pending, s->has_data ? 2 : 1, memory_order_relaxed);
	atomic_store_explicit(&s->submit_ns, nvmf_now_ns(), memory_order_relaxed);
	atomic_store_explicit(&s->sent_opc, s->sqe.opc, memory_order_relaxed);
	s->sqe.cid = (uint16_t)((atomic_load_explicit(&s->wire_cid, memory_order_relaxed) >>
				 HOST_CID_GEN_SHIFT) + 1) << HOST_CID_GEN_SHIFT | s->cid;
	atomic_store_explicit(&s->wire_cid, s->sqe.cid, memory_order_relaxed);
	nc = nvmf_capsule_command(q->qp, &s->sqe);
	if (nc == NULL) {
		/* The transport's pool outnumbers our slots: a bug if it happens. */
		NVMF_ERR("host: queue %u: no capsule for command %u", q->qid, s->sqe.cid);
		return ENOMEM;
	}
	/* In flight before it can reach the wire: its response may come first. */
	slot_set_state(s, SLOT_OWNED, SLOT_INFLIGHT);
	if (s->has_data)
		nvmf_capsule_append_data(nc, &s->data, s->send, slot_data_done, s);
	error = -nvmf_capsule_transmit(nc);
	/*
	 * The transport keeps its own reference for as long as it needs the
	 * capsule: ours goes now, not at completion.  The slot is in flight
	 * already, so a response carrying its CID (a stale duplicate of the
	 * slot's previous command, or a forged one) can complete it while we
	 * are still in nvmf_capsule_transmit; completion used to free the
	 * capsule then, before the transport had taken its reference, and
	 * the transport went on with a freed capsule (fuzz_host_ctrl,
	 * tests/fuzz/corpus/host_ctrl/crash-capsule-freed-in-transmit).
	 */
	nvmf_capsule_free(nc);
	if (error == 0)
		return 0;
	return slot_take_back(s) ? error : -EALREADY;
}

void slot_send(struct host_slot *s)
{
	struct host_queue *q = s->q;
	bool user = s->kind == SLOT_USER;
	int error;

	for (;;) {
		/* While counted in `users`, queue_stop waits and the qpair stays. */
		atomic_fetch_add(&q->users, 1);
		if (user && !atomic_load(&q->live))
			error = ENOTCONN;
		else
			error = slot_transmit(s);
		atomic_fetch_sub(&q->users, 1);
		if (error == 0 || error == -EALREADY)
			return;
		/* The connection is going down; recovery will resend user commands. */
		if (user && (error == ENOTCONN || error == ECONNABORTED) &&
		    !atomic_load(&q->ctrl->failfast)) {
			NVMF_TESTPOINT("host.slot_send.hold", s);
			error = slot_hold(s);
			if (error == 0)
				return;
			if (error == EAGAIN)
				continue; /* live again meanwhile */
		}
		slot_fail(s, error);
		return;
	}
}

void queue_receive(void *arg, struct nvmf_capsule *rsp)
{
	struct host_queue *q = arg;
	const struct nvme_cqe *cqe = nvmf_capsule_cqe(rsp);
	struct host_slot *s = NULL;
	uint16_t cid = cqe->cid;
	uint16_t index = HOST_CID_INDEX(cid);

	if (index < q->nslots &&
	    atomic_load_explicit(&q->slots[index].state, memory_order_acquire) == SLOT_INFLIGHT &&
	    atomic_load_explicit(&q->slots[index].wire_cid, memory_order_relaxed) == cid)
		s = &q->slots[index];
	if (s == NULL || atomic_exchange(&s->responded, true)) {
		NVMF_ERR("host: queue %u: response for command %u, which is not outstanding",
			 q->qid, cid);
		nvmf_capsule_free(rsp);
		ctrl_mark_lost(q->ctrl, q->qid, EPROTO);
		return;
	}
	s->cpl.status = NVME_CQE_TO_STATUS(cqe->status);
	s->cpl.dnr = (cqe->status & NVME_CQE_STATUS_DNR) != 0;
	s->cpl.cdw0 = cqe->cdw0;
	s->cpl.cdw1 = cqe->cdw1;
	nvmf_capsule_free(rsp);
	slot_event(s);
}

void queue_error(void *arg, int error)
{
	struct host_queue *q = arg;

	atomic_store(&q->dead, true);
	ctrl_mark_lost(q->ctrl, q->qid, error);
}

void queue_stop(struct host_queue *q)
{
	atomic_store(&q->live, false);
	NVMF_TESTPOINT("host.queue_stop.not_live", q);
	while (atomic_load(&q->users) != 0)
		sched_yield();
	if (q->qp != NULL) {
		nvmf_qpair_free(q->qp);
		q->qp = NULL;
	}
}

void queue_reclaim(struct host_queue *q, int user_error)
{
	struct host_slot *failed = NULL, *resend = NULL, **resend_tail = &resend;

	nvmf_mutex_lock(&q->lock);
	for (unsigned i = 0; i < q->nslots; i++) {
		struct host_slot *s = &q->slots[i];

		if (atomic_load_explicit(&s->state, memory_order_relaxed) != SLOT_INFLIGHT)
			continue;
		if (s->kind != SLOT_USER || user_error != 0 || ++s->retries > HOST_MAX_RETRIES) {
			s->cpl = (struct nvmf_cpl){
				.error = s->kind != SLOT_USER ? ECONNABORTED
					 : user_error != 0 ? user_error : ECONNABORTED};
			slot_set_state(s, SLOT_INFLIGHT, SLOT_OWNED);
			s->next = failed;
			failed = s;
			continue;
		}
		slot_set_state(s, SLOT_INFLIGHT, SLOT_HELD);
		s->next = NULL;
		*resend_tail = s;
		resend_tail = &s->next;
	}
	/* What was already sent goes out again before what was held. */
	if (resend != NULL) {
		*resend_tail = q->held_head;
		if (q->held_head == NULL)
			q->held_tail = resend_tail;
		q->held_head = resend;
	}
	nvmf_mutex_unlock(&q->lock);
	NVMF_TESTPOINT("host.queue_reclaim.done", q);
	while (failed != NULL) {
		struct host_slot *s = failed;

		failed = s->next;
		slot_finish(s, SLOT_OWNED);
	}
}

/* Take the held list off the queue, each slot OWNED again (lock held). */
static struct host_slot *take_held_locked(struct host_queue *q)
{
	struct host_slot *list = q->held_head;

	NVMF_ASSERT_LOCKED(&q->lock);
	for (struct host_slot *s = list; s != NULL; s = s->next)
		slot_set_state(s, SLOT_HELD, SLOT_OWNED);
	q->held_head = NULL;
	q->held_tail = &q->held_head;
	return list;
}

void queue_fail_held(struct host_queue *q, int error)
{
	struct host_slot *list;

	nvmf_mutex_lock(&q->lock);
	list = take_held_locked(q);
	nvmf_mutex_unlock(&q->lock);
	while (list != NULL) {
		struct host_slot *s = list;

		list = s->next;
		slot_fail(s, error);
	}
}

void queue_go_live(struct host_queue *q)
{
	struct host_slot *list;

	nvmf_mutex_lock(&q->lock);
	list = take_held_locked(q);
	atomic_store(&q->live, true);
	nvmf_mutex_unlock(&q->lock);
	NVMF_TESTPOINT("host.queue_go_live.live", q);
	while (list != NULL) {
		struct host_slot *s = list;

		list = s->next;
		slot_send(s);
	}
}

uint64_t queue_oldest_ns(struct host_queue *q, uint64_t now, uint16_t *cid, uint8_t *opc)
{
	uint64_t oldest = 0;

	for (unsigned i = 0; i < q->nslots; i++) {
		struct host_slot *s = &q->slots[i];
		uint64_t t;

		if (s->kind == SLOT_AER ||
		    atomic_load_explicit(&s->state, memory_order_relaxed) != SLOT_INFLIGHT)
			continue;
		t = atomic_load_explicit(&s->submit_ns, memory_order_relaxed);
		if (t < now && now - t > oldest) {
			oldest = now - t;
			*cid = atomic_load_explicit(&s->wire_cid, memory_order_relaxed);
			*opc = atomic_load_explicit(&s->sent_opc, memory_order_relaxed);
		}
	}
	return oldest;
}

/* ------------------------------------------------------------------ */
/* Waiting                                                             */
/* ------------------------------------------------------------------ */

void sync_wait_init(struct sync_wait *w)
{
	nvmf_mutex_init(&w->lock);
	pthread_cond_init(&w->cond, NULL);
	w->done = false;
}

void sync_cb(void *arg, const struct nvmf_cpl *cpl)
{
	struct sync_wait *w = arg;

	nvmf_mutex_lock(&w->lock);
	w->cpl = *cpl;
	w->done = true;
	pthread_cond_signal(&w->cond);
	nvmf_mutex_unlock(&w->lock);
}

void sync_wait_for(struct sync_wait *w)
{
	nvmf_mutex_lock(&w->lock);
	while (!w->done)
		pthread_cond_wait(&w->cond, &w->lock);
	nvmf_mutex_unlock(&w->lock);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

int nvmf_ioq_poll(struct nvmf_ctrl *ctrl, unsigned ioq, struct nvmf_event *ev, unsigned max,
		  int timeout_ms)
{
	struct host_queue *q = ctrl_queue(ctrl, ioq);
	struct timespec deadline;
	unsigned n = 0;

	if (q == NULL || max == 0)
		return -EINVAL;
	if (timeout_ms > 0)
		deadline = nvmf_deadline_ms((uint64_t)timeout_ms);
	nvmf_mutex_lock(&q->lock);
	while (q->reap_head == NULL && timeout_ms != 0) {
		int rc;

		q->waiters++;
		if (timeout_ms < 0)
			rc = pthread_cond_wait(&q->cond, &q->lock);
		else
			rc = pthread_cond_timedwait(&q->cond, &q->lock, &deadline);
		q->waiters--;
		if (rc == ETIMEDOUT)
			break;
	}
	while (n < max && q->reap_head != NULL) {
		struct host_slot *s = q->reap_head;

		q->reap_head = s->next;
		if (q->reap_head == NULL)
			q->reap_tail = &q->reap_head;
		q->nreap--;
		ev[n].arg = s->arg;
		ev[n].cpl = s->cpl;
		slot_put_locked(q, s, SLOT_REAP);
		n++;
	}
	nvmf_mutex_unlock(&q->lock);
	return (int)n;
}

int nvmf_ctrl_wait_idle(struct nvmf_ctrl *ctrl, int timeout_ms)
{
	struct timespec deadline;

	if (timeout_ms > 0)
		deadline = nvmf_deadline_ms((uint64_t)timeout_ms);
	for (unsigned i = 0; i <= ctrl->nr_io_queues; i++) {
		struct host_queue *q = i == 0 ? &ctrl->admin : &ctrl->ioqs[i - 1];
		int rc = 0;

		nvmf_mutex_lock(&q->lock);
		while (q->busy - q->nreap != 0 && rc != ETIMEDOUT) {
			if (timeout_ms == 0) {
				rc = ETIMEDOUT;
				break;
			}
			q->waiters++;
			if (timeout_ms < 0)
				rc = pthread_cond_wait(&q->cond, &q->lock);
			else
				rc = pthread_cond_timedwait(&q->cond, &q->lock, &deadline);
			q->waiters--;
		}
		nvmf_mutex_unlock(&q->lock);
		if (rc == ETIMEDOUT)
			return -ETIMEDOUT;
	}
	return 0;
}
