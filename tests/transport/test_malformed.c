/* SPDX-License-Identifier: MIT */
/*
 * Malformed PDUs, table-driven: a raw socket plays the peer of a real
 * queue pair and sends one bad PDU per case.  The queue pair must answer
 * with a TermReq carrying the FES and FEI the specification gives (and a
 * copy of the offending header), close the connection, and report the
 * error; or, for non-fatal faults, answer the command with an error status
 * and keep serving.  Both roles: the controller's table is shared with the
 * hostile-peer suite (tests/util/raw_pdu.c), the host's is below.
 *
 * The same raw peers also check what well-formed but unusual peers get: a
 * TermReq in place of an ICResp, a close in the middle of a PDU, and the
 * controller's R2T pacing against the MAXR2T a host offers.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/loopback.h"
#include "util/raw_pdu.h"
#include "util/test_util.h"

#define WAIT_MS RAW_WAIT_MS

/* With close_on_fatal, every fatal error ends the connection without a
 * TermReq, as the Linux target does (nvmfd --fatal-error close). */
static void run_ctrl_case(const struct raw_ctrl_case *c, bool close_on_fatal)
{
	struct loopback_config cfg = loopback_defaults();
	enum raw_expect expect = c->expect == RAW_EXPECT_TERM && close_on_fatal ? RAW_EXPECT_CLOSE
									  : c->expect;
	struct raw r = {.fd = -1};
	struct loopback *lb;
	struct raw_pdu *p = calloc(1, sizeof(*p));
	uint8_t buf[256];
	size_t len;
	int cfd, sfd;

	test_begin(c->name);
	REQUIRE(p != NULL);
	cfg.maxh2cdata = 4096;
	cfg.max_icd = 8192;
	cfg.close_on_fatal = close_on_fatal;
	test_tcp_pair(&cfd, &sfd);
	lb = loopback_open_controller(&cfg, sfd);
	r.fd = cfd;
	r.hd = (c->dgst & NVME_TCP_DGST_HDGST) != 0;
	r.dd = (c->dgst & NVME_TCP_DGST_DDGST) != 0;

	if (!c->no_icreq) {
		REQUIRE(raw_handshake(&r, c->dgst));
		CHECK_EQ(r.maxh2cdata, cfg.maxh2cdata);
	}
	if (c->solicit)
		REQUIRE(raw_solicit(&r));
	c->build(p, &r);
	REQUIRE(raw_send(&r, p) == 0);

	switch (expect) {
	case RAW_EXPECT_TERM:
		CHECK(raw_expect_term(cfd, NVME_TCP_PDU_C2H_TERM_REQ, c->fes, c->fei, p->b, p->len));
		CHECK_EQ(loopback_wait_ctrl_error(lb, WAIT_MS), EPROTO);
		break;
	case RAW_EXPECT_CLOSE:
		CHECK(raw_expect_close(cfd));
		CHECK_EQ(loopback_wait_ctrl_error(lb, WAIT_MS), c->error ? c->error : EPROTO);
		break;
	case RAW_EXPECT_STATUS: {
		const struct nvme_tcp_rsp *rsp = (const void *)buf;

		REQUIRE(raw_read_pdu(cfd, buf, sizeof(buf), &len, WAIT_MS) == 0);
		CHECK_EQ(rsp->ch.pdu_type, NVME_TCP_PDU_CAPSULE_RESP);
		CHECK_EQ(NVME_STATUS_SC(NVME_CQE_TO_STATUS(rsp->cqe.status)), c->status);
		/* ... and the connection still serves: a good write completes. */
		raw_write_cmd(p, &r, 77, 512, true);
		REQUIRE(raw_send(&r, p) == 0);
		REQUIRE(raw_read_pdu(cfd, buf, sizeof(buf), &len, WAIT_MS) == 0);
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
	void (*build)(struct raw_pdu *p, struct raw *r);
	enum raw_expect expect;   /* TERM: an H2CTermReq, then EOF; CLOSE: EOF only */
	uint16_t fes;
	uint32_t fei;
	int error;                /* what the host queue pair reports; 0: EPROTO */
};

#define FEI(t, f) offsetof(struct t, f)

static void i_pfv(struct nvme_tcp_icresp *rsp) { rsp->pfv = 1; }
static void i_cpda(struct nvme_tcp_icresp *rsp) { rsp->cpda = 40; }
static void i_maxh2cdata(struct nvme_tcp_icresp *rsp) { rsp->maxh2cdata = 1000; }
static void i_unasked_digest(struct nvme_tcp_icresp *rsp) { rsp->dgst |= NVME_TCP_DGST_DDGST; }
static void i_plen(struct nvme_tcp_icresp *rsp) { rsp->ch.plen = 120; }
static void i_flags(struct nvme_tcp_icresp *rsp) { rsp->ch.flags = NVME_TCP_FLAG_HDGSTF; }
static void i_hlen(struct nvme_tcp_icresp *rsp) { rsp->ch.hlen = 120; }
static void i_pdo(struct nvme_tcp_icresp *rsp) { rsp->ch.pdo = 8; }
static void i_dgst_reserved(struct nvme_tcp_icresp *rsp) { rsp->dgst |= 0x04; }
static void i_maxh2cdata_unaligned(struct nvme_tcp_icresp *rsp) { rsp->maxh2cdata = 4098; }

static void h_c2h_unknown_cid(struct raw_pdu *p, struct raw *r) { raw_c2h(p, r, 99, 0, 4096, 0); }
static void h_c2h_for_write(struct raw_pdu *p, struct raw *r) { raw_c2h(p, r, 2, 0, 4096, 0); }
static void h_c2h_wrong_offset(struct raw_pdu *p, struct raw *r)
{
	raw_c2h(p, r, 1, 4096, 4096, 4);
}
static void h_c2h_out_of_range(struct raw_pdu *p, struct raw *r) { raw_c2h(p, r, 1, 0, 12288, 4); }
static void h_c2h_success_not_last(struct raw_pdu *p, struct raw *r)
{
	raw_c2h(p, r, 1, 0, 4096, NVME_TCP_FLAG_SUCCESS);
}
static void h_r2t_unknown_cid(struct raw_pdu *p, struct raw *r) { raw_r2t(p, r, 99, 1, 0, 4096); }
static void h_r2t_for_read(struct raw_pdu *p, struct raw *r) { raw_r2t(p, r, 1, 1, 0, 4096); }
static void h_r2t_zero(struct raw_pdu *p, struct raw *r) { raw_r2t(p, r, 2, 1, 0, 0); }
static void h_r2t_out_of_range(struct raw_pdu *p, struct raw *r)
{
	raw_r2t(p, r, 2, 1, 8192, 16384);
}
static void h_resp_pdo(struct raw_pdu *p, struct raw *r)
{
	raw_ch(p, NVME_TCP_PDU_CAPSULE_RESP, 0, 24, 24, 24);
}
static void h_hdgst_error(struct raw_pdu *p, struct raw *r)
{
	raw_c2h(p, r, 1, 0, 8192, NVME_TCP_FLAG_LAST_PDU);
	raw_put_hdgst(p, 24, true);
}
static void h_icreq_to_host(struct raw_pdu *p, struct raw *r) { raw_icreq(p, 0); }
static void h_unknown_type(struct raw_pdu *p, struct raw *r) { raw_ch(p, 0x0b, 0, 24, 0, 24); }
static void h_h2c_to_host(struct raw_pdu *p, struct raw *r)
{
	r->cid = 2;
	r->ttag = 0;
	raw_h2c(p, r, 0, 4096, false);
}

/* CapsuleResp: each common-header field spoiled on its own. */
static void h_resp(struct raw_pdu *p, uint8_t flags, uint8_t hlen, uint32_t plen)
{
	raw_ch(p, NVME_TCP_PDU_CAPSULE_RESP, flags, hlen, 0, plen);
	((struct nvme_tcp_rsp *)p->b)->cqe.cid = 1;
}
static void h_resp_flags(struct raw_pdu *p, struct raw *r)
{
	h_resp(p, NVME_TCP_FLAG_LAST_PDU, 24, 24);
}
static void h_resp_hlen(struct raw_pdu *p, struct raw *r) { h_resp(p, 0, 16, 24); }
static void h_resp_plen(struct raw_pdu *p, struct raw *r) { h_resp(p, 0, 24, 28); }

/* R2T (for the outstanding write, cid 2): likewise. */
static void h_r2t_flags(struct raw_pdu *p, struct raw *r)
{
	raw_r2t(p, r, 2, 1, 0, 4096);
	p->b[1] |= NVME_TCP_FLAG_LAST_PDU;
}
static void h_r2t_hlen(struct raw_pdu *p, struct raw *r)
{
	raw_r2t(p, r, 2, 1, 0, 4096);
	p->b[2] = 20;
}
static void h_r2t_pdo(struct raw_pdu *p, struct raw *r)
{
	raw_r2t(p, r, 2, 1, 0, 4096);
	p->b[3] = 24;
}
static void h_r2t_plen(struct raw_pdu *p, struct raw *r)
{
	raw_r2t(p, r, 2, 1, 0, 4096);
	((struct nvme_tcp_common_hdr *)p->b)->plen = 28; /* an R2T carries no data */
	p->len = 28;
}

/* C2HData (for the outstanding read, cid 1, 8 KiB). */
static void h_c2h_unasked_ddgst(struct raw_pdu *p, struct raw *r)
{
	raw_c2h(p, r, 1, 0, 8192, NVME_TCP_FLAG_LAST_PDU);
	p->b[1] |= NVME_TCP_FLAG_DDGSTF; /* data digests were not negotiated */
}
static void h_c2h_hlen(struct raw_pdu *p, struct raw *r)
{
	raw_c2h(p, r, 1, 0, 8192, NVME_TCP_FLAG_LAST_PDU);
	p->b[2] = 20;
}
static void h_c2h_pdo_inside_header(struct raw_pdu *p, struct raw *r)
{
	raw_c2h(p, r, 1, 0, 8192, NVME_TCP_FLAG_LAST_PDU);
	p->b[3] = 16;
}
static void h_c2h_pdo_unaligned(struct raw_pdu *p, struct raw *r)
{
	raw_c2h(p, r, 1, 0, 8192, NVME_TCP_FLAG_LAST_PDU);
	p->b[3] = 26; /* HPDA 0: PDO must be a multiple of 4 */
}
static void h_c2h_pdo_beyond_plen(struct raw_pdu *p, struct raw *r)
{
	raw_c2h(p, r, 1, 0, 64, 0); /* PLEN 88 */
	p->b[3] = 92;
}
static void h_c2h_plen_over_limit(struct raw_pdu *p, struct raw *r)
{
	/* 2 MiB of data claimed on a host that takes at most 1 MiB per I/O:
	 * refused at the header, never read. */
	raw_c2h(p, r, 1, 0, 4096, 0);
	((struct nvme_tcp_common_hdr *)p->b)->plen = 24 + (2u << 20);
	p->len = 24;
}
static void h_c2h_no_room_for_ddgst(struct raw_pdu *p, struct raw *r)
{
	raw_c2h(p, r, 1, 0, 4096, 0);
	((struct nvme_tcp_common_hdr *)p->b)->plen = 24 + NVME_TCP_DIGEST_LEN;
	p->len = 24 + NVME_TCP_DIGEST_LEN;
}
static void h_c2h_datal_mismatch(struct raw_pdu *p, struct raw *r)
{
	/* 4096 bytes of data behind a DATAL of 4000. */
	raw_c2h(p, r, 1, 0, 4096, 0);
	((struct nvme_tcp_c2h_data_hdr *)p->b)->datal = 4000;
}
static void h_c2h_missing_last(struct raw_pdu *p, struct raw *r)
{
	raw_c2h(p, r, 1, 0, 8192, 0); /* completes the read without LAST_PDU */
}

/* C2HTermReq from the controller, with a copy of a (made-up) bad header. */
static void h_term_req(struct raw_pdu *p, uint16_t fes, uint32_t plen)
{
	struct nvme_tcp_term_req_hdr *t = (struct nvme_tcp_term_req_hdr *)p->b;

	raw_ch(p, NVME_TCP_PDU_C2H_TERM_REQ, 0, 24, 0, plen);
	t->fes = fes;
	t->fei = fes == NVME_TCP_FES_UNSUPPORTED_PARAMETER ? 11 : 0;
	for (uint32_t i = 24; i < plen && i < 48; i++)
		p->b[i] = (uint8_t)i;
}
static void h_term_req_seq(struct raw_pdu *p, struct raw *r)
{
	h_term_req(p, NVME_TCP_FES_PDU_SEQUENCE_ERROR, 48);
}
static void h_term_req_unsupported(struct raw_pdu *p, struct raw *r)
{
	h_term_req(p, NVME_TCP_FES_UNSUPPORTED_PARAMETER, 24);
}
static void h_term_req_bad_plen(struct raw_pdu *p, struct raw *r)
{
	h_term_req(p, NVME_TCP_FES_PDU_SEQUENCE_ERROR, 200);
	p->len = 48; /* a PLEN beyond 152: closed at once, the rest never read */
}

static const struct host_case host_cases[] = {
	{.name = "host: ICResp PFV 1", .icresp = i_pfv, .fes = 6, .fei = FEI(nvme_tcp_icresp, pfv)},
	{.name = "host: ICResp CPDA 40", .icresp = i_cpda, .fes = 6,
	 .fei = FEI(nvme_tcp_icresp, cpda)},
	{.name = "host: ICResp MAXH2CDATA 1000", .icresp = i_maxh2cdata, .fes = 1,
	 .fei = FEI(nvme_tcp_icresp, maxh2cdata)},
	{.name = "host: ICResp enables an unasked digest", .icresp = i_unasked_digest, .fes = 6,
	 .fei = FEI(nvme_tcp_icresp, dgst)},
	{.name = "host: ICResp PLEN 120", .icresp = i_plen, .fes = 1, .fei = 4},
	{.name = "host: ICResp with a flag", .icresp = i_flags, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, flags)},
	{.name = "host: ICResp HLEN 120", .icresp = i_hlen, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, hlen)},
	{.name = "host: ICResp with PDO", .icresp = i_pdo, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, pdo)},
	{.name = "host: ICResp reserved digest bit", .icresp = i_dgst_reserved, .fes = 1,
	 .fei = FEI(nvme_tcp_icresp, dgst)},
	{.name = "host: ICResp MAXH2CDATA not a multiple of 4", .icresp = i_maxh2cdata_unaligned,
	 .fes = 1, .fei = FEI(nvme_tcp_icresp, maxh2cdata)},
	{.name = "host: ICReq sent to a host", .build = h_icreq_to_host, .fes = 1, .fei = 0},
	{.name = "host: unknown PDU type", .build = h_unknown_type, .fes = 1, .fei = 0},
	{.name = "host: H2CData sent to a host", .build = h_h2c_to_host, .fes = 1, .fei = 0},
	{.name = "host: CapsuleResp with a flag", .build = h_resp_flags, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, flags)},
	{.name = "host: CapsuleResp HLEN 16", .build = h_resp_hlen, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, hlen)},
	{.name = "host: CapsuleResp PLEN 28", .build = h_resp_plen, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, plen)},
	{.name = "host: R2T with LAST_PDU", .build = h_r2t_flags, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, flags)},
	{.name = "host: R2T HLEN 20", .build = h_r2t_hlen, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, hlen)},
	{.name = "host: R2T with PDO", .build = h_r2t_pdo, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, pdo)},
	{.name = "host: R2T PLEN 28", .build = h_r2t_plen, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, plen)},
	{.name = "host: C2HData with an unnegotiated data digest", .build = h_c2h_unasked_ddgst,
	 .fes = 1, .fei = FEI(nvme_tcp_common_hdr, flags)},
	{.name = "host: C2HData HLEN 20", .build = h_c2h_hlen, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, hlen)},
	{.name = "host: C2HData PDO inside the header", .build = h_c2h_pdo_inside_header, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, pdo)},
	{.name = "host: C2HData PDO not aligned", .build = h_c2h_pdo_unaligned, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, pdo)},
	{.name = "host: C2HData PDO beyond PLEN", .build = h_c2h_pdo_beyond_plen, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, pdo)},
	{.name = "host: C2HData PLEN over the I/O size limit", .build = h_c2h_plen_over_limit,
	 .fes = 1, .fei = FEI(nvme_tcp_common_hdr, plen)},
	{.name = "host: C2HData PLEN without room for the data digest",
	 .dgst = NVME_TCP_DGST_DDGST, .build = h_c2h_no_room_for_ddgst, .fes = 1,
	 .fei = FEI(nvme_tcp_common_hdr, plen)},
	{.name = "host: C2HData DATAL not the PDU's data", .build = h_c2h_datal_mismatch,
	 .fes = 1, .fei = FEI(nvme_tcp_c2h_data_hdr, datal)},
	{.name = "host: C2HData missing LAST_PDU", .build = h_c2h_missing_last, .fes = 2},
	{.name = "host: C2HTermReq", .build = h_term_req_seq, .expect = RAW_EXPECT_CLOSE,
	 .error = ECONNRESET},
	{.name = "host: C2HTermReq, unsupported parameter", .build = h_term_req_unsupported,
	 .expect = RAW_EXPECT_CLOSE, .error = EOPNOTSUPP},
	{.name = "host: C2HTermReq with a bad PLEN", .build = h_term_req_bad_plen,
	 .expect = RAW_EXPECT_CLOSE},
	{.name = "host: C2HData for an unknown command", .build = h_c2h_unknown_cid, .fes = 1,
	 .fei = FEI(nvme_tcp_c2h_data_hdr, cccid)},
	{.name = "host: C2HData for a write", .build = h_c2h_for_write, .fes = 1,
	 .fei = FEI(nvme_tcp_c2h_data_hdr, cccid)},
	{.name = "host: C2HData at the wrong offset", .build = h_c2h_wrong_offset, .fes = 2},
	{.name = "host: C2HData beyond the buffer", .build = h_c2h_out_of_range, .fes = 4},
	{.name = "host: SUCCESS without LAST_PDU", .build = h_c2h_success_not_last, .fes = 1,
	 .fei = 1},
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

