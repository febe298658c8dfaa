/* SPDX-License-Identifier: MIT */
/*
 * nvmf mount's file system: the namespaces as files MOUNTPOINT/n<NSID>, kept
 * in line with the controller's namespace list, and the FUSE low-level
 * operations on them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "mount.h"

#define MOUNT_ATTR_TIMEOUT 1.0        /* namespace changes are also pushed */
#define MOUNT_RESCAN_MS 1000          /* catches changes across a reconnect */

/* What fi->fh points to. */
struct handle {
	struct nsfile *f;
	uint32_t generation;
};

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

/* The controller's active NSIDs, ascending, in *count; NULL without memory. */
static uint32_t *ns_list(struct nvmf_ctrl *ctrl, size_t *count)
{
	size_t max = 256, n;
	uint32_t *ids = NULL;

	for (;;) {
		uint32_t *grown = realloc(ids, max * sizeof(*ids));

		if (grown == NULL) {
			free(ids);
			return NULL;
		}
		ids = grown;
		n = nvmf_ctrl_ns_list(ctrl, ids, max);
		if (n <= max)
			break;
		max = n;
	}
	*count = n;
	return ids;
}

/* Bring the file table in line with ids[0..n); what changed, in changes. */
static size_t apply_ns_list_locked(struct mount *m, struct nvmf_ctrl *ctrl, const uint32_t *ids,
				   size_t n, struct change *changes)
{
	size_t nchanges = 0;

	for (size_t i = 0; i < n; i++) {
		struct nvmf_ns *ns = nvmf_ctrl_ns(ctrl, ids[i]);
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
	return nchanges;
}

/* Tell the kernel and the log what changed. */
static void notify_changes(struct mount *m, const struct change *changes, size_t nchanges)
{
	for (size_t i = 0; i < nchanges; i++) {
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
}

/*
 * Bring the file table in line with the controller's namespace list; with
 * notify, tell the kernel and the log what changed.
 */
void mount_fs_sync_namespaces(struct mount *m, bool notify)
{
	struct nvmf_ctrl *ctrl = mount_ctrl(m);
	size_t n, nchanges;
	uint32_t *ids = ns_list(ctrl, &n);
	struct change *changes;

	if (ids == NULL)
		return;
	pthread_mutex_lock(&m->ns_lock);
	changes = calloc(n + m->nfiles + 1, sizeof(*changes));
	if (changes == NULL) {
		pthread_mutex_unlock(&m->ns_lock);
		free(ids);
		return;
	}
	nchanges = apply_ns_list_locked(m, ctrl, ids, n, changes);
	pthread_mutex_unlock(&m->ns_lock);
	/* Outside ns_lock: the kernel may call back in while it handles these. */
	if (notify)
		notify_changes(m, changes, nchanges);
	free(changes);
	free(ids);
}

/* Called on the controller's thread: only wake the watcher. */
void mount_fs_on_aen(void *arg, uint32_t cdw0, const void *log, size_t log_len)
{
	struct mount *m = arg;

	pthread_mutex_lock(&m->watch_lock);
	m->watch_event = true;
	pthread_cond_signal(&m->watch_cond);
	pthread_mutex_unlock(&m->watch_lock);
}

void *mount_fs_watcher(void *arg)
{
	struct mount *m = arg;

	pthread_setname_np(pthread_self(), "nvmf-mountwatch");
	pthread_mutex_lock(&m->watch_lock);
	while (!m->watch_stop) {
		struct timespec deadline = mount_deadline(MOUNT_RESCAN_MS);

		while (!m->watch_event && !m->watch_stop &&
		       pthread_cond_timedwait(&m->watch_cond, &m->watch_lock, &deadline) == 0)
			;
		if (m->watch_stop)
			break;
		m->watch_event = false;
		pthread_mutex_unlock(&m->watch_lock);
		mount_fs_sync_namespaces(m, true);
		pthread_mutex_lock(&m->watch_lock);
	}
	pthread_mutex_unlock(&m->watch_lock);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* FUSE operations                                                     */
/* ------------------------------------------------------------------ */

/* Every request starts here: libfuse's worker threads are named on their
 * first one, so that top -H tells them from the transport's. */
static struct mount *req_mount(fuse_req_t req)
{
	static _Thread_local bool named;

	if (!named) {
		pthread_setname_np(pthread_self(), "nvmf-fuse");
		named = true;
	}
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
	mount_io_free(io);
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
	io = mount_io_new(m, f, IO_READ, (uint64_t)off >> shift,
			  ((end + (1u << shift) - 1) >> shift) - ((uint64_t)off >> shift), shift);
	if (io == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	io->req = req;
	io->done = read_done;
	io->skip = (size_t)((uint64_t)off & ((1u << shift) - 1));
	io->len = (size_t)(end - (uint64_t)off);
	mount_io_submit(io);
}

static void write_done(struct io *io)
{
	int err = atomic_load(&io->error);

	if (io->range_held)
		mount_io_range_unlock(io->f, &io->range);
	if (err != 0)
		fuse_reply_err(io->req, err);
	else
		fuse_reply_write(io->req, io->len);
	mount_io_free(io);
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
	io = mount_io_new(m, f, IO_WRITE, slba, ((end + (1u << shift) - 1) >> shift) - slba, shift);
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
	err = mount_io_range_lock(m, f, &io->range);
	if (err == 0) {
		io->range_held = true;
		err = mount_io_read_edges(m, io, (uint64_t)off, io->len);
	}
	if (err != 0) {
		if (io->range_held)
			mount_io_range_unlock(f, &io->range);
		mount_io_free(io);
		fuse_reply_err(req, err);
		return;
	}
	memcpy(io->data + io->skip, buf, io->len);
	mount_io_submit(io);
}

static void flush_done(struct io *io)
{
	fuse_reply_err(io->req, atomic_load(&io->error));
	mount_io_free(io);
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
	io = mount_io_new(m, f, IO_FLUSH, 0, 0, 0);
	if (io == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	io->req = req;
	io->done = flush_done;
	mount_io_submit(io);
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
	fuse_reply_err(req, mount_io_zero_range(m, f, (uint64_t)off, end,
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

const struct fuse_lowlevel_ops mount_fs_ops = {
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
