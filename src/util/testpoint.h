/* SPDX-License-Identifier: MIT */
/*
 * Test points: named places in the library where a test can run code, to
 * put a race's two sides in a chosen order instead of hoping for it.
 * Compiled into Debug builds only (NVMF_DEBUG_CHECKS: the ASan and TSan
 * builds of the suite); release builds have none, at no cost.  A test sets
 * nvmf_testpoint_hook before it starts the threads that reach the points.
 * At a fault point (NVMF_FAULT) the hook's return value, when not 0, is an
 * errno the code takes as the result of the operation that follows.
 */
#ifndef NVMF_UTIL_TESTPOINT_H
#define NVMF_UTIL_TESTPOINT_H

/* name: the point ("layer.function.where"); arg: the object it concerns.
 * Returns 0, or at a fault point the errno to inject. */
typedef int nvmf_testpoint_fn(const char *name, void *arg);

#ifdef NVMF_DEBUG_CHECKS
#include <stddef.h>

extern nvmf_testpoint_fn *nvmf_testpoint_hook;
static inline int nvmf_testpoint_call(const char *name, void *arg)
{
	nvmf_testpoint_fn *fn = __atomic_load_n(&nvmf_testpoint_hook, __ATOMIC_ACQUIRE);

	return fn != NULL ? fn(name, arg) : 0;
}
#define NVMF_TESTPOINT(name, arg) ((void)nvmf_testpoint_call(name, arg))
#define NVMF_FAULT(name, arg) nvmf_testpoint_call(name, arg)
#else
#define NVMF_TESTPOINT(name, arg) ((void)(arg))
#define NVMF_FAULT(name, arg) ((void)(arg), 0)
#endif

#endif
