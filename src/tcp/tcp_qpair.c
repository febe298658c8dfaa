/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP queue pairs: creation on a connected socket, the ICReq/ICResp
 * exchange that settles digests, alignment and R2T limits, the end of a
 * connection (a fatal error's TermReq, the report to the upper layer,
 * teardown), the capsule pool, and the transport's ops table.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "security/tls_session.h"
#include "tcp/tcp_internal.h"
#include "util/clock.h"
#include "util/lock.h"
#include "util/log.h"

/* ------------------------------------------------------------------ */
/* Connection state and errors                                         */
/* ------------------------------------------------------------------ */

/* Report the end of the connection to the upper layer, once. */
void tcp_report(struct tcp_qpair *tq, int error)
{
	bool report;

	nvmf_mutex_lock(&tq->lock);
	if (tq->error == 0)
		tq->error = error;
	error = tq->error;
	report = !tq->reported && !tq->freeing && !tq->quiet;
	tq->reported = true;
	if (tq->state != QP_TERMINATING)
		tq->state = QP_CLOSED;
	pthread_cond_broadcast(&tq->cond);
	nvmf_mutex_unlock(&tq->lock);
	if (report)
		tq->qp.error_cb(tq->qp.cb_arg, error);
}

/*
 * A fatal protocol error: queue a TermReq carrying FES, FEI and up to 128
 * bytes of the offending header (TCP 1.0a §3.6.2.4), stop receiving, tell
 * the upper layer.  Nothing else is sent after the TermReq.
 */
void tcp_fatal(struct tcp_qpair *tq, uint16_t fes, uint32_t fei, const void *hdr, size_t hdr_len)
{
	struct nvme_tcp_term_req_hdr *term = (struct nvme_tcp_term_req_hdr *)tq->term_hdr;
	size_t copy = hdr_len < NVME_TCP_TERM_REQ_MAX_DATA ? hdr_len : NVME_TCP_TERM_REQ_MAX_DATA;

	NVMF_ERR("nvme-tcp: %s: protocol error by the %s: FES %#x (%s), FEI %u; %s",
		 tq->qp.controller ? "controller" : "host", tq->qp.controller ? "host" : "controller",
		 fes, nvmf_tcp_fes_name(fes), fei,
		 tq->cfg.close_on_fatal ? "closing the connection (no TermReq)" : "sending TermReq");
	nvmf_transport_count(&tq->qp, fes == NVME_TCP_FES_HDGST_ERROR ? NVMF_XPORT_DIGEST_ERROR
								  : NVMF_XPORT_PDU_ERROR);
	if (tq->cfg.close_on_fatal) {
		/* As the Linux target ends such a connection: at once, no TermReq. */
		nvmf_mutex_lock(&tq->lock);
		if (tq->error == 0)
			tq->error = EPROTO;
		nvmf_mutex_unlock(&tq->lock);
		tq->rx.phase = RX_DRAIN;
		shutdown(tq->conn.fd, SHUT_RDWR);
		tcp_report(tq, EPROTO);
		return;
	}

	nvmf_mutex_lock(&tq->lock);
	/* The reason is recorded with the state change, for anyone waiting on it. */
	if (tq->error == 0)
		tq->error = EPROTO;
	if (!tq->term_queued && tq->state != QP_CLOSED) {
		memset(term, 0, sizeof(*term));
		term->ch.pdu_type = tq->qp.controller ? NVME_TCP_PDU_C2H_TERM_REQ
						      : NVME_TCP_PDU_H2C_TERM_REQ;
		term->ch.hlen = sizeof(*term);
		term->ch.plen = (uint32_t)(sizeof(*term) + copy);
		term->fes = fes;
		term->fei = fei;
		memcpy(tq->term_hdr + sizeof(*term), hdr, copy);
		tq->term_item = (struct tcp_tx_item){
			.kind = ITEM_FIXED,
			.done = DONE_TERM,
			.hdr = tq->term_hdr,
			.hdr_len = (uint16_t)(sizeof(*term) + copy),
		};
		tq->term_queued = true;
		nvmf_transport_count(&tq->qp, NVMF_XPORT_TERMREQ_SENT);
		tq->state = QP_TERMINATING;
		/* The TermReq jumps the queue; the builder sends nothing after it. */
		tq->term_item.next = tq->data_head;
		tq->data_head = &tq->term_item;
		if (tq->data_tail == &tq->data_head)
			tq->data_tail = &tq->term_item.next;
		tq->conn.tx_queued = true;
		tq->conn.engine->ops->kick(&tq->conn);
	}
	nvmf_mutex_unlock(&tq->lock);
	tq->rx.phase = RX_DRAIN;
	tcp_report(tq, EPROTO);
}

