/* SPDX-License-Identifier: MIT */
/*
 * The NVMe/TCP transmit path: tcp_tx turns queued work into PDUs, a batch at
 * a time (built under the qpair lock, digests computed outside it, sent in
 * one sendmsg where the socket allows); and what queues that work: capsules
 * and responses, the controller's R2Ts and C2HData.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "security/tls_session.h"
#include "tcp/tcp_internal.h"
#include "util/crc32c.h"
#include "util/lock.h"
#include "util/log.h"

/*
 * Host commands go out behind the data queue (batch_fill_locked), so H2CData
 * for commands already sent is not held up by new ones.  A controller's
 * responses take their place in the data queue instead: each follows its
 * own C2HData, and a response is not held behind the data of every later
 * command, which would let the host complete nothing until the whole batch
 * had arrived (and the two sides would take turns instead of overlapping).
 */
static void queue_capsule_locked(struct tcp_qpair *tq, struct tcp_capsule *tc)
{
	NVMF_ASSERT_LOCKED(&tq->lock);
	if (tq->qp.controller) {
		tcp_queue_data_item_locked(tq, &tc->item);
		return;
	}
	tc->item.next = NULL;
	*tq->cap_tail = &tc->item;
	tq->cap_tail = &tc->item.next;
	tq->conn.tx_queued = true;
	tq->conn.engine->ops->kick(&tq->conn);
}

/* ------------------------------------------------------------------ */
/* Controller: R2Ts                                                    */
/* ------------------------------------------------------------------ */

static bool r2t_wants_more(const struct tcp_qpair *tq, const struct tcp_cmd_buffer *cb)
{
	return cb->r2t_requested < cb->data_len && cb->r2ts_outstanding < tq->r2t_per_cmd;
}

/* Controller: request more of a transfer with R2Ts, as tags allow. */
static void send_r2ts_locked(struct tcp_qpair *tq, struct tcp_cmd_buffer *cb)
{
	const uint32_t per_r2t = (cb->data_len + tq->r2t_per_cmd - 1) / tq->r2t_per_cmd;

	NVMF_ASSERT_LOCKED(&tq->lock);
	while (cb->r2t_requested < cb->data_len && cb->r2ts_outstanding < tq->r2t_per_cmd &&
	       tq->ttag_free != TTAG_NONE) {
		uint16_t ttag = tq->ttag_free;
		struct tcp_r2t_slot *slot = &tq->ttags[ttag];
		struct nvme_tcp_r2t_hdr *r2t = (struct nvme_tcp_r2t_hdr *)slot->hdr;
		uint32_t len = cb->data_len - cb->r2t_requested;

		if (len > per_r2t)
			len = per_r2t;
		tq->ttag_free = slot->next_free;
		slot->cb = cb;
		slot->start = cb->data_offset + cb->r2t_requested;
		slot->next_offset = slot->start;
		slot->end = slot->next_offset + len;
		cb->r2t_requested += len;
		cb->r2ts_outstanding++;
		cb->refs++;

		memset(r2t, 0, sizeof(*r2t));
		r2t->ch.pdu_type = NVME_TCP_PDU_R2T;
		r2t->ch.flags = tq->hdgst ? NVME_TCP_FLAG_HDGSTF : 0;
		r2t->ch.hlen = sizeof(*r2t);
		r2t->ch.plen = sizeof(*r2t) + (tq->hdgst ? NVME_TCP_DIGEST_LEN : 0);
		r2t->cccid = cb->cid;
		r2t->ttag = ttag;
		r2t->r2to = slot->next_offset;
		r2t->r2tl = len;
		slot->item = (struct tcp_tx_item){
			.kind = ITEM_FIXED,
			.hdr = slot->hdr,
			.hdr_len = (uint16_t)r2t->ch.plen,
		};
		tcp_queue_data_item_locked(tq, &slot->item);
	}
}

/*
 * Up to the host's MAXR2T; a transfer short of tags (a host with more
 * writes outstanding than the queue holds) waits its turn for them.
 */
