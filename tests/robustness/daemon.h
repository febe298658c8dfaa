/* SPDX-License-Identifier: MIT */
/*
 * nvmfd as a child process for the robustness tests, and what they measure
 * of it from outside: liveness, exit status, open file descriptors, memory
 * (/proc/PID/status), threads, log lines.  Every daemon still running at
 * exit is killed; the scratch directory is removed.
 */
#ifndef TESTS_ROBUSTNESS_DAEMON_H
#define TESTS_ROBUSTNESS_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define DAEMON_MAX_ARGS 48
#define DAEMON_NQN "nqn.2024-01.org.nvmfd:robustness"

struct daemon {
	pid_t pid;
	uint16_t port;
	char port_text[8];
	char log[256];
	char *argv[DAEMON_MAX_ARGS];
	int argc;
	int runs;
	unsigned nofile;          /* set before start: the child's open-file limit */
};

/* The scratch directory (created on first use, removed at exit). */
const char *rob_dir(void);
/* Raise this process's open-file limit to the hard limit (children inherit it). */
void rob_raise_nofile(void);

/*
 * Start nvmfd -s PORT --discovery-port 0 -n DAEMON_NQN EXTRA... (NULL-
 * terminated) on a free port and wait for "ready"; false if it did not come
 * up (its log is printed).
 */
bool daemon_start(struct daemon *d, const char *const *extra);
/* The same, with the child's open-file limit (soft and hard) at nofile. */
bool daemon_start_limited(struct daemon *d, const char *const *extra, unsigned nofile);
/* Start again with the same arguments and port (a new log). */
bool daemon_restart(struct daemon *d);
bool daemon_alive(struct daemon *d);
/* Send sig and wait for the exit: its status, 128 + signal, or -1 on timeout. */
int daemon_stop(struct daemon *d, int sig, int timeout_ms);

/* CPU time the daemon has used (user + system), ms; -1. */
long daemon_cpu_ms(const struct daemon *d);
/* Open file descriptors, or -1. */
int daemon_fds(const struct daemon *d);
/* A /proc/PID/status field in kB (VmRSS, VmHWM, VmPeak) or count (Threads); -1. */
long daemon_status(const struct daemon *d, const char *field);
/* Wait until at most max fds are open; the last count seen. */
int daemon_wait_fds(const struct daemon *d, int max, int timeout_ms);
/* Sockets the daemon holds open (its listeners included). */
int daemon_socket_fds(const struct daemon *d);
/* Established TCP connections on the daemon's port (from /proc/net/tcp). */
int daemon_tcp_conns(const struct daemon *d);
/* How often the current log contains text. */
unsigned daemon_log_count(const struct daemon *d, const char *text);

#endif
