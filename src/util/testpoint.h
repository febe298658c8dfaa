/* SPDX-License-Identifier: MIT */
/*
 * Test points: named places in the library where a test can run code, to
 * put a race's two sides in a chosen order instead of hoping for it.
 * Compiled into Debug builds only (NVMF_DEBUG_CHECKS: the ASan and TSan
 * builds of the suite); release builds have none, at no cost.  A test sets
 * nvmf_testpoint_hook before it starts the threads that reach the points.
 */
#ifndef NVMF_UTIL_TESTPOINT_H
#define NVMF_UTIL_TESTPOINT_H

/* name: the point ("layer.function.where"); arg: the object it concerns. */
typedef void nvmf_testpoint_fn(const char *name, void *arg);

#ifdef NVMF_DEBUG_CHECKS
extern nvmf_testpoint_fn *nvmf_testpoint_hook;
#define NVMF_TESTPOINT(name, arg)                                                       \
	do {                                                                            \
		nvmf_testpoint_fn *nvmf_tp_ = __atomic_load_n(&nvmf_testpoint_hook,     \
							      __ATOMIC_ACQUIRE);        \
		if (nvmf_tp_ != NULL)                                                   \
			nvmf_tp_(name, arg);                                            \
	} while (0)
#else
#define NVMF_TESTPOINT(name, arg) ((void)(arg))
#endif

#endif
