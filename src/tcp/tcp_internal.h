/* SPDX-License-Identifier: MIT */
/*
 * Inside the NVMe/TCP queue pair (NVMe/TCP Transport Specification 1.0a):
 * what tcp_qpair.c, tcp_rx.c and tcp_tx.c share.  Only src/tcp includes it.
 *
 * Per queue pair, an engine (src/transport/engine.h) runs tcp_rx, which
 * reads what the socket has and handles each PDU as it completes, and
 * tcp_tx, which turns queued work into PDUs and sends them in batches.
 *
 * Transmit work items sit on two queues: the data queue (R2T, H2CData,
 * C2HData, TermReq, ICReq/ICResp, and a controller's responses) goes out
 * ahead of the capsule queue (a host's commands).  A
 * data item may stand for a run of several data PDUs; their headers are
 * generated as the run is sent.  A batch (up to TCP_TX_PDUS PDUs) is built
 * under the qpair lock, its digests are computed outside it, and it leaves in
 * one sendmsg where the socket allows.
 *
 * Received payloads go straight to their destination: small ones are copied
 * out of the receive ring, large ones are read into place with readv.  Behind
 * a large payload the ring reads only a few hundred bytes (the digest and the
 * next headers), so that the next large payload is read into place too
 * instead of half of it being copied out of the ring.  With
 * TLS the same bytes go through the session (nvmf_tls_recvv/sendv).
 *
 * A command buffer (struct tcp_cmd_buffer) tracks each transfer that does
 * not use in-capsule data.  The host registers it by CID before its command
 * is queued, so a fast R2T or C2HData always finds it; the controller's
 * R2Ts point at it through transfer tags.
 *
 * tcp_qpair.c holds a queue pair's lifetime: creation, the ICReq/ICResp
 * negotiation, fatal errors, teardown, the capsule pool and the ops table.
 * tcp_rx.c holds the receive path, tcp_tx.c the transmit path and the
 * controller's data transfers.  Helpers both paths use on every PDU are
 * static inline here, so that they inline as they did in one file.
 */
#ifndef NVMF_TCP_TCP_INTERNAL_H
#define NVMF_TCP_TCP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "tcp/pdu.h"
#include "tcp/tcp.h"
#include "transport/engine.h"
#include "transport/transport.h"
#include "util/crc32c.h"
#include "util/lock.h"

#define TCP_RX_RING_SIZE (64 * 1024)
#define TCP_RX_DIRECT_MIN 2048     /* payloads this big are read into place */
#define TCP_RX_LARGE (16 * 1024)   /* behind payloads this big, the ring reads ... */
#define TCP_RX_STAGE 256           /* ... this much: a digest and the next headers */
#define TCP_TX_PDUS 64             /* PDUs per transmit batch */
#define TCP_TX_IOVS 512            /* iovecs per transmit batch */
#define TCP_TX_BATCH_BYTES (2u << 20)
#define TCP_HDR_MAX 160            /* CH + PSH + HDGST + PAD, or a TermReq */
#define TCP_MAX_DATA_IOVCNT 64     /* iovecs in one caller buffer */
#define TCP_MAX_R2T 4              /* R2Ts outstanding per command, at most */
#define TCP_ADMIN_MAX_ICD 8192     /* admin and Fabrics commands, any queue */
#define TCP_POOL_SLACK 16          /* capsules beyond the bound below, per direction */
#define TCP_POOL_CHUNK 16          /* capsules allocated at a time, on demand */
#define TCP_FLUSH_TIMEOUT_MS 1000  /* queued PDUs get this long at free */

struct tcp_qpair;
struct tcp_capsule;

/* A contiguous range of a caller's iovec list. */
struct tcp_slice {
	const struct iovec *iov;
	int iovcnt;
	size_t offset;
	size_t len;
};

enum tcp_item_kind {
	ITEM_FIXED,   /* one PDU with a prebuilt header (and maybe data) */
	ITEM_H2C,     /* a run of H2CData PDUs answering one R2T (host) */
	ITEM_C2H,     /* a run of C2HData PDUs (controller) */
};

/* What to do once an item's last PDU has been sent. */
enum tcp_item_done {
	DONE_NOTHING,  /* ICReq/ICResp, R2T; runs are released by their kind */
	DONE_CAPSULE,  /* drop the transmit reference on a capsule */
	DONE_TERM,     /* a TermReq went out: stop sending */
};

