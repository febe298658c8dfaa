/* SPDX-License-Identifier: MIT */
/*
 * Malformed PDUs, table-driven: a raw socket plays the peer of a real
 * queue pair and sends one bad PDU per case.  The queue pair must answer
 * with a TermReq carrying the FES and FEI the specification gives (and a
 * copy of the offending header), close the connection, and report the
 * error; or, for non-fatal faults, answer the command with an error status
 * and keep serving.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/loopback.h"
#include "util/crc32c.h"
#include "util/test_util.h"

#define WAIT_MS 5000

/* The raw peer's view of the connection. */
struct raw {
	int fd;
	bool hd, dd;              /* digests negotiated */
	/* After an R2T was solicited: */
	uint16_t cid;
	uint16_t ttag;
	uint32_t r2to, r2tl;
};

enum expect {
	EXPECT_TERM,              /* a TermReq with fes/fei, then EOF */
	EXPECT_CLOSE,             /* EOF without a TermReq */
	EXPECT_STATUS,            /* a response with status, connection stays up */
};

struct pdu {
	uint8_t b[16384];
	size_t len;
};

static void ch(struct pdu *p, uint8_t type, uint8_t flags, uint8_t hlen, uint8_t pdo,
	       uint32_t plen)
{
	struct nvme_tcp_common_hdr h = {.pdu_type = type, .flags = flags, .hlen = hlen,
					.pdo = pdo, .plen = plen};

	memset(p->b, 0, sizeof(p->b));
	memcpy(p->b, &h, sizeof(h));
	p->len = plen < sizeof(p->b) ? plen : sizeof(p->b);
}

/* A header digest over the first hlen bytes, placed right after them. */
static void put_hdgst(struct pdu *p, uint8_t hlen, bool corrupt)
{
	uint32_t crc = nvmf_crc32c(p->b, hlen) ^ (corrupt ? 1u : 0u);

	memcpy(p->b + hlen, &crc, sizeof(crc));
}

static void put_ddgst(struct pdu *p, size_t data_off, size_t data_len, bool corrupt)
{
	uint32_t crc = nvmf_crc32c(p->b + data_off, data_len) ^ (corrupt ? 1u : 0u);

	memcpy(p->b + data_off + data_len, &crc, sizeof(crc));
}

static void icreq(struct pdu *p, uint8_t dgst)
{
	struct nvme_tcp_icreq *req = (struct nvme_tcp_icreq *)p->b;

	ch(p, NVME_TCP_PDU_ICREQ, 0, 128, 0, 128);
	req->dgst = dgst;
}

/* A CapsuleCmd: Write of len bytes, in the capsule if icd, else by R2T. */
static void write_cmd(struct pdu *p, const struct raw *r, uint16_t cid, uint32_t len, bool icd)
{
	uint32_t hd = r->hd ? 4 : 0, dd = r->dd && icd ? 4 : 0;
	uint32_t pdo = icd ? 72 + hd : 0;
	struct nvme_tcp_cmd *cmd = (struct nvme_tcp_cmd *)p->b;

	ch(p, NVME_TCP_PDU_CAPSULE_CMD,
	   (uint8_t)((hd ? NVME_TCP_FLAG_HDGSTF : 0) | (dd ? NVME_TCP_FLAG_DDGSTF : 0)), 72,
	   (uint8_t)pdo, 72 + hd + (icd ? len + dd : 0));
	cmd->sqe.opc = NVME_IO_WRITE;
	cmd->sqe.flags = NVME_SQE_PSDT_SGL;
	cmd->sqe.cid = cid;
	cmd->sqe.sgl1.length = len;
	cmd->sqe.sgl1.type = icd ? NVME_SGL_ID_ICD : NVME_SGL_ID_TRANSPORT;
	if (icd) {
		test_fill(p->b + pdo, len, cid);
		if (dd)
			put_ddgst(p, pdo, len, false);
	}
	if (hd)
		put_hdgst(p, 72, false);
}

/* An H2CData PDU answering the solicited R2T, with datal bytes of data. */
static void h2c(struct pdu *p, const struct raw *r, uint32_t datao, uint32_t datal, bool last)
{
	uint32_t hd = r->hd ? 4 : 0, dd = r->dd ? 4 : 0;
	struct nvme_tcp_h2c_data_hdr *h = (struct nvme_tcp_h2c_data_hdr *)p->b;

	ch(p, NVME_TCP_PDU_H2C_DATA,
	   (uint8_t)((hd ? NVME_TCP_FLAG_HDGSTF : 0) | (dd ? NVME_TCP_FLAG_DDGSTF : 0) |
		     (last ? NVME_TCP_FLAG_LAST_PDU : 0)),
	   24, (uint8_t)(24 + hd), 24 + hd + datal + dd);
	h->cccid = r->cid;
	h->ttag = r->ttag;
	h->datao = datao;
	h->datal = datal;
	test_fill(p->b + 24 + hd, datal, datao);
	if (dd)
		put_ddgst(p, 24 + hd, datal, false);
	if (hd)
		put_hdgst(p, 24, false);
}

