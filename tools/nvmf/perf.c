/* SPDX-License-Identifier: MIT */
/*
 * nvmf perf: load generation with fio's option names.
 *
 * Like fio's async engines, each of the iodepth "jobs" per queue keeps one
 * I/O in flight: its completion callback, which runs on the transport's
 * thread, records the latency and submits the job's next I/O at once.  The
 * main thread only starts the jobs, prints progress and sums up.  Each job
 * owns its buffer, random state and latency histograms, so the I/O path
 * shares nothing between jobs and allocates nothing.
 *
 * --json-log FILE: JSON lines, one "sample" per second of the timed run
 * (IOPS, MiB/s, latency of that second), then the run's "histogram",
 * then the "result" (what -o json prints, with "totals": every command
 * sent in any phase, to compare with the target's counters).  The main
 * thread reads the jobs' counters while they run: each has one writer
 * (the job's completion), so relaxed loads and stores, no atomic adds.
 *
 * --verify: every block written carries a header (block, generation) and a
 * pattern derived from both; a block being read or written is claimed, so
 * its expected generation is known.  Reads in the timed run check what they
 * get; the region is written first when the workload reads, and read back
 * and checked in full at the end.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nvmf.h"
#include "util/clock.h"

#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_MSB 40 /* latencies up to ~18 minutes, in ns */
#define HIST_BUCKETS ((HIST_MAX_MSB - HIST_SUB_BITS + 2) * HIST_SUB)
#define VERIFY_DEFAULT_SIZE (256ull << 20)
#define VERIFY_MAGIC 0x6e766d66u /* "nvmf" */
#define GEN_NONE 0u              /* never written by this run: not checked */
#define GEN_UNKNOWN 0x7fffffffu  /* a write failed: content unknown */
#define BLOCK_BUSY 0x80000000u
#define CLAIM_TRIES 64

enum rw_mode { RW_READ, RW_WRITE, RW_RANDREAD, RW_RANDWRITE, RW_RANDRW };
enum phase { PHASE_PREFILL, PHASE_RUN, PHASE_CHECK };
enum dir { DIR_READ, DIR_WRITE };

struct hist {
	_Atomic uint32_t count[HIST_BUCKETS];
};

/* The timed run's successful I/Os of one direction. */
struct dir_stats {
	_Atomic uint64_t ios;
	_Atomic uint64_t lat_sum_ns;
	struct hist hist;
};

/* Every completion of one direction, any phase (--json-log totals). */
struct dir_totals {
	_Atomic uint64_t ios, bytes, errors;
};

struct perf;

struct job {
	struct perf *p;
	unsigned ioq;
	uint8_t *buf;
	uint64_t rng;
	uint64_t block;
	uint32_t gen;
	bool is_read;
	bool claimed;
	uint64_t start_ns;
	struct dir_stats stats[2];
	struct dir_totals totals[2];
};

struct block_header {
	uint32_t magic;
	uint32_t gen;
	uint64_t block;
};

