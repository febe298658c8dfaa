/* SPDX-License-Identifier: MIT */
/*
 * kill -9 of nvmfd under a write load on a file backend, then a restart on
 * the same file: every write acknowledged before a Flush that completed,
 * and every acknowledged FUA write, must read back exactly.
 *
 * The load and the read-back are robustness/write_load.[ch] (shared with
 * robustness_powercut): 8 KiB slot writes, every 7th FUA, a Flush after
 * every 40.  The kill comes at a random point (the seed is printed;
 * NVMF_SEED repeats it).  Writes in flight at the kill may have landed or
 * not, block by block, but nothing else may appear: every 4 KiB block reads
 * as zeroes or as its own write's data, and slots never written read as
 * zeroes.
 *
 *   robustness_kill9 [ROUNDS]   (3 by default)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/host_helper.h"
#include "nvmf/log.h"
#include "robustness/daemon.h"
#include "robustness/write_load.h"
#include "util/test_util.h"

#define NQN DAEMON_NQN
#define KILL_MIN_MS 300
#define KILL_SPAN_MS 1500

static struct daemon d;

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
		struct wl_inflight fl[WL_WINDOW + 1];
		struct wl_killer k = {.delay_ms = KILL_MIN_MS + wl_rng(&rng) % KILL_SPAN_MS};
		unsigned acked;
		int status;

		test_begin("kill -9 under a write load, restart, read back");
		/* A fresh file per round; the engines take turns loading and reading. */
		snprintf(file, sizeof(file), "%s/kill9-%u.img", rob_dir(), round);
		snprintf(backing, sizeof(backing), "%s,size=%dM,bs=%d", file, WL_FILE_MB, WL_BS);
		extra[1] = round % 2 ? "threads" : "epoll";
		wl_reset();
		REQUIRE(daemon_start(&d, extra));
		k.pid = d.pid;
		REQUIRE(th_connect_admin(&a, d.port, NQN, NULL) == 0);
		REQUIRE(th_connect_io(&io, d.port, NQN, 1, a.cntlid, &deep) == 0);
		wl_kill_later(&k);
		wl_alloc(fl);
		acked = wl_load(&io, fl, round, &WL_MIX_DEFAULT);
		wl_kill_join(&k);
		status = daemon_stop(&d, SIGKILL, 10000);
		fprintf(stderr, "round %u (%s engine): killed after %u ms with %u writes submitted, %u acknowledged\n",
			round, extra[1], k.delay_ms, wl_submitted(), acked);
		CHECK_EQ(status, 128 + SIGKILL);
		CHECK(wl_submitted() < WL_MAX_SLOTS); /* the kill came during the load */
		th_close(&io);
		th_close(&a);
		wl_free(fl); /* only now: unanswered writes' buffers were the transport's */
		d.argv[d.argc - 2] = (char *)other_engine(extra[1]);
		REQUIRE(daemon_restart(&d));
		wl_verify(d.port, NQN, round, NULL);
		status = daemon_stop(&d, SIGTERM, 30000);
		fprintf(stderr, "nvmfd (%s engine) exited with %d\n", d.argv[d.argc - 2], status);
		CHECK_EQ(status, 0);
		unlink(file);
		test_end();
	}
	return test_summary();
}
