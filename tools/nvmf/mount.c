/* SPDX-License-Identifier: MIT */
/*
 * nvmf mount / nvmf umount: a remote controller's namespaces as files
 * MOUNTPOINT/n<NSID> through FUSE (libfuse3, low-level API).
 *
 * I/O is direct: every read and write becomes NVMe Reads and Writes, split
 * at the controller's transfer limit and spread over all I/O queues.  The
 * FUSE threads only submit; completions arrive on the transport's threads,
 * which answer the kernel themselves, so a handful of FUSE threads keep
 * every queue slot busy.  Permits (one per queue slot) keep submissions
 * from ever finding a queue full.
 *
 * Writes that do not cover whole blocks read the edge blocks, merge and
 * write them back; every write holds its block range for its whole life,
 * so two writers sharing an edge block never lose each other's bytes.
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "nvmf.h"
#include "nvmf/log.h"

#define MOUNT_MAX_IO (1u << 20)       /* largest FUSE read/write: the kernel's max_pages */
#define MOUNT_FUSE_THREADS 16         /* handlers mostly submit and return */
#define MOUNT_ATTR_TIMEOUT 1.0        /* namespace changes are also pushed */
#define MOUNT_RESCAN_MS 1000          /* catches changes across a reconnect */
#define MOUNT_WAIT_SLICE_MS 200       /* blocked handlers look for unmount this often */
#define MOUNT_UMOUNT_WAIT_S 120       /* nvmf umount waits this long for the daemon */
#define MOUNT_MALLOC_KEEP (256u << 20) /* freed request buffers glibc keeps */
#define NLB_MAX 65536u
#define PID_XATTR "user.nvmf.pid"
#define FSTYPE "fuse.nvmf"

/* A write's block range, held from before its edge reads to its completion. */
struct range {
	uint64_t start, end;
	struct range *next;
};

/* A namespace as a file.  Never freed while mounted: handles point here. */
struct nsfile {
	uint32_t nsid;
	struct nvmf_ns *ns;
	_Atomic bool active;
	_Atomic uint64_t size;
	/* Bumped when the NSID comes back: it may name another namespace. */
	_Atomic uint32_t generation;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct range *busy;
	unsigned waiters;
};

/* What fi->fh points to. */
struct handle {
	struct nsfile *f;
	uint32_t generation;
};

struct mount {
	struct cli *cli;
	struct nvmf_ctrl *ctrl;
	struct fuse_session *se;
	const char *mountpoint;
	bool daemon;
	uid_t uid;
	gid_t gid;
	struct timespec mount_time;

	unsigned nq;
	unsigned depth;
	sem_t permits;
	_Atomic unsigned *inflight;   /* per I/O queue */
	_Atomic unsigned next_q;
	_Atomic long ios;             /* struct io alive */
	_Atomic uint64_t last_error_log_ns;

	pthread_mutex_t ns_lock;
	struct nsfile **files;        /* sorted by NSID */
	size_t nfiles;

	pthread_t watcher;
	pthread_mutex_t watch_lock;
	pthread_cond_t watch_cond;
	bool watch_event;
	bool watch_stop;
};

enum io_kind { IO_READ, IO_WRITE, IO_FLUSH };

struct io;

struct io_part {
	struct io *io;
	unsigned ioq;
};

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

/* One request: its commands (parts) and the blocks they move. */
struct io {
	struct mount *m;
	struct nsfile *f;
	fuse_req_t req;                /* NULL for internal requests */
	enum io_kind kind;
	void (*done)(struct io *io);
	struct waiter *waiter;
	uint64_t slba;
	uint64_t nlb;
	uint32_t shift;
	unsigned io_flags;
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

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

static bool log_to_syslog;

static void mount_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mount_log(int prio, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_to_syslog)
		syslog(prio, "%s", msg);
	else
		fprintf(stderr, "nvmf mount: %s\n", msg);
}

/* Library messages once the daemon has no terminal. */
static void syslog_sink(enum nvmf_log_level level, const char *msg)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

	syslog(prio[level], "%s", msg);
}

