/* SPDX-License-Identifier: MIT */
/*
 * What counting adds to one I/O on the controller, in CPU nanoseconds,
 * measured in a loop so that a loaded machine does not blur it: the
 * completion's clock read and stats_complete() (src/controller/stats.h),
 * on the queue pair's own thread (plain stores) and on a worker (atomic
 * adds), against the one clock read per command the controller made
 * before (keep-alive activity), which now also stamps the command.
 *
 *   build/bench/stats_cost [MILLIONS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "controller/stats.h"
#include "util/clock.h"

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile uint64_t sink;

/* ns per iteration of: a clock read (before: ctrl_touch), then, counting,
 * a second one at completion and the counters. */
static double run(struct conn_ns_stats *s, unsigned long n, int mode)
{
	double t0 = cpu_ns();

	for (unsigned long i = 0; i < n; i++) {
		uint64_t start = nvmf_now_ns();

		if (mode == 0)
			sink = start;
		else
			stats_complete(s, NVMF_IO_OP_READ, 4096, nvmf_now_ns() - start, mode == 2);
	}
	return (cpu_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	unsigned long n = (argc > 1 ? strtoul(argv[1], NULL, 10) : 20) * 1000000ul;
	struct conn_ns_stats *s = calloc(1, sizeof(*s));
	double best[3] = {1e9, 1e9, 1e9};

	if (s == NULL)
		return 1;
	/* Interleaved, best of 5: the floor is what the code costs. */
	for (int round = 0; round < 5; round++)
		for (int mode = 0; mode < 3; mode++) {
			double ns = run(s, n / 5, mode);

			if (ns < best[mode])
				best[mode] = ns;
		}
	printf("per I/O, CPU ns: before %.1f; counting on the queue's thread %.1f (+%.1f); "
	       "on a worker %.1f (+%.1f)\n", best[0], best[1], best[1] - best[0], best[2],
	       best[2] - best[0]);
	return 0;
}
