/* SPDX-License-Identifier: MIT */
/*
 * A program on the installed libnvmf: only <nvmf/nvmf.h>, built with
 * `pkg-config --cflags --libs libnvmf` (tests/abi/consumer.sh).  A target
 * and a host in one process: serve a RAM namespace on an ephemeral port,
 * connect, write and read back; the error convention and the options'
 * size check as nvmf/nvmf.h describes them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvmf/nvmf.h>

#define NQN "nqn.2024-01.io.nvmf:abi-consumer"

static int failures;

#define EXPECT(cond)                                                                  \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "consumer: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                   \
		}                                                                     \
	} while (0)

static struct nvmf_target *serve(uint16_t *port)
{
	static struct nvmf_ns_conf ns = {.nsid = 1, .path = "ramdisk:16M", .enabled = true};
	static struct nvmf_subsys_conf subsys = {.nqn = NQN, .allow_any_host = true, .nns = 1,
						 .ns = &ns};
	static char port_subsys[1][NVMF_NQN_SIZE] = {NQN};
	static struct nvmf_port_conf pc = {.portid = 1, .adrfam = NVMF_ADRFAM_IPV4,
					   .traddr = "127.0.0.1", .trsvcid = "0",
					   .inline_data_size = UINT32_MAX, .nsubsys = 1,
					   .subsystems = port_subsys};
	struct nvmf_target_conf conf = {.nports = 1, .ports = &pc, .nsubsys = 1, .subsys = &subsys};
	struct nvmf_target_params params;
	struct nvmf_target *t;
	struct nvmf_error err;
	int lport;

	nvmf_target_params_init(&params);
	t = nvmf_target_create(&params);
	if (t == NULL || nvmf_target_configure(t, &conf, &err) != 0) {
		fprintf(stderr, "consumer: target: %s\n", t == NULL ? strerror(errno) : err.msg);
		exit(1);
	}
	lport = nvmf_target_listen_port(t, 1);
	EXPECT(lport > 0);
	EXPECT(nvmf_target_listen_port(t, 99) == -ENOENT);
	*port = (uint16_t)lport;
	return t;
}

static void read_back(uint16_t port)
{
	char svc[8], data[4096], back[4096];
	struct nvmf_host_opts opts;
	struct nvmf_error err;
	struct nvmf_ctrl *ctrl;
	struct nvmf_ns *ns;

	nvmf_host_opts_init(&opts);
	EXPECT(opts.size == sizeof(opts));
	snprintf(svc, sizeof(svc), "%u", port);
	opts.traddr = "127.0.0.1";
	opts.trsvcid = svc;
	opts.subnqn = NQN;
	opts.nr_io_queues = 1;
	ctrl = nvmf_connect(&opts, &err);
	if (ctrl == NULL) {
		fprintf(stderr, "consumer: connect: %s\n", err.msg);
		exit(1);
	}
	ns = nvmf_ctrl_ns(ctrl, 1);
	EXPECT(ns != NULL);
	memset(data, 0x5a, sizeof(data));
	EXPECT(nvmf_ns_write_sync(ns, 0, data, sizeof(data), NVMF_IO_FUA) == 0);
	EXPECT(nvmf_ns_read_sync(ns, 0, back, sizeof(back)) == 0);
	EXPECT(memcmp(data, back, sizeof(data)) == 0);
	EXPECT(nvmf_disconnect(ctrl) == 0);
}

/* Options of an unknown size are refused; a newer struct whose extra bytes
 * are zero is taken. */
static void option_sizes(void)
{
	struct {
		struct nvmf_engine_params p;
		uint64_t newer_field;
	} newer;
	struct nvmf_host_opts opts;
	struct nvmf_engine *e;
	struct nvmf_error err;

	nvmf_host_opts_init(&opts);
	opts.size = 0;
	opts.traddr = "127.0.0.1";
	EXPECT(nvmf_connect(&opts, &err) == NULL);
	EXPECT(err.errnum == EINVAL);

	memset(&newer, 0, sizeof(newer));
	nvmf_engine_params_init(&newer.p);
	newer.p.size = sizeof(newer);
	e = nvmf_engine_create(&newer.p);
	EXPECT(e != NULL);
	nvmf_engine_destroy(e);
	newer.newer_field = 1;
	errno = 0;
	EXPECT(nvmf_engine_create(&newer.p) == NULL);
	EXPECT(errno == EINVAL);
}

static void error_convention(void)
{
	char text[NVMF_DHCHAP_SECRET_MAX];
	struct nvmf_dhchap_key key;
	struct nvmf_error err;
	uint64_t bytes;

	EXPECT(nvmf_dhchap_key_generate(1, NQN, NULL, 0, text, sizeof(text), &err) > 0);
	EXPECT(nvmf_dhchap_key_parse(text, &key, &err) == 0);
	EXPECT(nvmf_dhchap_key_parse("DHHC-1:09:bogus:", &key, &err) == -EINVAL);
	EXPECT(err.errnum == EINVAL && err.msg[0] != '\0');
	EXPECT(nvmf_parse_size("12Q", &bytes) == -EINVAL);
	EXPECT(nvmf_parse_size("4K", &bytes) == 0 && bytes == 4096);
	EXPECT(nvmf_dhchap_hash_from_name("md5") == -EINVAL);
	EXPECT(strlen(nvmf_status_str(0)) > 0);
}

int main(void)
{
	struct nvmf_target *t;
	uint16_t port;

	nvmf_log_set_level(NVMF_LOG_ERR);
	t = serve(&port);
	read_back(port);
	option_sizes();
	error_convention();
	EXPECT(nvmf_target_shutdown(t) == 0);
	nvmf_target_destroy(t);
	if (failures == 0)
		printf("consumer: the installed libnvmf works as documented\n");
	return failures == 0 ? 0 : 1;
}
