/* SPDX-License-Identifier: MIT */
/*
 * Host controllers: bring-up (NVMe-oF 1.1 §3.3, Base 2.0 §3.5.1 as a fabrics
 * host does it), the worker thread (Keep Alive at KATO/2, asynchronous
 * events, command timeouts, reconnection) and orderly shutdown.
 *
 * Bring-up, as the Linux host: Connect the admin queue (dynamic CNTLID),
 * Property Get CAP and VS, Property Set CC with EN, wait for CSTS.RDY within
 * CAP.TO, Identify Controller, Set Features Number of Queues, Async Event
 * Configuration, Connect each I/O queue with the same CNTLID, arm AERs, then
 * identify the namespaces.  Every step runs on an internal slot with a
 * timeout, so a silent peer fails the attempt instead of hanging it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host/host_internal.h"
#include "transport/transport.h"
#include "util/clock.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/opts.h"
#include "util/testpoint.h"
#include "util/thread.h"

#define DEFAULT_QUEUE_SIZE 128      /* nvme-cli NVMF_DEF_QUEUE_SIZE */
#define MAX_QUEUE_SIZE 1024         /* Linux NVMF_MAX_QUEUE_SIZE */
#define MAX_IO_QUEUES 128
#define DEFAULT_KATO_S 5            /* Linux NVME_DEFAULT_KATO */
#define DEFAULT_RECONNECT_DELAY_S 10
#define DEFAULT_CTRL_LOSS_TMO_S 600
#define DEFAULT_MAX_IO_SIZE (1u << 20)
#define DEFAULT_IO_TIMEOUT_MS 30000 /* Linux nvme_io_timeout */
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define TIMEOUT_SCAN_NS 1000000000ull

void nvmf_host_opts_init(struct nvmf_host_opts *opts)
{
	*opts = (struct nvmf_host_opts){
		.size = sizeof(*opts),
		.trtype = NVMF_TRTYPE_TCP,
		.queue_size = DEFAULT_QUEUE_SIZE,
		.kato_s = DEFAULT_KATO_S,
		.reconnect_delay_s = DEFAULT_RECONNECT_DELAY_S,
		.ctrl_loss_tmo_s = DEFAULT_CTRL_LOSS_TMO_S,
		.max_io_size = DEFAULT_MAX_IO_SIZE,
		.io_timeout_ms = DEFAULT_IO_TIMEOUT_MS,
		.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS,
	};
}

int host_opts_import(struct nvmf_host_opts *ours, const struct nvmf_host_opts *given,
		     struct nvmf_error *err)
{
	int ret;

	nvmf_host_opts_init(ours);
	ret = nvmf_opts_import(ours, sizeof(*ours), given);
	if (ret != 0)
		host_set_error(err, EINVAL, 0,
			       "nvmf_host_opts of %zu bytes: not set up by nvmf_host_opts_init, "
			       "or with fields this library does not know",
			       given->size);
	return ret;
}

struct host_queue *ctrl_queue(struct nvmf_ctrl *c, unsigned qid)
{
	if (qid == 0)
		return &c->admin;
	if (qid > c->nr_io_queues)
		return NULL;
	return &c->ioqs[qid - 1];
}

void ctrl_mark_lost(struct nvmf_ctrl *c, uint16_t qid, int error)
{
	nvmf_mutex_lock(&c->lock);
	if (!c->lost) {
		c->lost = true;
		c->lost_qid = qid;
		c->lost_error = error;
	}
	pthread_cond_broadcast(&c->cond);
	nvmf_mutex_unlock(&c->lock);
}

