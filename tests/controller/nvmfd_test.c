/* SPDX-License-Identifier: MIT */
/*
 * The nvmfd daemon as a process: nvmetcli JSON configurations (accepted
 * as nvmetcli writes them, Linux 6.12's shape included: nested DH-HMAC-CHAP
 * attributes, version 2.1, newer attributes, unknown ones warned about;
 * refused with the field's path and why), the
 * command line quick start, SIGHUP reload with the namespace changed
 * event, pidfile, the warning for allow-any-host on a non-loopback
 * address, and SIGTERM during writes with nothing lost on a file.  Run as
 * "controller_nvmfd defaults": the default address and ports, in a network
 * namespace of its own; as "controller_nvmfd several": two daemons there,
 * sharing the default discovery port.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/netns.h"
#include "host_helper.h"
#include "nvmf/auth.h"
#include "nvmf/host.h"
#include "nvmf/log.h"
#include "util/test_util.h"

#ifndef NVMFD_PATH
#error "NVMFD_PATH must name the nvmfd binary"
#endif

#define NQN "nqn.2024-01.org.nvmfd:daemon"
#define HOST_A "nqn.2024-01.org.nvmfd:host-a"
#define HOST_B "nqn.2024-01.org.nvmfd:host-b"

static char dir[] = "/tmp/nvmfd-daemon-XXXXXX";

struct daemon {
	pid_t pid;
	char log[256];
};

static uint16_t free_port(void)
{
	uint16_t port;
	int fd = test_listen(&port);

	close(fd);
	return port;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f != NULL);
	fputs(text, f);
	REQUIRE(fclose(f) == 0);
}

static char *read_file(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	REQUIRE(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 2);
		dup2(fd, 1);
		execv(NVMFD_PATH, argv);
		_exit(127);
	}
	return pid;
}

static int wait_exit(pid_t pid, int timeout_ms)
{
	uint64_t end = test_now_us() + (uint64_t)timeout_ms * 1000;
	int status;

	while (test_now_us() < end) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* Wait until nvmfd's log says what; false after timeout_ms. */
static bool log_wait(const struct daemon *d, const char *what, int timeout_ms)
{
	for (int i = 0; i < timeout_ms / 10; i++) {
		if (strstr(read_file(d->log), what) != NULL)
			return true;
		usleep(10000);
	}
	return strstr(read_file(d->log), what) != NULL;
}

/* Start nvmfd and wait for "ready"; false if it exited instead. */
static bool daemon_start(struct daemon *d, char *const argv[])
{
	static int runs;

	/* A new log each time: an old "ready" must not count. */
	snprintf(d->log, sizeof(d->log), "%s/nvmfd-%d.log", dir, ++runs);
	d->pid = spawn(argv, d->log);
	for (int i = 0; i < 6000; i++) { /* 60 s: a busy machine */
		if (strstr(read_file(d->log), "nvmfd: ready") != NULL)
			return true;
		if (waitpid(d->pid, NULL, WNOHANG) == d->pid)
			break;
		usleep(10000);
	}
	fprintf(stderr, "nvmfd did not start:\n%s\n", read_file(d->log));
	return false;
}

/* Run nvmfd expecting it to refuse the configuration; returns its stderr. */
static char *run_refused(char *const argv[])
{
	char log[256];
	pid_t pid;

	snprintf(log, sizeof(log), "%s/refused.log", dir);
	pid = spawn(argv, log);
	CHECK_EQ(wait_exit(pid, 10000), 1);
	return read_file(log);
}

static void expect_config_error(const char *json, const char *message)
{
	char path[256];
	char *out;
	char *argv[] = {"nvmfd", "-c", path, "--discovery-port", "0", NULL};

	snprintf(path, sizeof(path), "%s/bad.json", dir);
	write_file(path, json);
	out = run_refused(argv);
	if (strstr(out, message) == NULL) {
		fprintf(stderr, "expected \"%s\" in:\n%s\n", message, out);
		CHECK(0);
	}
}

