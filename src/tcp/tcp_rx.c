/* SPDX-License-Identifier: MIT */
/*
 * The NVMe/TCP receive path.  tcp_rx reads what the socket has into a ring,
 * or a large payload straight into place; each PDU's common header passes
 * the shared validator (pdu.c) before anything else is read, then its
 * handler checks the rest against the connection's state and names where
 * the payload goes; the PDU's end (data digest checked) completes what it
 * carried.
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

/* The socket, plain or through TLS: like recvmsg, -1 with errno. */
static ssize_t sock_recvv(struct tcp_qpair *tq, const struct iovec *iov, int iovcnt, bool block)
{
	struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};

	if (tq->cfg.tls != NULL)
		return nvmf_tls_recvv(tq->cfg.tls, iov, iovcnt, block);
	return recvmsg(tq->conn.fd, &msg, block ? 0 : MSG_DONTWAIT);
}

/* ------------------------------------------------------------------ */
/* Receive: PDU handlers                                               */
/* ------------------------------------------------------------------ */

static void rx_set_target(struct tcp_rx *rx, enum tcp_rx_target target, struct tcp_slice dst)
{
	rx->target = target;
	rx->dst = dst;
}

static bool handle_term_req(struct tcp_qpair *tq, const struct nvme_tcp_term_req_hdr *term)
{
	NVMF_ERR("nvme-tcp: peer terminated the connection: FES %#x (%s), FEI %u", term->fes,
		 nvmf_tcp_fes_name(term->fes), term->fei);
	/* Tear down at once; nothing more is sent (NVMe-oF 1.1 §7.4.7). */
	tq->rx.phase = RX_DRAIN;
	shutdown(tq->conn.fd, SHUT_RDWR);
	/* A refused parameter (e.g. digests the peer will not do) is worth naming. */
	tcp_report(tq, term->fes == NVME_TCP_FES_UNSUPPORTED_PARAMETER ? EOPNOTSUPP : ECONNRESET);
	return false;
}

/* Controller: a command capsule; in-capsule data, if any, follows. */
static bool handle_capsule_cmd(struct tcp_qpair *tq, const struct nvme_tcp_cmd *cmd)
{
	struct tcp_rx *rx = &tq->rx;
	struct tcp_capsule *tc;
	uint32_t icd_max = tq->qp.admin ? TCP_ADMIN_MAX_ICD : tq->cfg.max_icd;

	if (cmd->sqe.opc == NVME_ADMIN_FABRICS && icd_max < TCP_ADMIN_MAX_ICD)
		icd_max = TCP_ADMIN_MAX_ICD;
	if (rx->layout.data_len > icd_max) {
		tcp_fatal(tq, NVME_TCP_FES_INVALID_HEADER_FIELD,
			  offsetof(struct nvme_tcp_common_hdr, plen), cmd, sizeof(*cmd));
		return false;
	}
	nvmf_mutex_lock(&tq->lock);
	tc = tcp_capsule_get_locked(tq, true);
	nvmf_mutex_unlock(&tq->lock);
	if (tc == NULL) {
		/* The host has far more commands outstanding than the queue holds. */
		NVMF_ERR("nvme-tcp: host exceeded the queue depth (%u)", tq->qp.qsize);
		tcp_fatal(tq, NVME_TCP_FES_PDU_SEQUENCE_ERROR, 0, cmd, sizeof(*cmd));
		return false;
	}
	tc->nc.is_response = false;
	tc->nc.sqe = cmd->sqe;
	rx->tc = tc;
	rx_set_target(rx, TARGET_ICD, (struct tcp_slice){0});
	if (rx->layout.data_len > 0) {
		if (tc->icd == NULL) {
			/* Allocated once per pool entry, on first use. */
			tc->icd = malloc(TCP_ADMIN_MAX_ICD > tq->cfg.max_icd ? TCP_ADMIN_MAX_ICD
									      : tq->cfg.max_icd);
			if (tc->icd == NULL) {
				NVMF_ERR("nvme-tcp: out of memory for in-capsule data");
				tcp_capsule_put(tq, tc);
				rx->tc = NULL;
				tcp_fatal(tq, NVME_TCP_FES_PDU_SEQUENCE_ERROR, 0, cmd, sizeof(*cmd));
				return false;
			}
		}
		tc->icd_len = rx->layout.data_len;
		tc->icd_iov = (struct iovec){.iov_base = tc->icd, .iov_len = tc->icd_len};
		rx_set_target(rx, TARGET_ICD,
			      (struct tcp_slice){.iov = &tc->icd_iov, .iovcnt = 1,
						 .len = tc->icd_len});
	}
	return true;
}