struct perf {
	struct cli *cli;
	struct nvmf_mpath *mp;         /* several paths; NULL: one */
	struct nvmf_ctrl *ctrl;        /* with mp: the first connected path */
	struct nvmf_ns *ns;
	enum rw_mode mode;
	unsigned rwmixread;
	uint32_t bs;
	uint32_t nlb;
	uint64_t base_lba;
	uint64_t nblocks;
	unsigned nqueues;
	unsigned iodepth;
	struct job *jobs;
	unsigned njobs;
	enum phase phase;
	_Atomic bool stop;
	_Atomic uint64_t cursor;
	_Atomic uint32_t *blocks;
	_Atomic uint64_t errors;
	_Atomic uint64_t verify_checked;
	_Atomic uint64_t verify_errors;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned running;
	char first_error[256];
	FILE *json_log;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Counters with one writer: no atomic read-modify-write. */
static void bump64(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static void bump32(_Atomic uint32_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static uint64_t next_rand(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* ------------------------------------------------------------------ */
/* Latency histograms: log-linear, ~3% resolution                      */
/* ------------------------------------------------------------------ */

static unsigned hist_index(uint64_t v)
{
	unsigned msb, idx;

	if (v < HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	if (msb > HIST_MAX_MSB)
		return HIST_BUCKETS - 1;
	idx = (msb - HIST_SUB_BITS + 1) * HIST_SUB +
	      (unsigned)((v >> (msb - HIST_SUB_BITS)) & (HIST_SUB - 1));
	return idx;
}

/* The middle of a bucket. */
static uint64_t hist_value(unsigned idx)
{
	unsigned msb = idx / HIST_SUB + HIST_SUB_BITS - 1, sub = idx % HIST_SUB;

	if (idx < HIST_SUB)
		return idx;
	return ((1ull << msb) | (uint64_t)sub << (msb - HIST_SUB_BITS)) +
	       (1ull << (msb - HIST_SUB_BITS)) / 2;
}

/* Merged counts: plain, owned by the reader. */
typedef uint64_t hist_sum[HIST_BUCKETS];

static uint64_t hist_percentile(const uint64_t *count, uint64_t total, double pct)
{
	uint64_t want = (uint64_t)(pct / 100.0 * (double)total + 0.5), seen = 0;

	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += count[i];
		if (seen >= want)
			return hist_value(i);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Verification patterns                                               */
/* ------------------------------------------------------------------ */

static void fill_pattern(uint8_t *buf, uint32_t len, uint64_t block, uint32_t gen)
{
	struct block_header h = {.magic = VERIFY_MAGIC, .gen = gen, .block = block};
	uint64_t s = (block * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)gen << 32 | gen) ^ 1;

	memcpy(buf, &h, sizeof(h));
	for (uint32_t off = sizeof(h); off + 8 <= len; off += 8) {
		uint64_t v = next_rand(&s);

		memcpy(buf + off, &v, 8);
	}
}

/* Check a block read back; describe a mismatch in p->first_error. */
static bool check_pattern(struct perf *p, struct job *j)
{
	struct block_header h;
	uint64_t s = (j->block * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)j->gen << 32 | j->gen) ^ 1;
	uint32_t off;
	char msg[256];

	memcpy(&h, j->buf, sizeof(h));
	if (h.magic == VERIFY_MAGIC && h.block == j->block && h.gen == j->gen) {
		for (off = sizeof(h); off + 8 <= p->bs; off += 8) {
			uint64_t v = next_rand(&s);

			if (memcmp(j->buf + off, &v, 8) != 0)
				break;
		}
		if (off + 8 > p->bs)
			return true;
		snprintf(msg, sizeof(msg), "verify: block %llu (offset %llu): data differs at byte %u",
			 (unsigned long long)j->block,
			 (unsigned long long)((p->base_lba + j->block * p->nlb) *
					      nvmf_ns_lba_size(p->ns)), off);
	} else if (h.magic != VERIFY_MAGIC) {
		snprintf(msg, sizeof(msg), "verify: block %llu: no pattern header (want generation %u)",
			 (unsigned long long)j->block, j->gen);
	} else {
		snprintf(msg, sizeof(msg), "verify: block %llu: found block %llu generation %u, "
			 "want generation %u", (unsigned long long)j->block,
			 (unsigned long long)h.block, h.gen, j->gen);
	}
	pthread_mutex_lock(&p->lock);
	if (p->first_error[0] == '\0')
		snprintf(p->first_error, sizeof(p->first_error), "%s", msg);
	pthread_mutex_unlock(&p->lock);
	return false;
}

/* Claim a block for this job; false if another job has it. */
static bool claim(struct perf *p, uint64_t block, uint32_t *gen)
{
	uint32_t cur = atomic_load(&p->blocks[block]);

	do {
		if (cur & BLOCK_BUSY)
			return false;
	} while (!atomic_compare_exchange_weak(&p->blocks[block], &cur, cur | BLOCK_BUSY));
	*gen = cur;
	return true;
}

/* ------------------------------------------------------------------ */
/* The I/O loop                                                        */
/* ------------------------------------------------------------------ */

static bool mode_reads(enum rw_mode m)
{
	return m == RW_READ || m == RW_RANDREAD || m == RW_RANDRW;
}

static bool mode_random(enum rw_mode m)
{
	return m == RW_RANDREAD || m == RW_RANDWRITE || m == RW_RANDRW;
}

/* Pick the job's next I/O; false when the phase has nothing more for it. */
static bool job_next(struct job *j)
{
	struct perf *p = j->p;
	uint32_t gen = GEN_NONE;

	if (atomic_load_explicit(&p->stop, memory_order_relaxed))
		return false;
	if (p->phase != PHASE_RUN) {
		j->block = atomic_fetch_add(&p->cursor, 1);
		if (j->block >= p->nblocks)
			return false;
		j->is_read = p->phase == PHASE_CHECK;
		j->claimed = claim(p, j->block, &gen);
	} else {
		if (p->mode == RW_RANDRW)
			j->is_read = next_rand(&j->rng) % 100 < p->rwmixread;
		else
			j->is_read = mode_reads(p->mode);
		for (int tries = 0; tries < CLAIM_TRIES; tries++) {
			j->block = mode_random(p->mode)
					   ? next_rand(&j->rng) % p->nblocks
					   : atomic_fetch_add(&p->cursor, 1) % p->nblocks;
			j->claimed = p->blocks == NULL || claim(p, j->block, &gen);
			if (j->claimed)
				break;
		}
		if (!j->claimed)
			return false;
	}
	if (p->blocks != NULL) {
		if (j->is_read) {
			j->gen = gen;
		} else {
			/* Generations run 1..GEN_UNKNOWN-1. */
			j->gen = gen == GEN_UNKNOWN ? 1 : gen % (GEN_UNKNOWN - 1) + 1;
			fill_pattern(j->buf, p->bs, j->block, j->gen);
		}
	}
	return true;
}

static void record_error(struct perf *p, const char *what, const struct nvmf_cpl *cpl)
{
	char why[128];

	atomic_fetch_add(&p->errors, 1);
	pthread_mutex_lock(&p->lock);
	if (p->first_error[0] == '\0')
		snprintf(p->first_error, sizeof(p->first_error), "%s: %s", what,
			 nvmf_cpl_str(cpl, why, sizeof(why)));
	pthread_mutex_unlock(&p->lock);
}

static void job_finished(struct perf *p)
{
	pthread_mutex_lock(&p->lock);
	if (--p->running == 0)
		pthread_cond_broadcast(&p->idle);
	pthread_mutex_unlock(&p->lock);
}

static void io_done(void *arg, const struct nvmf_cpl *cpl);

/* Submit the job's next I/O, or finish the job. */
static void job_submit(struct job *j)
{
	struct perf *p = j->p;
	uint64_t lba;
	int ret;

	if (!job_next(j)) {
		job_finished(p);
		return;
	}
	lba = p->base_lba + j->block * p->nlb;
	j->start_ns = now_ns();
	if (p->mp != NULL)
		ret = j->is_read ? nvmf_mpath_read(p->mp, p->cli->nsid, lba, p->nlb, j->buf,
						   io_done, j)
				 : nvmf_mpath_write(p->mp, p->cli->nsid, lba, p->nlb, j->buf, 0,
						    io_done, j);
	else if (j->is_read)
		ret = nvmf_ns_read(p->ns, j->ioq, lba, p->nlb, j->buf, io_done, j);
	else
		ret = nvmf_ns_write(p->ns, j->ioq, lba, p->nlb, j->buf, 0, io_done, j);
	if (ret != 0) {
		struct nvmf_cpl cpl = {.error = -ret};

		record_error(p, "submit", &cpl);
		if (j->claimed && p->blocks != NULL)
			atomic_fetch_and(&p->blocks[j->block], ~BLOCK_BUSY);
		job_finished(p);
	}
}

static void io_done(void *arg, const struct nvmf_cpl *cpl)
{
	struct job *j = arg;
	struct perf *p = j->p;
	uint64_t end = now_ns();
	bool ok = nvmf_cpl_ok(cpl);

	struct dir_totals *tot = &j->totals[j->is_read ? DIR_READ : DIR_WRITE];

	bump64(&tot->ios, 1);
	if (ok)
		bump64(&tot->bytes, p->bs);
	else
		bump64(&tot->errors, 1);
	if (!ok)
		record_error(p, j->is_read ? "read" : "write", cpl);
	if (p->blocks != NULL && j->claimed) {
		uint32_t gen;

		if (j->is_read) {
			if (ok && j->gen != GEN_NONE && j->gen != GEN_UNKNOWN) {
				atomic_fetch_add(&p->verify_checked, 1);
				if (!check_pattern(p, j))
					atomic_fetch_add(&p->verify_errors, 1);
			}
			gen = j->gen;
		} else {
			gen = ok ? j->gen : GEN_UNKNOWN;
		}
		atomic_store(&p->blocks[j->block], gen);
	}
	if (p->phase == PHASE_RUN && ok && !atomic_load_explicit(&p->stop, memory_order_relaxed)) {
		struct dir_stats *st = &j->stats[j->is_read ? DIR_READ : DIR_WRITE];
		uint64_t lat = end - j->start_ns;

		bump64(&st->lat_sum_ns, lat);
		bump32(&st->hist.count[hist_index(lat)]);
		bump64(&st->ios, 1);
	}
	job_submit(j);
}

/* Run every job until the phase ends or stop is set; the caller watches. */
static void start_jobs(struct perf *p, enum phase phase)
{
	p->phase = phase;
	atomic_store(&p->cursor, 0);
	atomic_store(&p->stop, false);
	pthread_mutex_lock(&p->lock);
	p->running = p->njobs;
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->njobs; i++)
		job_submit(&p->jobs[i]);
}

/* Wait for the jobs; true when they all finished within timeout_ms. */
static bool wait_jobs(struct perf *p, int timeout_ms)
{
	struct timespec ts = nvmf_deadline_ms((uint64_t)timeout_ms);
	bool done;

	pthread_mutex_lock(&p->lock);
	while (p->running != 0 && !interrupted)
		if (pthread_cond_timedwait(&p->idle, &p->lock, &ts) == ETIMEDOUT)
			break;
	done = p->running == 0;
	pthread_mutex_unlock(&p->lock);
	return done;
}

static void run_to_end(struct perf *p, enum phase phase)
{
	start_jobs(p, phase);
	while (!wait_jobs(p, 1000))
		if (interrupted)
			atomic_store(&p->stop, true);
}

static uint64_t total_ios(struct perf *p)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < p->njobs; i++)
		n += atomic_load_explicit(&p->jobs[i].stats[DIR_READ].ios, memory_order_relaxed) +
		     atomic_load_explicit(&p->jobs[i].stats[DIR_WRITE].ios, memory_order_relaxed);
	return n;
}

static const char *state_note(struct nvmf_ctrl *ctrl)
{
	switch (nvmf_ctrl_state(ctrl)) {
	case NVMF_CTRL_RECONNECTING: return " (reconnecting, I/O held)";
	case NVMF_CTRL_FAILED: return " (controller lost)";
	default: return "";
	}
}

/* --json-log: what the previous sample saw. */
struct sampler {
	uint64_t ios, lat_sum;
	uint64_t *prev, *cur;          /* histograms: at the previous sample, now */
};

static void log_sample(struct perf *p, struct sampler *sm, double t, double dt);

/* The timed run: a progress line (and a --json-log sample) every second. */
static double timed_run(struct perf *p)
{
	uint64_t start = now_ns(), last = start, last_ios = 0, end;
	unsigned runtime = p->cli->runtime;
	struct sampler sm = {.prev = calloc(1, sizeof(hist_sum)), .cur = malloc(sizeof(hist_sum))};

	if (sm.prev == NULL || sm.cur == NULL)
		die(p->cli, "out of memory");
	start_jobs(p, PHASE_RUN);
	for (unsigned sec = 1;; sec++) {
		bool done = wait_jobs(p, (int)((start + sec * 1000000000ull - now_ns()) / 1000000));
		uint64_t now = now_ns(), ios = total_ios(p);
		double dt = (double)(now - last) / 1e9;

		if (p->json_log != NULL && dt > 0)
			log_sample(p, &sm, (double)(now - start) / 1e9, dt);
		if (done || interrupted || sec >= runtime) {
			end = now;
			break;
		}
		fprintf(stderr, "[%4us] %10.0f IOPS %9.1f MiB/s, errors %llu%s\n", sec,
			(double)(ios - last_ios) / dt,
			(double)(ios - last_ios) * p->bs / dt / (1 << 20),
			(unsigned long long)atomic_load(&p->errors), state_note(p->ctrl));
		last = now;
		last_ios = ios;
	}
	atomic_store(&p->stop, true);
	while (!wait_jobs(p, 1000))
		fprintf(stderr, "nvmf perf: waiting for outstanding I/O%s\n", state_note(p->ctrl));
	free(sm.prev);
	free(sm.cur);
	return (double)(end - start) / 1e9;
}

/* ------------------------------------------------------------------ */
/* Summary                                                             */
/* ------------------------------------------------------------------ */

struct summary {
	uint64_t ios;
	double iops, mib_s, mean_us, p50_us, p99_us, p999_us;
};

/* The timed run's I/Os of one direction (which: DIR_*) or both (-1) so
 * far: count, latency sum, and histogram into sum. */
static uint64_t merge_stats(struct perf *p, int which, uint64_t *lat_sum, uint64_t *sum)
{
	uint64_t ios = 0;

	memset(sum, 0, sizeof(hist_sum));
	*lat_sum = 0;
	for (unsigned i = 0; i < p->njobs; i++)
		for (int d = DIR_READ; d <= DIR_WRITE; d++) {
			struct dir_stats *st = &p->jobs[i].stats[d];

			if (which >= 0 && d != which)
				continue;
			ios += atomic_load_explicit(&st->ios, memory_order_relaxed);
			*lat_sum += atomic_load_explicit(&st->lat_sum_ns, memory_order_relaxed);
			for (unsigned b = 0; b < HIST_BUCKETS; b++)
				sum[b] += atomic_load_explicit(&st->hist.count[b], memory_order_relaxed);
		}
	return ios;
}

/* Figures of ios I/Os over secs from their latency sum and histogram. */
static void figures(struct perf *p, uint64_t ios, double secs, uint64_t lat_sum,
		    const uint64_t *hist, struct summary *s)
{
	s->ios = ios;
	s->iops = secs > 0 ? (double)ios / secs : 0;
	s->mib_s = s->iops * p->bs / (1 << 20);
	s->mean_us = ios != 0 ? (double)lat_sum / (double)ios / 1000.0 : 0;
	s->p50_us = ios != 0 ? (double)hist_percentile(hist, ios, 50.0) / 1000.0 : 0;
	s->p99_us = ios != 0 ? (double)hist_percentile(hist, ios, 99.0) / 1000.0 : 0;
	s->p999_us = ios != 0 ? (double)hist_percentile(hist, ios, 99.9) / 1000.0 : 0;
}

static void summarize(struct perf *p, int which, double secs, struct summary *s, uint64_t *sum)
{
	uint64_t lat_sum, ios = merge_stats(p, which, &lat_sum, sum);

	figures(p, ios, secs, lat_sum, sum, s);
}

static json_t *lat_json(const struct summary *s)
{
	return json_pack("{s:f, s:f, s:f, s:f}", "mean", s->mean_us, "p50", s->p50_us, "p99",
			 s->p99_us, "p999", s->p999_us);
}

static void print_line(const char *name, const struct summary *s)
{
	printf("  %-6s: IOPS %.0f, %.2f MiB/s, %llu I/Os; latency usec: mean %.1f, p50 %.1f, "
	       "p99 %.1f, p99.9 %.1f\n", name, s->iops, s->mib_s, (unsigned long long)s->ios,
	       s->mean_us, s->p50_us, s->p99_us, s->p999_us);
}

/* Commands each path carried (setup and verification included). */
static json_t *paths_json(struct perf *p)
{
	json_t *arr = json_array();

	for (unsigned i = 0; i < nvmf_mpath_npaths(p->mp); i++) {
		struct nvmf_path_info info;

		nvmf_mpath_path_info(p->mp, i, p->cli->nsid, &info);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I}", "traddr", info.traddr,
						     "trsvcid", info.trsvcid, "commands",
						     (json_int_t)info.commands));
	}
	return arr;
}

