/* SPDX-License-Identifier: MIT */
/*
 * Persistent reservations against the controller, with several hosts
 * (distinct host NQNs and IDs) on one namespace:
 *   "resv_test"        a target in this process: each reservation type's
 *                      access table for reads and writes by the holder, a
 *                      registrant and a non-registrant; register, replace,
 *                      unregister and their conflicts; Report; preempt and
 *                      preempt-and-abort with a write in flight; release and
 *                      clear; notification log entries, their event and mask;
 *                      the features; PTPL across a target restart; a corrupt
 *                      state file refused.
 *   "resv_test nvmfd"  nvmfd from an nvmetcli file ("resv": {"enable": 1}):
 *                      PTPL across kill -9 and restart, and torn or
 *                      corrupted state files refused with a clear error.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../controller/host_helper.h"
#include "nvmf/controller.h"
#include "nvmf/log.h"
#include "util/test_util.h"

#define NQN "nqn.2024-01.org.nvmfd:resv"
#define ST(sc) NVME_STATUS(NVME_SCT_GENERIC, sc)
#define CONFLICT ST(NVME_SC_RESERVATION_CONFLICT)
#define BLOCK 4096
#define NHOSTS 3

static char dir[] = "/tmp/nvmf-resv-XXXXXX";
static uint16_t port;

static const char *const host_nqn[NHOSTS] = {
	TH_HOSTNQN, /* host A: the helper's default host, as raw queues are */
	"nqn.2024-01.org.nvmfd:resv-host-b",
	"nqn.2024-01.org.nvmfd:resv-host-c",
};
static const uint8_t host_id[NHOSTS][16] = {
	{0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55,
	 0x55},
	{0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe,
	 0xbf},
	{0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce,
	 0xcf},
};

struct host {
	struct th_queue adm, io;
	int idx;
};

static void host_connect(struct host *h, int idx)
{
	struct th_opts o = {.hostnqn = host_nqn[idx], .hostid = host_id[idx]};

	h->idx = idx;
	REQUIRE(th_connect_admin(&h->adm, port, NQN, &o) == 0);
	REQUIRE(th_connect_io(&h->io, port, NQN, 1, h->adm.cntlid, &o) == 0);
}

static void host_close(struct host *h)
{
	th_close(&h->io);
	th_close(&h->adm);
}

static int resv_cmd(struct host *h, uint8_t opc, uint32_t cdw10, uint64_t k1, uint64_t k2)
{
	struct nvme_sqe sqe = {.opc = opc, .nsid = 1, .cdw10 = cdw10};
	uint64_t d[2] = {k1, k2};

	return th_cmd(&h->io, &sqe, d, opc == NVME_IO_RESV_RELEASE ? 8 : 16, true, NULL);
}

static int reg(struct host *h, unsigned rrega, unsigned cptpl, uint64_t crkey, uint64_t nrkey)
{
	return resv_cmd(h, NVME_IO_RESV_REGISTER, rrega | (cptpl << 30), crkey, nrkey);
}

static int acquire(struct host *h, unsigned racqa, uint8_t rtype, uint64_t crkey, uint64_t prkey)
{
	return resv_cmd(h, NVME_IO_RESV_ACQUIRE, racqa | ((uint32_t)rtype << 8), crkey, prkey);
}

static int release(struct host *h, unsigned rrela, uint8_t rtype, uint64_t crkey)
{
	return resv_cmd(h, NVME_IO_RESV_RELEASE, rrela | ((uint32_t)rtype << 8), crkey, 0);
}

struct report {
	struct nvme_resv_status hdr;
	uint8_t pad[40];
	struct nvme_resv_registrant_ext regs[8];
};

static int report(struct host *h, struct report *r, bool eds)
{
	struct nvme_sqe sqe = {.opc = NVME_IO_RESV_REPORT, .nsid = 1,
			       .cdw10 = sizeof(*r) / 4 - 1, .cdw11 = eds};

	memset(r, 0xee, sizeof(*r));
	return th_cmd(&h->io, &sqe, r, sizeof(*r), false, NULL);
}

static const struct nvme_resv_registrant_ext *find_reg(const struct report *r, int idx)
{
	for (unsigned i = 0; i < r->hdr.regctl && i < 8; i++)
		if (memcmp(r->regs[i].hostid, host_id[idx], 16) == 0)
			return &r->regs[i];
	return NULL;
}

static int io(struct host *h, uint8_t opc)
{
	static uint8_t buf[BLOCK];
	bool data = opc != NVME_IO_WRITE_ZEROES;

	return th_rw(&h->io, opc, 1, 7, 1, data ? buf : NULL, data ? sizeof(buf) : 0, 0);
}