static void test_config_errors(void)
{
	test_begin("configuration file errors name the field");
	expect_config_error("{\"subsystems\": [", "line ");
	expect_config_error("[]", "expected an object");
	expect_config_error("{\"hostz\": []}", "hostz: unknown field");
	expect_config_error("{\"subsystems\": [{\"nqn\": \"" NQN "\", \"bogus\": 1}]}",
			    "subsystems[0].bogus: unknown field");
	expect_config_error("{\"subsystems\": [{\"nqn\": \"" NQN "\", \"namespaces\": [{\"nsid\": 1, "
			    "\"device\": {\"path\": 5}}]}]}",
			    "subsystems[0].namespaces[0].device.path: expected a string");
	expect_config_error("{\"subsystems\": [{\"nqn\": \"" NQN "\", \"namespaces\": [{\"nsid\": 1, "
			    "\"enable\": 1, \"device\": {\"path\": \"ramdisk:1M\", \"nguid\": \"xyz\"}}]}]}",
			    "subsystems[0].namespaces[0].device.nguid: \"xyz\" is not 16 hex bytes");
	expect_config_error("{\"subsystems\": [{\"nqn\": \"" NQN "\", \"namespaces\": [{\"nsid\": 0, "
			    "\"device\": {\"path\": \"ramdisk:1M\"}}]}]}",
			    "subsystems[0].namespaces[0].nsid: namespace IDs start at 1");
	expect_config_error("{\"subsystems\": [{\"nqn\": \"" NQN "\", \"attr\": {\"allow_any_host\": "
			    "\"maybe\"}}]}",
			    "subsystems[0].attr.allow_any_host: expected 0 or 1");
	expect_config_error("{\"ports\": [{\"portid\": 1, \"addr\": {\"trtype\": \"rdma\", "
			    "\"adrfam\": \"ipv4\", \"traddr\": \"127.0.0.1\", \"trsvcid\": \"4420\"}}]}",
			    "ports[0].addr.trtype: \"rdma\": nvmfd serves only tcp");
	expect_config_error("{\"ports\": [{\"portid\": 1, \"addr\": {\"trtype\": \"tcp\", "
			    "\"adrfam\": \"ipv4\", \"traddr\": \"127.0.0.1\", \"trsvcid\": \"4420\", "
			    "\"treq\": \"required\"}}]}",
			    "ports[0].addr.treq: a secure channel needs \"tsas\": \"tls1.3\"");
	expect_config_error("{\"ports\": [{\"portid\": 1, \"addr\": {\"trtype\": \"tcp\", "
			    "\"adrfam\": \"ipv4\", \"traddr\": \"127.0.0.1\", \"trsvcid\": \"4420\"}, "
			    "\"referrals\": [{\"name\": \"r\"}]}]}",
			    "ports[0].referrals: discovery referrals are not supported");
	expect_config_error("{\"ports\": [{\"portid\": 1, \"addr\": {\"trtype\": \"tcp\", "
			    "\"adrfam\": \"ipv4\", \"traddr\": \"127.0.0.1\", \"trsvcid\": \"0\"}, "
			    "\"subsystems\": [\"nqn.2024-01.org.nvmfd:ghost\"]}]}",
			    "ports[0].subsystems[0]: subsystem \"nqn.2024-01.org.nvmfd:ghost\" is not in \"subsystems\"");
	expect_config_error("{\"subsystems\": [{\"nqn\": \"" NQN "\", \"allowed_hosts\": [\"" HOST_A "\"]}]}",
			    "subsystems[0].allowed_hosts[0]: host \"" HOST_A "\" is not in \"hosts\"");
	expect_config_error("{\"subsystems\": [{\"nqn\": \"" NQN "\", \"namespaces\": [{\"nsid\": 1, "
			    "\"device\": {\"path\": \"/nonexistent/dir/x.img\"}}]}]}",
			    "namespace 1: /nonexistent/dir/x.img");
	expect_config_error("{\"subsystems\": [{\"nqn\": \"" NQN "\", \"attr\": {\"version\": "
			    "\"two\"}}]}",
			    "subsystems[0].attr.version: \"two\" is not an NVMe version");
	expect_config_error("{\"hosts\": [{\"nqn\": \"" HOST_A "\", \"dhchap\": \"DHHC-1\"}]}",
			    "hosts[0].dhchap: expected an object");
	expect_config_error("{\"hosts\": [{\"nqn\": \"" HOST_A "\", \"dhchap\": {\"key\": "
			    "\"DHHC-1:01:bm90IGEga2V5:\"}}]}",
			    "hosts[0].dhchap.key: ");
	expect_config_error("{\"hosts\": [{\"nqn\": \"" HOST_A "\", \"dhchap\": {\"hash\": 256}}]}",
			    "hosts[0].dhchap.hash: expected a string");
	expect_config_error("{\"ports\": [{\"portid\": 1, \"addr\": {\"trtype\": \"tcp\", "
			    "\"adrfam\": \"ipv4\", \"traddr\": \"127.0.0.1\", \"trsvcid\": \"0\"}, "
			    "\"ana_groups\": [{\"grpid\": 2, \"ana\": {\"state\": \"non-optimized\"}}]}]}",
			    "ports[0].ana_groups[0].ana.state: \"non-optimized\": want optimized, non_optimized");
	expect_config_error("{\"ports\": [{\"portid\": 1, \"addr\": {\"trtype\": \"tcp\", "
			    "\"adrfam\": \"ipv4\", \"traddr\": \"127.0.0.1\", \"trsvcid\": \"0\"}, "
			    "\"ana_groups\": [{\"grpid\": 2}, {\"grpid\": \"2\"}]}]}",
			    "ports[0].ana_groups[1]: group 2 given twice");
	expect_config_error("{\"subsystems\": [{\"nqn\": \"" NQN "\", \"namespaces\": [{\"nsid\": 1, "
			    "\"ana_grpid\": 129, \"device\": {\"path\": \"ramdisk:1M\"}}]}]}",
			    "subsystems[0].namespaces[0].ana_grpid: ");
	{
		char *argv[] = {"nvmfd", "--discovery-port", "0", "--ana-state", "1:2=lost", NULL};
		char *argv2[] = {"nvmfd", "--discovery-port", "0", "-s", "0", "--ana-state",
				 "7:1=optimized", "ramdisk:1M", NULL};
		char log[256];
		pid_t pid;

		snprintf(log, sizeof(log), "%s/usage.log", dir);
		pid = spawn(argv, log);
		CHECK_EQ(wait_exit(pid, 10000), 2);
		CHECK(strstr(read_file(log), "--ana-state 1:2=lost: want [PORTID:][GRPID=]STATE") != NULL);
		CHECK(strstr(run_refused(argv2), "--ana-state: no port 7 is configured") != NULL);
	}
	{
		char key[NVMF_DHCHAP_SECRET_MAX], json[1024];
		struct nvmf_error kerr;

		/* The same field in both layouts: which one counts is not guessed. */
		REQUIRE(nvmf_dhchap_key_generate(1, HOST_A, NULL, 0, key, sizeof(key), &kerr) > 0);
		snprintf(json, sizeof(json),
			 "{\"hosts\": [{\"nqn\": \"" HOST_A "\", \"dhchap_key\": \"%s\", "
			 "\"dhchap\": {\"key\": \"%s\", \"hash\": \"hmac(sha256)\"}}]}",
			 key, key);
		expect_config_error(json, "hosts[0].dhchap.key: also given as hosts[0].dhchap_key");
	}
	{
		char *argv[] = {"nvmfd", "--discovery-port", "0", "ramdisk:lots", NULL};

		CHECK(strstr(run_refused(argv), "bad ramdisk size") != NULL);
	}
	{
		char *argv[] = {"nvmfd", "--block-size", "1000", NULL};
		char log[256];
		pid_t pid;

		snprintf(log, sizeof(log), "%s/usage.log", dir);
		pid = spawn(argv, log);
		CHECK_EQ(wait_exit(pid, 10000), 2);
		CHECK(strstr(read_file(log), "512 or 4096") != NULL);
	}
	test_end();
}