/* ------------------------------------------------------------------ */
/* Controller role: the raw socket is the host                         */
/* ------------------------------------------------------------------ */

struct ctrl_case {
	const char *name;
	bool no_icreq;            /* the bad PDU comes before ICReq */
	uint8_t dgst;             /* digests asked for in ICReq */
	bool solicit;             /* first get an R2T for an 8 KiB write */
	void (*build)(struct pdu *p, struct raw *r);
	enum expect expect;
	uint16_t fes;
	uint32_t fei;
	uint16_t status;          /* EXPECT_STATUS */
	int error;                /* what the controller qpair reports */
};

static void b_unknown_type(struct pdu *p, struct raw *r)
{
	ch(p, 0x08, 0, 24, 0, 24);
}

static void b_wrong_direction(struct pdu *p, struct raw *r)
{
	ch(p, NVME_TCP_PDU_CAPSULE_RESP, 0, 24, 0, 24);
}

static void b_second_icreq(struct pdu *p, struct raw *r)
{
	icreq(p, 0);
}

static void b_cmd_bad_flag(struct pdu *p, struct raw *r)
{
	write_cmd(p, r, 1, 4096, false);
	p->b[1] |= NVME_TCP_FLAG_LAST_PDU;
}

static void b_cmd_unnegotiated_hdgst(struct pdu *p, struct raw *r)
{
	write_cmd(p, r, 1, 4096, false);
	p->b[1] |= NVME_TCP_FLAG_HDGSTF;
}

static void b_cmd_missing_hdgst(struct pdu *p, struct raw *r)
{
	write_cmd(p, r, 1, 4096, false);
	p->b[1] &= (uint8_t)~NVME_TCP_FLAG_HDGSTF;
}

static void b_cmd_bad_hlen(struct pdu *p, struct raw *r)
{
	write_cmd(p, r, 1, 4096, false);
	p->b[2] = 70;
}

static void b_cmd_pdo_inside_header(struct pdu *p, struct raw *r)
{
	write_cmd(p, r, 1, 512, true);
	p->b[3] = 64;
}

static void b_cmd_pdo_without_data(struct pdu *p, struct raw *r)
{
	write_cmd(p, r, 1, 4096, false);
	p->b[3] = 72;
}

static void b_cmd_short_plen(struct pdu *p, struct raw *r)
{
	write_cmd(p, r, 1, 4096, false);
	((struct nvme_tcp_common_hdr *)p->b)->plen = 16;
}

static void b_cmd_plen_4g(struct pdu *p, struct raw *r)
{
	/* A 4 GiB in-capsule payload: must be refused, never allocated. */
	write_cmd(p, r, 1, 512, true);
	((struct nvme_tcp_common_hdr *)p->b)->plen = 0xffffffffu;
	p->len = 72;
}

static void b_cmd_icd_over_limit(struct pdu *p, struct raw *r)
{
	write_cmd(p, r, 1, 12288, true); /* above the 8 KiB allowed on this queue */
}

static void b_h2c_unsolicited(struct pdu *p, struct raw *r)
{
	r->cid = 7;
	r->ttag = 0;
	h2c(p, r, 0, 512, true);
}

static void b_h2c_wrong_ttag(struct pdu *p, struct raw *r)
{
	r->ttag ^= 0x100;
	h2c(p, r, r->r2to, 4096, false);
}

static void b_h2c_wrong_cccid(struct pdu *p, struct raw *r)
{
	r->cid++;
	h2c(p, r, r->r2to, 4096, false);
}

static void b_h2c_datal_mismatch(struct pdu *p, struct raw *r)
{
	h2c(p, r, r->r2to, 4096, false);
	((struct nvme_tcp_h2c_data_hdr *)p->b)->datal = 4000;
	if (r->hd)
		put_hdgst(p, 24, false);
}

static void b_h2c_over_maxh2cdata(struct pdu *p, struct raw *r)
{
	h2c(p, r, r->r2to, 8192, true); /* MAXH2CDATA is 4096 here */
}

static void b_h2c_out_of_range(struct pdu *p, struct raw *r)
{
	h2c(p, r, r->r2to + 6144, 4096, true);
}

static void b_h2c_wrong_offset(struct pdu *p, struct raw *r)
{
	h2c(p, r, r->r2to + 4096, 4096, true);
}

static void b_h2c_early_last(struct pdu *p, struct raw *r)
{
	h2c(p, r, r->r2to, 4096, true); /* LAST_PDU, but 4 KiB remain */
}

static void b_h2c_missing_last(struct pdu *p, struct raw *r)
{
	struct pdu first;

	h2c(&first, r, r->r2to, 4096, false);
	REQUIRE(test_write_all(r->fd, first.b, first.len) == 0);
	h2c(p, r, r->r2to + 4096, 4096, false); /* completes the R2T, no LAST_PDU */
}

static void b_h2c_ddgst_error(struct pdu *p, struct raw *r)
{
	struct pdu first;

	h2c(&first, r, r->r2to, 4096, false);
	put_ddgst(&first, 24 + (r->hd ? 4u : 0u), 4096, true);
	REQUIRE(test_write_all(r->fd, first.b, first.len) == 0);
	h2c(p, r, r->r2to + 4096, 4096, true);
}

