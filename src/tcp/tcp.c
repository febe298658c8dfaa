/* SPDX-License-Identifier: MIT */
/*
 * The NVMe/TCP transport (NVMe/TCP Transport Specification 1.0a).
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
 * out of the receive ring, large ones are read into place with readv.  With
 * TLS the same bytes go through the session (nvmf_tls_recvv/sendv).
 *
 * A command buffer (struct tcp_cmd_buffer) tracks each transfer that does
 * not use in-capsule data.  The host registers it by CID before its command
 * is queued, so a fast R2T or C2HData always finds it; the controller's
 * R2Ts point at it through transfer tags.
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
#include "tcp/pdu.h"
#include "tcp/tcp.h"
#include "transport/engine.h"
#include "transport/transport.h"
#include "util/clock.h"
#include "util/crc32c.h"
#include "util/lock.h"
#include "util/log.h"

#define TCP_RX_RING_SIZE (64 * 1024)
#define TCP_RX_DIRECT_MIN 2048     /* payloads this big are read into place */
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
	DONE_NOTHING,
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

enum tcp_rx_phase {
	RX_HEADER,
	RX_PAD,
	RX_DATA,
	RX_DDGST,
	RX_DRAIN,                    /* after a fatal error: discard until EOF */
};

/* What the payload of the PDU being received belongs to. */
enum tcp_rx_target {
	TARGET_NONE,
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

enum tcp_state {
	QP_AWAIT_IC,                /* before ICReq/ICResp */
	QP_ESTABLISHED,
	QP_TERMINATING,             /* a TermReq is queued or sent */
	QP_CLOSED,
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

static void tcp_qpair_release(struct tcp_qpair *tq);

/* ------------------------------------------------------------------ */
/* Slices of caller buffers                                            */
/* ------------------------------------------------------------------ */

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t total = 0;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	return total;
}

static struct tcp_slice slice_of(const struct nvmf_iov *data, size_t offset, size_t len)
{
	return (struct tcp_slice){.iov = data->iov, .iovcnt = data->iovcnt, .offset = offset,
				  .len = len};
}

/*
 * Fill out[] with iovecs for the first len bytes of a slice; returns the
 * count, or -1 if more than max would be needed.
 */
static int slice_iovecs(const struct tcp_slice *s, size_t len, struct iovec *out, int max)
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

static void slice_advance(struct tcp_slice *s, size_t len)
{
	s->offset += len;
	s->len -= len;
}

/* Copy into a slice, folding the bytes into a running CRC when asked. */
static void slice_copy_in(struct tcp_slice *s, const uint8_t *src, size_t len, uint32_t *crc)
{
	struct iovec v[TCP_MAX_DATA_IOVCNT];
	int n = slice_iovecs(s, len, v, TCP_MAX_DATA_IOVCNT);

	for (int i = 0; i < n; i++) {
		memcpy(v[i].iov_base, src, v[i].iov_len);
		/* CRC while the bytes are still in cache. */
		if (crc != NULL)
			*crc = nvmf_crc32c_update(*crc, v[i].iov_base, v[i].iov_len);
		src += v[i].iov_len;
	}
	slice_advance(s, len);
}

static uint32_t iovecs_crc(const struct iovec *v, int n)
{
	uint32_t crc = NVMF_CRC32C_INIT;

	for (int i = 0; i < n; i++)
		crc = nvmf_crc32c_update(crc, v[i].iov_base, v[i].iov_len);
	return nvmf_crc32c_final(crc);
}

static uint32_t align_up(uint32_t v, uint32_t a)
{
	return (v + a - 1) / a * a;
}

/* ------------------------------------------------------------------ */
/* Connection state and errors                                         */
/* ------------------------------------------------------------------ */

/* Report the end of the connection to the upper layer, once. */
static void tcp_report(struct tcp_qpair *tq, int error)
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

static void queue_data_item_locked(struct tcp_qpair *tq, struct tcp_tx_item *item)
{
	NVMF_ASSERT_LOCKED(&tq->lock);
	item->next = NULL;
	*tq->data_tail = item;
	tq->data_tail = &item->next;
	tq->conn.tx_queued = true;
	tq->conn.engine->ops->kick(&tq->conn);
}

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
		queue_data_item_locked(tq, &tc->item);
		return;
	}
	tc->item.next = NULL;
	*tq->cap_tail = &tc->item;
	tq->cap_tail = &tc->item.next;
	tq->conn.tx_queued = true;
	tq->conn.engine->ops->kick(&tq->conn);
}

