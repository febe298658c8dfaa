/* SPDX-License-Identifier: MIT */
/*
 * Multipath: one subsystem over several paths, a layer above the
 * single-path controller (ctrl.c), in the shape of Linux's native
 * multipath (drivers/nvme/host/multipath.c).
 *
 * Every path is a controller of its own, made a "failfast" path: when its
 * connection is lost, its commands fail with ENOTCONN instead of being
 * held, and it tells us of each state change (ctrl_set_path_hooks).  A
 * command here (struct mp_req) goes to the path the I/O policy picks among
 * those that are live and whose ANA state for the namespace is optimized
 * (non-optimized only when no optimized one is usable).  When it fails
 * for a path reason (the connection, or a path status such as 302h ANA
 * Inaccessible) it goes again over another usable path, or waits on the
 * held list until one is usable; the worker thread retries held commands,
 * reads ANA logs (at connect, after a reconnect, on an ANA event or a path
 * status) and connects paths that were down at the start.  A command fails
 * with ENODEV only when every path is gone for good (ctrl-loss-tmo).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/host_internal.h"
#include "util/clock.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/thread.h"

#define MP_MAX_NSID 1024      /* namespaces whose ANA state a path keeps */
#define MP_RETRY_MS 10        /* held commands are tried again this often */
#define MP_IDLE_MS 1000
#define MP_ANA_MAX_GROUPS 1024
#define MP_ANA_MAX_NSIDS 16384

enum mp_op { MP_READ, MP_WRITE, MP_FLUSH, MP_WRITE_ZEROES, MP_DSM };

#define MP_NLB_MAX 65536u     /* NLB is a 16-bit 0's based field */

struct nvmf_mpath;

struct mp_path {
	struct nvmf_mpath *mp;
	unsigned index;
	struct nvmf_host_opts opts;    /* strings: the copies in strs */
	char *strs[8];
	nvmf_aen_cb *user_aen_cb;
	void *user_aen_arg;
	_Atomic(struct nvmf_ctrl *) ctrl; /* set once, by a successful connect */
	uint64_t next_try_ns;          /* worker: the next connect attempt */
	uint64_t give_up_ns;           /* worker: 0 never */
	_Atomic bool gone;             /* never connected within its ctrl-loss-tmo */
	_Atomic bool ana_stale;        /* the worker reads the ANA log */
	_Atomic bool ana_known;        /* false: the controller reports no ANA */
	_Atomic int inflight;
	_Atomic uint64_t commands;
	_Atomic uint8_t ns_ana[MP_MAX_NSID + 1];   /* enum nvme_ana_state; 0 unlisted */
	_Atomic uint32_t ns_grp[MP_MAX_NSID + 1];
	/* The states the log gave last (ns_ana may be ahead: a path status),
	 * so each change the log shows is logged once.  The worker's only. */
	uint8_t logged_ana[MP_MAX_NSID + 1];
};

struct mp_req {
	struct nvmf_mpath *mp;
	struct mp_req *next;
	enum mp_op op;
	uint32_t nsid;
	uint64_t slba;
	uint32_t nlb;                  /* DSM: the number of ranges */
	void *buf;                     /* DSM: the ranges */
	unsigned flags;                /* NVMF_IO_*; DSM: the attributes */
	nvmf_cmd_cb *cb;
	void *arg;
	struct mp_path *path;          /* where it was sent last */
	struct mp_path *avoid;         /* the path it just failed on */
};

struct nvmf_mpath {
	unsigned npaths;
	struct mp_path paths[NVMF_MPATH_MAX_PATHS];
	_Atomic int policy;            /* enum nvmf_iopolicy */
	_Atomic unsigned rr;
	_Atomic uint32_t max_io_size;
	_Atomic bool stopping;
	pthread_mutex_t lock;          /* below */
	pthread_cond_t cond;
	struct mp_req *held_head, **held_tail;
	bool kick;
	bool stop;
	pthread_t worker;
	bool worker_started;
};

int nvmf_iopolicy_parse(const char *name, enum nvmf_iopolicy *policy)
{
	if (strcmp(name, "round-robin") == 0)
		*policy = NVMF_IOPOLICY_ROUND_ROBIN;
	else if (strcmp(name, "queue-depth") == 0)
		*policy = NVMF_IOPOLICY_QUEUE_DEPTH;
	else
		return -EINVAL;
	return 0;
}

const char *nvmf_iopolicy_name(enum nvmf_iopolicy policy)
{
	return policy == NVMF_IOPOLICY_QUEUE_DEPTH ? "queue-depth" : "round-robin";
}