static void b_hdgst_error(struct pdu *p, struct raw *r)
{
	write_cmd(p, r, 1, 4096, false);
	put_hdgst(p, 72, true);
}

static void b_icd_ddgst_error(struct pdu *p, struct raw *r)
{
	write_cmd(p, r, 9, 1024, true);
	put_ddgst(p, 72 + (r->hd ? 4u : 0u), 1024, true);
}

/* Linux sends Property Get/Set with a zeroed SGL: no data, type 00h. */
static void b_zeroed_sgl(struct pdu *p, struct raw *r)
{
	write_cmd(p, r, 5, 0, false);
	((struct nvme_tcp_cmd *)p->b)->sqe.opc = NVME_IO_FLUSH;
	((struct nvme_tcp_cmd *)p->b)->sqe.sgl1.type = 0;
	if (r->hd)
		put_hdgst(p, 72, false);
}

static void b_term_req(struct pdu *p, struct raw *r)
{
	struct nvme_tcp_term_req_hdr *t = (struct nvme_tcp_term_req_hdr *)p->b;

	ch(p, NVME_TCP_PDU_H2C_TERM_REQ, 0, 24, 0, 24);
	t->fes = NVME_TCP_FES_PDU_SEQUENCE_ERROR;
}

static void b_term_req_bad_plen(struct pdu *p, struct raw *r)
{
	ch(p, NVME_TCP_PDU_H2C_TERM_REQ, 0, 24, 0, 200);
	p->len = 24;
}

static void b_icreq_pfv(struct pdu *p, struct raw *r)
{
	icreq(p, 0);
	((struct nvme_tcp_icreq *)p->b)->pfv = 1;
}

static void b_icreq_hpda(struct pdu *p, struct raw *r)
{
	icreq(p, 0);
	((struct nvme_tcp_icreq *)p->b)->hpda = 32;
}

static void b_icreq_dgst_reserved(struct pdu *p, struct raw *r)
{
	icreq(p, 0x04);
}

static void b_icreq_plen(struct pdu *p, struct raw *r)
{
	icreq(p, 0);
	((struct nvme_tcp_common_hdr *)p->b)->plen = 129;
	p->len = 129;
}

static void b_cmd_before_icreq(struct pdu *p, struct raw *r)
{
	write_cmd(p, r, 1, 4096, false);
}

#define FEI(t, f) offsetof(struct t, f)

static const struct ctrl_case ctrl_cases[] = {
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
	{.name = "ICReq PLEN 129", .no_icreq = true, .build = b_icreq_plen, .fes = 1, .fei = 4},
	{.name = "command without data, zeroed SGL", .build = b_zeroed_sgl,
	 .expect = EXPECT_STATUS, .status = 0},
	{.name = "TermReq from the host", .build = b_term_req, .expect = EXPECT_CLOSE,
	 .error = ECONNRESET},
	{.name = "TermReq with a bad PLEN", .build = b_term_req_bad_plen, .expect = EXPECT_CLOSE},
	{.name = "data digest error in H2CData", .dgst = NVME_TCP_DGST_DDGST, .solicit = true,
	 .build = b_h2c_ddgst_error, .expect = EXPECT_STATUS,
	 .status = NVME_SC_TRANSIENT_TRANSPORT_ERROR},
	{.name = "data digest error in in-capsule data", .dgst = NVME_TCP_DGST_DDGST,
	 .build = b_icd_ddgst_error, .expect = EXPECT_STATUS,
	 .status = NVME_SC_TRANSIENT_TRANSPORT_ERROR},
	{.name = "all digests, H2CData at the wrong offset",
	 .dgst = NVME_TCP_DGST_HDGST | NVME_TCP_DGST_DDGST, .solicit = true,
	 .build = b_h2c_wrong_offset, .fes = 2},
};

/* Read one PDU; up to cap bytes are kept in pdu, the rest is discarded. */
static int read_pdu(int fd, uint8_t *pdu, size_t cap, size_t *len)
{
	struct nvme_tcp_common_hdr h;
	uint8_t scratch[4096];
	size_t left, keep;

	if (test_read_exact(fd, &h, sizeof(h), WAIT_MS) != 0)
		return -1;
	memcpy(pdu, &h, sizeof(h));
	if (h.plen < sizeof(h))
		return -1;
	left = h.plen - sizeof(h);
	keep = left < cap - sizeof(h) ? left : cap - sizeof(h);
	if (test_read_exact(fd, pdu + sizeof(h), keep, WAIT_MS) != 0)
		return -1;
	for (left -= keep; left > 0;) {
		size_t n = left < sizeof(scratch) ? left : sizeof(scratch);

		if (test_read_exact(fd, scratch, n, WAIT_MS) != 0)
			return -1;
		left -= n;
	}
	*len = h.plen;
	return 0;
}