/* Host: a response capsule ends the command; purge its transfer state. */
static bool handle_capsule_resp(struct tcp_qpair *tq, const struct nvme_tcp_rsp *rsp)
{
	struct tcp_cmd_buffer *cb;
	struct tcp_capsule *tc;
	bool complete = false;

	nvmf_mutex_lock(&tq->lock);
	cb = tcp_cb_lookup_locked(tq, rsp->cqe.cid);
	if (cb != NULL) {
		tcp_cb_unregister_locked(tq, cb);
		/* A successful read must have delivered all its data. */
		if (!cb->send && cb->data_xfered < cb->data_len && cb->error == 0 &&
		    NVME_CQE_TO_STATUS(rsp->cqe.status) == 0)
			cb->error = ENODATA;
		complete = tcp_cb_put_locked(cb);
	}
	tc = tcp_capsule_get_locked(tq, true);
	nvmf_mutex_unlock(&tq->lock);
	if (complete)
		tcp_cb_complete(tq, cb);
	if (tc == NULL) {
		NVMF_ERR("nvme-tcp: no capsule free for a response: upper layer holds them all");
		tcp_report(tq, ENOBUFS);
		tq->rx.phase = RX_DRAIN;
		return false;
	}
	tc->nc.is_response = true;
	tc->nc.sqhd_valid = tq->qp.sq_flow_control;
	tc->nc.cqe = rsp->cqe;
	if (tq->qp.sq_flow_control && rsp->cqe.sqhd < tq->qp.qsize)
		atomic_store_explicit(&tq->qp.sqhd, rsp->cqe.sqhd, memory_order_relaxed);
	nvmf_qpair_deliver(&tq->qp, &tc->nc);
	return true;
}

/* Host: the SQ head a response would report now: one past the last one
 * reported (both run on the receive path only). */
static uint16_t host_next_sqhd(struct tcp_qpair *tq)
{
	uint16_t head = (uint16_t)((atomic_load_explicit(&tq->qp.sqhd, memory_order_relaxed) + 1) %
				   tq->qp.qsize);

	atomic_store_explicit(&tq->qp.sqhd, head, memory_order_relaxed);
	return head;
}

/* Host: R2T (TCP 1.0a §3.6.2.9): queue H2CData for the range asked for. */
static bool handle_r2t(struct tcp_qpair *tq, const struct nvme_tcp_r2t_hdr *r2t)
{
	struct tcp_cmd_buffer *cb;
	struct tcp_tx_item *item;
	uint16_t fes = 0;
	uint32_t fei = 0;

	nvmf_mutex_lock(&tq->lock);
	cb = tcp_cb_lookup_locked(tq, r2t->cccid);
	if (cb == NULL || !cb->send) {
		fes = NVME_TCP_FES_INVALID_HEADER_FIELD;
		fei = offsetof(struct nvme_tcp_r2t_hdr, cccid);
	} else if (r2t->r2tl == 0) {
		fes = NVME_TCP_FES_INVALID_HEADER_FIELD;
		fei = offsetof(struct nvme_tcp_r2t_hdr, r2tl);
	} else if (r2t->r2to > cb->data_len || r2t->r2tl > cb->data_len - r2t->r2to ||
		   cb->data_xfered + r2t->r2tl > cb->data_len) {
		fes = NVME_TCP_FES_DATA_OUT_OF_RANGE;
	} else if (r2t->r2to < cb->r2t_end) {
		/* R2Ts come in offset order and never ask for data twice (the Linux
		 * host: "unexpected r2t offset"); an overlap would also make the
		 * byte count reach the length with part of the buffer never asked. */
		fes = NVME_TCP_FES_DATA_OUT_OF_RANGE;
	} else if (cb->r2ts_outstanding >= tq->cfg.maxr2t + 1) {
		fes = NVME_TCP_FES_R2T_LIMIT_EXCEEDED;
	}
	if (fes != 0) {
		nvmf_mutex_unlock(&tq->lock);
		tcp_fatal(tq, fes, fei, r2t, sizeof(*r2t));
		return false;
	}
	/* A run slot is free once its last PDU was sent (or it was aborted):
	 * its cb is NULL then, as in a new capsule.  MAXR2T bounds the use. */
	item = &cb->h2c[0];
	while (item->cb != NULL)
		item++;
	*item = (struct tcp_tx_item){
		.kind = ITEM_H2C,
		.data = tcp_slice_of(&cb->data, r2t->r2to, r2t->r2tl),
		.cid = r2t->cccid,
		.ttag = r2t->ttag,
		.datao = r2t->r2to,
		.max_pdu = tq->maxh2cdata,
		.last = true,
		.cb = cb,
	};
	cb->r2ts_outstanding++;
	cb->refs++;
	cb->data_xfered += r2t->r2tl;
	cb->r2t_end = r2t->r2to + r2t->r2tl;
	if (cb->data_xfered == cb->data_len && cb->registered) {
		/* Everything is requested: no further R2T may name this CID.  The
		 * run holds a reference, so this is never the last one. */
		tcp_cb_unregister_locked(tq, cb);
		tcp_cb_put_locked(cb);
	}
	tcp_queue_data_item_locked(tq, item);
	nvmf_mutex_unlock(&tq->lock);
	return true;
}