struct tcp_tx_item {
	struct tcp_tx_item *next;
	enum tcp_item_kind kind;
	enum tcp_item_done done;
	struct tcp_slice data;       /* payload still to send */
	/* ITEM_FIXED */
	uint16_t hdr_len;
	uint8_t *hdr;                /* TCP_HDR_MAX bytes */
	/* Runs */
	uint16_t cid;
	uint16_t ttag;
	uint32_t datao;              /* DATAO of the next PDU */
	uint32_t max_pdu;            /* payload bytes per PDU */
	bool last;                   /* the final PDU carries LAST_PDU */
	bool success;                /* ... and SUCCESS (C2H) */
	struct tcp_cmd_buffer *cb;   /* ITEM_H2C */
	struct tcp_capsule *tc;      /* DONE_CAPSULE */
	nvmf_io_complete_cb *io_cb;  /* ITEM_C2H: buffer released */
	void *io_cb_arg;
	size_t io_len;
	bool pooled;                 /* ITEM_C2H: from the qpair's pool */
};

/* A transfer that does not use in-capsule data. */
struct tcp_cmd_buffer {
	struct tcp_cmd_buffer *hash_next; /* host: CID hash chain */
	struct tcp_capsule *tc;
	uint16_t cid;
	bool send;                   /* data moves host to controller */
	bool registered;             /* host: in the CID hash */
	bool active;                 /* a transfer is under way */
	struct nvmf_iov data;
	uint32_t data_offset;        /* command data offset of data.iov[0] */
	uint32_t data_len;
	uint32_t data_xfered;        /* received, or (host writes) requested by R2Ts */
	uint32_t r2t_end;            /* host: the end of the furthest R2T so far */
	uint32_t r2t_requested;      /* controller: bytes covered by R2Ts */
	uint32_t r2ts_outstanding;
	struct tcp_cmd_buffer *r2t_wait_next; /* controller: waiting for a tag */
	bool r2t_waiting;
	int error;
	int refs;
	nvmf_io_complete_cb *cb;
	void *cb_arg;
	struct tcp_tx_item h2c[TCP_MAX_R2T]; /* host: one run per R2T */
};

/* Controller: one outstanding R2T, found by its transfer tag. */
struct tcp_r2t_slot {
	struct tcp_cmd_buffer *cb;   /* NULL when free */
	uint32_t start;              /* R2TO */
	uint32_t next_offset;        /* DATAO expected next */
	uint32_t end;                /* R2TO + R2TL */
	uint16_t next_free;
	struct tcp_tx_item item;     /* the R2T PDU */
	_Alignas(8) uint8_t hdr[sizeof(struct nvme_tcp_r2t_hdr) + NVME_TCP_DIGEST_LEN];
};

struct tcp_capsule {
	struct nvmf_capsule nc;
	struct tcp_qpair *tq;
	struct tcp_capsule *next_free;
	bool from_rx_pool;
	int refs;                    /* upper layer + transmit queue */
	struct tcp_tx_item item;
	_Alignas(8) uint8_t hdr[TCP_HDR_MAX];
	uint32_t ddgst;              /* in-capsule data digest, little-endian */
	struct iovec icd_iov;
	struct tcp_cmd_buffer cb;
	/* Controller: received in-capsule data. */
	uint8_t *icd;
	uint32_t icd_len;
	bool icd_digest_error;
};

/* Capsules come in chunks, allocated as the queue gets busy. */
struct tcp_capsule_chunk {
	struct tcp_capsule_chunk *next;
	struct tcp_capsule capsules[TCP_POOL_CHUNK];
};

/* Which part of a PDU the receive ring is expected to hold next. */
enum tcp_rx_phase {
	RX_HEADER,                   /* the common header, then the rest and its digest */
	RX_PAD,                      /* padding up to PDO, skipped */
	RX_DATA,                     /* payload, copied or read to rx.dst */
	RX_DDGST,                    /* the data digest, checked at the PDU's end */
	RX_DRAIN,                    /* after a fatal error: discard until EOF */
};

/* What the payload of the PDU being received belongs to. */
enum tcp_rx_target {
	TARGET_NONE,                 /* ICReq/ICResp, CapsuleResp, R2T: all done at the header */
	TARGET_ICD,                  /* controller: in-capsule data */
	TARGET_C2H,                  /* host: read data */
	TARGET_H2C,                  /* controller: write data for an R2T */
	TARGET_TERM,                 /* the copy of a header in a TermReq */
};

