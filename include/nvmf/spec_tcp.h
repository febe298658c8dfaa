/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP PDUs (NVM Express TCP Transport Specification 1.0a §3.6), the
 * transport binding of the capsules in nvmf/spec.h.  Little-endian fields;
 * sizes and offsets asserted at the bottom against the specification.
 */
#ifndef NVMF_SPEC_TCP_H
#define NVMF_SPEC_TCP_H

#include "nvmf/spec.h"

/* ------------------------------------------------------------------ */
/* NVMe/TCP PDUs (TCP Transport 1.0a §3.6)                             */
/* ------------------------------------------------------------------ */

enum nvme_tcp_pdu_type {
	NVME_TCP_PDU_ICREQ = 0x00,
	NVME_TCP_PDU_ICRESP = 0x01,
	NVME_TCP_PDU_H2C_TERM_REQ = 0x02,
	NVME_TCP_PDU_C2H_TERM_REQ = 0x03,
	NVME_TCP_PDU_CAPSULE_CMD = 0x04,
	NVME_TCP_PDU_CAPSULE_RESP = 0x05,
	NVME_TCP_PDU_H2C_DATA = 0x06,
	NVME_TCP_PDU_C2H_DATA = 0x07,
	NVME_TCP_PDU_R2T = 0x09,
};

#define NVME_TCP_FLAG_HDGSTF (1u << 0)
#define NVME_TCP_FLAG_DDGSTF (1u << 1)
#define NVME_TCP_FLAG_LAST_PDU (1u << 2) /* H2CData, C2HData */
#define NVME_TCP_FLAG_SUCCESS (1u << 3)  /* C2HData */

/* Common header: 8 bytes. */
struct nvme_tcp_common_hdr {
	uint8_t pdu_type;
	uint8_t flags;
	uint8_t hlen;      /* CH + PSH length, excluding HDGST */
	uint8_t pdo;       /* PDU data offset; 0 if no data */
	uint32_t plen;     /* total PDU length, digests and padding included */
};

/* ICReq: 128 bytes. */
struct nvme_tcp_icreq {
	struct nvme_tcp_common_hdr ch;
	uint16_t pfv;      /* PDU format version, 0 */
	uint8_t hpda;      /* host PDU data alignment, (n+1)*4 bytes */
	uint8_t dgst;      /* bit 0 HDGST_ENABLE, bit 1 DDGST_ENABLE */
	uint32_t maxr2t;   /* max outstanding R2Ts per command, 0's based */
	uint8_t rsvd16[112];
};

/* ICResp: 128 bytes. */
struct nvme_tcp_icresp {
	struct nvme_tcp_common_hdr ch;
	uint16_t pfv;
	uint8_t cpda;      /* controller PDU data alignment */
	uint8_t dgst;
	uint32_t maxh2cdata; /* max data bytes per H2CData PDU */
	uint8_t rsvd16[112];
};

#define NVME_TCP_DGST_HDGST (1u << 0)
#define NVME_TCP_DGST_DDGST (1u << 1)
#define NVME_TCP_PDA_MAX 31
#define NVME_TCP_MIN_MAXH2CDATA 4096

/* H2CTermReq / C2HTermReq header: 24 bytes. */
struct NVMF_PACKED nvme_tcp_term_req_hdr {
	struct nvme_tcp_common_hdr ch;
	uint16_t fes;      /* fatal error status */
	uint32_t fei;      /* fatal error information */
	uint8_t rsvd14[10];
};

#define NVME_TCP_TERM_REQ_MAX_DATA 128
#define NVME_TCP_TERM_REQ_MAX_PLEN                                            \
	(sizeof(struct nvme_tcp_term_req_hdr) + NVME_TCP_TERM_REQ_MAX_DATA)

enum nvme_tcp_fes {
	NVME_TCP_FES_INVALID_HEADER_FIELD = 0x01,
	NVME_TCP_FES_PDU_SEQUENCE_ERROR = 0x02,
	NVME_TCP_FES_HDGST_ERROR = 0x03,
	NVME_TCP_FES_DATA_OUT_OF_RANGE = 0x04,
	NVME_TCP_FES_R2T_LIMIT_EXCEEDED = 0x05, /* also: data transfer limit */
	NVME_TCP_FES_UNSUPPORTED_PARAMETER = 0x06,
};

/* CapsuleCmd header: 72 bytes. */
struct nvme_tcp_cmd {
	struct nvme_tcp_common_hdr ch;
	struct nvme_sqe sqe;
};

/* CapsuleResp header: 24 bytes. */
struct nvme_tcp_rsp {
	struct nvme_tcp_common_hdr ch;
	struct nvme_cqe cqe;
};

/* H2CData header: 24 bytes. */
struct nvme_tcp_h2c_data_hdr {
	struct nvme_tcp_common_hdr ch;
	uint16_t cccid;    /* command capsule CID */
	uint16_t ttag;     /* transfer tag from the R2T */
	uint32_t datao;    /* offset within the command's data */
	uint32_t datal;    /* data bytes in this PDU */
	uint8_t rsvd20[4];
};

/* C2HData header: 24 bytes. */
struct nvme_tcp_c2h_data_hdr {
	struct nvme_tcp_common_hdr ch;
	uint16_t cccid;
	uint16_t rsvd10;
	uint32_t datao;
	uint32_t datal;
	uint8_t rsvd20[4];
};

/* R2T header: 24 bytes. */
struct nvme_tcp_r2t_hdr {
	struct nvme_tcp_common_hdr ch;
	uint16_t cccid;
	uint16_t ttag;     /* transfer tag, echoed in H2CData */
	uint32_t r2to;     /* requested offset */
	uint32_t r2tl;     /* requested length, never 0 */
	uint8_t rsvd20[4];
};

