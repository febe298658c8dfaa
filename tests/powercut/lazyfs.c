/* SPDX-License-Identifier: MIT */
/*
 * lazyfs: a FUSE file system for the power-cut tests, after Jepsen's LazyFS.
 *
 *   lazyfs [--direct-io] BACKING_DIR MOUNTPOINT      (stays in the foreground)
 *
 * Files live in BACKING_DIR, which plays the disk: what is there survives a
 * power cut.  Every write (and every punched hole or zeroed range) is kept
 * in memory instead, as an overlay of byte ranges on its file, the way a
 * page cache holds dirty pages; reads see the overlay.  Only fsync or
 * fdatasync on a file (FUSE's fsync) writes its overlay to the backing file.
 * Closing a file (FUSE's flush, release) does not: on a real disk neither
 * does close(2).
 *
 * The power cut: a write of "cut" to the control file /.lazyfs in the mount.
 * It drops every overlay (every byte not synced), has the kernel forget its
 * cached pages of those files, and returns when done, so the caller knows
 * the cut happened.  Reading /.lazyfs gives counters, one "name value" a
 * line (the bytes dropped, what the kernel sent: writes, O_DSYNC writes,
 * fsyncs, fdatasyncs, flushes).
 *
 * Simplifications, all on the side of data loss being the only fault:
 * metadata (create, unlink, truncate, a size grown by a write or fallocate)
 * goes to the backing directory at once, so it is durable immediately; only
 * file data is lazy.  No directory listing, rename, links, directories or
 * attribute changes: the tests need none.
 * Writes carrying O_DSYNC are counted but get no special treatment: the
 * kernel is the one to turn them into an fsync (or not), and the tests want
 * to see which.  --direct-io opens files with FOPEN_DIRECT_IO (no kernel
 * page cache), as `nvmf mount` does, to show what that changes.
 *
 * Exit status: 0 after unmount or SIGTERM/SIGINT; 77 when it cannot mount
 * (no FUSE here), so a test can skip; 1 otherwise.
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CTL_NAME "/.lazyfs"
#define MAX_FILE_BYTES (1ull << 40)  /* offsets and sizes beyond: EFBIG */
#define MAX_IO (16u << 20)           /* one read or write (FUSE sends <= 1 MiB) */
#define MAX_UNSYNCED (1ull << 30)    /* data held in all overlays; beyond: ENOSPC */
#define MAX_EXTENTS (1u << 20)       /* ranges in one file's overlay */
#define ZERO_CHUNK (64u * 1024)

/* One unsynced byte range of a file. */
struct ext {
	uint64_t off, len;
	uint8_t *data;                /* NULL: zeroes (a punched hole, a zeroed range) */
};

/* A backing file with an overlay, alive while open or while it holds unsynced bytes. */
struct lfile {
	struct lfile *next;
	dev_t dev;
	ino_t ino;
	char *path;                   /* in the mount, to invalidate the kernel's cache */
	int fd;                       /* the backing file, read-write */
	unsigned opens;
	bool unlinked;                /* gone from the directory; kept for its open handles */
	struct ext *ext;              /* sorted by offset, never overlapping */
	size_t n_ext, cap_ext;
};

static struct {
	pthread_mutex_t lock;         /* one lock over everything: simple, and fast enough */
	char backing[PATH_MAX];
	bool direct_io;
	struct fuse *fuse;
	struct lfile *files;
	uint64_t held;                /* data bytes in all overlays */
	uint64_t cuts, dropped_bytes, synced_bytes, writes, dsync_writes, fsyncs, fdatasyncs,
		flushes;
} fs = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const uint8_t zeroes[ZERO_CHUNK];

