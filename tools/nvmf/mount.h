/* SPDX-License-Identifier: MIT */
/*
 * nvmf mount: what its three parts share.  Calls go one way:
 *   mount.c     process: mount point, daemon, FUSE session, nvmf mount/umount
 *   mount_fs.c  file system: namespaces as files, the FUSE operations
 *   mount_io.c  I/O path: queue slots, block ranges, requests, zeroing;
 *               and the messages and clocks every part uses
 */
#ifndef NVMF_TOOL_MOUNT_H
#define NVMF_TOOL_MOUNT_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "nvmf/host.h"

struct cli;

#define MOUNT_MAX_IO (1u << 20)       /* largest FUSE read/write: the kernel's max_pages */
#define PID_XATTR "user.nvmf.pid"     /* on the root: the daemon's pid, for nvmf umount */

/* A write's block range, held from before its edge reads to its completion. */
struct range {
	uint64_t start, end;            /* blocks [start, end) */
	struct range *next;             /* the namespace's other held ranges */
};

/* A namespace as a file.  Never freed while mounted: handles point here. */
struct nsfile {
	uint32_t nsid;
	struct nvmf_ns *ns;
	_Atomic bool active;            /* listed by the controller now */
	_Atomic uint64_t size;          /* capacity in bytes */
	/* Bumped when the NSID comes back: it may name another namespace. */
	_Atomic uint32_t generation;

	pthread_mutex_t lock;           /* guards busy and waiters */
	pthread_cond_t cond;            /* a range was released (CLOCK_MONOTONIC) */
	struct range *busy;             /* ranges held by writes and zeroing */
	unsigned waiters;               /* threads waiting for a range */
};

/* One mount: the controller, the FUSE session and what both parts share. */
struct mount {
	struct cli *cli;
	/* Several paths: I/O goes through mp, which retries a lost path's
	 * commands on another; ctrl is then one path's controller, for names
	 * and Identify data.  One path: mp is NULL and I/O goes to ctrl. */
	struct nvmf_mpath *mp;
	struct nvmf_ctrl *ctrl;
	struct fuse_session *se;
	const char *mountpoint;
	bool daemon;                  /* forked off the terminal (no --foreground) */
	uid_t uid;                    /* owner of every file */
	gid_t gid;
	struct timespec mount_time;   /* every file's times */

	unsigned nq;                  /* I/O queues (1 over several paths) */
	unsigned depth;               /* slots per I/O queue (one path's slots) */
	sem_t permits;                /* free slots over all queues */
	_Atomic unsigned *inflight;   /* per I/O queue */
	_Atomic unsigned next_q;      /* where the next slot search starts */
	_Atomic long ios;             /* struct io alive */
	_Atomic uint64_t last_error_log_ns;

	pthread_mutex_t ns_lock;      /* guards files and nfiles */
	struct nsfile **files;        /* sorted by NSID */
	size_t nfiles;

	pthread_t watcher;            /* rescans namespaces on AENs and every second */
	pthread_mutex_t watch_lock;   /* guards watch_event and watch_stop */
	pthread_cond_t watch_cond;
	bool watch_event;
	bool watch_stop;
};

enum io_kind { IO_READ, IO_WRITE, IO_FLUSH };

struct io_part;
struct waiter;

/* One request: its commands (parts) and the blocks they move. */
struct io {
	struct mount *m;
	struct nsfile *f;
	fuse_req_t req;                /* NULL for internal requests */
	enum io_kind kind;
	void (*done)(struct io *io);   /* runs once, when the last part completed */
	struct waiter *waiter;         /* for internal requests */
	uint64_t slba;
	uint64_t nlb;
	uint32_t shift;                /* log2 of the block size */
	uint64_t step;                 /* blocks per command */
	unsigned io_flags;             /* NVMF_IO_* for Writes */
	size_t skip;                   /* the caller's bytes within data */
	size_t len;
	struct range range;
	bool range_held;
	_Atomic unsigned pending;
	_Atomic int error;             /* first failure, a positive errno */
	unsigned nparts;
	struct io_part *parts;
	uint8_t *data;
};

/* Messages and clocks, for every part (mount_io.c). */
void mount_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mount_log_to_syslog(void);
struct timespec mount_deadline(unsigned ms);
/* A live path's controller if there is one, for namespace lists. */
struct nvmf_ctrl *mount_ctrl(struct mount *m);
bool mount_live(struct mount *m);
int mount_flush_sync(struct mount *m, struct nsfile *f);

/* The I/O path (mount_io.c). */
struct io *mount_io_new(struct mount *m, struct nsfile *f, enum io_kind kind, uint64_t slba,
			uint64_t nlb, uint32_t shift);
void mount_io_free(struct io *io);
void mount_io_submit(struct io *io);
int mount_io_range_lock(struct mount *m, struct nsfile *f, struct range *r);
void mount_io_range_unlock(struct nsfile *f, struct range *r);
int mount_io_read_edges(struct mount *m, struct io *io, uint64_t off, size_t len);
int mount_io_zero_range(struct mount *m, struct nsfile *f, uint64_t off, uint64_t end,
			bool punch);

/* The file system (mount_fs.c). */
extern const struct fuse_lowlevel_ops mount_fs_ops;
void mount_fs_sync_namespaces(struct mount *m, bool notify);
void mount_fs_on_aen(void *arg, uint32_t cdw0, const void *log, size_t log_len);
void *mount_fs_watcher(void *arg);

#endif
