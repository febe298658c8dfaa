/* SPDX-License-Identifier: MIT */
#include "util/raw_pdu.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util/crc32c.h"
#include "util/test_util.h"

void raw_ch(struct raw_pdu *p, uint8_t type, uint8_t flags, uint8_t hlen, uint8_t pdo,
	    uint32_t plen)
{
	struct nvme_tcp_common_hdr h = {.pdu_type = type, .flags = flags, .hlen = hlen,
					.pdo = pdo, .plen = plen};

	memset(p->b, 0, sizeof(p->b));
	memcpy(p->b, &h, sizeof(h));
	p->len = plen < sizeof(p->b) ? plen : sizeof(p->b);
}

void raw_put_hdgst(struct raw_pdu *p, uint8_t hlen, bool corrupt)
{
	uint32_t crc = nvmf_crc32c(p->b, hlen) ^ (corrupt ? 1u : 0u);

	memcpy(p->b + hlen, &crc, sizeof(crc));
}

void raw_put_ddgst(struct raw_pdu *p, size_t data_off, size_t data_len, bool corrupt)
{
	uint32_t crc = nvmf_crc32c(p->b + data_off, data_len) ^ (corrupt ? 1u : 0u);

	memcpy(p->b + data_off + data_len, &crc, sizeof(crc));
}

void raw_icreq(struct raw_pdu *p, uint8_t dgst)
{
	struct nvme_tcp_icreq *req = (struct nvme_tcp_icreq *)p->b;

	raw_ch(p, NVME_TCP_PDU_ICREQ, 0, 128, 0, 128);
	req->dgst = dgst;
}

void raw_capsule(struct raw_pdu *p, const struct raw *r, const struct nvme_sqe *sqe,
		 const void *data, uint32_t len)
{
	uint32_t hd = r->hd ? 4 : 0, dd = r->dd && len > 0 ? 4 : 0;
	uint32_t pdo = len > 0 ? 72 + hd : 0;
	struct nvme_tcp_cmd *cmd = (struct nvme_tcp_cmd *)p->b;

	REQUIRE(72 + hd + len + dd <= sizeof(p->b));
	raw_ch(p, NVME_TCP_PDU_CAPSULE_CMD,
	       (uint8_t)((hd ? NVME_TCP_FLAG_HDGSTF : 0) | (dd ? NVME_TCP_FLAG_DDGSTF : 0)), 72,
	       (uint8_t)pdo, 72 + hd + len + dd);
	cmd->sqe = *sqe;
	if (len > 0) {
		if (data != NULL)
			memcpy(p->b + pdo, data, len);
		if (dd)
			raw_put_ddgst(p, pdo, len, false);
	}
	if (hd)
		raw_put_hdgst(p, 72, false);
}

void raw_write_cmd(struct raw_pdu *p, const struct raw *r, uint16_t cid, uint32_t len, bool icd)
{
	struct nvme_sqe sqe = {
		.opc = NVME_IO_WRITE,
		.flags = NVME_SQE_PSDT_SGL,
		.cid = cid,
		.nsid = 1,
		.cdw12 = len >= RAW_BLOCK ? len / RAW_BLOCK - 1 : 0,
	};

	sqe.sgl1.length = len;
	sqe.sgl1.type = icd ? NVME_SGL_ID_ICD : NVME_SGL_ID_TRANSPORT;
	raw_capsule(p, r, &sqe, NULL, icd ? len : 0);
	if (icd) {
		uint32_t pdo = 72 + (r->hd ? 4u : 0u);

		test_fill(p->b + pdo, len, cid);
		if (r->dd)
			raw_put_ddgst(p, pdo, len, false);
	}
}

void raw_h2c(struct raw_pdu *p, const struct raw *r, uint32_t datao, uint32_t datal, bool last)
{
	uint32_t hd = r->hd ? 4 : 0, dd = r->dd ? 4 : 0;
	struct nvme_tcp_h2c_data_hdr *h = (struct nvme_tcp_h2c_data_hdr *)p->b;

	REQUIRE(24 + hd + datal + dd <= sizeof(p->b));
	raw_ch(p, NVME_TCP_PDU_H2C_DATA,
	       (uint8_t)((hd ? NVME_TCP_FLAG_HDGSTF : 0) | (dd ? NVME_TCP_FLAG_DDGSTF : 0) |
			 (last ? NVME_TCP_FLAG_LAST_PDU : 0)),
	       24, (uint8_t)(24 + hd), 24 + hd + datal + dd);
	h->cccid = r->cid;
	h->ttag = r->ttag;
	h->datao = datao;
	h->datal = datal;
	test_fill(p->b + 24 + hd, datal, datao);
	if (dd)
		raw_put_ddgst(p, 24 + hd, datal, false);
	if (hd)
		raw_put_hdgst(p, 24, false);
}