/*
 * A fatal protocol error: queue a TermReq carrying FES, FEI and up to 128
 * bytes of the offending header (TCP 1.0a §3.6.2.4), stop receiving, tell
 * the upper layer.  Nothing else is sent after the TermReq.
 */
static void tcp_fatal(struct tcp_qpair *tq, uint16_t fes, uint32_t fei, const void *hdr,
		      size_t hdr_len)
{
	struct nvme_tcp_term_req_hdr *term = (struct nvme_tcp_term_req_hdr *)tq->term_hdr;
	size_t copy = hdr_len < NVME_TCP_TERM_REQ_MAX_DATA ? hdr_len : NVME_TCP_TERM_REQ_MAX_DATA;

	NVMF_ERR("nvme-tcp: %s: protocol error by the %s: FES %#x (%s), FEI %u; %s",
		 tq->qp.controller ? "controller" : "host", tq->qp.controller ? "host" : "controller",
		 fes, nvmf_tcp_fes_name(fes), fei,
		 tq->cfg.close_on_fatal ? "closing the connection (no TermReq)" : "sending TermReq");
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
static bool pool_grow_locked(struct tcp_qpair *tq, bool rx)
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

static struct tcp_capsule *capsule_get_locked(struct tcp_qpair *tq, bool rx)
{
	struct tcp_capsule **head = rx ? &tq->free_rx : &tq->free_tx;
	struct tcp_capsule *tc = *head;

	NVMF_ASSERT_LOCKED(&tq->lock);
	if (tc == NULL) {
		if (!pool_grow_locked(tq, rx))
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
static bool capsule_put_locked(struct tcp_qpair *tq, struct tcp_capsule *tc)
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

static void capsule_put(struct tcp_qpair *tq, struct tcp_capsule *tc)
{
	bool last;

	nvmf_mutex_lock(&tq->lock);
	last = capsule_put_locked(tq, tc);
	nvmf_mutex_unlock(&tq->lock);
	if (last)
		tcp_qpair_release(tq);
}

static struct nvmf_capsule *tcp_capsule_alloc(struct nvmf_qpair *qp)
{
	struct tcp_qpair *tq = TQP(qp);
	struct tcp_capsule *tc;

	nvmf_mutex_lock(&tq->lock);
	tc = capsule_get_locked(tq, false);
	nvmf_mutex_unlock(&tq->lock);
	if (tc == NULL) {
		errno = ENOBUFS;
		return NULL;
	}
	return &tc->nc;
}

static void tcp_capsule_free(struct nvmf_capsule *nc)
{
	capsule_put(TQP(nc->qp), TCAP(nc));
}

/* ------------------------------------------------------------------ */
/* Command buffers                                                     */
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

/* Drops a reference; returns true if the caller must run the completion. */
static bool cb_put_locked(struct tcp_cmd_buffer *cb)
{
	if (--cb->refs > 0)
		return false;
	cb->active = false;
	return true;
}

/* The transfer is over: tell its owner, then let go of the capsule. */
static void cb_complete(struct tcp_qpair *tq, struct tcp_cmd_buffer *cb)
{
	if (cb->cb != NULL)
		cb->cb(cb->cb_arg, cb->data_xfered, cb->error);
	capsule_put(tq, cb->tc);
}

static uint32_t cid_bucket(const struct tcp_qpair *tq, uint16_t cid)
{
	return (uint32_t)(cid * 0x9e37u) & tq->cid_hash_mask;
}

static void cb_register_locked(struct tcp_qpair *tq, struct tcp_cmd_buffer *cb)
{
	uint32_t b = cid_bucket(tq, cb->cid);

	NVMF_ASSERT_LOCKED(&tq->lock);
	cb->hash_next = tq->cid_hash[b];
	tq->cid_hash[b] = cb;
	cb->registered = true;
}

static struct tcp_cmd_buffer *cb_lookup_locked(struct tcp_qpair *tq, uint16_t cid)
{
	NVMF_ASSERT_LOCKED(&tq->lock);
	for (struct tcp_cmd_buffer *cb = tq->cid_hash[cid_bucket(tq, cid)]; cb != NULL;
	     cb = cb->hash_next)
		if (cb->cid == cid)
			return cb;
	return NULL;
}

static void cb_unregister_locked(struct tcp_qpair *tq, struct tcp_cmd_buffer *cb)
{
	struct tcp_cmd_buffer **pp = &tq->cid_hash[cid_bucket(tq, cb->cid)];

	NVMF_ASSERT_LOCKED(&tq->lock);
	while (*pp != cb)
		pp = &(*pp)->hash_next;
	*pp = cb->hash_next;
	cb->registered = false;
}

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
		queue_data_item_locked(tq, &slot->item);
	}
}

/*
 * Up to the host's MAXR2T; a transfer short of tags (a host with more
 * writes outstanding than the queue holds) waits its turn for them.
 */
static void issue_r2ts_locked(struct tcp_qpair *tq, struct tcp_cmd_buffer *cb)
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
static void serve_r2t_waiters_locked(struct tcp_qpair *tq)
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

static void r2t_slot_free_locked(struct tcp_qpair *tq, struct tcp_r2t_slot *slot)
{
	NVMF_ASSERT_LOCKED(&tq->lock);
	slot->cb = NULL;
	slot->next_free = tq->ttag_free;
	tq->ttag_free = (uint16_t)(slot - tq->ttags);
}

/* ------------------------------------------------------------------ */
/* Transmit                                                            */
/* ------------------------------------------------------------------ */

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
		item->data = slice_of(&tc->nc.data, 0, icd_len);
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
	n = slice_iovecs(data, len, &b->iov[b->iovcnt + 1], TCP_TX_IOVS - b->iovcnt - 2);
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
	slice_advance(data, len);
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
static void items_finished(struct tcp_qpair *tq, struct tcp_tx_item *const *items, int n,
			   int error)
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
				last |= capsule_put_locked(tq, item->tc);
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
			if (cb_put_locked(cb))
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
		cb_complete(tq, complete[i]);
	if (last)
		tcp_qpair_release(tq);
}