/* An nvmetcli-style configuration, as `nvmetcli save` writes it. */
static void write_config(const char *path, uint16_t port, const char *img, bool second_ns)
{
	char json[4096];

	snprintf(json, sizeof(json),
		 "{\n"
		 "  \"hosts\": [{\"nqn\": \"" HOST_A "\"}],\n"
		 "  \"ports\": [{\n"
		 "    \"addr\": {\"adrfam\": \"ipv4\", \"traddr\": \"127.0.0.1\", \"treq\": \"not specified\",\n"
		 "             \"trsvcid\": \"%u\", \"trtype\": \"tcp\"},\n"
		 "    \"ana_groups\": [{\"ana\": {\"state\": \"optimized\"}, \"grpid\": 1}],\n"
		 "    \"param\": {\"inline_data_size\": \"8192\", \"pi_enable\": \"0\"},\n"
		 "    \"portid\": 1, \"referrals\": [],\n"
		 "    \"subsystems\": [\"" NQN "\"]\n"
		 "  }],\n"
		 "  \"subsystems\": [{\n"
		 "    \"allowed_hosts\": [\"" HOST_A "\"],\n"
		 "    \"attr\": {\"allow_any_host\": \"0\", \"cntlid_max\": \"65519\", \"cntlid_min\": \"1\",\n"
		 "             \"model\": \"Linux\", \"pi_enable\": \"0\", \"qid_max\": \"8\",\n"
		 "             \"serial\": \"6c3ef9a8e1d25b07\", \"version\": \"1.3\"},\n"
		 "    \"namespaces\": [\n"
		 "      {\"ana\": {\"grpid\": \"1\"}, \"ana_grpid\": 1,\n"
		 "       \"device\": {\"nguid\": \"00000000-0000-0000-0000-000000000000\", \"path\": \"%s\",\n"
		 "                  \"uuid\": \"3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d\", \"size\": \"8M\"},\n"
		 "       \"enable\": 1, \"nsid\": 1, \"resv\": {\"enable\": \"0\"}}%s\n"
		 "    ],\n"
		 "    \"nqn\": \"" NQN "\"\n"
		 "  }]\n"
		 "}\n",
		 port, img,
		 second_ns ? ",\n      {\"device\": {\"path\": \"ramdisk:4M\", \"block_size\": 4096},"
			     " \"enable\": 1, \"nsid\": 2}"
			   : "");
	write_file(path, json);
}

static void test_config_serve_reload(void)
{
	struct daemon d;
	char conf[256], img[256], pidfile[256];
	uint16_t port = free_port();
	struct th_opts host_a = {.hostnqn = HOST_A};
	struct th_queue a, q;
	struct nvme_sqe aer = {.opc = NVME_ADMIN_ASYNC_EVENT_REQUEST};
	struct nvme_cqe cqe;
	uint8_t buf[4096];
	int cid;
	char *argv[] = {"nvmfd", "-c", conf, "--discovery-port", "0", "--pidfile", pidfile, NULL};

	test_begin("nvmetcli configuration: serve, SIGHUP reload, pidfile");
	snprintf(conf, sizeof(conf), "%s/config.json", dir);
	snprintf(img, sizeof(img), "%s/ns1.img", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/nvmfd.pid", dir);
	write_config(conf, port, img, false);
	REQUIRE(daemon_start(&d, argv));
	CHECK_EQ(atoi(read_file(pidfile)), d.pid);
	/* Only the allowed host gets in. */
	REQUIRE(th_open(&q, port, NULL) == 0);
	CHECK_EQ(th_connect(&q, NQN, 0, NULL, NULL),
		 NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST));
	th_close(&q);
	REQUIRE(th_connect_admin(&a, port, NQN, &host_a) == 0);
	CHECK_EQ(th_identify(&a, NVME_CNS_CONTROLLER, 0, buf), 0);
	CHECK_EQ(memcmp(((struct nvme_id_ctrl *)buf)->sn, "6c3ef9a8e1d25b07", 16), 0);
	CHECK_EQ(memcmp(((struct nvme_id_ctrl *)buf)->mn, "Linux ", 6), 0);
	CHECK_EQ(((struct nvme_id_ctrl *)buf)->ioccsz, (64 + 8192) / 16); /* param.inline_data_size */
	/* The configured UUID; a derived NGUID (the file's was all zeroes). */
	CHECK_EQ(th_identify(&a, NVME_CNS_NS_ID_DESCRIPTORS, 1, buf), 0);
	CHECK_EQ(buf[32], NVME_NIDT_UUID);
	CHECK_EQ(buf[36], 0x3f);
	CHECK_EQ(buf[51], 0x5d);
	CHECK(buf[16] | buf[17] | buf[18] | buf[19]);
	/* SIGHUP with a second namespace: the changed namespace event. */
	CHECK_EQ(th_set_features(&a, NVME_FEAT_ASYNC_EVENT_CONFIG, NVME_AEC_NS_ATTR_NOTICES, NULL), 0);
	cid = th_submit(&a, &aer, NULL, 0, false);
	write_config(conf, port, img, true);
	kill(d.pid, SIGHUP);
	CHECK_EQ(th_wait(&a, cid, &cqe, 5000), 0);
	CHECK_EQ(cqe.cdw0, 0x00040002);
	CHECK_EQ(th_identify(&a, NVME_CNS_ACTIVE_NS_LIST, 0, buf), 0);
	CHECK_EQ(((uint32_t *)buf)[1], 2);
	/* A broken file on SIGHUP leaves the running configuration alone. */
	write_file(conf, "{ not json");
	kill(d.pid, SIGHUP);
	CHECK(log_wait(&d, "the running configuration stays", 10000));
	CHECK_EQ(th_identify(&a, NVME_CNS_ACTIVE_NS_LIST, 0, buf), 0);
	CHECK_EQ(((uint32_t *)buf)[1], 2);
	th_close(&a);
	kill(d.pid, SIGTERM);
	CHECK_EQ(wait_exit(d.pid, 15000), 0);
	CHECK(access(pidfile, F_OK) != 0);
	test_end();
}