/* ------------------------------------------------------------------ */
/* A target in this process                                            */
/* ------------------------------------------------------------------ */

static struct nvmf_target *target;

static int target_start(struct nvmf_error *err)
{
	static struct nvmf_ns_conf ns;
	static struct nvmf_subsys_conf subsys;
	static struct nvmf_port_conf p;
	static char port_subsys[1][NVMF_NQN_SIZE] = {NQN};
	struct nvmf_target_conf conf = {0};
	struct nvmf_target_params params;
	int rc;

	nvmf_target_params_init(&params);
	params.state_dir = dir;
	memset(&ns, 0, sizeof(ns));
	snprintf(ns.path, sizeof(ns.path), "%s/ns1.img", dir);
	ns.size = 1 << 20;
	ns.block_size = BLOCK;
	ns.nsid = 1;
	ns.enabled = true;
	ns.resv_enable = true;
	memset(&subsys, 0, sizeof(subsys));
	snprintf(subsys.nqn, sizeof(subsys.nqn), NQN);
	subsys.allow_any_host = true;
	subsys.nns = 1;
	subsys.ns = &ns;
	memset(&p, 0, sizeof(p));
	p.portid = 1;
	p.adrfam = NVMF_ADRFAM_IPV4;
	snprintf(p.traddr, sizeof(p.traddr), "127.0.0.1");
	snprintf(p.trsvcid, sizeof(p.trsvcid), "0");
	p.inline_data_size = UINT32_MAX;
	p.nsubsys = 1;
	p.subsystems = port_subsys;
	conf.nsubsys = 1;
	conf.subsys = &subsys;
	conf.nports = 1;
	conf.ports = &p;
	target = nvmf_target_create(&params);
	REQUIRE(target != NULL);
	rc = nvmf_target_configure(target, &conf, err);
	if (rc != 0) {
		nvmf_target_destroy(target);
		target = NULL;
		return rc;
	}
	port = (uint16_t)nvmf_target_listen_port(target, 1);
	return 0;
}

static void target_stop(void)
{
	nvmf_target_destroy(target);
	target = NULL;
}

/* Who may read and write under each type (Base 2.0 "Command Behavior in
 * the Presence of a Reservation"): holder, registrant, non-registrant. */
static void test_access_table(struct host h[NHOSTS])
{
	static const struct {
		uint8_t rtype;
		bool reg_read, reg_write, other_read, other_write;
	} table[] = {
		{NVME_RESV_WRITE_EXCLUSIVE, true, false, true, false},
		{NVME_RESV_EXCLUSIVE_ACCESS, false, false, false, false},
		{NVME_RESV_WE_REGS_ONLY, true, true, true, false},
		{NVME_RESV_EA_REGS_ONLY, true, true, false, false},
		{NVME_RESV_WE_ALL_REGS, true, true, true, false},
		{NVME_RESV_EA_ALL_REGS, true, true, false, false},
	};

	test_begin("access table: read and write by holder, registrant, non-registrant, types 1-6");
	CHECK_EQ(reg(&h[0], NVME_RESV_REGISTER, 0, 0, 0xa), 0);
	CHECK_EQ(reg(&h[1], NVME_RESV_REGISTER, 0, 0, 0xb), 0);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		uint8_t t = table[i].rtype;
		struct report r;

		CHECK_EQ(acquire(&h[0], NVME_RESV_ACQUIRE, t, 0xa, 0), 0);
		CHECK_EQ(report(&h[2], &r, true), 0);
		CHECK_EQ(r.hdr.rtype, t);
		CHECK_EQ(io(&h[0], NVME_IO_READ), 0);
		CHECK_EQ(io(&h[0], NVME_IO_WRITE), 0);
		CHECK_EQ(io(&h[1], NVME_IO_READ), table[i].reg_read ? 0 : CONFLICT);
		CHECK_EQ(io(&h[1], NVME_IO_WRITE), table[i].reg_write ? 0 : CONFLICT);
		CHECK_EQ(io(&h[1], NVME_IO_WRITE_ZEROES), table[i].reg_write ? 0 : CONFLICT);
		CHECK_EQ(io(&h[2], NVME_IO_READ), table[i].other_read ? 0 : CONFLICT);
		CHECK_EQ(io(&h[2], NVME_IO_WRITE), table[i].other_write ? 0 : CONFLICT);
		CHECK_EQ(io(&h[2], NVME_IO_WRITE_ZEROES), CONFLICT);
		/* A registrant of an all-registrants type holds it too. */
		CHECK_EQ(find_reg(&r, 1) != NULL && (find_reg(&r, 1)->rcsts & 1),
			 t == NVME_RESV_WE_ALL_REGS || t == NVME_RESV_EA_ALL_REGS);
		CHECK_EQ(release(&h[0], NVME_RESV_RELEASE, t, 0xa), 0);
		CHECK_EQ(io(&h[2], NVME_IO_WRITE), 0);
	}
	CHECK_EQ(release(&h[0], NVME_RESV_CLEAR, 0, 0xa), 0);
	test_end();
}

