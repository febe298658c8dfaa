/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for tests: the wall clock (CLOCK_REALTIME, gettimeofday,
 * time) reads NVMF_CLOCK_STEP seconds off, as after a step of the system
 * clock; CLOCK_MONOTONIC is left alone.  A deadline taken from the wall
 * clock and handed to the kernel (pthread_cond_timedwait on a default
 * condition variable) then fires a day late, or at once.  With
 * NVMF_CLOCK_STEP_AFTER_MS the step comes that long after the process first
 * read the clock, for a process the test cannot reach into: a deadline
 * taken before the step and compared after it.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);

static long long monotonic_ms(void)
{
	struct timespec ts;

	real_clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long step(void)
{
	static _Atomic long long first_ms = -1;
	const char *s = getenv("NVMF_CLOCK_STEP");
	const char *after = getenv("NVMF_CLOCK_STEP_AFTER_MS");

	if (s == NULL)
		return 0;
	if (after != NULL) {
		long long now = monotonic_ms(), unset = -1;

		atomic_compare_exchange_strong(&first_ms, &unset, now);
		if (now - first_ms < strtoll(after, NULL, 10))
			return 0;
	}
	return strtol(s, NULL, 10);
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	int rc;

	if (real_clock_gettime == NULL)
		real_clock_gettime =
			(int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	rc = real_clock_gettime(id, ts);
	if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		ts->tv_sec += step();
	return rc;
}

int gettimeofday(struct timeval *tv, void *tz)
{
	struct timespec ts;

	(void)tz;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return -1;
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}

time_t time(time_t *out)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (out != NULL)
		*out = ts.tv_sec;
	return ts.tv_sec;
}