static void mp_kick(struct nvmf_mpath *mp)
{
	nvmf_mutex_lock(&mp->lock);
	mp->kick = true;
	pthread_cond_signal(&mp->cond);
	nvmf_mutex_unlock(&mp->lock);
}

/* ------------------------------------------------------------------ */
/* Path state                                                          */
/* ------------------------------------------------------------------ */

static bool path_live(struct mp_path *p)
{
	struct nvmf_ctrl *c = atomic_load(&p->ctrl);

	return c != NULL && nvmf_ctrl_state(c) == NVMF_CTRL_LIVE;
}

/* Gone for good: never connected in time, or ctrl-loss-tmo expired. */
static bool path_dead(struct mp_path *p)
{
	struct nvmf_ctrl *c = atomic_load(&p->ctrl);

	if (c == NULL)
		return atomic_load(&p->gone);
	return nvmf_ctrl_state(c) == NVMF_CTRL_FAILED;
}

static uint8_t path_ana(struct mp_path *p, uint32_t nsid)
{
	uint8_t s;

	if (!atomic_load(&p->ana_known) || nsid > MP_MAX_NSID)
		return NVME_ANA_OPTIMIZED;
	s = atomic_load(&p->ns_ana[nsid]);
	/* Not in the log: usable, not preferred. */
	return s == 0 ? NVME_ANA_NON_OPTIMIZED : s;
}

static bool path_usable(struct mp_path *p, uint32_t nsid, uint8_t want)
{
	return path_live(p) && path_ana(p, nsid) == want;
}

static struct mp_path *select_path(struct nvmf_mpath *mp, uint32_t nsid, struct mp_path *avoid)
{
	static const uint8_t order[] = {NVME_ANA_OPTIMIZED, NVME_ANA_NON_OPTIMIZED};
	bool qd = atomic_load_explicit(&mp->policy, memory_order_relaxed) ==
		  NVMF_IOPOLICY_QUEUE_DEPTH;

	for (size_t k = 0; k < sizeof(order); k++) {
		struct mp_path *best = NULL;
		unsigned start = qd ? 0 : atomic_fetch_add_explicit(&mp->rr, 1, memory_order_relaxed);

		for (unsigned i = 0; i < mp->npaths; i++) {
			struct mp_path *p = &mp->paths[(start + i) % mp->npaths];

			if (p == avoid || !path_usable(p, nsid, order[k]))
				continue;
			if (!qd)
				return p;
			if (best == NULL || atomic_load(&p->inflight) < atomic_load(&best->inflight))
				best = p;
		}
		if (best != NULL)
			return best;
	}
	return NULL;
}

/* The ANA log of a live path into its per-namespace states. */
static void path_read_ana(struct mp_path *p)
{
	struct nvmf_ctrl *c = atomic_load(&p->ctrl);
	const struct nvme_id_ctrl *id;
	uint8_t st[MP_MAX_NSID + 1] = {0};
	uint32_t grp[MP_MAX_NSID + 1] = {0};
	struct nvme_ana_log_hdr hdr;
	size_t len, off;
	uint8_t *buf;
	int ret;

	atomic_store(&p->ana_stale, false);
	if (c == NULL || nvmf_ctrl_state(c) != NVMF_CTRL_LIVE)
		return; /* read again when it is back (the state hook) */
	id = nvmf_ctrl_identify(c);
	if (!(id->cmic & NVME_CTRL_CMIC_ANA)) {
		atomic_store(&p->ana_known, false);
		return;
	}
	len = sizeof(hdr) +
	      (id->nanagrpid < MP_ANA_MAX_GROUPS ? id->nanagrpid : MP_ANA_MAX_GROUPS) *
		      sizeof(struct nvme_ana_group_desc) +
	      (id->nn < MP_ANA_MAX_NSIDS ? id->nn : MP_ANA_MAX_NSIDS) * sizeof(uint32_t);
	buf = calloc(1, len);
	if (buf == NULL)
		return;
	ret = nvmf_get_log_page(c, NVME_LOG_ANA, HOST_NSID_ALL, 0, buf, len, false);
	if (ret != 0) {
		NVMF_WARN("host: %s: reading the ANA log failed (%d)", c->name, ret);
		free(buf);
		return;
	}
	memcpy(&hdr, buf, sizeof(hdr));
	off = sizeof(hdr);
	/* Every count bounded by what was read. */
	for (unsigned g = 0; g < hdr.ngrps && len - off >= sizeof(struct nvme_ana_group_desc); g++) {
		struct nvme_ana_group_desc d;

		memcpy(&d, buf + off, sizeof(d));
		off += sizeof(d);
		if (d.nnsids > (len - off) / sizeof(uint32_t))
			break;
		for (uint32_t i = 0; i < d.nnsids; i++) {
			uint32_t nsid;

			memcpy(&nsid, buf + off, sizeof(nsid));
			off += sizeof(nsid);
			if (nsid != 0 && nsid <= MP_MAX_NSID) {
				st[nsid] = d.state & 0xf;
				grp[nsid] = d.grpid;
			}
		}
	}
	free(buf);
	for (uint32_t n = 1; n <= MP_MAX_NSID; n++) {
		atomic_store(&p->ns_ana[n], st[n]);
		if (p->logged_ana[n] != st[n] && st[n] != 0)
			NVMF_INFO("host: %s: namespace %u: ANA group %u %s", c->name, n, grp[n],
				  nvmf_ana_state_name(st[n]));
		p->logged_ana[n] = st[n];
		atomic_store(&p->ns_grp[n], grp[n]);
	}
	atomic_store(&p->ana_known, true);
}