/* How many times the daemon's log says what. */
static int log_count(const struct daemon *d, const char *what)
{
	const char *at = read_file(d->log);
	int n = 0;

	while ((at = strstr(at, what)) != NULL) {
		n++;
		at += strlen(what);
	}
	return n;
}

/*
 * A configuration as `nvmetcli save` writes it on Linux 6.12 with nvmetcli
 * 2026: every attribute the kernel shows, as strings, sorted; hosts'
 * DH-HMAC-CHAP attributes in a "dhchap" group (empty for a host without
 * keys); version 2.1; one attribute of a kernel newer still.  With
 * nested false, host A's keys are in the older flat layout.
 */
static void write_linux612_config(const char *path, uint16_t port, const char *key,
				  const char *ctrl_key, bool nested)
{
	char json[8192], host_a[2048];

	if (nested)
		snprintf(host_a, sizeof(host_a),
			 "{\"dhchap\": {\"ctrl_key\": \"%s\", \"dhgroup\": \"ffdhe2048\",\n"
			 "                \"hash\": \"hmac(sha384)\", \"key\": \"%s\"},\n"
			 "     \"nqn\": \"" HOST_A "\"}",
			 ctrl_key, key);
	else
		snprintf(host_a, sizeof(host_a),
			 "{\"dhchap_ctrl_key\": \"%s\", \"dhchap_dhgroup\": \"ffdhe2048\",\n"
			 "     \"dhchap_hash\": \"hmac(sha384)\", \"dhchap_key\": \"%s\",\n"
			 "     \"nqn\": \"" HOST_A "\"}",
			 ctrl_key, key);
	snprintf(json, sizeof(json),
		 "{\n"
		 "  \"hosts\": [\n"
		 "    %s,\n"
		 "    {\"dhchap\": {\"ctrl_key\": \"\", \"dhgroup\": \"null\", \"hash\": \"hmac(sha256)\",\n"
		 "                \"key\": \"\"},\n"
		 "     \"nqn\": \"" HOST_B "\"}\n"
		 "  ],\n"
		 "  \"ports\": [{\n"
		 "    \"addr\": {\"adrfam\": \"ipv4\", \"traddr\": \"127.0.0.1\", \"treq\": \"not specified\",\n"
		 "             \"trsvcid\": \"%u\", \"trtype\": \"tcp\", \"tsas\": \"none\"},\n"
		 "    \"ana_groups\": [{\"ana\": {\"state\": \"optimized\"}, \"grpid\": 1}],\n"
		 "    \"param\": {\"inline_data_size\": \"16384\", \"max_queue_size\": \"128\",\n"
		 "              \"pi_enable\": \"0\"},\n"
		 "    \"portid\": 1, \"referrals\": [],\n"
		 "    \"subsystems\": [\"" NQN "\"]\n"
		 "  }],\n"
		 "  \"subsystems\": [{\n"
		 "    \"allowed_hosts\": [\"" HOST_A "\", \"" HOST_B "\"],\n"
		 "    \"attr\": {\"allow_any_host\": \"0\", \"cntlid_max\": \"200\", \"cntlid_min\": \"100\",\n"
		 "             \"firmware\": \"6.12.0\", \"frobnicate\": \"1\", \"ieee_oui\": \"0x0a1b2c\",\n"
		 "             \"model\": \"Linux\", \"pi_enable\": \"0\", \"qid_max\": \"128\",\n"
		 "             \"serial\": \"d7b6c1e1a0f4c2a9\", \"subsys_vendor_id\": \"0x1af4\",\n"
		 "             \"vendor_id\": \"0x1b36\", \"version\": \"2.1\"},\n"
		 "    \"namespaces\": [\n"
		 "      {\"ana\": {\"grpid\": \"1\"}, \"ana_grpid\": 1,\n"
		 "       \"device\": {\"nguid\": \"00000000-0000-0000-0000-000000000000\", \"path\": \"ramdisk:8M\",\n"
		 "                  \"uuid\": \"3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d\"},\n"
		 "       \"enable\": 1, \"nsid\": 1}\n"
		 "    ],\n"
		 "    \"nqn\": \"" NQN "\"\n"
		 "  }]\n"
		 "}\n",
		 host_a, port);
	write_file(path, json);
}

static struct nvmf_ctrl *host_connect(const char *port, const char *hostnqn, const char *key,
				      const char *ctrl_key)
{
	struct nvmf_host_opts o;
	struct nvmf_error err;
	struct nvmf_ctrl *c;

	nvmf_host_opts_init(&o);
	o.traddr = "127.0.0.1";
	o.trsvcid = port;
	o.subnqn = NQN;
	o.hostnqn = hostnqn;
	o.nr_io_queues = 1;
	o.ctrl_loss_tmo_s = 0;
	o.connect_timeout_ms = 8000;
	o.dhchap_secret = key;
	o.dhchap_ctrl_secret = ctrl_key;
	c = nvmf_connect(&o, &err);
	if (c == NULL)
		fprintf(stderr, "connect as %s: %s\n", hostnqn, err.msg);
	return c;
}

/* Identify shows the configured attributes, and the version nvmfd implements. */
static void check_linux612_identify(struct nvmf_ctrl *c)
{
	const struct nvme_id_ctrl *id = nvmf_ctrl_identify(c);

	CHECK_EQ(id->vid, 0x1b36);
	CHECK_EQ(id->ssvid, 0x1af4);
	CHECK(id->ieee[0] == 0x2c && id->ieee[1] == 0x1b && id->ieee[2] == 0x0a);
	CHECK_EQ(memcmp(id->sn, "d7b6c1e1a0f4c2a9    ", 20), 0);
	CHECK_EQ(memcmp(id->mn, "Linux ", 6), 0);
	CHECK_EQ(memcmp(id->fr, "6.12.0  ", 8), 0);
	CHECK_EQ(id->ver, NVME_VS(1, 3, 0));
	CHECK_EQ(nvmf_ctrl_vs(c), NVME_VS(1, 3, 0));
	CHECK(id->cntlid >= 100 && id->cntlid <= 200);
}