static void test_register_report(struct host h[NHOSTS])
{
	struct report r;
	uint32_t gen;

	test_begin("register, replace, unregister; Report (extended only)");
	CHECK_EQ(report(&h[0], &r, true), 0);
	CHECK_EQ(r.hdr.regctl, 0);
	CHECK_EQ(r.hdr.rtype, 0);
	gen = r.hdr.gen;
	CHECK_EQ(report(&h[0], &r, false), ST(NVME_SC_HOST_ID_INCONSISTENT_FORMAT));
	CHECK_EQ(reg(&h[0], NVME_RESV_REGISTER, 0, 0, 0x1111), 0);
	CHECK_EQ(reg(&h[0], NVME_RESV_REGISTER, 0, 0, 0x1111), 0); /* the same key: no change */
	CHECK_EQ(reg(&h[0], NVME_RESV_REGISTER, 0, 0, 0x2222), CONFLICT);
	CHECK_EQ(reg(&h[1], NVME_RESV_REPLACE, 0, 0, 0x3333), CONFLICT); /* not registered */
	CHECK_EQ(reg(&h[1], NVME_RESV_REGISTER, 0, 0, 0xbbbb), 0);
	CHECK_EQ(reg(&h[1], NVME_RESV_REPLACE, 0, 0x1, 0xbbb2), CONFLICT); /* wrong CRKEY */
	CHECK_EQ(reg(&h[1], NVME_RESV_REPLACE, 0, 0xbbbb, 0xbbb2), 0);
	CHECK_EQ(reg(&h[1], NVME_RESV_REGISTER, 1, 0, 0xbbb2), ST(NVME_SC_INVALID_FIELD)); /* CPTPL 01b */
	CHECK_EQ(resv_cmd(&h[1], NVME_IO_RESV_REGISTER, 7, 0, 0), ST(NVME_SC_INVALID_FIELD));
	CHECK_EQ(acquire(&h[2], NVME_RESV_ACQUIRE, 1, 0, 0), CONFLICT);  /* not registered */
	CHECK_EQ(acquire(&h[0], NVME_RESV_ACQUIRE, 1, 0x9, 0), CONFLICT);  /* wrong key */
	CHECK_EQ(acquire(&h[0], NVME_RESV_ACQUIRE, 7, 0x1111, 0), ST(NVME_SC_INVALID_FIELD));
	CHECK_EQ(acquire(&h[0], NVME_RESV_ACQUIRE, 1, 0x1111, 0), 0);
	CHECK_EQ(acquire(&h[0], NVME_RESV_ACQUIRE, 1, 0x1111, 0), 0); /* holds it already */
	CHECK_EQ(acquire(&h[0], NVME_RESV_ACQUIRE, 2, 0x1111, 0), CONFLICT);
	CHECK_EQ(acquire(&h[1], NVME_RESV_ACQUIRE, 1, 0xbbb2, 0), CONFLICT);
	CHECK_EQ(report(&h[2], &r, true), 0);
	CHECK_EQ(r.hdr.regctl, 2);
	CHECK_EQ(r.hdr.rtype, 1);
	CHECK_EQ(r.hdr.ptpls, 0);
	CHECK_EQ(r.hdr.gen, gen + 3); /* two registrations, one replace */
	REQUIRE(find_reg(&r, 0) != NULL && find_reg(&r, 1) != NULL);
	CHECK_EQ(find_reg(&r, 0)->rkey, 0x1111);
	CHECK_EQ(find_reg(&r, 0)->rcsts, 1);
	CHECK_EQ(find_reg(&r, 0)->cntlid, 0xffff);
	CHECK_EQ(find_reg(&r, 1)->rkey, 0xbbb2);
	CHECK_EQ(find_reg(&r, 1)->rcsts, 0);
	/* Releasing with another type: invalid; by a non-holder: no effect. */
	CHECK_EQ(release(&h[0], NVME_RESV_RELEASE, 2, 0x1111), ST(NVME_SC_INVALID_FIELD));
	CHECK_EQ(release(&h[1], NVME_RESV_RELEASE, 1, 0xbbb2), 0);
	CHECK_EQ(io(&h[1], NVME_IO_WRITE), CONFLICT);
	/* The holder unregistering ends its reservation. */
	CHECK_EQ(reg(&h[0], NVME_RESV_UNREGISTER, 0, 0x1, 0), CONFLICT);
	CHECK_EQ(resv_cmd(&h[0], NVME_IO_RESV_REGISTER, NVME_RESV_UNREGISTER | NVME_RESV_IEKEY, 0,
			  0), 0);
	CHECK_EQ(report(&h[2], &r, true), 0);
	CHECK_EQ(r.hdr.regctl, 1);
	CHECK_EQ(r.hdr.rtype, 0);
	CHECK_EQ(io(&h[1], NVME_IO_WRITE), 0);
	CHECK_EQ(reg(&h[1], NVME_RESV_UNREGISTER, 0, 0xbbb2, 0), 0);
	test_end();
}