static json_t *result_json(struct perf *p, double secs, const struct summary *all,
			   const struct summary *rd, const struct summary *wr)
{
	json_t *o = json_pack("{s:f, s:f, s:o}", "iops", all->iops, "mib_per_sec", all->mib_s,
			      "lat_usec", lat_json(all));

	json_object_set_new(o, "ios", json_integer((json_int_t)all->ios));
	json_object_set_new(o, "runtime_sec", json_real(secs));
	json_object_set_new(o, "read", json_pack("{s:f, s:f, s:I, s:o}", "iops", rd->iops,
						 "mib_per_sec", rd->mib_s, "ios",
						 (json_int_t)rd->ios, "lat_usec", lat_json(rd)));
	json_object_set_new(o, "write", json_pack("{s:f, s:f, s:I, s:o}", "iops", wr->iops,
						  "mib_per_sec", wr->mib_s, "ios",
						  (json_int_t)wr->ios, "lat_usec", lat_json(wr)));
	json_object_set_new(o, "job", json_pack("{s:s, s:i, s:i, s:i, s:i, s:I, s:I}", "rw",
						p->cli->rw, "bs", (int)p->bs, "iodepth",
						(int)p->iodepth, "queues", (int)p->nqueues, "nsid",
						(json_int_t)p->cli->nsid, "region_bytes",
						(json_int_t)(p->nblocks * p->bs), "rwmixread",
						(json_int_t)p->rwmixread));
	json_object_set_new(o, "errors", json_integer((json_int_t)atomic_load(&p->errors)));
	json_object_set_new(o, "reconnects", json_integer(nvmf_ctrl_reconnects(p->ctrl)));
	if (p->mp != NULL)
		json_object_set_new(o, "paths", paths_json(p));
	if (p->blocks != NULL)
		json_object_set_new(o, "verify",
				    json_pack("{s:I, s:I}", "checked",
					      (json_int_t)atomic_load(&p->verify_checked),
					      "mismatches",
					      (json_int_t)atomic_load(&p->verify_errors)));
	return o;
}