void tcp_issue_r2ts_locked(struct tcp_qpair *tq, struct tcp_cmd_buffer *cb)
{
	NVMF_ASSERT_LOCKED(&tq->lock);
	send_r2ts_locked(tq, cb);
	if (r2t_wants_more(tq, cb) && !cb->r2t_waiting) {
		cb->r2t_waiting = true;
		cb->r2t_wait_next = NULL;
		*tq->r2t_wait_tail = cb;
		tq->r2t_wait_tail = &cb->r2t_wait_next;
	}
}

/* A tag came free: the oldest waiting transfers get theirs first. */
void tcp_serve_r2t_waiters_locked(struct tcp_qpair *tq)
{
	struct tcp_cmd_buffer *cb;

	NVMF_ASSERT_LOCKED(&tq->lock);
	while ((cb = tq->r2t_wait_head) != NULL && tq->ttag_free != TTAG_NONE) {
		send_r2ts_locked(tq, cb);
		if (r2t_wants_more(tq, cb) && tq->ttag_free == TTAG_NONE)
			return;
		tq->r2t_wait_head = cb->r2t_wait_next;
		if (tq->r2t_wait_head == NULL)
			tq->r2t_wait_tail = &tq->r2t_wait_head;
		cb->r2t_waiting = false;
	}
}

/* ------------------------------------------------------------------ */
/* Transmit batches                                                    */
/* ------------------------------------------------------------------ */

/* The data digest of a PDU about to be sent: often data no one has read lately. */
static uint32_t iovecs_crc(const struct iovec *v, int n)
{
	uint32_t crc = NVMF_CRC32C_INIT;

	for (int i = 0; i < n; i++)
		crc = nvmf_crc32c_update_cold(crc, v[i].iov_base, v[i].iov_len);
	return nvmf_crc32c_final(crc);
}

static uint32_t align_up(uint32_t v, uint32_t a)
{
	return (v + a - 1) / a * a;
}

/* Header of a capsule PDU, with in-capsule data padded to the peer's CPDA. */
static void build_capsule_pdu(struct tcp_qpair *tq, struct tcp_capsule *tc, size_t icd_len)
{
	struct tcp_tx_item *item = &tc->item;
	struct nvme_tcp_common_hdr *ch = (struct nvme_tcp_common_hdr *)tc->hdr;
	uint32_t hd = tq->hdgst ? NVME_TCP_DIGEST_LEN : 0;
	uint32_t hlen, hdr_len;

	if (tc->nc.is_response) {
		struct nvme_tcp_rsp *rsp = (struct nvme_tcp_rsp *)tc->hdr;

		hlen = sizeof(*rsp);
		rsp->cqe = tc->nc.cqe;
	} else {
		struct nvme_tcp_cmd *cmd = (struct nvme_tcp_cmd *)tc->hdr;

		hlen = sizeof(*cmd);
		cmd->sqe = tc->nc.sqe;
	}
	ch->pdu_type = tc->nc.is_response ? NVME_TCP_PDU_CAPSULE_RESP : NVME_TCP_PDU_CAPSULE_CMD;
	ch->flags = hd != 0 ? NVME_TCP_FLAG_HDGSTF : 0;
	ch->hlen = (uint8_t)hlen;
	hdr_len = hlen + hd;
	if (icd_len > 0) {
		hdr_len = align_up(hdr_len, tq->txpda);
		memset(tc->hdr + hlen + hd, 0, hdr_len - hlen - hd);
		ch->pdo = (uint8_t)hdr_len;
		if (tq->ddgst)
			ch->flags |= NVME_TCP_FLAG_DDGSTF;
	} else {
		ch->pdo = 0;
	}
	ch->plen = (uint32_t)(hdr_len + icd_len + (icd_len > 0 && tq->ddgst ? NVME_TCP_DIGEST_LEN : 0));
	*item = (struct tcp_tx_item){
		.kind = ITEM_FIXED,
		.done = DONE_CAPSULE,
		.hdr = tc->hdr,
		.hdr_len = (uint16_t)hdr_len,
		.tc = tc,
	};
	if (icd_len > 0)
		item->data = tcp_slice_of(&tc->nc.data, 0, icd_len);
}

/* Room left in a batch for one more PDU with a payload of iovcnt pieces. */
static bool batch_has_room(const struct tcp_tx_batch *b, int iovcnt)
{
	return b->npdus < TCP_TX_PDUS && b->iovcnt + iovcnt + 2 <= TCP_TX_IOVS &&
	       b->bytes < TCP_TX_BATCH_BYTES;
}

