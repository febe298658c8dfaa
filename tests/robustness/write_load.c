/* SPDX-License-Identifier: MIT */
#include "robustness/write_load.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/test_util.h"

enum slot_state {
	SLOT_UNUSED,
	SLOT_INFLIGHT,            /* submitted, no answer (the kill came) */
	SLOT_FAILED,              /* answered with an error */
	SLOT_ACKED,               /* acknowledged, not known durable */
	SLOT_DURABLE,             /* acknowledged FUA, or covered by a completed Flush */
};

struct slot {
	enum slot_state state;
	bool fua;
	uint64_t ack_us;          /* when the test saw the acknowledgement */
	uint32_t seed;
};

static struct slot slots[WL_MAX_SLOTS];
static unsigned next_slot;

static uint64_t slot_lba(unsigned i)
{
	return (uint64_t)i * (WL_SLOT_BYTES / WL_BS);
}

uint32_t wl_rng(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

void wl_reset(void)
{
	memset(slots, 0, sizeof(slots));
	next_slot = 0;
}

unsigned wl_submitted(void)
{
	return next_slot;
}

void wl_alloc(struct wl_inflight *fl)
{
	for (int i = 0; i < WL_WINDOW + 1; i++)
		REQUIRE((fl[i].buf = malloc(WL_SLOT_BYTES)) != NULL);
}

void wl_free(struct wl_inflight *fl)
{
	for (int i = 0; i < WL_WINDOW + 1; i++)
		free(fl[i].buf);
}

/* A Flush submitted at submit_us completed: earlier acknowledgements are durable. */
static void flush_done(uint64_t submit_us)
{
	for (unsigned i = 0; i < next_slot; i++)
		if (slots[i].state == SLOT_ACKED && slots[i].ack_us < submit_us)
			slots[i].state = SLOT_DURABLE;
}

static void finish(struct wl_inflight *f, int status)
{
	uint64_t now = test_now_us();

	if (f->slot == UINT32_MAX) {
		if (status == 0)
			flush_done(f->submit_us);
		return;
	}
	if (status < 0)
		return; /* stays in flight: the kill came first */
	slots[f->slot].state = status != 0   ? SLOT_FAILED
			       : slots[f->slot].fua ? SLOT_DURABLE
						    : SLOT_ACKED;
	slots[f->slot].ack_us = now;
}

static bool queue_dead(struct th_queue *io)
{
	return th_wait_closed(io, 0) == 0;
}

/*
 * Take fl[i]'s answer if it came within timeout_ms (or the queue died):
 * record it, drop the entry keeping submission order.  False if still out.
 */
static bool reap(struct th_queue *io, struct wl_inflight *fl, unsigned *n, unsigned i,
		 int timeout_ms, unsigned *acked)
{
	int st = th_wait(io, fl[i].cid, NULL, timeout_ms);
	uint8_t *buf = fl[i].buf;

	if (st < 0 && !queue_dead(io))
		return false;
	finish(&fl[i], st);
	*acked += st == 0 && fl[i].slot != UINT32_MAX;
	memmove(&fl[i], &fl[i + 1], (*n - i - 1) * sizeof(fl[0]));
	fl[--*n].buf = buf;
	return true;
}

/* Submit the next slot's write (and a Flush when one is due); false if the queue refused. */
static bool submit(struct th_queue *io, struct wl_inflight *fl, unsigned *n, uint32_t round,
		   const struct wl_mix *mix, unsigned *since_flush)
{
	struct wl_inflight *f = &fl[*n];
	unsigned s = next_slot++;
	struct nvme_sqe w = {.opc = NVME_IO_WRITE, .nsid = 1,
			     .cdw10 = (uint32_t)slot_lba(s),
			     .cdw11 = (uint32_t)(slot_lba(s) >> 32),
			     .cdw12 = WL_SLOT_BYTES / WL_BS - 1};

	slots[s] = (struct slot){.state = SLOT_INFLIGHT,
				 .fua = mix->fua_every != 0 && s % mix->fua_every == 0,
				 .seed = round << 20 | s};
	if (slots[s].fua)
		w.cdw12 |= NVME_RW_FUA;
	test_fill(f->buf, WL_SLOT_BYTES, slots[s].seed);
	f->slot = s;
	f->submit_us = test_now_us();
	f->cid = th_submit(io, &w, f->buf, WL_SLOT_BYTES, true);
	if (f->cid < 0)
		return false; /* stays in flight: never answered */
	++*n;
	if (mix->flush_every != 0 && ++*since_flush == mix->flush_every) {
		struct nvme_sqe flush = {.opc = NVME_IO_FLUSH, .nsid = 1};
		struct wl_inflight *ff = &fl[*n];

		*since_flush = 0;
		ff->slot = UINT32_MAX;
		ff->submit_us = test_now_us();
		ff->cid = th_submit(io, &flush, NULL, 0, false);
		if (ff->cid >= 0)
			++*n;
	}
	return true;
}

unsigned wl_load(struct th_queue *io, struct wl_inflight *fl, uint32_t round,
		 const struct wl_mix *mix)
{
	unsigned n = 0, acked = 0, since_flush = 0;

	for (;;) {
		bool dead = queue_dead(io), progress = false;

		if (dead && n == 0)
			break;
		/* Keep the window full while the queue lives. */
		while (!dead && n < WL_WINDOW && next_slot < WL_MAX_SLOTS)
			if (!submit(io, fl, &n, round, mix, &since_flush))
				break;
		/* Reap what has completed; otherwise wait a little for the oldest. */
		for (unsigned i = 0; i < n;)
			if (reap(io, fl, &n, i, 0, &acked))
				progress = true;
			else
				i++;
		if (!progress && n > 0)
			reap(io, fl, &n, 0, 2, &acked);
		if (next_slot >= WL_MAX_SLOTS && n == 0)
			break;
	}
	return acked;
}

/* Check one slot's read-back against what the host knows; adds to r. */
static void check_slot(unsigned i, const uint8_t *got, uint8_t *want, struct wl_report *r)
{
	static const uint8_t zero[WL_BS];
	const struct slot *s = &slots[i];
	bool whole;

	test_fill(want, WL_SLOT_BYTES, s->seed);
	whole = memcmp(got, want, WL_SLOT_BYTES) == 0;
	if (s->state == SLOT_DURABLE && !whole) {
		fprintf(stderr, "LOST: slot %u (%s write, acknowledged) does not read back\n", i,
			s->fua ? "FUA" : "flushed");
		r->problems++;
		return;
	}
	r->acked_landed += s->state == SLOT_ACKED && whole;
	r->inflight_landed += s->state == SLOT_INFLIGHT && whole;
	/* Every block: zeroes, or this slot's own data. */
	for (unsigned b = 0; b < WL_SLOT_BYTES / WL_BS; b++) {
		bool is_zero = memcmp(got + b * WL_BS, zero, WL_BS) == 0;
		bool is_own = s->state != SLOT_UNUSED &&
			      memcmp(got + b * WL_BS, want + b * WL_BS, WL_BS) == 0;

		if (!is_zero && !is_own) {
			fprintf(stderr, "CORRUPT: slot %u block %u holds foreign data\n", i, b);
			r->problems++;
		}
	}
}

void wl_verify(uint16_t port, const char *nqn, unsigned round, struct wl_report *out)
{
	struct th_queue a, io;
	struct th_opts deep = {.qsize = 64};
	uint8_t *got = malloc(WL_SLOT_BYTES), *want = malloc(WL_SLOT_BYTES);
	unsigned count[SLOT_DURABLE + 1] = {0};
	unsigned end = next_slot + 64 < WL_MAX_SLOTS ? next_slot + 64 : WL_MAX_SLOTS;
	struct wl_report r = {0};

	REQUIRE(got != NULL && want != NULL);
	REQUIRE(th_connect_admin(&a, port, nqn, NULL) == 0);
	REQUIRE(th_connect_io(&io, port, nqn, 1, a.cntlid, &deep) == 0);
	for (unsigned i = 0; i < end; i++) {
		count[slots[i].state]++;
		if (th_rw(&io, NVME_IO_READ, 1, slot_lba(i), WL_SLOT_BYTES / WL_BS, got,
			  WL_SLOT_BYTES, 0) != 0) {
			fprintf(stderr, "slot %u: read failed\n", i);
			r.problems++;
			continue;
		}
		check_slot(i, got, want, &r);
	}
	r.durable = count[SLOT_DURABLE];
	r.acked = count[SLOT_ACKED];
	r.inflight = count[SLOT_INFLIGHT];
	r.failed = count[SLOT_FAILED];
	r.unused = count[SLOT_UNUSED];
	fprintf(stderr, "round %u after restart: %u durable writes (FUA or flushed) all read back; "
		"%u acknowledged but not flushed (%u of them read back); %u in flight at the kill "
		"(%u landed); %u failed; %u slots never written read as zeroes; %u problems\n",
		round, r.durable, r.acked, r.acked_landed, r.inflight, r.inflight_landed, r.failed,
		r.unused, r.problems);
	CHECK_EQ(r.problems, 0);
	CHECK_EQ(r.failed, 0);
	th_close(&io);
	th_close(&a);
	free(got);
	free(want);
	if (out != NULL)
		*out = r;
}

static void *kill_thread(void *arg)
{
	struct wl_killer *k = arg;

	usleep(k->delay_ms * 1000u);
	kill(k->pid, SIGKILL);
	return NULL;
}

void wl_kill_later(struct wl_killer *k)
{
	REQUIRE(pthread_create(&k->thread, NULL, kill_thread, k) == 0);
}

void wl_kill_join(struct wl_killer *k)
{
	pthread_join(k->thread, NULL);
}