/* The next Reservation Notification log page (retain: keep the event masked). */
static void next_notice(struct host *h, struct nvme_resv_notification_log *log)
{
	memset(log, 0xee, sizeof(*log));
	CHECK_EQ(th_get_log(&h->adm, NVME_LOG_RESERVATION, 0xffffffffu, log, sizeof(*log), 0,
			    false), 0);
}

/* Take every notice waiting for h. */
static void drain_notices(struct host *h)
{
	struct nvme_resv_notification_log log;

	do
		next_notice(h, &log);
	while (log.rnlpt != 0);
}

static void test_preempt_notices(struct host h[NHOSTS])
{
	struct nvme_sqe aer = {.opc = NVME_ADMIN_ASYNC_EVENT_REQUEST};
	struct nvme_resv_notification_log log;
	struct nvme_cqe cqe;
	struct report r;
	uint64_t lpc;
	uint32_t dw0;
	int cid;

	test_begin("preempt: registration preempted notice, its event, the mask");
	for (int i = 0; i < NHOSTS; i++)
		drain_notices(&h[i]); /* whatever earlier cases left */
	cid = th_submit(&h[0].adm, &aer, NULL, 0, false);
	REQUIRE(cid >= 0);
	CHECK_EQ(reg(&h[0], NVME_RESV_REGISTER, 0, 0, 0xa), 0);
	CHECK_EQ(reg(&h[1], NVME_RESV_REGISTER, 0, 0, 0xb), 0);
	CHECK_EQ(reg(&h[2], NVME_RESV_REGISTER, 0, 0, 0xc), 0);
	CHECK_EQ(acquire(&h[0], NVME_RESV_ACQUIRE, NVME_RESV_WRITE_EXCLUSIVE, 0xa, 0), 0);
	/* PRKEY 0 with a holder that is not an all-registrants one: invalid. */
	CHECK_EQ(acquire(&h[1], NVME_RESV_PREEMPT, NVME_RESV_EXCLUSIVE_ACCESS, 0xb, 0),
		 ST(NVME_SC_INVALID_FIELD));
	CHECK_EQ(acquire(&h[1], NVME_RESV_PREEMPT, NVME_RESV_EXCLUSIVE_ACCESS, 0xb, 0x5),
		 CONFLICT); /* no registrant has key 5 */
	CHECK_EQ(acquire(&h[1], NVME_RESV_PREEMPT, NVME_RESV_EXCLUSIVE_ACCESS, 0xb, 0xa), 0);
	/* A lost its registration, and hears of it. */
	CHECK_EQ(th_wait(&h[0].adm, cid, &cqe, TH_TIMEOUT_MS), 0);
	CHECK_EQ(cqe.cdw0, NVME_AER_DW0(NVME_AER_TYPE_IO_SPECIFIC, 0, NVME_LOG_RESERVATION));
	next_notice(&h[0], &log);
	CHECK_EQ(log.rnlpt, NVME_RESV_NOTICE_REG_PREEMPTED);
	CHECK_EQ(log.nsid, 1);
	CHECK_EQ(log.nalp, 0);
	CHECK(log.lpc != 0);
	lpc = log.lpc;
	next_notice(&h[0], &log);
	CHECK_EQ(log.rnlpt, 0);
	CHECK_EQ(report(&h[2], &r, true), 0);
	CHECK(find_reg(&r, 0) == NULL);
	CHECK_EQ(r.hdr.rtype, NVME_RESV_EXCLUSIVE_ACCESS);
	CHECK_EQ(find_reg(&r, 1)->rcsts, 1);
	CHECK_EQ(io(&h[0], NVME_IO_READ), CONFLICT);
	CHECK_EQ(io(&h[2], NVME_IO_READ), CONFLICT);
	/* B took it with another type than A's: C heard it released. */
	next_notice(&h[2], &log);
	CHECK_EQ(log.rnlpt, NVME_RESV_NOTICE_RESV_RELEASED);
	/* The holder changes the type: the others hear it released. */
	CHECK_EQ(acquire(&h[1], NVME_RESV_PREEMPT, NVME_RESV_WE_REGS_ONLY, 0xb, 0xb), 0);
	next_notice(&h[2], &log);
	CHECK_EQ(log.rnlpt, NVME_RESV_NOTICE_RESV_RELEASED);
	CHECK_EQ(io(&h[2], NVME_IO_WRITE), 0);
	/* Masked (feature 82h), the release is not logged for C. */
	{
		struct nvme_sqe sf = {.opc = NVME_ADMIN_SET_FEATURES, .nsid = 1,
				      .cdw10 = NVME_FEAT_RESV_MASK, .cdw11 = NVME_RESV_MASK_RESREL};
		struct nvme_sqe gf = {.opc = NVME_ADMIN_GET_FEATURES, .nsid = 1,
				      .cdw10 = NVME_FEAT_RESV_MASK};

		CHECK_EQ(th_cmd(&h[2].adm, &sf, NULL, 0, false, NULL), 0);
		CHECK_EQ(th_cmd(&h[2].adm, &gf, NULL, 0, false, &cqe), 0);
		CHECK_EQ(cqe.cdw0, NVME_RESV_MASK_RESREL);
	}
	CHECK_EQ(release(&h[1], NVME_RESV_RELEASE, NVME_RESV_WE_REGS_ONLY, 0xb), 0);
	next_notice(&h[2], &log);
	CHECK_EQ(log.rnlpt, 0);
	/* Clear: the other registrants hear their reservation preempted. */
	CHECK_EQ(acquire(&h[1], NVME_RESV_ACQUIRE, NVME_RESV_WRITE_EXCLUSIVE, 0xb, 0), 0);
	CHECK_EQ(release(&h[1], NVME_RESV_CLEAR, 0, 0xb), 0);
	next_notice(&h[2], &log);
	CHECK_EQ(log.rnlpt, NVME_RESV_NOTICE_RESV_PREEMPTED);
	CHECK_EQ(report(&h[2], &r, true), 0);
	CHECK_EQ(r.hdr.regctl, 0);
	CHECK_EQ(r.hdr.rtype, 0);
	/* A's count goes on from where it was. */
	CHECK_EQ(reg(&h[0], NVME_RESV_REGISTER, 0, 0, 0xa), 0);
	CHECK_EQ(reg(&h[1], NVME_RESV_REGISTER, 0, 0, 0xb), 0);
	CHECK_EQ(release(&h[1], NVME_RESV_CLEAR, 0, 0xb), 0);
	next_notice(&h[0], &log);
	CHECK_EQ(log.rnlpt, NVME_RESV_NOTICE_RESV_PREEMPTED);
	CHECK_EQ(log.lpc, lpc + 1);
	dw0 = 0;
	CHECK_EQ(th_get_features(&h[2].adm, NVME_FEAT_RESV_MASK, 0, &dw0),
		 ST(NVME_SC_INVALID_NAMESPACE_OR_FORMAT)); /* NSID 0 */
	test_end();
}