/* Every command sent, any phase, by direction. */
static json_t *totals_json(struct perf *p)
{
	json_t *o = json_object();

	for (int d = DIR_READ; d <= DIR_WRITE; d++) {
		uint64_t ios = 0, bytes = 0, errors = 0;

		for (unsigned i = 0; i < p->njobs; i++) {
			ios += atomic_load(&p->jobs[i].totals[d].ios);
			bytes += atomic_load(&p->jobs[i].totals[d].bytes);
			errors += atomic_load(&p->jobs[i].totals[d].errors);
		}
		json_object_set_new(o, d == DIR_READ ? "read" : "write",
				    json_pack("{s:I, s:I, s:I}", "ios", (json_int_t)ios, "bytes",
					      (json_int_t)bytes, "errors", (json_int_t)errors));
	}
	return o;
}

/* One JSON line of --json-log; o is consumed. */
static void log_line(struct perf *p, const char *type, json_t *o)
{
	json_t *line = json_pack("{s:s}", "type", type);
	char *s;

	json_object_update(line, o);
	json_decref(o);
	s = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(line);
	if (s == NULL || fprintf(p->json_log, "%s\n", s) < 0 || fflush(p->json_log) != 0)
		die(p->cli, "--json-log: cannot write: %s", strerror(errno));
	free(s);
}

