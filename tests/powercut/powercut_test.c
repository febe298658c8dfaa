/* SPDX-License-Identifier: MIT */
/*
 * A power cut under nvmfd, after Jepsen's LazyFS.  nvmfd serves a file
 * namespace from a lazyfs mount (tests/powercut/lazyfs.c), which keeps
 * every write in memory until fsync or fdatasync.  Under robustness_kill9's
 * verified write load (robustness/write_load.[ch]), at a random point (the
 * seed is printed; NVMF_SEED repeats it) nvmfd is killed with kill -9 and,
 * once it is gone, the power is cut: lazyfs drops every byte nobody synced.
 * nvmfd restarts on the same file; every FUA write and every write
 * acknowledged before a completed Flush must read back exactly, every block
 * must hold zeroes or its own write's data.  kill -9 alone leaves the page
 * cache; this fails when nvmfd skips the fdatasync of a Flush or the
 * RWF_DSYNC of a FUA write.
 *
 * The rounds take turns with three mixes, so that each durability path is
 * tested alone as well as with the other (an fsync for one makes the other's
 * writes durable too, which would hide a missing one):
 *   kill9's: every 7th write FUA, a Flush after every 40 writes;
 *   Flushes only: a Flush after every 40 writes, no FUA;
 *   FUA only: every 7th write FUA, no Flush.
 * The cut must have dropped unsynced bytes (lazyfs counts them) in at least
 * one round, or the test proves nothing.  Exits 77 when FUSE cannot mount.
 *
 *   robustness_powercut [ROUNDS]   (6 by default: each mix twice)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/host_helper.h"
#include "nvmf/log.h"
#include "powercut/lazyfs_ctl.h"
#include "robustness/daemon.h"
#include "robustness/write_load.h"
#include "util/test_util.h"

#define NQN DAEMON_NQN
#define KILL_MIN_MS 300
#define KILL_SPAN_MS 1200

static const struct {
	const char *name;
	struct wl_mix mix;
} mixes[] = {
	{"every 7th write FUA, a Flush after every 40", {.fua_every = 7, .flush_every = 40}},
	{"a Flush after every 40 writes, no FUA", {.fua_every = 0, .flush_every = 40}},
	{"every 7th write FUA, no Flush", {.fua_every = 7, .flush_every = 0}},
};

static struct daemon d;
static struct lazyfs lz;

static const char *other_engine(const char *engine)
{
	return strcmp(engine, "threads") == 0 ? "epoll" : "threads";
}

/* One round: load, kill -9 and power cut, restart, read back.  The bytes the cut dropped. */
static uint64_t one_round(unsigned round, uint32_t *rng, struct wl_report *rep)
{
	const unsigned m = (round - 1) % (sizeof(mixes) / sizeof(mixes[0]));
	struct th_queue a, io;
	struct th_opts deep = {.qsize = 64};
	struct wl_inflight fl[WL_WINDOW + 1];
	struct wl_killer k = {.delay_ms = KILL_MIN_MS + wl_rng(rng) % KILL_SPAN_MS};
	struct lazyfs_stats before, after;
	char file[512], backing[600];
	const char *extra[] = {"--engine", round % 2 ? "threads" : "epoll", backing, NULL};
	unsigned acked;
	int status;

	test_begin("kill -9 and a power cut under a write load, restart, read back");
	/* A fresh file per round; the engines take turns loading and reading. */
	snprintf(file, sizeof(file), "%s/powercut-%u.img", lz.mnt, round);
	snprintf(backing, sizeof(backing), "%s,size=%dM,bs=%d", file, WL_FILE_MB, WL_BS);
	wl_reset();
	REQUIRE(daemon_start(&d, extra));
	k.pid = d.pid;
	REQUIRE(th_connect_admin(&a, d.port, NQN, NULL) == 0);
	REQUIRE(th_connect_io(&io, d.port, NQN, 1, a.cntlid, &deep) == 0);
	wl_kill_later(&k);
	wl_alloc(fl);
	acked = wl_load(&io, fl, round, &mixes[m].mix);
	wl_kill_join(&k);
	status = daemon_stop(&d, SIGKILL, 10000);
	/* nvmfd is reaped: none of its writes can still be on the way.  Now the power. */
	lazyfs_stats(&lz, &before);
	lazyfs_cut(&lz);
	lazyfs_stats(&lz, &after);
	fprintf(stderr, "round %u (%s engine; %s): killed after %u ms with %u writes submitted, "
		"%u acknowledged; the power cut dropped %llu unsynced bytes\n",
		round, extra[1], mixes[m].name, k.delay_ms, wl_submitted(), acked,
		(unsigned long long)(after.dropped_bytes - before.dropped_bytes));
	CHECK_EQ(status, 128 + SIGKILL);
	CHECK(wl_submitted() < WL_MAX_SLOTS); /* the kill came during the load */
	CHECK_EQ(after.cuts, before.cuts + 1);
	th_close(&io);
	th_close(&a);
	wl_free(fl); /* only now: unanswered writes' buffers were the transport's */
	d.argv[d.argc - 2] = (char *)other_engine(extra[1]);
	REQUIRE(daemon_restart(&d));
	wl_verify(d.port, NQN, round, rep);
	fprintf(stderr, "round %u: %u acknowledged writes not yet known durable were lost in the cut\n",
		round, rep->acked - rep->acked_landed);
	status = daemon_stop(&d, SIGTERM, 30000);
	fprintf(stderr, "nvmfd (%s engine) exited with %d\n", d.argv[d.argc - 2], status);
	CHECK_EQ(status, 0);
	REQUIRE(unlink(file) == 0);
	test_end();
	return after.dropped_bytes - before.dropped_bytes;
}

int main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 6;
	const char *env = getenv("NVMF_SEED");
	uint32_t seed = env != NULL ? (uint32_t)strtoul(env, NULL, 0) : (uint32_t)test_now_us();
	uint32_t rng = seed | 1;
	uint64_t start = test_now_us(), dropped = 0;
	unsigned lost = 0;
	int status;

	signal(SIGPIPE, SIG_IGN);
	nvmf_log_set_level(NVMF_LOG_ERR);
	if (lazyfs_mount(&lz, rob_dir(), "power", false) == LAZYFS_SKIP)
		return LAZYFS_SKIP;
	fprintf(stderr, "seed %#x (NVMF_SEED=%#x repeats the kill points)\n", seed, seed);
	for (unsigned round = 1; round <= rounds; round++) {
		struct wl_report rep;

		dropped += one_round(round, &rng, &rep);
		lost += rep.acked - rep.acked_landed;
	}
	fprintf(stderr, "%u rounds in %.1f s: the power cuts dropped %llu unsynced bytes, %u "
		"acknowledged writes with them; %s\n",
		rounds, (double)(test_now_us() - start) / 1e6, (unsigned long long)dropped, lost,
		test_failures == 0 ? "every FUA and flushed write read back" : "FAILED (above)");
	/* Without a drop the cuts proved nothing. */
	CHECK(rounds == 0 || dropped > 0);
	status = lazyfs_unmount(&lz);
	CHECK_EQ(status, 0);
	return test_summary();
}