static bool expect_term(int fd, uint8_t type, uint16_t fes, uint32_t fei, const uint8_t *sent,
			size_t sent_len)
{
	uint8_t buf[256];
	size_t len = 0;
	const struct nvme_tcp_term_req_hdr *t = (const void *)buf;
	bool ok = true;

	/* Data the peer had queued before it saw the error may come first. */
	do {
		if (read_pdu(fd, buf, sizeof(buf), &len) != 0) {
			fprintf(stderr, "no TermReq received\n");
			return false;
		}
	} while (t->ch.pdu_type == NVME_TCP_PDU_H2C_DATA || t->ch.pdu_type == NVME_TCP_PDU_C2H_DATA);
	if (t->ch.pdu_type != type || t->ch.hlen != 24 || t->ch.pdo != 0 || t->ch.flags != 0) {
		fprintf(stderr, "not a TermReq: type %#x\n", t->ch.pdu_type);
		return false;
	}
	if (t->fes != fes || t->fei != fei) {
		fprintf(stderr, "TermReq FES %#x FEI %u, expected FES %#x FEI %u\n", t->fes, t->fei,
			fes, fei);
		ok = false;
	}
	/* It carries (up to 128 bytes of) the offending header. */
	if (len <= 24 || len > 24 + 128) {
		fprintf(stderr, "TermReq carries %zu bytes of header\n", len - 24);
		ok = false;
	} else if (sent != NULL) {
		size_t n = len - 24 < sent_len ? len - 24 : sent_len;

		if (memcmp(buf + 24, sent, n < 8 ? n : 8) != 0) {
			fprintf(stderr, "TermReq does not echo the offending header\n");
			ok = false;
		}
	}
	if (test_wait_eof(fd, WAIT_MS) != 0) {
		fprintf(stderr, "connection not closed after the TermReq\n");
		ok = false;
	}
	return ok;
}

static void run_ctrl_case(const struct ctrl_case *c)
{
	struct loopback_config cfg = loopback_defaults();
	struct raw r = {.fd = -1};
	struct loopback *lb;
	struct pdu *p = calloc(1, sizeof(*p));
	uint8_t buf[256];
	size_t len;
	int cfd, sfd;

	test_begin(c->name);
	REQUIRE(p != NULL);
	cfg.maxh2cdata = 4096;
	cfg.max_icd = 8192;
	test_tcp_pair(&cfd, &sfd);
	lb = loopback_open_controller(&cfg, sfd);
	r.fd = cfd;
	r.hd = (c->dgst & NVME_TCP_DGST_HDGST) != 0;
	r.dd = (c->dgst & NVME_TCP_DGST_DDGST) != 0;

	if (!c->no_icreq) {
		icreq(p, c->dgst);
		REQUIRE(test_write_all(cfd, p->b, p->len) == 0);
		REQUIRE(read_pdu(cfd, buf, sizeof(buf), &len) == 0);
		CHECK_EQ(buf[0], NVME_TCP_PDU_ICRESP);
		CHECK_EQ(((struct nvme_tcp_icresp *)buf)->dgst, c->dgst);
	}
	if (c->solicit) {
		const struct nvme_tcp_r2t_hdr *r2t = (const void *)buf;

		r.cid = 42;
		write_cmd(p, &r, r.cid, 8192, false);
		REQUIRE(test_write_all(cfd, p->b, p->len) == 0);
		REQUIRE(read_pdu(cfd, buf, sizeof(buf), &len) == 0);
		REQUIRE(buf[0] == NVME_TCP_PDU_R2T);
		CHECK_EQ(r2t->cccid, r.cid);
		CHECK_EQ(r2t->r2tl, 8192);
		r.ttag = r2t->ttag;
		r.r2to = r2t->r2to;
		r.r2tl = r2t->r2tl;
	}
	c->build(p, &r);
	REQUIRE(test_write_all(cfd, p->b, p->len) == 0);

	switch (c->expect) {
	case EXPECT_TERM:
		CHECK(expect_term(cfd, NVME_TCP_PDU_C2H_TERM_REQ, c->fes, c->fei, p->b, p->len));
		CHECK_EQ(loopback_wait_ctrl_error(lb, WAIT_MS), EPROTO);
		break;
	case EXPECT_CLOSE:
		CHECK_EQ(test_wait_eof(cfd, WAIT_MS), 0);
		CHECK_EQ(loopback_wait_ctrl_error(lb, WAIT_MS), c->error ? c->error : EPROTO);
		break;
	case EXPECT_STATUS: {
		const struct nvme_tcp_rsp *rsp = (const void *)buf;

		REQUIRE(read_pdu(cfd, buf, sizeof(buf), &len) == 0);
		CHECK_EQ(rsp->ch.pdu_type, NVME_TCP_PDU_CAPSULE_RESP);
		CHECK_EQ(NVME_STATUS_SC(NVME_CQE_TO_STATUS(rsp->cqe.status)), c->status);
		/* ... and the connection still serves: a good write completes. */
		write_cmd(p, &r, 77, 512, true);
		REQUIRE(test_write_all(cfd, p->b, p->len) == 0);
		REQUIRE(read_pdu(cfd, buf, sizeof(buf), &len) == 0);
		CHECK_EQ(rsp->ch.pdu_type, NVME_TCP_PDU_CAPSULE_RESP);
		CHECK_EQ(rsp->cqe.cid, 77);
		CHECK_EQ(rsp->cqe.status, 0);
		CHECK(test_verify(lb->store, 512, 77));
		CHECK_EQ(loopback_wait_ctrl_error(lb, 0), -1);
		break;
	}
	}
	close(cfd);
	loopback_close(lb);
	free(p);
	test_end();
}

