/* SPDX-License-Identifier: MIT */
#include "tcp/pdu.h"

#include <stddef.h>

#include "util/log.h"

uint8_t nvmf_tcp_pdu_hlen(uint8_t pdu_type)
{
	switch (pdu_type) {
	case NVME_TCP_PDU_ICREQ:
	case NVME_TCP_PDU_ICRESP:
		return sizeof(struct nvme_tcp_icreq);
	case NVME_TCP_PDU_H2C_TERM_REQ:
	case NVME_TCP_PDU_C2H_TERM_REQ:
		return sizeof(struct nvme_tcp_term_req_hdr);
	case NVME_TCP_PDU_CAPSULE_CMD:
		return sizeof(struct nvme_tcp_cmd);
	case NVME_TCP_PDU_CAPSULE_RESP:
		return sizeof(struct nvme_tcp_rsp);
	case NVME_TCP_PDU_H2C_DATA:
		return sizeof(struct nvme_tcp_h2c_data_hdr);
	case NVME_TCP_PDU_C2H_DATA:
		return sizeof(struct nvme_tcp_c2h_data_hdr);
	case NVME_TCP_PDU_R2T:
		return sizeof(struct nvme_tcp_r2t_hdr);
	default:
		return 0;
	}
}

bool nvmf_tcp_pdu_has_hdgst(uint8_t pdu_type)
{
	switch (pdu_type) {
	case NVME_TCP_PDU_CAPSULE_CMD:
	case NVME_TCP_PDU_CAPSULE_RESP:
	case NVME_TCP_PDU_H2C_DATA:
	case NVME_TCP_PDU_C2H_DATA:
	case NVME_TCP_PDU_R2T:
		return true;
	default:
		return false; /* ICReq, ICResp and TermReq never carry digests */
	}
}

/* Flags a PDU type may carry (TCP 1.0a §3.6.2). */
static uint8_t valid_flags(uint8_t pdu_type)
{
	switch (pdu_type) {
	case NVME_TCP_PDU_CAPSULE_CMD:
		return NVME_TCP_FLAG_HDGSTF | NVME_TCP_FLAG_DDGSTF;
	case NVME_TCP_PDU_CAPSULE_RESP:
	case NVME_TCP_PDU_R2T:
		return NVME_TCP_FLAG_HDGSTF;
	case NVME_TCP_PDU_H2C_DATA:
		return NVME_TCP_FLAG_HDGSTF | NVME_TCP_FLAG_DDGSTF | NVME_TCP_FLAG_LAST_PDU;
	case NVME_TCP_PDU_C2H_DATA:
		return NVME_TCP_FLAG_HDGSTF | NVME_TCP_FLAG_DDGSTF | NVME_TCP_FLAG_LAST_PDU |
		       NVME_TCP_FLAG_SUCCESS;
	default:
		return 0;
	}
}

static bool carries_data(uint8_t pdu_type)
{
	return pdu_type == NVME_TCP_PDU_CAPSULE_CMD || pdu_type == NVME_TCP_PDU_H2C_DATA ||
	       pdu_type == NVME_TCP_PDU_C2H_DATA;
}

static enum nvmf_tcp_verdict field_error(uint16_t code, size_t offset, uint16_t *fes,
					 uint32_t *fei)
{
	*fes = code;
	*fei = (uint32_t)offset;
	return NVMF_TCP_PDU_FATAL;
}

#define CH_FIELD(f) offsetof(struct nvme_tcp_common_hdr, f)