/*
 * Append one PDU to the batch: its header, len bytes of the item's payload
 * and room for the data digest.  Digests are computed later, unlocked.
 */
static bool batch_add_pdu(struct tcp_qpair *tq, struct tcp_tx_batch *b, uint8_t *hdr,
			  uint32_t hdr_len, bool hdgst, struct tcp_slice *data, size_t len)
{
	int pdu = b->npdus;
	int n;

	if (!batch_has_room(b, 0))
		return false;
	n = tcp_slice_iovecs(data, len, &b->iov[b->iovcnt + 1], TCP_TX_IOVS - b->iovcnt - 2);
	if (n < 0)
		return false;
	b->iov[b->iovcnt].iov_base = hdr;
	b->iov[b->iovcnt].iov_len = hdr_len;
	b->pdus[pdu].hdr = hdgst ? hdr : NULL;
	b->pdus[pdu].hlen = ((struct nvme_tcp_common_hdr *)hdr)->hlen;
	b->pdus[pdu].data_iov = b->iovcnt + 1;
	b->pdus[pdu].data_iovcnt = n;
	b->pdus[pdu].ddgst = NULL;
	b->iovcnt += 1 + n;
	b->bytes += hdr_len + len;
	if (len > 0 && tq->ddgst) {
		b->pdus[pdu].ddgst = &b->ddgst[pdu];
		b->iov[b->iovcnt].iov_base = &b->ddgst[pdu];
		b->iov[b->iovcnt].iov_len = NVME_TCP_DIGEST_LEN;
		b->iovcnt++;
		b->bytes += NVME_TCP_DIGEST_LEN;
	}
	tcp_slice_advance(data, len);
	b->npdus++;
	return true;
}

/* Generate the next PDU of a data run into the batch. */
static bool batch_add_run_pdu(struct tcp_qpair *tq, struct tcp_tx_batch *b,
			      struct tcp_tx_item *item)
{
	const uint32_t hd = tq->hdgst ? NVME_TCP_DIGEST_LEN : 0;
	const uint32_t hlen = sizeof(struct nvme_tcp_h2c_data_hdr);
	const uint32_t hdr_len = align_up(hlen + hd, tq->txpda);
	size_t len = item->data.len < item->max_pdu ? item->data.len : item->max_pdu;
	bool final = len == item->data.len;
	uint8_t *hdr = b->hdrs[b->npdus];
	struct nvme_tcp_h2c_data_hdr *h = (struct nvme_tcp_h2c_data_hdr *)hdr;

	if (b->npdus >= TCP_TX_PDUS)
		return false;
	/* H2CData and C2HData share the layout; C2HData's TTAG is reserved. */
	memset(hdr, 0, hdr_len);
	h->ch.pdu_type = item->kind == ITEM_H2C ? NVME_TCP_PDU_H2C_DATA : NVME_TCP_PDU_C2H_DATA;
	h->ch.flags = (uint8_t)((hd ? NVME_TCP_FLAG_HDGSTF : 0) |
				(tq->ddgst ? NVME_TCP_FLAG_DDGSTF : 0));
	if (final && item->last)
		h->ch.flags |= NVME_TCP_FLAG_LAST_PDU;
	if (final && item->success)
		h->ch.flags |= NVME_TCP_FLAG_SUCCESS;
	h->ch.hlen = (uint8_t)hlen;
	h->ch.pdo = (uint8_t)hdr_len;
	h->ch.plen = (uint32_t)(hdr_len + len + (tq->ddgst ? NVME_TCP_DIGEST_LEN : 0));
	h->cccid = item->cid;
	h->ttag = item->kind == ITEM_H2C ? item->ttag : 0;
	h->datao = item->datao;
	h->datal = (uint32_t)len;
	if (!batch_add_pdu(tq, b, hdr, hdr_len, hd != 0, &item->data, len))
		return false;
	item->datao += (uint32_t)len;
	return true;
}

/*
 * Move queued work into the batch: data items first, capsules only once the
 * data queue is empty (a response must not overtake its C2HData).  After a
 * TermReq is queued, only the TermReq goes out.
 */