static void test_config_linux612(bool nested)
{
	struct daemon d;
	char conf[256], port_text[8], key[NVMF_DHCHAP_SECRET_MAX], ctrl_key[NVMF_DHCHAP_SECRET_MAX];
	struct nvmf_error kerr;
	uint16_t port = free_port();
	uint8_t hash = 0, group = 0, block[512], back[512];
	bool both = false;
	struct nvmf_ctrl *c;
	char *argv[] = {"nvmfd", "-c", conf, "--discovery-port", "0", NULL};

	test_begin(nested ? "Linux 6.12 nvmetcli save: nested dhchap, version 2.1, newer attributes"
			  : "the same with the flat dhchap_* host keys");
	snprintf(conf, sizeof(conf), "%s/linux612.json", dir);
	snprintf(port_text, sizeof(port_text), "%u", port);
	REQUIRE(nvmf_dhchap_key_generate(2, HOST_A, NULL, 0, key, sizeof(key), &kerr) > 0);
	REQUIRE(nvmf_dhchap_key_generate(0, NULL, NULL, 0, ctrl_key, sizeof(ctrl_key), &kerr) > 0);
	write_linux612_config(conf, port, key, ctrl_key, nested);
	REQUIRE(daemon_start(&d, argv));
	/* One line for the attribute nvmfd does not know, one for the version. */
	CHECK_EQ(log_count(&d, "subsystems[0].attr.frobnicate: attribute unknown to nvmfd, ignored"),
		 1);
	CHECK_EQ(log_count(&d, "frobnicate"), 1);
	CHECK_EQ(log_count(&d, "subsystems[0].attr.version: version 2.1 is served as 1.3"), 1);
	/* Host A authenticates both ways with the keys of its entry. */
	c = host_connect(port_text, HOST_A, key, ctrl_key);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK(nvmf_ctrl_auth_info(c, &hash, &group, &both));
		CHECK_EQ(hash, NVMF_DHCHAP_HASH_SHA384);
		CHECK_EQ(group, NVMF_DHCHAP_DHGROUP_FFDHE2048);
		CHECK(both);
		check_linux612_identify(c);
		test_fill(block, sizeof(block), 612);
		CHECK_EQ(nvmf_ns_write_sync(nvmf_ctrl_ns(c, 1), 0, block, sizeof(block), 0), 0);
		CHECK_EQ(nvmf_ns_read_sync(nvmf_ctrl_ns(c, 1), 0, back, sizeof(back)), 0);
		CHECK_EQ(memcmp(block, back, sizeof(block)), 0);
		CHECK_EQ(nvmf_disconnect(c), 0);
	}
	/* The key is required: without it host A is refused. */
	c = host_connect(port_text, HOST_A, NULL, NULL);
	CHECK(c == NULL);
	if (c != NULL)
		nvmf_disconnect(c);
	/* Host B's empty keys are none: it connects without authenticating. */
	c = host_connect(port_text, HOST_B, NULL, NULL);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK(!nvmf_ctrl_auth_info(c, &hash, &group, &both));
		CHECK_EQ(nvmf_disconnect(c), 0);
	}
	kill(d.pid, SIGTERM);
	CHECK_EQ(wait_exit(d.pid, 15000), 0);
	test_end();
}

static void test_quick_start(void)
{
	struct daemon d;
	char port_text[8], disc_text[8], data[256], img[512];
	uint16_t port = free_port(), disc = free_port();
	struct th_queue a;
	struct stat st;
	char *argv[] = {"nvmfd", "-s", port_text, "--discovery-port", disc_text, "--data-dir", data,
			"--default-size", "64M", NULL};

	test_begin("command line quick start: default namespace, discovery port");
	snprintf(port_text, sizeof(port_text), "%u", port);
	snprintf(disc_text, sizeof(disc_text), "%u", disc);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(img, sizeof(img), "%s/default.img", data);
	REQUIRE(daemon_start(&d, argv));
	CHECK_EQ(stat(img, &st), 0);
	CHECK_EQ(st.st_size, 64 << 20);
	REQUIRE(th_connect_admin(&a, disc, NVMF_DISCOVERY_NQN, NULL) == 0);
	{
		struct nvmf_discovery_log *log = calloc(1, 3 * 1024);

		REQUIRE(log != NULL);
		CHECK_EQ(th_get_log(&a, NVME_LOG_DISCOVERY, 0, log, 3 * 1024, 0, false), 0);
		CHECK_EQ(log->numrec, 2);
		CHECK_EQ(strcmp(log->entries[1].subnqn, "nqn.2024-01.org.nvmfd:default"), 0);
		CHECK_EQ(atoi(log->entries[1].trsvcid), port);
		free(log);
	}
	th_close(&a);
	kill(d.pid, SIGINT);
	CHECK_EQ(wait_exit(d.pid, 15000), 0);
	unlink(img);
	rmdir(data);
	test_end();
}

/* Does the log say nvmfd serves allow-any-host on a non-loopback address? */
static bool exposure_warned(const char *log)
{
	return strstr(log, "allows any host on") != NULL;
}

