/* SPDX-License-Identifier: MIT */
/*
 * Asymmetric Namespace Access on the controller: a target in this process
 * with three namespaces in two ANA groups on two ports that see the groups
 * differently.  Identify fields, the ANA log page (with and without RGO),
 * path statuses on I/O, the ANA change event on the controllers of the
 * port that changed (library call and reload), configuration checks, and
 * controller ID ranges for two targets serving one subsystem.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_helper.h"
#include "nvmf/controller.h"
#include "nvmf/log.h"
#include "util/test_util.h"

#define NQN "nqn.2024-01.org.nvmfd:ana"
#define PATH_STATUS(sc) NVME_STATUS(NVME_SCT_PATH, sc)
#define ANA_AEN_DW0 0x000c0302u /* notice, ANA change, log page 0Ch */

struct fixture {
	struct nvmf_target *t;
	struct nvmf_target_conf conf;
	struct nvmf_subsys_conf subsys;
	struct nvmf_ns_conf ns[3];
	struct nvmf_port_conf ports[2];
	struct nvmf_port_ana ana[2][2];
	char port_subsys[1][NVMF_NQN_SIZE];
	uint16_t port[2];
};

/* Namespace 1 in group 1, 2 and 3 in group 2; port 1 prefers group 1,
 * port 2 serves group 2 only. */
static void fixture_conf(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < 3; i++) {
		snprintf(f->ns[i].path, sizeof(f->ns[i].path), "ramdisk:4M");
		f->ns[i].nsid = (uint32_t)i + 1;
		f->ns[i].enabled = true;
		f->ns[i].anagrpid = i == 0 ? 1 : 2;
	}
	snprintf(f->subsys.nqn, sizeof(f->subsys.nqn), NQN);
	f->subsys.allow_any_host = true;
	f->subsys.nns = 3;
	f->subsys.ns = f->ns;
	snprintf(f->port_subsys[0], sizeof(f->port_subsys[0]), NQN);
	f->ana[0][0] = (struct nvmf_port_ana){1, NVME_ANA_OPTIMIZED};
	f->ana[0][1] = (struct nvmf_port_ana){2, NVME_ANA_NON_OPTIMIZED};
	f->ana[1][0] = (struct nvmf_port_ana){1, NVME_ANA_INACCESSIBLE};
	f->ana[1][1] = (struct nvmf_port_ana){2, NVME_ANA_OPTIMIZED};
	for (int i = 0; i < 2; i++) {
		f->ports[i].portid = (uint16_t)(i + 1);
		f->ports[i].adrfam = NVMF_ADRFAM_IPV4;
		snprintf(f->ports[i].traddr, sizeof(f->ports[i].traddr), "127.0.0.1");
		snprintf(f->ports[i].trsvcid, sizeof(f->ports[i].trsvcid), "0");
		f->ports[i].inline_data_size = UINT32_MAX;
		f->ports[i].nsubsys = 1;
		f->ports[i].subsystems = f->port_subsys;
		f->ports[i].nana = 2;
		f->ports[i].ana = f->ana[i];
	}
	f->conf.nsubsys = 1;
	f->conf.subsys = &f->subsys;
	f->conf.nports = 2;
	f->conf.ports = f->ports;
}

static void fixture_start(struct fixture *f)
{
	struct nvmf_target_params p;
	struct nvmf_error err;

	nvmf_target_params_init(&p);
	fixture_conf(f);
	f->t = nvmf_target_create(&p);
	REQUIRE(f->t != NULL);
	if (nvmf_target_configure(f->t, &f->conf, &err) != 0) {
		fprintf(stderr, "configure: %s\n", err.msg);
		REQUIRE(0);
	}
	for (int i = 0; i < 2; i++)
		f->port[i] = (uint16_t)nvmf_target_listen_port(f->t, (uint16_t)(i + 1));
}

/* The ANA log as read: header, then descriptors and NSIDs. */
struct ana_log {
	struct nvme_ana_log_hdr hdr;
	struct {
		struct nvme_ana_group_desc d;
		uint32_t nsid[4];
	} g[4];
};

