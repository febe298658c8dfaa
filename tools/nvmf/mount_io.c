/* SPDX-License-Identifier: MIT */
/*
 * nvmf mount's I/O path.  I/O is direct: every read and write becomes NVMe
 * Reads and Writes, split at the controller's transfer limit and spread over
 * all I/O queues; over several paths, through libnvmf's multipath, which
 * sends a command failed by a lost or inaccessible path again on another.  The FUSE threads only submit; completions arrive on the
 * transport's threads, which answer the kernel themselves, so a handful of
 * FUSE threads keep every queue slot busy.  Permits (one per queue slot)
 * keep submissions from ever finding a queue full.
 *
 * Writes that do not cover whole blocks read the edge blocks, merge and
 * write them back; every write holds its block range for its whole life,
 * so two writers sharing an edge block never lose each other's bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "mount.h"

#define MOUNT_WAIT_SLICE_MS 200       /* blocked handlers look for unmount this often */
#define NLB_MAX 65536u

/* One command of a request, on the queue whose slot it holds. */
struct io_part {
	struct io *io;
	unsigned ioq;
};

/* Where an internal request's caller waits. */
struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

/* ------------------------------------------------------------------ */
/* Messages and clocks, for every part                                 */
/* ------------------------------------------------------------------ */

static bool log_to_syslog;

void mount_log(int prio, const char *fmt, ...)
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