static void batch_finish(struct tcp_qpair *tq, struct tcp_tx_batch *b, int error)
{
	items_finished(tq, b->finished, b->nfinished, error);
	b->iovcnt = 0;
	b->iov_pos = 0;
	b->bytes = 0;
	b->npdus = 0;
	b->nfinished = 0;
}

/*
 * The socket, plain or through TLS: like sendmsg/recvmsg, -1 with errno.
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

static ssize_t sock_recvv(struct tcp_qpair *tq, const struct iovec *iov, int iovcnt, bool block)
{
	struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};

	if (tq->cfg.tls != NULL)
		return nvmf_tls_recvv(tq->cfg.tls, iov, iovcnt, block);
	return recvmsg(tq->conn.fd, &msg, block ? 0 : MSG_DONTWAIT);
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

static int tcp_tx(struct nvmf_engine_conn *conn, bool block)
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
			batch_finish(tq, b, ECONNABORTED);
			nvmf_mutex_lock(&tq->lock);
			if (tq->error == 0)
				tq->error = -sent;
			tq->tx_busy = false;
			pthread_cond_broadcast(&tq->cond);
			nvmf_mutex_unlock(&tq->lock);
			return NVMF_CONN_DONE;
		}
		batch_finish(tq, b, 0);
	}
}

/* ------------------------------------------------------------------ */
/* Receive: PDU handlers                                               */
/* ------------------------------------------------------------------ */

static void rx_set_target(struct tcp_rx *rx, enum tcp_rx_target target, struct tcp_slice dst)
{
	rx->target = target;
	rx->dst = dst;
}

/* Controller: ICReq (TCP 1.0a §3.6.2.2); answer with ICResp. */
static bool handle_icreq(struct tcp_qpair *tq, const struct nvme_tcp_icreq *req)
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
		r2t_slot_free_locked(tq, &tq->ttags[i]);

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
	queue_data_item_locked(tq, &tq->ic_item);
	tq->state = QP_ESTABLISHED;
	nvmf_mutex_unlock(&tq->lock);
	NVMF_DEBUG("nvme-tcp: ICReq: hpda %u dgst %#x maxr2t %u", req->hpda, req->dgst,
		   req->maxr2t);
	return true;
}