static bool read_ana_log(struct th_queue *q, bool rgo, bool rae, struct ana_log *log)
{
	static uint8_t buf[8192];
	struct nvme_sqe sqe = {
		.opc = NVME_ADMIN_GET_LOG_PAGE,
		.nsid = 0xffffffffu,
		.cdw10 = NVME_LOG_ANA | (rgo ? NVME_ANA_LSP_RGO << 8 : 0) | (rae ? 1u << 15 : 0) |
			 ((sizeof(buf) / 4 - 1) << 16),
	};
	size_t off = sizeof(log->hdr);

	memset(log, 0, sizeof(*log));
	if (th_cmd(q, &sqe, buf, sizeof(buf), false, NULL) != 0)
		return false;
	memcpy(&log->hdr, buf, sizeof(log->hdr));
	for (unsigned i = 0; i < log->hdr.ngrps && i < 4; i++) {
		memcpy(&log->g[i].d, buf + off, sizeof(log->g[i].d));
		off += sizeof(log->g[i].d);
		if (log->g[i].d.nnsids > 4)
			return false;
		memcpy(log->g[i].nsid, buf + off, log->g[i].d.nnsids * 4);
		off += log->g[i].d.nnsids * 4;
	}
	return true;
}

static void test_identify_and_log(void)
{
	struct fixture f;
	struct th_queue a;
	struct nvme_id_ctrl id;
	struct nvme_id_ns ns;
	struct ana_log log;
	uint32_t supported[256];

	test_begin("ANA identify fields and log page");
	fixture_start(&f);
	REQUIRE(th_connect_admin(&a, f.port[0], NQN, NULL) == 0);
	CHECK_EQ(th_identify(&a, NVME_CNS_CONTROLLER, 0, &id), 0);
	CHECK_EQ(id.cmic, NVME_CTRL_CMIC_MULTI_PORT | NVME_CTRL_CMIC_MULTI_CTRL | NVME_CTRL_CMIC_ANA);
	CHECK_EQ(id.anacap, 0x1f);
	CHECK_EQ(id.anatt, 10);
	CHECK_EQ(id.anagrpmax, NVMF_ANA_GRPMAX);
	CHECK_EQ(id.nanagrpid, NVMF_ANA_GRPMAX);
	CHECK(id.oaes & NVME_CTRL_OAES_ANA_CHANGE);
	CHECK_EQ(th_identify(&a, NVME_CNS_NAMESPACE, 1, &ns), 0);
	CHECK_EQ(ns.anagrpid, 1);
	CHECK_EQ(th_identify(&a, NVME_CNS_NAMESPACE, 3, &ns), 0);
	CHECK_EQ(ns.anagrpid, 2);
	CHECK_EQ(th_get_log(&a, NVME_LOG_SUPPORTED_PAGES, 0, supported, sizeof(supported), 0, false),
		 0);
	CHECK_EQ(supported[NVME_LOG_ANA], 1);

	REQUIRE(read_ana_log(&a, false, false, &log));
	CHECK(log.hdr.chgcnt > 0); /* group 2 left its default on both ports */
	CHECK_EQ(log.hdr.ngrps, 2);
	CHECK_EQ(log.g[0].d.grpid, 1);
	CHECK_EQ(log.g[0].d.state, NVME_ANA_OPTIMIZED);
	CHECK_EQ(log.g[0].d.nnsids, 1);
	CHECK_EQ(log.g[0].nsid[0], 1);
	CHECK_EQ(log.g[0].d.chgcnt, log.hdr.chgcnt);
	CHECK_EQ(log.g[1].d.grpid, 2);
	CHECK_EQ(log.g[1].d.state, NVME_ANA_NON_OPTIMIZED);
	CHECK_EQ(log.g[1].d.nnsids, 2);
	CHECK_EQ(log.g[1].nsid[0], 2);
	CHECK_EQ(log.g[1].nsid[1], 3);
	/* RGO: the descriptors alone. */
	REQUIRE(read_ana_log(&a, true, false, &log));
	CHECK_EQ(log.hdr.ngrps, 2);
	CHECK_EQ(log.g[0].d.nnsids, 0);
	CHECK_EQ(log.g[1].d.grpid, 2);
	CHECK_EQ(log.g[1].d.nnsids, 0);
	th_close(&a);

	/* The other port sees the groups its own way. */
	REQUIRE(th_connect_admin(&a, f.port[1], NQN, NULL) == 0);
	REQUIRE(read_ana_log(&a, false, false, &log));
	CHECK_EQ(log.g[0].d.state, NVME_ANA_INACCESSIBLE);
	CHECK_EQ(log.g[1].d.state, NVME_ANA_OPTIMIZED);
	th_close(&a);
	nvmf_target_destroy(f.t);
	test_end();
}