/* Host: C2HData header (NVMe-oF 1.1 §7.4.5.2 checks, in order). */
static bool handle_c2h_data(struct tcp_qpair *tq, const struct nvme_tcp_c2h_data_hdr *c2h)
{
	struct tcp_cmd_buffer *cb;
	uint16_t fes = 0;
	uint32_t fei = 0;
	bool last = (c2h->ch.flags & NVME_TCP_FLAG_LAST_PDU) != 0;

	nvmf_mutex_lock(&tq->lock);
	cb = tcp_cb_lookup_locked(tq, c2h->cccid);
	if (cb == NULL || cb->send) {
		fes = NVME_TCP_FES_INVALID_HEADER_FIELD;
		fei = offsetof(struct nvme_tcp_c2h_data_hdr, cccid);
	} else if (c2h->datal != tq->rx.layout.data_len) {
		fes = NVME_TCP_FES_INVALID_HEADER_FIELD;
		fei = offsetof(struct nvme_tcp_c2h_data_hdr, datal);
	} else if (c2h->datao > cb->data_len || c2h->datal > cb->data_len - c2h->datao) {
		fes = NVME_TCP_FES_DATA_OUT_OF_RANGE;
	} else if (c2h->datao != cb->data_xfered ||
		   (!last && c2h->datao + c2h->datal == cb->data_len)) {
		/* LAST_PDU may end a transfer short of the buffer: SPDK's target
		 * answers Authentication Receive with the message alone, not the
		 * whole allocation length.  Whether a short transfer is an error
		 * is the command's business (the host's slot_data_done). */
		fes = NVME_TCP_FES_PDU_SEQUENCE_ERROR;
	}
	/*
	 * SUCCESS with SQ flow control on: TCP 1.0a §3.6.2.7 lets a controller
	 * set it only when SQ flow control is disabled, since the CQE it
	 * replaces would carry the SQ head; SPDK 23.01's target sets it anyway
	 * (its c2h_success option, on by default).  The Linux host completes
	 * the command from the flag whatever was negotiated (nvme_tcp_recv_data)
	 * and keeps no SQ head of its own, so this host accepts it too: the
	 * command completes as if its response had come with the next SQ head
	 * (handle_pdu_end).  SUCCESS without LAST_PDU stays an error (the
	 * shared validator, FES 01h FEI 1).
	 */
	if (fes == 0)
		cb->refs++; /* held while the payload lands */
	nvmf_mutex_unlock(&tq->lock);
	if (fes != 0) {
		tcp_fatal(tq, fes, fei, c2h, sizeof(*c2h));
		return false;
	}
	tq->rx.cb = cb;
	rx_set_target(&tq->rx, TARGET_C2H, tcp_slice_of(&cb->data, c2h->datao, c2h->datal));
	return true;
}