/*
 * Free the host queue pair after it reported an error: the transfers of the
 * given commands, never answered, must complete with an error then (and not
 * before the transport lets go of their buffers), with no response.
 */
static void check_host_aborted(struct loopback *lb, uint16_t cid_a, uint16_t cid_b)
{
	const uint16_t cids[2] = {cid_a, cid_b};

	nvmf_qpair_free(lb->host);
	lb->host = NULL;
	pthread_mutex_lock(&lb->lock);
	for (int i = 0; i < 2; i++) {
		const struct loopback_req *q = &lb->reqs[cids[i]];

		CHECK(!q->response_seen);
		CHECK(q->data_done);
		CHECK_EQ(q->data_error, ECONNABORTED);
	}
	pthread_mutex_unlock(&lb->lock);
}

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
	struct raw_pdu *p = calloc(1, sizeof(*p));
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

	REQUIRE(raw_read_pdu(sfd, buf, sizeof(buf), &len, WAIT_MS) == 0);
	CHECK_EQ(buf[0], NVME_TCP_PDU_ICREQ);
	CHECK_EQ(((struct nvme_tcp_icreq *)buf)->hpda, 0);
	CHECK_EQ(((struct nvme_tcp_icreq *)buf)->dgst, c->dgst);
	raw_ch(p, NVME_TCP_PDU_ICRESP, 0, 128, 0, 128);
	rsp->dgst = c->dgst;
	rsp->maxh2cdata = 4096;
	if (c->icresp != NULL)
		c->icresp(rsp);
	REQUIRE(test_write_all(sfd, p->b, 128) == 0);
	if (c->icresp != NULL) {
		pthread_join(thread, NULL);
		CHECK(hc.qp == NULL);
		CHECK_EQ(hc.error, EPROTO);
		CHECK(raw_expect_term(sfd, NVME_TCP_PDU_H2C_TERM_REQ, c->fes, c->fei, p->b, 128));
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
		REQUIRE(raw_read_pdu(sfd, buf, sizeof(buf), &len, WAIT_MS) == 0);
		CHECK_EQ(buf[0], NVME_TCP_PDU_CAPSULE_CMD);
	}
	c->build(p, &r);
	REQUIRE(test_write_all(sfd, p->b, p->len) == 0);
	if (c->expect == RAW_EXPECT_CLOSE)
		CHECK(raw_expect_close(sfd));
	else
		CHECK(raw_expect_term(sfd, NVME_TCP_PDU_H2C_TERM_REQ, c->fes, c->fei, p->b, p->len));
	CHECK_EQ(loopback_wait_host_error(hc.lb, WAIT_MS), c->error ? c->error : EPROTO);
	/* Neither command was answered: both fail once the queue pair goes. */
	check_host_aborted(hc.lb, 1, 2);