static void test_path_status(void)
{
	struct fixture f;
	struct th_queue a1, io1, a2, io2;
	uint8_t buf[4096];

	test_begin("ANA path statuses on I/O");
	fixture_start(&f);
	REQUIRE(th_connect_admin(&a1, f.port[0], NQN, NULL) == 0);
	REQUIRE(th_connect_io(&io1, f.port[0], NQN, 1, a1.cntlid, NULL) == 0);
	REQUIRE(th_connect_admin(&a2, f.port[1], NQN, NULL) == 0);
	REQUIRE(th_connect_io(&io2, f.port[1], NQN, 1, a2.cntlid, NULL) == 0);
	memset(buf, 0x5a, sizeof(buf));
	CHECK_EQ(th_rw(&io1, NVME_IO_WRITE, 1, 0, 8, buf, 4096, 0), 0);
	CHECK_EQ(th_rw(&io1, NVME_IO_WRITE, 2, 0, 8, buf, 4096, 0), 0); /* non-optimized serves */
	/* Group 1 is inaccessible on port 2: no data either way. */
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(th_rw(&io2, NVME_IO_READ, 1, 0, 8, buf, 4096, 0),
		 PATH_STATUS(NVME_SC_ANA_INACCESSIBLE));
	CHECK_EQ(buf[0], 0);
	CHECK_EQ(th_rw(&io2, NVME_IO_WRITE, 1, 0, 8, buf, 4096, 0),
		 PATH_STATUS(NVME_SC_ANA_INACCESSIBLE));
	CHECK_EQ(th_rw(&io2, NVME_IO_READ, 2, 0, 8, buf, 4096, 0), 0);
	CHECK_EQ(buf[0], 0x5a);
	/* The library call: persistent loss, then transition, then back. */
	CHECK_EQ(nvmf_target_set_ana_state(f.t, 1, 1, NVME_ANA_PERSISTENT_LOSS), 0);
	CHECK_EQ(th_rw(&io1, NVME_IO_READ, 1, 0, 8, buf, 4096, 0),
		 PATH_STATUS(NVME_SC_ANA_PERSISTENT_LOSS));
	CHECK_EQ(nvmf_target_set_ana_state(f.t, 1, 1, NVME_ANA_CHANGE), 0);
	CHECK_EQ(th_rw(&io1, NVME_IO_WRITE, 1, 0, 8, buf, 4096, 0),
		 PATH_STATUS(NVME_SC_ANA_TRANSITION));
	CHECK_EQ(nvmf_target_set_ana_state(f.t, 1, 1, NVME_ANA_NON_OPTIMIZED), 0);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(th_rw(&io1, NVME_IO_READ, 1, 0, 8, buf, 4096, 0), 0);
	CHECK_EQ(buf[4095], 0x5a);
	/* Bad calls. */
	CHECK_EQ(nvmf_target_set_ana_state(f.t, 9, 1, NVME_ANA_OPTIMIZED), -ENOENT);
	CHECK_EQ(nvmf_target_set_ana_state(f.t, 1, 0, NVME_ANA_OPTIMIZED), -EINVAL);
	CHECK_EQ(nvmf_target_set_ana_state(f.t, 1, NVMF_ANA_GRPMAX + 1, NVME_ANA_OPTIMIZED),
		 -EINVAL);
	CHECK_EQ(nvmf_target_set_ana_state(f.t, 1, 1, (enum nvme_ana_state)5), -EINVAL);
	th_close(&io2);
	th_close(&a2);
	th_close(&io1);
	th_close(&a1);
	nvmf_target_destroy(f.t);
	test_end();
}

