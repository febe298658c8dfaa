/* SPDX-License-Identifier: MIT */
/*
 * Host commands: namespaces and their I/O (NVM command set), admin helpers
 * (Identify, Get Log Page, Get/Set Features), passthrough and the
 * synchronous wrappers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/host_internal.h"
#include "util/lock.h"
#include "util/log.h"

#define NLB_MAX 65536u              /* NLB is a 16-bit 0's based field */
#define ACTIVE_NS_LIST_ENTRIES 1024 /* Identify CNS 02h: 4096 bytes of NSIDs */
#define FALLBACK_SCAN_MAX 1024      /* NSIDs probed without CNS 02h */

/* ------------------------------------------------------------------ */
/* Submission                                                          */
/* ------------------------------------------------------------------ */

static struct host_queue *pick_ioq(struct nvmf_ctrl *c, unsigned ioq)
{
	static _Thread_local unsigned thread_ticket;

	if (c->nr_io_queues == 0)
		return NULL;
	if (ioq == NVMF_IOQ_ANY) {
		/* Each thread keeps to one queue: its completions stay local. */
		if (thread_ticket == 0)
			thread_ticket = atomic_fetch_add(&c->next_ioq, 1) + 1;
		return &c->ioqs[(thread_ticket - 1) % c->nr_io_queues];
	}
	return ioq <= c->nr_io_queues ? &c->ioqs[ioq - 1] : NULL;
}