static void mp_state_hook(void *arg, struct nvmf_ctrl *c, enum nvmf_ctrl_state state)
{
	struct mp_path *p = arg;

	NVMF_INFO("host: %s: path %u %s", c->name, p->index,
		  state == NVMF_CTRL_LIVE ? "is back" : state == NVMF_CTRL_FAILED ? "is gone"
										 : "is down");
	if (state == NVMF_CTRL_LIVE)
		atomic_store(&p->ana_stale, true);
	mp_kick(p->mp);
}

static void mp_aen(void *arg, uint32_t cdw0, const void *log, size_t len)
{
	struct mp_path *p = arg;

	if ((cdw0 & 0x7) == NVME_AER_TYPE_NOTICE &&
	    ((cdw0 >> 8) & 0xff) == NVME_AER_NOTICE_ANA_CHANGE) {
		atomic_store(&p->ana_stale, true);
		mp_kick(p->mp);
	}
	if (p->user_aen_cb != NULL)
		p->user_aen_cb(p->user_aen_arg, cdw0, log, len);
}

static void path_joined(struct mp_path *p, struct nvmf_ctrl *c)
{
	struct nvmf_mpath *mp = p->mp;
	uint32_t max = nvmf_ctrl_max_io_size(c), cur = atomic_load(&mp->max_io_size);

	ctrl_set_path_hooks(c, mp_state_hook, p);
	while ((cur == 0 || max < cur) && !atomic_compare_exchange_weak(&mp->max_io_size, &cur, max))
		;
	atomic_store(&p->ctrl, c);
	path_read_ana(p);
}

