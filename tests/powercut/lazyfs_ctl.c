/* SPDX-License-Identifier: MIT */
#include "powercut/lazyfs_ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/test_util.h"

#ifndef LAZYFS_PATH
#error "LAZYFS_PATH must name the lazyfs binary"
#endif

#define MOUNT_TIMEOUT_MS 30000
#define UNMOUNT_TIMEOUT_MS 30000
#define MAX_MOUNTS 4
#define LOG_SHOWN 8192

static struct lazyfs *mounts[MAX_MOUNTS];

/* The end of lazyfs's log, on stderr; or in line[], its lines joined by "; ". */
static void show_log(const struct lazyfs *l, char *line, size_t linelen)
{
	char buf[LOG_SHOWN + 1];
	FILE *f = fopen(l->log, "r");
	size_t n = 0;

	if (f != NULL) {
		if (fseek(f, 0, SEEK_END) == 0 && ftell(f) > LOG_SHOWN)
			fseek(f, -LOG_SHOWN, SEEK_END);
		else
			rewind(f);
		n = fread(buf, 1, LOG_SHOWN, f);
		fclose(f);
	}
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (line != NULL) {
		size_t o = 0;

		for (size_t i = 0; i < n && o + 3 <= linelen; i++) {
			if (buf[i] == '\n')
				line[o++] = ';';
			line[o++] = buf[i] == '\n' ? ' ' : buf[i];
		}
		line[o] = '\0';
		return;
	}
	fprintf(stderr, "lazyfs log (%s):\n%s\n", l->log, buf);
}

/* Wait for lazyfs to exit: its status (128 + signal if killed), -1 on timeout. */
static int wait_exit(struct lazyfs *l, int timeout_ms)
{
	uint64_t end = test_now_us() + (uint64_t)timeout_ms * 1000;
	int status;

	do {
		if (waitpid(l->pid, &status, WNOHANG) == l->pid) {
			l->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		usleep(10000);
	} while (test_now_us() < end);
	return -1;
}

static void forget(const struct lazyfs *l)
{
	for (int i = 0; i < MAX_MOUNTS; i++)
		if (mounts[i] == l)
			mounts[i] = NULL;
}

/* At exit: no mount may outlive the test (the scratch directory is removed after). */
static void take_down(void)
{
	for (int i = 0; i < MAX_MOUNTS; i++)
		if (mounts[i] != NULL && mounts[i]->pid > 0) {
			lazyfs_unmount(mounts[i]);
			mounts[i] = NULL;
		}
}

int lazyfs_mount(struct lazyfs *l, const char *dir, const char *name, bool direct_io)
{
	static bool registered;
	struct stat dst, st;
	uint64_t end;
	pid_t parent;
	int slot = -1;

	memset(l, 0, sizeof(*l));
	snprintf(l->backing, sizeof(l->backing), "%s/%s.disk", dir, name);
	snprintf(l->mnt, sizeof(l->mnt), "%s/%s", dir, name);
	snprintf(l->ctl, sizeof(l->ctl), "%s/.lazyfs", l->mnt);
	snprintf(l->log, sizeof(l->log), "%s/%s.lazyfs.log", dir, name);
	if (access("/dev/fuse", R_OK | W_OK) != 0) {
		printf("SKIP: FUSE cannot mount here: /dev/fuse: %s\n", strerror(errno));
		return LAZYFS_SKIP;
	}
	REQUIRE(mkdir(l->backing, 0700) == 0 && mkdir(l->mnt, 0700) == 0);
	REQUIRE(stat(dir, &dst) == 0);
	for (int i = 0; i < MAX_MOUNTS && slot < 0; i++)
		if (mounts[i] == NULL)
			slot = i;
	REQUIRE(slot >= 0);
	if (!registered) {
		atexit(take_down);
		registered = true;
	}
	parent = getpid();
	l->pid = fork();
	REQUIRE(l->pid >= 0);
	if (l->pid == 0) {
		int fd = open(l->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		/* A test that dies without its exit handlers (abort) still gets its mount
		 * taken down: lazyfs unmounts on SIGTERM. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
			_exit(1);
		dup2(fd, 1);
		dup2(fd, 2);
		if (direct_io)
			execl(LAZYFS_PATH, "lazyfs", "--direct-io", l->backing, l->mnt, (char *)NULL);
		else
			execl(LAZYFS_PATH, "lazyfs", l->backing, l->mnt, (char *)NULL);
		_exit(127);
	}
	mounts[slot] = l;
	/* Served once the control file answers from another device than the directory's. */
	for (end = test_now_us() + MOUNT_TIMEOUT_MS * 1000ull; test_now_us() < end; usleep(10000)) {
		int status;

		if (stat(l->ctl, &st) == 0 && st.st_dev != dst.st_dev)
			return 0;
		if (waitpid(l->pid, &status, WNOHANG) == l->pid) {
			char why[256];

			l->pid = 0;
			forget(l);
			if (WIFEXITED(status) && WEXITSTATUS(status) == LAZYFS_SKIP) {
				show_log(l, why, sizeof(why));
				printf("SKIP: FUSE cannot mount here: %s\n", why);
				return LAZYFS_SKIP;
			}
			show_log(l, NULL, 0);
			fprintf(stderr, "lazyfs exited before mounting (status %#x)\n", status);
			exit(1);
		}
	}
	show_log(l, NULL, 0);
	fprintf(stderr, "lazyfs did not mount %s within %d ms\n", l->mnt, MOUNT_TIMEOUT_MS);
	exit(1);
}

void lazyfs_stats(const struct lazyfs *l, struct lazyfs_stats *s)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
#define F(x) {#x, offsetof(struct lazyfs_stats, x)}
		F(cuts), F(dropped_bytes), F(synced_bytes), F(unsynced_bytes), F(writes),
		F(dsync_writes), F(fsyncs), F(fdatasyncs), F(flushes),
#undef F
	};
	char buf[1024], *save = NULL;
	unsigned found = 0;
	int fd = open(l->ctl, O_RDONLY);
	ssize_t n;

	REQUIRE(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	REQUIRE(n > 0);
	buf[n] = '\0';
	memset(s, 0, sizeof(*s));
	for (char *line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[32];
		uint64_t v;

		if (sscanf(line, "%31s %" SCNu64, name, &v) != 2)
			continue;
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (strcmp(name, fields[i].name) == 0) {
				*(uint64_t *)((char *)s + fields[i].off) = v;
				found++;
			}
	}
	REQUIRE(found == sizeof(fields) / sizeof(fields[0]));
}

void lazyfs_cut(const struct lazyfs *l)
{
	int fd = open(l->ctl, O_WRONLY);

	REQUIRE(fd >= 0);
	REQUIRE(write(fd, "cut", 3) == 3);
	close(fd);
}

int lazyfs_unmount(struct lazyfs *l)
{
	int status;

	if (l->pid <= 0)
		return -1;
	forget(l);
	kill(l->pid, SIGTERM);
	status = wait_exit(l, UNMOUNT_TIMEOUT_MS);
	if (status < 0) {
		fprintf(stderr, "lazyfs did not exit within %d ms of SIGTERM; killing it\n",
			UNMOUNT_TIMEOUT_MS);
		kill(l->pid, SIGKILL);
		waitpid(l->pid, NULL, 0);
		l->pid = 0;
	}
	if (status != 0) {
		/* It did not unmount: a dead mount must not stay behind. */
		umount2(l->mnt, MNT_DETACH);
		show_log(l, NULL, 0);
	}
	return status;
}