/* The second that just ended: its I/Os' rate and latency. */
static void log_sample(struct perf *p, struct sampler *sm, double t, double dt)
{
	uint64_t lat_sum, ios = merge_stats(p, -1, &lat_sum, sm->cur);
	struct summary s;

	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		uint64_t total = sm->cur[b];

		sm->cur[b] = total - sm->prev[b];
		sm->prev[b] = total;
	}
	figures(p, ios - sm->ios, dt, lat_sum - sm->lat_sum, sm->cur, &s);
	sm->ios = ios;
	sm->lat_sum = lat_sum;
	log_line(p, "sample", json_pack("{s:f, s:I, s:f, s:f, s:{s:f, s:f, s:f}}", "time", t,
					"ios", (json_int_t)s.ios, "iops", s.iops, "mib_per_sec",
					s.mib_s, "lat_usec", "mean", s.mean_us, "p50", s.p50_us,
					"p99", s.p99_us));
}

/* The timed run's latency histogram: [bucket midpoint ns, I/Os] pairs. */
static void log_histogram(struct perf *p, const uint64_t *hist)
{
	json_t *buckets = json_array();

	for (unsigned b = 0; b < HIST_BUCKETS; b++)
		if (hist[b] != 0)
			json_array_append_new(buckets, json_pack("[I, I]", (json_int_t)hist_value(b),
								 (json_int_t)hist[b]));
	log_line(p, "histogram", json_pack("{s:s, s:o}", "unit", "ns", "buckets", buckets));
}

