/* SPDX-License-Identifier: MIT */
/*
 * Races and stalls in the target's teardown, put in the losing order with
 * test points (src/util/testpoint.h) against a target in this process:
 *
 *   reload_overrun: a reload raises a namespace event whose AER response
 *     finds no capsule free (a host not reading its admin responses); the
 *     connection must be dropped and the reload finish (it used to take
 *     the target lock it already held: the whole daemon hung).
 *   hung_io: one connection's backend read never returns while it is torn
 *     down; another host's keep alive timeout must still be enforced (the
 *     one reaper used to wait for the read, and every timer with it).
 *   tls_attach: a TLS connection is handed over just as the target shuts
 *     down; the shutdown must wait for the handshake thread, which must
 *     touch nothing freed (it used to lock the freed target).
 *
 * Test points exist only in Debug builds (the ASan build of the suite);
 * elsewhere the test says so and skips.
 */
#include <stdio.h>

#ifndef NVMF_DEBUG_CHECKS
int main(void)
{
	printf("skipped: test points are compiled into Debug builds only (run it in build-asan)\n");
	return 77;
}
#else

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/conn.h"
#include "host_helper.h"
#include "nvmf/controller.h"
#include "nvmf/log.h"
#include "security/tls_session.h"
#include "util/test_util.h"
#include "util/testpoint.h"

#define NQN "nqn.2024-01.org.nvmfd:races"
#define HOST_TLS "nqn.2024-01.org.nvmfd:races-tls-host"
#define WAIT_MS 20000
#define HUNG_LBA 777

static char tmpdir[] = "/tmp/nvmf-races-XXXXXX";
static char tls_key[NVMF_TLS_KEY_STRING_MAX];

/* What the hook does (lock). */
static pthread_mutex_t tp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tp_cond = PTHREAD_COND_INITIALIZER;
static struct {
	bool fail_aer;         /* the next AER response finds no capsule */
	bool aer_failed;
	bool hang_read;        /* reads of HUNG_LBA wait for release */
	bool read_hung, release;
	bool hold_attached;    /* the TLS thread waits after attaching ... */
	bool attached, draining; /* ... until the shutdown waits for it */
} tp;

static bool tp_wait(bool *flag)
{
	uint64_t end = test_now_us() + (uint64_t)WAIT_MS * 1000;

	while (!*flag) {
		struct timespec ts;

		if (test_now_us() >= end)
			return false;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&tp_cond, &tp_lock, &ts);
	}
	return true;
}

static bool tp_reached(bool *flag)
{
	bool ok;

	pthread_mutex_lock(&tp_lock);
	ok = tp_wait(flag);
	pthread_mutex_unlock(&tp_lock);
	return ok;
}

static void tp_set(bool *flag)
{
	pthread_mutex_lock(&tp_lock);
	*flag = true;
	pthread_cond_broadcast(&tp_cond);
	pthread_mutex_unlock(&tp_lock);
}

static int hook(const char *name, void *arg)
{
	int inject = 0;

	pthread_mutex_lock(&tp_lock);
	if (strcmp(name, "controller.cmd_complete.respond") == 0 && tp.fail_aer &&
	    cmd_sqe(arg)->opc == NVME_ADMIN_ASYNC_EVENT_REQUEST) {
		tp.fail_aer = false;
		tp.aer_failed = true;
		inject = ENOBUFS;
	} else if (strcmp(name, "controller.io.read") == 0 && tp.hang_read &&
		   ((struct nvmf_cmd *)arg)->offset == (uint64_t)HUNG_LBA * 4096) {
		tp.read_hung = true;
		pthread_cond_broadcast(&tp_cond);
		if (!tp_wait(&tp.release))
			fprintf(stderr, "hook: the hung read was never released\n");
	} else if (strcmp(name, "tcp.listener.attached") == 0 && tp.hold_attached) {
		tp.hold_attached = false;
		tp.attached = true;
		pthread_cond_broadcast(&tp_cond);
		if (!tp_wait(&tp.draining))
			fprintf(stderr, "hook: the listener was never freed\n");
	} else if (strcmp(name, "tcp.listener.draining") == 0 && tp.attached) {
		tp.draining = true;
		pthread_cond_broadcast(&tp_cond);
	}
	pthread_mutex_unlock(&tp_lock);
	return inject;
}

/* One subsystem: a ramdisk and a file namespace (its reads run on the
 * worker pool), on a plaintext port and a TLS one. */
struct fixture {
	struct nvmf_target *t;
	struct nvmf_target_conf conf;
	struct nvmf_subsys_conf subsys;
	struct nvmf_ns_conf ns[3];
	struct nvmf_port_conf ports[2];
	struct nvmf_host_conf host;
	char port_subsys[1][NVMF_NQN_SIZE];
	uint16_t port, tls_port;
};

