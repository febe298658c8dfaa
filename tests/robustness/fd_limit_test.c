/* SPDX-License-Identifier: MIT */
/*
 * More connections than nvmfd has file descriptors.  nvmfd raises its
 * open-file limit to fit --max-connections, and says so when the hard limit
 * is lower; out of descriptors, it stops accepting for a while (one log
 * line) instead of spinning on a listening socket that stays readable, and
 * accepts again once connections close.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "controller/host_helper.h"
#include "nvmf/log.h"
#include "robustness/daemon.h"
#include "util/test_util.h"

#define NQN DAEMON_NQN
#define NOFILE 64
#define CROWD 100
#define WATCH_MS 2000

static bool good_host(uint16_t port)
{
	struct th_queue a, io;
	uint8_t w[4096], r[4096];
	bool ok;

	test_fill(w, sizeof(w), 7);
	ok = th_connect_admin(&a, port, NQN, NULL) == 0 &&
	     th_connect_io(&io, port, NQN, 1, a.cntlid, NULL) == 0 &&
	     th_rw(&io, NVME_IO_WRITE, 1, 8, 8, w, sizeof(w), 0) == 0 &&
	     th_rw(&io, NVME_IO_READ, 1, 8, 8, r, sizeof(r), 0) == 0 && test_verify(r, sizeof(r), 7);
	th_close(&io);
	th_close(&a);
	return ok;
}

/* The soft open-file limit in /proc/PID/limits, or -1. */
static long soft_nofile(pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Max open files", 14) == 0)
			v = strtol(line + 14, NULL, 10);
	fclose(f);
	return v;
}

static void test_out_of_descriptors(void)
{
	struct daemon d;
	const char *extra[] = {"--max-connections", "200", "ramdisk:16M", NULL};
	int fds[CROWD];
	long cpu0, cpu;

	test_begin("out of file descriptors: no spinning, one log line, accepting again later");
	REQUIRE(daemon_start_limited(&d, extra, NOFILE));
	CHECK_EQ(daemon_log_count(&d, "--max-connections 200 needs 264 open files but the limit is 64"), 1);
	for (int i = 0; i < CROWD; i++)
		fds[i] = test_connect(d.port);
	usleep(300000);
	cpu0 = daemon_cpu_ms(&d);
	usleep(WATCH_MS * 1000);
	cpu = daemon_cpu_ms(&d) - cpu0;
	fprintf(stderr, "answer: %d connections open on %d descriptors; nvmfd used %ld ms of CPU in %d ms, logged %u line(s) about it\n",
		CROWD, NOFILE, cpu, WATCH_MS, daemon_log_count(&d, "new connections wait"));
	CHECK(cpu < WATCH_MS / 4);
	CHECK_EQ(daemon_log_count(&d, "new connections wait"), 1);
	for (int i = 0; i < CROWD; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* The queue of waiting connections drains (each one is closed); then a host gets in. */
	{
		bool ok = false;

		for (uint64_t end = test_now_us() + 20000000; !ok && test_now_us() < end;)
			if (!(ok = good_host(d.port)))
				usleep(200000);
		CHECK(ok);
	}
	CHECK(daemon_log_count(&d, "accepting connections again") >= 1);
	CHECK_EQ(daemon_stop(&d, SIGTERM, 30000), 0);
	test_end();
}

static void test_limit_raised(void)
{
	struct daemon d;
	const char *extra[] = {"--max-connections", "2000", "ramdisk:16M", NULL};
	struct rlimit saved, low;

	test_begin("the open-file limit is raised to fit --max-connections");
	REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
	if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < 2064) {
		fprintf(stderr, "hard open-file limit %llu: cannot check, skipped\n",
			(unsigned long long)saved.rlim_max);
		test_end();
		return;
	}
	low = saved;
	low.rlim_cur = 256;
	REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
	REQUIRE(daemon_start(&d, extra));
	REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
	fprintf(stderr, "answer: started with a soft limit of 256, runs with %ld\n",
		soft_nofile(d.pid));
	CHECK_EQ(soft_nofile(d.pid), 2064);
	CHECK_EQ(daemon_log_count(&d, "needs"), 0);
	CHECK(good_host(d.port));
	CHECK_EQ(daemon_stop(&d, SIGTERM, 30000), 0);
	test_end();
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	nvmf_log_set_level(NVMF_LOG_ERR);
	rob_raise_nofile();
	test_out_of_descriptors();
	test_limit_raised();
	return test_summary();
}
