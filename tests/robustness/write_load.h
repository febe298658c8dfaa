/* SPDX-License-Identifier: MIT */
/*
 * The verified write load of the crash tests (robustness_kill9,
 * robustness_powercut): writes and Flushes on an nvmfd file namespace
 * until the target dies, then, after a restart, a read of every slot held
 * against what the host was told.
 *
 * Each write goes to its own 8 KiB slot (never rewritten) with data derived
 * from its number, so the file says which writes landed.  The load records
 * when it saw each acknowledgement and when it submitted each Flush: a
 * write is covered by a Flush submitted after its acknowledgement was seen.
 * After the crash, every FUA write and every write covered by a completed
 * Flush must read back exactly; writes in flight may have landed or not,
 * block by block, but nothing else may appear: every 4 KiB block reads as
 * zeroes or as its own write's data, and slots never written read as zeroes.
 */
#ifndef TESTS_ROBUSTNESS_WRITE_LOAD_H
#define TESTS_ROBUSTNESS_WRITE_LOAD_H

#include <stdint.h>
#include <sys/types.h>

#include "controller/host_helper.h"

#define WL_BS 4096
#define WL_SLOT_BYTES 8192
#define WL_FILE_MB 1024           /* the namespace: size=1024M,bs=4096 */
#define WL_MAX_SLOTS ((WL_FILE_MB << 20) / WL_SLOT_BYTES)
#define WL_WINDOW 48              /* writes outstanding at once */

/* Which writes are FUA and when Flushes go: every Nth write (0: never). */
struct wl_mix {
	unsigned fua_every;
	unsigned flush_every;
};

/* robustness_kill9's mix: every 7th write FUA, a Flush after every 40 writes. */
#define WL_MIX_DEFAULT ((struct wl_mix){.fua_every = 7, .flush_every = 40})

struct wl_inflight {
	int cid;
	unsigned slot;            /* or UINT32_MAX for a Flush */
	uint64_t submit_us;
	uint8_t *buf;
};

/* What a read-back found; problems is what failed the checks. */
struct wl_report {
	unsigned durable;         /* FUA or flushed: all read back, or counted in problems */
	unsigned acked;           /* acknowledged, not known durable */
	unsigned acked_landed;    /* ... of which read back whole */
	unsigned inflight;        /* submitted, unanswered at the crash */
	unsigned inflight_landed;
	unsigned failed;          /* answered with an error */
	unsigned unused;          /* never written (read as zeroes, or a problem) */
	unsigned problems;
};

/* A fresh file: forget every slot. */
void wl_reset(void);
/* Writes submitted since wl_reset. */
unsigned wl_submitted(void);

/*
 * The buffers of the WL_WINDOW + 1 entries of fl (writes and a Flush).  A
 * write the crash left unanswered still has its buffer held by the
 * transport: free them only after th_close of the queue.
 */
void wl_alloc(struct wl_inflight *fl);
void wl_free(struct wl_inflight *fl);

/*
 * Writes (data seeded by round and slot) and Flushes on io until the queue
 * dies or the file is full; returns how many writes were acknowledged.
 */
unsigned wl_load(struct th_queue *io, struct wl_inflight *fl, uint32_t round,
		 const struct wl_mix *mix);

/* Read every slot used (and 64 beyond) through a new association, check, print. */
void wl_verify(uint16_t port, const char *nqn, unsigned round, struct wl_report *out);

/* SIGKILL pid delay_ms from now, from a thread (join it with wl_kill_join). */
struct wl_killer {
	pid_t pid;
	unsigned delay_ms;
	pthread_t thread;
};
void wl_kill_later(struct wl_killer *k);
void wl_kill_join(struct wl_killer *k);

/* xorshift32: the kill points, repeatable from a printed seed. */
uint32_t wl_rng(uint32_t *s);

#endif
