/* SPDX-License-Identifier: MIT */
/*
 * The tests' side of lazyfs (tests/powercut/lazyfs.c): mount it on a
 * scratch directory, read its counters, cut the power, unmount.  A lazyfs
 * still mounted when the test exits is taken down.
 */
#ifndef TESTS_POWERCUT_LAZYFS_CTL_H
#define TESTS_POWERCUT_LAZYFS_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define LAZYFS_SKIP 77

struct lazyfs {
	pid_t pid;
	char backing[256];        /* the "disk" */
	char mnt[256];            /* the mount */
	char ctl[300];            /* its control file */
	char log[300];            /* lazyfs's stderr */
};

/* Counters from the control file (see lazyfs.c). */
struct lazyfs_stats {
	uint64_t cuts, dropped_bytes, synced_bytes, unsynced_bytes, writes, dsync_writes, fsyncs,
		fdatasyncs, flushes;
};

/*
 * Mount lazyfs on DIR/NAME (backed by DIR/NAME.disk) and wait until it
 * serves.  0; LAZYFS_SKIP with a one-line reason printed when FUSE cannot
 * mount here; any other failure ends the test.
 */
int lazyfs_mount(struct lazyfs *l, const char *dir, const char *name, bool direct_io);
/* Read the counters; the test ends if the control file cannot be read. */
void lazyfs_stats(const struct lazyfs *l, struct lazyfs_stats *s);
/* Cut the power: every unsynced byte is gone when this returns. */
void lazyfs_cut(const struct lazyfs *l);
/* Unmount (SIGTERM) and wait: lazyfs's exit status, or -1. */
int lazyfs_unmount(struct lazyfs *l);

#endif
