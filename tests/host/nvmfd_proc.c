/* SPDX-License-Identifier: MIT */
#include "host/nvmfd_proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/test_util.h"

#ifndef NVMFD_PATH
#error "NVMFD_PATH must name the nvmfd binary"
#endif

#define MAX_DAEMONS 16
#define NVMFD_READY_S 60

static char dir[] = "/tmp/nvmf-host-test-XXXXXX";
static bool have_dir;
static pid_t running[MAX_DAEMONS];

static void cleanup(void)
{
	char cmd[128];

	for (int i = 0; i < MAX_DAEMONS; i++)
		if (running[i] > 0) {
			kill(running[i], SIGKILL);
			waitpid(running[i], NULL, 0);
		}
	if (have_dir) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
}

const char *nvmfd_dir(void)
{
	if (!have_dir) {
		REQUIRE(mkdtemp(dir) != NULL);
		have_dir = true;
		atexit(cleanup);
	}
	return dir;
}

uint16_t nvmfd_free_port(void)
{
	uint16_t port;
	int fd = test_listen(&port);

	close(fd);
	return port;
}

static void track(pid_t pid, pid_t replace)
{
	for (int i = 0; i < MAX_DAEMONS; i++)
		if (running[i] == replace) {
			running[i] = pid;
			return;
		}
}

static bool log_says_ready(const char *path)
{
	char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return strstr(buf, "nvmfd: ready") != NULL;
}

/* Why nvmfd did not get ready: its exit status if it exited, then its log. */
static void report_no_start(const struct nvmfd_proc *d, pid_t pid, int status, bool exited)
{
	char line[512];
	FILE *f = fopen(d->log, "r");

	if (exited)
		fprintf(stderr, "nvmfd did not start: it %s %d; its log (%s):\n",
			WIFEXITED(status) ? "exited with" : "died of signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), d->log);
	else
		fprintf(stderr, "nvmfd (pid %d) not ready within %d s; its log (%s):\n", (int)pid,
			NVMFD_READY_S, d->log);
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		fprintf(stderr, "  | %s", line);
	if (f != NULL)
		fclose(f);
}

static bool launch(struct nvmfd_proc *d)
{
	static int runs;
	uint64_t deadline;
	int status = 0;
	bool exited = false;
	pid_t pid;

	snprintf(d->log, sizeof(d->log), "%s/nvmfd-%d.log", nvmfd_dir(), ++runs);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(NVMFD_PATH, d->argv);
		_exit(127);
	}
	d->pid = pid;
	track(pid, 0);
	/* As tests/util/nvmfd_ready.sh: room for a machine that is busy. */
	deadline = test_now_us() + NVMFD_READY_S * 1000000ull;
	while (test_now_us() < deadline) {
		if (log_says_ready(d->log))
			return true;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			track(0, pid);
			d->pid = 0;
			exited = true;
			break;
		}
		usleep(10000);
	}
	report_no_start(d, pid, status, exited);
	return false;
}

bool nvmfd_start(struct nvmfd_proc *d, const char *nqn, const char *const *extra)
{
	uint16_t port = nvmfd_free_port();

	return nvmfd_start_ports(d, port, nvmfd_free_port(), nqn, extra);
}

bool nvmfd_start_ports(struct nvmfd_proc *d, uint16_t port, uint16_t disc_port, const char *nqn,
		       const char *const *extra)
{
	memset(d, 0, sizeof(*d));
	d->port = port;
	d->disc_port = disc_port;
	snprintf(d->port_text, sizeof(d->port_text), "%u", d->port);
	snprintf(d->disc_text, sizeof(d->disc_text), "%u", d->disc_port);
	d->argv[d->argc++] = "nvmfd";
	d->argv[d->argc++] = "--discovery-port";
	d->argv[d->argc++] = d->disc_text;
	if (nqn != NULL) {
		d->argv[d->argc++] = "-s";
		d->argv[d->argc++] = d->port_text;
		d->argv[d->argc++] = "-n";
		d->argv[d->argc++] = (char *)nqn;
	}
	for (int i = 0; extra != NULL && extra[i] != NULL; i++) {
		REQUIRE(d->argc < NVMFD_MAX_ARGS - 1);
		d->argv[d->argc++] = (char *)extra[i];
	}
	d->argv[d->argc] = NULL;
	return launch(d);
}

bool nvmfd_restart(struct nvmfd_proc *d)
{
	return launch(d);
}

/* Every thread of pid stopped (state T or t in /proc), or gone. */
static bool all_threads_stopped(pid_t pid)
{
	char path[64];
	struct dirent *e;
	bool stopped = true;
	DIR *tasks;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	tasks = opendir(path);
	if (tasks == NULL)
		return true;
	while (stopped && (e = readdir(tasks)) != NULL) {
		char stat[256], *p;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/stat", (int)pid, e->d_name);
		f = fopen(path, "re");
		if (f == NULL)
			continue;
		/* "tid (comm) S ...": the state follows the last ')'. */
		if (fgets(stat, sizeof(stat), f) != NULL && (p = strrchr(stat, ')')) != NULL)
			stopped = p[1] == ' ' && (p[2] == 'T' || p[2] == 't');
		fclose(f);
	}
	closedir(tasks);
	return stopped;
}

void nvmfd_signal(struct nvmfd_proc *d, int sig)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, sig);
	/*
	 * kill() returns before the stop takes effect: until every thread has
	 * stopped, nvmfd may still answer what the caller sends next (the
	 * command-timeout test then saw its write complete, no timeout).
	 */
	for (int i = 0; sig == SIGSTOP && i < 2000 && !all_threads_stopped(d->pid); i++)
		usleep(1000);
}

void nvmfd_stop(struct nvmfd_proc *d, bool graceful)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, graceful ? SIGTERM : SIGKILL);
	waitpid(d->pid, NULL, 0);
	track(0, d->pid);
	d->pid = 0;
}

void nvmfd_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f != NULL);
	fputs(text, f);
	REQUIRE(fclose(f) == 0);
}