void raw_c2h(struct raw_pdu *p, const struct raw *r, uint16_t cid, uint32_t datao,
	     uint32_t datal, uint8_t extra_flags)
{
	uint32_t hd = r->hd ? 4 : 0, dd = r->dd ? 4 : 0;
	struct nvme_tcp_c2h_data_hdr *h = (struct nvme_tcp_c2h_data_hdr *)p->b;

	REQUIRE(24 + hd + datal + dd <= sizeof(p->b));
	raw_ch(p, NVME_TCP_PDU_C2H_DATA,
	       (uint8_t)((hd ? NVME_TCP_FLAG_HDGSTF : 0) | (dd ? NVME_TCP_FLAG_DDGSTF : 0) |
			 extra_flags),
	       24, (uint8_t)(24 + hd), 24 + hd + datal + dd);
	h->cccid = cid;
	h->datao = datao;
	h->datal = datal;
	test_fill(p->b + 24 + hd, datal, datao);
	if (dd)
		raw_put_ddgst(p, 24 + hd, datal, false);
	if (hd)
		raw_put_hdgst(p, 24, false);
}

void raw_r2t(struct raw_pdu *p, const struct raw *r, uint16_t cid, uint16_t ttag, uint32_t off,
	     uint32_t len)
{
	uint32_t hd = r->hd ? 4 : 0;
	struct nvme_tcp_r2t_hdr *h = (struct nvme_tcp_r2t_hdr *)p->b;

	raw_ch(p, NVME_TCP_PDU_R2T, hd ? NVME_TCP_FLAG_HDGSTF : 0, 24, 0, 24 + hd);
	h->cccid = cid;
	h->ttag = ttag;
	h->r2to = off;
	h->r2tl = len;
	if (hd)
		raw_put_hdgst(p, 24, false);
}

int raw_send(const struct raw *r, const struct raw_pdu *p)
{
	return test_write_all(r->fd, p->b, p->len);
}

int raw_read_pdu(int fd, uint8_t *pdu, size_t cap, size_t *len, int timeout_ms)
{
	struct nvme_tcp_common_hdr h;
	uint8_t scratch[4096];
	size_t left, keep;

	if (test_read_exact(fd, &h, sizeof(h), timeout_ms) != 0)
		return -1;
	memcpy(pdu, &h, sizeof(h));
	if (h.plen < sizeof(h))
		return -1;
	left = h.plen - sizeof(h);
	keep = left < cap - sizeof(h) ? left : cap - sizeof(h);
	if (test_read_exact(fd, pdu + sizeof(h), keep, timeout_ms) != 0)
		return -1;
	for (left -= keep; left > 0;) {
		size_t n = left < sizeof(scratch) ? left : sizeof(scratch);

		if (test_read_exact(fd, scratch, n, timeout_ms) != 0)
			return -1;
		left -= n;
	}
	*len = h.plen;
	return 0;
}

bool raw_handshake(struct raw *r, uint8_t dgst)
{
	struct raw_pdu p;
	uint8_t buf[256];
	const struct nvme_tcp_icresp *rsp = (const void *)buf;
	size_t len;

	raw_icreq(&p, dgst);
	((struct nvme_tcp_icreq *)p.b)->maxr2t = r->maxr2t;
	if (raw_send(r, &p) != 0 || raw_read_pdu(r->fd, buf, sizeof(buf), &len, RAW_WAIT_MS) != 0) {
		fprintf(stderr, "no ICResp\n");
		return false;
	}
	if (rsp->ch.pdu_type != NVME_TCP_PDU_ICRESP || rsp->dgst != dgst) {
		fprintf(stderr, "bad ICResp: type %#x dgst %#x\n", rsp->ch.pdu_type, rsp->dgst);
		return false;
	}
	r->hd = (dgst & NVME_TCP_DGST_HDGST) != 0;
	r->dd = (dgst & NVME_TCP_DGST_DDGST) != 0;
	r->maxh2cdata = rsp->maxh2cdata;
	return true;
}