enum nvmf_tcp_verdict nvmf_tcp_validate_ch(const struct nvme_tcp_common_hdr *ch,
					   const struct nvmf_tcp_rx_rules *rules,
					   struct nvmf_tcp_pdu_layout *layout, uint16_t *fes,
					   uint32_t *fei)
{
	const uint8_t type = ch->pdu_type;
	const uint32_t plen = ch->plen;
	const bool is_ic = type == NVME_TCP_PDU_ICREQ || type == NVME_TCP_PDU_ICRESP;
	const bool is_term = type == NVME_TCP_PDU_H2C_TERM_REQ || type == NVME_TCP_PDU_C2H_TERM_REQ;
	const uint8_t hlen = nvmf_tcp_pdu_hlen(type);
	uint32_t hd, full_hlen, data_len, max_data;
	bool has_data, want_ddgst;

	/*
	 * A termination request with an impossible length ends the connection
	 * without a reply (NVMe-oF 1.1 §7.4.7): answering it could loop.
	 */
	if (is_term && (plen < sizeof(struct nvme_tcp_term_req_hdr) ||
			plen > NVME_TCP_TERM_REQ_MAX_PLEN))
		return NVMF_TCP_PDU_CLOSE;

	/* PDU-Type: known, travelling in our receive direction, in phase. */
	if (hlen == 0 || ((type & 1) == 0) != rules->controller)
		return field_error(NVME_TCP_FES_INVALID_HEADER_FIELD, CH_FIELD(pdu_type), fes, fei);
	if (is_ic == rules->initialized && !is_term)
		return field_error(NVME_TCP_FES_INVALID_HEADER_FIELD, CH_FIELD(pdu_type), fes, fei);

	/*
	 * FLAGS: only the type's own flags; digest flags exactly as negotiated
	 * (DDGSTF only on PDUs that carry data: Linux sends a CapsuleCmd without
	 * in-capsule data with DDGSTF clear); SUCCESS only with LAST_PDU.
	 */
	hd = rules->header_digests && nvmf_tcp_pdu_has_hdgst(type) ? NVME_TCP_DIGEST_LEN : 0;
	full_hlen = hlen + hd;
	has_data = carries_data(type) && plen > full_hlen;
	want_ddgst = rules->data_digests && has_data;
	if ((ch->flags & ~valid_flags(type)) != 0 ||
	    ((ch->flags & NVME_TCP_FLAG_HDGSTF) != 0) != (hd != 0) ||
	    ((ch->flags & NVME_TCP_FLAG_DDGSTF) != 0 && !rules->data_digests) ||
	    ((ch->flags & NVME_TCP_FLAG_DDGSTF) == 0 && want_ddgst) ||
	    (ch->flags & (NVME_TCP_FLAG_SUCCESS | NVME_TCP_FLAG_LAST_PDU)) == NVME_TCP_FLAG_SUCCESS)
		return field_error(NVME_TCP_FES_INVALID_HEADER_FIELD, CH_FIELD(flags), fes, fei);

	/* HLEN: fixed per type. */
	if (ch->hlen != hlen)
		return field_error(NVME_TCP_FES_INVALID_HEADER_FIELD, CH_FIELD(hlen), fes, fei);

	/* PDO: 0 without data; else after the header, aligned, within the PDU. */
	if (!has_data) {
		if (ch->pdo != 0)
			return field_error(NVME_TCP_FES_INVALID_HEADER_FIELD, CH_FIELD(pdo), fes,
					   fei);
	} else if (ch->pdo < full_hlen || ch->pdo > plen || ch->pdo % rules->rxpda != 0) {
		return field_error(NVME_TCP_FES_INVALID_HEADER_FIELD, CH_FIELD(pdo), fes, fei);
	}

	/* PLEN: exactly the header for data-less PDUs, bounded otherwise. */
	layout->header_len = full_hlen;
	layout->pad_len = 0;
	layout->data_len = 0;
	layout->data_digest = false;
	if (is_term) {
		layout->data_len = plen - hlen; /* the copy of the offending header */
		return NVMF_TCP_PDU_VALID;
	}
	if (!has_data) {
		if (plen != full_hlen)
			return field_error(NVME_TCP_FES_INVALID_HEADER_FIELD, CH_FIELD(plen), fes,
					   fei);
		return NVMF_TCP_PDU_VALID;
	}
	data_len = plen - ch->pdo;
	if (want_ddgst) {
		if (data_len <= NVME_TCP_DIGEST_LEN)
			return field_error(NVME_TCP_FES_INVALID_HEADER_FIELD, CH_FIELD(plen), fes,
					   fei);
		data_len -= NVME_TCP_DIGEST_LEN;
	}
	max_data = type == NVME_TCP_PDU_CAPSULE_CMD ? rules->max_icd : rules->max_data;
	if (data_len == 0 || data_len > max_data)
		return field_error(NVME_TCP_FES_INVALID_HEADER_FIELD, CH_FIELD(plen), fes, fei);
	layout->pad_len = ch->pdo - full_hlen;
	layout->data_len = data_len;
	layout->data_digest = want_ddgst;
	return NVMF_TCP_PDU_VALID;
}