static int path_connect(struct mp_path *p, struct nvmf_error *err)
{
	struct nvmf_ctrl *c = nvmf_connect(&p->opts, err);

	if (c == NULL)
		return -(err->errnum != 0 ? err->errnum : EIO);
	path_joined(p, c);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Commands                                                            */
/* ------------------------------------------------------------------ */

static bool path_errno(int e)
{
	return e == ENOTCONN || e == ECONNABORTED || e == ECONNRESET || e == ENODEV ||
	       e == ETIMEDOUT || e == EPIPE || e == ENXIO || e == ESHUTDOWN;
}

static void req_finish(struct mp_req *r, const struct nvmf_cpl *cpl)
{
	nvmf_cmd_cb *cb = r->cb;
	void *arg = r->arg;

	free(r);
	cb(arg, cpl);
}

static void req_done(void *arg, const struct nvmf_cpl *cpl);

static int req_send(struct mp_req *r, struct mp_path *p)
{
	struct nvmf_ctrl *c = atomic_load(&p->ctrl);
	struct nvmf_ns *ns = nvmf_ctrl_ns(c, r->nsid);
	int ret;

	if (ns == NULL)
		return -ENXIO; /* not on this path (yet) */
	r->path = p;
	atomic_fetch_add(&p->inflight, 1);
	switch (r->op) {
	case MP_READ:
		ret = nvmf_ns_read(ns, NVMF_IOQ_ANY, r->slba, r->nlb, r->buf, req_done, r);
		break;
	case MP_WRITE:
		ret = nvmf_ns_write(ns, NVMF_IOQ_ANY, r->slba, r->nlb, r->buf, r->flags, req_done,
				    r);
		break;
	case MP_WRITE_ZEROES:
		ret = nvmf_ns_write_zeroes(ns, NVMF_IOQ_ANY, r->slba, r->nlb, r->flags, req_done,
					   r);
		break;
	case MP_DSM:
		ret = nvmf_ns_dsm(ns, NVMF_IOQ_ANY, r->buf, r->nlb, r->flags, req_done, r);
		break;
	default:
		ret = nvmf_ns_flush(ns, NVMF_IOQ_ANY, req_done, r);
		break;
	}
	if (ret != 0)
		atomic_fetch_sub(&p->inflight, 1);
	else
		atomic_fetch_add_explicit(&p->commands, 1, memory_order_relaxed);
	return ret;
}

/* Park a command until a path is usable: 0, or -ENODEV / -ESHUTDOWN. */
static int req_hold(struct mp_req *r)
{
	struct nvmf_mpath *mp = r->mp;
	bool dead = true;

	for (unsigned i = 0; i < mp->npaths && dead; i++)
		dead = path_dead(&mp->paths[i]);
	if (dead)
		return -ENODEV;
	nvmf_mutex_lock(&mp->lock);
	if (mp->stop) {
		nvmf_mutex_unlock(&mp->lock);
		return -ESHUTDOWN;
	}
	r->next = NULL;
	*mp->held_tail = r;
	mp->held_tail = &r->next;
	mp->kick = true;
	pthread_cond_signal(&mp->cond);
	nvmf_mutex_unlock(&mp->lock);
	return 0;
}

/*
 * Send r over a usable path, or hold it.  0, or an error for the caller:
 * one no path can help (-EINVAL, ...), -EAGAIN on a first submission whose
 * path is full, -ENODEV when every path is gone.
 */
static int req_route(struct mp_req *r, bool first)
{
	struct nvmf_mpath *mp = r->mp;

	for (unsigned tries = 0; tries < mp->npaths; tries++) {
		struct mp_path *p = select_path(mp, r->nsid, r->avoid);
		int ret;

		if (p == NULL)
			break;
		ret = req_send(r, p);
		if (ret == 0)
			return 0;
		if (ret == -EAGAIN) {
			if (first)
				return -EAGAIN;
			break;
		}
		if (!path_errno(-ret))
			return ret;
		r->avoid = p;
	}
	if (atomic_load(&mp->stopping))
		return -ESHUTDOWN;
	return req_hold(r);
}

/* A completion that another path may do better: note what it says. */
static bool path_failure(struct mp_req *r, const struct nvmf_cpl *cpl)
{
	struct mp_path *p = r->path;
	uint8_t sc = cpl->status & 0xff, state = 0;

	if (cpl->error != 0)
		return path_errno(cpl->error);
	if ((cpl->status >> 8) != NVME_SCT_PATH || cpl->dnr)
		return false;
	if (sc == NVME_SC_ANA_INACCESSIBLE)
		state = NVME_ANA_INACCESSIBLE;
	else if (sc == NVME_SC_ANA_PERSISTENT_LOSS)
		state = NVME_ANA_PERSISTENT_LOSS;
	else if (sc == NVME_SC_ANA_TRANSITION)
		state = NVME_ANA_CHANGE;
	if (state != 0) {
		/* Until the log says otherwise; read it now. */
		if (r->nsid <= MP_MAX_NSID && atomic_load(&p->ana_known))
			atomic_store(&p->ns_ana[r->nsid], state);
		atomic_store(&p->ana_stale, true);
		mp_kick(r->mp);
	}
	return true;
}

static void req_done(void *arg, const struct nvmf_cpl *cpl)
{
	struct mp_req *r = arg;
	int ret;

	atomic_fetch_sub(&r->path->inflight, 1);
	if (atomic_load(&r->mp->stopping) || !path_failure(r, cpl)) {
		req_finish(r, cpl);
		return;
	}
	r->avoid = r->path;
	ret = req_route(r, false);
	if (ret != 0)
		req_finish(r, &(struct nvmf_cpl){.error = -ret});
}

static int mp_submit(struct nvmf_mpath *mp, const struct mp_req *tmpl)
{
	struct mp_req *r;
	int ret;

	if (atomic_load(&mp->stopping))
		return -ESHUTDOWN;
	r = malloc(sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	*r = *tmpl;
	r->mp = mp;
	ret = req_route(r, true);
	if (ret != 0)
		free(r);
	return ret;
}

int nvmf_mpath_read(struct nvmf_mpath *mp, uint32_t nsid, uint64_t slba, uint32_t nlb,
		    void *buf, nvmf_cmd_cb *cb, void *arg)
{
	return mp_submit(mp, &(struct mp_req){.op = MP_READ, .nsid = nsid, .slba = slba,
					      .nlb = nlb, .buf = buf, .cb = cb, .arg = arg});
}

int nvmf_mpath_write(struct nvmf_mpath *mp, uint32_t nsid, uint64_t slba, uint32_t nlb,
		     const void *buf, unsigned io_flags, nvmf_cmd_cb *cb, void *arg)
{
	return mp_submit(mp, &(struct mp_req){.op = MP_WRITE, .nsid = nsid, .slba = slba,
					      .nlb = nlb, .buf = (void *)buf, .flags = io_flags,
					      .cb = cb, .arg = arg});
}

int nvmf_mpath_flush(struct nvmf_mpath *mp, uint32_t nsid, nvmf_cmd_cb *cb, void *arg)
{
	return mp_submit(mp, &(struct mp_req){.op = MP_FLUSH, .nsid = nsid, .cb = cb, .arg = arg});
}

int nvmf_mpath_write_zeroes(struct nvmf_mpath *mp, uint32_t nsid, uint64_t slba, uint32_t nlb,
			    unsigned io_flags, nvmf_cmd_cb *cb, void *arg)
{
	return mp_submit(mp, &(struct mp_req){.op = MP_WRITE_ZEROES, .nsid = nsid, .slba = slba,
					      .nlb = nlb, .flags = io_flags, .cb = cb, .arg = arg});
}

int nvmf_mpath_dsm(struct nvmf_mpath *mp, uint32_t nsid, const struct nvme_dsm_range *ranges,
		   unsigned nr, uint32_t attributes, nvmf_cmd_cb *cb, void *arg)
{
	if (ranges == NULL || nr == 0 || nr > NVME_DSM_MAX_RANGES)
		return -EINVAL;
	return mp_submit(mp, &(struct mp_req){.op = MP_DSM, .nsid = nsid, .buf = (void *)ranges,
					      .nlb = nr, .flags = attributes, .cb = cb,
					      .arg = arg});
}

/* One command to its completion, waiting while the chosen path is full. */
static int mp_sync(struct nvmf_mpath *mp, const struct mp_req *tmpl)
{
	struct mp_req req = *tmpl;
	struct sync_wait w;
	int ret;

	sync_wait_init(&w);
	req.cb = sync_cb;
	req.arg = &w;
	while ((ret = mp_submit(mp, &req)) == -EAGAIN)
		nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);
	if (ret != 0) {
		w.done = true;
		sync_wait_for(&w);
		return ret;
	}
	sync_wait_for(&w);
	return nvmf_cpl_result(&w.cpl);
}

/* A byte range as blocks of the namespace: 0, -EINVAL (unaligned) or -ENOENT/-ENODEV. */
static int mp_byte_range(struct nvmf_mpath *mp, uint32_t nsid, uint64_t offset, uint64_t len,
			 uint32_t *lba_size)
{
	struct nvmf_ns_info info;
	int ret = nvmf_mpath_ns_info(mp, nsid, &info);

	if (ret != 0)
		return ret;
	if (info.lba_size == 0 || offset % info.lba_size != 0 || len % info.lba_size != 0)
		return -EINVAL;
	*lba_size = info.lba_size;
	return 0;
}

static int mp_sync_rw(struct nvmf_mpath *mp, bool write, uint32_t nsid, uint64_t offset,
		      void *buf, size_t len, unsigned flags)
{
	uint32_t lba_size, chunk = nvmf_mpath_max_io_size(mp);
	int ret = mp_byte_range(mp, nsid, offset, len, &lba_size);

	if (ret != 0)
		return ret;
	chunk -= chunk % lba_size;
	while (len > 0) {
		size_t n = len < chunk ? len : chunk;

		ret = mp_sync(mp, &(struct mp_req){.op = write ? MP_WRITE : MP_READ, .nsid = nsid,
						   .slba = offset / lba_size,
						   .nlb = (uint32_t)(n / lba_size), .buf = buf,
						   .flags = flags});
		if (ret != 0)
			return ret;
		offset += n;
		buf = (uint8_t *)buf + n;
		len -= n;
	}
	return 0;
}

int nvmf_mpath_read_sync(struct nvmf_mpath *mp, uint32_t nsid, uint64_t offset, void *buf,
			 size_t len)
{
	return mp_sync_rw(mp, false, nsid, offset, buf, len, 0);
}

int nvmf_mpath_write_sync(struct nvmf_mpath *mp, uint32_t nsid, uint64_t offset,
			  const void *buf, size_t len, unsigned io_flags)
{
	return mp_sync_rw(mp, true, nsid, offset, (void *)buf, len, io_flags);
}

int nvmf_mpath_flush_sync(struct nvmf_mpath *mp, uint32_t nsid)
{
	return mp_sync(mp, &(struct mp_req){.op = MP_FLUSH, .nsid = nsid});
}

int nvmf_mpath_write_zeroes_sync(struct nvmf_mpath *mp, uint32_t nsid, uint64_t offset,
				 uint64_t len, unsigned io_flags)
{
	uint32_t lba_size = 1;
	int ret = mp_byte_range(mp, nsid, offset, len, &lba_size);
	uint64_t slba = offset / lba_size, nlb = len / lba_size;

	while (ret == 0 && nlb > 0) {
		uint32_t n = (uint32_t)(nlb < MP_NLB_MAX ? nlb : MP_NLB_MAX);

		ret = mp_sync(mp, &(struct mp_req){.op = MP_WRITE_ZEROES, .nsid = nsid,
						   .slba = slba, .nlb = n, .flags = io_flags});
		slba += n;
		nlb -= n;
	}
	return ret;
}

int nvmf_mpath_trim_sync(struct nvmf_mpath *mp, uint32_t nsid, uint64_t offset, uint64_t len)
{
	struct nvme_dsm_range ranges[NVME_DSM_MAX_RANGES];
	uint32_t lba_size = 1;
	int ret = mp_byte_range(mp, nsid, offset, len, &lba_size);
	uint64_t slba = offset / lba_size, nlb = len / lba_size;

	while (ret == 0 && nlb > 0) {
		unsigned nr = 0;

		memset(ranges, 0, sizeof(ranges));
		for (; nlb > 0 && nr < NVME_DSM_MAX_RANGES; nr++) {
			uint32_t n = (uint32_t)(nlb < UINT32_MAX ? nlb : UINT32_MAX);

			ranges[nr].slba = slba;
			ranges[nr].nlb = n;
			slba += n;
			nlb -= n;
		}
		ret = mp_sync(mp, &(struct mp_req){.op = MP_DSM, .nsid = nsid, .buf = ranges,
						   .nlb = nr, .flags = NVME_DSM_ATTR_DEALLOCATE});
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* The worker                                                          */
/* ------------------------------------------------------------------ */

static void try_connect_paths(struct nvmf_mpath *mp, uint64_t now)
{
	for (unsigned i = 0; i < mp->npaths; i++) {
		struct mp_path *p = &mp->paths[i];
		struct nvmf_error err;
		int delay_s = p->opts.reconnect_delay_s > 0 ? p->opts.reconnect_delay_s : 1;

		if (atomic_load(&p->ctrl) != NULL || atomic_load(&p->gone) || now < p->next_try_ns)
			continue;
		if (path_connect(p, &err) == 0) {
			NVMF_INFO("host: multipath: path %u (%s:%s) joined", i, p->opts.traddr,
				  p->opts.trsvcid);
			continue;
		}
		p->next_try_ns = nvmf_now_ns() + (uint64_t)delay_s * 1000000000u;
		if (p->give_up_ns != 0 && p->next_try_ns >= p->give_up_ns) {
			NVMF_WARN("host: multipath: path %u (%s:%s): giving up: %s", i,
				  p->opts.traddr, p->opts.trsvcid, err.msg);
			atomic_store(&p->gone, true);
		}
	}
}

static void retry_held(struct nvmf_mpath *mp)
{
	struct mp_req *list;

	nvmf_mutex_lock(&mp->lock);
	list = mp->held_head;
	mp->held_head = NULL;
	mp->held_tail = &mp->held_head;
	nvmf_mutex_unlock(&mp->lock);
	while (list != NULL) {
		struct mp_req *r = list;
		int ret;

		list = r->next;
		r->avoid = NULL;
		ret = req_route(r, false);
		if (ret != 0)
			req_finish(r, &(struct nvmf_cpl){.error = -ret});
	}
}

/* When the worker has something to do next: ms from now. */
static uint64_t worker_wait_ms(struct nvmf_mpath *mp, uint64_t now)
{
	uint64_t ms = MP_IDLE_MS;

	if (mp->held_head != NULL)
		return MP_RETRY_MS;
	for (unsigned i = 0; i < mp->npaths; i++) {
		struct mp_path *p = &mp->paths[i];

		if (atomic_load(&p->ctrl) == NULL && !atomic_load(&p->gone)) {
			uint64_t in = p->next_try_ns > now ? (p->next_try_ns - now) / 1000000u : 0;

			if (in < ms)
				ms = in;
		}
	}
	return ms;
}

static void *mp_worker(void *arg)
{
	struct nvmf_mpath *mp = arg;

	nvmf_mutex_lock(&mp->lock);
	while (!mp->stop) {
		if (!mp->kick) {
			struct timespec deadline =
				nvmf_deadline_ms(worker_wait_ms(mp, nvmf_now_ns()));

			pthread_cond_timedwait(&mp->cond, &mp->lock, &deadline);
			if (mp->stop)
				break;
		}
		mp->kick = false;
		nvmf_mutex_unlock(&mp->lock);
		try_connect_paths(mp, nvmf_now_ns());
		for (unsigned i = 0; i < mp->npaths; i++)
			if (atomic_load(&mp->paths[i].ana_stale))
				path_read_ana(&mp->paths[i]);
		retry_held(mp);
		nvmf_mutex_lock(&mp->lock);
	}
	nvmf_mutex_unlock(&mp->lock);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

/* Our own copy of a path's options: its strings outlive the caller's. */
static int path_setup(struct mp_path *p, const struct nvmf_host_opts *given,
		      struct nvmf_error *err)
{
	const char **fields[] = {&p->opts.traddr,	  &p->opts.trsvcid,
				 &p->opts.subnqn,	  &p->opts.hostnqn,
				 &p->opts.hostid,	  &p->opts.dhchap_secret,
				 &p->opts.dhchap_ctrl_secret, &p->opts.tls_key};

	if (host_opts_import(&p->opts, given, err) != 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (*fields[i] == NULL)
			continue;
		p->strs[i] = strdup(*fields[i]);
		if (p->strs[i] == NULL) {
			host_set_error(err, ENOMEM, 0, "out of memory");
			return -ENOMEM;
		}
		*fields[i] = p->strs[i];
	}
	p->user_aen_cb = p->opts.aen_cb;
	p->user_aen_arg = p->opts.aen_arg;
	p->opts.aen_cb = mp_aen;
	p->opts.aen_arg = p;
	return 0;
}

static void mp_free(struct nvmf_mpath *mp)
{
	for (unsigned i = 0; i < NVMF_MPATH_MAX_PATHS; i++)
		for (size_t k = 0; k < 8; k++) {
			if (mp->paths[i].strs[k] != NULL)
				explicit_bzero(mp->paths[i].strs[k], strlen(mp->paths[i].strs[k]));
			free(mp->paths[i].strs[k]);
		}
	pthread_cond_destroy(&mp->cond);
	pthread_mutex_destroy(&mp->lock);
	free(mp);
}

static void connect_paths(struct nvmf_mpath *mp, struct nvmf_error *first_err, bool *any)
{
	uint64_t now = nvmf_now_ns();

	*any = false;
	for (unsigned i = 0; i < mp->npaths; i++) {
		struct mp_path *p = &mp->paths[i];
		struct nvmf_error err;
		int delay_s = p->opts.reconnect_delay_s > 0 ? p->opts.reconnect_delay_s : 1;

		if (path_connect(p, &err) == 0) {
			*any = true;
			continue;
		}
		NVMF_WARN("host: multipath: path %u (%s:%s) not connected: %s", i, p->opts.traddr,
			  p->opts.trsvcid, err.msg);
		if (first_err->msg[0] == '\0')
			*first_err = err;
		p->next_try_ns = now + (uint64_t)delay_s * 1000000000u;
		if (p->opts.ctrl_loss_tmo_s >= 0)
			p->give_up_ns = now + (uint64_t)p->opts.ctrl_loss_tmo_s * 1000000000u + 1;
	}
}

struct nvmf_mpath *nvmf_mpath_connect(const struct nvmf_host_opts *const *paths,
				      unsigned npaths, enum nvmf_iopolicy policy,
				      struct nvmf_error *err)
{
	struct nvmf_error first = {0};
	struct nvmf_mpath *mp;
	bool any;

	memset(err, 0, sizeof(*err));
	if (npaths == 0 || npaths > NVMF_MPATH_MAX_PATHS ||
	    (policy != NVMF_IOPOLICY_ROUND_ROBIN && policy != NVMF_IOPOLICY_QUEUE_DEPTH)) {
		host_set_error(err, EINVAL, 0, "multipath: %u paths (1..%u) or an unknown policy",
			       npaths, NVMF_MPATH_MAX_PATHS);
		return NULL;
	}
	mp = calloc(1, sizeof(*mp));
	if (mp == NULL) {
		host_set_error(err, ENOMEM, 0, "out of memory");
		return NULL;
	}
	nvmf_mutex_init(&mp->lock);
	/* The worker's deadlines are CLOCK_MONOTONIC (nvmf_deadline_ms). */
	nvmf_cond_init_monotonic(&mp->cond);
	mp->held_tail = &mp->held_head;
	mp->npaths = npaths;
	atomic_init(&mp->policy, policy);
	for (unsigned i = 0; i < npaths; i++) {
		mp->paths[i].mp = mp;
		mp->paths[i].index = i;
		if (path_setup(&mp->paths[i], paths[i], err) != 0) {
			mp_free(mp);
			return NULL;
		}
	}
	connect_paths(mp, &first, &any);
	if (!any) {
		*err = first;
		mp_free(mp);
		return NULL;
	}
	if (pthread_create(&mp->worker, NULL, mp_worker, mp) != 0) {
		host_set_error(err, EAGAIN, 0, "multipath: no worker thread");
		nvmf_mpath_disconnect(mp);
		return NULL;
	}
	/* Named here, so that it has its name once connect returns. */
	nvmf_thread_name(mp->worker, "nvmf-mpath");
	mp->worker_started = true;
	return mp;
}

int nvmf_mpath_disconnect(struct nvmf_mpath *mp)
{
	int ret = 0;

	if (mp == NULL)
		return 0;
	atomic_store(&mp->stopping, true);
	nvmf_mutex_lock(&mp->lock);
	mp->stop = true;
	pthread_cond_signal(&mp->cond);
	nvmf_mutex_unlock(&mp->lock);
	if (mp->worker_started)
		pthread_join(mp->worker, NULL);
	/* Held commands: nowhere to go now. */
	while (mp->held_head != NULL) {
		struct mp_req *r = mp->held_head;

		mp->held_head = r->next;
		req_finish(r, &(struct nvmf_cpl){.error = ESHUTDOWN});
	}
	for (unsigned i = 0; i < mp->npaths; i++) {
		struct nvmf_ctrl *c = atomic_load(&mp->paths[i].ctrl);
		int r = c != NULL ? nvmf_disconnect(c) : 0;

		if (ret == 0)
			ret = r;
	}
	mp_free(mp);
	return ret;
}

int nvmf_mpath_set_iopolicy(struct nvmf_mpath *mp, enum nvmf_iopolicy policy)
{
	if (policy != NVMF_IOPOLICY_ROUND_ROBIN && policy != NVMF_IOPOLICY_QUEUE_DEPTH)
		return -EINVAL;
	atomic_store(&mp->policy, policy);
	return 0;
}

unsigned nvmf_mpath_npaths(const struct nvmf_mpath *mp)
{
	return mp->npaths;
}

struct nvmf_ctrl *nvmf_mpath_ctrl(struct nvmf_mpath *mp, unsigned path)
{
	return path < mp->npaths ? atomic_load(&mp->paths[path].ctrl) : NULL;
}

uint32_t nvmf_mpath_max_io_size(const struct nvmf_mpath *mp)
{
	return atomic_load(&((struct nvmf_mpath *)mp)->max_io_size);
}

int nvmf_mpath_path_info(struct nvmf_mpath *mp, unsigned path, uint32_t nsid,
			 struct nvmf_path_info *info)
{
	struct mp_path *p;
	struct nvmf_ctrl *c;

	if (path >= mp->npaths)
		return -EINVAL;
	p = &mp->paths[path];
	c = atomic_load(&p->ctrl);
	memset(info, 0, sizeof(*info));
	snprintf(info->traddr, sizeof(info->traddr), "%s", p->opts.traddr ? p->opts.traddr : "");
	snprintf(info->trsvcid, sizeof(info->trsvcid), "%s",
		 p->opts.trsvcid ? p->opts.trsvcid : NVMF_DEFAULT_PORT);
	info->connected = c != NULL;
	info->state = c != NULL ? nvmf_ctrl_state(c)
		      : atomic_load(&p->gone) ? NVMF_CTRL_FAILED
					      : NVMF_CTRL_RECONNECTING;
	info->cntlid = c != NULL ? nvmf_ctrl_cntlid(c) : 0;
	if (nsid >= 1 && nsid <= MP_MAX_NSID && atomic_load(&p->ana_known)) {
		info->ana_state = atomic_load(&p->ns_ana[nsid]);
		info->anagrpid = atomic_load(&p->ns_grp[nsid]);
	}
	info->usable = path_usable(p, nsid, NVME_ANA_OPTIMIZED) ||
		       path_usable(p, nsid, NVME_ANA_NON_OPTIMIZED);
	info->commands = atomic_load(&p->commands);
	return 0;
}

int nvmf_mpath_ns_info(struct nvmf_mpath *mp, uint32_t nsid, struct nvmf_ns_info *info)
{
	bool any = false;

	for (unsigned i = 0; i < mp->npaths; i++) {
		struct nvmf_ctrl *c = atomic_load(&mp->paths[i].ctrl);
		struct nvmf_ns *ns;

		if (c == NULL)
			continue;
		any = true;
		ns = nvmf_ctrl_ns(c, nsid);
		if (ns != NULL) {
			nvmf_ns_get_info(ns, info);
			return 0;
		}
	}
	return any ? -ENOENT : -ENODEV;
}
