/* SPDX-License-Identifier: MIT */
/*
 * Deadlines against a stepped wall clock.  The test runs itself twice under
 * the clockstep shim (tests/util/clockstep.c, LD_PRELOAD), the wall clock
 * stepped a day forward and then a day back, and in each: a silent
 * target's ICResp times out after the connect timeout (not a day later,
 * not at once); the target closes a connection that never sends Connect
 * within its connect timeout; a host connects, writes, reads back and
 * disconnects.  Every deadline in the library runs on CLOCK_MONOTONIC.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nvmf/controller.h"
#include "nvmf/host.h"
#include "nvmf/log.h"
#include "util/test_util.h"

#define NQN "nqn.2024-01.org.nvmfd:clock-step"
#define TIMEOUT_MS 1000
#define LATE_MS 8000              /* a timeout this late was not taken on time */
#define CHILD_ALARM_S 60

static struct nvmf_host_opts host_opts(const char *port)
{
	struct nvmf_host_opts o;

	nvmf_host_opts_init(&o);
	o.traddr = "127.0.0.1";
	o.trsvcid = port;
	o.subnqn = NQN;
	o.nr_io_queues = 1;
	o.connect_timeout_ms = TIMEOUT_MS;
	o.kato_s = 1;
	return o;
}

static void test_silent_target(void)
{
	uint16_t port;
	char text[8];
	int lfd = test_listen(&port);
	struct nvmf_host_opts o;
	struct nvmf_error err;
	struct nvmf_ctrl *c;
	uint64_t start, ms;

	test_begin("a silent target's ICResp times out after the connect timeout");
	REQUIRE(lfd >= 0);
	snprintf(text, sizeof(text), "%u", port);
	o = host_opts(text);
	start = test_now_us();
	c = nvmf_connect(&o, &err); /* the listener never answers */
	ms = (test_now_us() - start) / 1000;
	CHECK(c == NULL);
	if (c != NULL)
		nvmf_disconnect(c);
	else
		fprintf(stderr, "after %llu ms: %s\n", (unsigned long long)ms, err.msg);
	CHECK(ms >= TIMEOUT_MS - 50 && ms < LATE_MS);
	close(lfd);
	test_end();
}

static struct nvmf_target *target_start(uint16_t *port)
{
	static struct nvmf_ns_conf ns = {.nsid = 1, .enabled = true, .block_size = 4096};
	static char subsys_nqn[1][NVMF_NQN_SIZE] = {NQN};
	static struct nvmf_subsys_conf subsys = {.nqn = NQN, .allow_any_host = true, .nns = 1,
						 .ns = &ns};
	static struct nvmf_port_conf pc = {.portid = 1, .adrfam = NVMF_ADRFAM_IPV4,
					   .traddr = "127.0.0.1", .trsvcid = "0",
					   .inline_data_size = UINT32_MAX, .nsubsys = 1,
					   .subsystems = subsys_nqn};
	struct nvmf_target_conf conf = {.nports = 1, .ports = &pc, .nsubsys = 1,
					.subsys = &subsys};
	struct nvmf_target_params p;
	struct nvmf_target *t;
	struct nvmf_error err;

	snprintf(ns.path, sizeof(ns.path), "ramdisk:8M");
	nvmf_target_params_init(&p);
	p.connect_timeout_ms = TIMEOUT_MS;
	t = nvmf_target_create(&p);
	REQUIRE(t != NULL);
	if (nvmf_target_configure(t, &conf, &err) != 0) {
		fprintf(stderr, "configure: %s\n", err.msg);
		REQUIRE(0);
	}
	*port = (uint16_t)nvmf_target_listen_port(t, 1);
	return t;
}

static void test_target_connect_timeout(uint16_t port)
{
	uint64_t start, ms;
	int fd;

	test_begin("the target closes a connection without Connect after its connect timeout");
	fd = test_connect(port);
	REQUIRE(fd >= 0);
	start = test_now_us();
	CHECK_EQ(test_wait_eof(fd, LATE_MS), 0);
	ms = (test_now_us() - start) / 1000;
	fprintf(stderr, "closed after %llu ms\n", (unsigned long long)ms);
	CHECK(ms >= TIMEOUT_MS - 50 && ms < LATE_MS);
	close(fd);
	test_end();
}

static void test_io(uint16_t port)
{
	char text[8];
	struct nvmf_host_opts o;
	struct nvmf_error err;
	struct nvmf_ctrl *c;
	uint8_t buf[4096], back[4096];

	test_begin("connect, write, read back, keep alive, disconnect");
	snprintf(text, sizeof(text), "%u", port);
	o = host_opts(text);
	c = nvmf_connect(&o, &err);
	if (c == NULL)
		fprintf(stderr, "connect: %s\n", err.msg);
	REQUIRE(c != NULL);
	test_fill(buf, sizeof(buf), 3);
	CHECK_EQ(nvmf_ns_write_sync(nvmf_ctrl_ns(c, 1), 0, buf, sizeof(buf), 0), 0);
	/* Two keep alive periods: the association outlives them. */
	sleep(2);
	CHECK_EQ(nvmf_ns_read_sync(nvmf_ctrl_ns(c, 1), 0, back, sizeof(back)), 0);
	CHECK(memcmp(buf, back, sizeof(buf)) == 0);
	CHECK_EQ(nvmf_ctrl_reconnects(c), 0);
	CHECK_EQ(nvmf_disconnect(c), 0);
	test_end();
}

static int run_stepped(void)
{
	struct nvmf_target *t;
	uint16_t port;

	alarm(CHILD_ALARM_S); /* a deadline a day off would hang: fail instead */
	nvmf_log_set_level(NVMF_LOG_ERR);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "wall clock stepped %s s\n", getenv("NVMF_CLOCK_STEP"));
	test_begin("the shim moves the wall clock");
	{
		struct timespec shifted, real;

		clock_gettime(CLOCK_REALTIME, &shifted);
		syscall(SYS_clock_gettime, CLOCK_REALTIME, &real);
		CHECK(labs((long)(shifted.tv_sec - real.tv_sec) - atol(getenv("NVMF_CLOCK_STEP"))) < 60);
	}
	test_end();
	test_silent_target();
	t = target_start(&port);
	test_target_connect_timeout(port);
	test_io(port);
	nvmf_target_destroy(t);
	return test_summary();
}

int main(int argc, char **argv)
{
	static const char *const steps[] = {"86400", "-86400"};

	(void)argc;
	if (getenv("NVMF_CLOCK_STEP") != NULL)
		return run_stepped();
	for (unsigned i = 0; i < 2; i++) {
		int status;
		pid_t pid = fork();

		REQUIRE(pid >= 0);
		if (pid == 0) {
			const char *asan = getenv("ASAN_OPTIONS");
			char opts[512];

			/* The shim is preloaded ahead of a sanitizer runtime linked in;
			 * ASan refuses that order unless told it is meant. */
			snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0",
				 asan != NULL ? asan : "", asan != NULL && asan[0] ? ":" : "");
			setenv("ASAN_OPTIONS", opts, 1);
			setenv("LD_PRELOAD", CLOCKSTEP_PATH, 1);
			setenv("NVMF_CLOCK_STEP", steps[i], 1);
			execv(argv[0], argv);
			_exit(127);
		}
		test_begin(steps[i][0] == '-' ? "wall clock a day back" : "wall clock a day ahead");
		REQUIRE(waitpid(pid, &status, 0) == pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fprintf(stderr, "stepped run: %s %d\n",
				WIFSIGNALED(status) ? "killed by signal" : "exit status",
				WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		test_end();
	}
	return test_summary();
}