bool raw_solicit(struct raw *r)
{
	struct raw_pdu p;
	uint8_t buf[256];
	const struct nvme_tcp_r2t_hdr *r2t = (const void *)buf;
	size_t len;

	r->cid = RAW_SOLICIT_CID;
	raw_write_cmd(&p, r, r->cid, RAW_SOLICIT_LEN, false);
	if (raw_send(r, &p) != 0 || raw_read_pdu(r->fd, buf, sizeof(buf), &len, RAW_WAIT_MS) != 0) {
		fprintf(stderr, "no answer to the write that should draw an R2T\n");
		return false;
	}
	if (r2t->ch.pdu_type != NVME_TCP_PDU_R2T || r2t->cccid != r->cid ||
	    r2t->r2tl != RAW_SOLICIT_LEN) {
		fprintf(stderr, "expected an R2T for cid %u, %u bytes; got type %#x (cid %u, %u bytes)\n",
			r->cid, RAW_SOLICIT_LEN, r2t->ch.pdu_type, r2t->cccid, r2t->r2tl);
		return false;
	}
	r->ttag = r2t->ttag;
	r->r2to = r2t->r2to;
	r->r2tl = r2t->r2tl;
	return true;
}

bool raw_expect_term(int fd, uint8_t type, uint16_t fes, uint32_t fei, const uint8_t *sent,
		     size_t sent_len)
{
	uint8_t buf[256];
	size_t len = 0;
	const struct nvme_tcp_term_req_hdr *t = (const void *)buf;
	bool ok = true;

	/* Data the peer had queued before it saw the error may come first. */
	do {
		if (raw_read_pdu(fd, buf, sizeof(buf), &len, RAW_WAIT_MS) != 0) {
			fprintf(stderr, "answer: no TermReq received\n");
			return false;
		}
	} while (t->ch.pdu_type == NVME_TCP_PDU_H2C_DATA || t->ch.pdu_type == NVME_TCP_PDU_C2H_DATA);
	if (t->ch.pdu_type != type || t->ch.hlen != 24 || t->ch.pdo != 0 || t->ch.flags != 0) {
		fprintf(stderr, "answer: not a TermReq: type %#x\n", t->ch.pdu_type);
		return false;
	}
	fprintf(stderr, "answer: TermReq FES %#x FEI %u with %zu header bytes\n", t->fes, t->fei,
		len - 24);
	if (t->fes != fes || t->fei != fei) {
		fprintf(stderr, "expected FES %#x FEI %u\n", fes, fei);
		ok = false;
	}
	/* It carries (up to 128 bytes of) the offending header. */
	if (len <= 24 || len > 24 + 128) {
		fprintf(stderr, "TermReq carries %zu bytes of header\n", len - 24);
		ok = false;
	} else if (sent != NULL) {
		/* Every byte it copied, not just the common header; and only the
		 * header (its HLEN, at least the 8-byte common header), never the
		 * payload behind it. */
		size_t n = len - 24 < sent_len ? len - 24 : sent_len;
		size_t hlen = sent_len > 2 && sent[2] > 8 ? sent[2] : 8;

		if (len - 24 > hlen) {
			fprintf(stderr, "TermReq copies %zu bytes, past the %zu-byte header\n",
				len - 24, hlen);
			ok = false;
		}

		for (size_t i = 0; i < n; i++)
			if (buf[24 + i] != sent[i]) {
				fprintf(stderr,
					"TermReq's copy of the offending header differs at byte %zu "
					"(%#x, sent %#x)\n",
					i, buf[24 + i], sent[i]);
				ok = false;
				break;
			}
	}
	if (test_wait_eof(fd, RAW_WAIT_MS) != 0) {
		fprintf(stderr, "connection not closed after the TermReq\n");
		ok = false;
	}
	return ok;
}

bool raw_expect_close(int fd)
{
	uint64_t deadline = test_now_us() + (uint64_t)RAW_WAIT_MS * 1000;
	uint8_t b[256];

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t now = test_now_us();
		ssize_t n;

		if (now >= deadline || poll(&pfd, 1, (int)((deadline - now) / 1000) + 1) <= 0) {
			fprintf(stderr, "answer: connection still open\n");
			return false;
		}
		n = recv(fd, b, sizeof(b), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			fprintf(stderr, "answer: connection closed without a reply\n");
			return true;
		}
		if (n > 0) {
			fprintf(stderr, "answer: %zd unexpected bytes (PDU type %#x) before the close\n",
				n, b[0]);
			return false;
		}
		if (errno != EINTR)
			return false;
	}
}