/* A write waiting for its data when its host is preempted with abort
 * fails (Command Aborted due to Preempt and Abort) and never reaches the
 * media; the same with a plain preempt goes on. */
static void test_preempt_abort(struct host h[NHOSTS])
{
	static uint8_t data[BLOCK], check[BLOCK];
	struct th_raw_event ev;
	struct raw r;

	test_begin("preempt-and-abort: a write in flight fails and writes nothing");
	REQUIRE(th_raw_connect_io(&r, port, NQN, 2, h[0].adm.cntlid, 32) == 0);
	for (int round = 0; round < 2; round++) {
		bool abort = round == 1;

		memset(check, 0, sizeof(check));
		CHECK_EQ(th_rw(&h[1].io, NVME_IO_WRITE_ZEROES, 1, 40, 1, NULL, 0, 0), 0);
		CHECK_EQ(reg(&h[0], NVME_RESV_REGISTER, 0, 0, 0xa), 0);
		CHECK_EQ(reg(&h[1], NVME_RESV_REGISTER, 0, 0, 0xb), 0);
		CHECK_EQ(acquire(&h[0], NVME_RESV_ACQUIRE, NVME_RESV_WRITE_EXCLUSIVE, 0xa, 0), 0);
		/* A's write passes its check and waits for its data (R2T). */
		REQUIRE(th_raw_write_cmd(&r, 5, 1, 40, 1, BLOCK, NULL) == 0);
		REQUIRE(th_raw_next(&r, &ev, TH_TIMEOUT_MS) == 0);
		REQUIRE(ev.type == NVME_TCP_PDU_R2T);
		CHECK_EQ(acquire(&h[1], abort ? NVME_RESV_PREEMPT_ABORT : NVME_RESV_PREEMPT,
				 NVME_RESV_WRITE_EXCLUSIVE, 0xb, 0xa), 0);
		memset(data, 0x5a, sizeof(data));
		REQUIRE(th_raw_h2c(&r, 5, ev.ttag, 0, data, BLOCK) == 0);
		REQUIRE(th_raw_next(&r, &ev, TH_TIMEOUT_MS) == 0);
		REQUIRE(ev.type == NVME_TCP_PDU_CAPSULE_RESP);
		CHECK_EQ(ev.status, abort ? ST(NVME_SC_ABORTED_PREEMPT_ABORT) : 0);
		CHECK_EQ(th_rw(&h[1].io, NVME_IO_READ, 1, 40, 1, check, BLOCK, 0), 0);
		CHECK_EQ(check[0], abort ? 0 : 0x5a);
		/* A new command from A is refused as any non-registrant's. */
		CHECK_EQ(io(&h[0], NVME_IO_WRITE), CONFLICT);
		CHECK_EQ(release(&h[1], NVME_RESV_CLEAR, 0, 0xb), 0);
	}
	close(r.fd);
	test_end();
}