/* Controller: H2CData header (TCP 1.0a §3.6.2.8 checks, in order). */
static bool handle_h2c_data(struct tcp_qpair *tq, const struct nvme_tcp_h2c_data_hdr *h2c)
{
	struct tcp_r2t_slot *slot = NULL;
	uint16_t fes = 0;
	uint32_t fei = 0;
	bool last = (h2c->ch.flags & NVME_TCP_FLAG_LAST_PDU) != 0;

	nvmf_mutex_lock(&tq->lock);
	if (h2c->ttag < tq->nttags && tq->ttags[h2c->ttag].cb != NULL)
		slot = &tq->ttags[h2c->ttag];
	if (slot == NULL) {
		fes = NVME_TCP_FES_INVALID_HEADER_FIELD;
		fei = offsetof(struct nvme_tcp_h2c_data_hdr, ttag);
	} else if (slot->cb->cid != h2c->cccid) {
		fes = NVME_TCP_FES_INVALID_HEADER_FIELD;
		fei = offsetof(struct nvme_tcp_h2c_data_hdr, cccid);
	} else if (h2c->datal != tq->rx.layout.data_len) {
		fes = NVME_TCP_FES_INVALID_HEADER_FIELD;
		fei = offsetof(struct nvme_tcp_h2c_data_hdr, datal);
	} else if (h2c->datal > tq->maxh2cdata) {
		fes = NVME_TCP_FES_R2T_LIMIT_EXCEEDED;
	} else if (h2c->datao < slot->start || h2c->datao > slot->end ||
		   h2c->datal > slot->end - h2c->datao) {
		fes = NVME_TCP_FES_DATA_OUT_OF_RANGE;
	} else if (h2c->datao != slot->next_offset || last != (h2c->datao + h2c->datal == slot->end)) {
		fes = NVME_TCP_FES_PDU_SEQUENCE_ERROR;
	}
	if (fes == 0)
		slot->cb->refs++;
	nvmf_mutex_unlock(&tq->lock);
	if (fes != 0) {
		tcp_fatal(tq, fes, fei, h2c, sizeof(*h2c));
		return false;
	}
	tq->rx.cb = slot->cb;
	tq->rx.slot = slot;
	rx_set_target(&tq->rx, TARGET_H2C,
		      tcp_slice_of(&slot->cb->data, h2c->datao - slot->cb->data_offset, h2c->datal));
	return true;
}

/* The header is in; validate the rest of it and route the payload. */
static bool handle_header(struct tcp_qpair *tq)
{
	struct tcp_rx *rx = &tq->rx;
	const struct nvme_tcp_common_hdr *ch = (const struct nvme_tcp_common_hdr *)rx->hdr;

	rx->target = TARGET_NONE;
	rx->tc = NULL;
	rx->cb = NULL;
	rx->slot = NULL;
	if ((ch->flags & NVME_TCP_FLAG_HDGSTF) != 0) {
		uint32_t want = nvmf_crc32c(rx->hdr, ch->hlen), got;

		memcpy(&got, rx->hdr + ch->hlen, sizeof(got));
		if (got != want) {
			/* Fatal: nothing in this header can be trusted (TCP 1.0a §3.6.2.3). */
			tcp_fatal(tq, NVME_TCP_FES_HDGST_ERROR, 0, rx->hdr, ch->hlen);
			return false;
		}
	}
	switch (ch->pdu_type) {
	case NVME_TCP_PDU_ICREQ:
		return tcp_handle_icreq(tq, (const struct nvme_tcp_icreq *)rx->hdr);
	case NVME_TCP_PDU_ICRESP:
		return tcp_handle_icresp(tq, (const struct nvme_tcp_icresp *)rx->hdr);
	case NVME_TCP_PDU_H2C_TERM_REQ:
	case NVME_TCP_PDU_C2H_TERM_REQ:
		/* Keep the copied header with the TermReq for the log. */
		rx_set_target(rx, TARGET_TERM, (struct tcp_slice){0});
		return true;
	case NVME_TCP_PDU_CAPSULE_CMD:
		return handle_capsule_cmd(tq, (const struct nvme_tcp_cmd *)rx->hdr);
	case NVME_TCP_PDU_CAPSULE_RESP:
		return handle_capsule_resp(tq, (const struct nvme_tcp_rsp *)rx->hdr);
	case NVME_TCP_PDU_H2C_DATA:
		return handle_h2c_data(tq, (const struct nvme_tcp_h2c_data_hdr *)rx->hdr);
	case NVME_TCP_PDU_C2H_DATA:
		return handle_c2h_data(tq, (const struct nvme_tcp_c2h_data_hdr *)rx->hdr);
	case NVME_TCP_PDU_R2T:
		return handle_r2t(tq, (const struct nvme_tcp_r2t_hdr *)rx->hdr);
	default:
		return false; /* the validator admits no other type */
	}
}