out:
	close(sfd);
	loopback_close(hc.lb);
	free(p);
	test_end();
}

/*
 * A controller that will not take the connection may answer the ICReq with
 * a C2HTermReq: queue pair creation fails with the reason (EOPNOTSUPP for
 * an unsupported parameter such as digests it does not permit, ECONNRESET
 * otherwise), and the host closes without a reply.
 */
static void test_host_term_req_for_icresp(void)
{
	static const struct {
		uint16_t fes;
		int error;
	} cases[] = {
		{NVME_TCP_FES_UNSUPPORTED_PARAMETER, EOPNOTSUPP},
		{NVME_TCP_FES_INVALID_HEADER_FIELD, ECONNRESET},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct loopback_config cfg = loopback_defaults();
		struct host_create hc = {.dgst = NVME_TCP_DGST_HDGST};
		struct raw_pdu *p = calloc(1, sizeof(*p));
		uint8_t buf[256];
		pthread_t thread;
		char name[96];
		size_t len;
		int cfd, sfd;

		snprintf(name, sizeof(name), "host: C2HTermReq (FES %#x) instead of ICResp",
			 cases[i].fes);
		test_begin(name);
		REQUIRE(p != NULL);
		cfg.qsize = 32;
		hc.lb = loopback_new(&cfg);
		test_tcp_pair(&cfd, &sfd);
		hc.fd = cfd;
		REQUIRE(pthread_create(&thread, NULL, create_host_thread, &hc) == 0);
		REQUIRE(raw_read_pdu(sfd, buf, sizeof(buf), &len, WAIT_MS) == 0);
		CHECK_EQ(buf[0], NVME_TCP_PDU_ICREQ);
		/* The TermReq carries the ICReq it refuses. */
		raw_ch(p, NVME_TCP_PDU_C2H_TERM_REQ, 0, 24, 0, 24 + 128);
		((struct nvme_tcp_term_req_hdr *)p->b)->fes = cases[i].fes;
		((struct nvme_tcp_term_req_hdr *)p->b)->fei = offsetof(struct nvme_tcp_icreq, dgst);
		memcpy(p->b + 24, buf, 128);
		REQUIRE(test_write_all(sfd, p->b, p->len) == 0);
		pthread_join(thread, NULL);
		CHECK(hc.qp == NULL);
		CHECK_EQ(hc.error, cases[i].error);
		CHECK(raw_expect_close(sfd));
		close(sfd);
		loopback_close(hc.lb);
		free(p);
		test_end();
	}
}

