/* SPDX-License-Identifier: MIT */
/*
 * Locking rules that are checked, not only written.
 *
 * With NVMF_DEBUG_CHECKS (Debug builds: the ASan and TSan builds of the
 * suite) every mutex is error-checking and every lock and unlock is checked:
 * taking a mutex the thread already holds, or releasing one it does not,
 * aborts with the place instead of deadlocking or corrupting state, and
 * NVMF_ASSERT_LOCKED(m), which every *_locked helper starts with, aborts
 * unless the calling thread holds m.  Release builds compile the checks out.
 */
#ifndef NVMF_UTIL_LOCK_H
#define NVMF_UTIL_LOCK_H

#include <pthread.h>

#ifdef NVMF_DEBUG_CHECKS
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void nvmf_lock_failed(const char *what, int rc, const char *file, int line)
{
	fprintf(stderr, "%s:%d: %s: %s\n", file, line, what, strerror(rc));
	abort();
}

static inline void nvmf_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(m, &attr);
	pthread_mutexattr_destroy(&attr);
}

#define nvmf_mutex_lock(m)                                                              \
	do {                                                                            \
		int nvmf_rc_ = pthread_mutex_lock(m);                                   \
		if (nvmf_rc_ != 0)                                                      \
			nvmf_lock_failed("pthread_mutex_lock", nvmf_rc_, __FILE__, __LINE__); \
	} while (0)
#define nvmf_mutex_unlock(m)                                                            \
	do {                                                                            \
		int nvmf_rc_ = pthread_mutex_unlock(m);                                 \
		if (nvmf_rc_ != 0)                                                      \
			nvmf_lock_failed("pthread_mutex_unlock", nvmf_rc_, __FILE__, __LINE__); \
	} while (0)

/* glibc records the owner's thread ID in every error-checking mutex. */
#define NVMF_ASSERT_LOCKED(m)                                                           \
	do {                                                                            \
		if ((m)->__data.__owner != gettid())                                    \
			nvmf_lock_failed("lock not held by this thread", EPERM, __FILE__, \
					 __LINE__);                                     \
	} while (0)
#define NVMF_ASSERT(cond)                                                               \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                 \
			abort();                                                        \
		}                                                                       \
	} while (0)
#else
static inline void nvmf_mutex_init(pthread_mutex_t *m)
{
	pthread_mutex_init(m, NULL);
}
#define nvmf_mutex_lock(m) pthread_mutex_lock(m)
#define nvmf_mutex_unlock(m) pthread_mutex_unlock(m)
#define NVMF_ASSERT_LOCKED(m) ((void)(m))
#define NVMF_ASSERT(cond) ((void)0)
#endif

#endif