/* Host: a C2HData PDU is in; SUCCESS stands for the response. */
static bool c2h_data_end(struct tcp_qpair *tq, bool digest_ok)
{
	struct tcp_rx *rx = &tq->rx;
	const struct nvme_tcp_common_hdr *ch = (const struct nvme_tcp_common_hdr *)rx->hdr;
	const struct nvme_tcp_c2h_data_hdr *c2h = (const void *)rx->hdr;
	struct tcp_cmd_buffer *cb = rx->cb;
	bool last = (ch->flags & NVME_TCP_FLAG_LAST_PDU) != 0;
	bool success = (ch->flags & NVME_TCP_FLAG_SUCCESS) != 0;
	struct tcp_capsule *rsp = NULL;
	bool complete = false;

	nvmf_mutex_lock(&tq->lock);
	cb->data_xfered += c2h->datal;
	if (!digest_ok && cb->error == 0) {
		NVMF_WARN("nvme-tcp: data digest error in C2HData (cid %u)", cb->cid);
		cb->error = EBADMSG;
	}
	complete = tcp_cb_put_locked(cb); /* the payload's reference */
	if (last && cb->registered) {
		tcp_cb_unregister_locked(tq, cb);
		complete |= tcp_cb_put_locked(cb);
	}
	if (success)
		rsp = tcp_capsule_get_locked(tq, true);
	nvmf_mutex_unlock(&tq->lock);
	if (complete)
		tcp_cb_complete(tq, cb);
	if (success) {
		if (rsp == NULL) {
			NVMF_ERR("nvme-tcp: no capsule free for a response");
			tcp_report(tq, ENOBUFS);
			rx->phase = RX_DRAIN;
			return false;
		}
		/* SUCCESS stands for a CQE of all zeroes but CID (TCP 1.0a §3.6.2.7)
		 * and, with SQ flow control on, the SQ head one past the last
		 * reported: the controller has consumed this command. */
		rsp->nc.is_response = true;
		rsp->nc.sqhd_valid = tq->qp.sq_flow_control;
		rsp->nc.cqe = (struct nvme_cqe){.cid = c2h->cccid, .sqhd = NVME_SQHD_INVALID,
						.sqid = tq->qp.qid};
		if (tq->qp.sq_flow_control)
			rsp->nc.cqe.sqhd = host_next_sqhd(tq);
		nvmf_qpair_deliver(&tq->qp, &rsp->nc);
	}
	return true;
}

/* Controller: an H2CData PDU is in; at the end of its R2T, ask for more. */
static bool h2c_data_end(struct tcp_qpair *tq, bool digest_ok)
{
	struct tcp_rx *rx = &tq->rx;
	const struct nvme_tcp_h2c_data_hdr *h2c = (const void *)rx->hdr;
	struct tcp_cmd_buffer *cb = rx->cb;
	struct tcp_r2t_slot *slot = rx->slot;
	bool complete = false;

	nvmf_mutex_lock(&tq->lock);
	slot->next_offset += h2c->datal;
	cb->data_xfered += h2c->datal;
	if (!digest_ok && cb->error == 0) {
		NVMF_WARN("nvme-tcp: data digest error in H2CData (cid %u)", cb->cid);
		cb->error = EBADMSG;
	}
	complete = tcp_cb_put_locked(cb); /* the payload's reference */
	if (slot->next_offset == slot->end) {
		tcp_r2t_slot_free_locked(tq, slot);
		cb->r2ts_outstanding--;
		complete |= tcp_cb_put_locked(cb);
		tcp_serve_r2t_waiters_locked(tq);
		if (cb->r2t_requested < cb->data_len)
			tcp_issue_r2ts_locked(tq, cb);
		else if (cb->data_xfered == cb->data_len)
			complete |= tcp_cb_put_locked(cb); /* the transfer's own */
	}
	nvmf_mutex_unlock(&tq->lock);
	if (complete)
		tcp_cb_complete(tq, cb);
	return true;
}