/* ------------------------------------------------------------------ */
/* Malformed PDUs sent to a controller                                 */
/* ------------------------------------------------------------------ */

static void b_unknown_type(struct raw_pdu *p, struct raw *r)
{
	raw_ch(p, 0x08, 0, 24, 0, 24);
}

static void b_wrong_direction(struct raw_pdu *p, struct raw *r)
{
	raw_ch(p, NVME_TCP_PDU_CAPSULE_RESP, 0, 24, 0, 24);
}

static void b_second_icreq(struct raw_pdu *p, struct raw *r)
{
	raw_icreq(p, 0);
}

static void b_cmd_bad_flag(struct raw_pdu *p, struct raw *r)
{
	raw_write_cmd(p, r, 1, 4096, false);
	p->b[1] |= NVME_TCP_FLAG_LAST_PDU;
}

static void b_cmd_unnegotiated_hdgst(struct raw_pdu *p, struct raw *r)
{
	raw_write_cmd(p, r, 1, 4096, false);
	p->b[1] |= NVME_TCP_FLAG_HDGSTF;
}

static void b_cmd_missing_hdgst(struct raw_pdu *p, struct raw *r)
{
	raw_write_cmd(p, r, 1, 4096, false);
	p->b[1] &= (uint8_t)~NVME_TCP_FLAG_HDGSTF;
}

static void b_cmd_bad_hlen(struct raw_pdu *p, struct raw *r)
{
	raw_write_cmd(p, r, 1, 4096, false);
	p->b[2] = 70;
}

static void b_cmd_pdo_inside_header(struct raw_pdu *p, struct raw *r)
{
	raw_write_cmd(p, r, 1, 512, true);
	p->b[3] = 64;
}

static void b_cmd_pdo_without_data(struct raw_pdu *p, struct raw *r)
{
	raw_write_cmd(p, r, 1, 4096, false);
	p->b[3] = 72;
}

static void b_cmd_short_plen(struct raw_pdu *p, struct raw *r)
{
	raw_write_cmd(p, r, 1, 4096, false);
	((struct nvme_tcp_common_hdr *)p->b)->plen = 16;
}

static void b_cmd_plen_4g(struct raw_pdu *p, struct raw *r)
{
	/* A 4 GiB in-capsule payload: must be refused, never allocated. */
	raw_write_cmd(p, r, 1, 512, true);
	((struct nvme_tcp_common_hdr *)p->b)->plen = 0xffffffffu;
	p->len = 72;
}

static void b_cmd_icd_over_limit(struct raw_pdu *p, struct raw *r)
{
	raw_write_cmd(p, r, 1, 12288, true); /* above the 8 KiB allowed on this queue */
}

static void b_h2c_unsolicited(struct raw_pdu *p, struct raw *r)
{
	r->cid = 7;
	r->ttag = 0;
	raw_h2c(p, r, 0, 512, true);
}

static void b_h2c_wrong_ttag(struct raw_pdu *p, struct raw *r)
{
	r->ttag ^= 0x100;
	raw_h2c(p, r, r->r2to, 4096, false);
}

static void b_h2c_wrong_cccid(struct raw_pdu *p, struct raw *r)
{
	r->cid++;
	raw_h2c(p, r, r->r2to, 4096, false);
}

static void b_h2c_datal_mismatch(struct raw_pdu *p, struct raw *r)
{
	raw_h2c(p, r, r->r2to, 4096, false);
	((struct nvme_tcp_h2c_data_hdr *)p->b)->datal = 4000;
	if (r->hd)
		raw_put_hdgst(p, 24, false);
}

static void b_h2c_over_maxh2cdata(struct raw_pdu *p, struct raw *r)
{
	raw_h2c(p, r, r->r2to, r->maxh2cdata + 4096, true);
}

static void b_h2c_out_of_range(struct raw_pdu *p, struct raw *r)
{
	raw_h2c(p, r, r->r2to + RAW_SOLICIT_LEN - 2048, 4096, true);
}

static void b_h2c_wrong_offset(struct raw_pdu *p, struct raw *r)
{
	raw_h2c(p, r, r->r2to + 4096, 4096, true);
}

static void b_h2c_early_last(struct raw_pdu *p, struct raw *r)
{
	raw_h2c(p, r, r->r2to, 4096, true); /* LAST_PDU, but 4 KiB remain */
}