static uint32_t timeout_ms_or(uint32_t v, uint32_t dflt)
{
	return v != 0 ? v : dflt;
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

/* Open the transport connection of a queue (handshakes done). */
static int queue_open(struct nvmf_ctrl *c, struct host_queue *q, struct nvmf_error *err)
{
	struct nvmf_qpair_params p = {
		.trtype = c->opts.trtype,
		.admin = q->qid == 0,
		.sq_flow_control = !c->opts.disable_sqflow,
		.qsize = q->qsize,
		.engine = c->opts.engine,
		.error_cb = queue_error,
		.receive_cb = queue_receive,
		.cb_arg = q,
	};
	struct nvmf_addr addr = {.trtype = c->opts.trtype};

	snprintf(addr.traddr, sizeof(addr.traddr), "%s", c->traddr);
	snprintf(addr.trsvcid, sizeof(addr.trsvcid), "%s", c->trsvcid);
	p.tcp = (struct nvmf_tcp_params){
		.fd = -1,
		.header_digests = c->opts.hdr_digest,
		.data_digests = c->opts.data_digest,
		.max_icd = q->qid == 0 ? 0 : c->max_icd,
		.max_io_size = q->qid == 0 ? c->opts.max_io_size : c->max_io_size,
		.connect_timeout_ms = timeout_ms_or(c->opts.connect_timeout_ms,
						    DEFAULT_CONNECT_TIMEOUT_MS),
		.tls_mode = c->tls ? NVMF_TCP_TLS_REQUIRED : NVMF_TCP_TLS_NONE,
		.tls_key = &c->tls_key,
		.tls_hostnqn = c->hostnqn,
		.tls_subnqn = c->subnqn,
		.tls_identity_version = c->opts.tls_identity_version,
	};
	atomic_store(&q->dead, false);
	q->qp = nvmf_qpair_connect(&addr, &p, err);
	return q->qp != NULL ? 0 : -(err->errnum != 0 ? err->errnum : EIO);
}

/* ------------------------------------------------------------------ */
/* Internal commands                                                   */
/* ------------------------------------------------------------------ */

struct internal_wait {
	struct nvmf_ctrl *c;
	bool done;
	struct nvmf_cpl cpl;
};

static void internal_done(void *arg, const struct nvmf_cpl *cpl)
{
	struct internal_wait *w = arg;
	struct nvmf_ctrl *c = w->c;

	nvmf_mutex_lock(&c->lock);
	w->cpl = *cpl;
	w->done = true;
	pthread_cond_broadcast(&c->cond);
	nvmf_mutex_unlock(&c->lock);
}

int ctrl_internal_cmd(struct nvmf_ctrl *c, struct host_queue *q, const struct nvme_sqe *sqe,
		      void *buf, size_t len, enum nvmf_data_dir dir, struct nvmf_cpl *cpl)
{
	struct internal_wait w = {.c = c};
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct host_slot *s = queue_get_internal(q);
	struct timespec deadline;
	int rc = 0;

	if (s == NULL)
		return -EBUSY;
	slot_prepare(s, sqe, dir != NVMF_DATA_NONE ? &iov : NULL, 1, len, dir == NVMF_DATA_TO_CTRL,
		     internal_done, &w);
	slot_send(s);
	deadline = nvmf_deadline_ms(timeout_ms_or(c->opts.connect_timeout_ms,
						  DEFAULT_CONNECT_TIMEOUT_MS));
	nvmf_mutex_lock(&c->lock);
	while (!w.done && !atomic_load(&q->dead) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&c->cond, &c->lock, &deadline);
	nvmf_mutex_unlock(&c->lock);
	if (!w.done) {
		/* Stop the queue so that the command cannot complete later. */
		bool dead = atomic_load(&q->dead);

		NVMF_WARN("host: %s: queue %u: command %#x %s", c->name, q->qid, sqe->opc,
			  dead ? "lost with the connection" : "timed out");
		queue_stop(q);
		queue_reclaim(q, 0); /* fails our slot, holds user commands */
		ctrl_mark_lost(c, q->qid, dead ? ECONNRESET : ETIMEDOUT);
		if (cpl != NULL)
			*cpl = (struct nvmf_cpl){.error = dead ? ECONNRESET : ETIMEDOUT};
		return dead ? -ECONNRESET : -ETIMEDOUT;
	}
	if (cpl != NULL)
		*cpl = w.cpl;
	return nvmf_cpl_result(&w.cpl);
}

static int fabrics_connect(struct nvmf_ctrl *c, struct host_queue *q, struct nvmf_error *err)
{
	struct nvmf_connect_cmd cmd = {
		.opc = NVME_ADMIN_FABRICS,
		.fctype = NVMF_FCTYPE_CONNECT,
		.qid = q->qid,
		.sqsize = (uint16_t)(q->qsize - 1),
		.cattr = c->opts.disable_sqflow ? NVMF_CONNECT_ATTR_DISABLE_SQ_FC : 0,
		.kato = q->qid == 0 ? (uint32_t)c->opts.kato_s * 1000u : 0,
	};
	struct nvmf_connect_data data;
	struct nvme_sqe sqe;
	struct nvmf_cpl cpl;
	int ret;

	memset(&data, 0, sizeof(data));
	memcpy(data.hostid, c->hostid, sizeof(data.hostid));
	data.cntlid = q->qid == 0 ? NVMF_CNTLID_DYNAMIC : atomic_load(&c->cntlid);
	snprintf(data.subnqn, sizeof(data.subnqn), "%s", c->subnqn);
	snprintf(data.hostnqn, sizeof(data.hostnqn), "%s", c->hostnqn);
	memcpy(&sqe, &cmd, sizeof(sqe));
	ret = ctrl_internal_cmd(c, q, &sqe, &data, sizeof(data), NVMF_DATA_TO_CTRL, &cpl);
	if (ret < 0) {
		host_set_error(err, -ret, 0, "Connect (queue %u) to %s: %s", q->qid, c->name,
			       ret == -ETIMEDOUT ? "no response (timeout)" : strerror(-ret));
		return ret;
	}
	if (ret > 0) {
		host_connect_error(c, q->qid, &cpl, err);
		return ret;
	}
	if (q->qid == 0)
		atomic_store(&c->cntlid, (uint16_t)(cpl.cdw0 & 0xffff));
	/* Nothing else on this queue before DH-HMAC-CHAP is done (TP 8006). */
	return host_authenticate(c, q, cpl.cdw0 & (NVMF_CONNECT_RSP_ATR | NVMF_CONNECT_RSP_ASCR),
				 err);
}

static int prop_get(struct nvmf_ctrl *c, uint32_t ofst, bool eight, uint64_t *val,
		    struct nvmf_error *err)
{
	struct nvmf_property_get_cmd cmd = {
		.opc = NVME_ADMIN_FABRICS,
		.fctype = NVMF_FCTYPE_PROPERTY_GET,
		.attrib = eight ? NVMF_PROP_SIZE_8 : NVMF_PROP_SIZE_4,
		.ofst = ofst,
	};
	struct nvme_sqe sqe;
	struct nvmf_cpl cpl;
	int ret;

	memcpy(&sqe, &cmd, sizeof(sqe));
	ret = ctrl_internal_cmd(c, &c->admin, &sqe, NULL, 0, NVMF_DATA_NONE, &cpl);
	if (ret != 0) {
		char why[128];

		host_set_error(err, ret < 0 ? -ret : 0, ret > 0 ? (uint16_t)ret : 0,
			       "Property Get %#x: %s", ofst, nvmf_cpl_str(&cpl, why, sizeof(why)));
		return ret;
	}
	*val = eight ? (uint64_t)cpl.cdw0 | (uint64_t)cpl.cdw1 << 32 : cpl.cdw0;
	return 0;
}

static int prop_set(struct nvmf_ctrl *c, uint32_t ofst, uint32_t val, struct nvmf_error *err)
{
	struct nvmf_property_set_cmd cmd = {
		.opc = NVME_ADMIN_FABRICS,
		.fctype = NVMF_FCTYPE_PROPERTY_SET,
		.attrib = NVMF_PROP_SIZE_4,
		.ofst = ofst,
		.value = val,
	};
	struct nvme_sqe sqe;
	struct nvmf_cpl cpl;
	int ret;

	memcpy(&sqe, &cmd, sizeof(sqe));
	ret = ctrl_internal_cmd(c, &c->admin, &sqe, NULL, 0, NVMF_DATA_NONE, &cpl);
	if (ret != 0) {
		char why[128];

		host_set_error(err, ret < 0 ? -ret : 0, ret > 0 ? (uint16_t)ret : 0,
			       "Property Set %#x: %s", ofst, nvmf_cpl_str(&cpl, why, sizeof(why)));
	}
	return ret;
}

/* Poll CSTS until (CSTS & mask) == want, for up to timeout_ms. */
static int wait_csts(struct nvmf_ctrl *c, uint32_t mask, uint32_t want, uint32_t timeout_ms,
		     const char *what, struct nvmf_error *err)
{
	uint64_t deadline = nvmf_now_ns() + (uint64_t)timeout_ms * 1000000u;
	uint32_t delay_us = 1000;

	for (;;) {
		uint64_t csts;
		int ret = prop_get(c, NVME_PROP_CSTS, false, &csts, err);

		if (ret != 0)
			return ret;
		if ((csts & NVME_CSTS_CFS) != 0) {
			host_set_error(err, EIO, 0, "%s: controller fatal status (CSTS.CFS) "
				       "while waiting for %s", c->name, what);
			return -EIO;
		}
		if ((csts & mask) == want)
			return 0;
		if (nvmf_now_ns() >= deadline) {
			host_set_error(err, ETIMEDOUT, 0, "%s: %s not reached within %u ms "
				       "(timeout)", c->name, what, timeout_ms);
			return -ETIMEDOUT;
		}
		usleep(delay_us);
		if (delay_us < 100000)
			delay_us *= 2;
	}
}

/* CC: NVM command set, smallest page, round robin, 64/16-byte entries, EN. */
static uint32_t ctrl_cc(const struct nvmf_ctrl *c)
{
	return NVME_CC_EN | (0u << 4) | (NVME_CAP_MPSMIN(c->cap) << 7) | (0u << 11) |
	       (6u << 16) | (4u << 20);
}

static int enable_ctrl(struct nvmf_ctrl *c, struct nvmf_error *err)
{
	/* CAP.TO is in 500 ms units; Linux allows one more. */
	uint32_t timeout_ms = (NVME_CAP_TO(c->cap) + 1) * 500u;
	int ret = prop_set(c, NVME_PROP_CC, ctrl_cc(c), err);

	if (ret != 0)
		return ret;
	return wait_csts(c, NVME_CSTS_RDY, NVME_CSTS_RDY, timeout_ms, "CSTS.RDY (CAP.TO)", err);
}

static int shutdown_ctrl(struct nvmf_ctrl *c)
{
	struct nvmf_error err;
	uint32_t timeout_ms = c->id.rtd3e / 1000;
	int ret;

	if (timeout_ms < HOST_SHUTDOWN_TIMEOUT_MS)
		timeout_ms = HOST_SHUTDOWN_TIMEOUT_MS;
	if (timeout_ms > 60000)
		timeout_ms = 60000;
	ret = prop_set(c, NVME_PROP_CC, (ctrl_cc(c) & ~NVME_CC_SHN_MASK) | NVME_CC_SHN_NORMAL, &err);
	if (ret == 0)
		ret = wait_csts(c, NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_COMPLETE, timeout_ms,
				"shutdown complete (CSTS.SHST)", &err);
	if (ret != 0) {
		NVMF_WARN("host: %s: shutdown: %s", c->name, err.msg);
		return ret < 0 ? ret : -EIO;
	}
	return 0;
}

static int admin_simple(struct nvmf_ctrl *c, struct nvme_sqe *sqe, void *buf, size_t len,
			const char *what, struct nvmf_cpl *cpl, struct nvmf_error *err)
{
	int ret = ctrl_internal_cmd(c, &c->admin, sqe, buf, len,
				    buf != NULL ? NVMF_DATA_FROM_CTRL : NVMF_DATA_NONE, cpl);

	if (ret != 0) {
		char why[128];

		host_set_error(err, ret < 0 ? -ret : 0, ret > 0 ? (uint16_t)ret : 0, "%s: %s: %s",
			       c->name, what, nvmf_cpl_str(cpl, why, sizeof(why)));
	}
	return ret;
}

/* First bring-up: derive sizes and limits from CAP and Identify. */
static int ctrl_check_identify(struct nvmf_ctrl *c, const struct nvme_id_ctrl *id,
			       struct nvmf_error *err)
{
	uint32_t page_shift = 12 + NVME_CAP_MPSMIN(c->cap);
	uint32_t max_io = c->opts.max_io_size;
	uint32_t qsize, ioccsz;

	if (id->cntrltype == NVME_CTRL_TYPE_DISCOVERY)
		c->discovery = true;
	c->page_shift = page_shift;
	if (id->mdts != 0 && id->mdts + page_shift < 32 && (1u << (id->mdts + page_shift)) < max_io)
		max_io = 1u << (id->mdts + page_shift);
	c->max_io_size = max_io;
	c->naers = id->aerl + 1u < HOST_MAX_AERS ? id->aerl + 1u : HOST_MAX_AERS;
	if (c->discovery)
		return 0;
	if (id->icdoff != 0) {
		host_set_error(err, EOPNOTSUPP, 0, "%s: in-capsule data offset (ICDOFF %u) "
			       "is not supported", c->name, id->icdoff);
		return -EOPNOTSUPP;
	}
	if ((id->sgls & 0x3) == 0) {
		host_set_error(err, EOPNOTSUPP, 0, "%s: controller reports no SGL support, "
			       "which NVMe over Fabrics requires", c->name);
		return -EOPNOTSUPP;
	}
	/* IOCCSZ counts 16-byte units of SQE plus in-capsule data. */
	ioccsz = id->ioccsz < 4 ? 4 : id->ioccsz;
	if (ioccsz > (UINT32_MAX >> 4))
		ioccsz = UINT32_MAX >> 4;
	c->max_icd = (ioccsz - 4) * 16u < max_io ? (ioccsz - 4) * 16u : max_io;
	qsize = c->opts.queue_size;
	if (qsize > NVME_CAP_MQES(c->cap) + 1u)
		qsize = NVME_CAP_MQES(c->cap) + 1u;
	if (id->maxcmd >= 2 && qsize > id->maxcmd)
		qsize = id->maxcmd;
	if (qsize < 3) {
		host_set_error(err, EINVAL, 0, "%s: I/O queues of %u entries are too small",
			       c->name, qsize);
		return -EINVAL;
	}
	if (qsize < c->opts.queue_size)
		NVMF_INFO("host: %s: queue size %u lowered to %u (CAP.MQES, MAXCMD)", c->name,
			  c->opts.queue_size, qsize);
	c->io_qsize = (uint16_t)qsize;
	return 0;
}

static int set_queue_count(struct nvmf_ctrl *c, bool first, struct nvmf_error *err)
{
	unsigned want = first ? c->opts.nr_io_queues : c->nr_io_queues;
	struct nvme_sqe sqe = {
		.opc = NVME_ADMIN_SET_FEATURES,
		.cdw10 = NVME_FEAT_NUMBER_OF_QUEUES,
		.cdw11 = (want - 1) | (want - 1) << 16,
	};
	struct nvmf_cpl cpl;
	unsigned granted;
	int ret = admin_simple(c, &sqe, NULL, 0, "Set Features (Number of Queues)", &cpl, err);

	if (ret != 0)
		return ret;
	/* NSQA and NCQA are 0's based. */
	granted = want;
	if ((cpl.cdw0 & 0xffff) + 1 < granted)
		granted = (cpl.cdw0 & 0xffff) + 1;
	if ((cpl.cdw0 >> 16) + 1 < granted)
		granted = (cpl.cdw0 >> 16) + 1;
	if (!first) {
		if (granted < c->nr_io_queues) {
			host_set_error(err, EIO, 0, "%s: controller now grants %u I/O queues, "
				       "had %u", c->name, granted, c->nr_io_queues);
			return -EIO;
		}
		return 0;
	}
	if (granted < want)
		NVMF_INFO("host: %s: %u I/O queues asked for, %u granted", c->name, want, granted);
	c->ioqs = calloc(granted, sizeof(*c->ioqs));
	if (c->ioqs == NULL) {
		host_set_error(err, ENOMEM, 0, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < granted; i++) {
		ret = queue_init(&c->ioqs[i], c, (uint16_t)(i + 1), c->io_qsize, 0);
		if (ret != 0) {
			host_set_error(err, -ret, 0, "cannot set up I/O queue %u: %s", i + 1,
				       strerror(-ret));
			return ret;
		}
		c->nr_io_queues = i + 1;
	}
	return 0;
}

static void config_async_events(struct nvmf_ctrl *c)
{
	uint32_t events = c->id.oaes & (NVME_CTRL_OAES_NS_ATTR | NVME_CTRL_OAES_DISCOVERY_CHANGE |
					NVME_CTRL_OAES_ANA_CHANGE);
	struct nvme_sqe sqe = {
		.opc = NVME_ADMIN_SET_FEATURES,
		.cdw10 = NVME_FEAT_ASYNC_EVENT_CONFIG,
		.cdw11 = events,
	};
	struct nvmf_cpl cpl;
	struct nvmf_error err;

	if (events != 0 &&
	    admin_simple(c, &sqe, NULL, 0, "Set Features (Async Event Configuration)", &cpl,
			 &err) > 0)
		NVMF_WARN("host: %s", err.msg);
}

static void arm_aer(struct host_slot *s)
{
	const struct nvme_sqe sqe = {.opc = NVME_ADMIN_ASYNC_EVENT_REQUEST};

	slot_prepare(s, &sqe, NULL, 0, 0, false, ctrl_aer_done, s);
	slot_send(s);
}

static void arm_aers(struct nvmf_ctrl *c)
{
	/* A discovery controller only reports to persistent connections. */
	if (c->discovery && c->opts.kato_s == 0)
		return;
	for (unsigned i = 0; i < c->naers; i++)
		if (slot_claim_aer(&c->admin.slots[i]))
			arm_aer(&c->admin.slots[i]);
}

void ctrl_aer_done(void *arg, const struct nvmf_cpl *cpl)
{
	struct host_slot *s = arg;
	struct nvmf_ctrl *c = s->q->ctrl;
	char why[128];

	if (cpl->error != 0)
		return; /* the connection went; armed again once it is back */
	if (cpl->status != 0) {
		NVMF_WARN("host: %s: Asynchronous Event Request failed: %s", c->name,
			  nvmf_cpl_str(cpl, why, sizeof(why)));
		return;
	}
	nvmf_mutex_lock(&c->lock);
	if (c->naens < HOST_MAX_AERS)
		c->aens[c->naens++] = (struct aen_event){.cdw0 = cpl->cdw0, .slot = s};
	pthread_cond_broadcast(&c->cond);
	nvmf_mutex_unlock(&c->lock);
}

/* Connect every queue and bring the controller up; queues stay not live. */
static int ctrl_establish(struct nvmf_ctrl *c, bool first, struct nvmf_error *err)
{
	struct nvme_sqe sqe = {.opc = NVME_ADMIN_IDENTIFY, .cdw10 = NVME_CNS_CONTROLLER};
	struct nvme_id_ctrl *id;
	struct nvmf_cpl cpl;
	uint64_t cap, vs;
	int ret;

	memset(err, 0, sizeof(*err));
	nvmf_mutex_lock(&c->lock);
	c->lost = false;
	nvmf_mutex_unlock(&c->lock);

	ret = queue_open(c, &c->admin, err);
	if (ret == 0)
		ret = fabrics_connect(c, &c->admin, err);
	if (ret == 0)
		ret = prop_get(c, NVME_PROP_CAP, true, &cap, err);
	if (ret == 0)
		ret = prop_get(c, NVME_PROP_VS, false, &vs, err);
	if (ret != 0)
		return ret;
	c->cap = cap;
	c->vs = (uint32_t)vs;
	ret = enable_ctrl(c, err);
	if (ret != 0)
		return ret;

	id = malloc(sizeof(*id));
	if (id == NULL) {
		host_set_error(err, ENOMEM, 0, "out of memory");
		return -ENOMEM;
	}
	ret = admin_simple(c, &sqe, id, sizeof(*id), "Identify Controller", &cpl, err);
	if (ret == 0 && first) {
		ret = ctrl_check_identify(c, id, err);
		if (ret == 0)
			c->id = *id;
	} else if (ret == 0 && strncmp(id->subnqn, c->id.subnqn, sizeof(id->subnqn)) != 0) {
		host_set_error(err, ESTALE, 0, "%s: another subsystem answers now (%.*s)", c->name,
			       (int)sizeof(id->subnqn), id->subnqn);
		err->dnr = true;
		ret = -ESTALE;
	}
	free(id);
	if (ret != 0)
		return ret;

	if (!c->discovery) {
		ret = set_queue_count(c, first, err);
		if (ret != 0)
			return ret;
	}
	if (!c->discovery || c->opts.kato_s != 0)
		config_async_events(c);
	for (unsigned i = 0; i < c->nr_io_queues && ret == 0; i++) {
		ret = queue_open(c, &c->ioqs[i], err);
		if (ret == 0)
			ret = fabrics_connect(c, &c->ioqs[i], err);
	}
	if (ret != 0)
		return ret;
	arm_aers(c);
	return 0;
}

/* Stop every queue; user commands are held (user_error 0) or failed. */
static void ctrl_teardown(struct nvmf_ctrl *c, int user_error)
{
	for (unsigned i = c->nr_io_queues; i-- > 0;)
		queue_stop(&c->ioqs[i]);
	queue_stop(&c->admin);
	for (unsigned i = 0; i <= c->nr_io_queues; i++) {
		struct host_queue *q = ctrl_queue(c, i);

		queue_reclaim(q, user_error);
		if (user_error != 0)
			queue_fail_held(q, user_error);
	}
}

static void ctrl_go_live(struct nvmf_ctrl *c)
{
	queue_go_live(&c->admin);
	for (unsigned i = 0; i < c->nr_io_queues; i++)
		queue_go_live(&c->ioqs[i]);
}

/* ------------------------------------------------------------------ */
/* The worker: Keep Alive, events, timeouts, recovery                   */
/* ------------------------------------------------------------------ */

static void keep_alive_done(void *arg, const struct nvmf_cpl *cpl)
{
	struct nvmf_ctrl *c = arg;
	char why[128];

	nvmf_mutex_lock(&c->lock);
	c->ka_busy = false;
	nvmf_mutex_unlock(&c->lock);
	if (cpl->error == 0 && cpl->status != 0)
		NVMF_WARN("host: %s: Keep Alive failed: %s", c->name,
			  nvmf_cpl_str(cpl, why, sizeof(why)));
}

static void send_keep_alive(struct nvmf_ctrl *c)
{
	const struct nvme_sqe sqe = {.opc = NVME_ADMIN_KEEP_ALIVE};
	struct host_slot *s;

	nvmf_mutex_lock(&c->lock);
	if (c->ka_busy) {
		nvmf_mutex_unlock(&c->lock);
		return;
	}
	c->ka_busy = true;
	nvmf_mutex_unlock(&c->lock);
	s = queue_get_internal(&c->admin);
	if (s == NULL) {
		nvmf_mutex_lock(&c->lock);
		c->ka_busy = false;
		nvmf_mutex_unlock(&c->lock);
		return;
	}
	slot_prepare(s, &sqe, NULL, 0, 0, false, keep_alive_done, c);
	slot_send(s);
}

/* How much of a log page an event names is worth reading. */
static size_t aen_log_len(const struct nvmf_ctrl *c, uint8_t lid)
{
	switch (lid) {
	case NVME_LOG_ERROR:
		return sizeof(struct nvme_error_log_entry) *
		       (c->id.elpe + 1u < 64 ? c->id.elpe + 1u : 64);
	case NVME_LOG_CHANGED_NS_LIST:
		return sizeof(struct nvme_changed_ns_list_log);
	default:
		return 512;
	}
}

static void handle_aen(struct nvmf_ctrl *c, const struct aen_event *ev)
{
	uint8_t type = ev->cdw0 & 0x7, info = (ev->cdw0 >> 8) & 0xff, lid = (ev->cdw0 >> 16) & 0xff;
	void *log = NULL;
	size_t len = 0;
	int ret;

	NVMF_INFO("host: %s: asynchronous event: type %u, information %#x, log page %#x",
		  c->name, type, info, lid);
	/* Reading the page (RAE clear) lets the controller report the next event. */
	if (lid == NVME_LOG_DISCOVERY) {
		struct nvmf_discovery_log *dlog;
		size_t nrec;

		ret = host_discovery_log(c, true, &dlog, &nrec);
		if (ret == 0) {
			log = dlog;
			len = sizeof(*dlog) + nrec * sizeof(dlog->entries[0]);
		}
	} else {
		len = aen_log_len(c, lid);
		log = calloc(1, len);
		ret = log == NULL ? -ENOMEM
				  : ctrl_get_log(c, true, lid, HOST_NSID_ALL, 0, log, len, false);
	}
	if (ret != 0) {
		NVMF_WARN("host: %s: reading log page %#x for an event failed (%d)", c->name, lid,
			  ret);
		free(log);
		log = NULL;
		len = 0;
	}
	if (type == NVME_AER_TYPE_NOTICE && info == NVME_AER_NOTICE_NS_CHANGED)
		ctrl_scan_namespaces(c, true);
	if (c->opts.aen_cb != NULL)
		c->opts.aen_cb(c->opts.aen_arg, ev->cdw0, log, len);
	free(log);
	if (atomic_load(&c->state) == NVMF_CTRL_LIVE && slot_claim_aer(ev->slot))
		arm_aer(ev->slot);
}

static void check_timeouts(struct nvmf_ctrl *c)
{
	uint64_t now = nvmf_now_ns();
	uint64_t limit = (uint64_t)timeout_ms_or(c->opts.io_timeout_ms, DEFAULT_IO_TIMEOUT_MS) *
			 1000000u;

	for (unsigned i = 0; i <= c->nr_io_queues; i++) {
		struct host_queue *q = ctrl_queue(c, i);
		uint16_t cid = 0;
		uint8_t opc = 0;
		uint64_t age = queue_oldest_ns(q, now, &cid, &opc);

		if (age > limit) {
			NVMF_WARN("host: %s: queue %u: command %u (opcode %#x) got no response in "
				  "%llu ms: resetting the connection", c->name, q->qid, cid, opc,
				  (unsigned long long)(age / 1000000u));
			ctrl_mark_lost(c, q->qid, ETIMEDOUT);
			return;
		}
	}
}

/* Sleep up to ms; true if the worker is told to stop. */
static bool worker_sleep(struct nvmf_ctrl *c, uint64_t ms)
{
	struct timespec deadline;
	bool stop;

	deadline = nvmf_deadline_ms(ms);
	nvmf_mutex_lock(&c->lock);
	while (!c->worker_stop &&
	       pthread_cond_timedwait(&c->cond, &c->lock, &deadline) != ETIMEDOUT)
		;
	stop = c->worker_stop;
	nvmf_mutex_unlock(&c->lock);
	return stop;
}

static bool set_state(struct nvmf_ctrl *c, int from, int to)
{
	return atomic_compare_exchange_strong(&c->state, &from, to);
}

void ctrl_set_path_hooks(struct nvmf_ctrl *c,
			 void (*hook)(void *arg, struct nvmf_ctrl *c, enum nvmf_ctrl_state state),
			 void *arg)
{
	nvmf_mutex_lock(&c->lock);
	atomic_store(&c->failfast, true);
	c->state_hook = hook;
	c->state_hook_arg = arg;
	nvmf_mutex_unlock(&c->lock);
}

static void notify_state(struct nvmf_ctrl *c, enum nvmf_ctrl_state state)
{
	void (*hook)(void *, struct nvmf_ctrl *, enum nvmf_ctrl_state);
	void *arg;

	nvmf_mutex_lock(&c->lock);
	hook = c->state_hook;
	arg = c->state_hook_arg;
	nvmf_mutex_unlock(&c->lock);
	if (hook != NULL)
		hook(arg, c, state);
}



/*
 * The association is lost: tear it down, holding user commands, and
 * reconnect every reconnect delay until ctrl-loss-tmo (Linux semantics:
 * at most ceil(ctrl_loss_tmo / reconnect_delay) attempts).
 */
static void ctrl_recover(struct nvmf_ctrl *c)
{
	const int delay_s = c->opts.reconnect_delay_s > 0 ? c->opts.reconnect_delay_s : 1;
	const int tmo_s = c->opts.ctrl_loss_tmo_s;
	unsigned max_attempts = tmo_s < 0 ? 0 : (unsigned)((tmo_s + delay_s - 1) / delay_s);
	uint64_t start = nvmf_now_ns();
	struct nvmf_error err;
	unsigned attempt, tried = 0;
	int why;
	uint16_t qid;

	nvmf_mutex_lock(&c->lock);
	why = c->lost_error;
	qid = c->lost_qid;
	c->lost = false;
	nvmf_mutex_unlock(&c->lock);
	if (!set_state(c, NVMF_CTRL_LIVE, NVMF_CTRL_RECONNECTING))
		return;
	NVMF_TESTPOINT("host.ctrl_recover.start", c);
	NVMF_WARN("host: %s: connection lost on queue %u (%s); reconnecting every %d s, "
		  "ctrl-loss-tmo %d s", c->name, qid, why != 0 ? strerror(why) : "closed by peer",
		  delay_s, tmo_s);
	/* A path of a multipath controller lets its commands go elsewhere. */
	ctrl_teardown(c, atomic_load(&c->failfast) ? ENOTCONN : 0);
	notify_state(c, NVMF_CTRL_RECONNECTING);
	for (attempt = 1; tmo_s != 0; attempt++) {
		if (worker_sleep(c, (uint64_t)delay_s * 1000u))
			return; /* disconnecting: nvmf_disconnect fails what is held */
		tried = attempt;
		if (max_attempts != 0)
			NVMF_WARN("host: %s: reconnect attempt %u of %u", c->name, attempt,
				  max_attempts);
		else
			NVMF_WARN("host: %s: reconnect attempt %u", c->name, attempt);
		if (ctrl_establish(c, false, &err) == 0) {
			atomic_fetch_add(&c->reconnects, 1);
			if (!set_state(c, NVMF_CTRL_RECONNECTING, NVMF_CTRL_LIVE))
				return;
			ctrl_go_live(c);
			NVMF_WARN("host: %s: reconnected (controller %u), resending held commands",
				  c->name, atomic_load(&c->cntlid));
			ctrl_scan_namespaces(c, true);
			notify_state(c, NVMF_CTRL_LIVE);
			return;
		}
		NVMF_WARN("host: %s: reconnect attempt %u failed: %s", c->name, attempt, err.msg);
		ctrl_teardown(c, 0);
		if (err.dnr) {
			NVMF_ERR("host: %s: the controller refuses this host for good; giving up",
				 c->name);
			break;
		}
		if ((max_attempts != 0 && attempt >= max_attempts) ||
		    (tmo_s > 0 && nvmf_now_ns() - start >= (uint64_t)tmo_s * 1000000000u))
			break;
	}
	if (!set_state(c, NVMF_CTRL_RECONNECTING, NVMF_CTRL_FAILED))
		return;
	NVMF_ERR("host: %s: controller lost: ctrl-loss-tmo (%d s) expired after %u reconnect "
		 "attempts; failing I/O", c->name, tmo_s, tried);
	for (unsigned i = 0; i <= c->nr_io_queues; i++)
		queue_fail_held(ctrl_queue(c, i), ENODEV);
	notify_state(c, NVMF_CTRL_FAILED);
}

static void *ctrl_worker(void *arg)
{
	struct nvmf_ctrl *c = arg;
	const uint64_t ka_ns = (uint64_t)c->opts.kato_s * 1000000000u / 2;
	uint64_t next_ka = nvmf_now_ns() + ka_ns;
	uint64_t next_scan = nvmf_now_ns() + TIMEOUT_SCAN_NS;

	nvmf_thread_name(pthread_self(), "nvmf-ctrl");
	nvmf_mutex_lock(&c->lock);
	while (!c->worker_stop) {
		uint64_t now, wake;
		struct timespec ts;

		if (c->lost) {
			nvmf_mutex_unlock(&c->lock);
			ctrl_recover(c);
			nvmf_mutex_lock(&c->lock);
			next_ka = nvmf_now_ns() + ka_ns;
			continue;
		}
		if (c->reauth != NULL && !c->reauth->done) {
			struct reauth_job *job = c->reauth;

			nvmf_mutex_unlock(&c->lock);
			job->ret = host_reauthenticate(c, &job->err);
			nvmf_mutex_lock(&c->lock);
			job->done = true;
			pthread_cond_broadcast(&c->cond);
			continue;
		}
		if (c->naens != 0) {
			struct aen_event ev = c->aens[0];

			memmove(&c->aens[0], &c->aens[1], --c->naens * sizeof(c->aens[0]));
			nvmf_mutex_unlock(&c->lock);
			handle_aen(c, &ev);
			nvmf_mutex_lock(&c->lock);
			continue;
		}
		now = nvmf_now_ns();
		if (atomic_load(&c->state) == NVMF_CTRL_LIVE) {
			if (ka_ns != 0 && now >= next_ka) {
				nvmf_mutex_unlock(&c->lock);
				send_keep_alive(c);
				nvmf_mutex_lock(&c->lock);
				next_ka = now + ka_ns;
				continue;
			}
			if (now >= next_scan) {
				nvmf_mutex_unlock(&c->lock);
				check_timeouts(c);
				nvmf_mutex_lock(&c->lock);
				next_scan = now + TIMEOUT_SCAN_NS;
				continue;
			}
		}
		wake = next_scan;
		if (ka_ns != 0 && next_ka < wake)
			wake = next_ka;
		if (wake < now + 1000000u)
			wake = now + 1000000u;
		ts.tv_sec = (time_t)(wake / 1000000000u);
		ts.tv_nsec = (long)(wake % 1000000000u);
		pthread_cond_timedwait(&c->cond, &c->lock, &ts);
	}
	/* A re-authentication asked for as the controller goes. */
	if (c->reauth != NULL && !c->reauth->done) {
		c->reauth->ret = -ESHUTDOWN;
		host_set_error(&c->reauth->err, ESHUTDOWN, 0, "%s: disconnecting", c->name);
		c->reauth->done = true;
		pthread_cond_broadcast(&c->cond);
	}
	nvmf_mutex_unlock(&c->lock);
	return NULL;
}

int nvmf_ctrl_reauthenticate(struct nvmf_ctrl *c, struct nvmf_error *err)
{
	struct reauth_job job = {.done = false};
	struct nvmf_error local;

	if (err == NULL)
		err = &local;
	memset(err, 0, sizeof(*err));
	if (c->discovery) {
		host_set_error(err, EOPNOTSUPP, 0, "%s: discovery controllers do not authenticate",
			       c->name);
		return -EOPNOTSUPP;
	}
	/*
	 * The worker does it: it owns the controller's internal commands and
	 * its reconnection, so neither runs meanwhile.  One job at a time.
	 */
	if (c->worker_started && pthread_equal(pthread_self(), c->worker)) {
		host_set_error(err, EDEADLK, 0, "%s: re-authentication asked from the "
			       "controller's own thread (an event callback)", c->name);
		return -EDEADLK;
	}
	nvmf_mutex_lock(&c->lock);
	while (c->reauth != NULL && !c->worker_stop)
		pthread_cond_wait(&c->cond, &c->lock);
	if (c->worker_stop || !c->worker_started) {
		nvmf_mutex_unlock(&c->lock);
		host_set_error(err, ESHUTDOWN, 0, "%s: disconnecting", c->name);
		return -ESHUTDOWN;
	}
	c->reauth = &job;
	pthread_cond_broadcast(&c->cond);
	while (!job.done)
		pthread_cond_wait(&c->cond, &c->lock);
	c->reauth = NULL;
	pthread_cond_broadcast(&c->cond); /* the next caller */
	nvmf_mutex_unlock(&c->lock);
	*err = job.err;
	return job.ret;
}

/* ------------------------------------------------------------------ */
/* Connect and disconnect                                              */
/* ------------------------------------------------------------------ */

static void ctrl_free(struct nvmf_ctrl *c)
{
	for (unsigned i = 0; i < c->nr_io_queues; i++)
		queue_destroy(&c->ioqs[i]);
	free(c->ioqs);
	queue_destroy(&c->admin);
	ctrl_free_namespaces(c);
	host_secrets_clear(c);
	pthread_mutex_destroy(&c->scan_lock);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static bool nqn_ok(const char *nqn)
{
	return nqn != NULL && nqn[0] != '\0' && strlen(nqn) <= NVMF_NQN_MAX_LEN;
}

/* Copy and check the options; fill in defaults. */
static int ctrl_setup_opts(struct nvmf_ctrl *c, const struct nvmf_host_opts *opts,
			   struct nvmf_error *err)
{
	int ret;

	ret = host_opts_import(&c->opts, opts, err);
	if (ret != 0)
		return ret;
	opts = &c->opts;
	if (nvmf_transport_find(opts->trtype) == NULL) {
		host_set_error(err, EPROTONOSUPPORT, 0, "no transport of type %d is built in",
			       (int)opts->trtype);
		return -EPROTONOSUPPORT;
	}
	if (opts->traddr == NULL || opts->traddr[0] == '\0' ||
	    strlen(opts->traddr) >= sizeof(c->traddr)) {
		host_set_error(err, EINVAL, 0, "a transport address (traddr) is required");
		return -EINVAL;
	}
	snprintf(c->traddr, sizeof(c->traddr), "%s", opts->traddr);
	snprintf(c->subnqn, sizeof(c->subnqn), "%s",
		 opts->subnqn != NULL ? opts->subnqn : NVMF_DISCOVERY_NQN);
	c->discovery = strcmp(c->subnqn, NVMF_DISCOVERY_NQN) == 0;
	if (opts->trsvcid != NULL && strlen(opts->trsvcid) >= sizeof(c->trsvcid)) {
		host_set_error(err, EINVAL, 0, "invalid transport service id (port) %s",
			       opts->trsvcid);
		return -EINVAL;
	}
	snprintf(c->trsvcid, sizeof(c->trsvcid), "%s",
		 opts->trsvcid != NULL && opts->trsvcid[0] != '\0'
			 ? opts->trsvcid
			 : c->discovery ? NVMF_DEFAULT_DISCOVERY_PORT : NVMF_DEFAULT_PORT);
	if (!nqn_ok(c->subnqn)) {
		host_set_error(err, EINVAL, 0, "invalid subsystem NQN (1 to %d bytes)",
			       NVMF_NQN_MAX_LEN);
		return -EINVAL;
	}
	if (opts->hostnqn != NULL && !nqn_ok(opts->hostnqn)) {
		host_set_error(err, EINVAL, 0, "invalid host NQN (1 to %d bytes)", NVMF_NQN_MAX_LEN);
		return -EINVAL;
	}
	snprintf(c->hostnqn, sizeof(c->hostnqn), "%s", opts->hostnqn != NULL ? opts->hostnqn : "");
	if (opts->hostid != NULL) {
		if (host_parse_uuid(opts->hostid, c->hostid) != 0) {
			host_set_error(err, EINVAL, 0, "invalid host ID %s (want a UUID)",
				       opts->hostid);
			return -EINVAL;
		}
		host_format_uuid(c->hostid, c->hostid_str);
	}
	if (c->hostnqn[0] == '\0' || opts->hostid == NULL) {
		char id[NVMF_UUID_STR_SIZE];
		ret = nvmf_host_default_ids(c->hostnqn, id);

		if (ret != 0) {
			host_set_error(err, -ret, 0, "cannot determine the host NQN: %s",
				       strerror(-ret));
			return ret;
		}
		if (opts->hostid == NULL) {
			host_parse_uuid(id, c->hostid);
			host_format_uuid(c->hostid, c->hostid_str);
		}
	}
	if (c->opts.queue_size < 3 || c->opts.queue_size > MAX_QUEUE_SIZE) {
		host_set_error(err, EINVAL, 0, "queue size must be 3 to %d", MAX_QUEUE_SIZE);
		return -EINVAL;
	}
	if (c->opts.nr_io_queues == 0) {
		/* A queue per CPU the process may run on (its affinity mask). */
		c->opts.nr_io_queues = (unsigned)nvmf_affinity_cpus(NULL, 0);
	}
	if (c->opts.nr_io_queues > MAX_IO_QUEUES)
		c->opts.nr_io_queues = MAX_IO_QUEUES;
	if (c->opts.kato_s < 0 || c->opts.kato_s > 65535 || c->opts.reconnect_delay_s < 0) {
		host_set_error(err, EINVAL, 0, "invalid keep-alive timeout or reconnect delay");
		return -EINVAL;
	}
	if (c->opts.max_io_size < 4096)
		c->opts.max_io_size = DEFAULT_MAX_IO_SIZE;
	ret = host_secrets_setup(c, opts, err);
	if (ret != 0)
		return ret;
	if (c->discovery)
		c->opts.nr_io_queues = 0;
	c->opts.traddr = c->traddr;
	c->opts.trsvcid = c->trsvcid;
	c->opts.subnqn = c->subnqn;
	c->opts.hostnqn = c->hostnqn;
	c->opts.hostid = c->hostid_str;
	snprintf(c->name, sizeof(c->name), "%s:%s/%s", c->traddr, c->trsvcid, c->subnqn);
	return 0;
}

struct nvmf_ctrl *nvmf_connect(const struct nvmf_host_opts *opts, struct nvmf_error *err)
{
	struct nvmf_error local;
	struct nvmf_ctrl *c;
	int ret;

	if (err == NULL)
		err = &local;
	memset(err, 0, sizeof(*err));
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		host_set_error(err, ENOMEM, 0, "out of memory");
		return NULL;
	}
	nvmf_mutex_init(&c->lock);
	nvmf_mutex_init(&c->scan_lock);
	nvmf_cond_init_monotonic(&c->cond);
	atomic_init(&c->state, NVMF_CTRL_RECONNECTING);
	ret = ctrl_setup_opts(c, opts, err);
	if (ret == 0)
		ret = queue_init(&c->admin, c, 0, HOST_ADMIN_QSIZE, HOST_MAX_AERS);
	if (ret != 0) {
		if (err->msg[0] == '\0')
			host_set_error(err, -ret, 0, "%s", strerror(-ret));
		ctrl_free(c);
		return NULL;
	}
	ret = ctrl_establish(c, true, err);
	if (ret == 0) {
		atomic_store(&c->state, NVMF_CTRL_LIVE);
		ctrl_go_live(c);
		ret = ctrl_scan_namespaces(c, true);
		if (ret != 0)
			host_set_error(err, ret < 0 ? -ret : EIO, ret > 0 ? (uint16_t)ret : 0,
				       "%s: identifying the namespaces failed: %s", c->name,
				       ret < 0 ? strerror(-ret) : nvmf_status_str((uint16_t)ret));
	}
	if (ret == 0) {
		ret = -pthread_create(&c->worker, NULL, ctrl_worker, c);
		if (ret != 0)
			host_set_error(err, -ret, 0, "cannot start the controller thread: %s",
				       strerror(-ret));
		c->worker_started = ret == 0;
	}
	if (ret != 0) {
		atomic_store(&c->state, NVMF_CTRL_DISCONNECTING);
		ctrl_teardown(c, ESHUTDOWN);
		ctrl_free(c);
		return NULL;
	}
	NVMF_INFO("host: %s: connected, controller %u, %u I/O queues of %u entries", c->name,
		  atomic_load(&c->cntlid), c->nr_io_queues, c->io_qsize);
	return c;
}

int nvmf_disconnect(struct nvmf_ctrl *c)
{
	int ret = 0;

	if (c == NULL)
		return 0;
	nvmf_mutex_lock(&c->lock);
	atomic_store(&c->state, NVMF_CTRL_DISCONNECTING);
	c->worker_stop = true;
	pthread_cond_broadcast(&c->cond);
	nvmf_mutex_unlock(&c->lock);
	if (c->worker_started)
		pthread_join(c->worker, NULL);
	if (atomic_load(&c->admin.live) && !atomic_load(&c->admin.dead)) {
		if (nvmf_ctrl_wait_idle(c, (int)timeout_ms_or(c->opts.io_timeout_ms,
							      DEFAULT_IO_TIMEOUT_MS)) != 0)
			NVMF_WARN("host: %s: commands still outstanding at disconnect", c->name);
		ret = shutdown_ctrl(c);
	} else {
		ret = -ENOTCONN;
	}
	ctrl_teardown(c, ESHUTDOWN);
	ctrl_free(c);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Accessors                                                           */
/* ------------------------------------------------------------------ */

enum nvmf_ctrl_state nvmf_ctrl_state(const struct nvmf_ctrl *ctrl)
{
	return (enum nvmf_ctrl_state)atomic_load(&((struct nvmf_ctrl *)ctrl)->state);
}

const struct nvme_id_ctrl *nvmf_ctrl_identify(const struct nvmf_ctrl *ctrl)
{
	return &ctrl->id;
}

uint64_t nvmf_ctrl_cap(const struct nvmf_ctrl *ctrl)
{
	return ctrl->cap;
}

uint32_t nvmf_ctrl_vs(const struct nvmf_ctrl *ctrl)
{
	return ctrl->vs;
}

uint16_t nvmf_ctrl_cntlid(const struct nvmf_ctrl *ctrl)
{
	return atomic_load(&((struct nvmf_ctrl *)ctrl)->cntlid);
}

bool nvmf_ctrl_is_discovery(const struct nvmf_ctrl *ctrl)
{
	return ctrl->discovery;
}

unsigned nvmf_ctrl_nr_io_queues(const struct nvmf_ctrl *ctrl)
{
	return ctrl->nr_io_queues;
}

unsigned nvmf_ctrl_queue_depth(const struct nvmf_ctrl *ctrl)
{
	return ctrl->nr_io_queues != 0 ? ctrl->ioqs[0].nuser : 0;
}

uint32_t nvmf_ctrl_max_io_size(const struct nvmf_ctrl *ctrl)
{
	return ctrl->max_io_size;
}

uint32_t nvmf_ctrl_max_icd(const struct nvmf_ctrl *ctrl)
{
	return ctrl->max_icd;
}

const char *nvmf_ctrl_subnqn(const struct nvmf_ctrl *ctrl)
{
	return ctrl->subnqn;
}

const char *nvmf_ctrl_hostnqn(const struct nvmf_ctrl *ctrl)
{
	return ctrl->hostnqn;
}

const char *nvmf_ctrl_hostid(const struct nvmf_ctrl *ctrl)
{
	return ctrl->hostid_str;
}

const char *nvmf_ctrl_traddr(const struct nvmf_ctrl *ctrl)
{
	return ctrl->traddr;
}

const char *nvmf_ctrl_trsvcid(const struct nvmf_ctrl *ctrl)
{
	return ctrl->trsvcid;
}

unsigned nvmf_ctrl_reconnects(const struct nvmf_ctrl *ctrl)
{
	return atomic_load(&((struct nvmf_ctrl *)ctrl)->reconnects);
}

int nvmf_ctrl_queue_info(const struct nvmf_ctrl *ctrl, unsigned qid, struct nvmf_qpair_info *info)
{
	struct host_queue *q = ctrl_queue((struct nvmf_ctrl *)ctrl, qid);
	int ret = -ENOTCONN;

	if (q == NULL)
		return -EINVAL;
	/* The same handshake as a submitter: the qpair cannot go meanwhile. */
	atomic_fetch_add(&q->users, 1);
	if (atomic_load(&q->live) && q->qp != NULL) {
		nvmf_qpair_get_info(q->qp, info);
		ret = 0;
	}
	atomic_fetch_sub(&q->users, 1);
	return ret;
}