static void test_features(struct host h[NHOSTS])
{
	struct nvme_sqe get_hid = {.opc = NVME_ADMIN_GET_FEATURES, .cdw10 = NVME_FEAT_HOST_ID,
				   .cdw11 = NVME_FEAT_HOST_ID_EXHID};
	struct nvme_sqe set_hid = {.opc = NVME_ADMIN_SET_FEATURES, .cdw10 = NVME_FEAT_HOST_ID,
				   .cdw11 = NVME_FEAT_HOST_ID_EXHID};
	struct nvme_sqe persist = {.opc = NVME_ADMIN_SET_FEATURES, .nsid = 1,
				   .cdw10 = NVME_FEAT_RESV_PERSIST, .cdw11 = 1};
	struct nvme_sqe get_persist = {.opc = NVME_ADMIN_GET_FEATURES, .nsid = 1,
				       .cdw10 = NVME_FEAT_RESV_PERSIST};
	struct nvme_id_ctrl *id = malloc(sizeof(*id));
	struct nvme_id_ns *ns = malloc(sizeof(*ns));
	uint8_t hid[16];
	struct nvme_cqe cqe;

	test_begin("Identify ONCS/RESCAP, Host Identifier, Reservation Persistence");
	REQUIRE(id != NULL && ns != NULL);
	CHECK_EQ(th_identify(&h[1].adm, NVME_CNS_CONTROLLER, 0, id), 0);
	CHECK(id->oncs & NVME_CTRL_ONCS_RESERVATIONS);
	CHECK_EQ(th_identify(&h[1].adm, NVME_CNS_NAMESPACE, 1, ns), 0);
	CHECK_EQ(ns->rescap, 0xff);
	CHECK_EQ(ns->nmic & 1, 1);
	CHECK_EQ(th_cmd(&h[1].adm, &get_hid, hid, sizeof(hid), false, NULL), 0);
	CHECK(memcmp(hid, host_id[1], 16) == 0);
	get_hid.cdw11 = 0;
	CHECK_EQ(th_cmd(&h[1].adm, &get_hid, hid, sizeof(hid), false, NULL),
		 ST(NVME_SC_INVALID_FIELD));
	CHECK_EQ(th_cmd(&h[1].adm, &set_hid, hid, sizeof(hid), true, NULL),
		 ST(NVME_SC_COMMAND_SEQUENCE_ERROR));
	CHECK_EQ(th_cmd(&h[1].adm, &persist, NULL, 0, false, NULL), 0);
	CHECK_EQ(th_cmd(&h[1].adm, &get_persist, NULL, 0, false, &cqe), 0);
	CHECK_EQ(cqe.cdw0, 1);
	persist.cdw11 = 0;
	CHECK_EQ(th_cmd(&h[1].adm, &persist, NULL, 0, false, NULL), 0);
	CHECK_EQ(th_cmd(&h[1].adm, &get_persist, NULL, 0, false, &cqe), 0);
	CHECK_EQ(cqe.cdw0, 0);
	persist.nsid = 9;
	CHECK_EQ(th_cmd(&h[1].adm, &persist, NULL, 0, false, NULL),
		 ST(NVME_SC_INVALID_NAMESPACE_OR_FORMAT));
	free(id);
	free(ns);
	test_end();
}

static void state_path(char *path, size_t size)
{
	char cmd[512];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls %s/resv-*.state 2>/dev/null", dir);
	f = popen(cmd, "r");
	REQUIRE(f != NULL);
	path[0] = '\0';
	if (fgets(path, (int)size, f) != NULL)
		path[strcspn(path, "\n")] = '\0';
	pclose(f);
}