static void b_h2c_missing_last(struct raw_pdu *p, struct raw *r)
{
	struct raw_pdu first;

	raw_h2c(&first, r, r->r2to, 4096, false);
	REQUIRE(raw_send(r, &first) == 0);
	raw_h2c(p, r, r->r2to + 4096, 4096, false); /* completes the R2T, no LAST_PDU */
}

/* H2CData common-header fields, each spoiled on its own (TCP 1.0a §3.6.2.8). */
static void b_h2c_success_flag(struct raw_pdu *p, struct raw *r)
{
	raw_h2c(p, r, r->r2to, RAW_SOLICIT_LEN / 2, false);
	p->b[1] |= NVME_TCP_FLAG_SUCCESS | NVME_TCP_FLAG_LAST_PDU; /* SUCCESS is C2H only */
	if (r->hd)
		raw_put_hdgst(p, 24, false);
}

static void b_h2c_bad_hlen(struct raw_pdu *p, struct raw *r)
{
	raw_h2c(p, r, r->r2to, 4096, false);
	p->b[2] = 20;
}

static void b_h2c_pdo_inside_header(struct raw_pdu *p, struct raw *r)
{
	raw_h2c(p, r, r->r2to, 4096, false);
	p->b[3] = 16;
}

static void b_h2c_pdo_unaligned(struct raw_pdu *p, struct raw *r)
{
	/* After the header and within the PDU, but not on a 4-byte boundary
	 * (CPDA 0). */
	raw_h2c(p, r, r->r2to, 4096, false);
	p->b[3] = 26;
}

static void b_h2c_pdo_beyond_plen(struct raw_pdu *p, struct raw *r)
{
	raw_h2c(p, r, r->r2to, 64, false); /* PLEN 88 */
	p->b[3] = 92;
}

static void b_h2c_plen_4g(struct raw_pdu *p, struct raw *r)
{
	/* Must be refused at the header, never read or allocated for. */
	raw_h2c(p, r, r->r2to, 4096, false);
	((struct nvme_tcp_common_hdr *)p->b)->plen = 0xffffffffu;
	p->len = 24;
}

static void b_h2c_no_room_for_ddgst(struct raw_pdu *p, struct raw *r)
{
	/* DDGSTF set, but PLEN leaves only the 4 digest bytes after PDO. */
	raw_h2c(p, r, r->r2to, 4096, false);
	((struct nvme_tcp_common_hdr *)p->b)->plen = 24 + NVME_TCP_DIGEST_LEN;
	p->len = 24 + NVME_TCP_DIGEST_LEN;
}

static void b_h2c_ddgst_error(struct raw_pdu *p, struct raw *r)
{
	struct raw_pdu first;

	raw_h2c(&first, r, r->r2to, 4096, false);
	raw_put_ddgst(&first, 24 + (r->hd ? 4u : 0u), 4096, true);
	REQUIRE(raw_send(r, &first) == 0);
	raw_h2c(p, r, r->r2to + 4096, 4096, true);
}

static void b_hdgst_error(struct raw_pdu *p, struct raw *r)
{
	raw_write_cmd(p, r, 1, 4096, false);
	raw_put_hdgst(p, 72, true);
}

static void b_icd_ddgst_error(struct raw_pdu *p, struct raw *r)
{
	raw_write_cmd(p, r, 9, 1024, true);
	raw_put_ddgst(p, 72 + (r->hd ? 4u : 0u), 1024, true);
}

/* Linux sends Property Get/Set with a zeroed SGL: no data, type 00h. */
static void b_zeroed_sgl(struct raw_pdu *p, struct raw *r)
{
	raw_write_cmd(p, r, 5, 0, false);
	((struct nvme_tcp_cmd *)p->b)->sqe.opc = NVME_IO_FLUSH;
	((struct nvme_tcp_cmd *)p->b)->sqe.sgl1.type = 0;
	if (r->hd)
		raw_put_hdgst(p, 72, false);
}

static void b_term_req(struct raw_pdu *p, struct raw *r)
{
	struct nvme_tcp_term_req_hdr *t = (struct nvme_tcp_term_req_hdr *)p->b;

	raw_ch(p, NVME_TCP_PDU_H2C_TERM_REQ, 0, 24, 0, 24);
	t->fes = NVME_TCP_FES_PDU_SEQUENCE_ERROR;
}