struct tcp_rx {
	uint8_t *ring;
	uint32_t rd, wr;
	enum tcp_rx_phase phase;
	bool ch_valid;               /* the common header at rd passed */
	bool large;                  /* the last payload was large: stage headers only */
	struct nvmf_tcp_pdu_layout layout;
	_Alignas(8) uint8_t hdr[TCP_HDR_MAX];    /* the current PDU's header */
	uint32_t pad_left;
	uint32_t data_left;
	uint32_t crc;
	uint8_t ddgst[NVME_TCP_DIGEST_LEN];
	uint32_t ddgst_have;
	struct tcp_slice dst;        /* destination of the rest of the payload */
	struct iovec term_iov;       /* TARGET_TERM: behind the TermReq header */
	enum tcp_rx_target target;
	struct tcp_capsule *tc;      /* TARGET_ICD */
	struct tcp_cmd_buffer *cb;   /* TARGET_C2H, TARGET_H2C */
	struct tcp_r2t_slot *slot;   /* TARGET_H2C */
};

/* A transmit batch: PDUs gathered for one sendmsg. */
struct tcp_tx_batch {
	struct iovec iov[TCP_TX_IOVS];
	int iovcnt;
	int iov_pos;                 /* first iovec not fully sent */
	size_t bytes;
	_Alignas(8) uint8_t hdrs[TCP_TX_PDUS][NVME_TCP_PDO_MAX]; /* run PDU headers, padded */
	uint32_t ddgst[TCP_TX_PDUS];
	struct {
		uint8_t *hdr;            /* header to digest, or NULL */
		uint32_t hlen;
		uint32_t *ddgst;         /* data digest to compute, or NULL */
		int data_iov;            /* first payload iovec */
		int data_iovcnt;
	} pdus[TCP_TX_PDUS];
	int npdus;
	struct tcp_tx_item *finished[TCP_TX_PDUS]; /* items whose last PDU is here */
	int nfinished;
};

/* A queue pair's life; capsules and data move only while established. */
enum tcp_state {
	QP_AWAIT_IC,                /* before ICReq/ICResp */
	QP_ESTABLISHED,             /* ICReq/ICResp exchanged: capsules and data flow */
	QP_TERMINATING,             /* a TermReq is queued or sent */
	QP_CLOSED,                  /* the end is reported, or the qpair is being freed */
};

struct tcp_qpair {
	struct nvmf_qpair qp;
	struct nvmf_engine_conn conn;
	struct nvmf_tcp_params cfg;
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* state changes; transmit queue drained */
	enum tcp_state state;
	int refs;                    /* 1 + capsules handed out */
	int error;                   /* why the connection ended */
	bool reported;               /* error_cb has run */
	bool quiet;                  /* host before ICResp: errors go to create */
	bool freeing;

	/* Negotiated (fixed once established). */
	bool hdgst;
	bool ddgst;
	uint32_t txpda;              /* bytes we pad data PDUs to */
	uint32_t rxpda;              /* bytes the peer pads data PDUs to */
	uint32_t maxr2t;             /* 0's based, the host's */
	uint32_t maxh2cdata;
	uint32_t r2t_per_cmd;        /* controller: R2Ts we keep outstanding */

	/* Transmit queues (lock). */
	struct tcp_tx_item *data_head, **data_tail;
	struct tcp_tx_item *cap_head, **cap_tail;
	bool term_queued;
	bool term_sent;
	bool tx_busy;                /* tcp_tx is running or has a batch */
	/* Owned by tcp_tx. */
	struct tcp_tx_batch batch;
	bool batch_pending;

	/* Pools (lock). */
	struct tcp_capsule_chunk *chunks;
	unsigned pool_max;           /* capsules per direction, at most */
	unsigned pool_size[2];       /* allocated: [0] transmit, [1] receive */
	struct tcp_capsule *free_rx, *free_tx;
	struct tcp_tx_item *c2h_items;
	struct tcp_tx_item *free_c2h;
	unsigned nc2h_items;

	/* Host: registered command buffers by CID (lock). */
	struct tcp_cmd_buffer **cid_hash;
	uint32_t cid_hash_mask;
	/* Controller: transfer tags (lock). */
	struct tcp_r2t_slot *ttags;
	uint32_t nttags;
	uint16_t ttag_free;
	/* Transfers that want R2Ts while every tag is taken, oldest first. */
	struct tcp_cmd_buffer *r2t_wait_head, **r2t_wait_tail;

	/* Fixed items for the connection's own PDUs. */
	struct tcp_tx_item ic_item;
	_Alignas(8) uint8_t ic_hdr[TCP_HDR_MAX];
	struct tcp_tx_item term_item;
	_Alignas(8) uint8_t term_hdr[TCP_HDR_MAX];

	struct tcp_rx rx;            /* owned by tcp_rx */
};