static size_t iov_bytes(const struct iovec *iov, int iovcnt)
{
	size_t n = 0;

	for (int i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	return n;
}

/*
 * Submit on q.  iov NULL: no data.  single is a one-piece buffer (kept in
 * the slot), used when iov is NULL and len > 0.
 */
static int submit(struct host_queue *q, const struct nvme_sqe *sqe, const struct iovec *iov,
		  int iovcnt, void *single, size_t len, bool send, nvmf_cmd_cb *cb, void *arg)
{
	struct host_slot *s;
	int ret;

	if (q == NULL)
		return -EINVAL;
	if (len > q->ctrl->max_io_size && !(q->qid == 0 && len <= q->ctrl->opts.max_io_size))
		return -E2BIG;
	if (iov != NULL && (iovcnt < 1 || iovcnt > HOST_MAX_IOVCNT || iov_bytes(iov, iovcnt) < len))
		return -EINVAL;
	if (iov == NULL && len > 0 && single == NULL)
		return -EINVAL;
	ret = queue_get_slot(q, &s, false);
	if (ret != 0)
		return ret;
	if (iov == NULL && len > 0) {
		s->iov1 = (struct iovec){.iov_base = single, .iov_len = len};
		iov = &s->iov1;
		iovcnt = 1;
	}
	slot_prepare(s, sqe, iov, iovcnt, len, send, cb, arg);
	slot_send(s);
	return 0;
}

static int submit_rw(struct nvmf_ns *ns, unsigned ioq, uint8_t opc, uint64_t slba, uint32_t nlb,
		     const struct iovec *iov, int iovcnt, void *single, uint32_t cdw12_flags,
		     nvmf_cmd_cb *cb, void *arg)
{
	uint32_t shift = atomic_load_explicit(&ns->lba_shift, memory_order_relaxed);
	struct nvme_sqe sqe = {
		.opc = opc,
		.nsid = ns->nsid,
		.cdw10 = (uint32_t)slba,
		.cdw11 = (uint32_t)(slba >> 32),
		.cdw12 = (nlb - 1) | cdw12_flags,
	};
	size_t len;

	if (nlb == 0 || nlb > NLB_MAX)
		return -EINVAL;
	len = (size_t)nlb << shift;
	if (len > ns->ctrl->max_io_size)
		return -E2BIG;
	return submit(pick_ioq(ns->ctrl, ioq), &sqe, iov, iovcnt, single, len,
		      opc != NVME_IO_READ, cb, arg);
}

int nvmf_ns_read(struct nvmf_ns *ns, unsigned ioq, uint64_t slba, uint32_t nlb, void *buf,
		 nvmf_cmd_cb *cb, void *arg)
{
	return submit_rw(ns, ioq, NVME_IO_READ, slba, nlb, NULL, 0, buf, 0, cb, arg);
}

int nvmf_ns_write(struct nvmf_ns *ns, unsigned ioq, uint64_t slba, uint32_t nlb,
		  const void *buf, unsigned io_flags, nvmf_cmd_cb *cb, void *arg)
{
	return submit_rw(ns, ioq, NVME_IO_WRITE, slba, nlb, NULL, 0, (void *)buf,
			 (io_flags & NVMF_IO_FUA) ? NVME_RW_FUA : 0, cb, arg);
}

int nvmf_ns_readv(struct nvmf_ns *ns, unsigned ioq, uint64_t slba, uint32_t nlb,
		  const struct iovec *iov, int iovcnt, nvmf_cmd_cb *cb, void *arg)
{
	if (iov == NULL)
		return -EINVAL;
	return submit_rw(ns, ioq, NVME_IO_READ, slba, nlb, iov, iovcnt, NULL, 0, cb, arg);
}

int nvmf_ns_writev(struct nvmf_ns *ns, unsigned ioq, uint64_t slba, uint32_t nlb,
		   const struct iovec *iov, int iovcnt, unsigned io_flags, nvmf_cmd_cb *cb,
		   void *arg)
{
	if (iov == NULL)
		return -EINVAL;
	return submit_rw(ns, ioq, NVME_IO_WRITE, slba, nlb, iov, iovcnt, NULL,
			 (io_flags & NVMF_IO_FUA) ? NVME_RW_FUA : 0, cb, arg);
}

int nvmf_ns_compare(struct nvmf_ns *ns, unsigned ioq, uint64_t slba, uint32_t nlb,
		    const void *buf, nvmf_cmd_cb *cb, void *arg)
{
	return submit_rw(ns, ioq, NVME_IO_COMPARE, slba, nlb, NULL, 0, (void *)buf, 0, cb, arg);
}

int nvmf_ns_flush(struct nvmf_ns *ns, unsigned ioq, nvmf_cmd_cb *cb, void *arg)
{
	const struct nvme_sqe sqe = {.opc = NVME_IO_FLUSH, .nsid = ns->nsid};

	return submit(pick_ioq(ns->ctrl, ioq), &sqe, NULL, 0, NULL, 0, false, cb, arg);
}

int nvmf_ns_write_zeroes(struct nvmf_ns *ns, unsigned ioq, uint64_t slba, uint32_t nlb,
			 unsigned io_flags, nvmf_cmd_cb *cb, void *arg)
{
	const struct nvme_sqe sqe = {
		.opc = NVME_IO_WRITE_ZEROES,
		.nsid = ns->nsid,
		.cdw10 = (uint32_t)slba,
		.cdw11 = (uint32_t)(slba >> 32),
		.cdw12 = (nlb - 1) | ((io_flags & NVMF_IO_FUA) ? NVME_RW_FUA : 0) |
			 ((io_flags & NVMF_IO_DEALLOCATE) ? NVME_WZ_DEAC : 0),
	};

	if (nlb == 0 || nlb > NLB_MAX)
		return -EINVAL;
	return submit(pick_ioq(ns->ctrl, ioq), &sqe, NULL, 0, NULL, 0, false, cb, arg);
}

int nvmf_ns_dsm(struct nvmf_ns *ns, unsigned ioq, const struct nvme_dsm_range *ranges,
		unsigned nr, uint32_t attributes, nvmf_cmd_cb *cb, void *arg)
{
	const struct nvme_sqe sqe = {
		.opc = NVME_IO_DATASET_MANAGEMENT,
		.nsid = ns->nsid,
		.cdw10 = nr - 1,
		.cdw11 = attributes,
	};

	if (ranges == NULL || nr == 0 || nr > NVME_DSM_MAX_RANGES)
		return -EINVAL;
	return submit(pick_ioq(ns->ctrl, ioq), &sqe, NULL, 0, (void *)ranges,
		      nr * sizeof(*ranges), true, cb, arg);
}

int nvmf_passthru(struct nvmf_ctrl *ctrl, unsigned ioq, const struct nvme_sqe *sqe, void *buf,
		  size_t len, enum nvmf_data_dir dir, nvmf_cmd_cb *cb, void *arg)
{
	struct host_queue *q = ctrl_queue(ctrl, ioq);

	if (sqe == NULL || (dir != NVMF_DATA_NONE && (buf == NULL || len == 0)))
		return -EINVAL;
	if (dir == NVMF_DATA_NONE)
		len = 0;
	return submit(q, sqe, NULL, 0, buf, len, dir == NVMF_DATA_TO_CTRL, cb, arg);
}

/* ------------------------------------------------------------------ */
/* Reservations (NVM command set; Base 2.0 §8.19)                      */
/* ------------------------------------------------------------------ */

static struct nvme_sqe resv_sqe(const struct nvmf_ns *ns, uint8_t opc, unsigned action,
				unsigned rtype, bool iekey)
{
	return (struct nvme_sqe){
		.opc = opc,
		.nsid = ns->nsid,
		.cdw10 = (action & 7) | (iekey ? NVME_RESV_IEKEY : 0) | ((rtype & 0xff) << 8),
	};
}

int nvmf_resv_register(struct nvmf_ns *ns, unsigned ioq, enum nvme_resv_rrega rrega,
		       unsigned cptpl, bool iekey, const struct nvme_resv_register_data *keys,
		       nvmf_cmd_cb *cb, void *arg)
{
	struct nvme_sqe sqe = resv_sqe(ns, NVME_IO_RESV_REGISTER, rrega, 0, iekey);

	if (keys == NULL || rrega > NVME_RESV_REPLACE || cptpl > NVME_RESV_CPTPL_SET)
		return -EINVAL;
	sqe.cdw10 |= (uint32_t)cptpl << 30;
	return submit(pick_ioq(ns->ctrl, ioq), &sqe, NULL, 0, (void *)keys, sizeof(*keys), true,
		      cb, arg);
}

int nvmf_resv_acquire(struct nvmf_ns *ns, unsigned ioq, enum nvme_resv_racqa racqa,
		      enum nvme_resv_type rtype, bool iekey,
		      const struct nvme_resv_acquire_data *keys, nvmf_cmd_cb *cb, void *arg)
{
	const struct nvme_sqe sqe = resv_sqe(ns, NVME_IO_RESV_ACQUIRE, racqa, rtype, iekey);

	if (keys == NULL || racqa > NVME_RESV_PREEMPT_ABORT)
		return -EINVAL;
	return submit(pick_ioq(ns->ctrl, ioq), &sqe, NULL, 0, (void *)keys, sizeof(*keys), true,
		      cb, arg);
}

int nvmf_resv_release(struct nvmf_ns *ns, unsigned ioq, enum nvme_resv_rrela rrela,
		      enum nvme_resv_type rtype, bool iekey,
		      const struct nvme_resv_release_data *key, nvmf_cmd_cb *cb, void *arg)
{
	const struct nvme_sqe sqe = resv_sqe(ns, NVME_IO_RESV_RELEASE, rrela, rtype, iekey);

	if (key == NULL || rrela > NVME_RESV_CLEAR)
		return -EINVAL;
	return submit(pick_ioq(ns->ctrl, ioq), &sqe, NULL, 0, (void *)key, sizeof(*key), true, cb,
		      arg);
}

/* Report: len bytes, a multiple of 4 (NUMD); eds asks for 128-bit host IDs. */
static int resv_report_sqe(const struct nvmf_ns *ns, bool eds, const void *buf, size_t len,
			   struct nvme_sqe *sqe)
{
	if (buf == NULL || len < sizeof(struct nvme_resv_status) || len % 4 != 0 ||
	    len / 4 > UINT32_MAX)
		return -EINVAL;
	*sqe = resv_sqe(ns, NVME_IO_RESV_REPORT, 0, 0, false);
	sqe->cdw10 = (uint32_t)(len / 4 - 1);
	sqe->cdw11 = eds ? NVME_RESV_REPORT_EDS : 0;
	return 0;
}

int nvmf_resv_report(struct nvmf_ns *ns, unsigned ioq, bool eds, void *buf, size_t len,
		     nvmf_cmd_cb *cb, void *arg)
{
	struct nvme_sqe sqe;
	int ret = resv_report_sqe(ns, eds, buf, len, &sqe);

	return ret != 0 ? ret : submit(pick_ioq(ns->ctrl, ioq), &sqe, NULL, 0, buf, len, false,
				       cb, arg);
}

/* ------------------------------------------------------------------ */
/* Synchronous wrappers                                                */
/* ------------------------------------------------------------------ */

/* Submit through fn-like code with sync_cb, waiting for a slot if need be. */
static int sync_submit(struct host_queue *q, const struct nvme_sqe *sqe, void *buf, size_t len,
		       bool send, struct nvmf_cpl *cpl)
{
	struct sync_wait w;
	struct host_slot *s;
	int ret;

	if (q == NULL)
		return -EINVAL;
	ret = queue_get_slot(q, &s, true);
	if (ret != 0)
		return ret;
	sync_wait_init(&w);
	s->iov1 = (struct iovec){.iov_base = buf, .iov_len = len};
	slot_prepare(s, sqe, len > 0 ? &s->iov1 : NULL, 1, len, send, sync_cb, &w);
	slot_send(s);
	sync_wait_for(&w);
	if (cpl != NULL)
		*cpl = w.cpl;
	return nvmf_cpl_result(&w.cpl);
}

int nvmf_passthru_sync(struct nvmf_ctrl *ctrl, unsigned ioq, const struct nvme_sqe *sqe,
		       void *buf, size_t len, enum nvmf_data_dir dir, struct nvmf_cpl *cpl)
{
	if (sqe == NULL || (dir != NVMF_DATA_NONE && (buf == NULL || len == 0)))
		return -EINVAL;
	if (dir == NVMF_DATA_NONE)
		len = 0;
	if (len > ctrl->max_io_size && !(ioq == 0 && len <= ctrl->opts.max_io_size))
		return -E2BIG;
	return sync_submit(ctrl_queue(ctrl, ioq), sqe, buf, len, dir == NVMF_DATA_TO_CTRL, cpl);
}

int ctrl_admin_sync(struct nvmf_ctrl *c, bool internal, const struct nvme_sqe *sqe, void *buf,
		    size_t len, enum nvmf_data_dir dir, struct nvmf_cpl *cpl)
{
	if (internal)
		return ctrl_internal_cmd(c, &c->admin, sqe, buf, len, dir, cpl);
	return nvmf_passthru_sync(c, 0, sqe, buf, len, dir, cpl);
}

/* Byte range to blocks, with the alignment the namespace needs. */
static int byte_range(const struct nvmf_ns *ns, uint64_t offset, uint64_t len, uint64_t *slba,
		      uint64_t *nlb)
{
	uint32_t shift = atomic_load(&ns->lba_shift);
	uint64_t mask = (1ull << shift) - 1;

	if ((offset & mask) != 0 || (len & mask) != 0)
		return -EINVAL;
	*slba = offset >> shift;
	*nlb = len >> shift;
	if (*slba + *nlb > atomic_load(&ns->nsze) || *slba + *nlb < *slba)
		return -ERANGE;
	return 0;
}

/* Read, Write or Compare a byte range in commands of at most max_io_size. */
static int rw_sync(struct nvmf_ns *ns, uint8_t opc, uint64_t offset, void *buf, size_t len,
		   uint32_t flags)
{
	uint32_t shift = atomic_load(&ns->lba_shift);
	uint64_t chunk_blocks = ns->ctrl->max_io_size >> shift;
	uint64_t slba, nlb;
	int ret = byte_range(ns, offset, len, &slba, &nlb);

	if (ret != 0)
		return ret;
	if (chunk_blocks > NLB_MAX)
		chunk_blocks = NLB_MAX;
	if (chunk_blocks == 0)
		return -E2BIG;
	while (nlb > 0) {
		uint32_t n = (uint32_t)(nlb < chunk_blocks ? nlb : chunk_blocks);
		struct nvme_sqe sqe = {
			.opc = opc,
			.nsid = ns->nsid,
			.cdw10 = (uint32_t)slba,
			.cdw11 = (uint32_t)(slba >> 32),
			.cdw12 = (n - 1) | flags,
		};

		ret = sync_submit(pick_ioq(ns->ctrl, NVMF_IOQ_ANY), &sqe, buf, (size_t)n << shift,
				  opc != NVME_IO_READ, NULL);
		if (ret != 0)
			return ret;
		buf = (uint8_t *)buf + ((size_t)n << shift);
		slba += n;
		nlb -= n;
	}
	return 0;
}

int nvmf_ns_read_sync(struct nvmf_ns *ns, uint64_t offset, void *buf, size_t len)
{
	return rw_sync(ns, NVME_IO_READ, offset, buf, len, 0);
}

int nvmf_ns_write_sync(struct nvmf_ns *ns, uint64_t offset, const void *buf, size_t len,
		       unsigned io_flags)
{
	return rw_sync(ns, NVME_IO_WRITE, offset, (void *)buf, len,
		       (io_flags & NVMF_IO_FUA) ? NVME_RW_FUA : 0);
}

int nvmf_ns_compare_sync(struct nvmf_ns *ns, uint64_t offset, const void *buf, size_t len)
{
	return rw_sync(ns, NVME_IO_COMPARE, offset, (void *)buf, len, 0);
}

int nvmf_ns_flush_sync(struct nvmf_ns *ns)
{
	const struct nvme_sqe sqe = {.opc = NVME_IO_FLUSH, .nsid = ns->nsid};

	return sync_submit(pick_ioq(ns->ctrl, NVMF_IOQ_ANY), &sqe, NULL, 0, false, NULL);
}

int nvmf_ns_write_zeroes_sync(struct nvmf_ns *ns, uint64_t offset, uint64_t len,
			      unsigned io_flags)
{
	uint64_t slba, nlb;
	int ret = byte_range(ns, offset, len, &slba, &nlb);

	while (ret == 0 && nlb > 0) {
		uint32_t n = (uint32_t)(nlb < NLB_MAX ? nlb : NLB_MAX);
		const struct nvme_sqe sqe = {
			.opc = NVME_IO_WRITE_ZEROES,
			.nsid = ns->nsid,
			.cdw10 = (uint32_t)slba,
			.cdw11 = (uint32_t)(slba >> 32),
			.cdw12 = (n - 1) | ((io_flags & NVMF_IO_FUA) ? NVME_RW_FUA : 0) |
				 ((io_flags & NVMF_IO_DEALLOCATE) ? NVME_WZ_DEAC : 0),
		};

		ret = sync_submit(pick_ioq(ns->ctrl, NVMF_IOQ_ANY), &sqe, NULL, 0, false, NULL);
		slba += n;
		nlb -= n;
	}
	return ret;
}

int nvmf_ns_trim_sync(struct nvmf_ns *ns, uint64_t offset, uint64_t len)
{
	struct nvme_dsm_range ranges[NVME_DSM_MAX_RANGES];
	uint64_t slba, nlb;
	int ret = byte_range(ns, offset, len, &slba, &nlb);

	while (ret == 0 && nlb > 0) {
		unsigned nr = 0;
		struct nvme_sqe sqe = {
			.opc = NVME_IO_DATASET_MANAGEMENT,
			.nsid = ns->nsid,
			.cdw11 = NVME_DSM_ATTR_DEALLOCATE,
		};

		memset(ranges, 0, sizeof(ranges));
		while (nlb > 0 && nr < NVME_DSM_MAX_RANGES) {
			uint32_t n = (uint32_t)(nlb < UINT32_MAX ? nlb : UINT32_MAX);

			ranges[nr].slba = slba;
			ranges[nr].nlb = n;
			nr++;
			slba += n;
			nlb -= n;
		}
		sqe.cdw10 = nr - 1;
		ret = sync_submit(pick_ioq(ns->ctrl, NVMF_IOQ_ANY), &sqe, ranges,
				  nr * sizeof(ranges[0]), true, NULL);
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* Admin helpers                                                       */
/* ------------------------------------------------------------------ */

static int identify(struct nvmf_ctrl *c, bool internal, uint8_t cns, uint32_t nsid, void *buf)
{
	const struct nvme_sqe sqe = {.opc = NVME_ADMIN_IDENTIFY, .nsid = nsid, .cdw10 = cns};

	return ctrl_admin_sync(c, internal, &sqe, buf, 4096, NVMF_DATA_FROM_CTRL, NULL);
}

int nvmf_identify(struct nvmf_ctrl *ctrl, uint8_t cns, uint32_t nsid, void *buf4k)
{
	return identify(ctrl, false, cns, nsid, buf4k);
}

int ctrl_get_log(struct nvmf_ctrl *c, bool internal, uint8_t lid, uint32_t nsid,
		 uint64_t offset, void *buf, size_t len, bool rae)
{
	size_t chunk_max = c->max_io_size & ~(size_t)3;

	if (buf == NULL || len == 0 || (offset & 3) != 0 || (len & 3) != 0)
		return -EINVAL;
	while (len > 0) {
		size_t n = len < chunk_max ? len : chunk_max;
		uint32_t numd = (uint32_t)(n / 4 - 1);
		/* Keep the event until the last piece is read. */
		bool retain = rae || n < len;
		const struct nvme_sqe sqe = {
			.opc = NVME_ADMIN_GET_LOG_PAGE,
			.nsid = nsid,
			.cdw10 = lid | (retain ? 1u << 15 : 0) | (numd & 0xffff) << 16,
			.cdw11 = numd >> 16,
			.cdw12 = (uint32_t)offset,
			.cdw13 = (uint32_t)(offset >> 32),
		};
		int ret = ctrl_admin_sync(c, internal, &sqe, buf, n, NVMF_DATA_FROM_CTRL, NULL);

		if (ret != 0)
			return ret;
		buf = (uint8_t *)buf + n;
		offset += n;
		len -= n;
	}
	return 0;
}

int nvmf_get_log_page(struct nvmf_ctrl *ctrl, uint8_t lid, uint32_t nsid, uint64_t offset,
		      void *buf, size_t len, bool retain_async_event)
{
	return ctrl_get_log(ctrl, false, lid, nsid, offset, buf, len, retain_async_event);
}

int nvmf_get_features(struct nvmf_ctrl *ctrl, uint8_t fid, uint32_t nsid, uint8_t sel,
		      uint32_t cdw11, void *buf, size_t len, uint32_t *result)
{
	const struct nvme_sqe sqe = {
		.opc = NVME_ADMIN_GET_FEATURES,
		.nsid = nsid,
		.cdw10 = fid | (uint32_t)(sel & 0x7) << 8,
		.cdw11 = cdw11,
	};
	struct nvmf_cpl cpl;
	int ret = nvmf_passthru_sync(ctrl, 0, &sqe, buf, len,
				     buf != NULL ? NVMF_DATA_FROM_CTRL : NVMF_DATA_NONE, &cpl);

	if (ret == 0 && result != NULL)
		*result = cpl.cdw0;
	return ret;
}

int nvmf_set_features(struct nvmf_ctrl *ctrl, uint8_t fid, uint32_t nsid, uint32_t cdw11,
		      bool save, const void *buf, size_t len, uint32_t *result)
{
	const struct nvme_sqe sqe = {
		.opc = NVME_ADMIN_SET_FEATURES,
		.nsid = nsid,
		.cdw10 = fid | (save ? 1u << 31 : 0),
		.cdw11 = cdw11,
	};
	struct nvmf_cpl cpl;
	int ret = nvmf_passthru_sync(ctrl, 0, &sqe, (void *)buf, len,
				     buf != NULL ? NVMF_DATA_TO_CTRL : NVMF_DATA_NONE, &cpl);

	if (ret == 0 && result != NULL)
		*result = cpl.cdw0;
	return ret;
}

/* ------------------------------------------------------------------ */
/* Namespaces                                                          */
/* ------------------------------------------------------------------ */

/* Index of the first entry with nsid >= key (ctrl->lock). */
static size_t ns_lower_bound(const struct nvmf_ctrl *c, uint32_t nsid)
{
	size_t lo = 0, hi = c->nns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->ns[mid]->nsid < nsid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The handle for nsid, created if need be (ctrl->lock). */
static struct nvmf_ns *ns_get_locked(struct nvmf_ctrl *c, uint32_t nsid)
{
	size_t i = ns_lower_bound(c, nsid);
	struct nvmf_ns *ns;

	NVMF_ASSERT_LOCKED(&c->lock);
	if (i < c->nns && c->ns[i]->nsid == nsid)
		return c->ns[i];
	if (c->nns == c->ns_cap) {
		size_t cap = c->ns_cap != 0 ? c->ns_cap * 2 : 16;
		struct nvmf_ns **grown = realloc(c->ns, cap * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		c->ns = grown;
		c->ns_cap = cap;
	}
	ns = calloc(1, sizeof(*ns));
	if (ns == NULL)
		return NULL;
	ns->ctrl = c;
	ns->nsid = nsid;
	memmove(&c->ns[i + 1], &c->ns[i], (c->nns - i) * sizeof(c->ns[0]));
	c->ns[i] = ns;
	c->nns++;
	return ns;
}

/* The LBA data size of an Identify Namespace, as a shift; 0 if unusable. */
static uint32_t ns_lba_shift(const struct nvme_id_ns *id, uint16_t *ms)
{
	/* FLBAS bits 3:0 and, past 16 formats, 6:5 select the format. */
	unsigned idx = (id->flbas & 0xf) | ((id->flbas >> 5) & 0x3) << 4;
	const struct nvme_lbaf *f;

	if (idx > id->nlbaf || idx >= 64)
		return 0;
	f = &id->lbaf[idx];
	*ms = f->ms;
	return f->lbads >= 9 && f->lbads <= 24 ? f->lbads : 0;
}

/* Active NSIDs (CNS 02h pages), or probing 1..NN when that is unsupported. */
static int collect_nsids(struct nvmf_ctrl *c, bool internal, uint32_t **out, size_t *count)
{
	uint32_t *list = NULL, *page = malloc(4096);
	size_t n = 0, cap = 0;
	uint32_t start = 0;
	int ret = 0;

	if (page == NULL)
		return -ENOMEM;
	for (;;) {
		size_t i;

		ret = identify(c, internal, NVME_CNS_ACTIVE_NS_LIST, start, page);
		if (ret == NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD) && start == 0) {
			/* Pre-1.1 controller: every NSID up to NN may be active. */
			uint32_t nn = c->id.nn < FALLBACK_SCAN_MAX ? c->id.nn : FALLBACK_SCAN_MAX;

			free(list);
			list = malloc((nn != 0 ? nn : 1) * sizeof(*list));
			if (list == NULL) {
				ret = -ENOMEM;
				break;
			}
			for (n = 0; n < nn; n++)
				list[n] = (uint32_t)n + 1;
			ret = 0;
			break;
		}
		if (ret != 0)
			break;
		for (i = 0; i < ACTIVE_NS_LIST_ENTRIES && page[i] != 0; i++) {
			/* Ascending and above the start, or the list is corrupt. */
			if (page[i] <= start || page[i] == HOST_NSID_ALL) {
				NVMF_WARN("host: %s: active namespace list out of order at %u",
					  c->name, page[i]);
				i = ACTIVE_NS_LIST_ENTRIES + 1;
				break;
			}
			if (n == cap) {
				size_t ncap = cap != 0 ? cap * 2 : 64;
				uint32_t *grown = realloc(list, ncap * sizeof(*grown));

				if (grown == NULL) {
					ret = -ENOMEM;
					break;
				}
				list = grown;
				cap = ncap;
			}
			list[n++] = page[i];
			start = page[i];
		}
		if (ret != 0 || i != ACTIVE_NS_LIST_ENTRIES || n >= HOST_MAX_NAMESPACES)
			break;
	}
	free(page);
	if (ret != 0) {
		free(list);
		return ret;
	}
	*out = list;
	*count = n;
	return 0;
}

int ctrl_scan_namespaces(struct nvmf_ctrl *c, bool internal)
{
	struct nvme_id_ns *id;
	uint32_t *nsids = NULL;
	size_t count = 0, next = 0;
	int ret;

	if (c->discovery)
		return 0;
	id = malloc(sizeof(*id));
	if (id == NULL)
		return -ENOMEM;
	nvmf_mutex_lock(&c->scan_lock);
	ret = collect_nsids(c, internal, &nsids, &count);
	for (size_t i = 0; ret == 0 && i < count; i++) {
		uint16_t ms = 0;
		uint32_t shift;
		struct nvmf_ns *ns;

		ret = identify(c, internal, NVME_CNS_NAMESPACE, nsids[i], id);
		if (ret > 0) {
			/* Gone between the list and now: just not active. */
			ret = 0;
			continue;
		}
		if (ret != 0)
			break;
		shift = ns_lba_shift(id, &ms);
		if (id->nsze == 0)
			continue;
		if (shift == 0) {
			NVMF_WARN("host: %s: namespace %u has an unusable LBA format", c->name,
				  nsids[i]);
			continue;
		}
		nvmf_mutex_lock(&c->lock);
		ns = ns_get_locked(c, nsids[i]);
		if (ns != NULL) {
			ns->id = *id;
			atomic_store(&ns->lba_shift, shift);
			atomic_store(&ns->nsze, id->nsze);
			atomic_store(&ns->active, true);
			nsids[next++] = nsids[i];
		}
		nvmf_mutex_unlock(&c->lock);
		if (ns == NULL)
			ret = -ENOMEM;
	}
	if (ret == 0) {
		/* What the controller no longer lists is inactive (nsids[] is sorted). */
		size_t j = 0;

		nvmf_mutex_lock(&c->lock);
		for (size_t i = 0; i < c->nns; i++) {
			while (j < next && nsids[j] < c->ns[i]->nsid)
				j++;
			if (j == next || nsids[j] != c->ns[i]->nsid)
				atomic_store(&c->ns[i]->active, false);
		}
		nvmf_mutex_unlock(&c->lock);
	}
	nvmf_mutex_unlock(&c->scan_lock);
	free(nsids);
	free(id);
	return ret;
}

void ctrl_free_namespaces(struct nvmf_ctrl *c)
{
	for (size_t i = 0; i < c->nns; i++)
		free(c->ns[i]);
	free(c->ns);
	c->ns = NULL;
	c->nns = 0;
}

int nvmf_ctrl_rescan(struct nvmf_ctrl *ctrl)
{
	return ctrl_scan_namespaces(ctrl, false);
}

size_t nvmf_ctrl_ns_list(struct nvmf_ctrl *ctrl, uint32_t *nsids, size_t max)
{
	size_t n = 0;

	nvmf_mutex_lock(&ctrl->lock);
	for (size_t i = 0; i < ctrl->nns; i++) {
		if (!atomic_load(&ctrl->ns[i]->active))
			continue;
		if (n < max)
			nsids[n] = ctrl->ns[i]->nsid;
		n++;
	}
	nvmf_mutex_unlock(&ctrl->lock);
	return n;
}

struct nvmf_ns *nvmf_ctrl_ns(struct nvmf_ctrl *ctrl, uint32_t nsid)
{
	struct nvmf_ns *ns = NULL;
	size_t i;

	nvmf_mutex_lock(&ctrl->lock);
	i = ns_lower_bound(ctrl, nsid);
	if (i < ctrl->nns && ctrl->ns[i]->nsid == nsid)
		ns = ctrl->ns[i];
	nvmf_mutex_unlock(&ctrl->lock);
	return ns;
}

void nvmf_ns_get_info(const struct nvmf_ns *ns, struct nvmf_ns_info *info)
{
	uint16_t ms = 0;

	nvmf_mutex_lock(&ns->ctrl->lock);
	*info = (struct nvmf_ns_info){
		.nsid = ns->nsid,
		.nsze = ns->id.nsze,
		.ncap = ns->id.ncap,
		.nuse = ns->id.nuse,
		.lba_size = 1u << ns_lba_shift(&ns->id, &ms),
		.active = atomic_load(&ns->active),
	};
	info->ms = ms;
	nvmf_mutex_unlock(&ns->ctrl->lock);
}

uint32_t nvmf_ns_id(const struct nvmf_ns *ns)
{
	return ns->nsid;
}

uint32_t nvmf_ns_lba_size(const struct nvmf_ns *ns)
{
	return 1u << atomic_load(&((struct nvmf_ns *)ns)->lba_shift);
}

uint64_t nvmf_ns_size_bytes(const struct nvmf_ns *ns)
{
	struct nvmf_ns *n = (struct nvmf_ns *)ns;

	return atomic_load(&n->nsze) << atomic_load(&n->lba_shift);
}

const struct nvme_id_ns *nvmf_ns_identify(const struct nvmf_ns *ns)
{
	return &ns->id;
}

struct nvmf_ctrl *nvmf_ns_ctrl(const struct nvmf_ns *ns)
{
	return ns->ctrl;
}

int nvmf_resv_register_sync(struct nvmf_ns *ns, enum nvme_resv_rrega rrega, unsigned cptpl,
			    bool iekey, uint64_t crkey, uint64_t nrkey)
{
	struct nvme_resv_register_data keys = {.crkey = crkey, .nrkey = nrkey};
	struct nvme_sqe sqe = resv_sqe(ns, NVME_IO_RESV_REGISTER, rrega, 0, iekey);

	if (rrega > NVME_RESV_REPLACE || cptpl > NVME_RESV_CPTPL_SET)
		return -EINVAL;
	sqe.cdw10 |= (uint32_t)cptpl << 30;
	return sync_submit(pick_ioq(ns->ctrl, NVMF_IOQ_ANY), &sqe, &keys, sizeof(keys), true,
			   NULL);
}

int nvmf_resv_acquire_sync(struct nvmf_ns *ns, enum nvme_resv_racqa racqa,
			   enum nvme_resv_type rtype, bool iekey, uint64_t crkey, uint64_t prkey)
{
	struct nvme_resv_acquire_data keys = {.crkey = crkey, .prkey = prkey};
	const struct nvme_sqe sqe = resv_sqe(ns, NVME_IO_RESV_ACQUIRE, racqa, rtype, iekey);

	if (racqa > NVME_RESV_PREEMPT_ABORT)
		return -EINVAL;
	return sync_submit(pick_ioq(ns->ctrl, NVMF_IOQ_ANY), &sqe, &keys, sizeof(keys), true,
			   NULL);
}

int nvmf_resv_release_sync(struct nvmf_ns *ns, enum nvme_resv_rrela rrela,
			   enum nvme_resv_type rtype, bool iekey, uint64_t crkey)
{
	struct nvme_resv_release_data key = {.crkey = crkey};
	const struct nvme_sqe sqe = resv_sqe(ns, NVME_IO_RESV_RELEASE, rrela, rtype, iekey);

	if (rrela > NVME_RESV_CLEAR)
		return -EINVAL;
	return sync_submit(pick_ioq(ns->ctrl, NVMF_IOQ_ANY), &sqe, &key, sizeof(key), true, NULL);
}

int nvmf_resv_report_sync(struct nvmf_ns *ns, bool eds, void *buf, size_t len)
{
	struct nvme_sqe sqe;
	int ret = resv_report_sqe(ns, eds, buf, len, &sqe);

	if (ret == 0 && len > ns->ctrl->max_io_size)
		ret = -E2BIG;
	return ret != 0 ? ret : sync_submit(pick_ioq(ns->ctrl, NVMF_IOQ_ANY), &sqe, buf, len,
					    false, NULL);
}