/* Host: ICResp. */
static bool handle_icresp(struct tcp_qpair *tq, const struct nvme_tcp_icresp *rsp)
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
	tc = capsule_get_locked(tq, true);
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
				capsule_put(tq, tc);
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
	cb = cb_lookup_locked(tq, rsp->cqe.cid);
	if (cb != NULL) {
		cb_unregister_locked(tq, cb);
		/* A successful read must have delivered all its data. */
		if (!cb->send && cb->data_xfered < cb->data_len && cb->error == 0 &&
		    NVME_CQE_TO_STATUS(rsp->cqe.status) == 0)
			cb->error = ENODATA;
		complete = cb_put_locked(cb);
	}
	tc = capsule_get_locked(tq, true);
	nvmf_mutex_unlock(&tq->lock);
	if (complete)
		cb_complete(tq, cb);
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
	cb = cb_lookup_locked(tq, r2t->cccid);
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
		.data = slice_of(&cb->data, r2t->r2to, r2t->r2tl),
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
		cb_unregister_locked(tq, cb);
		cb_put_locked(cb);
	}
	queue_data_item_locked(tq, item);
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
	cb = cb_lookup_locked(tq, c2h->cccid);
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
	rx_set_target(&tq->rx, TARGET_C2H, slice_of(&cb->data, c2h->datao, c2h->datal));
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
		      slice_of(&slot->cb->data, h2c->datao - slot->cb->data_offset, h2c->datal));
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
		return handle_icreq(tq, (const struct nvme_tcp_icreq *)rx->hdr);
	case NVME_TCP_PDU_ICRESP:
		return handle_icresp(tq, (const struct nvme_tcp_icresp *)rx->hdr);
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

