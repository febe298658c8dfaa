/* SPDX-License-Identifier: MIT */
/*
 * kill -9 of nvmfd under a write load on a file backend, then a restart on
 * the same file: every write acknowledged before a Flush that completed,
 * and every acknowledged FUA write, must read back exactly.
 *
 * Each write goes to its own 8 KiB slot (never rewritten) with data derived
 * from its number, so the file says which writes landed.  The test records
 * when it saw each acknowledgement and when it submitted each Flush: a write
 * is covered by a Flush submitted after its acknowledgement was seen.  The
 * kill comes at a random point (the seed is printed; NVMF_SEED repeats it).
 * Writes in flight at the kill may have landed or not, block by block, but
 * nothing else may appear: every 4 KiB block reads as zeroes or as its own
 * write's data, and slots never written read as zeroes.
 *
 *   robustness_kill9 [ROUNDS]   (3 by default)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/host_helper.h"
#include "nvmf/log.h"
#include "robustness/daemon.h"
#include "util/test_util.h"

#define NQN DAEMON_NQN
#define BS 4096
#define SLOT_BYTES 8192
#define SLOT_BLOCKS (SLOT_BYTES / BS)
#define FILE_MB 1024
#define MAX_SLOTS ((FILE_MB << 20) / SLOT_BYTES)
#define WINDOW 48                 /* writes outstanding at once */
#define FLUSH_EVERY 40            /* a Flush after this many writes */
#define FUA_EVERY 7               /* every 7th write is FUA */
#define KILL_MIN_MS 300
#define KILL_SPAN_MS 1500

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

static struct slot slots[MAX_SLOTS];
static unsigned next_slot;
static struct daemon d;

static uint64_t slot_lba(unsigned i)
{
	return (uint64_t)i * SLOT_BLOCKS;
}

struct inflight {
	int cid;
	unsigned slot;            /* or UINT32_MAX for a Flush */
	uint64_t submit_us;
	uint8_t *buf;
};

static uint32_t rng_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A Flush submitted at submit_us completed: earlier acknowledgements are durable. */
static void flush_done(uint64_t submit_us)
{
	for (unsigned i = 0; i < next_slot; i++)
		if (slots[i].state == SLOT_ACKED && slots[i].ack_us < submit_us)
			slots[i].state = SLOT_DURABLE;
}

