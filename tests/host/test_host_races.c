/* SPDX-License-Identifier: MIT */
/*
 * Races in the host's queues, put in the losing order with test points
 * (src/util/testpoint.h) instead of waited for, against nvmfd on loopback:
 *
 *   held_on_live: a submitter finds its queue down and parks its command
 *     just as recovery brings the queue back up; the command must still be
 *     sent (it used to sit on the held list of a live queue, never sent and
 *     never timed out).
 *   failed_transmit: a transmission fails on a dead connection, and the
 *     worker reclaims the queue before the submitter has parked the
 *     command; it must complete once (it used to be taken by both: resent
 *     twice from a corrupted held list, or completed twice).
 *   no_engine: the default engine's threads cannot start; connecting
 *     fails with the reason (the library used to abort the process).
 *
 * Test points exist only in Debug builds (the ASan build of the suite);
 * elsewhere the test says so and skips.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/host_internal.h"
#include "host/nvmfd_proc.h"
#include "nvmf/host.h"
#include "nvmf/log.h"
#include "util/test_util.h"
#include "util/testpoint.h"

#ifndef NVMF_DEBUG_CHECKS
int main(void)
{
	printf("skipped: test points are compiled into Debug builds only (run it in build-asan)\n");
	return 77;
}
#else

#define NQN "nqn.2024-01.io.example:host-races"
#define WAIT_MS 20000
#define BS 4096

/* What the hook does, and what it has seen (lock). */
static pthread_mutex_t tp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tp_cond = PTHREAD_COND_INITIALIZER;
static struct {
	struct host_queue *target;     /* the I/O queue the scenario is about */
	bool arm_hold;                 /* block the next hold on target ... */
	bool wait_reclaim;             /* ... until it is reclaimed (else until it goes live) */
	bool arm_recover;              /* block recovery until the submitter has failed */
	bool live_seen, reclaim_seen, hold_reached, recover_reached, submit_now;
	bool fail_engine;              /* the default engine's threads cannot start */
} tp;

/* Wait (tp_lock held) until *flag, or with flag NULL until the target queue
 * has died; at most WAIT_MS.  False on timeout. */
static bool tp_wait(bool *flag)
{
	uint64_t end = test_now_us() + (uint64_t)WAIT_MS * 1000;

	while (flag != NULL ? !*flag : !atomic_load(&tp.target->dead)) {
		struct timespec ts;

		if (test_now_us() >= end)
			return false;
		/* Short waits: a queue's death is seen by polling. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&tp_cond, &tp_lock, &ts);
	}
	return true;
}

static void tp_set(bool *flag)
{
	*flag = true;
	pthread_cond_broadcast(&tp_cond);
}

static int hook(const char *name, void *arg)
{
	pthread_mutex_lock(&tp_lock);
	if (strcmp(name, "transport.engine_default.create") == 0 && tp.fail_engine) {
		pthread_mutex_unlock(&tp_lock);
		return EAGAIN;
	}
	if (strcmp(name, "host.queue_go_live.live") == 0 && arg == tp.target) {
		tp_set(&tp.live_seen);
	} else if (strcmp(name, "host.queue_reclaim.done") == 0 && arg == tp.target) {
		tp_set(&tp.reclaim_seen);
	} else if (strcmp(name, "host.slot_send.hold") == 0 && tp.arm_hold &&
		   ((struct host_slot *)arg)->q == tp.target) {
		tp.arm_hold = false;
		tp_set(&tp.hold_reached);
		if (!tp_wait(tp.wait_reclaim ? &tp.reclaim_seen : &tp.live_seen))
			fprintf(stderr, "hook: the %s never came\n",
				tp.wait_reclaim ? "reclaim" : "queue going live");
	} else if (strcmp(name, "host.ctrl_recover.start") == 0 && tp.arm_recover) {
		/* The connection is dead but the queues are still live: let the
		 * submitter's transmission fail before recovery stops them. */
		tp.arm_recover = false;
		tp_set(&tp.recover_reached);
		if (!tp_wait(NULL))
			fprintf(stderr, "hook: the I/O queue never died\n");
		tp_set(&tp.submit_now);
		if (!tp_wait(&tp.hold_reached))
			fprintf(stderr, "hook: the submitter never failed its transmission\n");
	}
	pthread_mutex_unlock(&tp_lock);
	return 0;
}