/* Data digest errors on the host are per command: the connection lives on. */
static void test_host_ddgst_error(void)
{
	struct loopback_config cfg = loopback_defaults();
	struct host_create hc = {.dgst = NVME_TCP_DGST_DDGST};
	struct raw r = {.dd = true};
	struct raw_pdu *p = calloc(1, sizeof(*p));
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
	REQUIRE(raw_read_pdu(sfd, buf, sizeof(buf), &len, WAIT_MS) == 0);
	raw_ch(p, NVME_TCP_PDU_ICRESP, 0, 128, 0, 128);
	rsp->dgst = NVME_TCP_DGST_DDGST;
	rsp->maxh2cdata = 4096;
	REQUIRE(test_write_all(sfd, p->b, 128) == 0);
	pthread_join(thread, NULL);
	REQUIRE(hc.qp != NULL);
	hc.lb->host = hc.qp;

	for (uint16_t cid = 1; cid <= 2; cid++) {
		struct nvme_tcp_rsp *cr = (struct nvme_tcp_rsp *)p->b;

		CHECK_EQ(loopback_submit(hc.lb, cid, NVME_IO_READ, 0, &rdata, false), 0);
		REQUIRE(raw_read_pdu(sfd, buf, sizeof(buf), &len, WAIT_MS) == 0);
		raw_c2h(p, &r, cid, 0, 4096, NVME_TCP_FLAG_LAST_PDU);
		if (cid == 1)
			raw_put_ddgst(p, 24, 4096, true);
		REQUIRE(test_write_all(sfd, p->b, p->len) == 0);
		raw_ch(p, NVME_TCP_PDU_CAPSULE_RESP, 0, 24, 0, 24);
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
 * Two R2Ts for one 1 MiB write, the second sent before the raw controller
 * reads any data (with tiny socket buffers the host cannot have sent the
 * first range yet): the second is refused with fes.
 */
static void host_two_r2ts(const char *name, uint32_t maxr2t, uint32_t first_len,
			  uint32_t second_off, uint32_t second_len, uint16_t fes)
{
	struct loopback_config cfg = loopback_defaults();
	struct host_create hc = {.maxr2t = maxr2t};
	struct raw r = {0};
	struct raw_pdu *p = calloc(1, sizeof(*p)), second;
	struct nvme_tcp_icresp *rsp = (struct nvme_tcp_icresp *)p->b;
	uint8_t buf[256], *wbuf = malloc(1u << 20);
	struct iovec wiov = {.iov_base = wbuf, .iov_len = 1u << 20};
	struct nvmf_iov wdata = {.iov = &wiov, .iovcnt = 1, .len = 1u << 20};
	int small = 4096;
	pthread_t thread;
	size_t len;
	int cfd, sfd;

	test_begin(name);
	REQUIRE(p != NULL && wbuf != NULL);
	cfg.qsize = 32;
	hc.lb = loopback_new(&cfg);
	test_tcp_pair(&cfd, &sfd);
	setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	hc.fd = cfd;
	r.fd = sfd;
	REQUIRE(pthread_create(&thread, NULL, create_host_thread, &hc) == 0);
	REQUIRE(raw_read_pdu(sfd, buf, sizeof(buf), &len, WAIT_MS) == 0);
	raw_ch(p, NVME_TCP_PDU_ICRESP, 0, 128, 0, 128);
	rsp->maxh2cdata = 4096;
	REQUIRE(test_write_all(sfd, p->b, 128) == 0);
	pthread_join(thread, NULL);
	REQUIRE(hc.qp != NULL);
	hc.lb->host = hc.qp;

	CHECK_EQ(loopback_submit(hc.lb, 2, NVME_IO_WRITE, 0, &wdata, true), 0);
	REQUIRE(raw_read_pdu(sfd, buf, sizeof(buf), &len, WAIT_MS) == 0);
	CHECK_EQ(buf[0], NVME_TCP_PDU_CAPSULE_CMD);
	raw_r2t(p, &r, 2, 1, 0, first_len);
	raw_r2t(&second, &r, 2, 2, second_off, second_len);
	memcpy(p->b + p->len, second.b, second.len);
	p->len += second.len;
	REQUIRE(test_write_all(sfd, p->b, p->len) == 0);
	CHECK(raw_expect_term(sfd, NVME_TCP_PDU_H2C_TERM_REQ, fes, 0, second.b, second.len));
	CHECK_EQ(loopback_wait_host_error(hc.lb, WAIT_MS), EPROTO);
	close(sfd);
	loopback_close(hc.lb);
	free(wbuf);
	free(p);
	test_end();
}

/* MAXR2T 0 allows one R2T at a time. */
static void test_host_maxr2t(void)
{
	host_two_r2ts("host: R2Ts beyond MAXR2T", 0, 512 * 1024, 512 * 1024, 512 * 1024,
		      NVME_TCP_FES_R2T_LIMIT_EXCEEDED);
}

/* MAXR2T 1 allows two, but not for data already asked for (as Linux),
 * even while the bytes asked for in all still fit the buffer. */
static void test_host_r2t_overlap(void)
{
	host_two_r2ts("host: an R2T overlapping one already received", 1, 256 * 1024,
		      128 * 1024, 512 * 1024, NVME_TCP_FES_DATA_OUT_OF_RANGE);
}

/*
 * SPDK 23.01's target ends reads with C2H SUCCESS while SQ flow control is
 * on.  The host completes the read from it, data intact, with the SQ head
 * one past the last one a response reported.  And SPDK answers
 * Authentication Receive with the message alone: LAST_PDU (and SUCCESS)
 * before the end of the buffer ends the transfer short, no protocol error;
 * the command's layer judges it (the host library fails a short read).
 */
static void host_spdk_case(const char *name, uint32_t c2h_len)
{
	struct loopback_config cfg = loopback_defaults();
	struct host_create hc = {0};
	struct raw r = {0};
	struct raw_pdu *p = calloc(1, sizeof(*p));
	struct nvme_tcp_icresp *rsp = (struct nvme_tcp_icresp *)p->b;
	static uint8_t rbuf[8192];
	struct iovec riov = {.iov_base = rbuf, .iov_len = sizeof(rbuf)};
	struct nvmf_iov rdata = {.iov = &riov, .iovcnt = 1, .len = sizeof(rbuf)};
	uint8_t buf[256];
	pthread_t thread;
	size_t len;
	int cfd, sfd;

	test_begin(name);
	REQUIRE(p != NULL);
	cfg.qsize = 32;
	hc.lb = loopback_new(&cfg);
	test_tcp_pair(&cfd, &sfd);
	hc.fd = cfd;
	r.fd = sfd;
	REQUIRE(pthread_create(&thread, NULL, create_host_thread, &hc) == 0);
	REQUIRE(raw_read_pdu(sfd, buf, sizeof(buf), &len, WAIT_MS) == 0);
	raw_ch(p, NVME_TCP_PDU_ICRESP, 0, 128, 0, 128);
	rsp->maxh2cdata = 4096;
	REQUIRE(test_write_all(sfd, p->b, 128) == 0);
	pthread_join(thread, NULL);
	REQUIRE(hc.qp != NULL);
	hc.lb->host = hc.qp;

	/* A Flush (cid 3) answered with SQHD 7, then a read (cid 1) that
	 * ends with SUCCESS instead of a response. */
	CHECK_EQ(loopback_submit(hc.lb, 3, NVME_IO_FLUSH, 0, NULL, false), 0);
	CHECK_EQ(loopback_submit(hc.lb, 1, NVME_IO_READ, 0, &rdata, false), 0);
	for (int i = 0; i < 2; i++) {
		REQUIRE(raw_read_pdu(sfd, buf, sizeof(buf), &len, WAIT_MS) == 0);
		CHECK_EQ(buf[0], NVME_TCP_PDU_CAPSULE_CMD);
	}
	raw_ch(p, NVME_TCP_PDU_CAPSULE_RESP, 0, 24, 0, 24);
	((struct nvme_tcp_rsp *)p->b)->cqe = (struct nvme_cqe){.cid = 3, .sqhd = 7, .sqid = 0};
	REQUIRE(test_write_all(sfd, p->b, p->len) == 0);
	/* The data: test_fill with the PDU's offset, 0, as its seed. */
	raw_c2h(p, &r, 1, 0, c2h_len, NVME_TCP_FLAG_LAST_PDU | NVME_TCP_FLAG_SUCCESS);
	REQUIRE(test_write_all(sfd, p->b, p->len) == 0);
	CHECK(loopback_wait(hc.lb, 3, WAIT_MS));
	CHECK(loopback_wait(hc.lb, 1, WAIT_MS));
	CHECK_EQ(hc.lb->reqs[1].data_error, 0);
	CHECK_EQ(hc.lb->reqs[1].xfered, c2h_len);
	CHECK(test_verify(rbuf, c2h_len, 0));
	CHECK_EQ(hc.lb->reqs[1].cqe.status, 0);
	CHECK(hc.lb->reqs[3].sqhd_valid && hc.lb->reqs[3].cqe.sqhd == 7);
	CHECK(hc.lb->reqs[1].sqhd_valid);
	CHECK_EQ(hc.lb->reqs[1].cqe.sqhd, 8);
	CHECK_EQ(loopback_wait_host_error(hc.lb, 0), -1); /* no error */
	close(sfd);
	loopback_close(hc.lb);
	free(p);
	test_end();
}

/*
 * A host that closes half way through a PDU is an error, not a clean close
 * (controller role).
 */
static void test_close_mid_pdu(void)
{
	struct loopback_config cfg = loopback_defaults();
	struct raw r = {0};
	struct raw_pdu *p = calloc(1, sizeof(*p));
	uint8_t buf[256];
	struct loopback *lb;
	size_t len;
	int cfd, sfd;

	test_begin("peer closes mid-PDU");
	REQUIRE(p != NULL);
	test_tcp_pair(&cfd, &sfd);
	lb = loopback_open_controller(&cfg, sfd);
	raw_icreq(p, 0);
	REQUIRE(test_write_all(cfd, p->b, p->len) == 0);
	REQUIRE(raw_read_pdu(cfd, buf, sizeof(buf), &len, WAIT_MS) == 0);
	raw_write_cmd(p, &r, 1, 4096, true);
	REQUIRE(test_write_all(cfd, p->b, 1000) == 0);
	close(cfd);
	CHECK_EQ(loopback_wait_ctrl_error(lb, WAIT_MS), ECONNRESET);
	loopback_close(lb);

	/* Closing between PDUs is an orderly close. */
	test_tcp_pair(&cfd, &sfd);
	lb = loopback_open_controller(&cfg, sfd);
	raw_icreq(p, 0);
	REQUIRE(test_write_all(cfd, p->b, p->len) == 0);
	REQUIRE(raw_read_pdu(cfd, buf, sizeof(buf), &len, WAIT_MS) == 0);
	close(cfd);
	CHECK_EQ(loopback_wait_ctrl_error(lb, WAIT_MS), 0);
	loopback_close(lb);
	free(p);
	test_end();
}

/* ------------------------------------------------------------------ */
/* Controller role, well-formed raw host: R2T pacing against MAXR2T    */
/* ------------------------------------------------------------------ */

#define QUIET_MS 300              /* no PDU for this long: the controller is waiting */
#define PACE_WRITES 2
#define PACE_LEN (32 * 4096)      /* each write: 32 x MAXH2CDATA */

struct r2t_seen {
	uint16_t cid;
	uint16_t ttag;
	uint32_t off, len;
};

/*
 * The raw host offers MAXR2T in its ICReq and sends two writes of
 * 32 x MAXH2CDATA each by R2T.  It answers one R2T at a time, the oldest
 * first, and only once the controller has gone quiet, so every R2T the
 * controller is willing to have outstanding is on the wire when they are
 * counted.  Per command the controller must never have more than
 * MAXR2T + 1 outstanding; with MAXR2T > 0 it must pipeline (more than one
 * at once); the R2Ts must cover each command's data in order, exactly once;
 * and the data must land intact.
 */
static void test_ctrl_maxr2t(uint32_t maxr2t)
{
	struct loopback_config cfg = loopback_defaults();
	const uint16_t cids[PACE_WRITES] = {3, 4};
	struct raw r = {.fd = -1, .maxr2t = maxr2t};
	struct raw_pdu *p = calloc(1, sizeof(*p));
	uint8_t *src = malloc(PACE_WRITES * PACE_LEN), buf[256];
	struct r2t_seen out[32];
	uint32_t nout = 0, nr2t = 0, max_out = 0;
	uint32_t requested[PACE_WRITES] = {0}, answered[PACE_WRITES] = {0};
	uint32_t now_out[PACE_WRITES] = {0};
	unsigned responses = 0;
	struct nvmf_qpair_info info;
	struct loopback *lb;
	char name[64];
	size_t plen;
	int cfd, sfd;

	snprintf(name, sizeof(name), "controller: R2T pacing for MAXR2T %u", maxr2t);
	test_begin(name);
	REQUIRE(p != NULL && src != NULL);
	cfg.maxh2cdata = 4096;
	test_tcp_pair(&cfd, &sfd);
	lb = loopback_open_controller(&cfg, sfd);
	r.fd = cfd;
	REQUIRE(raw_handshake(&r, 0));
	REQUIRE(r.maxh2cdata == 4096);
	nvmf_qpair_get_info(lb->ctrl, &info);
	CHECK_EQ(info.maxr2t, maxr2t);

	/* Write w goes to byte offset w x PACE_LEN of the store (CDW10). */
	test_fill(src, PACE_WRITES * PACE_LEN, 0x5eed);
	for (int w = 0; w < PACE_WRITES; w++) {
		raw_write_cmd(p, &r, cids[w], PACE_LEN, false);
		((struct nvme_tcp_cmd *)p->b)->sqe.cdw10 = (uint32_t)w * PACE_LEN;
		REQUIRE(raw_send(&r, p) == 0);
	}
	while (responses < PACE_WRITES) {
		const struct nvme_tcp_r2t_hdr *r2t = (const void *)buf;
		const struct nvme_tcp_rsp *rsp = (const void *)buf;
		struct r2t_seen a;
		int w;

		/* Take everything the controller sends until it waits for us. */
		while (raw_read_pdu(cfd, buf, sizeof(buf), &plen, QUIET_MS) == 0) {
			if (rsp->ch.pdu_type == NVME_TCP_PDU_CAPSULE_RESP) {
				w = rsp->cqe.cid == cids[0] ? 0 : 1;
				CHECK(rsp->cqe.cid == cids[w]);
				CHECK_EQ(rsp->cqe.status, 0);
				/* Only once all of its data is in. */
				CHECK_EQ(answered[w], PACE_LEN);
				responses++;
				continue;
			}
			REQUIRE(r2t->ch.pdu_type == NVME_TCP_PDU_R2T);
			w = r2t->cccid == cids[0] ? 0 : 1;
			REQUIRE(r2t->cccid == cids[w]);
			/* In order, contiguous, within the command, never empty. */
			CHECK_EQ(r2t->r2to, requested[w]);
			CHECK(r2t->r2tl > 0 && r2t->r2tl <= PACE_LEN - requested[w]);
			for (uint32_t i = 0; i < nout; i++)
				CHECK(out[i].ttag != r2t->ttag);
			REQUIRE(nout < sizeof(out) / sizeof(out[0]));
			out[nout++] = (struct r2t_seen){.cid = r2t->cccid, .ttag = r2t->ttag,
							.off = r2t->r2to, .len = r2t->r2tl};
			requested[w] = r2t->r2to + r2t->r2tl;
			nr2t++;
			if (++now_out[w] > max_out)
				max_out = now_out[w];
		}
		if (responses == PACE_WRITES)
			break;
		if (nout == 0) {
			fprintf(stderr, "controller stalled: %u and %u bytes answered, no R2T outstanding\n",
				answered[0], answered[1]);
			CHECK(0);
			break;
		}
		/* Answer the oldest R2T in MAXH2CDATA pieces, LAST_PDU on the final one. */
		a = out[0];
		w = a.cid == cids[0] ? 0 : 1;
		for (uint32_t off = a.off; off < a.off + a.len;) {
			uint32_t n = a.off + a.len - off;

			if (n > r.maxh2cdata)
				n = r.maxh2cdata;
			r.cid = a.cid;
			r.ttag = a.ttag;
			raw_h2c(p, &r, off, n, off + n == a.off + a.len);
			memcpy(p->b + 24, src + (size_t)w * PACE_LEN + off, n);
			REQUIRE(raw_send(&r, p) == 0);
			off += n;
		}
		answered[w] += a.len;
		now_out[w]--;
		memmove(&out[0], &out[1], (nout - 1) * sizeof(out[0]));
		nout--;
	}
	fprintf(stderr, "%u R2Ts; at most %u outstanding at once for one command (MAXR2T %u allows %u)\n",
		nr2t, max_out, maxr2t, maxr2t + 1);
	CHECK_EQ(responses, PACE_WRITES);
	CHECK_EQ(answered[0] + answered[1], PACE_WRITES * PACE_LEN);
	CHECK(max_out >= 1 && max_out <= maxr2t + 1);
	if (maxr2t > 0)
		CHECK(max_out > 1);
	CHECK(memcmp(lb->store, src, PACE_WRITES * PACE_LEN) == 0);
	CHECK_EQ(loopback_wait_ctrl_error(lb, 0), -1);
	close(cfd);
	loopback_close(lb);
	free(src);
	free(p);
	test_end();
}

/*
 * A host queue pair whose controller is the raw socket *sfd: ICResp sent,
 * a read (cid 1, 8 KiB) and a write (cid 2, 16 KiB, by R2T) outstanding.
 */
static struct loopback *raw_ctrl_host(struct host_create *hc, int *sfd, uint8_t *rbuf,
				      uint8_t *wbuf)
{
	struct loopback_config cfg = loopback_defaults();
	static struct iovec riov, wiov;
	static struct nvmf_iov rdata, wdata;
	struct raw_pdu p;
	struct nvme_tcp_icresp *rsp = (struct nvme_tcp_icresp *)p.b;
	uint8_t buf[256];
	pthread_t thread;
	size_t len;
	int cfd;

	cfg.qsize = 32;
	hc->lb = loopback_new(&cfg);
	test_tcp_pair(&cfd, sfd);
	hc->fd = cfd;
	REQUIRE(pthread_create(&thread, NULL, create_host_thread, hc) == 0);
	REQUIRE(raw_read_pdu(*sfd, buf, sizeof(buf), &len, WAIT_MS) == 0);
	raw_ch(&p, NVME_TCP_PDU_ICRESP, 0, 128, 0, 128);
	rsp->maxh2cdata = 4096;
	REQUIRE(test_write_all(*sfd, p.b, 128) == 0);
	pthread_join(thread, NULL);
	REQUIRE(hc->qp != NULL);
	hc->lb->host = hc->qp;

	riov = (struct iovec){.iov_base = rbuf, .iov_len = 8192};
	wiov = (struct iovec){.iov_base = wbuf, .iov_len = 16384};
	rdata = (struct nvmf_iov){.iov = &riov, .iovcnt = 1, .len = 8192};
	wdata = (struct nvmf_iov){.iov = &wiov, .iovcnt = 1, .len = 16384};
	CHECK_EQ(loopback_submit(hc->lb, 1, NVME_IO_READ, 0, &rdata, false), 0);
	CHECK_EQ(loopback_submit(hc->lb, 2, NVME_IO_WRITE, 0, &wdata, true), 0);
	for (int i = 0; i < 2; i++) {
		REQUIRE(raw_read_pdu(*sfd, buf, sizeof(buf), &len, WAIT_MS) == 0);
		CHECK_EQ(buf[0], NVME_TCP_PDU_CAPSULE_CMD);
	}
	return hc->lb;
}

/*
 * The controller closes half way through a PDU it sends to the host: the
 * host queue pair reports an error (ECONNRESET, not the 0 of an orderly
 * close), and the outstanding commands fail.  Closing between PDUs is an
 * orderly close.
 */
static void test_host_close_mid_pdu(void)
{
	static const struct {
		const char *what;
		uint32_t first, pause_then; /* bytes sent, then (after a pause) more */
		bool c2h;                   /* a C2HData for the read, else a CapsuleResp */
		int error;
	} cases[] = {
		/* Header and 1000 bytes of 8 KiB in one go: copied out of the ring. */
		{"mid C2HData, in the ring", 24 + 1000, 0, true, ECONNRESET},
		/* Header alone, then 3000 bytes: those land straight in the buffer. */
		{"mid C2HData, read in place", 24, 3000, true, ECONNRESET},
		{"mid C2HData header", 13, 0, true, ECONNRESET},
		{"mid CapsuleResp", 10, 0, false, ECONNRESET},
		{"between PDUs", 0, 0, false, 0},
	};
	static uint8_t rbuf[8192], wbuf[16384];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct host_create hc = {0};
		struct raw r = {0};
		struct raw_pdu *p = calloc(1, sizeof(*p));
		struct loopback *lb;
		char name[96];
		int sfd;

		snprintf(name, sizeof(name), "host: controller closes %s", cases[i].what);
		test_begin(name);
		REQUIRE(p != NULL);
		lb = raw_ctrl_host(&hc, &sfd, rbuf, wbuf);
		r.fd = sfd;
		if (cases[i].c2h) {
			raw_c2h(p, &r, 1, 0, 8192, NVME_TCP_FLAG_LAST_PDU);
		} else {
			raw_ch(p, NVME_TCP_PDU_CAPSULE_RESP, 0, 24, 0, 24);
			((struct nvme_tcp_rsp *)p->b)->cqe.cid = 1;
		}
		REQUIRE(test_write_all(sfd, p->b, cases[i].first) == 0);
		if (cases[i].pause_then > 0) {
			usleep(50 * 1000);
			REQUIRE(test_write_all(sfd, p->b + cases[i].first, cases[i].pause_then) == 0);
			usleep(50 * 1000);
		}
		close(sfd);
		CHECK_EQ(loopback_wait_host_error(lb, WAIT_MS), cases[i].error);
		check_host_aborted(lb, 1, 2);
		loopback_close(lb);
		free(p);
		test_end();
	}
}

int main(int argc, char **argv)
{
	loopback_use_engine(argc, argv);
	for (size_t i = 0; i < raw_nctrl_cases; i++)
		run_ctrl_case(&raw_ctrl_cases[i], false);
	fprintf(stderr, "--- again, the controller closing on fatal errors (no TermReq)\n");
	for (size_t i = 0; i < raw_nctrl_cases; i++)
		if (raw_ctrl_cases[i].expect == RAW_EXPECT_TERM)
			run_ctrl_case(&raw_ctrl_cases[i], true);
	for (size_t i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++)
		run_host_case(&host_cases[i]);
	test_host_term_req_for_icresp();
	test_host_ddgst_error();
	test_host_maxr2t();
	test_host_r2t_overlap();
	host_spdk_case("host: C2H SUCCESS with SQ flow control on (SPDK 23.01)", 8192);
	host_spdk_case("host: C2HData with LAST_PDU and SUCCESS short of the buffer (SPDK)", 1104);
	test_close_mid_pdu();
	test_host_close_mid_pdu();
	test_ctrl_maxr2t(0);
	test_ctrl_maxr2t(3);
	return test_summary();
}