#define TQP(q) ((struct tcp_qpair *)(q))
#define TCAP(c) ((struct tcp_capsule *)(c))
#define TTAG_NONE 0xffff

/* Kept out of libnvmf.so's symbol table, as when these were static. */
#pragma GCC visibility push(hidden)

/* tcp_qpair.c: state, errors, the pool, negotiation. */
/* The last reference is gone: free everything. */
void tcp_qpair_release(struct tcp_qpair *tq);
void tcp_report(struct tcp_qpair *tq, int error);
void tcp_fatal(struct tcp_qpair *tq, uint16_t fes, uint32_t fei, const void *hdr, size_t hdr_len);
bool tcp_pool_grow_locked(struct tcp_qpair *tq, bool rx);
bool tcp_handle_icreq(struct tcp_qpair *tq, const struct nvme_tcp_icreq *req);
bool tcp_handle_icresp(struct tcp_qpair *tq, const struct nvme_tcp_icresp *rsp);

/* tcp_rx.c */
int tcp_rx(struct nvmf_engine_conn *conn, bool block);
void tcp_rx_done(struct nvmf_engine_conn *conn);
uint16_t tcp_validate_command(const struct nvmf_capsule *nc);
size_t tcp_capsule_data_len(const struct nvmf_capsule *nc);

/* tcp_tx.c */
void tcp_issue_r2ts_locked(struct tcp_qpair *tq, struct tcp_cmd_buffer *cb);
void tcp_serve_r2t_waiters_locked(struct tcp_qpair *tq);
void tcp_items_finished(struct tcp_qpair *tq, struct tcp_tx_item *const *items, int n, int error);
void tcp_batch_finish(struct tcp_qpair *tq, struct tcp_tx_batch *b, int error);
int tcp_tx(struct nvmf_engine_conn *conn, bool block);
int tcp_capsule_transmit(struct nvmf_capsule *nc);
int tcp_capsule_respond(struct nvmf_qpair *qp, const struct nvme_cqe *cqe);
int tcp_receive_controller_data(struct nvmf_capsule *nc, uint32_t data_offset,
				const struct nvmf_iov *data, nvmf_io_complete_cb *cb, void *cb_arg);
uint16_t tcp_send_controller_data(struct nvmf_capsule *nc, uint32_t data_offset,
				  const struct nvmf_iov *data, bool success_status,
				  nvmf_io_complete_cb *cb, void *cb_arg);

#pragma GCC visibility pop

/* ------------------------------------------------------------------ */
/* Slices of caller buffers                                            */
/* ------------------------------------------------------------------ */

static inline size_t tcp_iov_total(const struct iovec *iov, int iovcnt)
{
	size_t total = 0;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	return total;
}

static inline struct tcp_slice tcp_slice_of(const struct nvmf_iov *data, size_t offset, size_t len)
{
	return (struct tcp_slice){.iov = data->iov, .iovcnt = data->iovcnt, .offset = offset,
				  .len = len};
}

/*
 * Fill out[] with iovecs for the first len bytes of a slice; returns the
 * count, or -1 if more than max would be needed.
 */
static inline int tcp_slice_iovecs(const struct tcp_slice *s, size_t len, struct iovec *out,
				   int max)
{
	size_t skip = s->offset;
	int n = 0;

	for (int i = 0; i < s->iovcnt && len > 0; i++) {
		size_t seg = s->iov[i].iov_len;

		if (skip >= seg) {
			skip -= seg;
			continue;
		}
		if (n == max)
			return -1;
		seg -= skip;
		if (seg > len)
			seg = len;
		out[n].iov_base = (uint8_t *)s->iov[i].iov_base + skip;
		out[n].iov_len = seg;
		n++;
		len -= seg;
		skip = 0;
	}
	return n;
}

static inline void tcp_slice_advance(struct tcp_slice *s, size_t len)
{
	s->offset += len;
	s->len -= len;
}

/* Copy into a slice, folding the bytes into a running CRC when asked. */
static inline void tcp_slice_copy_in(struct tcp_slice *s, const uint8_t *src, size_t len,
				     uint32_t *crc)
{
	struct iovec v[TCP_MAX_DATA_IOVCNT];
	int n = tcp_slice_iovecs(s, len, v, TCP_MAX_DATA_IOVCNT);

	for (int i = 0; i < n; i++) {
		memcpy(v[i].iov_base, src, v[i].iov_len);
		/* CRC while the bytes are still in cache. */
		if (crc != NULL)
			*crc = nvmf_crc32c_update(*crc, v[i].iov_base, v[i].iov_len);
		src += v[i].iov_len;
	}
	tcp_slice_advance(s, len);
}