/* Aim the hook at c's I/O queue, with what is armed. */
static void arm(struct nvmf_ctrl *c, bool hold, bool wait_reclaim, bool recover)
{
	pthread_mutex_lock(&tp_lock);
	tp.target = ctrl_queue(c, 1);
	tp.arm_hold = hold;
	tp.wait_reclaim = wait_reclaim;
	tp.arm_recover = recover;
	tp.live_seen = tp.reclaim_seen = tp.hold_reached = false;
	tp.recover_reached = tp.submit_now = false;
	pthread_mutex_unlock(&tp_lock);
}

static bool tp_reached(bool *flag)
{
	bool ok;

	pthread_mutex_lock(&tp_lock);
	ok = tp_wait(flag);
	pthread_mutex_unlock(&tp_lock);
	return ok;
}

/* Whether the hook has set flag; the worker may set it again meanwhile. */
static bool tp_seen(const bool *flag)
{
	bool seen;

	pthread_mutex_lock(&tp_lock);
	seen = *flag;
	pthread_mutex_unlock(&tp_lock);
	return seen;
}

/* One write, submitted from its own thread; its completions counted. */
struct submit {
	struct nvmf_ns *ns;
	uint64_t lba;
	uint8_t *buf;
	bool wait;                     /* for the recovery hook's go */
	_Atomic unsigned done, failed;
	int rc;
};

static void count_cb(void *arg, const struct nvmf_cpl *cpl)
{
	struct submit *s = arg;

	if (!nvmf_cpl_ok(cpl))
		atomic_fetch_add(&s->failed, 1);
	atomic_fetch_add(&s->done, 1);
}

static void *submitter(void *arg)
{
	struct submit *s = arg;

	if (s->wait && !tp_reached(&tp.submit_now))
		fprintf(stderr, "submitter: recovery never started\n");
	s->rc = nvmf_ns_write(s->ns, 1, s->lba, 1, s->buf, 0, count_cb, s);
	return NULL;
}

static bool wait_done(struct submit *s)
{
	for (uint64_t end = test_now_us() + (uint64_t)WAIT_MS * 1000; test_now_us() < end;
	     usleep(1000))
		if (atomic_load(&s->done) >= 1)
			return true;
	return false;
}

static bool wait_state(struct nvmf_ctrl *c, enum nvmf_ctrl_state want)
{
	for (uint64_t end = test_now_us() + (uint64_t)WAIT_MS * 1000; test_now_us() < end;
	     usleep(1000))
		if (nvmf_ctrl_state(c) == want)
			return true;
	return false;
}

static struct nvmf_host_opts opts_for(const struct nvmfd_proc *d);

static struct nvmf_ctrl *connect_to(const struct nvmfd_proc *d)
{
	struct nvmf_host_opts o = opts_for(d);
	struct nvmf_error err;
	struct nvmf_ctrl *c;

	c = nvmf_connect(&o, &err);
	if (c == NULL)
		fprintf(stderr, "connect: %s\n", err.msg);
	REQUIRE(c != NULL);
	return c;
}

/* The write completed exactly once, successfully, and reads back. */
static void check_once(struct submit *s, uint32_t seed)
{
	uint8_t *buf = malloc(BS);

	REQUIRE(buf != NULL);
	CHECK_EQ(s->rc, 0);
	CHECK(wait_done(s));
	CHECK_EQ(atomic_load(&s->failed), 0);
	CHECK_EQ(nvmf_ns_read_sync(s->ns, s->lba * BS, buf, BS), 0);
	CHECK(test_verify(buf, BS, seed));
	/* Not again from a resend, not a second completion. */
	CHECK_EQ(atomic_load(&s->done), 1);
	free(buf);
}

static struct nvmf_host_opts opts_for(const struct nvmfd_proc *d)
{
	struct nvmf_host_opts o;

	nvmf_host_opts_init(&o);
	o.traddr = "127.0.0.1";
	o.trsvcid = d->port_text;
	o.subnqn = NQN;
	o.nr_io_queues = 1;
	o.reconnect_delay_s = 1;
	o.ctrl_loss_tmo_s = 60;
	return o;
}