static void test_change_event(void)
{
	struct fixture f;
	struct th_queue a1, a2;
	struct nvme_sqe aer = {.opc = NVME_ADMIN_ASYNC_EVENT_REQUEST};
	struct nvme_cqe cqe;
	struct ana_log log;
	struct nvmf_error err;
	uint64_t before;
	int cid1, cid2;

	test_begin("ANA change event");
	fixture_start(&f);
	REQUIRE(th_connect_admin(&a1, f.port[0], NQN, NULL) == 0);
	REQUIRE(th_connect_admin(&a2, f.port[1], NQN, NULL) == 0);
	CHECK_EQ(th_set_features(&a1, NVME_FEAT_ASYNC_EVENT_CONFIG, NVME_AEC_ANA_CHANGE, NULL), 0);
	CHECK_EQ(th_set_features(&a2, NVME_FEAT_ASYNC_EVENT_CONFIG, NVME_AEC_ANA_CHANGE, NULL), 0);
	REQUIRE(read_ana_log(&a1, false, false, &log));
	before = log.hdr.chgcnt;
	cid1 = th_submit(&a1, &aer, NULL, 0, false);
	cid2 = th_submit(&a2, &aer, NULL, 0, false);
	REQUIRE(cid1 >= 0 && cid2 >= 0);
	/* A change on port 1 reaches port 1's controller only. */
	CHECK_EQ(nvmf_target_set_ana_state(f.t, 1, 2, NVME_ANA_INACCESSIBLE), 0);
	CHECK_EQ(th_wait(&a1, cid1, &cqe, 60000), 0);
	CHECK_EQ(cqe.cdw0, ANA_AEN_DW0);
	CHECK_EQ(th_wait(&a2, cid2, &cqe, 300), -1);
	REQUIRE(read_ana_log(&a1, false, false, &log));
	CHECK_EQ(log.hdr.chgcnt, before + 1);
	CHECK_EQ(log.g[1].d.state, NVME_ANA_INACCESSIBLE);
	/* A group no namespace is in raises nothing (port 2 still waits). */
	CHECK_EQ(nvmf_target_set_ana_state(f.t, 2, 7, NVME_ANA_OPTIMIZED), 0);
	/* A reload that swaps the ports' states: both hear of it. */
	cid1 = th_submit(&a1, &aer, NULL, 0, false);
	f.ana[0][0].state = NVME_ANA_INACCESSIBLE;
	f.ana[0][1].state = NVME_ANA_OPTIMIZED;
	f.ana[1][0].state = NVME_ANA_OPTIMIZED;
	f.ana[1][1].state = NVME_ANA_INACCESSIBLE;
	CHECK_EQ(nvmf_target_configure(f.t, &f.conf, &err), 0);
	CHECK_EQ(th_wait(&a1, cid1, &cqe, 60000), 0);
	CHECK_EQ(cqe.cdw0, ANA_AEN_DW0);
	CHECK_EQ(th_wait(&a2, cid2, &cqe, 60000), 0);
	CHECK_EQ(cqe.cdw0, ANA_AEN_DW0);
	REQUIRE(read_ana_log(&a2, false, false, &log));
	CHECK_EQ(log.g[0].d.state, NVME_ANA_OPTIMIZED);
	CHECK_EQ(log.g[1].d.state, NVME_ANA_INACCESSIBLE);
	/* Read with RAE: the event stays masked, so one more change is not
	 * reported until the log is read without it. */
	cid2 = th_submit(&a2, &aer, NULL, 0, false);
	CHECK_EQ(nvmf_target_set_ana_state(f.t, 2, 1, NVME_ANA_NON_OPTIMIZED), 0);
	CHECK_EQ(th_wait(&a2, cid2, &cqe, 60000), 0);
	REQUIRE(read_ana_log(&a2, false, true, &log));
	cid2 = th_submit(&a2, &aer, NULL, 0, false);
	CHECK_EQ(nvmf_target_set_ana_state(f.t, 2, 1, NVME_ANA_OPTIMIZED), 0);
	CHECK_EQ(th_wait(&a2, cid2, &cqe, 300), -1);
	REQUIRE(read_ana_log(&a2, false, false, &log));
	CHECK_EQ(nvmf_target_set_ana_state(f.t, 2, 1, NVME_ANA_NON_OPTIMIZED), 0);
	CHECK_EQ(th_wait(&a2, cid2, &cqe, 60000), 0);
	CHECK_EQ(cqe.cdw0, ANA_AEN_DW0);
	th_close(&a2);
	th_close(&a1);
	nvmf_target_destroy(f.t);
	test_end();
}

