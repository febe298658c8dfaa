/* SPDX-License-Identifier: MIT */
/*
 * A minimal synchronous NVMe/TCP host for the controller tests, built on
 * the transport's host-role queue pairs: connect a queue, run a command
 * and wait for its response.  Not a host library: just enough to drive
 * nvmfd from tests.
 */
#ifndef TESTS_CONTROLLER_HOST_HELPER_H
#define TESTS_CONTROLLER_HOST_HELPER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "nvmf/spec_tcp.h"
#include "nvmf/transport.h"
#include "util/raw_pdu.h"

#define TH_SLOTS 256
#define TH_TIMEOUT_MS 10000

struct th_slot {
	bool busy;
	bool done;
	bool data_pending;
	int data_error;
	struct nvme_cqe cqe;
	struct iovec iov;
};

struct th_queue {
	struct nvmf_qpair *qp;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct th_slot slots[TH_SLOTS];
	bool closed;
	int error;
	uint16_t cntlid;
};

struct th_opts {
	bool hdgst, ddgst;
	bool disable_sqflow;
	uint16_t qsize;        /* entries; 0: 32 */
	uint32_t kato_ms;
	uint16_t cntlid;       /* I/O queues: the admin's; admin: 0 -> FFFFh */
	const char *hostnqn;   /* NULL: a fixed test host NQN */
	const uint8_t *hostid; /* NULL: a fixed host ID */
};

#define TH_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555"

/* TCP connect + ICReq; 0 or -1. */
int th_open(struct th_queue *q, uint16_t port, const struct th_opts *opts);
/* Fabrics Connect; returns the NVMe status (SCT << 8 | SC), -1 on timeout. */
int th_connect(struct th_queue *q, const char *subnqn, uint16_t qid, const struct th_opts *opts,
	       uint32_t *dw0);
/* th_open + th_connect (+ enable the controller for admin queues); status. */
int th_connect_admin(struct th_queue *q, uint16_t port, const char *subnqn,
		     const struct th_opts *opts);
int th_connect_io(struct th_queue *q, uint16_t port, const char *subnqn, uint16_t qid,
		  uint16_t cntlid, const struct th_opts *opts);
/* Free the queue pair; aborts if a transfer still holds a caller buffer. */
void th_close(struct th_queue *q);

/* Submit without waiting (for AERs); returns the CID or -1. */
int th_submit(struct th_queue *q, const struct nvme_sqe *sqe, void *buf, size_t len, bool write);
/*
 * Wait for a submitted CID; status, or -1 on timeout / closed.  After -1 the
 * command's buffer still belongs to the transport: free it only after
 * th_close, which returns once every transfer has let go of its buffer.
 */
int th_wait(struct th_queue *q, int cid, struct nvme_cqe *cqe, int timeout_ms);
/* Submit and wait. */
int th_cmd(struct th_queue *q, const struct nvme_sqe *sqe, void *buf, size_t len, bool write,
	   struct nvme_cqe *cqe);
/* Wait until the connection is closed by the controller; 0 or -1. */
int th_wait_closed(struct th_queue *q, int timeout_ms);

int th_prop_get(struct th_queue *q, uint32_t ofst, bool size8, uint64_t *value);
int th_prop_set(struct th_queue *q, uint32_t ofst, uint32_t value);
int th_identify(struct th_queue *q, uint8_t cns, uint32_t nsid, void *buf);
int th_get_log(struct th_queue *q, uint8_t lid, uint32_t nsid, void *buf, uint32_t len,
	       uint64_t offset, bool rae);
int th_set_features(struct th_queue *q, uint8_t fid, uint32_t cdw11, uint32_t *dw0);
int th_get_features(struct th_queue *q, uint8_t fid, unsigned sel, uint32_t *dw0);
int th_rw(struct th_queue *q, uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb,
	  void *buf, size_t len, uint32_t cdw12_flags);

/*
 * Raw queues (util/raw_pdu.h): PDUs written by hand, so a test knows
 * exactly which ones the controller has received, and when.  No digests.
 */
struct th_raw_event {
	uint8_t type;       /* NVME_TCP_PDU_R2T, _CAPSULE_RESP, _C2H_DATA, ... */
	uint16_t cid;
	uint16_t ttag;      /* R2T */
	uint32_t r2to, r2tl;
	uint16_t status;    /* CapsuleResp: SCT << 8 | SC */
};

/* TCP connect, ICReq, I/O queue Connect; the Connect status, -1 on failure. */
int th_raw_connect_io(struct raw *r, uint16_t port, const char *subnqn, uint16_t qid,
		      uint16_t cntlid, uint16_t qsize);
/* A Write capsule of len bytes: with icd in the capsule, else to be
 * fetched by R2T (answer it with th_raw_h2c).  0 or -1. */
int th_raw_write_cmd(struct raw *r, uint16_t cid, uint32_t nsid, uint64_t slba, uint32_t nlb,
		     uint32_t len, const void *icd);
/* One H2CData PDU (LAST) answering the R2T with ttag for cid. */
int th_raw_h2c(struct raw *r, uint16_t cid, uint16_t ttag, uint32_t datao, const void *data,
	       uint32_t len);
/* The next PDU from the controller; 0 or -1 (timeout, EOF). */
int th_raw_next(struct raw *r, struct th_raw_event *ev, int timeout_ms);

#endif