static void b_term_req_bad_plen(struct raw_pdu *p, struct raw *r)
{
	raw_ch(p, NVME_TCP_PDU_H2C_TERM_REQ, 0, 24, 0, 200);
	p->len = 24;
}

static void b_icreq_pfv(struct raw_pdu *p, struct raw *r)
{
	raw_icreq(p, 0);
	((struct nvme_tcp_icreq *)p->b)->pfv = 1;
}

static void b_icreq_hpda(struct raw_pdu *p, struct raw *r)
{
	raw_icreq(p, 0);
	((struct nvme_tcp_icreq *)p->b)->hpda = 32;
}

static void b_icreq_dgst_reserved(struct raw_pdu *p, struct raw *r)
{
	raw_icreq(p, 0x04);
}

static void b_icreq_plen(struct raw_pdu *p, struct raw *r)
{
	raw_icreq(p, 0);
	((struct nvme_tcp_common_hdr *)p->b)->plen = 129;
	p->len = 129;
}

static void b_icreq_flags(struct raw_pdu *p, struct raw *r)
{
	raw_icreq(p, 0);
	p->b[1] = NVME_TCP_FLAG_HDGSTF; /* ICReq never carries a digest */
}

static void b_icreq_hlen(struct raw_pdu *p, struct raw *r)
{
	raw_icreq(p, 0);
	p->b[2] = 120;
}

static void b_icreq_pdo(struct raw_pdu *p, struct raw *r)
{
	raw_icreq(p, 0);
	p->b[3] = 8;
}

static void b_cmd_before_icreq(struct raw_pdu *p, struct raw *r)
{
	raw_write_cmd(p, r, 1, 4096, false);
}

#define FEI(t, f) offsetof(struct t, f)