/* The daemon has left the terminal. */
void mount_log_to_syslog(void)
{
	log_to_syslog = true;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct timespec mount_deadline(unsigned ms)
{
	uint64_t t = mono_ns() + (uint64_t)ms * 1000000u;

	return (struct timespec){.tv_sec = (time_t)(t / 1000000000u),
				 .tv_nsec = (long)(t % 1000000000u)};
}

struct nvmf_ctrl *mount_ctrl(struct mount *m)
{
	for (unsigned i = 0; m->mp != NULL && i < nvmf_mpath_npaths(m->mp); i++) {
		struct nvmf_ctrl *c = nvmf_mpath_ctrl(m->mp, i);

		if (c != NULL && nvmf_ctrl_state(c) == NVMF_CTRL_LIVE)
			return c;
	}
	return m->ctrl;
}

/* Some path can take commands now. */
bool mount_live(struct mount *m)
{
	return nvmf_ctrl_state(mount_ctrl(m)) == NVMF_CTRL_LIVE;
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
		struct timespec deadline = mount_deadline(MOUNT_WAIT_SLICE_MS);

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
int mount_io_range_lock(struct mount *m, struct nsfile *f, struct range *r)
{
	pthread_mutex_lock(&f->lock);
	while (range_busy(f, r->start, r->end)) {
		struct timespec deadline = mount_deadline(MOUNT_WAIT_SLICE_MS);

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

void mount_io_range_unlock(struct nsfile *f, struct range *r)
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

/* Blocks per command: the transfer limit (the smallest path's) and the 16-bit NLB field. */
static uint64_t chunk_blocks(const struct mount *m, uint32_t shift)
{
	uint64_t n = (m->mp != NULL ? nvmf_mpath_max_io_size(m->mp)
				    : nvmf_ctrl_max_io_size(m->ctrl)) >> shift;

	return n == 0 ? 1 : n < NLB_MAX ? n : NLB_MAX;
}

/* A request over nlb blocks from slba, with a buffer for them (none for Flush). */
struct io *mount_io_new(struct mount *m, struct nsfile *f, enum io_kind kind, uint64_t slba,
			uint64_t nlb, uint32_t shift)
{
	uint64_t step = chunk_blocks(m, shift);
	unsigned nparts = kind == IO_FLUSH ? 1 : (unsigned)((nlb + step - 1) / step);
	size_t head = (sizeof(struct io) + nparts * sizeof(struct io_part) + 63) & ~(size_t)63;
	size_t bytes = kind == IO_FLUSH ? 0 : (size_t)nlb << shift;
	struct io *io = malloc(head + bytes);

	if (io == NULL)
		return NULL;
	*io = (struct io){.m = m, .f = f, .kind = kind, .slba = slba, .nlb = nlb, .shift = shift,
			  .step = step, .nparts = nparts};
	io->parts = (struct io_part *)(io + 1);
	io->data = (uint8_t *)io + head;
	atomic_fetch_add(&m->ios, 1);
	return io;
}

void mount_io_free(struct io *io)
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

/* Over several paths, the library picks the path and its queue. */
static int part_send_mpath(struct io_part *part, uint64_t slba, uint32_t nlb, uint8_t *buf)
{
	struct io *io = part->io;

	switch (io->kind) {
	case IO_READ:
		return nvmf_mpath_read(io->m->mp, io->f->nsid, slba, nlb, buf, part_done, part);
	case IO_WRITE:
		return nvmf_mpath_write(io->m->mp, io->f->nsid, slba, nlb, buf, io->io_flags,
					part_done, part);
	default:
		return nvmf_mpath_flush(io->m->mp, io->f->nsid, part_done, part);
	}
}

static int part_send(struct io_part *part, uint64_t slba, uint32_t nlb, uint8_t *buf)
{
	struct io *io = part->io;
	struct nvmf_ns *ns = io->f->ns;

	if (io->m->mp != NULL)
		return part_send_mpath(part, slba, nlb, buf);
	switch (io->kind) {
	case IO_READ:
		return nvmf_ns_read(ns, part->ioq, slba, nlb, buf, part_done, part);
	case IO_WRITE:
		return nvmf_ns_write(ns, part->ioq, slba, nlb, buf, io->io_flags, part_done, part);
	default:
		return nvmf_ns_flush(ns, part->ioq, part_done, part);
	}
}

static int part_submit(struct io *io, unsigned i, uint64_t slba, uint32_t nlb, uint8_t *buf)
{
	struct io_part *part = &io->parts[i];

	part->io = io;
	for (;;) {
		int ioq = permit_take(io->m), ret;

		if (ioq < 0)
			return ioq;
		part->ioq = (unsigned)ioq;
		ret = part_send(part, slba, nlb, buf);
		if (ret == 0)
			return 0;
		permit_give(io->m, part->ioq);
		/* The library's own synchronous helpers (fallocate) may hold the slot,
		 * or all of multipath's commands went to the one path left. */
		if (ret != -EAGAIN)
			return ret;
		sched_yield();
	}
}

/* Send every part; io->done runs once the last one completed (perhaps at once). */
void mount_io_submit(struct io *io)
{
	uint64_t step = io->step;

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
	mount_io_submit(io);
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
	struct io *io = mount_io_new(m, f, kind, slba, nlb, shift);
	size_t bytes = (size_t)nlb << shift;
	int err;

	if (io == NULL)
		return ENOMEM;
	if (kind == IO_WRITE)
		memcpy(io->data, buf, bytes);
	err = io_run(io);
	if (err == 0 && kind == IO_READ)
		memcpy(buf, io->data, bytes);
	mount_io_free(io);
	return err;
}

/*
 * Fill the partial blocks at the edges of [off, off + len) in io->data with
 * what the namespace holds (the range is held).  0 or a positive errno.
 */
int mount_io_read_edges(struct mount *m, struct io *io, uint64_t off, size_t len)
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
static int write_zero_buffers(struct mount *m, struct nsfile *f, uint64_t from, uint64_t to)
{
	size_t chunk = MOUNT_MAX_IO;
	void *zeroes = calloc(1, chunk);
	int ret = 0;

	if (zeroes == NULL)
		return ENOMEM;
	for (uint64_t pos = from; pos < to && ret == 0; pos += chunk)
		ret = m->mp != NULL
			      ? nvmf_mpath_write_sync(m->mp, f->nsid, pos, zeroes,
						      to - pos < chunk ? to - pos : chunk, 0)
			      : nvmf_ns_write_sync(f->ns, pos, zeroes,
						   to - pos < chunk ? to - pos : chunk, 0);
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
	unsigned wz_flags = punch && (dlfeat & NVME_NS_DLFEAT_WZ_DEALLOC) ? NVMF_IO_DEALLOCATE : 0;

	if (punch && dsm_zeroes)
		return result_errno(m->mp != NULL
					    ? nvmf_mpath_trim_sync(m->mp, f->nsid, from, to - from)
					    : nvmf_ns_trim_sync(f->ns, from, to - from));
	if ((oncs & NVME_CTRL_ONCS_WRITE_ZEROES) != 0)
		return result_errno(
			m->mp != NULL
				? nvmf_mpath_write_zeroes_sync(m->mp, f->nsid, from, to - from,
							       wz_flags)
				: nvmf_ns_write_zeroes_sync(f->ns, from, to - from, wz_flags));
	return write_zero_buffers(m, f, from, to);
}

/* Make [off, end) read zeroes: whole blocks at once, partial edge blocks by RMW. */
int mount_io_zero_range(struct mount *m, struct nsfile *f, uint64_t off, uint64_t end,
			bool punch)
{
	uint32_t shift = (uint32_t)__builtin_ctz(nvmf_ns_lba_size(f->ns));
	uint64_t bs = 1ull << shift;
	uint64_t first_full = (off + bs - 1) & ~(bs - 1), last_full = end & ~(bs - 1);
	struct range r = {.start = off >> shift, .end = (end + bs - 1) >> shift};
	int err = mount_io_range_lock(m, f, &r);

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
	mount_io_range_unlock(f, &r);
	return err;
}

/* Flush at unmount: 0, -errno or an NVMe status. */
int mount_flush_sync(struct mount *m, struct nsfile *f)
{
	return m->mp != NULL ? nvmf_mpath_flush_sync(m->mp, f->nsid) : nvmf_ns_flush_sync(f->ns);
}