static void fixture_conf(struct fixture *f, unsigned nns)
{
	memset(f, 0, sizeof(*f));
	for (unsigned i = 0; i < 3; i++) {
		f->ns[i].nsid = i + 1;
		f->ns[i].enabled = true;
		f->ns[i].block_size = 4096;
		f->ns[i].size = 8 << 20;
		snprintf(f->ns[i].path, sizeof(f->ns[i].path), "%s/ns%u.img", tmpdir, i + 1);
	}
	snprintf(f->ns[0].path, sizeof(f->ns[0].path), "ramdisk:8M");
	snprintf(f->subsys.nqn, sizeof(f->subsys.nqn), NQN);
	f->subsys.allow_any_host = true;
	f->subsys.nns = nns;
	f->subsys.ns = f->ns;
	snprintf(f->port_subsys[0], sizeof(f->port_subsys[0]), NQN);
	for (int i = 0; i < 2; i++) {
		f->ports[i].portid = (uint16_t)(i + 1);
		f->ports[i].adrfam = NVMF_ADRFAM_IPV4;
		snprintf(f->ports[i].traddr, sizeof(f->ports[i].traddr), "127.0.0.1");
		snprintf(f->ports[i].trsvcid, sizeof(f->ports[i].trsvcid), "0");
		f->ports[i].inline_data_size = UINT32_MAX;
		f->ports[i].nsubsys = 1;
		f->ports[i].subsystems = f->port_subsys;
	}
	f->ports[1].tls = NVMF_PORT_TLS_REQUIRED;
	snprintf(f->host.nqn, sizeof(f->host.nqn), HOST_TLS);
	snprintf(f->host.tls_key, sizeof(f->host.tls_key), "%s", tls_key);
	f->conf.nports = 2;
	f->conf.ports = f->ports;
	f->conf.nsubsys = 1;
	f->conf.subsys = &f->subsys;
	f->conf.nhosts = 1;
	f->conf.hosts = &f->host;
}

static void fixture_start(struct fixture *f)
{
	struct nvmf_target_params p;
	struct nvmf_error err;

	nvmf_target_params_init(&p);
	fixture_conf(f, 2);
	f->t = nvmf_target_create(&p);
	REQUIRE(f->t != NULL);
	if (nvmf_target_configure(f->t, &f->conf, &err) != 0) {
		fprintf(stderr, "configure: %s\n", err.msg);
		REQUIRE(0);
	}
	f->port = (uint16_t)nvmf_target_listen_port(f->t, 1);
	f->tls_port = (uint16_t)nvmf_target_listen_port(f->t, 2);
}

static bool wait_stats(struct nvmf_target *t, unsigned conns, uint64_t kato_expired)
{
	for (uint64_t end = test_now_us() + (uint64_t)WAIT_MS * 1000; test_now_us() < end;
	     usleep(1000)) {
		struct nvmf_target_stats st;

		nvmf_target_get_stats(t, &st);
		if (st.connections == conns && st.kato_expired >= kato_expired)
			return true;
	}
	return false;
}

/* A host that reads and writes a block: the target still serves. */
static void check_serving(struct fixture *f)
{
	struct th_queue a, io;
	uint8_t *buf = malloc(4096), *back = malloc(4096);

	REQUIRE(buf != NULL && back != NULL);
	test_fill(buf, 4096, 5);
	CHECK_EQ(th_connect_admin(&a, f->port, NQN, NULL), 0);
	CHECK_EQ(th_connect_io(&io, f->port, NQN, 1, a.cntlid, NULL), 0);
	CHECK_EQ(th_rw(&io, NVME_IO_WRITE, 1, 10, 1, buf, 4096, 0), 0);
	CHECK_EQ(th_rw(&io, NVME_IO_READ, 1, 10, 1, back, 4096, 0), 0);
	CHECK(memcmp(buf, back, 4096) == 0);
	th_close(&io);
	th_close(&a);
	free(buf);
	free(back);
}

struct reload {
	struct fixture *f;
	int rc;
	bool done;
};

static void *reload_main(void *arg)
{
	struct reload *r = arg;
	struct fixture *g = malloc(sizeof(*g));
	struct nvmf_error err;

	REQUIRE(g != NULL);
	fixture_conf(g, 3); /* namespace 3 appears */
	r->rc = nvmf_target_configure(r->f->t, &g->conf, &err);
	free(g);
	tp_set(&r->done);
	return NULL;
}

static void test_reload_overrun(void)
{
	struct fixture f;
	struct th_queue a;
	struct reload r = {.f = &f};
	pthread_t t;
	int aer;

	test_begin("a reload whose event finds no response capsule drops that host, not the daemon");
	fixture_start(&f);
	REQUIRE(th_connect_admin(&a, f.port, NQN, NULL) == 0);
	CHECK_EQ(th_set_features(&a, NVME_FEAT_ASYNC_EVENT_CONFIG, NVME_AEC_NS_ATTR_NOTICES, NULL),
		 0);
	aer = th_submit(&a, &(struct nvme_sqe){.opc = NVME_ADMIN_ASYNC_EVENT_REQUEST}, NULL, 0,
			false);
	CHECK(aer >= 0);
	pthread_mutex_lock(&tp_lock);
	tp.fail_aer = true;
	pthread_mutex_unlock(&tp_lock);
	REQUIRE(pthread_create(&t, NULL, reload_main, &r) == 0);
	if (!tp_reached(&r.done)) {
		fprintf(stderr, "the reload hangs: giving up\n");
		exit(1);
	}
	pthread_join(t, NULL);
	CHECK_EQ(r.rc, 0);
	CHECK(tp.aer_failed);
	CHECK_EQ(th_wait_closed(&a, WAIT_MS), 0);
	th_close(&a);
	CHECK(wait_stats(f.t, 0, 0));
	check_serving(&f);
	nvmf_target_destroy(f.t);
	test_end();
}

