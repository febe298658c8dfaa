/* SPDX-License-Identifier: MIT */
#include "util/thread.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void nvmf_thread_name(pthread_t thread, const char *fmt, ...)
{
	char name[16]; /* the kernel's TASK_COMM_LEN */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	/* Best effort: a name is for people reading top. */
	(void)pthread_setname_np(thread, name);
}

int nvmf_affinity_cpus(int *cpus, int max)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) {
		for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
			if (!CPU_ISSET(cpu, &set))
				continue;
			if (n < max)
				cpus[n] = cpu;
			n++;
		}
		return n;
	}
	/* No mask to be had: every online CPU, in order. */
	n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	for (int i = 0; i < n && i < max; i++)
		cpus[i] = i;
	return n;
}