/* ------------------------------------------------------------------ */
/* Host role: the raw socket is the controller                         */
/* ------------------------------------------------------------------ */

struct host_case {
	const char *name;
	uint8_t dgst;             /* digests the host asks for */
	uint32_t maxr2t;
	void (*icresp)(struct nvme_tcp_icresp *rsp); /* spoil the ICResp */
	/* After a good ICResp, with a read (cid 1, 8 KiB) and a write (cid 2,
	 * 16 KiB) outstanding: */
	void (*build)(struct pdu *p, struct raw *r);
	enum expect expect;
	uint16_t fes;
	uint32_t fei;
};

static void i_pfv(struct nvme_tcp_icresp *rsp) { rsp->pfv = 1; }
static void i_cpda(struct nvme_tcp_icresp *rsp) { rsp->cpda = 40; }
static void i_maxh2cdata(struct nvme_tcp_icresp *rsp) { rsp->maxh2cdata = 1000; }
static void i_unasked_digest(struct nvme_tcp_icresp *rsp) { rsp->dgst |= NVME_TCP_DGST_DDGST; }
static void i_plen(struct nvme_tcp_icresp *rsp) { rsp->ch.plen = 120; }

static void c2h(struct pdu *p, const struct raw *r, uint16_t cid, uint32_t datao,
		uint32_t datal, uint8_t extra_flags)
{
	uint32_t hd = r->hd ? 4 : 0, dd = r->dd ? 4 : 0;
	struct nvme_tcp_c2h_data_hdr *h = (struct nvme_tcp_c2h_data_hdr *)p->b;

	ch(p, NVME_TCP_PDU_C2H_DATA,
	   (uint8_t)((hd ? NVME_TCP_FLAG_HDGSTF : 0) | (dd ? NVME_TCP_FLAG_DDGSTF : 0) |
		     extra_flags),
	   24, (uint8_t)(24 + hd), 24 + hd + datal + dd);
	h->cccid = cid;
	h->datao = datao;
	h->datal = datal;
	test_fill(p->b + 24 + hd, datal, datao);
	if (dd)
		put_ddgst(p, 24 + hd, datal, false);
	if (hd)
		put_hdgst(p, 24, false);
}

static void r2t(struct pdu *p, const struct raw *r, uint16_t cid, uint16_t ttag, uint32_t off,
		uint32_t len)
{
	uint32_t hd = r->hd ? 4 : 0;
	struct nvme_tcp_r2t_hdr *h = (struct nvme_tcp_r2t_hdr *)p->b;

	ch(p, NVME_TCP_PDU_R2T, hd ? NVME_TCP_FLAG_HDGSTF : 0, 24, 0, 24 + hd);
	h->cccid = cid;
	h->ttag = ttag;
	h->r2to = off;
	h->r2tl = len;
	if (hd)
		put_hdgst(p, 24, false);
}

static void h_c2h_unknown_cid(struct pdu *p, struct raw *r) { c2h(p, r, 99, 0, 4096, 0); }
static void h_c2h_for_write(struct pdu *p, struct raw *r) { c2h(p, r, 2, 0, 4096, 0); }
static void h_c2h_wrong_offset(struct pdu *p, struct raw *r) { c2h(p, r, 1, 4096, 4096, 4); }
static void h_c2h_out_of_range(struct pdu *p, struct raw *r) { c2h(p, r, 1, 0, 12288, 4); }
static void h_c2h_success_not_last(struct pdu *p, struct raw *r)
{
	c2h(p, r, 1, 0, 4096, NVME_TCP_FLAG_SUCCESS);
}
static void h_c2h_success_with_fc(struct pdu *p, struct raw *r)
{
	c2h(p, r, 1, 0, 8192, NVME_TCP_FLAG_LAST_PDU | NVME_TCP_FLAG_SUCCESS);
}
static void h_r2t_unknown_cid(struct pdu *p, struct raw *r) { r2t(p, r, 99, 1, 0, 4096); }
static void h_r2t_for_read(struct pdu *p, struct raw *r) { r2t(p, r, 1, 1, 0, 4096); }
static void h_r2t_zero(struct pdu *p, struct raw *r) { r2t(p, r, 2, 1, 0, 0); }
static void h_r2t_out_of_range(struct pdu *p, struct raw *r) { r2t(p, r, 2, 1, 8192, 16384); }
static void h_resp_pdo(struct pdu *p, struct raw *r)
{
	ch(p, NVME_TCP_PDU_CAPSULE_RESP, 0, 24, 24, 24);
}
static void h_hdgst_error(struct pdu *p, struct raw *r)
{
	c2h(p, r, 1, 0, 8192, NVME_TCP_FLAG_LAST_PDU);
	put_hdgst(p, 24, true);
}
static void h_icreq_to_host(struct pdu *p, struct raw *r) { icreq(p, 0); }