static void test_exposure_warning(void)
{
	struct daemon d;
	char port_text[8], want[128];
	uint16_t port = free_port();
	char *wide[] = {"nvmfd", "-a", "0.0.0.0", "-s", port_text, "--discovery-port", "0",
			"-n", NQN, "ramdisk:1M", NULL};
	char *loopback[] = {"nvmfd", "-a", "127.0.0.1", "-s", port_text, "--discovery-port", "0",
			    "-n", NQN, "ramdisk:1M", NULL};
	char *wide_acl[] = {"nvmfd", "-a", "0.0.0.0", "-s", port_text, "--discovery-port", "0",
			    "-n", NQN, "--allow-host", HOST_A, "ramdisk:1M", NULL};

	test_begin("allow-any-host on a non-loopback address: a warning (and only then)");
	snprintf(port_text, sizeof(port_text), "%u", port);
	snprintf(want, sizeof(want), "subsystem " NQN " allows any host on 0.0.0.0 port %u", port);
	REQUIRE(daemon_start(&d, wide));
	if (strstr(read_file(d.log), want) == NULL) {
		fprintf(stderr, "no \"%s\" in:\n%s\n", want, read_file(d.log));
		CHECK(0);
	}
	kill(d.pid, SIGTERM);
	CHECK_EQ(wait_exit(d.pid, 15000), 0);
	REQUIRE(daemon_start(&d, loopback));
	CHECK(!exposure_warned(read_file(d.log)));
	kill(d.pid, SIGTERM);
	CHECK_EQ(wait_exit(d.pid, 15000), 0);
	/* Wide, but only a named host may connect: nothing to warn about. */
	REQUIRE(daemon_start(&d, wide_acl));
	CHECK(!exposure_warned(read_file(d.log)));
	kill(d.pid, SIGTERM);
	CHECK_EQ(wait_exit(d.pid, 15000), 0);
	test_end();
}

/* "ADDR:PORT" of every listening TCP socket in this network namespace. */
static int listening_sockets(const char *path, char out[][32], int max)
{
	char line[512];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		char local[32], remote[128];
		unsigned st;

		if (sscanf(line, " %*d: %31s %127s %x", local, remote, &st) == 3 && st == 0x0a &&
		    n < max)
			memcpy(out[n++], local, sizeof(local));
	}
	fclose(f);
	return n;
}

static int connect_to(const char *addr, uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	REQUIRE(fd >= 0 && inet_pton(AF_INET, addr, &sin.sin_addr) == 1);
	rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return rc;
}

/*
 * Run alone (controller_nvmfd defaults) in a network namespace of its own,
 * where 4420 and 8009 are free whatever else runs here: nvmfd without
 * -a/-s/--discovery-port listens on 127.0.0.1:4420 and 127.0.0.1:8009,
 * and nowhere else.
 */
static void test_defaults(void)
{
	struct daemon d;
	char data[256], img[512], sockets[8][32];
	char *argv[] = {"nvmfd", "--data-dir", data, "--default-size", "16M", NULL};
	struct th_queue a;
	int n;

	test_begin("defaults: 127.0.0.1, port 4420, discovery on 8009");
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(img, sizeof(img), "%s/default.img", data);
	n = listening_sockets("/proc/self/net/tcp", sockets, 8);
	CHECK_EQ(n, 0); /* a fresh namespace */
	REQUIRE(daemon_start(&d, argv));
	n = listening_sockets("/proc/self/net/tcp", sockets, 8);
	CHECK_EQ(n, 2);
	for (int i = 0; i < n; i++) {
		fprintf(stderr, "listening: %s\n", sockets[i]);
		/* 127.0.0.1 is 0100007F in /proc/net/tcp; 4420 = 0x1144, 8009 = 0x1F49 */
		CHECK(strcmp(sockets[i], "0100007F:1144") == 0 ||
		      strcmp(sockets[i], "0100007F:1F49") == 0);
	}
	CHECK(n != 2 || strcmp(sockets[0], sockets[1]) != 0);
	CHECK_EQ(listening_sockets("/proc/self/net/tcp6", sockets, 8), 0);
	/* Reachable there, as NVMe/TCP, and only on that address. */
	REQUIRE(th_connect_admin(&a, 4420, "nqn.2024-01.org.nvmfd:default", NULL) == 0);
	{
		uint8_t buf[4096];

		CHECK_EQ(th_identify(&a, NVME_CNS_NAMESPACE, 1, buf), 0);
		const struct nvme_id_ns *ns = (const void *)buf;

		CHECK_EQ(ns->nsze << ns->lbaf[ns->flbas & 0xf].lbads, 16 << 20);
	}
	th_close(&a);
	CHECK(connect_to("127.0.0.2", 4420) != 0);
	CHECK(connect_to("127.0.0.2", 8009) != 0);
	REQUIRE(th_connect_admin(&a, 8009, NVMF_DISCOVERY_NQN, NULL) == 0);
	{
		struct nvmf_discovery_log *log = calloc(1, 3 * 1024);
		int found = 0;

		REQUIRE(log != NULL);
		CHECK_EQ(th_get_log(&a, NVME_LOG_DISCOVERY, 0, log, 3 * 1024, 0, false), 0);
		for (uint64_t i = 0; i < log->numrec && i < 2; i++)
			if (strcmp(log->entries[i].subnqn, "nqn.2024-01.org.nvmfd:default") == 0) {
				found++;
				CHECK_EQ(atoi(log->entries[i].trsvcid), 4420);
				CHECK_EQ(strncmp(log->entries[i].traddr, "127.0.0.1", 9), 0);
			}
		CHECK_EQ(found, 1);
		free(log);
	}
	th_close(&a);
	kill(d.pid, SIGTERM);
	CHECK_EQ(wait_exit(d.pid, 15000), 0);
	unlink(img);
	rmdir(data);
	test_end();
}

/* Write and read back one block of NSID 1 of nqn through port. */
static void check_io(uint16_t port, const char *nqn, unsigned seed)
{
	struct th_queue a, io;
	uint8_t block[4096], back[4096];

	test_fill(block, sizeof(block), seed);
	REQUIRE(th_connect_admin(&a, port, nqn, NULL) == 0);
	REQUIRE(th_set_features(&a, NVME_FEAT_NUMBER_OF_QUEUES, 0, NULL) == 0);
	REQUIRE(th_connect_io(&io, port, nqn, 1, a.cntlid, NULL) == 0);
	CHECK_EQ(th_rw(&io, NVME_IO_WRITE, 1, 8, 8, block, sizeof(block), 0), 0);
	CHECK_EQ(th_rw(&io, NVME_IO_READ, 1, 8, 8, back, sizeof(back), 0), 0);
	CHECK_EQ(memcmp(block, back, sizeof(block)), 0);
	th_close(&io);
	th_close(&a);
}