static int backing_path(const char *path, char *out)
{
	int n = path != NULL ? snprintf(out, PATH_MAX, "%s%s", fs.backing, path) : -1;

	if (path == NULL)
		return -ESTALE;
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* Paths come NULL for operations on a file unlinked while open (hard_remove). */
static bool is_ctl(const char *path)
{
	return path != NULL && strcmp(path, CTL_NAME) == 0;
}

/* An offset and length the kernel handed us, checked before any use. */
static int check_range(off_t off, uint64_t len)
{
	if (off < 0 || (uint64_t)off > MAX_FILE_BYTES || len > MAX_FILE_BYTES - (uint64_t)off)
		return -EFBIG;
	return 0;
}

static uint64_t ext_data_bytes(const struct ext *e)
{
	return e->data != NULL ? e->len : 0;
}

/* ---- The overlay -------------------------------------------------------- */

/* Index of the first extent that ends after off. */
static size_t first_after(const struct lfile *lf, uint64_t off)
{
	size_t lo = 0, hi = lf->n_ext;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (lf->ext[mid].off + lf->ext[mid].len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int reserve(struct lfile *lf, size_t more)
{
	size_t cap = lf->cap_ext ? lf->cap_ext : 16;
	struct ext *e;

	if (lf->n_ext + more <= lf->cap_ext)
		return 0;
	if (lf->n_ext + more > MAX_EXTENTS)
		return -ENOSPC;
	while (cap < lf->n_ext + more)
		cap *= 2;
	e = realloc(lf->ext, cap * sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	lf->ext = e;
	lf->cap_ext = cap;
	return 0;
}

/*
 * Take [off, end) out of the overlay: extents inside it go, extents across
 * an edge keep their outside part.  *at is where a range at off belongs.
 * Needs room for one more extent (one may split in two); on -ENOMEM the
 * overlay is unchanged.
 */
static int carve(struct lfile *lf, uint64_t off, uint64_t end, size_t *at)
{
	size_t i = first_after(lf, off), j = i, from, to;
	struct ext *a, *b;
	uint64_t b_end;

	while (j < lf->n_ext && lf->ext[j].off < end)
		j++;
	*at = i;
	if (i == j)
		return 0;
	a = &lf->ext[i];
	b = &lf->ext[j - 1];
	b_end = b->off + b->len;
	if (a == b && a->off < off && b_end > end) {
		/* One extent across both edges: it becomes two. */
		struct ext right = {.off = end, .len = b_end - end};

		if (a->data != NULL) {
			right.data = malloc(right.len);
			if (right.data == NULL)
				return -ENOMEM;
			memcpy(right.data, a->data + (end - a->off), right.len);
			fs.held -= end - off;
		}
		a->len = off - a->off;
		memmove(&lf->ext[i + 2], &lf->ext[i + 1], (lf->n_ext - i - 1) * sizeof(*a));
		lf->ext[i + 1] = right;
		lf->n_ext++;
		*at = i + 1;
		return 0;
	}
	from = i;
	to = j;
	if (a->off < off) { /* keep a's head */
		fs.held -= a->data != NULL ? a->off + a->len - off : 0;
		a->len = off - a->off;
		from++;
	}
	if (b_end > end && j - 1 >= from) { /* keep b's tail, moved to the front of its buffer */
		if (b->data != NULL) {
			memmove(b->data, b->data + (end - b->off), b_end - end);
			fs.held -= end - b->off;
		}
		b->len = b_end - end;
		b->off = end;
		to--;
	}
	for (size_t k = from; k < to; k++) {
		fs.held -= ext_data_bytes(&lf->ext[k]);
		free(lf->ext[k].data);
	}
	memmove(&lf->ext[from], &lf->ext[to], (lf->n_ext - to) * sizeof(*a));
	lf->n_ext -= to - from;
	*at = from;
	return 0;
}

/* Hold len bytes at off (data, or zeroes when data is NULL) until the next sync. */
static int overlay_put(struct lfile *lf, uint64_t off, const void *data, uint64_t len)
{
	struct ext e = {.off = off, .len = len};
	size_t at;
	int rc;

	if (len == 0)
		return 0;
	if (data != NULL) {
		if (len > MAX_IO || fs.held + len > MAX_UNSYNCED)
			return -ENOSPC;
		e.data = malloc(len);
		if (e.data == NULL)
			return -ENOMEM;
		memcpy(e.data, data, len);
	}
	rc = reserve(lf, 2);
	if (rc == 0)
		rc = carve(lf, off, off + len, &at);
	if (rc != 0) {
		free(e.data);
		return rc;
	}
	memmove(&lf->ext[at + 1], &lf->ext[at], (lf->n_ext - at) * sizeof(e));
	lf->ext[at] = e;
	lf->n_ext++;
	fs.held += ext_data_bytes(&e);
	return 0;
}

/* Lay the overlay over buf, which holds len bytes of the backing file from off. */
static void overlay_read(const struct lfile *lf, uint8_t *buf, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;

	for (size_t i = first_after(lf, off); i < lf->n_ext && lf->ext[i].off < end; i++) {
		const struct ext *e = &lf->ext[i];
		uint64_t from = e->off > off ? e->off : off;
		uint64_t to = e->off + e->len < end ? e->off + e->len : end;

		if (e->data != NULL)
			memcpy(buf + (from - off), e->data + (from - e->off), to - from);
		else
			memset(buf + (from - off), 0, to - from);
	}
}

static uint64_t overlay_drop(struct lfile *lf)
{
	uint64_t bytes = 0;

	for (size_t i = 0; i < lf->n_ext; i++) {
		bytes += lf->ext[i].len;
		fs.held -= ext_data_bytes(&lf->ext[i]);
		free(lf->ext[i].data);
	}
	lf->n_ext = 0;
	return bytes;
}

static int pwrite_all(int fd, const uint8_t *p, uint64_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (uint64_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int zero_backing(int fd, uint64_t off, uint64_t len)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	for (uint64_t n; len > 0; off += n, len -= n) {
		int rc;

		n = len < ZERO_CHUNK ? len : ZERO_CHUNK;
		rc = pwrite_all(fd, zeroes, n, off);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/*
 * fsync: the overlay goes to the backing file, which is the disk here.  The
 * backing file is not fsynced in turn: the simulated machine's power is all
 * that is cut, never the real one's.  On an error the overlay stays whole
 * (writing it again later does no harm).
 */
static int overlay_sync(struct lfile *lf)
{
	uint64_t bytes = 0;

	for (size_t i = 0; i < lf->n_ext; i++) {
		const struct ext *e = &lf->ext[i];
		int rc = e->data != NULL ? pwrite_all(lf->fd, e->data, e->len, e->off)
					 : zero_backing(lf->fd, e->off, e->len);

		if (rc != 0)
			return rc;
		bytes += e->len;
	}
	overlay_drop(lf);
	fs.synced_bytes += bytes;
	return 0;
}

/* ---- Files -------------------------------------------------------------- */

static struct lfile *lfile_find(dev_t dev, ino_t ino)
{
	for (struct lfile *lf = fs.files; lf != NULL; lf = lf->next)
		if (!lf->unlinked && lf->dev == dev && lf->ino == ino)
			return lf;
	return NULL;
}

static void lfile_free(struct lfile *lf)
{
	for (struct lfile **p = &fs.files; *p != NULL; p = &(*p)->next)
		if (*p == lf) {
			*p = lf->next;
			break;
		}
	overlay_drop(lf);
	close(lf->fd);
	free(lf->ext);
	free(lf->path);
	free(lf);
}

/* Let go of lf if nothing needs it: no open handle, nothing unsynced that could be read again. */
static void lfile_put(struct lfile *lf)
{
	if (lf->opens == 0 && (lf->n_ext == 0 || lf->unlinked))
		lfile_free(lf);
}

/* The file for a freshly opened backing fd (taken over, or closed if the file is known). */
static int lfile_open(const char *path, int fd, struct lfile **out)
{
	struct stat st;
	struct lfile *lf;
	int rc = fstat(fd, &st) != 0 ? -errno : S_ISREG(st.st_mode) ? 0 : -EINVAL;

	if (rc != 0) {
		close(fd);
		return rc;
	}
	lf = lfile_find(st.st_dev, st.st_ino);
	if (lf != NULL) {
		close(fd);
	} else {
		lf = calloc(1, sizeof(*lf));
		if (lf == NULL || (lf->path = strdup(path)) == NULL) {
			free(lf);
			close(fd);
			return -ENOMEM;
		}
		lf->dev = st.st_dev;
		lf->ino = st.st_ino;
		lf->fd = fd;
		lf->next = fs.files;
		fs.files = lf;
	}
	lf->opens++;
	*out = lf;
	return 0;
}

/* A new size, at once on the backing file; unsynced bytes beyond it go. */
static int lfile_truncate(struct lfile *lf, off_t size)
{
	size_t at;
	int rc = check_range(size, 0);

	if (rc == 0)
		rc = ftruncate(lf->fd, size) == 0 ? 0 : -errno;
	if (rc == 0)
		rc = carve(lf, (uint64_t)size, MAX_FILE_BYTES, &at); /* never splits: no room needed */
	return rc;
}

static uint64_t file_size(const struct lfile *lf)
{
	struct stat st;

	return fstat(lf->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static struct lfile *handle(const struct fuse_file_info *fi)
{
	return (struct lfile *)(uintptr_t)fi->fh;
}

/* ---- The power cut and the counters ------------------------------------- */

/*
 * Drop every unsynced byte.  The kernel still caches the pages written, so
 * each file that lost bytes is invalidated too, outside the lock (the
 * kernel may need other requests answered to let go of its pages).
 */
static int power_cut(void)
{
	char **paths;
	size_t n = 0, max = 0;

	pthread_mutex_lock(&fs.lock);
	for (struct lfile *lf = fs.files; lf != NULL; lf = lf->next)
		max++;
	paths = calloc(max ? max : 1, sizeof(*paths));
	for (struct lfile *lf = fs.files, *next; lf != NULL; lf = next) {
		uint64_t dropped = overlay_drop(lf);

		next = lf->next;
		fs.dropped_bytes += dropped;
		if (dropped > 0 && !lf->unlinked && paths != NULL)
			paths[n++] = strdup(lf->path);
		lfile_put(lf);
	}
	fs.cuts++;
	pthread_mutex_unlock(&fs.lock);
	for (size_t i = 0; i < n; i++) {
		if (paths[i] != NULL)
			fuse_invalidate_path(fs.fuse, paths[i]); /* -ENOENT: nothing cached */
		free(paths[i]);
	}
	free(paths);
	return 0;
}

static int ctl_read(char *buf, size_t size, off_t off)
{
	char text[512];
	int n;

	pthread_mutex_lock(&fs.lock);
	n = snprintf(text, sizeof(text),
		     "cuts %" PRIu64 "\ndropped_bytes %" PRIu64 "\nsynced_bytes %" PRIu64
		     "\nunsynced_bytes %" PRIu64 "\nwrites %" PRIu64 "\ndsync_writes %" PRIu64
		     "\nfsyncs %" PRIu64 "\nfdatasyncs %" PRIu64 "\nflushes %" PRIu64 "\n",
		     fs.cuts, fs.dropped_bytes, fs.synced_bytes, fs.held, fs.writes,
		     fs.dsync_writes, fs.fsyncs, fs.fdatasyncs, fs.flushes);
	pthread_mutex_unlock(&fs.lock);
	if (n < 0 || (size_t)n >= sizeof(text) || off < 0 || off >= n)
		return 0;
	if (size > (size_t)(n - off))
		size = (size_t)(n - off);
	memcpy(buf, text + off, size);
	return (int)size;
}

static int ctl_write(const char *buf, size_t size)
{
	if (size >= 3 && size <= 4 && memcmp(buf, "cut", 3) == 0 && (size == 3 || buf[3] == '\n'))
		return power_cut() == 0 ? (int)size : -EIO;
	return -EINVAL;
}

/* ---- FUSE operations ---------------------------------------------------- */

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* The kernel must not hold dirty pages of its own: they would outlive a cut. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* No cached attributes or names: sizes change behind the kernel's back. */
	cfg->attr_timeout = 0;
	cfg->entry_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->kernel_cache = 0;
	cfg->auto_cache = 0;
	/* Unlink an open file for real (lfile keeps it), not by renaming it. */
	cfg->hard_remove = 1;
	return NULL;
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	char bp[PATH_MAX];
	int rc;

	if (is_ctl(path)) {
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		return 0;
	}
	if (fi != NULL && handle(fi) != NULL)
		return fstat(handle(fi)->fd, st) == 0 ? 0 : -errno;
	if (path == NULL)
		return -ESTALE;
	rc = backing_path(path, bp);
	if (rc == 0 && lstat(bp, st) != 0)
		rc = -errno;
	return rc;
}

static int open_common(const char *path, int flags, mode_t mode, struct fuse_file_info *fi)
{
	char bp[PATH_MAX];
	struct lfile *lf;
	int fd, rc = backing_path(path, bp);

	if (rc != 0)
		return rc;
	/* One read-write descriptor per file serves every handle, and syncs. */
	fd = open(bp, O_RDWR | O_CLOEXEC | flags, mode);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&fs.lock);
	rc = lfile_open(path, fd, &lf);
	if (rc == 0 && (fi->flags & O_TRUNC) != 0 && (rc = lfile_truncate(lf, 0)) != 0) {
		lf->opens--;
		lfile_put(lf);
	}
	pthread_mutex_unlock(&fs.lock);
	if (rc != 0)
		return rc;
	fi->fh = (uintptr_t)lf;
	fi->direct_io = fs.direct_io;
	fi->keep_cache = 0;
	return 0;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	if (is_ctl(path)) {
		fi->fh = 0;
		fi->direct_io = 1; /* its size is 0, its text is not */
		return 0;
	}
	return open_common(path, 0, 0, fi);
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	if (is_ctl(path))
		return -EEXIST;
	return open_common(path, O_CREAT | (fi->flags & O_EXCL), mode, fi);
}

static int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct lfile *lf = handle(fi);
	uint64_t fsize;
	ssize_t n;
	int rc = check_range(off, size);

	if (lf == NULL)
		return ctl_read(buf, size, off);
	if (rc != 0 || size > MAX_IO)
		return rc != 0 ? rc : -EINVAL;
	pthread_mutex_lock(&fs.lock);
	fsize = file_size(lf);
	size = (uint64_t)off >= fsize ? 0 : size < fsize - (uint64_t)off ? size : fsize - (uint64_t)off;
	/* A local regular file reads whole below its size (else: zeroes). */
	n = pread(lf->fd, buf, size, off);
	if (n < 0)
		rc = -errno;
	else if ((size_t)n < size)
		memset(buf + n, 0, size - (size_t)n);
	if (rc == 0)
		overlay_read(lf, (uint8_t *)buf, (uint64_t)off, size);
	pthread_mutex_unlock(&fs.lock);
	return rc != 0 ? rc : (int)size;
}

static int op_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct lfile *lf = handle(fi);
	int rc = check_range(off, size);

	if (lf == NULL)
		return ctl_write(buf, size);
	if (rc != 0 || size > MAX_IO)
		return rc != 0 ? rc : -EINVAL;
	pthread_mutex_lock(&fs.lock);
	fs.writes++;
	/* Counted only: see the top of the file. */
	fs.dsync_writes += (fi->flags & O_DSYNC) == O_DSYNC;
	/* A size grown by a write is metadata: durable at once (see the top). */
	if ((uint64_t)off + size > file_size(lf) && ftruncate(lf->fd, off + (off_t)size) != 0)
		rc = -errno;
	if (rc == 0)
		rc = overlay_put(lf, (uint64_t)off, buf, size);
	pthread_mutex_unlock(&fs.lock);
	return rc != 0 ? rc : (int)size;
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct lfile *lf = handle(fi);
	int rc = 0;

	if (lf == NULL)
		return 0;
	pthread_mutex_lock(&fs.lock);
	if (datasync)
		fs.fdatasyncs++;
	else
		fs.fsyncs++;
	rc = overlay_sync(lf);
	pthread_mutex_unlock(&fs.lock);
	return rc;
}

/* close(2) is not a sync: a disk keeps nothing it was not asked to. */
static int op_flush(const char *path, struct fuse_file_info *fi)
{
	pthread_mutex_lock(&fs.lock);
	fs.flushes++;
	pthread_mutex_unlock(&fs.lock);
	return 0;
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	struct lfile *lf = handle(fi);

	if (lf == NULL)
		return 0;
	pthread_mutex_lock(&fs.lock);
	lf->opens--;
	lfile_put(lf);
	pthread_mutex_unlock(&fs.lock);
	return 0;
}

/* Allocation, PUNCH_HOLE and ZERO_RANGE; anything else is refused as by many file systems. */
static int op_fallocate(const char *path, int mode, off_t off, off_t len,
			struct fuse_file_info *fi)
{
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	struct lfile *lf = handle(fi);
	uint64_t size, end;
	int rc = len <= 0 ? -EINVAL : check_range(off, (uint64_t)len);

	if (lf == NULL)
		return -EOPNOTSUPP;
	if (rc != 0)
		return rc;
	if (mode != 0 && mode != punch && (mode & ~FALLOC_FL_KEEP_SIZE) != FALLOC_FL_ZERO_RANGE)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&fs.lock);
	size = file_size(lf);
	end = (uint64_t)off + (uint64_t)len;
	if ((mode & FALLOC_FL_KEEP_SIZE) == 0 && end > size) {
		if (ftruncate(lf->fd, (off_t)end) != 0)
			rc = -errno;
		size = end;
	}
	/* Zeroes up to the size, held like data until a sync. */
	if (rc == 0 && mode != 0 && (uint64_t)off < size)
		rc = overlay_put(lf, (uint64_t)off, NULL, (end < size ? end : size) - (uint64_t)off);
	pthread_mutex_unlock(&fs.lock);
	return rc;
}

/* truncate(2) without a descriptor opens the file for the time of it. */
static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct fuse_file_info tmp = {.flags = O_RDWR};
	bool opened = fi == NULL || handle(fi) == NULL;
	int rc = 0;

	if (is_ctl(path))
		return 0;
	if (opened && (rc = open_common(path, 0, 0, &tmp)) != 0)
		return rc;
	pthread_mutex_lock(&fs.lock);
	rc = lfile_truncate(handle(opened ? &tmp : fi), size);
	if (opened) {
		handle(&tmp)->opens--;
		lfile_put(handle(&tmp));
	}
	pthread_mutex_unlock(&fs.lock);
	return rc;
}

/* The directory entry goes at once; an open file's overlay stays with its handles. */
static int op_unlink(const char *path)
{
	char bp[PATH_MAX];
	struct stat st;
	struct lfile *lf;
	int rc = is_ctl(path) ? -EPERM : backing_path(path, bp);

	if (rc != 0)
		return rc;
	pthread_mutex_lock(&fs.lock);
	if (lstat(bp, &st) != 0 || unlink(bp) != 0) {
		rc = -errno;
	} else if ((lf = lfile_find(st.st_dev, st.st_ino)) != NULL) {
		lf->unlinked = true;
		lfile_put(lf);
	}
	pthread_mutex_unlock(&fs.lock);
	return rc;
}

static const struct fuse_operations ops = {
	.init = op_init,
	.getattr = op_getattr,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.fsync = op_fsync,
	.flush = op_flush,
	.release = op_release,
	.fallocate = op_fallocate,
	.truncate = op_truncate,
	.unlink = op_unlink,
};

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *loop;
	struct fuse_session *se;
	int arg = 1, rc;

	if (argc > arg && strcmp(argv[arg], "--direct-io") == 0) {
		fs.direct_io = true;
		arg++;
	}
	if (argc != arg + 2) {
		fprintf(stderr, "usage: lazyfs [--direct-io] BACKING_DIR MOUNTPOINT\n");
		return 1;
	}
	if (realpath(argv[arg], fs.backing) == NULL) {
		fprintf(stderr, "lazyfs: %s: %s\n", argv[arg], strerror(errno));
		return 1;
	}
	if (fuse_opt_add_arg(&args, argv[0]) != 0 || fuse_opt_add_arg(&args, "-ofsname=lazyfs") != 0)
		return 1;
	fs.fuse = fuse_new(&args, &ops, sizeof(ops), NULL);
	fuse_opt_free_args(&args);
	if (fs.fuse == NULL)
		return 1;
	if (fuse_mount(fs.fuse, argv[arg + 1]) != 0) {
		fprintf(stderr, "lazyfs: cannot mount FUSE on %s (no /dev/fuse, or not allowed)\n",
			argv[arg + 1]);
		fuse_destroy(fs.fuse);
		return 77;
	}
	se = fuse_get_session(fs.fuse);
	if (fuse_set_signal_handlers(se) != 0) {
		fuse_unmount(fs.fuse);
		fuse_destroy(fs.fuse);
		return 1;
	}
	loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(loop, 8);
	rc = fuse_loop_mt(fs.fuse, loop);
	fuse_loop_cfg_destroy(loop);
	fuse_remove_signal_handlers(se);
	fuse_unmount(fs.fuse);
	fuse_destroy(fs.fuse);
	while (fs.files != NULL)
		lfile_free(fs.files);
	/* The loop reports the signal that ended it: a requested stop. */
	return rc == 0 || rc == SIGTERM || rc == SIGINT ? 0 : 1;
}
