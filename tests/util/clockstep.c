/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for tests: the wall clock (CLOCK_REALTIME, gettimeofday,
 * time) reads NVMF_CLOCK_STEP seconds off, as after a step of the system
 * clock; CLOCK_MONOTONIC is left alone.  A deadline taken from the wall
 * clock and handed to the kernel (pthread_cond_timedwait on a default
 * condition variable) then fires a day late, or at once.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long step(void)
{
	const char *s = getenv("NVMF_CLOCK_STEP");

	return s != NULL ? strtol(s, NULL, 10) : 0;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	int rc;

	if (real == NULL)
		real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	rc = real(id, ts);
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