static void test_ptpl_restart(struct host h[NHOSTS])
{
	struct nvmf_error err;
	char path[512];
	struct report r;
	struct stat sb;

	test_begin("PTPL: the reservation survives a target restart; PTPL off forgets it");
	CHECK_EQ(reg(&h[0], NVME_RESV_REGISTER, NVME_RESV_CPTPL_SET, 0, 0xa), 0);
	CHECK_EQ(reg(&h[1], NVME_RESV_REGISTER, 0, 0, 0xb), 0);
	CHECK_EQ(acquire(&h[0], NVME_RESV_ACQUIRE, NVME_RESV_WE_REGS_ONLY, 0xa, 0), 0);
	state_path(path, sizeof(path));
	CHECK(path[0] != '\0');
	for (int i = 0; i < NHOSTS; i++)
		host_close(&h[i]);
	target_stop();
	REQUIRE(target_start(&err) == 0);
	for (int i = 0; i < NHOSTS; i++)
		host_connect(&h[i], i);
	CHECK_EQ(report(&h[2], &r, true), 0);
	CHECK_EQ(r.hdr.rtype, NVME_RESV_WE_REGS_ONLY);
	CHECK_EQ(r.hdr.regctl, 2);
	CHECK_EQ(r.hdr.ptpls, 1);
	CHECK(find_reg(&r, 0) != NULL && find_reg(&r, 0)->rcsts == 1);
	CHECK_EQ(io(&h[2], NVME_IO_WRITE), CONFLICT);
	CHECK_EQ(io(&h[1], NVME_IO_WRITE), 0);
	/* Clearing PTPL removes the file: the next start has nothing. */
	CHECK_EQ(reg(&h[0], NVME_RESV_REPLACE, NVME_RESV_CPTPL_CLEAR, 0xa, 0xa2), 0);
	CHECK(stat(path, &sb) != 0 && errno == ENOENT);
	CHECK_EQ(release(&h[0], NVME_RESV_CLEAR, 0, 0xa2), 0);
	test_end();
}

static void test_corrupt_state(struct host h[NHOSTS])
{
	struct nvmf_error err;
	char path[512];
	struct report r;
	int fd;

	test_begin("a corrupt state file refuses the namespace, saying why");
	CHECK_EQ(reg(&h[0], NVME_RESV_REGISTER, NVME_RESV_CPTPL_SET, 0, 0xa), 0);
	CHECK_EQ(acquire(&h[0], NVME_RESV_ACQUIRE, NVME_RESV_EXCLUSIVE_ACCESS, 0xa, 0), 0);
	state_path(path, sizeof(path));
	for (int i = 0; i < NHOSTS; i++)
		host_close(&h[i]);
	target_stop();
	/* One flipped bit in a key. */
	fd = open(path, O_RDWR);
	REQUIRE(fd >= 0);
	REQUIRE(pwrite(fd, "\x01", 1, 64 + 16) == 1);
	close(fd);
	CHECK(target_start(&err) != 0);
	if (strstr(err.msg, "checksum mismatch") == NULL || strstr(err.msg, path) == NULL) {
		fprintf(stderr, "unexpected error: %s\n", err.msg);
		CHECK(0);
	}
	/* Torn: cut short. */
	REQUIRE(truncate(path, 70) == 0);
	CHECK(target_start(&err) != 0);
	CHECK(strstr(err.msg, "torn") != NULL);
	/* Moved away, the namespace comes back with no reservation. */
	REQUIRE(unlink(path) == 0);
	REQUIRE(target_start(&err) == 0);
	for (int i = 0; i < NHOSTS; i++)
		host_connect(&h[i], i);
	CHECK_EQ(report(&h[1], &r, true), 0);
	CHECK_EQ(r.hdr.regctl, 0);
	test_end();
}

static int run_library(void)
{
	struct host h[NHOSTS];
	struct nvmf_error err;

	REQUIRE(target_start(&err) == 0);
	for (int i = 0; i < NHOSTS; i++)
		host_connect(&h[i], i);
	test_register_report(h);
	test_access_table(h);
	test_preempt_notices(h);
	test_preempt_abort(h);
	test_features(h);
	test_ptpl_restart(h);
	test_corrupt_state(h);
	for (int i = 0; i < NHOSTS; i++)
		host_close(&h[i]);
	target_stop();
	return test_summary();
}

/* ------------------------------------------------------------------ */
/* nvmfd: kill -9 and restart                                          */
/* ------------------------------------------------------------------ */