/* ------------------------------------------------------------------ */
/* Capsule pool                                                        */
/* ------------------------------------------------------------------ */

/* Add a chunk of capsules to a direction's free list, within its bound. */
bool tcp_pool_grow_locked(struct tcp_qpair *tq, bool rx)
{
	struct tcp_capsule **head = rx ? &tq->free_rx : &tq->free_tx;
	struct tcp_capsule_chunk *chunk;

	NVMF_ASSERT_LOCKED(&tq->lock);
	if (tq->pool_size[rx] >= tq->pool_max)
		return false;
	chunk = calloc(1, sizeof(*chunk));
	if (chunk == NULL)
		return false;
	chunk->next = tq->chunks;
	tq->chunks = chunk;
	for (unsigned i = 0; i < TCP_POOL_CHUNK; i++) {
		struct tcp_capsule *tc = &chunk->capsules[i];

		tc->tq = tq;
		tc->from_rx_pool = rx;
		tc->next_free = *head;
		*head = tc;
	}
	tq->pool_size[rx] += TCP_POOL_CHUNK;
	return true;
}

static struct nvmf_capsule *tcp_capsule_alloc(struct nvmf_qpair *qp)
{
	struct tcp_qpair *tq = TQP(qp);
	struct tcp_capsule *tc;

	nvmf_mutex_lock(&tq->lock);
	tc = tcp_capsule_get_locked(tq, false);
	nvmf_mutex_unlock(&tq->lock);
	if (tc == NULL) {
		errno = ENOBUFS;
		return NULL;
	}
	return &tc->nc;
}

static void tcp_capsule_free(struct nvmf_capsule *nc)
{
	tcp_capsule_put(TQP(nc->qp), TCAP(nc));
}

/* ------------------------------------------------------------------ */
/* Negotiation                                                         */
/* ------------------------------------------------------------------ */

/* Controller: ICReq (TCP 1.0a §3.6.2.2); answer with ICResp. */
bool tcp_handle_icreq(struct tcp_qpair *tq, const struct nvme_tcp_icreq *req)
{
	struct nvme_tcp_icresp *rsp = (struct nvme_tcp_icresp *)tq->ic_hdr;
	bool want_hd = (req->dgst & NVME_TCP_DGST_HDGST) != 0;
	bool want_dd = (req->dgst & NVME_TCP_DGST_DDGST) != 0;
	uint16_t fes;
	uint32_t fei;

	if (nvmf_tcp_validate_icreq(req, &fes, &fei) != NVMF_TCP_PDU_VALID) {
		tcp_fatal(tq, fes, fei, req, sizeof(*req));
		return false;
	}
	/* Refuse cleanly a digest we may not use, rather than silently drop it. */
	if ((want_hd && !tq->cfg.header_digests) || (want_dd && !tq->cfg.data_digests)) {
		NVMF_WARN("nvme-tcp: host asks for digests this port does not permit");
		tcp_fatal(tq, NVME_TCP_FES_UNSUPPORTED_PARAMETER,
			  offsetof(struct nvme_tcp_icreq, dgst), req, sizeof(*req));
		return false;
	}

	nvmf_mutex_lock(&tq->lock);
	tq->hdgst = want_hd;
	tq->ddgst = want_dd;
	tq->txpda = (req->hpda + 1u) * 4;
	tq->maxr2t = req->maxr2t;
	tq->r2t_per_cmd = req->maxr2t < TCP_MAX_R2T - 1 ? req->maxr2t + 1 : TCP_MAX_R2T;
	tq->maxh2cdata = tq->cfg.maxh2cdata;
	/* Transfer tags: queue size x R2Ts per command (TCP 1.0a §3.6.2.9). */
	tq->nttags = (uint32_t)tq->qp.qsize * tq->r2t_per_cmd;
	if (tq->nttags > TTAG_NONE)
		tq->nttags = TTAG_NONE;
	tq->ttags = calloc(tq->nttags, sizeof(*tq->ttags));
	if (tq->ttags == NULL) {
		nvmf_mutex_unlock(&tq->lock);
		NVMF_ERR("nvme-tcp: out of memory for transfer tags");
		tcp_report(tq, ENOMEM);
		tq->rx.phase = RX_DRAIN;
		return false;
	}
	for (uint32_t i = tq->nttags; i-- > 0;)
		tcp_r2t_slot_free_locked(tq, &tq->ttags[i]);

	memset(rsp, 0, sizeof(*rsp));
	rsp->ch.pdu_type = NVME_TCP_PDU_ICRESP;
	rsp->ch.hlen = sizeof(*rsp);
	rsp->ch.plen = sizeof(*rsp);
	rsp->pfv = 0;
	rsp->cpda = (uint8_t)(tq->rxpda / 4 - 1);
	rsp->dgst = req->dgst;
	rsp->maxh2cdata = tq->maxh2cdata;
	tq->ic_item = (struct tcp_tx_item){.kind = ITEM_FIXED, .hdr = tq->ic_hdr,
					   .hdr_len = sizeof(*rsp)};
	tcp_queue_data_item_locked(tq, &tq->ic_item);
	tq->state = QP_ESTABLISHED;
	nvmf_mutex_unlock(&tq->lock);
	NVMF_DEBUG("nvme-tcp: ICReq: hpda %u dgst %#x maxr2t %u", req->hpda, req->dgst,
		   req->maxr2t);
	return true;
}