/* The whole PDU is in (payload and data digest checked). */
static bool handle_pdu_end(struct tcp_qpair *tq, bool digest_ok)
{
	struct tcp_rx *rx = &tq->rx;

	if (!digest_ok)
		nvmf_transport_count(&tq->qp, NVMF_XPORT_DIGEST_ERROR);
	switch (rx->target) {
	case TARGET_NONE:
		return true;
	case TARGET_TERM:
		nvmf_transport_count(&tq->qp, NVMF_XPORT_TERMREQ_RECEIVED);
		return handle_term_req(tq, (const struct nvme_tcp_term_req_hdr *)rx->hdr);
	case TARGET_ICD:
		if (!digest_ok) {
			NVMF_WARN("nvme-tcp: data digest error in a command capsule (cid %u)",
				  rx->tc->nc.sqe.cid);
			rx->tc->icd_digest_error = true;
		}
		nvmf_qpair_deliver(&tq->qp, &rx->tc->nc);
		rx->tc = NULL;
		return true;
	case TARGET_C2H:
		return c2h_data_end(tq, digest_ok);
	case TARGET_H2C:
		return h2c_data_end(tq, digest_ok);
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Receive: byte stream                                                */
/* ------------------------------------------------------------------ */

static struct nvmf_tcp_rx_rules rx_rules(const struct tcp_qpair *tq)
{
	return (struct nvmf_tcp_rx_rules){
		.controller = tq->qp.controller,
		.initialized = tq->state != QP_AWAIT_IC,
		.header_digests = tq->hdgst,
		.data_digests = tq->ddgst,
		.rxpda = tq->rxpda,
		.max_icd = tq->cfg.max_icd > TCP_ADMIN_MAX_ICD ? tq->cfg.max_icd : TCP_ADMIN_MAX_ICD,
		.max_data = tq->cfg.max_io_size,
	};
}

/* Payload bytes are in place: fold them into the digest, advance. */
static void rx_data_placed(struct tcp_qpair *tq, const struct iovec *v, int n, size_t len)
{
	struct tcp_rx *rx = &tq->rx;

	if (rx->layout.data_digest)
		for (int i = 0; i < n && len > 0; i++) {
			size_t seg = v[i].iov_len < len ? v[i].iov_len : len;

			rx->crc = nvmf_crc32c_update(rx->crc, v[i].iov_base, seg);
			len -= seg;
		}
}

/* After the payload: the digest, if any, then the PDU is complete. */
static bool rx_after_data(struct tcp_qpair *tq)
{
	struct tcp_rx *rx = &tq->rx;

	if (rx->layout.data_digest) {
		rx->phase = RX_DDGST;
		rx->ddgst_have = 0;
		return true;
	}
	tcp_rx_next_pdu(rx);
	return handle_pdu_end(tq, true);
}

/*
 * Validate the common header at p (avail bytes, a common header at least),
 * once per PDU.  Returns false when the connection must stop receiving.
 */
static bool rx_check_ch(struct tcp_qpair *tq, const uint8_t *p, uint32_t avail)
{
	struct tcp_rx *rx = &tq->rx;
	struct nvme_tcp_common_hdr ch_copy;
	const struct nvme_tcp_common_hdr *ch = &ch_copy;
	struct nvmf_tcp_rx_rules rules;
	uint16_t fes;
	uint32_t fei;

	if (rx->ch_valid)
		return true;
	/* The ring holds PDUs at any byte offset. */
	memcpy(&ch_copy, p, sizeof(ch_copy));
	rules = rx_rules(tq);
	switch (nvmf_tcp_validate_ch(ch, &rules, &rx->layout, &fes, &fei)) {
	case NVMF_TCP_PDU_VALID:
		break;
	case NVMF_TCP_PDU_CLOSE:
		NVMF_ERR("nvme-tcp: malformed termination request, closing");
		rx->phase = RX_DRAIN;
		tcp_report(tq, EPROTO);
		shutdown(tq->conn.fd, SHUT_RDWR);
		return false;
	case NVMF_TCP_PDU_FATAL: {
		/* The TermReq echoes the header (its HLEN, as SPDK does; at least
		 * the common header), never the payload or the next PDU behind it. */
		size_t echo = ch->hlen > sizeof(*ch) ? ch->hlen : sizeof(*ch);

		if (echo > avail)
			echo = avail;
		tcp_fatal(tq, fes, fei, p, echo);
		return false;
	}
	}
	rx->ch_valid = true;
	return true;
}

/*
 * The whole header is at p: take it, let its handler route the payload,
 * then go on to the padding, the payload or (none) the PDU's end.
 */
static bool rx_take_header(struct tcp_qpair *tq, const uint8_t *p)
{
	struct tcp_rx *rx = &tq->rx;

	memcpy(rx->hdr, p, rx->layout.header_len);
	rx->rd += rx->layout.header_len;
	rx->pad_left = rx->layout.pad_len;
	rx->data_left = rx->layout.data_len;
	rx->crc = NVMF_CRC32C_INIT;
	if (rx->data_left > 0)
		rx->large = rx->data_left >= TCP_RX_LARGE;
	if (!handle_header(tq))
		return false;
	if (rx->target == TARGET_TERM) {
		/* The copied header lands behind the TermReq's own. */
		rx->term_iov = (struct iovec){
			.iov_base = rx->hdr + sizeof(struct nvme_tcp_term_req_hdr),
			.iov_len = rx->data_left};
		rx->dst = (struct tcp_slice){.iov = &rx->term_iov, .iovcnt = 1,
					     .len = rx->data_left};
	}
	if (rx->pad_left > 0)
		rx->phase = RX_PAD;
	else if (rx->data_left > 0)
		rx->phase = RX_DATA;
	else {
		tcp_rx_next_pdu(rx);
		return handle_pdu_end(tq, true);
	}
	return true;
}

/*
 * Parse what the ring holds.  Returns false when the connection must stop
 * receiving (fatal error or TermReq).
 */
static bool rx_process(struct tcp_qpair *tq)
{
	struct tcp_rx *rx = &tq->rx;

	for (;;) {
		uint32_t avail = rx->wr - rx->rd;
		uint8_t *p = rx->ring + rx->rd;

		switch (rx->phase) {
		case RX_HEADER:
			if (avail < sizeof(struct nvme_tcp_common_hdr))
				return true;
			if (!rx_check_ch(tq, p, avail))
				return false;
			if (avail < rx->layout.header_len)
				return true;
			if (!rx_take_header(tq, p))
				return false;
			break;
		case RX_PAD: {
			uint32_t n = avail < rx->pad_left ? avail : rx->pad_left;

			if (n == 0)
				return true;
			rx->rd += n;
			rx->pad_left -= n;
			if (rx->pad_left == 0)
				rx->phase = RX_DATA;
			break;
		}
		case RX_DATA: {
			uint32_t n = avail < rx->data_left ? avail : rx->data_left;

			if (n == 0)
				return true;
			tcp_slice_copy_in(&rx->dst, p, n, rx->layout.data_digest ? &rx->crc : NULL);
			rx->rd += n;
			rx->data_left -= n;
			if (rx->data_left == 0 && !rx_after_data(tq))
				return false;
			break;
		}
		case RX_DDGST: {
			uint32_t n = NVME_TCP_DIGEST_LEN - rx->ddgst_have;
			uint32_t got;

			if (n > avail)
				n = avail;
			if (n == 0)
				return true;
			memcpy(rx->ddgst + rx->ddgst_have, p, n);
			rx->rd += n;
			rx->ddgst_have += n;
			if (rx->ddgst_have < NVME_TCP_DIGEST_LEN)
				return true;
			memcpy(&got, rx->ddgst, sizeof(got));
			tcp_rx_next_pdu(rx);
			if (!handle_pdu_end(tq, got == nvmf_crc32c_final(rx->crc)))
				return false;
			break;
		}
		case RX_DRAIN:
			rx->rd = rx->wr;
			return false;
		}
	}
}

/*
 * How much a ring read asks for, from space free bytes.  Behind large
 * payloads only what is due in the ring (the rest of a small payload, its
 * digest) and the next headers: a large payload behind them then goes
 * straight into place with the next read instead of through the ring.
 * Small PDUs keep whole-ring reads: many of them per system call.
 */
static size_t rx_ring_want(const struct tcp_rx *rx, size_t space)
{
	size_t want = TCP_RX_STAGE;

	if (!rx->large)
		return space;
	if (rx->phase == RX_PAD)
		want += (size_t)rx->pad_left + rx->data_left;
	else if (rx->phase == RX_DATA)
		want += rx->data_left;
	return want < space ? want : space;
}

/*
 * Read once from the socket.  A large payload with nothing buffered ahead of
 * it is read straight into its destination, with the ring behind it to catch
 * whatever follows.  *drained tells whether the read came up short, i.e.
 * the socket had nothing more for now.
 */
static ssize_t rx_read(struct tcp_qpair *tq, bool block, bool *drained)
{
	struct tcp_rx *rx = &tq->rx;
	struct iovec v[TCP_MAX_DATA_IOVCNT + 1];
	size_t want;
	ssize_t n;
	int nd = 0;

	if (rx->rd == rx->wr)
		rx->rd = rx->wr = 0;
	if (rx->phase == RX_DATA && rx->rd == rx->wr && rx->data_left >= TCP_RX_DIRECT_MIN)
		nd = tcp_slice_iovecs(&rx->dst, rx->data_left, v, TCP_MAX_DATA_IOVCNT);
	if (nd > 0) {
		v[nd].iov_base = rx->ring;
		v[nd].iov_len = rx->large ? TCP_RX_STAGE : TCP_RX_RING_SIZE;
		do
			n = sock_recvv(tq, v, nd + 1, block);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			return n;
		*drained = (size_t)n < rx->data_left + v[nd].iov_len;
		size_t direct = (size_t)n < rx->data_left ? (size_t)n : rx->data_left;

		rx_data_placed(tq, v, nd, direct);
		tcp_slice_advance(&rx->dst, direct);
		rx->data_left -= (uint32_t)direct;
		rx->wr = (uint32_t)((size_t)n - direct);
		if (rx->data_left == 0 && !rx_after_data(tq))
			return -2;
		return n;
	}
	/* Keep a partial header contiguous. */
	if (TCP_RX_RING_SIZE - rx->wr < TCP_HDR_MAX) {
		memmove(rx->ring, rx->ring + rx->rd, rx->wr - rx->rd);
		rx->wr -= rx->rd;
		rx->rd = 0;
	}
	want = rx_ring_want(rx, TCP_RX_RING_SIZE - rx->wr);
	v[0] = (struct iovec){.iov_base = rx->ring + rx->wr, .iov_len = want};
	do
		n = sock_recvv(tq, v, 1, block);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		*drained = (size_t)n < want;
		rx->wr += (uint32_t)n;
	}
	return n;
}

static bool rx_at_boundary(const struct tcp_rx *rx)
{
	return rx->phase == RX_HEADER && rx->rd == rx->wr;
}

int tcp_rx(struct nvmf_engine_conn *conn, bool block)
{
	struct tcp_qpair *tq = (struct tcp_qpair *)((uint8_t *)conn - offsetof(struct tcp_qpair, conn));
	struct tcp_rx *rx = &tq->rx;
	bool drained = false;
	ssize_t n;

	n = rx_read(tq, block, &drained);
	if (n == -2)
		return NVMF_CONN_PROGRESS; /* a handler ended receiving; see phase */
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return NVMF_CONN_IDLE;
		/* Linux hosts send RST right after FIN: a reset between PDUs is a close. */
		if (errno == ECONNRESET && rx_at_boundary(rx) && tq->state == QP_ESTABLISHED) {
			tcp_report(tq, 0);
			return NVMF_CONN_DONE;
		}
		if (rx->phase != RX_DRAIN)
			NVMF_WARN("nvme-tcp: receive failed: %s", strerror(errno));
		/* A TLS record that fails authentication is the peer's fault. */
		tcp_report(tq, errno == ECONNRESET ? ECONNRESET
			       : errno == EBADMSG || errno == EPROTO ? EPROTO
								  : EIO);
		return NVMF_CONN_DONE;
	}
	if (n == 0) {
		if (rx->phase == RX_DRAIN) {
			tcp_report(tq, EPROTO);
		} else if (rx_at_boundary(rx) && tq->state == QP_ESTABLISHED) {
			tcp_report(tq, 0);
		} else {
			NVMF_WARN("nvme-tcp: peer closed the connection %s",
				  tq->state == QP_AWAIT_IC ? "before initialisation" : "mid-PDU");
			tcp_report(tq, ECONNRESET);
		}
		return NVMF_CONN_DONE;
	}
	if (rx->phase != RX_DRAIN)
		rx_process(tq);
	if (rx->phase == RX_DRAIN)
		rx->rd = rx->wr; /* discard until the peer closes */
	/* Bytes TLS has already decrypted are invisible to poll(2): take them
	 * now (bounded: a session buffers at most a record or so). */
	if (tq->cfg.tls != NULL && rx->phase != RX_DRAIN && nvmf_tls_pending(tq->cfg.tls) > 0)
		return tcp_rx(conn, false);
	return drained ? NVMF_CONN_DRAINED : NVMF_CONN_PROGRESS;
}

