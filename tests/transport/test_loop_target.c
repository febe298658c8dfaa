/* SPDX-License-Identifier: MIT */
/*
 * The host library and the target over the loop transport, unchanged: a
 * target with a RAM namespace on a loop port, a host connecting by name,
 * Identify, verified writes and reads of 4 KiB, 128 KiB and 1 MiB (with
 * SQ flow control on and off), the discovery log naming the loop port,
 * and an orderly disconnect and shutdown.
 */
#include <errno.h>
#include <string.h>

#include "nvmf/controller.h"
#include "nvmf/host.h"
#include "nvmf/log.h"
#include "util/test_util.h"

#define NQN "nqn.2024-01.io.libnvmf:loop-target"
#define PORT_NAME "loop-e2e"
#define NS_BYTES (16u << 20)

static struct nvmf_target *start_target(void)
{
	static struct nvmf_ns_conf ns = {.nsid = 1, .enabled = true};
	static struct nvmf_subsys_conf subsys = {.allow_any_host = true, .nns = 1, .ns = &ns};
	static char port_subsys[1][NVMF_NQN_SIZE] = {NQN};
	static struct nvmf_port_conf port = {.portid = 1, .trtype = NVMF_TRTYPE_LOOP,
					     .traddr = PORT_NAME, .inline_data_size = UINT32_MAX,
					     .nsubsys = 1, .subsystems = port_subsys};
	struct nvmf_target_conf conf = {.nports = 1, .ports = &port, .nsubsys = 1,
					.subsys = &subsys};
	struct nvmf_target_params params;
	struct nvmf_target *t;
	struct nvmf_error err;

	snprintf(ns.path, sizeof(ns.path), "ramdisk:16M");
	snprintf(subsys.nqn, sizeof(subsys.nqn), NQN);
	nvmf_target_params_init(&params);
	params.max_io_size = 1u << 20; /* a 1 MiB write is one command */
	t = nvmf_target_create(&params);
	REQUIRE(t != NULL);
	if (nvmf_target_configure(t, &conf, &err) != 0) {
		fprintf(stderr, "configure: %s\n", err.msg);
		exit(1);
	}
	return t;
}

static struct nvmf_host_opts loop_opts(const char *subnqn)
{
	struct nvmf_host_opts o;

	nvmf_host_opts_init(&o);
	o.trtype = NVMF_TRTYPE_LOOP;
	o.traddr = PORT_NAME;
	o.subnqn = subnqn;
	o.nr_io_queues = 2;
	o.kato_s = 0;
	return o;
}

static void write_read_verify(struct nvmf_ns *ns, uint64_t offset, size_t len, uint32_t seed)
{
	uint8_t *out = malloc(len), *in = malloc(len);

	REQUIRE(out != NULL && in != NULL);
	test_fill(out, len, seed);
	memset(in, 0xee, len);
	CHECK_EQ(nvmf_ns_write_sync(ns, offset, out, len, 0), 0);
	CHECK_EQ(nvmf_ns_read_sync(ns, offset, in, len), 0);
	CHECK(test_verify(in, len, seed));
	free(out);
	free(in);
}

static void test_io(bool disable_sqflow)
{
	struct nvmf_host_opts o = loop_opts(NQN);
	struct nvmf_error err;
	struct nvmf_ctrl *c;
	struct nvmf_ns *ns;
	const struct nvme_id_ctrl *id;
	static const size_t sizes[] = {4096, 128u << 10, 1u << 20};

	test_begin(disable_sqflow ? "loop: identify, write and read back, SQ flow control off"
				  : "loop: identify, write and read back");
	o.disable_sqflow = disable_sqflow;
	c = nvmf_connect(&o, &err);
	if (c == NULL)
		fprintf(stderr, "connect: %s\n", err.msg);
	REQUIRE(c != NULL);
	id = nvmf_ctrl_identify(c);
	REQUIRE(id != NULL);
	CHECK(strcmp(id->subnqn, NQN) == 0);
	CHECK_EQ(nvmf_ctrl_nr_io_queues(c), 2);
	CHECK_EQ(nvmf_ctrl_max_io_size(c), 1u << 20);
	CHECK(strcmp(nvmf_ctrl_traddr(c), PORT_NAME) == 0);
	ns = nvmf_ctrl_ns(c, 1);
	REQUIRE(ns != NULL);
	CHECK_EQ(nvmf_ns_size_bytes(ns), NS_BYTES);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		write_read_verify(ns, (uint64_t)i * (2u << 20), sizes[i],
				  (uint32_t)(i + 1 + (disable_sqflow ? 10 : 0)));
	/* The namespace's last MiB, overwritten: the read sees the new data. */
	for (unsigned round = 0; round < 2; round++)
		write_read_verify(ns, NS_BYTES - (1u << 20), 1u << 20, 100 + round);
	CHECK_EQ(nvmf_disconnect(c), 0);
	test_end();
}

static void test_discovery(void)
{
	struct nvmf_host_opts o = loop_opts(NULL);
	struct nvmf_discovery_log *log = NULL;
	struct nvmf_error err;
	size_t nrec = 0, found = 0;
	char traddr[256], trsvcid[33], subnqn[NVMF_HOST_NQN_SIZE];

	test_begin("loop: the discovery log names the loop port");
	CHECK_EQ(nvmf_discover(&o, &log, &nrec, &err), 0);
	REQUIRE(log != NULL);
	for (size_t i = 0; i < nrec; i++) {
		const struct nvmf_discovery_log_entry *e = &log->entries[i];

		nvmf_discovery_entry_str(e, traddr, sizeof(traddr), trsvcid, sizeof(trsvcid),
					 subnqn, sizeof(subnqn));
		CHECK_EQ(e->trtype, NVMF_TRTYPE_LOOP);
		CHECK(strcmp(traddr, PORT_NAME) == 0);
		if (e->subtype == NVMF_SUBTYPE_NVME) {
			found++;
			CHECK(strcmp(subnqn, NQN) == 0);
		}
	}
	CHECK_EQ(found, 1);
	free(log);
	test_end();
}

static void test_no_listener(void)
{
	struct nvmf_host_opts o = loop_opts(NQN);
	struct nvmf_error err;

	test_begin("loop: a name nobody listens on is refused");
	o.traddr = "no-such-port";
	o.ctrl_loss_tmo_s = 0;
	CHECK(nvmf_connect(&o, &err) == NULL);
	CHECK_EQ(err.errnum, ECONNREFUSED);
	test_end();
}

int main(void)
{
	struct nvmf_target *t;
	struct nvmf_target_stats st;

	nvmf_log_set_level(NVMF_LOG_WARN);
	t = start_target();
	test_io(false);
	test_io(true);
	test_discovery();
	test_no_listener();
	test_begin("loop: orderly shutdown");
	CHECK_EQ(nvmf_target_shutdown(t), 0);
	nvmf_target_get_stats(t, &st);
	CHECK_EQ(st.connections, 0);
	nvmf_target_destroy(t);
	test_end();
	return test_summary();
}