/* Host: ICResp. */
bool tcp_handle_icresp(struct tcp_qpair *tq, const struct nvme_tcp_icresp *rsp)
{
	uint16_t fes;
	uint32_t fei;

	if (nvmf_tcp_validate_icresp(rsp, tq->cfg.header_digests, tq->cfg.data_digests, &fes,
				     &fei) != NVMF_TCP_PDU_VALID) {
		tcp_fatal(tq, fes, fei, rsp, sizeof(*rsp));
		return false;
	}
	nvmf_mutex_lock(&tq->lock);
	tq->hdgst = tq->cfg.header_digests;
	tq->ddgst = tq->cfg.data_digests;
	tq->txpda = (rsp->cpda + 1u) * 4;
	tq->maxh2cdata = rsp->maxh2cdata;
	tq->state = QP_ESTABLISHED;
	tq->quiet = false;
	pthread_cond_broadcast(&tq->cond);
	nvmf_mutex_unlock(&tq->lock);
	return true;
}

/* Host: queue the ICReq (TCP 1.0a §3.6.2.2). */
static void queue_icreq_locked(struct tcp_qpair *tq)
{
	struct nvme_tcp_icreq *req = (struct nvme_tcp_icreq *)tq->ic_hdr;

	NVMF_ASSERT_LOCKED(&tq->lock);
	memset(req, 0, sizeof(*req));
	req->ch.pdu_type = NVME_TCP_PDU_ICREQ;
	req->ch.hlen = sizeof(*req);
	req->ch.plen = sizeof(*req);
	req->pfv = 0;
	req->hpda = (uint8_t)(tq->rxpda / 4 - 1);
	req->dgst = (uint8_t)((tq->cfg.header_digests ? NVME_TCP_DGST_HDGST : 0) |
			      (tq->cfg.data_digests ? NVME_TCP_DGST_DDGST : 0));
	req->maxr2t = tq->cfg.maxr2t;
	tq->ic_item = (struct tcp_tx_item){.kind = ITEM_FIXED, .hdr = tq->ic_hdr,
					   .hdr_len = sizeof(*req)};
	tcp_queue_data_item_locked(tq, &tq->ic_item);
}

static int wait_established(struct tcp_qpair *tq)
{
	uint32_t ms = tq->cfg.connect_timeout_ms != 0 ? tq->cfg.connect_timeout_ms : 10000;
	struct timespec deadline = nvmf_deadline_ms(ms);
	int error = 0;

	nvmf_mutex_lock(&tq->lock);
	while (tq->state == QP_AWAIT_IC && error == 0)
		error = pthread_cond_timedwait(&tq->cond, &tq->lock, &deadline);
	if (tq->state != QP_ESTABLISHED)
		error = tq->error != 0 ? tq->error : error != 0 ? error : ECONNRESET;
	nvmf_mutex_unlock(&tq->lock);
	return error;
}

