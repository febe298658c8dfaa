/* SPDX-License-Identifier: MIT */
/*
 * Threads: names that `top -H` and /proc/PID/task/TID/comm show, and the
 * CPUs the process may run on (its affinity mask: taskset, a cgroup
 * cpuset, systemd's CPUAffinity=), which is what sizes and places the
 * default engine's loops rather than the online CPUs.
 */
#ifndef NVMF_UTIL_THREAD_H
#define NVMF_UTIL_THREAD_H

#include <pthread.h>

/* Name a thread (printf format; cut to the kernel's 15 bytes). */
void nvmf_thread_name(pthread_t thread, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The first max CPUs of the calling thread's affinity mask, in order, into
 * cpus; returns how many the mask holds (at least 1): the online CPUs
 * where the mask cannot be read.
 */
int nvmf_affinity_cpus(int *cpus, int max);

#endif