static void finish(struct inflight *f, int status)
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
static bool reap(struct th_queue *io, struct inflight *fl, unsigned *n, unsigned i,
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

/*
 * Writes and Flushes until the queue dies; returns how many writes were
 * acknowledged.  The buffers of writes the kill left unanswered are still
 * the transport's: the caller frees fl[].buf after th_close.
 */
static unsigned load(struct th_queue *io, struct inflight *fl, uint32_t round)
{
	unsigned n = 0, acked = 0, since_flush = 0;

	for (;;) {
		bool dead = queue_dead(io), progress = false;

		if (dead && n == 0)
			break;
		/* Keep the window full while the queue lives. */
		while (!dead && n < WINDOW && next_slot < MAX_SLOTS) {
			struct inflight *f = &fl[n];
			unsigned s = next_slot++;
			struct nvme_sqe w = {.opc = NVME_IO_WRITE, .nsid = 1,
					     .cdw10 = (uint32_t)slot_lba(s),
					     .cdw11 = (uint32_t)(slot_lba(s) >> 32),
					     .cdw12 = SLOT_BLOCKS - 1};

			slots[s] = (struct slot){.state = SLOT_INFLIGHT, .fua = s % FUA_EVERY == 0,
						 .seed = round << 20 | s};
			if (slots[s].fua)
				w.cdw12 |= NVME_RW_FUA;
			test_fill(f->buf, SLOT_BYTES, slots[s].seed);
			f->slot = s;
			f->submit_us = test_now_us();
			f->cid = th_submit(io, &w, f->buf, SLOT_BYTES, true);
			if (f->cid < 0)
				break; /* stays in flight: never answered */
			n++;
			if (++since_flush == FLUSH_EVERY) {
				struct nvme_sqe flush = {.opc = NVME_IO_FLUSH, .nsid = 1};
				struct inflight *ff = &fl[n];

				since_flush = 0;
				ff->slot = UINT32_MAX;
				ff->submit_us = test_now_us();
				ff->cid = th_submit(io, &flush, NULL, 0, false);
				if (ff->cid >= 0)
					n++;
			}
		}
		/* Reap what has completed; otherwise wait a little for the oldest. */
		for (unsigned i = 0; i < n;)
			if (reap(io, fl, &n, i, 0, &acked))
				progress = true;
			else
				i++;
		if (!progress && n > 0)
			reap(io, fl, &n, 0, 2, &acked);
		if (next_slot >= MAX_SLOTS && n == 0)
			break;
	}
	return acked;
}

struct killer {
	pid_t pid;
	unsigned delay_ms;
};

static void *kill_later(void *arg)
{
	struct killer *k = arg;

	usleep(k->delay_ms * 1000u);
	kill(k->pid, SIGKILL);
	return NULL;
}

/* Read every slot used so far and hold it against what the test knows. */
static void verify(unsigned round)
{
	struct th_queue a, io;
	struct th_opts deep = {.qsize = 64};
	uint8_t *got = malloc(SLOT_BYTES), *want = malloc(SLOT_BYTES), zero[BS] = {0};
	unsigned count[SLOT_DURABLE + 1] = {0}, landed_acked = 0, landed_inflight = 0, bad = 0;
	unsigned end = next_slot + 64 < MAX_SLOTS ? next_slot + 64 : MAX_SLOTS;

	REQUIRE(got != NULL && want != NULL);
	REQUIRE(th_connect_admin(&a, d.port, NQN, NULL) == 0);
	REQUIRE(th_connect_io(&io, d.port, NQN, 1, a.cntlid, &deep) == 0);
	for (unsigned i = 0; i < end; i++) {
		const struct slot *s = &slots[i];

		count[s->state]++;
		if (th_rw(&io, NVME_IO_READ, 1, slot_lba(i), SLOT_BLOCKS, got, SLOT_BYTES, 0) != 0) {
			fprintf(stderr, "slot %u: read failed\n", i);
			bad++;
			continue;
		}
		test_fill(want, SLOT_BYTES, s->seed);
		if (s->state == SLOT_DURABLE && memcmp(got, want, SLOT_BYTES) != 0) {
			fprintf(stderr, "LOST: slot %u (%s write, acknowledged) does not read back\n", i,
				s->fua ? "FUA" : "flushed");
			bad++;
			continue;
		}
		landed_acked += s->state == SLOT_ACKED && memcmp(got, want, SLOT_BYTES) == 0;
		landed_inflight += s->state == SLOT_INFLIGHT && memcmp(got, want, SLOT_BYTES) == 0;
		/* Every block: zeroes, or this slot's own data. */
		for (unsigned b = 0; b < SLOT_BLOCKS; b++) {
			bool is_zero = memcmp(got + b * BS, zero, BS) == 0;
			bool is_own = s->state != SLOT_UNUSED &&
				      memcmp(got + b * BS, want + b * BS, BS) == 0;

			if (!is_zero && !is_own) {
				fprintf(stderr, "CORRUPT: slot %u block %u holds foreign data\n", i, b);
				bad++;
			}
		}
	}
	fprintf(stderr, "round %u after restart: %u durable writes (FUA or flushed) all read back; "
		"%u acknowledged but not flushed (%u of them read back); %u in flight at the kill "
		"(%u landed); %u failed; %u slots never written read as zeroes; %u problems\n",
		round, count[SLOT_DURABLE], count[SLOT_ACKED], landed_acked, count[SLOT_INFLIGHT],
		landed_inflight, count[SLOT_FAILED], count[SLOT_UNUSED], bad);
	CHECK_EQ(bad, 0);
	CHECK_EQ(count[SLOT_FAILED], 0);
	th_close(&io);
	th_close(&a);
	free(got);
	free(want);
}

static const char *other_engine(const char *engine)
{
	return strcmp(engine, "threads") == 0 ? "epoll" : "threads";
}

int main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 3;
	const char *env = getenv("NVMF_SEED");
	uint32_t seed = env != NULL ? (uint32_t)strtoul(env, NULL, 0) : (uint32_t)test_now_us();
	uint32_t rng = seed | 1;
	char file[512], backing[600];
	const char *extra[] = {"--engine", "threads", backing, NULL};

	signal(SIGPIPE, SIG_IGN);
	nvmf_log_set_level(NVMF_LOG_ERR);
	fprintf(stderr, "seed %#x (NVMF_SEED=%#x repeats the kill points)\n", seed, seed);
	for (unsigned round = 1; round <= rounds; round++) {
		struct th_queue a, io;
		struct th_opts deep = {.qsize = 64};
		struct inflight fl[WINDOW + 1];
		struct killer k = {.delay_ms = KILL_MIN_MS + rng_next(&rng) % KILL_SPAN_MS};
		unsigned acked;
		pthread_t killer;
		int status;

		test_begin("kill -9 under a write load, restart, read back");
		/* A fresh file per round; the engines take turns loading and reading. */
		snprintf(file, sizeof(file), "%s/kill9-%u.img", rob_dir(), round);
		snprintf(backing, sizeof(backing), "%s,size=%dM,bs=%d", file, FILE_MB, BS);
		extra[1] = round % 2 ? "threads" : "epoll";
		memset(slots, 0, sizeof(slots));
		next_slot = 0;
		REQUIRE(daemon_start(&d, extra));
		k.pid = d.pid;
		REQUIRE(th_connect_admin(&a, d.port, NQN, NULL) == 0);
		REQUIRE(th_connect_io(&io, d.port, NQN, 1, a.cntlid, &deep) == 0);
		REQUIRE(pthread_create(&killer, NULL, kill_later, &k) == 0);
		for (int i = 0; i < WINDOW + 1; i++)
			REQUIRE((fl[i].buf = malloc(SLOT_BYTES)) != NULL);
		acked = load(&io, fl, round);
		pthread_join(killer, NULL);
		status = daemon_stop(&d, SIGKILL, 10000);
		fprintf(stderr, "round %u (%s engine): killed after %u ms with %u writes submitted, %u acknowledged\n",
			round, extra[1], k.delay_ms, next_slot, acked);
		CHECK_EQ(status, 128 + SIGKILL);
		CHECK(next_slot < MAX_SLOTS); /* the kill came during the load */
		th_close(&io);
		th_close(&a);
		for (int i = 0; i < WINDOW + 1; i++)
			free(fl[i].buf);
		d.argv[d.argc - 2] = (char *)other_engine(extra[1]);
		REQUIRE(daemon_restart(&d));
		verify(round);
		status = daemon_stop(&d, SIGTERM, 30000);
		fprintf(stderr, "nvmfd (%s engine) exited with %d\n", d.argv[d.argc - 2], status);
		CHECK_EQ(status, 0);
		unlink(file);
		test_end();
	}
	return test_summary();
}