static const struct host_case host_cases[] = {
	{.name = "host: ICResp PFV 1", .icresp = i_pfv, .fes = 6, .fei = FEI(nvme_tcp_icresp, pfv)},
	{.name = "host: ICResp CPDA 40", .icresp = i_cpda, .fes = 6,
	 .fei = FEI(nvme_tcp_icresp, cpda)},
	{.name = "host: ICResp MAXH2CDATA 1000", .icresp = i_maxh2cdata, .fes = 1,
	 .fei = FEI(nvme_tcp_icresp, maxh2cdata)},
	{.name = "host: ICResp enables an unasked digest", .icresp = i_unasked_digest, .fes = 6,
	 .fei = FEI(nvme_tcp_icresp, dgst)},
	{.name = "host: ICResp PLEN 120", .icresp = i_plen, .fes = 1, .fei = 4},
	{.name = "host: ICReq sent to a host", .build = h_icreq_to_host, .fes = 1, .fei = 0},
	{.name = "host: C2HData for an unknown command", .build = h_c2h_unknown_cid, .fes = 1,
	 .fei = FEI(nvme_tcp_c2h_data_hdr, cccid)},
	{.name = "host: C2HData for a write", .build = h_c2h_for_write, .fes = 1,
	 .fei = FEI(nvme_tcp_c2h_data_hdr, cccid)},
	{.name = "host: C2HData at the wrong offset", .build = h_c2h_wrong_offset, .fes = 2},
	{.name = "host: C2HData beyond the buffer", .build = h_c2h_out_of_range, .fes = 4},
	{.name = "host: SUCCESS without LAST_PDU", .build = h_c2h_success_not_last, .fes = 1,
	 .fei = 1},
	{.name = "host: SUCCESS with SQ flow control on", .build = h_c2h_success_with_fc,
	 .fes = 1, .fei = 1},
	{.name = "host: R2T for an unknown command", .build = h_r2t_unknown_cid, .fes = 1,
	 .fei = FEI(nvme_tcp_r2t_hdr, cccid)},
	{.name = "host: R2T for a read", .build = h_r2t_for_read, .fes = 1,
	 .fei = FEI(nvme_tcp_r2t_hdr, cccid)},
	{.name = "host: zero-length R2T", .build = h_r2t_zero, .fes = 1,
	 .fei = FEI(nvme_tcp_r2t_hdr, r2tl)},
	{.name = "host: R2T beyond the buffer", .build = h_r2t_out_of_range, .fes = 4},
	{.name = "host: CapsuleResp with PDO", .build = h_resp_pdo, .fes = 1, .fei = 3},
	{.name = "host: header digest error", .dgst = NVME_TCP_DGST_HDGST,
	 .build = h_hdgst_error, .fes = 3, .fei = 0},
};

struct host_create {
	int fd;
	uint8_t dgst;
	uint32_t maxr2t;
	struct loopback *lb;
	struct nvmf_qpair *qp;
	int error;
};

static void *create_host_thread(void *arg)
{
	struct host_create *hc = arg;
	struct nvmf_qpair_params hp = {
		.trtype = NVMF_TRTYPE_TCP,
		.sq_flow_control = true,
		.qsize = 32,
		.engine = hc->lb->cfg.engine,
		.error_cb = loopback_host_error,
		.receive_cb = loopback_host_receive,
		.cb_arg = hc->lb,
		.tcp = {
			.fd = hc->fd,
			.header_digests = (hc->dgst & NVME_TCP_DGST_HDGST) != 0,
			.data_digests = (hc->dgst & NVME_TCP_DGST_DDGST) != 0,
			.maxr2t = hc->maxr2t,
			.max_icd = 0,
			.max_io_size = 1u << 20,
			.connect_timeout_ms = WAIT_MS,
		},
	};

	hc->qp = nvmf_qpair_create(&hp);
	hc->error = hc->qp == NULL ? errno : 0;
	return NULL;
}