static void test_config_checks(void)
{
	struct fixture f;
	struct nvmf_error err;

	test_begin("ANA configuration checks");
	fixture_conf(&f);
	CHECK_EQ(nvmf_target_conf_validate(&f.conf, &err), 0);
	f.ana[0][1].grpid = NVMF_ANA_GRPMAX + 1;
	CHECK_EQ(nvmf_target_conf_validate(&f.conf, &err), -EINVAL);
	CHECK(strstr(err.msg, "ANA group 129") != NULL);
	f.ana[0][1].grpid = 1;
	CHECK_EQ(nvmf_target_conf_validate(&f.conf, &err), -EINVAL);
	CHECK(strstr(err.msg, "given twice") != NULL);
	f.ana[0][1].grpid = 2;
	f.ana[0][1].state = (enum nvme_ana_state)0;
	CHECK_EQ(nvmf_target_conf_validate(&f.conf, &err), -EINVAL);
	f.ana[0][1].state = NVME_ANA_CHANGE;
	f.ns[2].anagrpid = NVMF_ANA_GRPMAX + 1;
	CHECK_EQ(nvmf_target_conf_validate(&f.conf, &err), -EINVAL);
	CHECK(strstr(err.msg, "namespace 3") != NULL);
	/* The names nvmetcli writes. */
	for (enum nvme_ana_state s = 0; s <= NVME_ANA_CHANGE; s++) {
		enum nvme_ana_state back;
		const char *name = nvmf_ana_state_name(s);

		if (strcmp(name, "unknown") == 0)
			continue;
		CHECK_EQ(nvmf_ana_state_parse(name, &back), 0);
		CHECK_EQ(back, s);
	}
	CHECK(strcmp(nvmf_ana_state_name(NVME_ANA_NON_OPTIMIZED), "non_optimized") == 0);
	CHECK(strcmp(nvmf_ana_state_name(NVME_ANA_PERSISTENT_LOSS), "persistent_loss") == 0);
	CHECK(nvmf_ana_state_parse("non-optimized", &(enum nvme_ana_state){0}) == -EINVAL);
	test_end();
}

/* Two targets serving one subsystem as an HA pair: disjoint controller
 * IDs, the same namespace identifiers. */
static void test_ha_pair(void)
{
	struct fixture f[2];
	struct th_queue a[2];
	uint8_t desc[2][4096];

	test_begin("two targets, one subsystem: controller ID ranges");
	for (int i = 0; i < 2; i++) {
		struct nvmf_target_params p;
		struct nvmf_error err;

		nvmf_target_params_init(&p);
		fixture_conf(&f[i]);
		f[i].subsys.cntlid_min = (uint16_t)(i == 0 ? 1 : 0x8000);
		f[i].subsys.cntlid_max = (uint16_t)(i == 0 ? 0x7fff : NVMF_CNTLID_MAX);
		f[i].t = nvmf_target_create(&p);
		REQUIRE(f[i].t != NULL);
		REQUIRE(nvmf_target_configure(f[i].t, &f[i].conf, &err) == 0);
		f[i].port[0] = (uint16_t)nvmf_target_listen_port(f[i].t, 1);
		REQUIRE(th_connect_admin(&a[i], f[i].port[0], NQN, NULL) == 0);
		CHECK_EQ(th_identify(&a[i], NVME_CNS_NS_ID_DESCRIPTORS, 1, desc[i]), 0);
	}
	CHECK(a[0].cntlid >= 1 && a[0].cntlid <= 0x7fff);
	CHECK(a[1].cntlid >= 0x8000 && a[1].cntlid <= NVMF_CNTLID_MAX);
	CHECK_EQ(memcmp(desc[0], desc[1], sizeof(desc[0])), 0);
	for (int i = 0; i < 2; i++) {
		th_close(&a[i]);
		nvmf_target_destroy(f[i].t);
	}
	test_end();
}

int main(void)
{
	nvmf_log_set_level(NVMF_LOG_ERR);
	test_identify_and_log();
	test_path_status();
	test_change_event();
	test_config_checks();
	test_ha_pair();
	return test_summary();
}