static void report(struct perf *p, double secs)
{
	uint64_t *scratch = malloc(sizeof(hist_sum));
	struct summary all, rd, wr;

	if (scratch == NULL)
		die(p->cli, "out of memory");
	summarize(p, DIR_READ, secs, &rd, scratch);
	summarize(p, DIR_WRITE, secs, &wr, scratch);
	summarize(p, -1, secs, &all, scratch);
	if (p->json_log != NULL) {
		json_t *o = result_json(p, secs, &all, &rd, &wr);

		log_histogram(p, scratch);
		json_object_set_new(o, "totals", totals_json(p));
		log_line(p, "result", o);
	}
	free(scratch);
	if (p->cli->json) {
		json_print(result_json(p, secs, &all, &rd, &wr));
		return;
	}
	printf("perf: %s, bs %u, iodepth %u, %u queue%s, namespace %u (%llu MiB region), "
	       "%.2f s\n", p->cli->rw, p->bs, p->iodepth, p->nqueues, p->nqueues > 1 ? "s" : "",
	       p->cli->nsid, (unsigned long long)(p->nblocks * p->bs >> 20), secs);
	print_line("total", &all);
	if (rd.ios != 0 && wr.ios != 0) {
		print_line("read", &rd);
		print_line("write", &wr);
	}
	printf("  errors: %llu", (unsigned long long)atomic_load(&p->errors));
	if (nvmf_ctrl_reconnects(p->ctrl) != 0)
		printf(", reconnects: %u", nvmf_ctrl_reconnects(p->ctrl));
	for (unsigned i = 0; p->mp != NULL && i < nvmf_mpath_npaths(p->mp); i++) {
		struct nvmf_path_info info;

		nvmf_mpath_path_info(p->mp, i, p->cli->nsid, &info);
		printf("%s%s:%s %llu", i == 0 ? ", commands per path (" : ", ", info.traddr,
		       info.trsvcid, (unsigned long long)info.commands);
		if (i + 1 == nvmf_mpath_npaths(p->mp))
			printf(")");
	}
	if (p->blocks != NULL)
		printf(", verify: %llu blocks checked, %llu mismatches",
		       (unsigned long long)atomic_load(&p->verify_checked),
		       (unsigned long long)atomic_load(&p->verify_errors));
	printf("\n");
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

static enum rw_mode parse_mode(struct cli *cli)
{
	static const struct {
		const char *name;
		enum rw_mode mode;
	} modes[] = {
		{"read", RW_READ},           {"write", RW_WRITE},       {"randread", RW_RANDREAD},
		{"randwrite", RW_RANDWRITE}, {"randrw", RW_RANDRW},
	};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(cli->rw, modes[i].name) == 0)
			return modes[i].mode;
	die(cli, "unknown --rw %s (read, write, randread, randwrite, randrw)", cli->rw);
}