static void run_host_case(const struct host_case *c)
{
	struct loopback_config cfg = loopback_defaults();
	struct host_create hc = {.dgst = c->dgst, .maxr2t = c->maxr2t};
	struct raw r = {.hd = (c->dgst & NVME_TCP_DGST_HDGST) != 0,
			.dd = (c->dgst & NVME_TCP_DGST_DDGST) != 0};
	struct pdu *p = calloc(1, sizeof(*p));
	uint8_t buf[256];
	struct nvme_tcp_icresp *rsp = (struct nvme_tcp_icresp *)p->b;
	pthread_t thread;
	size_t len;
	int cfd, sfd;

	test_begin(c->name);
	REQUIRE(p != NULL);
	cfg.qsize = 32;
	hc.lb = loopback_new(&cfg);
	test_tcp_pair(&cfd, &sfd);
	hc.fd = cfd;
	r.fd = sfd;
	REQUIRE(pthread_create(&thread, NULL, create_host_thread, &hc) == 0);

	REQUIRE(read_pdu(sfd, buf, sizeof(buf), &len) == 0);
	CHECK_EQ(buf[0], NVME_TCP_PDU_ICREQ);
	CHECK_EQ(((struct nvme_tcp_icreq *)buf)->hpda, 0);
	CHECK_EQ(((struct nvme_tcp_icreq *)buf)->dgst, c->dgst);
	ch(p, NVME_TCP_PDU_ICRESP, 0, 128, 0, 128);
	rsp->dgst = c->dgst;
	rsp->maxh2cdata = 4096;
	if (c->icresp != NULL)
		c->icresp(rsp);
	REQUIRE(test_write_all(sfd, p->b, 128) == 0);
	if (c->icresp != NULL) {
		pthread_join(thread, NULL);
		CHECK(hc.qp == NULL);
		CHECK_EQ(hc.error, EPROTO);
		CHECK(expect_term(sfd, NVME_TCP_PDU_H2C_TERM_REQ, c->fes, c->fei, p->b, 128));
		goto out;
	}
	pthread_join(thread, NULL);
	REQUIRE(hc.qp != NULL);
	hc.lb->host = hc.qp;

	/* A read (cid 1, 8 KiB) and a write (cid 2, 16 KiB) outstanding. */
	static uint8_t rbuf[8192], wbuf[16384];
	struct iovec riov = {.iov_base = rbuf, .iov_len = sizeof(rbuf)};
	struct iovec wiov = {.iov_base = wbuf, .iov_len = sizeof(wbuf)};
	struct nvmf_iov rdata = {.iov = &riov, .iovcnt = 1, .len = sizeof(rbuf)};
	struct nvmf_iov wdata = {.iov = &wiov, .iovcnt = 1, .len = sizeof(wbuf)};

	CHECK_EQ(loopback_submit(hc.lb, 1, NVME_IO_READ, 0, &rdata, false), 0);
	CHECK_EQ(loopback_submit(hc.lb, 2, NVME_IO_WRITE, 0, &wdata, true), 0);
	for (int i = 0; i < 2; i++) {
		REQUIRE(read_pdu(sfd, buf, sizeof(buf), &len) == 0);
		CHECK_EQ(buf[0], NVME_TCP_PDU_CAPSULE_CMD);
	}
	c->build(p, &r);
	REQUIRE(test_write_all(sfd, p->b, p->len) == 0);
	CHECK(expect_term(sfd, NVME_TCP_PDU_H2C_TERM_REQ, c->fes, c->fei, p->b, p->len));
	CHECK_EQ(loopback_wait_host_error(hc.lb, WAIT_MS), EPROTO);
out:
	close(sfd);
	loopback_close(hc.lb);
	free(p);
	test_end();
}

/* Data digest errors on the host are per command: the connection lives on. */
static void test_host_ddgst_error(void)
{
	struct loopback_config cfg = loopback_defaults();
	struct host_create hc = {.dgst = NVME_TCP_DGST_DDGST};
	struct raw r = {.dd = true};
	struct pdu *p = calloc(1, sizeof(*p));
	struct nvme_tcp_icresp *rsp = (struct nvme_tcp_icresp *)p->b;
	uint8_t buf[256], rbuf[4096];
	struct iovec riov = {.iov_base = rbuf, .iov_len = sizeof(rbuf)};
	struct nvmf_iov rdata = {.iov = &riov, .iovcnt = 1, .len = sizeof(rbuf)};
	pthread_t thread;
	size_t len;
	int cfd, sfd;

	test_begin("host: data digest error fails only that read");
	REQUIRE(p != NULL);
	cfg.qsize = 32;
	hc.lb = loopback_new(&cfg);
	test_tcp_pair(&cfd, &sfd);
	hc.fd = cfd;
	r.fd = sfd;
	REQUIRE(pthread_create(&thread, NULL, create_host_thread, &hc) == 0);
	REQUIRE(read_pdu(sfd, buf, sizeof(buf), &len) == 0);
	ch(p, NVME_TCP_PDU_ICRESP, 0, 128, 0, 128);
	rsp->dgst = NVME_TCP_DGST_DDGST;
	rsp->maxh2cdata = 4096;
	REQUIRE(test_write_all(sfd, p->b, 128) == 0);
	pthread_join(thread, NULL);
	REQUIRE(hc.qp != NULL);
	hc.lb->host = hc.qp;

	for (uint16_t cid = 1; cid <= 2; cid++) {
		struct nvme_tcp_rsp *cr = (struct nvme_tcp_rsp *)p->b;

		CHECK_EQ(loopback_submit(hc.lb, cid, NVME_IO_READ, 0, &rdata, false), 0);
		REQUIRE(read_pdu(sfd, buf, sizeof(buf), &len) == 0);
		c2h(p, &r, cid, 0, 4096, NVME_TCP_FLAG_LAST_PDU);
		if (cid == 1)
			put_ddgst(p, 24, 4096, true);
		REQUIRE(test_write_all(sfd, p->b, p->len) == 0);
		ch(p, NVME_TCP_PDU_CAPSULE_RESP, 0, 24, 0, 24);
		cr->cqe.cid = cid;
		REQUIRE(test_write_all(sfd, p->b, p->len) == 0);
		CHECK(loopback_wait(hc.lb, cid, WAIT_MS));
		CHECK_EQ(hc.lb->reqs[cid].data_error, cid == 1 ? EBADMSG : 0);
	}
	CHECK(test_verify(rbuf, sizeof(rbuf), 0));
	CHECK_EQ(loopback_wait_host_error(hc.lb, 0), -1);
	close(sfd);
	loopback_close(hc.lb);
	free(p);
	test_end();
}