/* ------------------------------------------------------------------ */
/* Queue pairs                                                         */
/* ------------------------------------------------------------------ */

void tcp_qpair_release(struct tcp_qpair *tq)
{
	while (tq->chunks != NULL) {
		struct tcp_capsule_chunk *chunk = tq->chunks;

		tq->chunks = chunk->next;
		for (unsigned i = 0; i < TCP_POOL_CHUNK; i++)
			free(chunk->capsules[i].icd);
		free(chunk);
	}
	free(tq->c2h_items);
	free(tq->cid_hash);
	free(tq->ttags);
	free(tq->rx.ring);
	pthread_cond_destroy(&tq->cond);
	pthread_mutex_destroy(&tq->lock);
	free(tq);
}

static uint32_t round_pow2(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static int tcp_alloc_pools(struct tcp_qpair *tq)
{
	const unsigned per_dir = tq->qp.qsize + TCP_POOL_SLACK;

	/*
	 * Capsules in use at once, per direction: the queue's commands (or
	 * responses), plus those of one transmit batch already answered but
	 * not yet released by the transmit side.
	 */
	tq->pool_max = tq->qp.qsize + TCP_TX_PDUS + TCP_POOL_SLACK;
	tq->rx.ring = malloc(TCP_RX_RING_SIZE);
	if (tq->rx.ring == NULL)
		return ENOMEM;
	if (tq->qp.controller) {
		tq->nc2h_items = per_dir;
		tq->c2h_items = calloc(tq->nc2h_items, sizeof(*tq->c2h_items));
		if (tq->c2h_items == NULL)
			return ENOMEM;
		for (unsigned i = 0; i < tq->nc2h_items; i++) {
			tq->c2h_items[i].pooled = true;
			tq->c2h_items[i].next = tq->free_c2h;
			tq->free_c2h = &tq->c2h_items[i];
		}
		tq->ttag_free = TTAG_NONE; /* sized once ICReq gives MAXR2T */
	} else {
		tq->cid_hash_mask = round_pow2(2u * tq->qp.qsize) - 1;
		tq->cid_hash = calloc(tq->cid_hash_mask + 1, sizeof(*tq->cid_hash));
		if (tq->cid_hash == NULL)
			return ENOMEM;
	}
	return 0;
}

static void set_socket_options(int fd)
{
	int one = 1;

	/* Capsules are small and latency-bound: never wait to coalesce. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void tcp_release(const struct nvmf_tcp_params *cfg)
{
	if (cfg->tls != NULL)
		nvmf_tls_session_free(cfg->tls);
	if (cfg->fd >= 0)
		close(cfg->fd);
}

static void tcp_params_release(const struct nvmf_qpair_params *params)
{
	tcp_release(&params->tcp);
}

/* Fail whatever the connection still holds; runs after the engine let go. */
static void tcp_qpair_abort_all(struct tcp_qpair *tq)
{
	struct tcp_tx_item *item;
	struct tcp_tx_batch *b = &tq->batch;

	if (tq->batch_pending) {
		tq->batch_pending = false;
		tcp_batch_finish(tq, b, ECONNABORTED);
	}
	/* Queued items that never went out. */
	for (;;) {
		nvmf_mutex_lock(&tq->lock);
		item = tq->data_head;
		if (item == NULL) {
			item = tq->cap_head;
			if (item != NULL)
				tq->cap_head = item->next;
		} else {
			tq->data_head = item->next;
		}
		nvmf_mutex_unlock(&tq->lock);
		if (item == NULL)
			break;
		if (item->kind == ITEM_FIXED && item->done != DONE_CAPSULE)
			continue;
		tcp_items_finished(tq, &item, 1, ECONNABORTED);
	}
	tq->data_tail = &tq->data_head;
	tq->cap_tail = &tq->cap_head;

	/* Transfers waiting for data from the peer. */
	for (struct tcp_capsule_chunk *chunk = tq->chunks; chunk != NULL; chunk = chunk->next) {
		for (unsigned i = 0; i < TCP_POOL_CHUNK; i++) {
			struct tcp_cmd_buffer *cb = &chunk->capsules[i].cb;
			bool complete = false;

			nvmf_mutex_lock(&tq->lock);
			if (cb->active) {
				if (cb->registered)
					tcp_cb_unregister_locked(tq, cb);
				if (cb->error == 0)
					cb->error = ECONNABORTED;
				cb->refs = 1;
				complete = tcp_cb_put_locked(cb);
			}
			nvmf_mutex_unlock(&tq->lock);
			if (complete)
				tcp_cb_complete(tq, cb);
		}
	}
	nvmf_mutex_lock(&tq->lock);
	for (uint32_t i = 0; i < tq->nttags; i++)
		if (tq->ttags[i].cb != NULL)
			tcp_r2t_slot_free_locked(tq, &tq->ttags[i]);
	for (struct tcp_cmd_buffer *cb = tq->r2t_wait_head; cb != NULL; cb = cb->r2t_wait_next)
		cb->r2t_waiting = false;
	tq->r2t_wait_head = NULL;
	tq->r2t_wait_tail = &tq->r2t_wait_head;
	nvmf_mutex_unlock(&tq->lock);
	/* A capsule whose in-capsule data was arriving. */
	if (tq->rx.tc != NULL) {
		tcp_capsule_put(tq, tq->rx.tc);
		tq->rx.tc = NULL;
	}
}

static void tcp_qpair_free(struct nvmf_qpair *qp)
{
	struct tcp_qpair *tq = TQP(qp);
	struct timespec deadline;
	bool last;

	/* Let queued PDUs (responses, a TermReq) leave, briefly. */
	if (tq->qp.engine->ops->on_engine_thread(&tq->conn)) {
		/* Freed from a callback on its own event loop (the threads
		 * engine refuses this): nobody else will send for it, so try
		 * once, without waiting. */
		nvmf_mutex_lock(&tq->lock);
		tq->freeing = true;
		nvmf_mutex_unlock(&tq->lock);
		if (!tq->conn.tx_blocked)
			tcp_tx(&tq->conn, false);
	}
	deadline = nvmf_deadline_ms(TCP_FLUSH_TIMEOUT_MS);
	nvmf_mutex_lock(&tq->lock);
	if (tq->freeing)
		deadline = (struct timespec){0};
	tq->freeing = true;
	while (tq->tx_busy ||
	       (tq->term_queued ? !tq->term_sent
				: (tq->data_head != NULL || tq->cap_head != NULL) &&
					  tq->error == 0 && tq->state == QP_ESTABLISHED))
		if (pthread_cond_timedwait(&tq->cond, &tq->lock, &deadline) == ETIMEDOUT)
			break;
	nvmf_mutex_unlock(&tq->lock);

	tq->qp.engine->ops->detach(&tq->conn);
	tcp_qpair_abort_all(tq);
	if (tq->cfg.tls != NULL)
		nvmf_tls_session_free(tq->cfg.tls);
	close(tq->conn.fd);
	tq->conn.fd = -1;

	nvmf_mutex_lock(&tq->lock);
	tq->state = QP_CLOSED;
	last = --tq->refs == 0;
	nvmf_mutex_unlock(&tq->lock);
	if (last)
		tcp_qpair_release(tq);
}

struct nvmf_qpair *tcp_qpair_create(const struct nvmf_qpair_params *params)
{
	const struct nvmf_tcp_params *cfg = &params->tcp;
	struct tcp_qpair *tq;
	int error;

	if (cfg->fd < 0 || cfg->pda > NVME_TCP_PDA_MAX ||
	    (params->controller &&
	     (cfg->maxh2cdata < NVME_TCP_MIN_MAXH2CDATA || cfg->maxh2cdata % 4 != 0)) ||
	    cfg->max_io_size == 0) {
		tcp_release(cfg);
		errno = EINVAL;
		return NULL;
	}
	tq = calloc(1, sizeof(*tq));
	if (tq == NULL) {
		tcp_release(cfg);
		errno = ENOMEM;
		return NULL;
	}
	nvmf_qpair_init(&tq->qp, &nvmf_tcp_transport, params);
	if (tq->qp.engine == NULL) {
		error = errno;
		tcp_release(cfg);
		free(tq);
		errno = error;
		return NULL;
	}
	tq->cfg = *cfg;
	if (tq->cfg.max_c2h_data == 0 || tq->cfg.max_c2h_data > cfg->max_io_size)
		tq->cfg.max_c2h_data = cfg->max_io_size;
	nvmf_mutex_init(&tq->lock);
	nvmf_cond_init_monotonic(&tq->cond);
	tq->refs = 1;
	tq->state = QP_AWAIT_IC;
	tq->rxpda = (cfg->pda + 1u) * 4;
	tq->txpda = 4;
	tq->quiet = !params->controller;
	if (!params->controller && tq->cfg.maxr2t > TCP_MAX_R2T - 1)
		tq->cfg.maxr2t = TCP_MAX_R2T - 1;
	tq->data_tail = &tq->data_head;
	tq->cap_tail = &tq->cap_head;
	tq->r2t_wait_tail = &tq->r2t_wait_head;
	tcp_rx_next_pdu(&tq->rx);
	error = tcp_alloc_pools(tq);
	if (error != 0) {
		tcp_release(cfg);
		tcp_qpair_release(tq);
		errno = error;
		return NULL;
	}
	set_socket_options(cfg->fd);
	tq->conn.fd = cfg->fd;
	tq->conn.rx = tcp_rx;
	tq->conn.tx = tcp_tx;
	tq->conn.rx_done = tcp_rx_done;
	tq->conn.lock = &tq->lock;
	error = tq->qp.engine->ops->attach(tq->qp.engine, &tq->conn);
	if (error != 0) {
		tcp_release(cfg);
		tcp_qpair_release(tq);
		errno = error;
		return NULL;
	}
	if (!params->controller) {
		nvmf_mutex_lock(&tq->lock);
		queue_icreq_locked(tq);
		nvmf_mutex_unlock(&tq->lock);
		error = wait_established(tq);
		if (error != 0) {
			/* The caller learns why from errno, not from a callback. */
			tcp_qpair_free(&tq->qp);
			errno = error;
			return NULL;
		}
	}
	return &tq->qp;
}

static bool tcp_on_engine_thread(const struct nvmf_qpair *qp)
{
	const struct tcp_qpair *tq = (const struct tcp_qpair *)qp;

	return qp->engine->ops->on_engine_thread(&tq->conn);
}

static void tcp_qpair_get_info(const struct nvmf_qpair *qp, struct nvmf_qpair_info *info)
{
	const struct tcp_qpair *tq = (const struct tcp_qpair *)qp;

	info->header_digests = tq->hdgst;
	info->data_digests = tq->ddgst;
	info->txpda = (uint8_t)tq->txpda;
	info->rxpda = (uint8_t)tq->rxpda;
	info->maxr2t = qp->controller ? tq->maxr2t : tq->cfg.maxr2t;
	info->maxh2cdata = tq->maxh2cdata;
	info->max_icd = tq->cfg.max_icd;
	info->tls_cipher = tq->cfg.tls != NULL ? nvmf_tls_cipher(tq->cfg.tls) : NULL;
	info->tls_hostnqn = tq->cfg.tls != NULL ? nvmf_tls_hostnqn(tq->cfg.tls) : "";
	info->tls_subnqn = tq->cfg.tls != NULL ? nvmf_tls_subnqn(tq->cfg.tls) : "";
}

const struct nvmf_transport_ops nvmf_tcp_transport = {
	.trtype = NVMF_TRTYPE_TCP,
	.name = "tcp",
	.qpair_create = tcp_qpair_create,
	.qpair_connect = tcp_qpair_connect,
	.listen = tcp_listen,
	.listener_free = tcp_listener_free,
	.params_release = tcp_params_release,
	.qpair_free = tcp_qpair_free,
	.qpair_get_info = tcp_qpair_get_info,
	.on_engine_thread = tcp_on_engine_thread,
	.capsule_alloc = tcp_capsule_alloc,
	.capsule_free = tcp_capsule_free,
	.capsule_transmit = tcp_capsule_transmit,
	.capsule_respond = tcp_capsule_respond,
	.validate_command = tcp_validate_command,
	.capsule_data_len = tcp_capsule_data_len,
	.receive_controller_data = tcp_receive_controller_data,
	.send_controller_data = tcp_send_controller_data,
};