#define NVME_TCP_DIGEST_LEN 4
#define NVME_TCP_PDO_MAX 128

/* ------------------------------------------------------------------ */
/* Size and offset assertions                                          */
/* ------------------------------------------------------------------ */

#define NVMF_ASSERT_SIZE(t, n) _Static_assert(sizeof(struct t) == (n), #t " size")
#define NVMF_ASSERT_OFF(t, f, n)                                              \
	_Static_assert(offsetof(struct t, f) == (n), #t "." #f " offset")

/* NVMe/TCP 1.0a §3.6.2. */
NVMF_ASSERT_SIZE(nvme_tcp_common_hdr, 8);
NVMF_ASSERT_OFF(nvme_tcp_common_hdr, pdu_type, 0);
NVMF_ASSERT_OFF(nvme_tcp_common_hdr, flags, 1);
NVMF_ASSERT_OFF(nvme_tcp_common_hdr, hlen, 2);
NVMF_ASSERT_OFF(nvme_tcp_common_hdr, pdo, 3);
NVMF_ASSERT_OFF(nvme_tcp_common_hdr, plen, 4);

NVMF_ASSERT_SIZE(nvme_tcp_icreq, 128);
NVMF_ASSERT_OFF(nvme_tcp_icreq, ch, 0);
NVMF_ASSERT_OFF(nvme_tcp_icreq, pfv, 8);
NVMF_ASSERT_OFF(nvme_tcp_icreq, hpda, 10);
NVMF_ASSERT_OFF(nvme_tcp_icreq, dgst, 11);
NVMF_ASSERT_OFF(nvme_tcp_icreq, maxr2t, 12);
NVMF_ASSERT_OFF(nvme_tcp_icreq, rsvd16, 16);

NVMF_ASSERT_SIZE(nvme_tcp_icresp, 128);
NVMF_ASSERT_OFF(nvme_tcp_icresp, ch, 0);
NVMF_ASSERT_OFF(nvme_tcp_icresp, pfv, 8);
NVMF_ASSERT_OFF(nvme_tcp_icresp, cpda, 10);
NVMF_ASSERT_OFF(nvme_tcp_icresp, dgst, 11);
NVMF_ASSERT_OFF(nvme_tcp_icresp, maxh2cdata, 12);
NVMF_ASSERT_OFF(nvme_tcp_icresp, rsvd16, 16);

NVMF_ASSERT_SIZE(nvme_tcp_term_req_hdr, 24);
NVMF_ASSERT_OFF(nvme_tcp_term_req_hdr, ch, 0);
NVMF_ASSERT_OFF(nvme_tcp_term_req_hdr, fes, 8);
NVMF_ASSERT_OFF(nvme_tcp_term_req_hdr, fei, 10);
NVMF_ASSERT_OFF(nvme_tcp_term_req_hdr, rsvd14, 14);

NVMF_ASSERT_SIZE(nvme_tcp_cmd, 72);
NVMF_ASSERT_OFF(nvme_tcp_cmd, ch, 0);
NVMF_ASSERT_OFF(nvme_tcp_cmd, sqe, 8);

NVMF_ASSERT_SIZE(nvme_tcp_rsp, 24);
NVMF_ASSERT_OFF(nvme_tcp_rsp, ch, 0);
NVMF_ASSERT_OFF(nvme_tcp_rsp, cqe, 8);

NVMF_ASSERT_SIZE(nvme_tcp_h2c_data_hdr, 24);
NVMF_ASSERT_OFF(nvme_tcp_h2c_data_hdr, ch, 0);
NVMF_ASSERT_OFF(nvme_tcp_h2c_data_hdr, cccid, 8);
NVMF_ASSERT_OFF(nvme_tcp_h2c_data_hdr, ttag, 10);
NVMF_ASSERT_OFF(nvme_tcp_h2c_data_hdr, datao, 12);
NVMF_ASSERT_OFF(nvme_tcp_h2c_data_hdr, datal, 16);
NVMF_ASSERT_OFF(nvme_tcp_h2c_data_hdr, rsvd20, 20);

NVMF_ASSERT_SIZE(nvme_tcp_c2h_data_hdr, 24);
NVMF_ASSERT_OFF(nvme_tcp_c2h_data_hdr, ch, 0);
NVMF_ASSERT_OFF(nvme_tcp_c2h_data_hdr, cccid, 8);
NVMF_ASSERT_OFF(nvme_tcp_c2h_data_hdr, rsvd10, 10);
NVMF_ASSERT_OFF(nvme_tcp_c2h_data_hdr, datao, 12);
NVMF_ASSERT_OFF(nvme_tcp_c2h_data_hdr, datal, 16);
NVMF_ASSERT_OFF(nvme_tcp_c2h_data_hdr, rsvd20, 20);

NVMF_ASSERT_SIZE(nvme_tcp_r2t_hdr, 24);
NVMF_ASSERT_OFF(nvme_tcp_r2t_hdr, ch, 0);
NVMF_ASSERT_OFF(nvme_tcp_r2t_hdr, cccid, 8);
NVMF_ASSERT_OFF(nvme_tcp_r2t_hdr, ttag, 10);
NVMF_ASSERT_OFF(nvme_tcp_r2t_hdr, r2to, 12);
NVMF_ASSERT_OFF(nvme_tcp_r2t_hdr, r2tl, 16);
NVMF_ASSERT_OFF(nvme_tcp_r2t_hdr, rsvd20, 20);

#undef NVMF_ASSERT_SIZE
#undef NVMF_ASSERT_OFF

#endif /* NVMF_SPEC_TCP_H */
