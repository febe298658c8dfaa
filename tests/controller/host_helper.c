/* SPDX-License-Identifier: MIT */
#include "host_helper.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/test_util.h"

static const uint8_t default_hostid[16] = {0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33,
					   0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55};

static void on_error(void *arg, int error)
{
	struct th_queue *q = arg;

	pthread_mutex_lock(&q->lock);
	q->closed = true;
	q->error = error;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

static void on_response(void *arg, struct nvmf_capsule *nc)
{
	struct th_queue *q = arg;
	struct nvme_cqe *cqe = nvmf_capsule_cqe(nc);
	struct th_slot *s = &q->slots[cqe->cid % TH_SLOTS];

	pthread_mutex_lock(&q->lock);
	if (s->busy && !s->done) {
		s->cqe = *cqe;
		s->done = true;
		pthread_cond_broadcast(&q->cond);
	} else {
		fprintf(stderr, "host_helper: unexpected response for cid %u\n", cqe->cid);
	}
	pthread_mutex_unlock(&q->lock);
	nvmf_capsule_free(nc);
}

static void on_data(void *arg, size_t xfered, int error)
{
	struct th_slot *s = arg;

	__atomic_store_n(&s->data_error, error, __ATOMIC_SEQ_CST);
	__atomic_store_n(&s->data_pending, false, __ATOMIC_SEQ_CST);
}

int th_open(struct th_queue *q, uint16_t port, const struct th_opts *opts)
{
	struct nvmf_qpair_params p;
	int fd;

	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	fd = test_connect(port);
	if (fd < 0)
		return -1;
	memset(&p, 0, sizeof(p));
	p.trtype = NVMF_TRTYPE_TCP;
	p.controller = false;
	p.sq_flow_control = !(opts != NULL && opts->disable_sqflow);
	p.qsize = opts != NULL && opts->qsize != 0 ? opts->qsize : 32;
	p.error_cb = on_error;
	p.receive_cb = on_response;
	p.cb_arg = q;
	p.tcp.fd = fd;
	p.tcp.header_digests = opts != NULL && opts->hdgst;
	p.tcp.data_digests = opts != NULL && opts->ddgst;
	p.tcp.max_icd = 8192;
	p.tcp.max_io_size = 1u << 20;
	p.tcp.connect_timeout_ms = 5000;
	q->qp = nvmf_qpair_create(&p);
	return q->qp != NULL ? 0 : -1;
}

void th_close(struct th_queue *q)
{
	if (q->qp == NULL)
		return;
	nvmf_qpair_free(q->qp);
	q->qp = NULL;
	/* The transport's promise: once nvmf_qpair_free returns, every data
	 * transfer has completed and no caller buffer is touched again. */
	for (int i = 0; i < TH_SLOTS; i++)
		if (q->slots[i].busy && __atomic_load_n(&q->slots[i].data_pending, __ATOMIC_SEQ_CST)) {
			fprintf(stderr, "host_helper: cid %d: the transport still holds its buffer "
				"after nvmf_qpair_free\n", i);
			abort();
		}
}

int th_submit(struct th_queue *q, const struct nvme_sqe *sqe, void *buf, size_t len, bool write)
{
	struct nvme_sqe copy = *sqe;
	struct nvmf_capsule *nc;
	struct th_slot *s = NULL;
	int cid = -1;

	pthread_mutex_lock(&q->lock);
	for (int i = 0; i < TH_SLOTS; i++)
		if (!q->slots[i].busy) {
			s = &q->slots[i];
			cid = i;
			break;
		}
	if (s != NULL) {
		memset(s, 0, sizeof(*s));
		s->busy = true;
	}
	pthread_mutex_unlock(&q->lock);
	if (s == NULL)
		return -1;
	copy.cid = (uint16_t)cid;
	nc = nvmf_capsule_command(q->qp, &copy);
	if (nc == NULL)
		goto fail;
	if (buf != NULL) {
		struct nvmf_iov data;

		s->iov = (struct iovec){.iov_base = buf, .iov_len = len};
		data = (struct nvmf_iov){.iov = &s->iov, .iovcnt = 1, .len = len};
		s->data_pending = true;
		if (nvmf_capsule_append_data(nc, &data, write, on_data, s) != 0) {
			nvmf_capsule_free(nc);
			goto fail;
		}
	}
	if (nvmf_capsule_transmit(nc) != 0) {
		nvmf_capsule_free(nc);
		goto fail;
	}
	nvmf_capsule_free(nc);
	return cid;
fail:
	/* Refused (a queue already dead): the transport never took the buffer. */
	__atomic_store_n(&s->data_pending, false, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&q->lock);
	s->busy = false;
	s->data_pending = false; /* not queued: no callback will come */
	pthread_mutex_unlock(&q->lock);
	return -1;
}

static void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int th_wait(struct th_queue *q, int cid, struct nvme_cqe *cqe, int timeout_ms)
{
	struct th_slot *s = &q->slots[cid];
	struct timespec ts;
	int rc = 0;

	deadline_in(&ts, timeout_ms);
	pthread_mutex_lock(&q->lock);
	while (!s->done && !q->closed && rc == 0)
		rc = pthread_cond_timedwait(&q->cond, &q->lock, &ts);
	if (!s->done) {
		pthread_mutex_unlock(&q->lock);
		return -1;
	}
	pthread_mutex_unlock(&q->lock);
	/* The buffer is ours again only once the transport released it (a
	 * closed queue: only after th_close). */
	while (__atomic_load_n(&s->data_pending, __ATOMIC_SEQ_CST))
		sched_yield();
	if (cqe != NULL)
		*cqe = s->cqe;
	pthread_mutex_lock(&q->lock);
	s->busy = false;
	pthread_mutex_unlock(&q->lock);
	return NVME_CQE_TO_STATUS(s->cqe.status);
}

int th_cmd(struct th_queue *q, const struct nvme_sqe *sqe, void *buf, size_t len, bool write,
	   struct nvme_cqe *cqe)
{
	int cid = th_submit(q, sqe, buf, len, write);

	return cid < 0 ? -1 : th_wait(q, cid, cqe, TH_TIMEOUT_MS);
}

int th_wait_closed(struct th_queue *q, int timeout_ms)
{
	struct timespec ts;
	int rc = 0;

	deadline_in(&ts, timeout_ms);
	pthread_mutex_lock(&q->lock);
	while (!q->closed && rc == 0)
		rc = pthread_cond_timedwait(&q->cond, &q->lock, &ts);
	rc = q->closed ? 0 : -1;
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int th_connect(struct th_queue *q, const char *subnqn, uint16_t qid, const struct th_opts *opts,
	       uint32_t *dw0)
{
	struct nvmf_connect_data data;
	struct nvmf_connect_cmd c;
	struct nvme_cqe cqe = {0};
	int st;

	memset(&c, 0, sizeof(c));
	memset(&data, 0, sizeof(data));
	c.opc = NVME_ADMIN_FABRICS;
	c.fctype = NVMF_FCTYPE_CONNECT;
	c.qid = qid;
	c.sqsize = (uint16_t)((opts != NULL && opts->qsize != 0 ? opts->qsize : 32) - 1);
	c.cattr = opts != NULL && opts->disable_sqflow ? NVMF_CONNECT_ATTR_DISABLE_SQ_FC : 0;
	c.kato = opts != NULL ? opts->kato_ms : 0;
	memcpy(data.hostid, opts != NULL && opts->hostid != NULL ? opts->hostid : default_hostid,
	       sizeof(data.hostid));
	data.cntlid = qid == 0 ? NVMF_CNTLID_DYNAMIC : (opts != NULL ? opts->cntlid : 0);
	snprintf(data.subnqn, sizeof(data.subnqn), "%s", subnqn);
	snprintf(data.hostnqn, sizeof(data.hostnqn), "%s",
		 opts != NULL && opts->hostnqn != NULL ? opts->hostnqn : TH_HOSTNQN);
	st = th_cmd(q, (struct nvme_sqe *)&c, &data, sizeof(data), true, &cqe);
	if (dw0 != NULL)
		*dw0 = cqe.cdw0;
	if (st == 0)
		q->cntlid = (uint16_t)cqe.cdw0;
	return st;
}

int th_connect_admin(struct th_queue *q, uint16_t port, const char *subnqn,
		     const struct th_opts *opts)
{
	uint64_t csts = 0;
	int st;

	if (th_open(q, port, opts) != 0)
		return -1;
	st = th_connect(q, subnqn, 0, opts, NULL);
	if (st != 0)
		return st;
	/* CC: EN, IOSQES 6, IOCQES 4, as Linux writes it. */
	st = th_prop_set(q, NVME_PROP_CC, NVME_CC_EN | (6u << 16) | (4u << 20));
	if (st != 0)
		return st;
	st = th_prop_get(q, NVME_PROP_CSTS, false, &csts);
	return st != 0 ? st : (csts & NVME_CSTS_RDY) ? 0 : -1;
}

int th_connect_io(struct th_queue *q, uint16_t port, const char *subnqn, uint16_t qid,
		  uint16_t cntlid, const struct th_opts *opts)
{
	struct th_opts o = opts != NULL ? *opts : (struct th_opts){0};

	o.cntlid = cntlid;
	if (th_open(q, port, &o) != 0)
		return -1;
	return th_connect(q, subnqn, qid, &o, NULL);
}

int th_prop_get(struct th_queue *q, uint32_t ofst, bool size8, uint64_t *value)
{
	struct nvmf_property_get_cmd c;
	struct nvme_cqe cqe = {0};
	int st;

	memset(&c, 0, sizeof(c));
	c.opc = NVME_ADMIN_FABRICS;
	c.fctype = NVMF_FCTYPE_PROPERTY_GET;
	c.attrib = size8 ? NVMF_PROP_SIZE_8 : NVMF_PROP_SIZE_4;
	c.ofst = ofst;
	st = th_cmd(q, (struct nvme_sqe *)&c, NULL, 0, false, &cqe);
	*value = cqe.cdw0 | ((uint64_t)cqe.cdw1 << 32);
	return st;
}

int th_prop_set(struct th_queue *q, uint32_t ofst, uint32_t value)
{
	struct nvmf_property_set_cmd c;

	memset(&c, 0, sizeof(c));
	c.opc = NVME_ADMIN_FABRICS;
	c.fctype = NVMF_FCTYPE_PROPERTY_SET;
	c.attrib = NVMF_PROP_SIZE_4;
	c.ofst = ofst;
	c.value = value;
	return th_cmd(q, (struct nvme_sqe *)&c, NULL, 0, false, NULL);
}

int th_identify(struct th_queue *q, uint8_t cns, uint32_t nsid, void *buf)
{
	struct nvme_sqe sqe = {.opc = NVME_ADMIN_IDENTIFY, .nsid = nsid, .cdw10 = cns};

	return th_cmd(q, &sqe, buf, 4096, false, NULL);
}

int th_get_log(struct th_queue *q, uint8_t lid, uint32_t nsid, void *buf, uint32_t len,
	       uint64_t offset, bool rae)
{
	uint32_t numd = len / 4 - 1;
	struct nvme_sqe sqe = {
		.opc = NVME_ADMIN_GET_LOG_PAGE,
		.nsid = nsid,
		.cdw10 = lid | (rae ? 1u << 15 : 0) | (numd << 16),
		.cdw11 = numd >> 16,
		.cdw12 = (uint32_t)offset,
		.cdw13 = (uint32_t)(offset >> 32),
	};

	return th_cmd(q, &sqe, buf, len, false, NULL);
}

int th_set_features(struct th_queue *q, uint8_t fid, uint32_t cdw11, uint32_t *dw0)
{
	struct nvme_sqe sqe = {.opc = NVME_ADMIN_SET_FEATURES, .cdw10 = fid, .cdw11 = cdw11};
	struct nvme_cqe cqe = {0};
	int st = th_cmd(q, &sqe, NULL, 0, false, &cqe);

	if (dw0 != NULL)
		*dw0 = cqe.cdw0;
	return st;
}

int th_get_features(struct th_queue *q, uint8_t fid, unsigned sel, uint32_t *dw0)
{
	struct nvme_sqe sqe = {.opc = NVME_ADMIN_GET_FEATURES, .cdw10 = fid | (sel << 8)};
	struct nvme_cqe cqe = {0};
	int st = th_cmd(q, &sqe, NULL, 0, false, &cqe);

	if (dw0 != NULL)
		*dw0 = cqe.cdw0;
	return st;
}

int th_rw(struct th_queue *q, uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb,
	  void *buf, size_t len, uint32_t cdw12_flags)
{
	struct nvme_sqe sqe = {
		.opc = opc,
		.nsid = nsid,
		.cdw10 = (uint32_t)slba,
		.cdw11 = (uint32_t)(slba >> 32),
		.cdw12 = (nlb - 1) | cdw12_flags,
	};

	return th_cmd(q, &sqe, buf, len, opc != NVME_IO_READ, NULL);
}

/* ------------------------------------------------------------------ */
/* Raw queues                                                          */
/* ------------------------------------------------------------------ */

int th_raw_connect_io(struct raw *r, uint16_t port, const char *subnqn, uint16_t qid,
		      uint16_t cntlid, uint16_t qsize)
{
	struct nvmf_connect_data data;
	struct nvmf_connect_cmd c;
	struct th_raw_event ev;
	struct raw_pdu p;

	memset(r, 0, sizeof(*r));
	r->fd = test_connect(port);
	if (r->fd < 0 || !raw_handshake(r, 0))
		return -1;
	memset(&c, 0, sizeof(c));
	memset(&data, 0, sizeof(data));
	c.opc = NVME_ADMIN_FABRICS;
	c.flags = NVME_SQE_PSDT_SGL;
	c.cid = 0xffff;
	c.fctype = NVMF_FCTYPE_CONNECT;
	c.sgl1.type = NVME_SGL_ID_ICD;
	c.sgl1.length = sizeof(data);
	c.qid = qid;
	c.sqsize = (uint16_t)(qsize - 1);
	memcpy(data.hostid, default_hostid, sizeof(data.hostid));
	data.cntlid = cntlid;
	snprintf(data.subnqn, sizeof(data.subnqn), "%s", subnqn);
	snprintf(data.hostnqn, sizeof(data.hostnqn), "%s", TH_HOSTNQN);
	raw_capsule(&p, r, (struct nvme_sqe *)&c, &data, sizeof(data));
	if (raw_send(r, &p) != 0 || th_raw_next(r, &ev, TH_TIMEOUT_MS) != 0 ||
	    ev.type != NVME_TCP_PDU_CAPSULE_RESP || ev.cid != 0xffff)
		return -1;
	return ev.status;
}

int th_raw_write_cmd(struct raw *r, uint16_t cid, uint32_t nsid, uint64_t slba, uint32_t nlb,
		     uint32_t len, const void *icd)
{
	struct nvme_sqe sqe = {
		.opc = NVME_IO_WRITE,
		.flags = NVME_SQE_PSDT_SGL,
		.cid = cid,
		.nsid = nsid,
		.cdw10 = (uint32_t)slba,
		.cdw11 = (uint32_t)(slba >> 32),
		.cdw12 = nlb - 1,
	};
	struct raw_pdu p;

	sqe.sgl1.length = len;
	sqe.sgl1.type = icd != NULL ? NVME_SGL_ID_ICD : NVME_SGL_ID_TRANSPORT;
	raw_capsule(&p, r, &sqe, icd, icd != NULL ? len : 0);
	return raw_send(r, &p);
}

int th_raw_h2c(struct raw *r, uint16_t cid, uint16_t ttag, uint32_t datao, const void *data,
	       uint32_t len)
{
	struct raw_pdu p;

	if (r->hd || r->dd || len > r->maxh2cdata)
		return -1;
	r->cid = cid;
	r->ttag = ttag;
	raw_h2c(&p, r, datao, len, true);
	memcpy(p.b + 24, data, len);
	return raw_send(r, &p);
}

int th_raw_next(struct raw *r, struct th_raw_event *ev, int timeout_ms)
{
	uint8_t buf[256];
	size_t len;

	memset(ev, 0, sizeof(*ev));
	if (raw_read_pdu(r->fd, buf, sizeof(buf), &len, timeout_ms) != 0)
		return -1;
	ev->type = buf[0];
	if (ev->type == NVME_TCP_PDU_R2T) {
		const struct nvme_tcp_r2t_hdr *h = (const void *)buf;

		ev->cid = h->cccid;
		ev->ttag = h->ttag;
		ev->r2to = h->r2to;
		ev->r2tl = h->r2tl;
	} else if (ev->type == NVME_TCP_PDU_CAPSULE_RESP) {
		const struct nvme_tcp_rsp *h = (const void *)buf;

		ev->cid = h->cqe.cid;
		ev->status = NVME_CQE_TO_STATUS(h->cqe.status);
	} else if (ev->type == NVME_TCP_PDU_C2H_DATA) {
		ev->cid = ((const struct nvme_tcp_c2h_data_hdr *)buf)->cccid;
	}
	return 0;
}
