/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP PDU validation, shared by the host and controller roles.
 *
 * The common header of every received PDU is checked here before anything
 * else is read: fields in the order the specification lists them (NVMe/TCP
 * 1.0a §3.6.2.1, NVMe-oF 1.1 §7.4.7), so that the lowest incorrect field is
 * the one reported, and every length against this connection's limits, so
 * that nothing is allocated or copied on the strength of an unchecked PLEN.
 */
#ifndef NVMF_TCP_PDU_H
#define NVMF_TCP_PDU_H

#include <stdbool.h>
#include <stdint.h>

#include "nvmf/spec_tcp.h"

/* What a receiver accepts at this point of the connection. */
struct nvmf_tcp_rx_rules {
	bool controller;         /* receiving as the controller: even PDU types */
	bool initialized;        /* ICReq/ICResp already exchanged */
	bool header_digests;     /* negotiated */
	bool data_digests;
	uint32_t rxpda;          /* alignment, in bytes, that the peer pads data to */
	uint32_t max_icd;        /* largest in-capsule data accepted (CapsuleCmd) */
	uint32_t max_data;       /* largest H2CData/C2HData payload accepted */
};

/* The shape of a PDU whose common header passed validation. */
struct nvmf_tcp_pdu_layout {
	uint32_t header_len;     /* HLEN + header digest */
	uint32_t pad_len;        /* bytes between the header and the data */
	uint32_t data_len;       /* payload bytes */
	bool data_digest;        /* a data digest follows the payload */
};

enum nvmf_tcp_verdict {
	NVMF_TCP_PDU_VALID = 0,
	NVMF_TCP_PDU_FATAL,      /* send a TermReq with *fes / *fei, then close */
	NVMF_TCP_PDU_CLOSE,      /* close at once without a TermReq */
};

/* Header length (HLEN) of a PDU type, or 0 for an unknown type. */
uint8_t nvmf_tcp_pdu_hlen(uint8_t pdu_type);

/* Whether a PDU type carries a header digest when those are negotiated. */
bool nvmf_tcp_pdu_has_hdgst(uint8_t pdu_type);

enum nvmf_tcp_verdict nvmf_tcp_validate_ch(const struct nvme_tcp_common_hdr *ch,
					   const struct nvmf_tcp_rx_rules *rules,
					   struct nvmf_tcp_pdu_layout *layout, uint16_t *fes,
					   uint32_t *fei);

/*
 * ICReq (controller) and ICResp (host) parameter checks, after the common
 * header passed.  FEI is the byte offset of the offending field.
 */
enum nvmf_tcp_verdict nvmf_tcp_validate_icreq(const struct nvme_tcp_icreq *req, uint16_t *fes,
					      uint32_t *fei);
enum nvmf_tcp_verdict nvmf_tcp_validate_icresp(const struct nvme_tcp_icresp *rsp,
					       bool header_digests, bool data_digests,
					       uint16_t *fes, uint32_t *fei);

/* Name of a FES code for log lines. */
const char *nvmf_tcp_fes_name(uint16_t fes);

#endif
