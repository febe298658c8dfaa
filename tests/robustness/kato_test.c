/* SPDX-License-Identifier: MIT */
/*
 * A host that stops sending Keep Alive loses its association after KATO,
 * and everything it held is freed; a host that keeps sending them, next to
 * it, is not touched.
 *
 * Against nvmfd (threads engine, two threads per queue pair): its open
 * file descriptors, threads and established connections return to their
 * baseline, and the log names the expiry.  Against the library target in
 * this process: the target's connection and controller counts return to
 * zero and kato_expired counts one.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/host_helper.h"
#include "nvmf/controller.h"
#include "nvmf/log.h"
#include "robustness/daemon.h"
#include "util/test_util.h"

#define NQN DAEMON_NQN
#define KATO_MS 2000              /* a multiple of nvmfd's KAS (1 s): no rounding */
#define SLACK_MS 8000             /* reaper tick and a loaded machine */
#define IO_QUEUES 2
#define BYTES 16384

static bool verified_io(struct th_queue *io, uint64_t slba, uint32_t seed)
{
	uint8_t *w = malloc(BYTES), *r = malloc(BYTES);
	bool ok;

	REQUIRE(w != NULL && r != NULL);
	test_fill(w, BYTES, seed);
	ok = th_rw(io, NVME_IO_WRITE, 1, slba, BYTES / 512, w, BYTES, 0) == 0 &&
	     th_rw(io, NVME_IO_READ, 1, slba, BYTES / 512, r, BYTES, 0) == 0 &&
	     test_verify(r, BYTES, seed);
	free(w);
	free(r);
	return ok;
}

struct assoc {
	struct th_queue admin;
	struct th_queue io[IO_QUEUES];
};

static void assoc_open(struct assoc *a, uint16_t port, const char *hostnqn)
{
	struct th_opts opts = {.kato_ms = KATO_MS, .hostnqn = hostnqn};

	REQUIRE(th_connect_admin(&a->admin, port, NQN, &opts) == 0);
	for (int q = 0; q < IO_QUEUES; q++) {
		REQUIRE(th_connect_io(&a->io[q], port, NQN, (uint16_t)(q + 1), a->admin.cntlid,
				      &opts) == 0);
		CHECK(verified_io(&a->io[q], (uint64_t)q * 64, (uint32_t)q + 1));
	}
}

static void assoc_close(struct assoc *a)
{
	for (int q = 0; q < IO_QUEUES; q++)
		th_close(&a->io[q]);
	th_close(&a->admin);
}

/*
 * When the silent association went: test_now_us() once every queue of it is
 * seen closed, keeping the lively one talking (a Keep Alive every 500 ms)
 * meanwhile; 0 if that takes past KATO + SLACK_MS from silent_since.
 */
static uint64_t wait_teardown(struct assoc *silent, struct assoc *lively, uint64_t silent_since)
{
	uint64_t end = silent_since + (KATO_MS + SLACK_MS) * 1000ull;
	struct nvme_sqe ka = {.opc = NVME_ADMIN_KEEP_ALIVE};

	while (test_now_us() < end) {
		bool all = th_wait_closed(&silent->admin, 500) == 0;

		for (int q = 0; q < IO_QUEUES; q++)
			all &= th_wait_closed(&silent->io[q], 0) == 0;
		CHECK_EQ(th_cmd(&lively->admin, &ka, NULL, 0, false, NULL), 0);
		if (all)
			return test_now_us();
	}
	return 0;
}

/*
 * The teardown came within KATO of the silent association's last command.
 * Not before: nvmfd took that command, so began its last KATO interval, no
 * earlier than opened (taken before the association's first command); a
 * floor from since instead would shrink by however long this test waited
 * for the CPU between the completion and reading the clock (1837 ms seen
 * under load).  Not much after: the interval began before since.
 */