/* The discovery log through port lists nqn at want_port. */
static bool discovery_lists(uint16_t port, const char *nqn, uint16_t want_port)
{
	struct nvmf_discovery_log *log = calloc(1, 4 * 1024);
	struct th_queue a;
	bool found = false;

	REQUIRE(log != NULL);
	if (th_connect_admin(&a, port, NVMF_DISCOVERY_NQN, NULL) != 0) {
		free(log);
		return false;
	}
	CHECK_EQ(th_get_log(&a, NVME_LOG_DISCOVERY, 0, log, 4 * 1024, 0, false), 0);
	for (uint64_t i = 0; i < log->numrec && i < 3; i++)
		found |= strcmp(log->entries[i].subnqn, nqn) == 0 &&
			 atoi(log->entries[i].trsvcid) == want_port;
	th_close(&a);
	free(log);
	return found;
}

/*
 * Run alone (controller_nvmfd several) in a network namespace of its own:
 * two nvmfd with the default discovery port.  The first takes 8009; the
 * second says once that it is busy and serves the rest, discovery
 * included on its I/O port; a reload after the first has gone takes 8009.
 * An explicit --discovery-port that is busy still stops nvmfd.
 */
static void test_several_daemons(void)
{
	const char *nqn2 = NQN "-second";
	struct daemon first, second;
	char conf[256], json[1024], *out;
	char *argv1[] = {"nvmfd", "-n", NQN, "ramdisk:16M", NULL};
	char *argv2[] = {"nvmfd", "-c", conf, NULL};
	char *explicit[] = {"nvmfd", "-s", "4422", "--discovery-port", "8009", "ramdisk:1M", NULL};

	test_begin("two nvmfd on one machine: the default discovery port is optional");
	snprintf(conf, sizeof(conf), "%s/second.json", dir);
	snprintf(json, sizeof(json),
		 "{\"ports\": [{\"portid\": 1, \"addr\": {\"trtype\": \"tcp\", \"adrfam\": \"ipv4\", "
		 "\"traddr\": \"127.0.0.1\", \"trsvcid\": \"4421\"}, \"subsystems\": [\"%s\"]}], "
		 "\"subsystems\": [{\"nqn\": \"%s\", \"attr\": {\"allow_any_host\": \"1\"}, "
		 "\"namespaces\": [{\"nsid\": 1, \"device\": {\"path\": \"ramdisk:16M\"}}]}]}\n",
		 nqn2, nqn2);
	write_file(conf, json);
	REQUIRE(daemon_start(&first, argv1));
	REQUIRE(daemon_start(&second, argv2));
	CHECK_EQ(log_count(&second, "port 8009: Address already in use"), 1);
	CHECK_EQ(log_count(&second, "optional port left out"), 1);
	CHECK_EQ(log_count(&first, "8009: Address already in use"), 0);
	check_io(4420, NQN, 1);
	check_io(4421, nqn2, 2);
	CHECK(discovery_lists(4421, nqn2, 4421));
	CHECK(discovery_lists(8009, NQN, 4420));   /* the first's */
	CHECK(!discovery_lists(8009, nqn2, 4421));
	/* Asked for explicitly, a busy discovery port is an error, as before. */
	out = run_refused(explicit);
	CHECK(strstr(out, "cannot listen on 127.0.0.1 port 8009: Address already in use") != NULL);
	/* The first goes; a reload of the second tries 8009 again and gets it. */
	kill(first.pid, SIGTERM);
	CHECK_EQ(wait_exit(first.pid, 15000), 0);
	kill(second.pid, SIGHUP);
	CHECK(log_wait(&second, "configuration reloaded", 10000));
	CHECK_EQ(log_count(&second, "8009: Address already in use"), 1);
	CHECK(discovery_lists(8009, nqn2, 4421));
	check_io(4421, nqn2, 3);
	kill(second.pid, SIGTERM);
	CHECK_EQ(wait_exit(second.pid, 15000), 0);
	test_end();
}

/*
 * SIGTERM with writes in flight.  "In flight" is made exact with a raw
 * queue: each write's capsule is sent without its data and the R2T that
 * answers it proves nvmfd has received the command and started it.  The
 * signal lands while all of them wait for their data; a command that
 * arrives after it is refused as retryable; the data then sent completes
 * every started write, and a restarted nvmfd reads each one back.
 */
