/* SPDX-License-Identifier: MIT */
/*
 * nvmfd as a child process for the host tests: start it on free ports,
 * wait until it is ready, stop (gracefully or with SIGKILL), restart it
 * with the same arguments.  Every daemon still running at exit is killed.
 */
#ifndef TESTS_HOST_NVMFD_PROC_H
#define TESTS_HOST_NVMFD_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define NVMFD_MAX_ARGS 24

struct nvmfd_proc {
	pid_t pid;
	uint16_t port;
	uint16_t disc_port;
	char port_text[8];
	char disc_text[8];
	char log[256];
	char *argv[NVMFD_MAX_ARGS];
	int argc;
};

/* A scratch directory for the test (created once, removed at exit). */
const char *nvmfd_dir(void);
uint16_t nvmfd_free_port(void);
/*
 * Start nvmfd --discovery-port DPORT -s PORT -n nqn EXTRA... (extra ends
 * with NULL; with nqn NULL, no -s/-n: a -c configuration names the port);
 * false if it did not come up.
 */
bool nvmfd_start(struct nvmfd_proc *d, const char *nqn, const char *const *extra);
/* The same on given ports. */
bool nvmfd_start_ports(struct nvmfd_proc *d, uint16_t port, uint16_t disc_port, const char *nqn,
		       const char *const *extra);
/* Start again with the same arguments and ports. */
bool nvmfd_restart(struct nvmfd_proc *d);
/* SIGKILL (graceful false) or SIGTERM, and reap. */
void nvmfd_stop(struct nvmfd_proc *d, bool graceful);
/* kill(); for SIGSTOP, returns once every nvmfd thread has stopped. */
void nvmfd_signal(struct nvmfd_proc *d, int sig);
void nvmfd_write_file(const char *path, const char *text);

#endif
