/* SPDX-License-Identifier: MIT */
#include "robustness/daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/test_util.h"

#ifndef NVMFD_PATH
#error "NVMFD_PATH must name the nvmfd binary"
#endif

#define MAX_DAEMONS 8
#define START_TIMEOUT_MS 60000 /* as tests/util/nvmfd_ready.sh: a busy machine */
#define LOG_MAX (4u << 20)

static char dir[] = "/tmp/nvmf-robustness-XXXXXX";
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
	if (have_dir && getenv("ROB_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
}

const char *rob_dir(void)
{
	if (!have_dir) {
		REQUIRE(mkdtemp(dir) != NULL);
		have_dir = true;
		atexit(cleanup);
	}
	return dir;
}

void rob_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			perror("setrlimit(RLIMIT_NOFILE)");
	}
}

static void track(pid_t pid, pid_t replace)
{
	for (int i = 0; i < MAX_DAEMONS; i++)
		if (running[i] == replace) {
			running[i] = pid;
			return;
		}
}

/* The whole log (bounded), NUL-terminated; free() it. */
static char *read_log(const char *path)
{
	char *buf = malloc(LOG_MAX + 1);
	FILE *f = fopen(path, "r");
	size_t n = 0;

	REQUIRE(buf != NULL);
	if (f != NULL) {
		n = fread(buf, 1, LOG_MAX, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

unsigned daemon_log_count(const struct daemon *d, const char *text)
{
	char *log = read_log(d->log);
	unsigned n = 0;

	for (const char *p = strstr(log, text); p != NULL; p = strstr(p + 1, text))
		n++;
	free(log);
	return n;
}

static bool launch(struct daemon *d)
{
	pid_t pid;

	snprintf(d->log, sizeof(d->log), "%s/nvmfd-%u-%d.log", rob_dir(), (unsigned)d->port,
		 ++d->runs);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
#if defined(__SANITIZE_ADDRESS__)
		/* A bounded quarantine of freed memory, so memory checks mean something. */
		{
			const char *opts = getenv("ASAN_OPTIONS");
			char buf[512];

			if (opts == NULL || strstr(opts, "quarantine_size_mb") == NULL) {
				snprintf(buf, sizeof(buf), "%s%squarantine_size_mb=16",
					 opts != NULL ? opts : "", opts != NULL && *opts ? ":" : "");
				setenv("ASAN_OPTIONS", buf, 1);
			}
		}
#endif
		if (d->nofile > 0) {
			struct rlimit rl = {.rlim_cur = d->nofile, .rlim_max = d->nofile};

			setrlimit(RLIMIT_NOFILE, &rl);
		}
		execv(NVMFD_PATH, d->argv);
		_exit(127);
	}
	d->pid = pid;
	track(pid, 0);
	for (uint64_t end = test_now_us() + START_TIMEOUT_MS * 1000ull; test_now_us() < end;) {
		if (daemon_log_count(d, "nvmfd: ready") > 0)
			return true;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			track(0, pid);
			d->pid = 0;
			break;
		}
		usleep(10000);
	}
	{
		char *log = read_log(d->log);

		fprintf(stderr, "nvmfd did not start:\n%s\n", log);
		free(log);
	}
	return false;
}

bool daemon_start(struct daemon *d, const char *const *extra)
{
	return daemon_start_limited(d, extra, 0);
}

bool daemon_start_limited(struct daemon *d, const char *const *extra, unsigned nofile)
{
	int lfd;

	memset(d, 0, sizeof(*d));
	d->nofile = nofile;
	lfd = test_listen(&d->port);
	close(lfd);
	snprintf(d->port_text, sizeof(d->port_text), "%u", d->port);
	d->argv[d->argc++] = "nvmfd";
	d->argv[d->argc++] = "-s";
	d->argv[d->argc++] = d->port_text;
	d->argv[d->argc++] = "--discovery-port";
	d->argv[d->argc++] = "0";
	d->argv[d->argc++] = "-n";
	d->argv[d->argc++] = DAEMON_NQN;
	for (int i = 0; extra != NULL && extra[i] != NULL; i++) {
		REQUIRE(d->argc < DAEMON_MAX_ARGS - 1);
		d->argv[d->argc++] = (char *)extra[i];
	}
	d->argv[d->argc] = NULL;
	return launch(d);
}

bool daemon_restart(struct daemon *d)
{
	return launch(d);
}

bool daemon_alive(struct daemon *d)
{
	int status;

	if (d->pid <= 0)
		return false;
	if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
		fprintf(stderr, "nvmfd exited: %s %d\n", WIFEXITED(status) ? "status" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		track(0, d->pid);
		d->pid = 0;
		return false;
	}
	return true;
}

int daemon_stop(struct daemon *d, int sig, int timeout_ms)
{
	uint64_t end = test_now_us() + (uint64_t)timeout_ms * 1000;
	int status;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, sig);
	while (test_now_us() < end) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			track(0, d->pid);
			d->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		usleep(10000);
	}
	fprintf(stderr, "nvmfd did not exit within %d ms of signal %d; killing it\n", timeout_ms,
		sig);
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	track(0, d->pid);
	d->pid = 0;
	return -1;
}

long daemon_cpu_ms(const struct daemon *d)
{
	char path[64], buf[1024], *p;
	unsigned long utime, stime;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)d->pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After "(comm)": state is field 3, utime and stime fields 14 and 15. */
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				&utime, &stime) != 2)
		return -1;
	return (long)((utime + stime) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

int daemon_fds(const struct daemon *d)
{
	char path[64];
	struct dirent *e;
	DIR *dp;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d->pid);
	dp = opendir(path);
	if (dp == NULL)
		return -1;
	while ((e = readdir(dp)) != NULL)
		n += e->d_name[0] != '.';
	closedir(dp);
	return n;
}

int daemon_socket_fds(const struct daemon *d)
{
	struct dirent *e;
	char path[64], link[64 + sizeof(e->d_name)], target[64];
	DIR *dp;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d->pid);
	dp = opendir(path);
	if (dp == NULL)
		return -1;
	while ((e = readdir(dp)) != NULL) {
		ssize_t len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		n += len > 7 && strncmp(target, "socket:", 7) == 0;
	}
	closedir(dp);
	return n;
}

long daemon_status(const struct daemon *d, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)d->pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			v = strtol(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

int daemon_wait_fds(const struct daemon *d, int max, int timeout_ms)
{
	uint64_t end = test_now_us() + (uint64_t)timeout_ms * 1000;
	int n;

	while ((n = daemon_fds(d)) > max && test_now_us() < end)
		usleep(20000);
	return n;
}

int daemon_tcp_conns(const struct daemon *d)
{
	char line[512];
	FILE *f = fopen("/proc/net/tcp", "r");
	int n = 0;

	if (f == NULL)
		return -1;
	/* "sl local_address rem_address st ...": count local :PORT in state 01. */
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned lport, state;

		if (sscanf(line, " %*u: %*x:%x %*x:%*x %x", &lport, &state) == 2 &&
		    lport == d->port && state == 1)
			n++;
	}
	fclose(f);
	return n;
}