const struct raw_ctrl_case raw_ctrl_cases[] = {
	{.name = "unknown PDU type", .build = b_unknown_type, .fes = 1, .fei = 0},
	{.name = "controller-to-host type", .build = b_wrong_direction, .fes = 1, .fei = 0},
	{.name = "second ICReq", .build = b_second_icreq, .fes = 1, .fei = 0},
	{.name = "command before ICReq", .no_icreq = true, .build = b_cmd_before_icreq,
	 .fes = 1, .fei = 0},
	{.name = "flag not valid for the type", .build = b_cmd_bad_flag, .fes = 1, .fei = 1},
	{.name = "header digest not negotiated", .build = b_cmd_unnegotiated_hdgst,
	 .fes = 1, .fei = 1},
	{.name = "negotiated header digest missing", .dgst = NVME_TCP_DGST_HDGST,
	 .build = b_cmd_missing_hdgst, .fes = 1, .fei = 1},
	{.name = "wrong HLEN", .build = b_cmd_bad_hlen, .fes = 1, .fei = 2},
	{.name = "PDO inside the header", .build = b_cmd_pdo_inside_header, .fes = 1, .fei = 3},
	{.name = "PDO without data", .build = b_cmd_pdo_without_data, .fes = 1, .fei = 3},
	{.name = "PLEN shorter than the header", .build = b_cmd_short_plen, .fes = 1, .fei = 4},
	{.name = "PLEN of 4 GiB", .build = b_cmd_plen_4g, .fes = 1, .fei = 4},
	{.name = "in-capsule data over the limit", .build = b_cmd_icd_over_limit, .fes = 1,
	 .fei = 4},
	{.name = "header digest error", .dgst = NVME_TCP_DGST_HDGST, .build = b_hdgst_error,
	 .fes = 3, .fei = 0},
	{.name = "H2CData without an R2T", .build = b_h2c_unsolicited, .fes = 1,
	 .fei = FEI(nvme_tcp_h2c_data_hdr, ttag)},
	{.name = "H2CData with a wrong transfer tag", .solicit = true, .build = b_h2c_wrong_ttag,
	 .fes = 1, .fei = FEI(nvme_tcp_h2c_data_hdr, ttag)},
	{.name = "H2CData with a wrong CCCID", .solicit = true, .build = b_h2c_wrong_cccid,
	 .fes = 1, .fei = FEI(nvme_tcp_h2c_data_hdr, cccid)},
	{.name = "H2CData DATAL not the PDU's data", .solicit = true,
	 .build = b_h2c_datal_mismatch, .fes = 1, .fei = FEI(nvme_tcp_h2c_data_hdr, datal)},
	{.name = "H2CData with the SUCCESS flag", .solicit = true, .build = b_h2c_success_flag,
	 .fes = 1, .fei = FEI(nvme_tcp_common_hdr, flags)},
	{.name = "H2CData wrong HLEN", .solicit = true, .build = b_h2c_bad_hlen, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, hlen)},
	{.name = "H2CData PDO inside the header", .solicit = true,
	 .build = b_h2c_pdo_inside_header, .fes = 1, .fei = FEI(nvme_tcp_common_hdr, pdo)},
	{.name = "H2CData PDO not aligned", .solicit = true, .build = b_h2c_pdo_unaligned,
	 .fes = 1, .fei = FEI(nvme_tcp_common_hdr, pdo)},
	{.name = "H2CData PDO beyond PLEN", .solicit = true, .build = b_h2c_pdo_beyond_plen,
	 .fes = 1, .fei = FEI(nvme_tcp_common_hdr, pdo)},
	{.name = "H2CData PLEN of 4 GiB", .solicit = true, .build = b_h2c_plen_4g, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, plen)},
	{.name = "H2CData PLEN without room for the data digest", .dgst = NVME_TCP_DGST_DDGST,
	 .solicit = true, .build = b_h2c_no_room_for_ddgst, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, plen)},
	{.name = "H2CData over MAXH2CDATA", .solicit = true, .build = b_h2c_over_maxh2cdata,
	 .fes = 5},
	{.name = "H2CData out of the R2T's range", .solicit = true, .build = b_h2c_out_of_range,
	 .fes = 4},
	{.name = "H2CData at the wrong offset", .solicit = true, .build = b_h2c_wrong_offset,
	 .fes = 2},
	{.name = "H2CData LAST_PDU too early", .solicit = true, .build = b_h2c_early_last,
	 .fes = 2},
	{.name = "H2CData missing LAST_PDU", .solicit = true, .build = b_h2c_missing_last,
	 .fes = 2},
	{.name = "ICReq PFV 1", .no_icreq = true, .build = b_icreq_pfv, .fes = 6,
	 .fei = FEI(nvme_tcp_icreq, pfv)},
	{.name = "ICReq HPDA 32", .no_icreq = true, .build = b_icreq_hpda, .fes = 6,
	 .fei = FEI(nvme_tcp_icreq, hpda)},
	{.name = "ICReq reserved digest bit", .no_icreq = true, .build = b_icreq_dgst_reserved,
	 .fes = 1, .fei = FEI(nvme_tcp_icreq, dgst)},
	{.name = "ICReq with a flag", .no_icreq = true, .build = b_icreq_flags, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, flags)},
	{.name = "ICReq HLEN 120", .no_icreq = true, .build = b_icreq_hlen, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, hlen)},
	{.name = "ICReq with PDO", .no_icreq = true, .build = b_icreq_pdo, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, pdo)},
	{.name = "ICReq PLEN 129", .no_icreq = true, .build = b_icreq_plen, .fes = 1, .fei = 4},
	{.name = "command without data, zeroed SGL", .build = b_zeroed_sgl,
	 .expect = RAW_EXPECT_STATUS, .status = 0},
	{.name = "TermReq from the host", .build = b_term_req, .expect = RAW_EXPECT_CLOSE,
	 .error = ECONNRESET},
	{.name = "TermReq with a bad PLEN", .build = b_term_req_bad_plen,
	 .expect = RAW_EXPECT_CLOSE},
	{.name = "data digest error in H2CData", .dgst = NVME_TCP_DGST_DDGST, .solicit = true,
	 .build = b_h2c_ddgst_error, .expect = RAW_EXPECT_STATUS,
	 .status = NVME_SC_TRANSIENT_TRANSPORT_ERROR},
	{.name = "data digest error in in-capsule data", .dgst = NVME_TCP_DGST_DDGST,
	 .build = b_icd_ddgst_error, .expect = RAW_EXPECT_STATUS,
	 .status = NVME_SC_TRANSIENT_TRANSPORT_ERROR},
	{.name = "all digests, H2CData at the wrong offset",
	 .dgst = NVME_TCP_DGST_HDGST | NVME_TCP_DGST_DDGST, .solicit = true,
	 .build = b_h2c_wrong_offset, .fes = 2},
};

const size_t raw_nctrl_cases = sizeof(raw_ctrl_cases) / sizeof(raw_ctrl_cases[0]);
