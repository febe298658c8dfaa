/* SPDX-License-Identifier: MIT */
/*
 * Time for deadlines: always CLOCK_MONOTONIC, so that a step of the wall
 * clock (NTP, an operator, a VM resumed) neither fires a timeout early nor
 * holds one off.  Condition variables that are waited on with a deadline
 * are made with nvmf_cond_init_monotonic.
 */
#ifndef NVMF_UTIL_CLOCK_H
#define NVMF_UTIL_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t nvmf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The absolute CLOCK_MONOTONIC time ms from now, for pthread_cond_timedwait. */
static inline struct timespec nvmf_deadline_ms(uint64_t ms)
{
	uint64_t at = nvmf_now_ns() + ms * 1000000u;

	return (struct timespec){.tv_sec = (time_t)(at / 1000000000u),
				 .tv_nsec = (long)(at % 1000000000u)};
}

static inline void nvmf_cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
}

#endif