static void test_sigterm_in_flight(void)
{
	enum { DONE = 8, NRAW = 16, BS = 4096, BLOCKS = 2, LEN = BS * BLOCKS };
	enum { LATE_LBA = 200, LATE_CID = 100 };
	struct daemon d;
	char port_text[8], backing[300], img[256];
	uint16_t port = free_port();
	struct th_queue a, io;
	struct raw r;
	struct th_raw_event ev;
	uint8_t *buf = malloc((size_t)(DONE + NRAW) * LEN), *back = malloc(LEN);
	uint16_t ttag[NRAW];
	bool got_r2t[NRAW] = {0}, answered[NRAW] = {0};
	uint8_t late[BS];
	int nr2t = 0, nanswered = 0;
	char *argv[] = {"nvmfd", "-s", port_text, "--discovery-port", "0", "-n", NQN, backing, NULL};

	test_begin("SIGTERM: writes received before it complete and are on disk; later ones are refused");
	REQUIRE(buf != NULL && back != NULL);
	snprintf(port_text, sizeof(port_text), "%u", port);
	snprintf(img, sizeof(img), "%s/term.img", dir);
	snprintf(backing, sizeof(backing), "%s,size=16M,bs=4096", img);
	test_fill(buf, (size_t)(DONE + NRAW) * LEN, 4242);
	REQUIRE(daemon_start(&d, argv));
	REQUIRE(th_connect_admin(&a, port, NQN, NULL) == 0);
	REQUIRE(th_set_features(&a, NVME_FEAT_NUMBER_OF_QUEUES, 0x00010001, NULL) == 0);
	REQUIRE(th_connect_io(&io, port, NQN, 1, a.cntlid, NULL) == 0);
	REQUIRE(th_raw_connect_io(&r, port, NQN, 2, a.cntlid, 64) == 0);

	/* Done before the signal. */
	for (int i = 0; i < DONE; i++)
		CHECK_EQ(th_rw(&io, NVME_IO_WRITE, 1, (uint64_t)i * BLOCKS, BLOCKS,
			       buf + (size_t)i * LEN, LEN, 0), 0);
	/* Received and started before the signal: an R2T for each. */
	for (int i = 0; i < NRAW; i++)
		REQUIRE(th_raw_write_cmd(&r, (uint16_t)i, 1, (uint64_t)(DONE + i) * BLOCKS, BLOCKS,
					 LEN, NULL) == 0);
	while (nr2t < NRAW && th_raw_next(&r, &ev, 5000) == 0) {
		if (ev.type != NVME_TCP_PDU_R2T || ev.cid >= NRAW || got_r2t[ev.cid] ||
		    ev.r2to != 0 || ev.r2tl != LEN) {
			fprintf(stderr, "expected R2Ts: type %#x cid %u\n", ev.type, ev.cid);
			break;
		}
		got_r2t[ev.cid] = true;
		ttag[ev.cid] = ev.ttag;
		nr2t++;
	}
	REQUIRE(nr2t == NRAW);

	kill(d.pid, SIGTERM);
	REQUIRE(log_wait(&d, "finishing commands in flight", 10000));
	/* After it: no new connections (the listener closes just after that
	 * line), no new commands. */
	CHECK(test_listener_closed(port, 5000));
	memset(late, 0x5a, sizeof(late));
	REQUIRE(th_raw_write_cmd(&r, LATE_CID, 1, LATE_LBA, 1, BS, late) == 0);
	CHECK_EQ(th_raw_next(&r, &ev, 5000), 0);
	CHECK_EQ(ev.type, NVME_TCP_PDU_CAPSULE_RESP);
	CHECK_EQ(ev.cid, LATE_CID);
	CHECK_EQ(ev.status, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_TRANSIENT_TRANSPORT_ERROR));
	CHECK_EQ(th_rw(&io, NVME_IO_WRITE, 1, LATE_LBA + 1, 1, late, BS, 0),
		 NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_TRANSIENT_TRANSPORT_ERROR));
	/* The started writes get their data and complete, every one. */
	for (int i = 0; i < NRAW; i++)
		CHECK_EQ(th_raw_h2c(&r, (uint16_t)i, ttag[i], 0, buf + (size_t)(DONE + i) * LEN, LEN),
			 0);
	while (nanswered < NRAW && th_raw_next(&r, &ev, 5000) == 0) {
		if (ev.type != NVME_TCP_PDU_CAPSULE_RESP || ev.cid >= NRAW || answered[ev.cid]) {
			fprintf(stderr, "unexpected PDU %#x cid %u\n", ev.type, ev.cid);
			CHECK(0);
			break;
		}
		answered[ev.cid] = true;
		nanswered++;
		if (ev.status != 0) {
			fprintf(stderr, "write %u (received before SIGTERM) failed: status %#x\n",
				ev.cid, ev.status);
			CHECK(0);
		}
	}
	CHECK_EQ(nanswered, NRAW);
	CHECK_EQ(test_wait_eof(r.fd, 15000), 0);
	close(r.fd);
	CHECK_EQ(wait_exit(d.pid, 20000), 0);
	CHECK(strstr(read_file(d.log), "every namespace flushed") != NULL);
	th_close(&io);
	th_close(&a);

	/* A new nvmfd on the same file: every write is there, the late ones not. */
	REQUIRE(daemon_start(&d, argv));
	REQUIRE(th_connect_admin(&a, port, NQN, NULL) == 0);
	REQUIRE(th_connect_io(&io, port, NQN, 1, a.cntlid, NULL) == 0);
	for (int i = 0; i < DONE + NRAW; i++) {
		CHECK_EQ(th_rw(&io, NVME_IO_READ, 1, (uint64_t)i * BLOCKS, BLOCKS, back, LEN, 0), 0);
		if (memcmp(back, buf + (size_t)i * LEN, LEN) != 0) {
			fprintf(stderr, "write %d (%s before SIGTERM) is not on disk\n", i,
				i < DONE ? "completed" : "received");
			CHECK(0);
		}
	}
	CHECK_EQ(th_rw(&io, NVME_IO_READ, 1, LATE_LBA, 1, back, BS, 0), 0);
	CHECK(back[0] == 0 && back[BS - 1] == 0);
	CHECK_EQ(th_rw(&io, NVME_IO_READ, 1, LATE_LBA + 1, 1, back, BS, 0), 0);
	CHECK(back[0] == 0 && back[BS - 1] == 0);
	th_close(&io);
	th_close(&a);
	kill(d.pid, SIGTERM);
	CHECK_EQ(wait_exit(d.pid, 15000), 0);
	unlink(img);
	free(buf);
	free(back);
	test_end();
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	nvmf_log_set_level(NVMF_LOG_ERR);
	if (argc > 1 && (strcmp(argv[1], "defaults") == 0 || strcmp(argv[1], "several") == 0)) {
		char why[256];

		if (test_enter_netns(why, sizeof(why)) != 0) {
			fprintf(stderr, "skipped: %s\n", why);
			return TEST_SKIP;
		}
		REQUIRE(mkdtemp(dir) != NULL);
		if (strcmp(argv[1], "defaults") == 0)
			test_defaults();
		else
			test_several_daemons();
	} else {
		REQUIRE(mkdtemp(dir) != NULL);
		test_config_errors();
		test_config_serve_reload();
		test_config_linux612(true);
		test_config_linux612(false);
		test_quick_start();
		test_exposure_warning();
		test_sigterm_in_flight();
	}
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return test_summary();
}