enum nvmf_tcp_verdict nvmf_tcp_validate_icreq(const struct nvme_tcp_icreq *req, uint16_t *fes,
					      uint32_t *fei)
{
	/* TCP 1.0a §3.6.2.2: PFV 0 is the only version. */
	if (req->pfv != 0)
		return field_error(NVME_TCP_FES_UNSUPPORTED_PARAMETER,
				   offsetof(struct nvme_tcp_icreq, pfv), fes, fei);
	if (req->hpda > NVME_TCP_PDA_MAX)
		return field_error(NVME_TCP_FES_UNSUPPORTED_PARAMETER,
				   offsetof(struct nvme_tcp_icreq, hpda), fes, fei);
	if ((req->dgst & ~(NVME_TCP_DGST_HDGST | NVME_TCP_DGST_DDGST)) != 0)
		return field_error(NVME_TCP_FES_INVALID_HEADER_FIELD,
				   offsetof(struct nvme_tcp_icreq, dgst), fes, fei);
	return NVMF_TCP_PDU_VALID;
}

enum nvmf_tcp_verdict nvmf_tcp_validate_icresp(const struct nvme_tcp_icresp *rsp,
					       bool header_digests, bool data_digests,
					       uint16_t *fes, uint32_t *fei)
{
	const uint8_t asked = (uint8_t)((header_digests ? NVME_TCP_DGST_HDGST : 0) |
					(data_digests ? NVME_TCP_DGST_DDGST : 0));

	if (rsp->pfv != 0)
		return field_error(NVME_TCP_FES_UNSUPPORTED_PARAMETER,
				   offsetof(struct nvme_tcp_icresp, pfv), fes, fei);
	if (rsp->cpda > NVME_TCP_PDA_MAX)
		return field_error(NVME_TCP_FES_UNSUPPORTED_PARAMETER,
				   offsetof(struct nvme_tcp_icresp, cpda), fes, fei);
	if ((rsp->dgst & ~(NVME_TCP_DGST_HDGST | NVME_TCP_DGST_DDGST)) != 0)
		return field_error(NVME_TCP_FES_INVALID_HEADER_FIELD,
				   offsetof(struct nvme_tcp_icresp, dgst), fes, fei);
	/* Digests must be exactly what was asked for, as the Linux host insists. */
	if (rsp->dgst != asked)
		return field_error(NVME_TCP_FES_UNSUPPORTED_PARAMETER,
				   offsetof(struct nvme_tcp_icresp, dgst), fes, fei);
	if (rsp->maxh2cdata < NVME_TCP_MIN_MAXH2CDATA || rsp->maxh2cdata % 4 != 0)
		return field_error(NVME_TCP_FES_INVALID_HEADER_FIELD,
				   offsetof(struct nvme_tcp_icresp, maxh2cdata), fes, fei);
	return NVMF_TCP_PDU_VALID;
}

const char *nvmf_tcp_fes_name(uint16_t fes)
{
	switch (fes) {
	case NVME_TCP_FES_INVALID_HEADER_FIELD:
		return "invalid PDU header field";
	case NVME_TCP_FES_PDU_SEQUENCE_ERROR:
		return "PDU sequence error";
	case NVME_TCP_FES_HDGST_ERROR:
		return "header digest error";
	case NVME_TCP_FES_DATA_OUT_OF_RANGE:
		return "data transfer out of range";
	case NVME_TCP_FES_R2T_LIMIT_EXCEEDED:
		return "R2T / data transfer limit exceeded";
	case NVME_TCP_FES_UNSUPPORTED_PARAMETER:
		return "unsupported parameter";
	default:
		return "unknown fatal error";
	}
}