/* ------------------------------------------------------------------ */
/* Capsules and command buffers                                        */
/* ------------------------------------------------------------------ */

static inline struct tcp_capsule *tcp_capsule_get_locked(struct tcp_qpair *tq, bool rx)
{
	struct tcp_capsule **head = rx ? &tq->free_rx : &tq->free_tx;
	struct tcp_capsule *tc = *head;

	NVMF_ASSERT_LOCKED(&tq->lock);
	if (tc == NULL) {
		if (!tcp_pool_grow_locked(tq, rx))
			return NULL;
		tc = *head;
	}
	*head = tc->next_free;
	tc->refs = 1;
	tq->refs++;
	memset(&tc->nc, 0, sizeof(tc->nc));
	tc->nc.qp = &tq->qp;
	tc->icd_len = 0;
	tc->icd_digest_error = false;
	return tc;
}

/* Drops a capsule reference; returns true if the qpair lost its last one. */
static inline bool tcp_capsule_put_locked(struct tcp_qpair *tq, struct tcp_capsule *tc)
{
	NVMF_ASSERT_LOCKED(&tq->lock);
	if (--tc->refs > 0)
		return false;
	if (tc->from_rx_pool) {
		tc->next_free = tq->free_rx;
		tq->free_rx = tc;
	} else {
		tc->next_free = tq->free_tx;
		tq->free_tx = tc;
	}
	return --tq->refs == 0;
}

static inline void tcp_capsule_put(struct tcp_qpair *tq, struct tcp_capsule *tc)
{
	bool last;

	nvmf_mutex_lock(&tq->lock);
	last = tcp_capsule_put_locked(tq, tc);
	nvmf_mutex_unlock(&tq->lock);
	if (last)
		tcp_qpair_release(tq);
}

/* Drops a reference; returns true if the caller must run the completion. */
static inline bool tcp_cb_put_locked(struct tcp_cmd_buffer *cb)
{
	if (--cb->refs > 0)
		return false;
	cb->active = false;
	return true;
}

/* The transfer is over: tell its owner, then let go of the capsule. */
static inline void tcp_cb_complete(struct tcp_qpair *tq, struct tcp_cmd_buffer *cb)
{
	if (cb->cb != NULL)
		cb->cb(cb->cb_arg, cb->data_xfered, cb->error);
	tcp_capsule_put(tq, cb->tc);
}

static inline uint32_t tcp_cid_bucket(const struct tcp_qpair *tq, uint16_t cid)
{
	return (uint32_t)(cid * 0x9e37u) & tq->cid_hash_mask;
}

static inline struct tcp_cmd_buffer *tcp_cb_lookup_locked(struct tcp_qpair *tq, uint16_t cid)
{
	NVMF_ASSERT_LOCKED(&tq->lock);
	for (struct tcp_cmd_buffer *cb = tq->cid_hash[tcp_cid_bucket(tq, cid)]; cb != NULL;
	     cb = cb->hash_next)
		if (cb->cid == cid)
			return cb;
	return NULL;
}

static inline void tcp_cb_unregister_locked(struct tcp_qpair *tq, struct tcp_cmd_buffer *cb)
{
	struct tcp_cmd_buffer **pp = &tq->cid_hash[tcp_cid_bucket(tq, cb->cid)];

	NVMF_ASSERT_LOCKED(&tq->lock);
	while (*pp != cb)
		pp = &(*pp)->hash_next;
	*pp = cb->hash_next;
	cb->registered = false;
}

/* ------------------------------------------------------------------ */
/* Transmit queue, transfer tags, receive state                        */
/* ------------------------------------------------------------------ */

static inline void tcp_queue_data_item_locked(struct tcp_qpair *tq, struct tcp_tx_item *item)
{
	NVMF_ASSERT_LOCKED(&tq->lock);
	item->next = NULL;
	*tq->data_tail = item;
	tq->data_tail = &item->next;
	tq->conn.tx_queued = true;
	tq->conn.engine->ops->kick(&tq->conn);
}

static inline void tcp_r2t_slot_free_locked(struct tcp_qpair *tq, struct tcp_r2t_slot *slot)
{
	NVMF_ASSERT_LOCKED(&tq->lock);
	slot->cb = NULL;
	slot->next_free = tq->ttag_free;
	tq->ttag_free = (uint16_t)(slot - tq->ttags);
}

/* Start of the next PDU. */
static inline void tcp_rx_next_pdu(struct tcp_rx *rx)
{
	rx->phase = RX_HEADER;
	rx->ch_valid = false;
}

#endif