static long check_teardown_time(uint64_t opened, uint64_t since, uint64_t gone)
{
	long ms = gone != 0 ? (long)((gone - since) / 1000) : -1;

	CHECK(gone != 0 && gone - opened >= KATO_MS * 1000ull);
	CHECK(ms >= 0 && ms <= KATO_MS + SLACK_MS);
	return ms;
}

static const char *const lively_nqn = "nqn.2024-01.org.nvmfd:lively-host";

static void test_daemon(void)
{
	struct daemon d;
	const char *extra[] = {"--engine", "threads", "ramdisk:64M", NULL};
	struct assoc silent, lively;
	int base_fds, fds, conns;
	long base_threads, threads, ms;
	uint64_t opened, since;
	uint16_t old_cntlid;

	test_begin("nvmfd: a host that stops its keep alives loses its association");
	REQUIRE(daemon_start(&d, extra));
	base_fds = daemon_fds(&d);
	base_threads = daemon_status(&d, "Threads");
	assoc_open(&lively, d.port, lively_nqn);
	opened = test_now_us();
	assoc_open(&silent, d.port, NULL);
	fprintf(stderr, "two associations of 1 + %d queues: nvmfd has %d fds (baseline %d), %ld threads (baseline %ld), %d connections\n",
		IO_QUEUES, daemon_fds(&d), base_fds, daemon_status(&d, "Threads"), base_threads,
		daemon_tcp_conns(&d));
	old_cntlid = silent.admin.cntlid;
	/* From here the silent host sends nothing at all. */
	since = test_now_us();
	ms = check_teardown_time(opened, since, wait_teardown(&silent, &lively, since));
	fprintf(stderr, "answer: the silent association's %d connections closed %ld ms after its last command (KATO %d ms)\n",
		1 + IO_QUEUES, ms, KATO_MS);
	CHECK_EQ(daemon_log_count(&d, "keep alive timeout (2000 ms) expired"), 1);
	/* Freed at once, while the silent host still holds its end of the sockets. */
	fds = daemon_wait_fds(&d, base_fds + 1 + IO_QUEUES, 10000);
	for (uint64_t end = test_now_us() + 10000000;; usleep(50000)) {
		threads = daemon_status(&d, "Threads");
		conns = daemon_tcp_conns(&d);
		if ((threads <= base_threads + 2 * (1 + IO_QUEUES) && conns == 1 + IO_QUEUES) ||
		    test_now_us() >= end)
			break;
	}
	fprintf(stderr, "with only the lively host left: %d fds, %ld threads, %d connections\n", fds,
		threads, conns);
	CHECK(fds <= base_fds + 1 + IO_QUEUES);
	CHECK(threads <= base_threads + 2 * (1 + IO_QUEUES));
	CHECK_EQ(conns, 1 + IO_QUEUES);
	/* The lively one was not touched: its queues still verify. */
	for (int q = 0; q < IO_QUEUES; q++)
		CHECK(verified_io(&lively.io[q], 1024 + (uint64_t)q * 64, 100 + (uint32_t)q));
	/* The association is gone: its CNTLID takes no more queues. */
	{
		struct th_queue late;
		struct th_opts opts = {0};

		CHECK_EQ(th_connect_io(&late, d.port, NQN, 1, old_cntlid, &opts),
			 NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAMETERS));
		th_close(&late);
	}
	assoc_close(&silent);
	assoc_close(&lively);
	/* Everything back to the baseline: fds, threads, connections. */
	fds = daemon_wait_fds(&d, base_fds, 10000);
	for (uint64_t end = test_now_us() + 10000000;; usleep(50000)) {
		threads = daemon_status(&d, "Threads");
		conns = daemon_tcp_conns(&d);
		if ((threads <= base_threads && conns == 0) || test_now_us() >= end)
			break;
	}
	fprintf(stderr, "after both hosts left: %d fds (baseline %d), %ld threads (baseline %ld), %d connections\n",
		fds, base_fds, threads, base_threads, conns);
	CHECK(fds <= base_fds);
	CHECK(threads <= base_threads);
	CHECK_EQ(conns, 0);
	CHECK_EQ(daemon_stop(&d, SIGTERM, 30000), 0);
	test_end();
}

