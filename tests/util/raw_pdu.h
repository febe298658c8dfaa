/* SPDX-License-Identifier: MIT */
/*
 * A raw NVMe/TCP peer for malformed-PDU tests: PDU builders that write
 * straight into a byte buffer (any field may then be spoiled), a reader,
 * and the table of malformed PDUs a controller must survive.  Shared by the
 * transport test (a bare controller-role queue pair) and the hostile-peer
 * suite (a running nvmfd).
 */
#ifndef NVMF_TEST_RAW_PDU_H
#define NVMF_TEST_RAW_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvmf/spec_tcp.h"

#define RAW_WAIT_MS 5000
#define RAW_PDU_SIZE 16384
#define RAW_BLOCK 512             /* write_cmd's NLB counts 512-byte blocks */
#define RAW_SOLICIT_CID 42
#define RAW_SOLICIT_LEN 8192      /* the write whose R2T the H2C cases answer */

/* The raw peer's view of the connection. */
struct raw {
	int fd;
	bool hd, dd;              /* digests negotiated */
	uint32_t maxr2t;          /* what raw_handshake's ICReq offers (0's based) */
	uint32_t maxh2cdata;      /* from the ICResp */
	/* After an R2T was solicited: */
	uint16_t cid;
	uint16_t ttag;
	uint32_t r2to, r2tl;
};

struct raw_pdu {
	uint8_t b[RAW_PDU_SIZE];
	size_t len;               /* bytes to send */
};

/* Common header; the PDU is zeroed and len set to min(plen, buffer). */
void raw_ch(struct raw_pdu *p, uint8_t type, uint8_t flags, uint8_t hlen, uint8_t pdo,
	    uint32_t plen);
/* Header digest over the first hlen bytes, placed right after them. */
void raw_put_hdgst(struct raw_pdu *p, uint8_t hlen, bool corrupt);
void raw_put_ddgst(struct raw_pdu *p, size_t data_off, size_t data_len, bool corrupt);
void raw_icreq(struct raw_pdu *p, uint8_t dgst);
/* A CapsuleCmd with the SQE and, if len > 0, len bytes of in-capsule data. */
void raw_capsule(struct raw_pdu *p, const struct raw *r, const struct nvme_sqe *sqe,
		 const void *data, uint32_t len);
/*
 * A Write (NSID 1, SLBA 0, NLB of RAW_BLOCK bytes) of len bytes: in the
 * capsule (filled with test_fill(seed = cid)) if icd, else by R2T.
 */
void raw_write_cmd(struct raw_pdu *p, const struct raw *r, uint16_t cid, uint32_t len, bool icd);
/* An H2CData PDU answering the solicited R2T, data test_fill(seed = datao). */
void raw_h2c(struct raw_pdu *p, const struct raw *r, uint32_t datao, uint32_t datal, bool last);
void raw_c2h(struct raw_pdu *p, const struct raw *r, uint16_t cid, uint32_t datao,
	     uint32_t datal, uint8_t extra_flags);
void raw_r2t(struct raw_pdu *p, const struct raw *r, uint16_t cid, uint16_t ttag, uint32_t off,
	     uint32_t len);

int raw_send(const struct raw *r, const struct raw_pdu *p);
/* Read one PDU; up to cap bytes are kept, the rest is discarded. 0 or -1. */
int raw_read_pdu(int fd, uint8_t *pdu, size_t cap, size_t *len, int timeout_ms);
/* ICReq with dgst and r->maxr2t, ICResp read and checked; fills hd, dd, maxh2cdata. */
bool raw_handshake(struct raw *r, uint8_t dgst);
/* Send a RAW_SOLICIT_LEN Write by R2T and take the R2T it draws. */
bool raw_solicit(struct raw *r);

/*
 * The next PDU must be a TermReq of the given type with fes/fei and a copy
 * of the offending header (1 to 128 bytes, each one as in sent, if given),
 * then EOF.
 * Data PDUs queued before it are skipped.  Prints the answer it got.
 */
bool raw_expect_term(int fd, uint8_t type, uint16_t fes, uint32_t fei, const uint8_t *sent,
		     size_t sent_len);

/* The peer closes without sending another byte (no TermReq). */
bool raw_expect_close(int fd);

/* ------------------------------------------------------------------ */
/* Malformed PDUs sent to a controller                                 */
/* ------------------------------------------------------------------ */

enum raw_expect {
	RAW_EXPECT_TERM,          /* a TermReq with fes/fei, then EOF */
	RAW_EXPECT_CLOSE,         /* EOF without a TermReq */
	RAW_EXPECT_STATUS,        /* a response with status, connection stays up */
};

struct raw_ctrl_case {
	const char *name;
	bool no_icreq;            /* the bad PDU comes before ICReq */
	uint8_t dgst;             /* digests asked for in ICReq */
	bool solicit;             /* first get an R2T (raw_solicit) */
	void (*build)(struct raw_pdu *p, struct raw *r);
	enum raw_expect expect;
	uint16_t fes;
	uint32_t fei;
	uint16_t status;          /* RAW_EXPECT_STATUS: the SC */
	int error;                /* what a controller queue pair reports */
};

/*
 * The cases assume a MAXH2CDATA of 4 to 8 KiB, 8 KiB of in-capsule data
 * accepted on the queue (12 KiB refused), and a controller that answers a
 * Flush without data and a 512-byte in-capsule Write at SLBA 0 with success.
 */
extern const struct raw_ctrl_case raw_ctrl_cases[];
extern const size_t raw_nctrl_cases;

#endif
