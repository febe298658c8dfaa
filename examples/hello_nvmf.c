/* SPDX-License-Identifier: MIT */
/*
 * The host library in a few lines: connect, write a block, read it back.
 *
 *   hello_nvmf nvme+tcp://127.0.0.1:4420/nqn.2024-01.org.nvmfd:default
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf/host.h"

int main(int argc, char **argv)
{
	struct nvmf_host_opts opts;
	struct nvmf_error err;
	struct nvmf_ns_info info;
	struct nvmf_ctrl *ctrl;
	struct nvmf_ns *ns;
	char uri[512], out[4096], in[4096];
	uint32_t nsid;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s nvme+tcp://ADDR[:PORT]/SUBNQN\n", argv[0]);
		return 2;
	}
	nvmf_host_opts_init(&opts);
	if (nvmf_parse_uri(argv[1], &opts, uri, sizeof(uri)) != 0) {
		fprintf(stderr, "%s: not an nvme+tcp:// URI\n", argv[1]);
		return 2;
	}
	ctrl = nvmf_connect(&opts, &err);
	if (ctrl == NULL) {
		fprintf(stderr, "connect: %s\n", err.msg);
		return 1;
	}
	if (nvmf_ctrl_ns_list(ctrl, &nsid, 1) == 0 || (ns = nvmf_ctrl_ns(ctrl, nsid)) == NULL) {
		fprintf(stderr, "no namespace\n");
		nvmf_disconnect(ctrl);
		return 1;
	}
	nvmf_ns_get_info(ns, &info);
	snprintf(out, sizeof(out), "hello from libnvmf");
	rc = nvmf_ns_write_sync(ns, 0, out, info.lba_size, 0);
	if (rc == 0)
		rc = nvmf_ns_read_sync(ns, 0, in, info.lba_size);
	printf("namespace %u: %llu blocks of %u bytes; read back: %s\n", nsid,
	       (unsigned long long)info.nsze, info.lba_size, rc == 0 ? in : "(failed)");
	nvmf_disconnect(ctrl);
	return rc == 0 && memcmp(in, out, info.lba_size) == 0 ? 0 : 1;
}