static void test_library(void)
{
	struct nvmf_target_params params;
	struct nvmf_target_conf conf;
	struct nvmf_subsys_conf subsys = {0};
	struct nvmf_ns_conf ns = {0};
	struct nvmf_port_conf port = {0};
	struct nvmf_target_stats st;
	char port_subsys[1][NVMF_NQN_SIZE] = {NQN};
	struct nvmf_target *t;
	struct assoc silent, lively;
	struct nvmf_error err;
	uint64_t opened, since;
	long ms;
	int lport;

	test_begin("library target: keep alive expiry frees the association");
	snprintf(ns.path, sizeof(ns.path), "ramdisk:16M");
	ns.nsid = 1;
	ns.enabled = true;
	ns.block_size = 512;
	snprintf(subsys.nqn, sizeof(subsys.nqn), NQN);
	subsys.allow_any_host = true;
	subsys.nns = 1;
	subsys.ns = &ns;
	port.portid = 1;
	port.adrfam = NVMF_ADRFAM_IPV4;
	snprintf(port.traddr, sizeof(port.traddr), "127.0.0.1");
	snprintf(port.trsvcid, sizeof(port.trsvcid), "0");
	port.inline_data_size = UINT32_MAX;
	port.nsubsys = 1;
	port.subsystems = port_subsys;
	conf = (struct nvmf_target_conf){.nports = 1, .ports = &port, .nsubsys = 1, .subsys = &subsys};
	nvmf_target_params_init(&params);
	t = nvmf_target_create(&params);
	REQUIRE(t != NULL);
	REQUIRE(nvmf_target_configure(t, &conf, &err) == 0);
	lport = nvmf_target_listen_port(t, 1);
	REQUIRE(lport > 0);

	assoc_open(&lively, (uint16_t)lport, lively_nqn);
	opened = test_now_us();
	assoc_open(&silent, (uint16_t)lport, NULL);
	nvmf_target_get_stats(t, &st);
	fprintf(stderr, "before: %u connections, %u controllers, %llu keep alive expiries\n",
		st.connections, st.controllers, (unsigned long long)st.kato_expired);
	CHECK_EQ(st.connections, 2 * (1 + IO_QUEUES));
	CHECK_EQ(st.controllers, 2);
	since = test_now_us();
	ms = check_teardown_time(opened, since, wait_teardown(&silent, &lively, since));
	fprintf(stderr, "answer: torn down %ld ms after the last command\n", ms);
	assoc_close(&silent);
	/* The target frees asynchronously: poll for the counts. */
	for (uint64_t end = test_now_us() + 10000000; test_now_us() < end; usleep(20000)) {
		nvmf_target_get_stats(t, &st);
		if (st.connections == 1 + IO_QUEUES && st.controllers == 1)
			break;
	}
	fprintf(stderr, "after: %u connections, %u controllers (the lively host's), %llu keep alive expiries\n",
		st.connections, st.controllers, (unsigned long long)st.kato_expired);
	CHECK_EQ(st.connections, 1 + IO_QUEUES);
	CHECK_EQ(st.controllers, 1);
	CHECK_EQ(st.kato_expired, 1);
	assoc_close(&lively);
	for (uint64_t end = test_now_us() + 10000000; test_now_us() < end; usleep(20000)) {
		nvmf_target_get_stats(t, &st);
		if (st.connections == 0 && st.controllers == 0)
			break;
	}
	CHECK_EQ(st.connections, 0);
	CHECK_EQ(st.controllers, 0);
	nvmf_target_destroy(t);
	test_end();
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	nvmf_log_set_level(NVMF_LOG_ERR);
	test_daemon();
	test_library();
	return test_summary();
}