/* Runs first: the default engine is made on the first connect. */
static void test_no_engine(struct nvmfd_proc *d)
{
	struct nvmf_host_opts o = opts_for(d);
	struct nvmf_error err;
	struct nvmf_ctrl *c;

	test_begin("no threads for the default engine: connect fails, the process lives");
	pthread_mutex_lock(&tp_lock);
	tp.fail_engine = true;
	pthread_mutex_unlock(&tp_lock);
	c = nvmf_connect(&o, &err);
	CHECK(c == NULL);
	if (c == NULL)
		fprintf(stderr, "connect: %s\n", err.msg);
	CHECK_EQ(err.errnum, EAGAIN);
	pthread_mutex_lock(&tp_lock);
	tp.fail_engine = false;
	pthread_mutex_unlock(&tp_lock);
	/* Tried again, and started, on the next connect. */
	c = connect_to(d);
	CHECK_EQ(nvmf_disconnect(c), 0);
	test_end();
}

static void test_held_on_live(struct nvmfd_proc *d)
{
	struct submit s = {.lba = 100, .buf = malloc(BS)};
	struct nvmf_ctrl *c;
	pthread_t t;

	test_begin("a command parked as its queue goes live is still sent");
	REQUIRE(s.buf != NULL);
	test_fill(s.buf, BS, 11);
	c = connect_to(d);
	s.ns = nvmf_ctrl_ns(c, 1);
	REQUIRE(s.ns != NULL);
	nvmfd_stop(d, false);
	REQUIRE(wait_state(c, NVMF_CTRL_RECONNECTING));
	/* The submitter finds the queue down and stops at the test point
	 * until recovery has made the queue live; then it parks the command. */
	arm(c, true, false, false);
	REQUIRE(pthread_create(&t, NULL, submitter, &s) == 0);
	CHECK(tp_reached(&tp.hold_reached));
	REQUIRE(nvmfd_restart(d));
	pthread_join(t, NULL);
	CHECK(tp_seen(&tp.live_seen));
	check_once(&s, 11);
	CHECK_EQ(nvmf_disconnect(c), 0);
	free(s.buf);
	test_end();
}

static void test_failed_transmit(struct nvmfd_proc *d)
{
	struct submit s = {.lba = 200, .buf = malloc(BS), .wait = true};
	struct nvmf_ctrl *c;
	pthread_t t;

	test_begin("a transmission failing as the queue is reclaimed completes once");
	REQUIRE(s.buf != NULL);
	test_fill(s.buf, BS, 22);
	c = connect_to(d);
	s.ns = nvmf_ctrl_ns(c, 1);
	REQUIRE(s.ns != NULL);
	/* Recovery waits at its test point for the submitter, whose write
	 * fails on the dead connection and stops before it is parked until
	 * recovery has reclaimed the queue. */
	arm(c, true, true, true);
	REQUIRE(pthread_create(&t, NULL, submitter, &s) == 0);
	nvmfd_stop(d, false);
	pthread_join(t, NULL);
	CHECK(tp_seen(&tp.recover_reached) && tp_seen(&tp.hold_reached) &&
	      tp_seen(&tp.reclaim_seen));
	REQUIRE(wait_state(c, NVMF_CTRL_RECONNECTING));
	REQUIRE(nvmfd_restart(d));
	CHECK(wait_state(c, NVMF_CTRL_LIVE));
	check_once(&s, 22);
	CHECK_EQ(nvmf_disconnect(c), 0);
	free(s.buf);
	test_end();
}

int main(void)
{
	const char *extra[] = {"ramdisk:64M,bs=4096", NULL};
	struct nvmfd_proc d;

	signal(SIGPIPE, SIG_IGN);
	nvmf_log_set_level(NVMF_LOG_ERR);
	__atomic_store_n(&nvmf_testpoint_hook, hook, __ATOMIC_RELEASE);
	REQUIRE(nvmfd_start(&d, NQN, extra));
	test_no_engine(&d);
	test_held_on_live(&d);
	test_failed_transmit(&d);
	nvmfd_stop(&d, true);
	return test_summary();
}
#endif