static void batch_fill_locked(struct tcp_qpair *tq, struct tcp_tx_batch *b)
{
	struct tcp_tx_item *item;

	NVMF_ASSERT_LOCKED(&tq->lock);
	while ((item = tq->data_head) != NULL) {
		/* Left queued, released when the qpair is freed. */
		if (tq->term_queued && item->done != DONE_TERM)
			return;
		if (item->kind == ITEM_FIXED) {
			if (!batch_add_pdu(tq, b, item->hdr, item->hdr_len,
					   tq->hdgst && nvmf_tcp_pdu_has_hdgst(item->hdr[0]),
					   &item->data, item->data.len))
				return;
		} else {
			do {
				if (!batch_add_run_pdu(tq, b, item))
					return;
			} while (item->data.len > 0);
		}
		tq->data_head = item->next;
		if (tq->data_head == NULL)
			tq->data_tail = &tq->data_head;
		b->finished[b->nfinished++] = item;
		if (item->done == DONE_TERM)
			return;
	}
	if (tq->term_queued)
		return;
	while ((item = tq->cap_head) != NULL) {
		if (!batch_add_pdu(tq, b, item->hdr, item->hdr_len, tq->hdgst, &item->data,
				   item->data.len))
			return;
		tq->cap_head = item->next;
		if (tq->cap_head == NULL)
			tq->cap_tail = &tq->cap_head;
		b->finished[b->nfinished++] = item;
	}
}

static void batch_digests(struct tcp_tx_batch *b)
{
	for (int i = 0; i < b->npdus; i++) {
		if (b->pdus[i].hdr != NULL) {
			uint32_t crc = nvmf_crc32c(b->pdus[i].hdr, b->pdus[i].hlen);

			memcpy(b->pdus[i].hdr + b->pdus[i].hlen, &crc, sizeof(crc));
		}
		if (b->pdus[i].ddgst != NULL)
			*b->pdus[i].ddgst = iovecs_crc(&b->iov[b->pdus[i].data_iov],
						       b->pdus[i].data_iovcnt);
	}
}

/*
 * Run what the last PDU of each of these items completes.  Callbacks first,
 * unlocked (the caller's buffers are free now), then every release under one
 * hold of the lock, then the transfers that completed with it.
 */
void tcp_items_finished(struct tcp_qpair *tq, struct tcp_tx_item *const *items, int n, int error)
{
	struct tcp_cmd_buffer *complete[TCP_TX_PDUS];
	struct tcp_tx_item *unpooled[TCP_TX_PDUS];
	int ncomplete = 0, nunpooled = 0;
	bool last = false;

	for (int i = 0; i < n; i++) {
		const struct tcp_tx_item *item = items[i];
		const struct tcp_capsule *tc = item->tc;

		if (item->kind == ITEM_C2H && item->io_cb != NULL)
			item->io_cb(item->io_cb_arg, item->io_len, error);
		/* In-capsule data is out of the caller's buffer now. */
		else if (item->done == DONE_CAPSULE && !tc->nc.is_response &&
			 tc->nc.sqe.sgl1.type == NVME_SGL_ID_ICD && tc->nc.has_data &&
			 tc->nc.data_cb != NULL)
			tc->nc.data_cb(tc->nc.data_cb_arg, tc->nc.data.len, error);
		else if (item->done == DONE_TERM)
			shutdown(tq->conn.fd, SHUT_WR); /* the peer reads it, then our FIN */
	}

	nvmf_mutex_lock(&tq->lock);
	for (int i = 0; i < n; i++) {
		struct tcp_tx_item *item = items[i];
		struct tcp_cmd_buffer *cb;

		switch (item->kind) {
		case ITEM_FIXED:
			if (item->done == DONE_CAPSULE) {
				last |= tcp_capsule_put_locked(tq, item->tc);
			} else if (item->done == DONE_TERM) {
				tq->term_sent = true;
				pthread_cond_broadcast(&tq->cond);
			}
			break;
		case ITEM_H2C:
			cb = item->cb;
			item->cb = NULL; /* the run slot is free again */
			cb->r2ts_outstanding--;
			if (error != 0 && cb->error == 0)
				cb->error = error;
			if (tcp_cb_put_locked(cb))
				complete[ncomplete++] = cb;
			break;
		case ITEM_C2H:
			if (item->pooled) {
				item->next = tq->free_c2h;
				tq->free_c2h = item;
			} else {
				unpooled[nunpooled++] = item;
			}
			break;
		}
	}
	nvmf_mutex_unlock(&tq->lock);

	for (int i = 0; i < nunpooled; i++)
		free(unpooled[i]);
	for (int i = 0; i < ncomplete; i++)
		tcp_cb_complete(tq, complete[i]);
	if (last)
		tcp_qpair_release(tq);
}