static void fuse_log_sink(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	if (n > 0 && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	mount_log(level <= FUSE_LOG_ERR ? LOG_ERR : LOG_WARNING, "%s", msg);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timespec mono_deadline(unsigned ms)
{
	uint64_t t = mono_ns() + (uint64_t)ms * 1000000u;

	return (struct timespec){.tv_sec = (time_t)(t / 1000000000u),
				 .tv_nsec = (long)(t % 1000000000u)};
}

/* A failed command: logged at most once a second, so a lost target does not flood. */
static void log_io_error(struct mount *m, const struct io *io, const struct nvmf_cpl *cpl)
{
	static const char *const names[] = {"Read", "Write", "Flush"};
	uint64_t now = mono_ns(), last = atomic_load(&m->last_error_log_ns);
	char why[128];

	if (now - last < 1000000000u ||
	    !atomic_compare_exchange_strong(&m->last_error_log_ns, &last, now))
		return;
	mount_log(LOG_WARNING, "n%u: %s at block %" PRIu64 " failed: %s", io->f->nsid,
		  names[io->kind], io->slba, nvmf_cpl_str(cpl, why, sizeof(why)));
}

/* A library result (0, -errno, NVMe status) as the errno the caller gets. */
static int result_errno(int ret)
{
	if (ret == 0)
		return 0;
	if (ret == -ENOMEM || ret == -EINTR)
		return -ret;
	return EIO;
}

/* ------------------------------------------------------------------ */
/* Queue slots                                                         */
/* ------------------------------------------------------------------ */

/* Wait for a free slot on some I/O queue; its number, or -EINTR at unmount. */
static int permit_take(struct mount *m)
{
	while (sem_trywait(&m->permits) != 0) {
		struct timespec deadline = mono_deadline(MOUNT_WAIT_SLICE_MS);

		if (sem_clockwait(&m->permits, CLOCK_MONOTONIC, &deadline) == 0)
			break;
		if (m->se != NULL && fuse_session_exited(m->se))
			return -EINTR;
	}
	/* Holding a permit, some queue has room. */
	for (;;) {
		unsigned start = atomic_fetch_add(&m->next_q, 1);

		for (unsigned i = 0; i < m->nq; i++) {
			unsigned q = (start + i) % m->nq;
			unsigned cur = atomic_load(&m->inflight[q]);

			while (cur < m->depth)
				if (atomic_compare_exchange_weak(&m->inflight[q], &cur, cur + 1))
					return (int)q + 1;
		}
	}
}

static void permit_give(struct mount *m, unsigned ioq)
{
	atomic_fetch_sub(&m->inflight[ioq - 1], 1);
	sem_post(&m->permits);
}

/* ------------------------------------------------------------------ */
/* Block ranges                                                        */
/* ------------------------------------------------------------------ */

static bool range_busy(const struct nsfile *f, uint64_t start, uint64_t end)
{
	for (const struct range *r = f->busy; r != NULL; r = r->next)
		if (r->start < end && start < r->end)
			return true;
	return false;
}

/* Take [start, end) once no other write holds any of it; -EINTR at unmount. */
static int range_lock(struct mount *m, struct nsfile *f, struct range *r)
{
	pthread_mutex_lock(&f->lock);
	while (range_busy(f, r->start, r->end)) {
		struct timespec deadline = mono_deadline(MOUNT_WAIT_SLICE_MS);

		f->waiters++;
		pthread_cond_timedwait(&f->cond, &f->lock, &deadline);
		f->waiters--;
		if (fuse_session_exited(m->se)) {
			pthread_mutex_unlock(&f->lock);
			return -EINTR;
		}
	}
	r->next = f->busy;
	f->busy = r;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static void range_unlock(struct nsfile *f, struct range *r)
{
	pthread_mutex_lock(&f->lock);
	for (struct range **p = &f->busy; *p != NULL; p = &(*p)->next) {
		if (*p == r) {
			*p = r->next;
			break;
		}
	}
	if (f->waiters != 0)
		pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

/* Blocks per command: the transfer limit and the 16-bit NLB field. */
static uint64_t chunk_blocks(const struct mount *m, uint32_t shift)
{
	uint64_t n = nvmf_ctrl_max_io_size(m->ctrl) >> shift;

	return n == 0 ? 1 : n < NLB_MAX ? n : NLB_MAX;
}

/* A request over nlb blocks from slba, with a buffer for them (none for Flush). */
static struct io *io_new(struct mount *m, struct nsfile *f, enum io_kind kind, uint64_t slba,
			 uint64_t nlb, uint32_t shift)
{
	unsigned nparts = kind == IO_FLUSH ? 1
					   : (unsigned)((nlb + chunk_blocks(m, shift) - 1) /
							chunk_blocks(m, shift));
	size_t head = (sizeof(struct io) + nparts * sizeof(struct io_part) + 63) & ~(size_t)63;
	size_t bytes = kind == IO_FLUSH ? 0 : (size_t)nlb << shift;
	struct io *io = malloc(head + bytes);

	if (io == NULL)
		return NULL;
	*io = (struct io){.m = m, .f = f, .kind = kind, .slba = slba, .nlb = nlb, .shift = shift,
			  .nparts = nparts};
	io->parts = (struct io_part *)(io + 1);
	io->data = (uint8_t *)io + head;
	atomic_fetch_add(&m->ios, 1);
	return io;
}

static void io_free(struct io *io)
{
	atomic_fetch_sub(&io->m->ios, 1);
	free(io);
}

static void io_fail(struct io *io, int err)
{
	int none = 0;

	atomic_compare_exchange_strong(&io->error, &none, err);
}

static void io_put(struct io *io)
{
	if (atomic_fetch_sub(&io->pending, 1) == 1)
		io->done(io);
}

static void part_done(void *arg, const struct nvmf_cpl *cpl)
{
	struct io_part *part = arg;
	struct io *io = part->io;

	if (!nvmf_cpl_ok(cpl)) {
		log_io_error(io->m, io, cpl);
		io_fail(io, cpl->error == ENOMEM ? ENOMEM : EIO);
	}
	permit_give(io->m, part->ioq);
	io_put(io);
}

static int part_submit(struct io *io, unsigned i, uint64_t slba, uint32_t nlb, uint8_t *buf)
{
	struct io_part *part = &io->parts[i];
	struct nvmf_ns *ns = io->f->ns;

	part->io = io;
	for (;;) {
		int ioq = permit_take(io->m), ret;

		if (ioq < 0)
			return ioq;
		part->ioq = (unsigned)ioq;
		switch (io->kind) {
		case IO_READ:
			ret = nvmf_ns_read(ns, part->ioq, slba, nlb, buf, part_done, part);
			break;
		case IO_WRITE:
			ret = nvmf_ns_write(ns, part->ioq, slba, nlb, buf, io->io_flags, part_done,
					    part);
			break;
		default:
			ret = nvmf_ns_flush(ns, part->ioq, part_done, part);
			break;
		}
		if (ret == 0)
			return 0;
		permit_give(io->m, part->ioq);
		/* The library's own synchronous helpers (fallocate) may hold the slot. */
		if (ret != -EAGAIN)
			return ret;
		sched_yield();
	}
}

/* Send every part; io->done runs once the last one completed (perhaps at once). */
static void io_submit(struct io *io)
{
	uint64_t step = chunk_blocks(io->m, io->shift);

	atomic_store(&io->pending, io->nparts + 1);
	for (unsigned i = 0; i < io->nparts; i++) {
		uint64_t off = (uint64_t)i * step;
		uint32_t n = (uint32_t)(io->nlb - off < step ? io->nlb - off : step);
		int ret = part_submit(io, i, io->slba + off, n, io->data + (off << io->shift));

		if (ret != 0) {
			io_fail(io, result_errno(ret));
			io_put(io);
		}
	}
	io_put(io);
}

static void sync_done(struct io *io)
{
	struct waiter *w = io->waiter;

	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Run an internal request to the end; 0 or a positive errno. */
static int io_run(struct io *io)
{
	struct waiter w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

	io->waiter = &w;
	io->done = sync_done;
	io_submit(io);
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return atomic_load(&io->error);
}

/* Read or write whole blocks synchronously through buf; 0 or a positive errno. */
static int blocks_rw(struct mount *m, struct nsfile *f, enum io_kind kind, uint64_t slba,
		     uint64_t nlb, uint32_t shift, void *buf)
{
	struct io *io = io_new(m, f, kind, slba, nlb, shift);
	size_t bytes = (size_t)nlb << shift;
	int err;

	if (io == NULL)
		return ENOMEM;
	if (kind == IO_WRITE)
		memcpy(io->data, buf, bytes);
	err = io_run(io);
	if (err == 0 && kind == IO_READ)
		memcpy(buf, io->data, bytes);
	io_free(io);
	return err;
}

/* ------------------------------------------------------------------ */
/* Namespaces                                                          */
/* ------------------------------------------------------------------ */

static fuse_ino_t nsid_ino(uint32_t nsid)
{
	return (fuse_ino_t)nsid + 1; /* FUSE_ROOT_ID is 1 */
}

static struct nsfile *file_find_locked(struct mount *m, uint32_t nsid)
{
	size_t lo = 0, hi = m->nfiles;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (m->files[mid]->nsid == nsid)
			return m->files[mid];
		if (m->files[mid]->nsid < nsid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The active namespace behind an inode, or NULL. */
static struct nsfile *file_of_ino(struct mount *m, fuse_ino_t ino)
{
	struct nsfile *f = NULL;

	if (ino > FUSE_ROOT_ID && ino - 1 <= UINT32_MAX) {
		pthread_mutex_lock(&m->ns_lock);
		f = file_find_locked(m, (uint32_t)(ino - 1));
		pthread_mutex_unlock(&m->ns_lock);
	}
	return f != NULL && atomic_load(&f->active) ? f : NULL;
}

static struct nsfile *file_add_locked(struct mount *m, uint32_t nsid, struct nvmf_ns *ns)
{
	struct nsfile *f = calloc(1, sizeof(*f)), **grown;
	pthread_condattr_t attr;
	size_t pos = 0;

	grown = realloc(m->files, (m->nfiles + 1) * sizeof(*grown));
	if (f == NULL || grown == NULL) {
		free(f);
		if (grown != NULL)
			m->files = grown;
		return NULL;
	}
	m->files = grown;
	f->nsid = nsid;
	f->ns = ns;
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cond, &attr);
	pthread_condattr_destroy(&attr);
	while (pos < m->nfiles && m->files[pos]->nsid < nsid)
		pos++;
	memmove(&m->files[pos + 1], &m->files[pos], (m->nfiles - pos) * sizeof(*grown));
	m->files[pos] = f;
	m->nfiles++;
	return f;
}

enum ns_change { NS_SAME, NS_APPEARED, NS_GONE, NS_RESIZED };

struct change {
	uint32_t nsid;
	enum ns_change what;
	uint64_t size;
};

static void size_str(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double v = (double)bytes;
	int u = -1;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64 " bytes", bytes);
	else
		snprintf(buf, len, "%.4g %ciB", v, units[u]);
}

static int nsid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Bring the file table in line with the controller's namespace list; with
 * notify, tell the kernel and the log what changed.
 */
static void sync_namespaces(struct mount *m, bool notify)
{
	size_t max = 256, n;
	uint32_t *ids = NULL;
	struct change *changes = NULL;
	size_t nchanges = 0;

	for (;;) {
		uint32_t *grown = realloc(ids, max * sizeof(*ids));

		if (grown == NULL)
			goto out;
		ids = grown;
		n = nvmf_ctrl_ns_list(m->ctrl, ids, max);
		if (n <= max)
			break;
		max = n;
	}
	pthread_mutex_lock(&m->ns_lock);
	changes = calloc(n + m->nfiles + 1, sizeof(*changes));
	if (changes == NULL) {
		pthread_mutex_unlock(&m->ns_lock);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct nvmf_ns *ns = nvmf_ctrl_ns(m->ctrl, ids[i]);
		struct nsfile *f = file_find_locked(m, ids[i]);
		uint64_t size;

		if (ns == NULL)
			continue;
		size = nvmf_ns_size_bytes(ns);
		if (f == NULL && (f = file_add_locked(m, ids[i], ns)) == NULL)
			continue;
		if (!atomic_load(&f->active)) {
			atomic_fetch_add(&f->generation, 1);
			atomic_store(&f->size, size);
			atomic_store(&f->active, true);
			changes[nchanges++] = (struct change){ids[i], NS_APPEARED, size};
		} else if (atomic_load(&f->size) != size) {
			atomic_store(&f->size, size);
			changes[nchanges++] = (struct change){ids[i], NS_RESIZED, size};
		}
	}
	for (size_t i = 0; i < m->nfiles; i++) {
		struct nsfile *f = m->files[i];
		bool listed = bsearch(&f->nsid, ids, n, sizeof(*ids), nsid_cmp) != NULL;

		if (!listed && atomic_load(&f->active)) {
			atomic_store(&f->active, false);
			changes[nchanges++] = (struct change){f->nsid, NS_GONE, 0};
		}
	}
	pthread_mutex_unlock(&m->ns_lock);
	/* Outside ns_lock: the kernel may call back in while it handles these. */
	for (size_t i = 0; notify && i < nchanges; i++) {
		const struct change *c = &changes[i];
		char name[16], size[32];

		snprintf(name, sizeof(name), "n%u", c->nsid);
		size_str(c->size, size, sizeof(size));
		if (c->what == NS_RESIZED) {
			fuse_lowlevel_notify_inval_inode(m->se, nsid_ino(c->nsid), 0, 0);
			mount_log(LOG_INFO, "%s: capacity now %s", name, size);
			continue;
		}
		fuse_lowlevel_notify_inval_entry(m->se, FUSE_ROOT_ID, name, strlen(name));
		if (c->what == NS_APPEARED)
			mount_log(LOG_INFO, "%s appeared (%s)", name, size);
		else
			mount_log(LOG_INFO, "%s went away", name);
	}
out:
	free(changes);
	free(ids);
}

/* Called on the controller's thread: only wake the watcher. */
static void on_aen(void *arg, uint32_t cdw0, const void *log, size_t log_len)
{
	struct mount *m = arg;

	pthread_mutex_lock(&m->watch_lock);
	m->watch_event = true;
	pthread_cond_signal(&m->watch_cond);
	pthread_mutex_unlock(&m->watch_lock);
}

static void *watcher_main(void *arg)
{
	struct mount *m = arg;

	pthread_mutex_lock(&m->watch_lock);
	while (!m->watch_stop) {
		struct timespec deadline = mono_deadline(MOUNT_RESCAN_MS);

		while (!m->watch_event && !m->watch_stop &&
		       pthread_cond_timedwait(&m->watch_cond, &m->watch_lock, &deadline) == 0)
			;
		if (m->watch_stop)
			break;
		m->watch_event = false;
		pthread_mutex_unlock(&m->watch_lock);
		sync_namespaces(m, true);
		pthread_mutex_lock(&m->watch_lock);
	}
	pthread_mutex_unlock(&m->watch_lock);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* FUSE operations                                                     */
/* ------------------------------------------------------------------ */

static struct mount *req_mount(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void fill_attr(const struct mount *m, fuse_ino_t ino, const struct nsfile *f,
		      struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	st->st_atim = st->st_mtim = st->st_ctim = m->mount_time;
	if (f == NULL) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return;
	}
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_size = (off_t)atomic_load(&f->size);
	st->st_blksize = (blksize_t)nvmf_ns_lba_size(f->ns);
	st->st_blocks = (blkcnt_t)(atomic_load(&f->size) / 512);
}

/* "n<NSID>", decimal without leading zeros; 0 if the name is not one. */
static uint32_t parse_name(const char *name)
{
	uint64_t v = 0;

	if (name[0] != 'n' || name[1] < '1' || name[1] > '9')
		return 0;
	for (const char *p = name + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v > UINT32_MAX / 10)
			return 0;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	return v < 0xffffffffu ? (uint32_t)v : 0;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct mount *m = userdata;
	unsigned slots = m->nq * m->depth;

	conn->max_write = MOUNT_MAX_IO;
	conn->max_read = MOUNT_MAX_IO;
	conn->max_readahead = 0;
	/* Asynchronous direct I/O is "background" work: let it fill every slot. */
	conn->max_background = slots < 65535 ? slots : 65535;
	conn->congestion_threshold = conn->max_background * 3 / 4;
	conn->want |= conn->capable & (FUSE_CAP_ASYNC_DIO | FUSE_CAP_PARALLEL_DIROPS);
	conn->want &= ~(unsigned)(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_AUTO_INVAL_DATA |
				  FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_READDIRPLUS |
				  FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
				  FUSE_CAP_SPLICE_MOVE);
}

static void reply_entry(fuse_req_t req, struct mount *m, struct nsfile *f)
{
	struct fuse_entry_param e = {
		.ino = nsid_ino(f->nsid),
		.generation = atomic_load(&f->generation),
		.attr_timeout = MOUNT_ATTR_TIMEOUT,
		.entry_timeout = MOUNT_ATTR_TIMEOUT,
	};

	fill_attr(m, e.ino, f, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mount *m = req_mount(req);
	uint32_t nsid = parse_name(name);
	struct nsfile *f = parent == FUSE_ROOT_ID && nsid != 0 ? file_of_ino(m, nsid_ino(nsid))
							       : NULL;

	if (f == NULL)
		fuse_reply_err(req, ENOENT);
	else
		reply_entry(req, m, f);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mount *m = req_mount(req);
	struct nsfile *f = file_of_ino(m, ino);
	struct stat st;

	if (ino != FUSE_ROOT_ID && f == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(m, ino, f, &st);
	fuse_reply_attr(req, &st, MOUNT_ATTR_TIMEOUT);
}

/*
 * Sizes are the capacities.  A path truncation (what open(O_TRUNC) sends)
 * is ignored, as a block device ignores O_TRUNC; ftruncate to another size,
 * and owner or mode changes, are refused.  Times are accepted and dropped.
 */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct mount *m = req_mount(req);
	struct nsfile *f = file_of_ino(m, ino);
	struct stat st;

	if (ino != FUSE_ROOT_ID && f == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if ((to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) != 0 ||
	    ((to_set & FUSE_SET_ATTR_SIZE) != 0 &&
	     (f == NULL || (fi != NULL && (uint64_t)attr->st_size != atomic_load(&f->size))))) {
		fuse_reply_err(req, EPERM);
		return;
	}
	fill_attr(m, ino, f, &st);
	fuse_reply_attr(req, &st, MOUNT_ATTR_TIMEOUT);
}

/* Append one entry; false (and nothing added) when the buffer is full. */
static bool add_entry(fuse_req_t req, char *buf, size_t size, size_t *used, const char *name,
		      fuse_ino_t ino, mode_t mode, off_t next)
{
	struct stat st = {.st_ino = ino, .st_mode = mode};
	size_t n = fuse_add_direntry(req, buf + *used, size - *used, name, &st, next);

	if (n > size - *used)
		return false;
	*used += n;
	return true;
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct mount *m = req_mount(req);
	size_t used = 0;
	bool room = true;
	char *buf;

	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	buf = malloc(size);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* Offsets: "." 1, ".." 2, n<NSID> NSID + 2: stable while the list changes. */
	if (off < 1)
		room = add_entry(req, buf, size, &used, ".", FUSE_ROOT_ID, S_IFDIR, 1);
	if (off < 2 && room)
		room = add_entry(req, buf, size, &used, "..", FUSE_ROOT_ID, S_IFDIR, 2);
	pthread_mutex_lock(&m->ns_lock);
	for (size_t i = 0; i < m->nfiles && room; i++) {
		struct nsfile *f = m->files[i];
		char name[16];

		if ((off_t)f->nsid + 2 <= off || !atomic_load(&f->active))
			continue;
		snprintf(name, sizeof(name), "n%u", f->nsid);
		room = add_entry(req, buf, size, &used, name, nsid_ino(f->nsid), S_IFREG,
				 (off_t)f->nsid + 2);
	}
	pthread_mutex_unlock(&m->ns_lock);
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mount *m = req_mount(req);
	struct nsfile *f = file_of_ino(m, ino);
	struct handle *h;

	if (f == NULL) {
		fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR : ENOENT);
		return;
	}
	h = malloc(sizeof(*h));
	if (h == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	*h = (struct handle){.f = f, .generation = atomic_load(&f->generation)};
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1; /* no page cache: the target's data, always */
	fi->keep_cache = 0;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	free((struct handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* The namespace an open file still names, or NULL if it went away (or was replaced). */
static struct nsfile *handle_file(const struct fuse_file_info *fi)
{
	const struct handle *h = (const struct handle *)(uintptr_t)fi->fh;

	if (!atomic_load(&h->f->active) || atomic_load(&h->f->generation) != h->generation)
		return NULL;
	return h->f;
}

static void read_done(struct io *io)
{
	int err = atomic_load(&io->error);

	if (err != 0)
		fuse_reply_err(io->req, err);
	else
		fuse_reply_buf(io->req, (const char *)io->data + io->skip, io->len);
	io_free(io);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct mount *m = req_mount(req);
	struct nsfile *f = handle_file(fi);
	uint64_t cap, end;
	uint32_t shift;
	struct io *io;

	if (f == NULL) {
		fuse_reply_err(req, EIO);
		return;
	}
	cap = atomic_load(&f->size);
	if (off < 0 || (uint64_t)off >= cap || size == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	end = (uint64_t)off + size < cap ? (uint64_t)off + size : cap;
	shift = (uint32_t)__builtin_ctz(nvmf_ns_lba_size(f->ns));
	io = io_new(m, f, IO_READ, (uint64_t)off >> shift,
		    ((end + (1u << shift) - 1) >> shift) - ((uint64_t)off >> shift), shift);
	if (io == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	io->req = req;
	io->done = read_done;
	io->skip = (size_t)((uint64_t)off & ((1u << shift) - 1));
	io->len = (size_t)(end - (uint64_t)off);
	io_submit(io);
}

static void write_done(struct io *io)
{
	int err = atomic_load(&io->error);

	if (io->range_held)
		range_unlock(io->f, &io->range);
	if (err != 0)
		fuse_reply_err(io->req, err);
	else
		fuse_reply_write(io->req, io->len);
	io_free(io);
}

/*
 * Fill the partial blocks at the edges of [off, off + len) in io->data with
 * what the namespace holds (the range is held).  0 or a positive errno.
 */
static int read_edges(struct mount *m, struct io *io, uint64_t off, size_t len)
{
	uint32_t bs = 1u << io->shift;
	uint64_t last = io->slba + io->nlb - 1;
	int err = 0;

	if (off % bs != 0)
		err = blocks_rw(m, io->f, IO_READ, io->slba, 1, io->shift, io->data);
	if (err == 0 && (off + len) % bs != 0 && (last != io->slba || off % bs == 0))
		err = blocks_rw(m, io->f, IO_READ, last, 1, io->shift,
				io->data + ((last - io->slba) << io->shift));
	return err;
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct mount *m = req_mount(req);
	struct nsfile *f = handle_file(fi);
	uint64_t cap, end, slba;
	uint32_t shift;
	struct io *io;
	int err;

	if (f == NULL) {
		fuse_reply_err(req, EIO);
		return;
	}
	cap = atomic_load(&f->size);
	if (off < 0 || size == 0) {
		fuse_reply_write(req, 0);
		return;
	}
	if ((uint64_t)off >= cap) {
		fuse_reply_err(req, ENOSPC);
		return;
	}
	end = (uint64_t)off + size < cap ? (uint64_t)off + size : cap;
	shift = (uint32_t)__builtin_ctz(nvmf_ns_lba_size(f->ns));
	slba = (uint64_t)off >> shift;
	io = io_new(m, f, IO_WRITE, slba, ((end + (1u << shift) - 1) >> shift) - slba, shift);
	if (io == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	io->req = req;
	io->done = write_done;
	io->skip = (size_t)((uint64_t)off - (slba << shift));
	io->len = (size_t)(end - (uint64_t)off);
	/* O_SYNC includes O_DSYNC; the kernel passes RWF_DSYNC as O_DSYNC too. */
	io->io_flags = (fi->flags & O_DSYNC) == O_DSYNC ? NVMF_IO_FUA : 0;
	io->range = (struct range){.start = slba, .end = slba + io->nlb};
	err = range_lock(m, f, &io->range);
	if (err == 0) {
		io->range_held = true;
		err = read_edges(m, io, (uint64_t)off, io->len);
	}
	if (err != 0) {
		if (io->range_held)
			range_unlock(f, &io->range);
		io_free(io);
		fuse_reply_err(req, err);
		return;
	}
	memcpy(io->data + io->skip, buf, io->len);
	io_submit(io);
}

static void flush_done(struct io *io)
{
	fuse_reply_err(io->req, atomic_load(&io->error));
	io_free(io);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct mount *m = req_mount(req);
	struct nsfile *f = handle_file(fi);
	struct io *io;

	if (f == NULL) {
		fuse_reply_err(req, EIO);
		return;
	}
	io = io_new(m, f, IO_FLUSH, 0, 0, 0);
	if (io == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	io->req = req;
	io->done = flush_done;
	io_submit(io);
}

/* Zero bytes [from, to) inside one block by read-modify-write. */
static int zero_partial(struct mount *m, struct nsfile *f, uint32_t shift, uint64_t from,
			uint64_t to)
{
	uint64_t lba = from >> shift;
	uint8_t *block = malloc(1u << shift);
	int err;

	if (block == NULL)
		return ENOMEM;
	err = blocks_rw(m, f, IO_READ, lba, 1, shift, block);
	if (err == 0) {
		memset(block + (from - (lba << shift)), 0, (size_t)(to - from));
		err = blocks_rw(m, f, IO_WRITE, lba, 1, shift, block);
	}
	free(block);
	return err;
}

/* Zero whole blocks by writing zeroes: the namespace offers nothing better. */
static int write_zero_buffers(struct nsfile *f, uint64_t from, uint64_t to)
{
	size_t chunk = MOUNT_MAX_IO;
	void *zeroes = calloc(1, chunk);
	int ret = 0;

	if (zeroes == NULL)
		return ENOMEM;
	for (uint64_t pos = from; pos < to && ret == 0; pos += chunk)
		ret = nvmf_ns_write_sync(f->ns, pos, zeroes, to - pos < chunk ? to - pos : chunk, 0);
	free(zeroes);
	return result_errno(ret);
}

/*
 * Whole blocks [from, to): punched (deallocated, still reading zeroes) or
 * zeroed with the best command the namespace has.
 */
static int zero_blocks(struct mount *m, struct nsfile *f, uint64_t from, uint64_t to, bool punch)
{
	uint16_t oncs = nvmf_ctrl_identify(m->ctrl)->oncs;
	uint8_t dlfeat = nvmf_ns_identify(f->ns)->dlfeat;
	bool dsm_zeroes = (oncs & NVME_CTRL_ONCS_DSM) != 0 &&
			  (dlfeat & 0x7) == NVME_NS_DLFEAT_READ_ZEROES;

	if (punch && dsm_zeroes)
		return result_errno(nvmf_ns_trim_sync(f->ns, from, to - from));
	if ((oncs & NVME_CTRL_ONCS_WRITE_ZEROES) != 0)
		return result_errno(nvmf_ns_write_zeroes_sync(
			f->ns, from, to - from,
			punch && (dlfeat & NVME_NS_DLFEAT_WZ_DEALLOC) ? NVMF_IO_DEALLOCATE : 0));
	return write_zero_buffers(f, from, to);
}

/* Make [off, end) read zeroes: whole blocks at once, partial edge blocks by RMW. */
static int zero_range(struct mount *m, struct nsfile *f, uint64_t off, uint64_t end, bool punch)
{
	uint32_t shift = (uint32_t)__builtin_ctz(nvmf_ns_lba_size(f->ns));
	uint64_t bs = 1ull << shift;
	uint64_t first_full = (off + bs - 1) & ~(bs - 1), last_full = end & ~(bs - 1);
	struct range r = {.start = off >> shift, .end = (end + bs - 1) >> shift};
	int err = range_lock(m, f, &r);

	if (err != 0)
		return err;
	if (first_full < last_full)
		err = zero_blocks(m, f, first_full, last_full, punch);
	if (err == 0 && first_full > last_full) {
		/* Inside one block. */
		err = zero_partial(m, f, shift, off, end);
	} else {
		if (err == 0 && off < first_full)
			err = zero_partial(m, f, shift, off, first_full);
		if (err == 0 && last_full < end)
			err = zero_partial(m, f, shift, last_full, end);
	}
	range_unlock(f, &r);
	return err;
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	struct mount *m = req_mount(req);
	struct nsfile *f = handle_file(fi);
	const int known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;
	uint64_t cap, end;

	if (f == NULL) {
		fuse_reply_err(req, EIO);
		return;
	}
	if ((mode & ~known) != 0) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (off < 0 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	cap = atomic_load(&f->size);
	end = (uint64_t)off + (uint64_t)len;
	if ((mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) == 0) {
		/* Every block exists already; the size cannot grow. */
		fuse_reply_err(req, end > cap && !(mode & FALLOC_FL_KEEP_SIZE) ? EFBIG : 0);
		return;
	}
	if (end > cap)
		end = cap;
	if ((uint64_t)off >= end) {
		fuse_reply_err(req, 0);
		return;
	}
	fuse_reply_err(req, zero_range(m, f, (uint64_t)off, end,
				       (mode & FALLOC_FL_PUNCH_HOLE) != 0));
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct mount *m = req_mount(req);
	struct statvfs st = {.f_bsize = 4096, .f_frsize = 4096, .f_namemax = 16};

	pthread_mutex_lock(&m->ns_lock);
	for (size_t i = 0; i < m->nfiles; i++) {
		if (atomic_load(&m->files[i]->active)) {
			st.f_blocks += atomic_load(&m->files[i]->size) / 4096;
			st.f_files++;
		}
	}
	pthread_mutex_unlock(&m->ns_lock);
	fuse_reply_statfs(req, &st);
}

/* nvmf umount asks the root for the daemon's pid, to wait for its exit. */
static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char pid[24];
	int n;

	if (ino != FUSE_ROOT_ID || strcmp(name, PID_XATTR) != 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	n = snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else if (size < (size_t)n)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, pid, (size_t)n);
}

static void op_refuse_name(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EPERM);
}

static void op_refuse_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			    dev_t rdev)
{
	fuse_reply_err(req, EPERM);
}

static void op_refuse_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	fuse_reply_err(req, EPERM);
}

static void op_refuse_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			     fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	fuse_reply_err(req, EPERM);
}

static const struct fuse_lowlevel_ops mount_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.mknod = op_refuse_mknod,
	.mkdir = op_refuse_mkdir,
	.unlink = op_refuse_name,
	.rmdir = op_refuse_name,
	.rename = op_refuse_rename,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.release = op_release,
	.fsync = op_fsync,
	.readdir = op_readdir,
	.statfs = op_statfs,
	.getxattr = op_getxattr,
	.fallocate = op_fallocate,
};

/* ------------------------------------------------------------------ */
/* nvmf mount                                                          */
/* ------------------------------------------------------------------ */

static void check_mountpoint(struct cli *cli, char real[PATH_MAX])
{
	struct stat st;

	if (realpath(cli->mountpoint, real) == NULL) {
		if (errno == ENOENT)
			die(cli, "mount point %s does not exist", cli->mountpoint);
		die(cli, "mount point %s: %s", cli->mountpoint, strerror(errno));
	}
	if (stat(real, &st) != 0)
		die(cli, "mount point %s: %s", cli->mountpoint, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		die(cli, "mount point %s is not a directory", cli->mountpoint);
}

static void check_dev_fuse(struct cli *cli)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return;
	}
	if (errno == ENOENT)
		die(cli, "/dev/fuse does not exist: load the fuse module (modprobe fuse), or give "
			 "the container the device (--device /dev/fuse)");
	if (errno == ENODEV || errno == ENXIO)
		die(cli, "/dev/fuse has no driver behind it: load the fuse module (modprobe fuse)");
	die(cli, "cannot open /dev/fuse: %s", strerror(errno));
}

/*
 * Fork like a FUSE daemon, but keep the terminal until the mount is up:
 * the parent exits 0 when the child reports success on the pipe, or with
 * the child's status (whose one-line error is already printed) otherwise.
 * Before connecting, because the controller's threads would not survive.
 */
static int daemonize_start(struct cli *cli)
{
	int fds[2], status;
	pid_t pid;
	ssize_t n;
	char c;

	if (pipe2(fds, O_CLOEXEC) != 0)
		die(cli, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die(cli, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		setsid();
		return fds[1];
	}
	close(fds[1]);
	do
		n = read(fds[0], &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		exit(0);
	if (waitpid(pid, &status, 0) < 0)
		die(cli, "waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status))
		die(cli, "the mount process died of signal %d", WTERMSIG(status));
	exit(WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : EXIT_FAIL);
}

/* The mount is up: leave the terminal, log to syslog, release the parent. */
static void daemonize_finish(int notify_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	openlog("nvmf-mount", LOG_PID, LOG_DAEMON);
	log_to_syslog = true;
	nvmf_log_set_sink(syslog_sink);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	if (chdir("/") != 0)
		mount_log(LOG_WARNING, "chdir /: %s", strerror(errno));
	if (write(notify_fd, "", 1) != 1)
		mount_log(LOG_WARNING, "telling the parent: %s", strerror(errno));
	close(notify_fd);
}

/* fsname for mountinfo: the target's URI, commas and backslashes escaped for -o. */
static void fsname_option(const struct mount *m, char *out, size_t len)
{
	char uri[1024];
	size_t o = 0;

	snprintf(uri, sizeof(uri), "nvme+tcp://%s:%s/%s", nvmf_ctrl_traddr(m->ctrl),
		 nvmf_ctrl_trsvcid(m->ctrl), nvmf_ctrl_subnqn(m->ctrl));
	o += (size_t)snprintf(out, len, "fsname=");
	for (const char *p = uri; *p != '\0' && o + 3 < len; p++) {
		if (*p == ',' || *p == '\\')
			out[o++] = '\\';
		out[o++] = *p;
	}
	snprintf(out + o, len - o, ",subtype=nvmf,max_read=%u", MOUNT_MAX_IO);
}

static void mount_setup(struct mount *m)
{
	pthread_condattr_t attr;

	m->nq = nvmf_ctrl_nr_io_queues(m->ctrl);
	m->depth = nvmf_ctrl_queue_depth(m->ctrl);
	if (m->nq == 0 || m->depth == 0)
		die(m->cli, "%s has no I/O queues", nvmf_ctrl_subnqn(m->ctrl));
	m->inflight = calloc(m->nq, sizeof(*m->inflight));
	if (m->inflight == NULL || sem_init(&m->permits, 0, m->nq * m->depth) != 0)
		die(m->cli, "out of memory");
	pthread_mutex_init(&m->ns_lock, NULL);
	pthread_mutex_init(&m->watch_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&m->watch_cond, &attr);
	pthread_condattr_destroy(&attr);
	/*
	 * Request buffers (up to 1 MiB, freed on the transport's threads) must
	 * come from the heap and stay there: mmap()ed or trimmed, every one
	 * would fault in and be zeroed again (a third of the CPU at 128 KiB).
	 */
	mallopt(M_MMAP_THRESHOLD, 2 * MOUNT_MAX_IO);
	mallopt(M_TRIM_THRESHOLD, MOUNT_MALLOC_KEEP);
	m->uid = getuid();
	m->gid = getgid();
	clock_gettime(CLOCK_REALTIME, &m->mount_time);
}

static struct fuse_session *session_create(struct mount *m)
{
	char opts[1400];
	char *argv[] = {"nvmf", "-o", opts, NULL, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse_session *se;

	fsname_option(m, opts, sizeof(opts));
	if (m->cli->verbose > 2)
		argv[args.argc++] = "-d";
	se = fuse_session_new(&args, &mount_ops, sizeof(mount_ops), m);
	fuse_opt_free_args(&args);
	return se;
}

/* Wait until no request is in flight, up to ms; false on timeout. */
static bool wait_ios(struct mount *m, unsigned ms)
{
	for (unsigned waited = 0; atomic_load(&m->ios) != 0; waited += 10) {
		if (waited >= ms)
			return false;
		usleep(10000);
	}
	return true;
}

/* Unmounted: flush what the namespaces hold, disconnect, free. */
static int mount_teardown(struct mount *m)
{
	char why[128];
	int ret;

	pthread_mutex_lock(&m->watch_lock);
	m->watch_stop = true;
	pthread_cond_signal(&m->watch_cond);
	pthread_mutex_unlock(&m->watch_lock);
	pthread_join(m->watcher, NULL);
	fuse_session_unmount(m->se);
	if (nvmf_ctrl_state(m->ctrl) == NVMF_CTRL_LIVE) {
		if (!wait_ios(m, m->cli->opts.io_timeout_ms != 0 ? m->cli->opts.io_timeout_ms : 30000))
			mount_log(LOG_WARNING, "requests still in flight at unmount");
		for (size_t i = 0; i < m->nfiles; i++) {
			if (!atomic_load(&m->files[i]->active))
				continue;
			ret = nvmf_ns_flush_sync(m->files[i]->ns);
			if (ret != 0)
				mount_log(LOG_ERR, "n%u: Flush at unmount failed: %s", m->files[i]->nsid,
					  result_str(ret, why, sizeof(why)));
		}
	}
	ret = nvmf_disconnect(m->ctrl);
	if (ret != 0)
		mount_log(LOG_WARNING, "disconnect was not clean: %s", strerror(-ret));
	/* Every command has completed now, so every request has been answered. */
	wait_ios(m, 1000);
	fuse_session_destroy(m->se);
	for (size_t i = 0; i < m->nfiles; i++) {
		pthread_cond_destroy(&m->files[i]->cond);
		pthread_mutex_destroy(&m->files[i]->lock);
		free(m->files[i]);
	}
	free(m->files);
	free(m->inflight);
	sem_destroy(&m->permits);
	pthread_cond_destroy(&m->watch_cond);
	pthread_mutex_destroy(&m->watch_lock);
	pthread_mutex_destroy(&m->ns_lock);
	return ret == 0 ? 0 : EXIT_FAIL;
}

int cmd_mount(struct cli *cli)
{
	struct mount m = {.cli = cli, .daemon = !cli->foreground};
	char mountpoint[PATH_MAX];
	struct fuse_loop_config *loop;
	sigset_t quit, old;
	int notify_fd = -1, ret;
	size_t active = 0;

	check_mountpoint(cli, mountpoint);
	check_dev_fuse(cli);
	if (cli->opts.subnqn == NULL)
		die(cli, "a subsystem NQN is required (-n NQN or nvme+tcp://ADDR/NQN)");
	fuse_set_log_func(fuse_log_sink);
	if (m.daemon) {
		/* Engine threads made while parsing would stay with the parent. */
		if (cli->engine != NULL) {
			nvmf_engine_destroy(cli->engine);
			cli->engine = NULL;
		}
		notify_fd = daemonize_start(cli);
		if (cli->engine_spec != NULL) {
			struct nvmf_engine_params params;

			nvmf_engine_parse(cli->engine_spec, &params);
			cli->engine = cli->opts.engine = nvmf_engine_create(&params);
			if (cli->engine == NULL)
				die(cli, "cannot create engine %s: %s", cli->engine_spec,
				    strerror(errno));
		}
	}
	/* Only the FUSE loop's threads take the signals that unmount. */
	sigemptyset(&quit);
	sigaddset(&quit, SIGINT);
	sigaddset(&quit, SIGTERM);
	sigaddset(&quit, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &quit, &old);
	cli->opts.aen_cb = on_aen;
	cli->opts.aen_arg = &m;
	m.mountpoint = mountpoint;
	m.ctrl = cli_connect(cli);
	mount_setup(&m);
	sync_namespaces(&m, false);
	m.se = session_create(&m);
	if (m.se == NULL)
		die(cli, "cannot create the FUSE session");
	if (fuse_session_mount(m.se, mountpoint) != 0)
		die(cli, "cannot mount on %s (see above)", mountpoint);
	ret = pthread_create(&m.watcher, NULL, watcher_main, &m);
	if (ret != 0) {
		fuse_session_unmount(m.se);
		die(cli, "cannot start a thread: %s", strerror(ret));
	}
	if (fuse_set_signal_handlers(m.se) != 0) {
		fuse_session_unmount(m.se);
		die(cli, "cannot install signal handlers");
	}
	for (size_t i = 0; i < m.nfiles; i++)
		active += atomic_load(&m.files[i]->active);
	if (m.daemon)
		daemonize_finish(notify_fd);
	else
		mount_log(LOG_INFO, "%s: %zu namespace%s of %s, %u I/O queues of %u", mountpoint,
			  active, active == 1 ? "" : "s", nvmf_ctrl_subnqn(m.ctrl), m.nq, m.depth);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(loop, MOUNT_FUSE_THREADS);
	fuse_loop_cfg_set_idle_threads(loop, MOUNT_FUSE_THREADS);
	fuse_loop_cfg_set_clone_fd(loop, 1);
	ret = fuse_session_loop_mt(m.se, loop);
	fuse_loop_cfg_destroy(loop);
	if (ret < 0)
		mount_log(LOG_ERR, "FUSE loop: %s", strerror(-ret));
	fuse_remove_signal_handlers(m.se);
	ret = mount_teardown(&m);
	if (!m.daemon && cli->verbose > 0)
		mount_log(LOG_INFO, "%s: unmounted and disconnected", mountpoint);
	return ret;
}

/* ------------------------------------------------------------------ */
/* nvmf umount                                                         */
/* ------------------------------------------------------------------ */

/* mountinfo escapes blanks and backslashes as \ooo. */
static void unescape_octal(char *s)
{
	char *out = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* The file system type of the topmost mount at path, in fstype; false if none. */
static bool mount_fstype(const char *path, char *fstype, size_t len)
{
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (fp == NULL)
		return false;
	while (getline(&line, &cap, fp) > 0) {
		char *save = NULL, *tok, *dir = NULL, *sep;
		int field = 0;

		for (tok = strtok_r(line, " ", &save); tok != NULL && field < 4;
		     tok = strtok_r(NULL, " ", &save))
			field++;
		dir = tok;
		sep = dir != NULL ? strstr(save, " - ") : NULL;
		if (sep == NULL)
			continue;
		unescape_octal(dir);
		if (strcmp(dir, path) != 0)
			continue;
		tok = strtok_r(sep + 3, " ", &save);
		snprintf(fstype, len, "%s", tok != NULL ? tok : "");
		found = true; /* keep going: the last match is the topmost mount */
	}
	free(line);
	fclose(fp);
	return found;
}

static int run_fusermount(const char *path)
{
	char *argv[] = {"fusermount3", "-u", (char *)path, NULL};
	extern char **environ;
	pid_t pid;
	int status;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int cmd_umount(struct cli *cli)
{
	char path[PATH_MAX], fstype[64], pid_text[24];
	ssize_t n;
	pid_t pid = 0;
	int pidfd = -1;

	if (realpath(cli->mountpoint, path) == NULL) {
		/* A mount whose daemon died answers ENOTCONN: unmount it all the same. */
		if (errno != ENOTCONN)
			die(cli, "%s: %s", cli->mountpoint, strerror(errno));
		if (cli->mountpoint[0] == '/')
			snprintf(path, sizeof(path), "%s", cli->mountpoint);
		else if (getcwd(path, sizeof(path)) == NULL ||
			 strlen(path) + 1 + strlen(cli->mountpoint) >= sizeof(path))
			die(cli, "%s: path too long", cli->mountpoint);
		else
			strcat(strcat(path, "/"), cli->mountpoint);
	}
	if (!mount_fstype(path, fstype, sizeof(fstype)) || strcmp(fstype, FSTYPE) != 0)
		die(cli, "%s is not an nvmf mount", cli->mountpoint);
	n = getxattr(path, PID_XATTR, pid_text, sizeof(pid_text) - 1);
	if (n > 0) {
		pid_text[n] = '\0';
		pid = (pid_t)strtol(pid_text, NULL, 10);
		pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	}
	if (umount2(path, 0) != 0) {
		if (errno == EBUSY)
			die(cli, "%s is busy: a file on it is open (or attached to a loop device)",
			    cli->mountpoint);
		if (errno != EPERM)
			die(cli, "cannot unmount %s: %s", cli->mountpoint, strerror(errno));
		if (run_fusermount(path) != 0)
			die(cli, "fusermount3 -u %s failed", path);
	}
	if (pidfd >= 0) {
		struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
		int ready;

		do
			ready = poll(&pfd, 1, MOUNT_UMOUNT_WAIT_S * 1000);
		while (ready < 0 && errno == EINTR);
		close(pidfd);
		if (ready == 0)
			die(cli, "unmounted %s, but its process (pid %ld) is still flushing and "
				 "disconnecting after %d s", cli->mountpoint, (long)pid,
			    MOUNT_UMOUNT_WAIT_S);
	}
	return 0;
}
