/* SPDX-License-Identifier: MIT */
/*
 * Loopback figures for the controller: an in-process target with a
 * ramdisk (inline I/O) and a file (worker pool), driven at queue depth 32
 * by host-role queue pairs.  Prints IOPS and bandwidth; asserts only that
 * every command succeeds.  usage: controller_perf [seconds per case]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host_helper.h"
#include "nvmf/controller.h"
#include "nvmf/log.h"
#include "util/test_util.h"

#define NQN "nqn.2024-01.org.nvmfd:perf"
#define QD 32
#define NS_BYTES (256ull << 20)

static void run_case(struct th_queue *io, const char *name, uint32_t nsid, uint8_t opc,
		     size_t bs, bool random, double seconds)
{
	uint8_t *bufs = malloc(QD * bs);
	int cids[QD];
	uint64_t blocks = NS_BYTES / 512, nlb = bs / 512, done = 0, next = 0;
	uint64_t start = test_now_us(), end = start + (uint64_t)(seconds * 1e6);
	unsigned seed = 1;

	REQUIRE(bufs != NULL);
	test_fill(bufs, QD * bs, 3);
	for (;;) {
		bool stop = test_now_us() >= end;
		int issued = 0;

		for (int i = 0; i < QD; i++) {
			uint64_t slba = random ? (uint64_t)rand_r(&seed) % (blocks / nlb) * nlb
					       : next++ * nlb % blocks;
			struct nvme_sqe sqe = {.opc = opc, .nsid = nsid, .cdw10 = (uint32_t)slba,
					       .cdw11 = (uint32_t)(slba >> 32),
					       .cdw12 = (uint32_t)(nlb - 1)};

			if (stop)
				break;
			cids[i] = th_submit(io, &sqe, bufs + i * bs, bs, opc == NVME_IO_WRITE);
			REQUIRE(cids[i] >= 0);
			issued++;
		}
		for (int i = 0; i < issued; i++)
			CHECK_EQ(th_wait(io, cids[i], NULL, TH_TIMEOUT_MS), 0);
		done += (uint64_t)issued;
		if (stop)
			break;
	}
	{
		double secs = (double)(test_now_us() - start) / 1e6;

		printf("%-32s %9.0f IOPS %8.1f MiB/s\n", name, (double)done / secs,
		       (double)done * (double)bs / secs / (1 << 20));
	}
	free(bufs);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	char dir[] = "/tmp/nvmfd-perf-XXXXXX";
	struct nvmf_error err;
	struct nvmf_target_params params;
	struct nvmf_target_conf conf = {0};
	struct nvmf_subsys_conf subsys = {0};
	struct nvmf_ns_conf ns[2] = {{0}};
	struct nvmf_port_conf port = {0};
	char port_subsys[1][NVMF_NQN_SIZE] = {NQN};
	struct nvmf_target *t;
	struct th_queue a, io;
	struct th_opts deep = {.qsize = 128};

	nvmf_log_set_level(NVMF_LOG_ERR);
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(ns[0].path, sizeof(ns[0].path), "ramdisk:256M");
	snprintf(ns[1].path, sizeof(ns[1].path), "%s/perf.img", dir);
	ns[1].size = NS_BYTES;
	for (int i = 0; i < 2; i++) {
		ns[i].nsid = (uint32_t)i + 1;
		ns[i].enabled = true;
		ns[i].block_size = 512;
	}
	snprintf(subsys.nqn, sizeof(subsys.nqn), NQN);
	subsys.allow_any_host = true;
	subsys.nns = 2;
	subsys.ns = ns;
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
	REQUIRE(th_connect_admin(&a, (uint16_t)nvmf_target_listen_port(t, 1), NQN, NULL) == 0);
	REQUIRE(th_connect_io(&io, (uint16_t)nvmf_target_listen_port(t, 1), NQN, 1, a.cntlid,
			      &deep) == 0);
	printf("loopback, one I/O queue, queue depth %d, %.1f s per case\n", QD, seconds);
	run_case(&io, "ramdisk 4K random read", 1, NVME_IO_READ, 4096, true, seconds);
	run_case(&io, "ramdisk 4K random write", 1, NVME_IO_WRITE, 4096, true, seconds);
	run_case(&io, "ramdisk 128K sequential read", 1, NVME_IO_READ, 128 * 1024, false, seconds);
	run_case(&io, "ramdisk 128K sequential write", 1, NVME_IO_WRITE, 128 * 1024, false, seconds);
	run_case(&io, "file 4K random write", 2, NVME_IO_WRITE, 4096, true, seconds);
	run_case(&io, "file 4K random read", 2, NVME_IO_READ, 4096, true, seconds);
	run_case(&io, "file 128K sequential read", 2, NVME_IO_READ, 128 * 1024, false, seconds);
	th_close(&io);
	th_close(&a);
	nvmf_target_destroy(t);
	unlink(ns[1].path);
	rmdir(dir);
	return test_summary();
}