void tcp_batch_finish(struct tcp_qpair *tq, struct tcp_tx_batch *b, int error)
{
	tcp_items_finished(tq, b->finished, b->nfinished, error);
	b->iovcnt = 0;
	b->iov_pos = 0;
	b->bytes = 0;
	b->npdus = 0;
	b->nfinished = 0;
}

/*
 * The socket, plain or through TLS: like sendmsg, -1 with errno.
 * A TLS session keeps a record it encrypted but could not write and wants
 * the same bytes first next time, which is what batch_send retries with.
 */
static ssize_t sock_sendv(struct tcp_qpair *tq, const struct iovec *iov, int iovcnt, bool block)
{
	struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};

	if (tq->cfg.tls != NULL)
		return nvmf_tls_sendv(tq->cfg.tls, iov, iovcnt, block);
	return sendmsg(tq->conn.fd, &msg, MSG_NOSIGNAL | (block ? 0 : MSG_DONTWAIT));
}

/* Send what is left of the batch; 1 when all sent, 0 would block, -errno. */
static int batch_send(struct tcp_qpair *tq, struct tcp_tx_batch *b, bool block)
{
	while (b->iov_pos < b->iovcnt) {
		ssize_t n = sock_sendv(tq, &b->iov[b->iov_pos], b->iovcnt - b->iov_pos, block);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		while (n > 0) {
			struct iovec *v = &b->iov[b->iov_pos];

			if ((size_t)n >= v->iov_len) {
				n -= (ssize_t)v->iov_len;
				b->iov_pos++;
			} else {
				v->iov_base = (uint8_t *)v->iov_base + n;
				v->iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	return 1;
}

int tcp_tx(struct nvmf_engine_conn *conn, bool block)
{
	struct tcp_qpair *tq = (struct tcp_qpair *)((uint8_t *)conn - offsetof(struct tcp_qpair, conn));
	struct tcp_tx_batch *b = &tq->batch;
	int sent;

	conn->tx_blocked = false;
	for (;;) {
		if (!tq->batch_pending) {
			nvmf_mutex_lock(&tq->lock);
			batch_fill_locked(tq, b);
			if (b->npdus == 0 && b->nfinished == 0) {
				tq->tx_busy = false;
				pthread_cond_broadcast(&tq->cond);
				nvmf_mutex_unlock(&tq->lock);
				return NVMF_CONN_IDLE;
			}
			tq->tx_busy = true;
			nvmf_mutex_unlock(&tq->lock);
			batch_digests(b);
			tq->batch_pending = true;
		}
		sent = batch_send(tq, b, block);
		if (sent == 0) {
			conn->tx_blocked = true;
			return NVMF_CONN_IDLE;
		}
		tq->batch_pending = false;
		if (sent < 0) {
			NVMF_WARN("nvme-tcp: send failed: %s", strerror(-sent));
			tcp_batch_finish(tq, b, ECONNABORTED);
			nvmf_mutex_lock(&tq->lock);
			if (tq->error == 0)
				tq->error = -sent;
			tq->tx_busy = false;
			pthread_cond_broadcast(&tq->cond);
			nvmf_mutex_unlock(&tq->lock);
			return NVMF_CONN_DONE;
		}
		tcp_batch_finish(tq, b, 0);
	}
}

/* ------------------------------------------------------------------ */
/* Capsule transmission and controller data                            */
/* ------------------------------------------------------------------ */

static void cb_init(struct tcp_cmd_buffer *cb, struct tcp_capsule *tc, uint16_t cid, bool send,
		    const struct nvmf_iov *data, uint32_t data_offset,
		    nvmf_io_complete_cb *io_cb, void *io_cb_arg)
{
	cb->tc = tc;
	cb->cid = cid;
	cb->send = send;
	cb->registered = false;
	cb->active = true;
	cb->data = *data;
	cb->data_offset = data_offset;
	cb->data_len = (uint32_t)data->len;
	cb->data_xfered = 0;
	cb->r2t_end = 0;
	cb->r2t_requested = 0;
	cb->r2t_waiting = false;
	cb->r2ts_outstanding = 0;
	cb->error = 0;
	cb->refs = 1;
	cb->cb = io_cb;
	cb->cb_arg = io_cb_arg;
	tc->refs++; /* the capsule outlives its transfer */
}

static void cb_register_locked(struct tcp_qpair *tq, struct tcp_cmd_buffer *cb)
{
	uint32_t b = tcp_cid_bucket(tq, cb->cid);

	NVMF_ASSERT_LOCKED(&tq->lock);
	cb->hash_next = tq->cid_hash[b];
	tq->cid_hash[b] = cb;
	cb->registered = true;
}

int tcp_capsule_transmit(struct nvmf_capsule *nc)
{
	struct tcp_qpair *tq = TQP(nc->qp);
	struct tcp_capsule *tc = TCAP(nc);
	size_t icd_len = 0;
	int error = 0;

	if (!nc->is_response) {
		struct nvme_sgl_desc *sgl = &nc->sqe.sgl1;
		uint32_t icd_max = tq->qp.admin || nc->sqe.opc == NVME_ADMIN_FABRICS
					   ? TCP_ADMIN_MAX_ICD
					   : tq->cfg.max_icd;

		memset(sgl, 0, sizeof(*sgl));
		sgl->type = NVME_SGL_ID_TRANSPORT;
		if (nc->has_data) {
			if (nc->data.iovcnt > TCP_MAX_DATA_IOVCNT || nc->data.len > UINT32_MAX ||
			    nc->data.len > tq->cfg.max_io_size ||
			    tcp_iov_total(nc->data.iov, nc->data.iovcnt) < nc->data.len)
				return EINVAL;
			sgl->length = (uint32_t)nc->data.len;
			if (nc->data_send && nc->data.len <= icd_max && nc->data.len > 0) {
				sgl->type = NVME_SGL_ID_ICD;
				icd_len = nc->data.len;
			}
		}
	}

	nvmf_mutex_lock(&tq->lock);
	if (tq->state != QP_ESTABLISHED || tq->freeing) {
		error = tq->state == QP_AWAIT_IC ? ENOTCONN : ECONNABORTED;
		goto out;
	}
	if (!nc->is_response && nc->has_data && nc->data.len == 0 && nc->data_cb != NULL) {
		/* Nothing to move: complete now, before the response can come. */
		nvmf_mutex_unlock(&tq->lock);
		nc->data_cb(nc->data_cb_arg, 0, 0);
		nvmf_mutex_lock(&tq->lock);
	}
	if (!nc->is_response && nc->has_data && icd_len == 0 && nc->data.len > 0) {
		/* Registered before the command can reach the wire. */
		if (tcp_cb_lookup_locked(tq, nc->sqe.cid) != NULL) {
			error = EEXIST;
			goto out;
		}
		cb_init(&tc->cb, tc, nc->sqe.cid, nc->data_send, &nc->data, 0, nc->data_cb,
			nc->data_cb_arg);
		cb_register_locked(tq, &tc->cb);
	}
	build_capsule_pdu(tq, tc, icd_len);
	tc->refs++;
	queue_capsule_locked(tq, tc);
out:
	nvmf_mutex_unlock(&tq->lock);
	return error;
}

int tcp_capsule_respond(struct nvmf_qpair *qp, const struct nvme_cqe *cqe)
{
	struct tcp_qpair *tq = TQP(qp);
	struct tcp_capsule *tc;
	int error = 0;

	nvmf_mutex_lock(&tq->lock);
	if (tq->state != QP_ESTABLISHED || tq->freeing) {
		error = ECONNABORTED;
		goto out;
	}
	/* Its one reference is the transmit queue's. */
	tc = tcp_capsule_get_locked(tq, false);
	if (tc == NULL) {
		error = ENOBUFS;
		goto out;
	}
	tc->nc.is_response = true;
	tc->nc.cqe = *cqe;
	build_capsule_pdu(tq, tc, 0);
	queue_capsule_locked(tq, tc);
out:
	nvmf_mutex_unlock(&tq->lock);
	return error;
}

int tcp_receive_controller_data(struct nvmf_capsule *nc, uint32_t data_offset,
				const struct nvmf_iov *data, nvmf_io_complete_cb *cb, void *cb_arg)
{
	struct tcp_qpair *tq = TQP(nc->qp);
	struct tcp_capsule *tc = TCAP(nc);
	size_t len = data->len;
	int error = 0;

	if (data_offset > nc->sqe.sgl1.length || len > nc->sqe.sgl1.length - data_offset ||
	    data->iovcnt > TCP_MAX_DATA_IOVCNT || tcp_iov_total(data->iov, data->iovcnt) < len)
		return EFBIG;
	if (nc->sqe.sgl1.type == NVME_SGL_ID_ICD) {
		struct tcp_slice dst = tcp_slice_of(data, 0, len);

		if (data_offset + len > tc->icd_len)
			return EFBIG;
		tcp_slice_copy_in(&dst, tc->icd + data_offset, len, NULL);
		cb(cb_arg, len, 0);
		return 0;
	}
	if (len == 0) {
		cb(cb_arg, 0, 0);
		return 0;
	}
	nvmf_mutex_lock(&tq->lock);
	if (tq->state != QP_ESTABLISHED || tq->freeing) {
		error = ECONNABORTED;
	} else if (tc->cb.active) {
		error = EBUSY;
	} else {
		cb_init(&tc->cb, tc, nc->sqe.cid, true, data, data_offset, cb, cb_arg);
		tcp_issue_r2ts_locked(tq, &tc->cb);
	}
	nvmf_mutex_unlock(&tq->lock);
	return error;
}

uint16_t tcp_send_controller_data(struct nvmf_capsule *nc, uint32_t data_offset,
				  const struct nvmf_iov *data, bool success_status,
				  nvmf_io_complete_cb *cb, void *cb_arg)
{
	struct tcp_qpair *tq = TQP(nc->qp);
	const uint32_t total = nc->sqe.sgl1.length;
	size_t len = data->len;
	bool last, success, pooled;
	struct tcp_tx_item *item;

	if (nc->sqe.sgl1.type != NVME_SGL_ID_TRANSPORT || data_offset > total ||
	    len > total - data_offset || len == 0 || data->iovcnt > TCP_MAX_DATA_IOVCNT ||
	    tcp_iov_total(data->iov, data->iovcnt) < len)
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	last = data_offset + len == total;
	/* SUCCESS stands in for the CQE only without SQ flow control (§3.6.2.7). */
	success = last && success_status && !tq->qp.sq_flow_control;

	nvmf_mutex_lock(&tq->lock);
	if (tq->state != QP_ESTABLISHED || tq->freeing) {
		nvmf_mutex_unlock(&tq->lock);
		return NVME_STATUS(NVME_SCT_PATH, NVME_SC_INTERNAL_PATH_ERROR);
	}
	item = tq->free_c2h;
	if (item != NULL) {
		tq->free_c2h = item->next;
	} else {
		/* More sends in flight than commands: rare, so no pool growth. */
		item = calloc(1, sizeof(*item));
		if (item == NULL) {
			nvmf_mutex_unlock(&tq->lock);
			return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
		}
	}
	pooled = item->pooled;
	*item = (struct tcp_tx_item){
		.kind = ITEM_C2H,
		.data = tcp_slice_of(data, 0, len),
		.cid = nc->sqe.cid,
		.datao = data_offset,
		.max_pdu = tq->cfg.max_c2h_data,
		.last = last,
		.success = success,
		.io_cb = cb,
		.io_cb_arg = cb_arg,
		.io_len = len,
		.pooled = pooled,
	};
	tcp_queue_data_item_locked(tq, item);
	nvmf_mutex_unlock(&tq->lock);
	return success ? NVMF_SUCCESS_SENT : 0;
}