static char *read_text(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* Start nvmfd; its pid once "ready" is logged, or -1 once it exited
 * (status in *status). */
static pid_t nvmfd_start(const char *conf, char *log, int *status)
{
	static int runs;
	char *argv[] = {"nvmfd", "-c", (char *)conf, "--discovery-port", "0", "--data-dir", dir,
			NULL};
	pid_t pid;

	/* A new log each time: the last run's "ready" must not count. */
	snprintf(log, 256, "%s/nvmfd-%d.log", dir, ++runs);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 2);
		dup2(fd, 1);
		execv(NVMFD_PATH, argv);
		_exit(127);
	}
	/* 60 s: a loaded machine, an ASan build. */
	for (int i = 0; i < 6000; i++) {
		if (strstr(read_text(log), "nvmfd: ready") != NULL)
			return pid;
		if (waitpid(pid, status, WNOHANG) == pid)
			return -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return -1;
}

static void write_conf(const char *path)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f != NULL);
	fprintf(f,
		"{\"hosts\": [], \"ports\": [{\"addr\": {\"adrfam\": \"ipv4\", "
		"\"traddr\": \"127.0.0.1\", \"treq\": \"not specified\", \"trsvcid\": \"%u\", "
		"\"trtype\": \"tcp\"}, \"portid\": 1, \"referrals\": [], "
		"\"subsystems\": [\"" NQN "\"]}],\n"
		" \"subsystems\": [{\"allowed_hosts\": [], \"attr\": {\"allow_any_host\": \"1\"}, "
		"\"namespaces\": [{\"device\": {\"path\": \"%s/ns1.img\", \"size\": \"1M\", "
		"\"block_size\": 4096}, \"enable\": 1, \"nsid\": 1, \"resv\": {\"enable\": \"1\"}}], "
		"\"nqn\": \"" NQN "\"}]}\n",
		port, dir);
	REQUIRE(fclose(f) == 0);
}

static int run_nvmfd(void)
{
	struct host h[NHOSTS];
	char conf[256], log[256], path[512];
	struct report r;
	int status = 0;
	pid_t pid;

	{
		int fd = test_listen(&port);

		close(fd);
	}
	snprintf(conf, sizeof(conf), "%s/config.json", dir);
	write_conf(conf);

	test_begin("nvmfd: PTPL reservation holds across kill -9 and restart");
	pid = nvmfd_start(conf, log, &status);
	if (pid < 0) {
		fprintf(stderr, "nvmfd did not start:\n%s\n", read_text(log));
		return 1;
	}
	for (int i = 0; i < NHOSTS; i++)
		host_connect(&h[i], i);
	CHECK_EQ(reg(&h[0], NVME_RESV_REGISTER, NVME_RESV_CPTPL_SET, 0, 0xa11ce), 0);
	CHECK_EQ(acquire(&h[0], NVME_RESV_ACQUIRE, NVME_RESV_WRITE_EXCLUSIVE, 0xa11ce, 0), 0);
	CHECK_EQ(io(&h[2], NVME_IO_WRITE), CONFLICT);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (int i = 0; i < NHOSTS; i++)
		host_close(&h[i]);
	pid = nvmfd_start(conf, log, &status);
	REQUIRE(pid > 0);
	CHECK(strstr(read_text(log), "reservation state loaded") != NULL);
	for (int i = 0; i < NHOSTS; i++)
		host_connect(&h[i], i);
	CHECK_EQ(report(&h[2], &r, true), 0);
	CHECK_EQ(r.hdr.rtype, NVME_RESV_WRITE_EXCLUSIVE);
	CHECK_EQ(r.hdr.ptpls, 1);
	CHECK(find_reg(&r, 0) != NULL && find_reg(&r, 0)->rcsts == 1 &&
	      find_reg(&r, 0)->rkey == 0xa11ce);
	CHECK_EQ(io(&h[2], NVME_IO_READ), 0);
	CHECK_EQ(io(&h[2], NVME_IO_WRITE), CONFLICT);
	CHECK_EQ(io(&h[0], NVME_IO_WRITE), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (int i = 0; i < NHOSTS; i++)
		host_close(&h[i]);
	test_end();

	test_begin("nvmfd: a torn state file is refused with a clear error");
	state_path(path, sizeof(path));
	REQUIRE(path[0] != '\0');
	REQUIRE(truncate(path, 100) == 0);
	pid = nvmfd_start(conf, log, &status);
	CHECK(pid < 0);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	if (strstr(read_text(log), "torn") == NULL ||
	    strstr(read_text(log), "refusing the namespace") == NULL) {
		fprintf(stderr, "unexpected nvmfd output:\n%s\n", read_text(log));
		CHECK(0);
	}
	test_end();
	return test_summary();
}

int main(int argc, char **argv)
{
	int rc;

	nvmf_log_set_level(NVMF_LOG_WARN);
	REQUIRE(mkdtemp(dir) != NULL);
	rc = argc > 1 && strcmp(argv[1], "nvmfd") == 0 ? run_nvmfd() : run_library();
	if (rc == 0) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return rc;
}