static void setup_region(struct perf *p)
{
	struct cli *cli = p->cli;
	uint64_t ns_bytes = nvmf_ns_size_bytes(p->ns), size;
	uint32_t lba = nvmf_ns_lba_size(p->ns);

	if (p->bs % lba != 0)
		die(cli, "--bs %u is not a multiple of the %u-byte block size", p->bs, lba);
	if (p->bs > nvmf_ctrl_max_io_size(p->ctrl))
		die(cli, "--bs %u exceeds the largest transfer (%u bytes, MDTS)", p->bs,
		    nvmf_ctrl_max_io_size(p->ctrl));
	if (cli->offset % p->bs != 0 || cli->offset >= ns_bytes)
		die(cli, "--offset must be a multiple of --bs inside the namespace");
	size = cli->size != 0 ? cli->size : ns_bytes - cli->offset;
	if (cli->size == 0 && cli->verify && size > VERIFY_DEFAULT_SIZE)
		size = VERIFY_DEFAULT_SIZE;
	if (size > ns_bytes - cli->offset)
		die(cli, "--size reaches beyond the namespace (%llu bytes)",
		    (unsigned long long)ns_bytes);
	p->nlb = p->bs / lba;
	p->base_lba = cli->offset / lba;
	p->nblocks = size / p->bs;
	if (p->nblocks == 0)
		die(cli, "the region holds no block of %u bytes", p->bs);
	if (cli->verify) {
		if (p->nblocks < 2ull * p->njobs)
			die(cli, "--verify needs at least %u blocks in the region",
			    2 * p->njobs);
		if (p->nblocks > (1ull << 28))
			die(cli, "--verify tracks at most 2^28 blocks: lower --size");
		p->blocks = calloc(p->nblocks, sizeof(*p->blocks));
		if (p->blocks == NULL)
			die(cli, "out of memory");
	}
}