void tcp_rx_done(struct nvmf_engine_conn *conn)
{
	struct tcp_qpair *tq = (struct tcp_qpair *)((uint8_t *)conn - offsetof(struct tcp_qpair, conn));

	tcp_report(tq, tq->error != 0 ? tq->error : ECONNRESET);
}

/* ------------------------------------------------------------------ */
/* Controller: received commands                                       */
/* ------------------------------------------------------------------ */

uint16_t tcp_validate_command(const struct nvmf_capsule *nc)
{
	const struct tcp_capsule *tc = (const struct tcp_capsule *)nc;
	const struct tcp_qpair *tq = (const struct tcp_qpair *)nc->qp;
	const struct nvme_sgl_desc *sgl = &nc->sqe.sgl1;

	if ((nc->sqe.flags & NVME_SQE_PSDT_MASK) != NVME_SQE_PSDT_SGL)
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	if (tc->icd_digest_error)
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_TRANSIENT_TRANSPORT_ERROR);
	switch (sgl->type) {
	case NVME_SGL_ID_ICD:
		/* In-capsule data: offset 0, exactly what arrived (TCP 1.0a §3.3.1). */
		if (sgl->address != 0)
			return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_SGL_OFFSET_INVALID);
		if (sgl->length != tc->icd_len)
			return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID);
		return 0;
	default:
		/* No data: Linux sends a zeroed SGL (type 00h) with Property Get/Set. */
		if (sgl->length == 0 && tc->icd_len == 0)
			return 0;
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID);
	case NVME_SGL_ID_TRANSPORT:
		/* Data through R2T/C2H: none may have come in the capsule. */
		if (tc->icd_len != 0)
			return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
		if (sgl->length > tq->cfg.max_io_size)
			return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID);
		return 0;
	}
}

size_t tcp_capsule_data_len(const struct nvmf_capsule *nc)
{
	return nc->sqe.sgl1.length;
}