/* The whole PDU is in (payload and data digest checked). */
static bool handle_pdu_end(struct tcp_qpair *tq, bool digest_ok)
{
	struct tcp_rx *rx = &tq->rx;
	const struct nvme_tcp_common_hdr *ch = (const struct nvme_tcp_common_hdr *)rx->hdr;
	struct tcp_cmd_buffer *cb = rx->cb;
	bool complete = false;

	switch (rx->target) {
	case TARGET_NONE:
		return true;
	case TARGET_TERM:
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
	case TARGET_C2H: {
		const struct nvme_tcp_c2h_data_hdr *c2h = (const void *)rx->hdr;
		bool last = (ch->flags & NVME_TCP_FLAG_LAST_PDU) != 0;
		bool success = (ch->flags & NVME_TCP_FLAG_SUCCESS) != 0;
		struct tcp_capsule *rsp = NULL;

		nvmf_mutex_lock(&tq->lock);
		cb->data_xfered += c2h->datal;
		if (!digest_ok && cb->error == 0) {
			NVMF_WARN("nvme-tcp: data digest error in C2HData (cid %u)", cb->cid);
			cb->error = EBADMSG;
		}
		complete = cb_put_locked(cb); /* the payload's reference */
		if (last && cb->registered) {
			cb_unregister_locked(tq, cb);
			complete |= cb_put_locked(cb);
		}
		if (success)
			rsp = capsule_get_locked(tq, true);
		nvmf_mutex_unlock(&tq->lock);
		if (complete)
			cb_complete(tq, cb);
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
	case TARGET_H2C: {
		const struct nvme_tcp_h2c_data_hdr *h2c = (const void *)rx->hdr;
		struct tcp_r2t_slot *slot = rx->slot;

		nvmf_mutex_lock(&tq->lock);
		slot->next_offset += h2c->datal;
		cb->data_xfered += h2c->datal;
		if (!digest_ok && cb->error == 0) {
			NVMF_WARN("nvme-tcp: data digest error in H2CData (cid %u)", cb->cid);
			cb->error = EBADMSG;
		}
		complete = cb_put_locked(cb); /* the payload's reference */
		if (slot->next_offset == slot->end) {
			r2t_slot_free_locked(tq, slot);
			cb->r2ts_outstanding--;
			complete |= cb_put_locked(cb);
			serve_r2t_waiters_locked(tq);
			if (cb->r2t_requested < cb->data_len)
				issue_r2ts_locked(tq, cb);
			else if (cb->data_xfered == cb->data_len)
				complete |= cb_put_locked(cb); /* the transfer's own */
		}
		nvmf_mutex_unlock(&tq->lock);
		if (complete)
			cb_complete(tq, cb);
		return true;
	}
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

/* Start of the next PDU. */
static void rx_next_pdu(struct tcp_rx *rx)
{
	rx->phase = RX_HEADER;
	rx->ch_valid = false;
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
	rx_next_pdu(rx);
	return handle_pdu_end(tq, true);
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
		case RX_HEADER: {
			struct nvme_tcp_common_hdr ch_copy;
			const struct nvme_tcp_common_hdr *ch = &ch_copy;
			struct nvmf_tcp_rx_rules rules;
			uint16_t fes;
			uint32_t fei;

			if (avail < sizeof(*ch))
				return true;
			/* The ring holds PDUs at any byte offset. */
			memcpy(&ch_copy, p, sizeof(ch_copy));
			if (!rx->ch_valid) {
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
					/* The TermReq echoes the header (its HLEN, as SPDK
					 * does; at least the common header), never the
					 * payload or the next PDU behind it. */
					size_t echo = ch->hlen > sizeof(*ch) ? ch->hlen : sizeof(*ch);

					if (echo > avail)
						echo = avail;
					tcp_fatal(tq, fes, fei, p, echo);
					return false;
				}
				}
				rx->ch_valid = true;
			}
			if (avail < rx->layout.header_len)
				return true;
			memcpy(rx->hdr, p, rx->layout.header_len);
			rx->rd += rx->layout.header_len;
			rx->pad_left = rx->layout.pad_len;
			rx->data_left = rx->layout.data_len;
			rx->crc = NVMF_CRC32C_INIT;
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
				rx_next_pdu(rx);
				if (!handle_pdu_end(tq, true))
					return false;
			}
			break;
		}
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
			slice_copy_in(&rx->dst, p, n, rx->layout.data_digest ? &rx->crc : NULL);
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
			rx_next_pdu(rx);
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
 * Read once from the socket.  A large payload with nothing buffered ahead of
 * it is read straight into its destination, with the ring behind it to catch
 * whatever follows.  *drained tells whether the read came up short, i.e.
 * the socket had nothing more for now.
 */
static ssize_t rx_read(struct tcp_qpair *tq, bool block, bool *drained)
{
	struct tcp_rx *rx = &tq->rx;
	struct iovec v[TCP_MAX_DATA_IOVCNT + 1];
	ssize_t n;
	int nd = 0;

	if (rx->rd == rx->wr)
		rx->rd = rx->wr = 0;
	if (rx->phase == RX_DATA && rx->rd == rx->wr && rx->data_left >= TCP_RX_DIRECT_MIN)
		nd = slice_iovecs(&rx->dst, rx->data_left, v, TCP_MAX_DATA_IOVCNT);
	if (nd > 0) {
		v[nd].iov_base = rx->ring;
		v[nd].iov_len = TCP_RX_RING_SIZE;
		do
			n = sock_recvv(tq, v, nd + 1, block);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			return n;
		*drained = (size_t)n < rx->data_left + TCP_RX_RING_SIZE;
		size_t direct = (size_t)n < rx->data_left ? (size_t)n : rx->data_left;

		rx_data_placed(tq, v, nd, direct);
		slice_advance(&rx->dst, direct);
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
	v[0] = (struct iovec){.iov_base = rx->ring + rx->wr, .iov_len = TCP_RX_RING_SIZE - rx->wr};
	do
		n = sock_recvv(tq, v, 1, block);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		*drained = (size_t)n < TCP_RX_RING_SIZE - rx->wr;
		rx->wr += (uint32_t)n;
	}
	return n;
}

static bool rx_at_boundary(const struct tcp_rx *rx)
{
	return rx->phase == RX_HEADER && rx->rd == rx->wr;
}

static int tcp_rx(struct nvmf_engine_conn *conn, bool block)
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

static void tcp_rx_done(struct nvmf_engine_conn *conn)
{
	struct tcp_qpair *tq = (struct tcp_qpair *)((uint8_t *)conn - offsetof(struct tcp_qpair, conn));

	tcp_report(tq, tq->error != 0 ? tq->error : ECONNRESET);
}

/* ------------------------------------------------------------------ */
/* Queue pairs                                                         */
/* ------------------------------------------------------------------ */

static void tcp_qpair_release(struct tcp_qpair *tq)
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
	queue_data_item_locked(tq, &tq->ic_item);
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

static void tcp_qpair_free(struct nvmf_qpair *qp);

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
	rx_next_pdu(&tq->rx);
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

/* Fail whatever the connection still holds; runs after the engine let go. */
static void tcp_qpair_abort_all(struct tcp_qpair *tq)
{
	struct tcp_tx_item *item;
	struct tcp_tx_batch *b = &tq->batch;

	if (tq->batch_pending) {
		tq->batch_pending = false;
		batch_finish(tq, b, ECONNABORTED);
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
		items_finished(tq, &item, 1, ECONNABORTED);
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
					cb_unregister_locked(tq, cb);
				if (cb->error == 0)
					cb->error = ECONNABORTED;
				cb->refs = 1;
				complete = cb_put_locked(cb);
			}
			nvmf_mutex_unlock(&tq->lock);
			if (complete)
				cb_complete(tq, cb);
		}
	}
	nvmf_mutex_lock(&tq->lock);
	for (uint32_t i = 0; i < tq->nttags; i++)
		if (tq->ttags[i].cb != NULL)
			r2t_slot_free_locked(tq, &tq->ttags[i]);
	for (struct tcp_cmd_buffer *cb = tq->r2t_wait_head; cb != NULL; cb = cb->r2t_wait_next)
		cb->r2t_waiting = false;
	tq->r2t_wait_head = NULL;
	tq->r2t_wait_tail = &tq->r2t_wait_head;
	nvmf_mutex_unlock(&tq->lock);
	/* A capsule whose in-capsule data was arriving. */
	if (tq->rx.tc != NULL) {
		capsule_put(tq, tq->rx.tc);
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
		/* Freed from a callback on its own event loop: nobody else will
		 * send for it, so try once, without waiting. */
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

/* ------------------------------------------------------------------ */
/* Capsule transmission and controller data                            */
/* ------------------------------------------------------------------ */

static int tcp_capsule_transmit(struct nvmf_capsule *nc)
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
			    iov_total(nc->data.iov, nc->data.iovcnt) < nc->data.len)
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
		if (cb_lookup_locked(tq, nc->sqe.cid) != NULL) {
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

static int tcp_capsule_respond(struct nvmf_qpair *qp, const struct nvme_cqe *cqe)
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
	tc = capsule_get_locked(tq, false);
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

static uint16_t tcp_validate_command(const struct nvmf_capsule *nc)
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

static size_t tcp_capsule_data_len(const struct nvmf_capsule *nc)
{
	return nc->sqe.sgl1.length;
}

static int tcp_receive_controller_data(struct nvmf_capsule *nc, uint32_t data_offset,
				       const struct nvmf_iov *data, nvmf_io_complete_cb *cb,
				       void *cb_arg)
{
	struct tcp_qpair *tq = TQP(nc->qp);
	struct tcp_capsule *tc = TCAP(nc);
	size_t len = data->len;
	int error = 0;

	if (data_offset > nc->sqe.sgl1.length || len > nc->sqe.sgl1.length - data_offset ||
	    data->iovcnt > TCP_MAX_DATA_IOVCNT || iov_total(data->iov, data->iovcnt) < len)
		return EFBIG;
	if (nc->sqe.sgl1.type == NVME_SGL_ID_ICD) {
		struct tcp_slice dst = slice_of(data, 0, len);

		if (data_offset + len > tc->icd_len)
			return EFBIG;
		slice_copy_in(&dst, tc->icd + data_offset, len, NULL);
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
		issue_r2ts_locked(tq, &tc->cb);
	}
	nvmf_mutex_unlock(&tq->lock);
	return error;
}

static uint16_t tcp_send_controller_data(struct nvmf_capsule *nc, uint32_t data_offset,
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
	    iov_total(data->iov, data->iovcnt) < len)
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
		.data = slice_of(data, 0, len),
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
	queue_data_item_locked(tq, item);
	nvmf_mutex_unlock(&tq->lock);
	return success ? NVMF_SUCCESS_SENT : 0;
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