int cmd_perf(struct cli *cli)
{
	struct perf p = {.cli = cli};
	struct sigaction sa = {.sa_handler = on_signal};
	double secs;
	uint64_t seed;
	int ret = 0;

	if (cli->rw == NULL)
		cli->rw = "randread";
	p.mode = parse_mode(cli);
	p.rwmixread = cli->rwmixread;
	p.bs = cli->bs != 0 ? cli->bs : 4096;
	p.iodepth = cli->iodepth != 0 ? cli->iodepth : 32;
	if (cli->runtime == 0)
		cli->runtime = 10;
	p.nqueues = cli->queues != 0 ? cli->queues : 1;
	if (!cli->nr_io_queues_set)
		cli->opts.nr_io_queues = p.nqueues;
	/* Each I/O queue keeps one entry empty and one slot for its Connect. */
	if (!cli->queue_size_set && cli->opts.queue_size < p.iodepth + 2)
		cli->opts.queue_size = p.iodepth + 2;

	if (cli_npaths(cli) > 1 || cli->all_paths) {
		p.mp = cli_mpath_connect(cli);
		/* At least one path is connected, or there is no mp. */
		for (unsigned i = 0; p.ctrl == NULL && i < nvmf_mpath_npaths(p.mp); i++)
			p.ctrl = nvmf_mpath_ctrl(p.mp, i);
	} else {
		p.ctrl = cli_connect(cli);
	}
	p.ns = cli_namespace(cli, p.ctrl);
	if (nvmf_ctrl_nr_io_queues(p.ctrl) < p.nqueues) {
		fprintf(stderr, "nvmf perf: the controller grants %u I/O queues; using them\n",
			nvmf_ctrl_nr_io_queues(p.ctrl));
		p.nqueues = nvmf_ctrl_nr_io_queues(p.ctrl);
	}
	if (nvmf_ctrl_queue_depth(p.ctrl) < p.iodepth)
		die(cli, "--iodepth %u exceeds the queue depth (%u; CAP.MQES or --queue-size)",
		    p.iodepth, nvmf_ctrl_queue_depth(p.ctrl));
	p.njobs = p.nqueues * p.iodepth;
	pthread_mutex_init(&p.lock, NULL);
	nvmf_cond_init_monotonic(&p.idle);
	setup_region(&p);
	p.jobs = calloc(p.njobs, sizeof(*p.jobs));
	if (p.jobs == NULL)
		die(cli, "out of memory");
	seed = now_ns() | 1;
	for (unsigned i = 0; i < p.njobs; i++) {
		struct job *j = &p.jobs[i];

		j->p = &p;
		j->ioq = i % p.nqueues + 1;
		j->rng = seed + 0x9e3779b97f4a7c15ull * (i + 1);
		if (posix_memalign((void **)&j->buf, 4096, p.bs) != 0)
			die(cli, "out of memory");
		memset(j->buf, 0xa5, p.bs);
	}
	if (cli->json_log != NULL && (p.json_log = fopen(cli->json_log, "we")) == NULL)
		die(cli, "--json-log %s: %s", cli->json_log, strerror(errno));
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (p.blocks != NULL && mode_reads(p.mode)) {
		fprintf(stderr, "nvmf perf: verify: writing the %llu MiB region first\n",
			(unsigned long long)(p.nblocks * p.bs >> 20));
		run_to_end(&p, PHASE_PREFILL);
	}
	secs = timed_run(&p);
	if (p.blocks != NULL && !interrupted &&
	    (p.mp != NULL || nvmf_ctrl_state(p.ctrl) == NVMF_CTRL_LIVE)) {
		fprintf(stderr, "nvmf perf: verify: reading the region back\n");
		run_to_end(&p, PHASE_CHECK);
	}
	report(&p, secs);
	if (p.json_log != NULL && fclose(p.json_log) != 0)
		die(cli, "--json-log %s: %s", cli->json_log, strerror(errno));
	if (p.mp != NULL)
		cli_mpath_disconnect(cli, p.mp);
	else
		cli_disconnect(cli, p.ctrl);
	if (atomic_load(&p.verify_errors) != 0)
		die(cli, "%llu blocks failed verification; first: %s",
		    (unsigned long long)atomic_load(&p.verify_errors), p.first_error);
	if (atomic_load(&p.errors) != 0)
		die(cli, "%llu I/O errors; first: %s", (unsigned long long)atomic_load(&p.errors),
		    p.first_error);
	if (interrupted)
		ret = 130;
	for (unsigned i = 0; i < p.njobs; i++)
		free(p.jobs[i].buf);
	free(p.jobs);
	free(p.blocks);
	return ret;
}