static void test_hung_io(void)
{
	struct th_opts kato = {.kato_ms = 1000};
	struct fixture f;
	struct th_queue a, io, silent;
	uint8_t *buf = malloc(4096);
	uint64_t start;
	int cid;

	test_begin("a backend read that hangs in teardown holds up no keep alive timeout");
	REQUIRE(buf != NULL);
	fixture_start(&f);
	pthread_mutex_lock(&tp_lock);
	tp.hang_read = true;
	pthread_mutex_unlock(&tp_lock);
	REQUIRE(th_connect_admin(&a, f.port, NQN, NULL) == 0);
	REQUIRE(th_connect_io(&io, f.port, NQN, 1, a.cntlid, NULL) == 0);
	cid = th_submit(&io, &(struct nvme_sqe){.opc = NVME_IO_READ, .nsid = 2, .cdw10 = HUNG_LBA},
			buf, 4096, false);
	CHECK(cid >= 0);
	CHECK(tp_reached(&tp.read_hung));
	/* The host goes away; its connections are torn down around the read. */
	th_close(&io);
	th_close(&a);
	/* Another host stops its keep alives: expired within KATO, rounded to
	 * 1 s, plus a generous margin. */
	REQUIRE(th_connect_admin(&silent, f.port, NQN, &kato) == 0);
	start = test_now_us();
	CHECK(wait_stats(f.t, 1, 1)); /* the hung connection's is the one left */
	CHECK(test_now_us() - start < 10 * 1000000u);
	CHECK_EQ(th_wait_closed(&silent, WAIT_MS), 0);
	th_close(&silent);
	tp_set(&tp.release);
	CHECK(wait_stats(f.t, 0, 1));
	check_serving(&f);
	nvmf_target_destroy(f.t);
	free(buf);
	test_end();
}

struct tls_client {
	uint16_t port;
	struct nvmf_tls_session *s;
	int fd;
};

static void *tls_client_main(void *arg)
{
	struct tls_client *c = arg;
	struct nvmf_tls_key key;
	char err[256];
	struct nvmf_tls_client_params p = {.hostnqn = HOST_TLS, .subnqn = NQN, .key = &key,
					   .timeout_ms = WAIT_MS};

	REQUIRE(nvmf_tls_key_parse(tls_key, &key, NULL) == 0);
	c->fd = test_connect(c->port);
	REQUIRE(c->fd >= 0);
	c->s = nvmf_tls_client_handshake(c->fd, &p, err, sizeof(err));
	if (c->s == NULL)
		fprintf(stderr, "TLS client: %s\n", err);
	return NULL;
}

static void *destroy_main(void *arg)
{
	nvmf_target_destroy(arg);
	return NULL;
}

static void test_tls_attach(void)
{
	struct fixture f;
	struct tls_client c = {0};
	pthread_t t, destroyer;

	test_begin("a TLS connection handed over as the target goes touches nothing of it after");
	fixture_start(&f);
	c.port = f.tls_port;
	pthread_mutex_lock(&tp_lock);
	tp.hold_attached = true;
	pthread_mutex_unlock(&tp_lock);
	REQUIRE(pthread_create(&t, NULL, tls_client_main, &c) == 0);
	pthread_join(t, NULL);
	CHECK(c.s != NULL);
	CHECK(tp_reached(&tp.attached));
	/* Shut down while the handshake thread waits after attach: the
	 * listener's free must wait for it (ASan reports any touch of what
	 * was freed), and the destroy then completes. */
	REQUIRE(pthread_create(&destroyer, NULL, destroy_main, f.t) == 0);
	CHECK(tp_reached(&tp.draining));
	pthread_join(destroyer, NULL);
	if (c.s != NULL)
		nvmf_tls_session_free(c.s);
	close(c.fd);
	test_end();
}

int main(void)
{
	struct nvmf_error err;

	nvmf_log_set_level(NVMF_LOG_ERR);
	REQUIRE(mkdtemp(tmpdir) != NULL);
	REQUIRE(nvmf_tls_key_generate(1, NULL, tls_key, sizeof(tls_key), &err) > 0);
	__atomic_store_n(&nvmf_testpoint_hook, hook, __ATOMIC_RELEASE);
	test_reload_overrun();
	test_hung_io();
	test_tls_attach();
	for (int i = 1; i <= 3; i++) {
		char path[128];

		snprintf(path, sizeof(path), "%s/ns%d.img", tmpdir, i);
		unlink(path);
	}
	rmdir(tmpdir);
	return test_summary();
}
#endif