/*
 * MAXR2T 0 allows one R2T at a time.  The raw controller asks for the first
 * half of a 1 MiB write and, before reading any of it, for the second half:
 * with tiny socket buffers the host cannot have sent the first half yet.
 */
static void test_host_maxr2t(void)
{
	struct loopback_config cfg = loopback_defaults();
	struct host_create hc = {0};
	struct raw r = {0};
	struct pdu *p = calloc(1, sizeof(*p)), second;
	struct nvme_tcp_icresp *rsp = (struct nvme_tcp_icresp *)p->b;
	uint8_t buf[256], *wbuf = malloc(1u << 20);
	struct iovec wiov = {.iov_base = wbuf, .iov_len = 1u << 20};
	struct nvmf_iov wdata = {.iov = &wiov, .iovcnt = 1, .len = 1u << 20};
	int small = 4096;
	pthread_t thread;
	size_t len;
	int cfd, sfd;

	test_begin("host: R2Ts beyond MAXR2T");
	REQUIRE(p != NULL && wbuf != NULL);
	cfg.qsize = 32;
	hc.lb = loopback_new(&cfg);
	test_tcp_pair(&cfd, &sfd);
	setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	hc.fd = cfd;
	r.fd = sfd;
	REQUIRE(pthread_create(&thread, NULL, create_host_thread, &hc) == 0);
	REQUIRE(read_pdu(sfd, buf, sizeof(buf), &len) == 0);
	ch(p, NVME_TCP_PDU_ICRESP, 0, 128, 0, 128);
	rsp->maxh2cdata = 4096;
	REQUIRE(test_write_all(sfd, p->b, 128) == 0);
	pthread_join(thread, NULL);
	REQUIRE(hc.qp != NULL);
	hc.lb->host = hc.qp;

	CHECK_EQ(loopback_submit(hc.lb, 2, NVME_IO_WRITE, 0, &wdata, true), 0);
	REQUIRE(read_pdu(sfd, buf, sizeof(buf), &len) == 0);
	CHECK_EQ(buf[0], NVME_TCP_PDU_CAPSULE_CMD);
	r2t(p, &r, 2, 1, 0, 512 * 1024);
	r2t(&second, &r, 2, 2, 512 * 1024, 512 * 1024);
	memcpy(p->b + p->len, second.b, second.len);
	p->len += second.len;
	REQUIRE(test_write_all(sfd, p->b, p->len) == 0);
	CHECK(expect_term(sfd, NVME_TCP_PDU_H2C_TERM_REQ, NVME_TCP_FES_R2T_LIMIT_EXCEEDED, 0,
			  second.b, second.len));
	CHECK_EQ(loopback_wait_host_error(hc.lb, WAIT_MS), EPROTO);
	close(sfd);
	loopback_close(hc.lb);
	free(wbuf);
	free(p);
	test_end();
}

/* A peer that closes half way through a PDU is an error, not a clean close. */
static void test_close_mid_pdu(void)
{
	struct loopback_config cfg = loopback_defaults();
	struct raw r = {0};
	struct pdu *p = calloc(1, sizeof(*p));
	uint8_t buf[256];
	struct loopback *lb;
	size_t len;
	int cfd, sfd;

	test_begin("peer closes mid-PDU");
	REQUIRE(p != NULL);
	test_tcp_pair(&cfd, &sfd);
	lb = loopback_open_controller(&cfg, sfd);
	icreq(p, 0);
	REQUIRE(test_write_all(cfd, p->b, p->len) == 0);
	REQUIRE(read_pdu(cfd, buf, sizeof(buf), &len) == 0);
	write_cmd(p, &r, 1, 4096, true);
	REQUIRE(test_write_all(cfd, p->b, 1000) == 0);
	close(cfd);
	CHECK_EQ(loopback_wait_ctrl_error(lb, WAIT_MS), ECONNRESET);
	loopback_close(lb);

	/* Closing between PDUs is an orderly close. */
	test_tcp_pair(&cfd, &sfd);
	lb = loopback_open_controller(&cfg, sfd);
	icreq(p, 0);
	REQUIRE(test_write_all(cfd, p->b, p->len) == 0);
	REQUIRE(read_pdu(cfd, buf, sizeof(buf), &len) == 0);
	close(cfd);
	CHECK_EQ(loopback_wait_ctrl_error(lb, WAIT_MS), 0);
	loopback_close(lb);
	free(p);
	test_end();
}

int main(int argc, char **argv)
{
	loopback_use_engine(argc, argv);
	for (size_t i = 0; i < sizeof(ctrl_cases) / sizeof(ctrl_cases[0]); i++)
		run_ctrl_case(&ctrl_cases[i]);
	for (size_t i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++)
		run_host_case(&host_cases[i]);
	test_host_ddgst_error();
	test_host_maxr2t();
	test_close_mid_pdu();
	return test_summary();
}
