/* SPDX-License-Identifier: MIT */
/*
 * host_lib, second half: the host library through the wire relay
 * (bring-up, the CSTS.RDY wait, discovery's generation counter, connect-all
 * with SQ flow control), keep alive, reconnection after the target restarts
 * mid-I/O, controller loss, command timeouts, stale and short responses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/host_internal.h"
#include "host/host_lib_test.h"
#include "host/netns.h"
#include "host/nvmfd_proc.h"
#include "host/wire_relay.h"
#include "nvmf/host.h"
#include "util/test_util.h"

/* ------------------------------------------------------------------ */
/* Through the wire relay: bring-up, discovery, connect-all             */
/* ------------------------------------------------------------------ */

static bool is_fabrics(const struct nvme_sqe *sqe, uint8_t fctype)
{
	return sqe->opc == NVME_ADMIN_FABRICS && ((const struct nvmf_fabrics_cmd *)sqe)->fctype == fctype;
}

static uint32_t prop_ofst(const struct nvme_sqe *sqe)
{
	return ((const struct nvmf_property_get_cmd *)sqe)->ofst;
}

/* CAP.TO and CSTS.RDY as the host sees them, bent on the way. */
struct csts_bend {
	_Atomic int cap_to;           /* CAP.TO to report */
	_Atomic int not_ready;        /* CSTS reads after CC.EN answered RDY=0; -1: all */
	_Atomic bool enabled;         /* CC.EN written */
	_Atomic unsigned ready_reads; /* CSTS reads after CC.EN */
};

static void csts_command(void *arg, unsigned conn, uint16_t qid, struct nvme_sqe *sqe)
{
	struct csts_bend *b = arg;

	if (qid == 0 && is_fabrics(sqe, NVMF_FCTYPE_PROPERTY_SET) && prop_ofst(sqe) == NVME_PROP_CC &&
	    (((const struct nvmf_property_set_cmd *)sqe)->value & NVME_CC_EN))
		atomic_store(&b->enabled, true);
}

static void csts_response(void *arg, unsigned conn, uint16_t qid, const struct nvme_sqe *cmd,
			  struct nvme_cqe *cqe)
{
	struct csts_bend *b = arg;

	if (qid != 0 || !is_fabrics(cmd, NVMF_FCTYPE_PROPERTY_GET) || cqe->status >> 1 != 0)
		return;
	if (prop_ofst(cmd) == NVME_PROP_CAP) {
		cqe->cdw0 = (cqe->cdw0 & 0x00ffffffu) | (uint32_t)atomic_load(&b->cap_to) << 24;
	} else if (prop_ofst(cmd) == NVME_PROP_CSTS && atomic_load(&b->enabled)) {
		unsigned n = atomic_fetch_add(&b->ready_reads, 1);
		int not_ready = atomic_load(&b->not_ready);

		if (not_ready < 0 || n < (unsigned)not_ready)
			cqe->cdw0 &= ~NVME_CSTS_RDY;
	}
}

void test_csts_rdy_wait(void)
{
	static const char *const extra[] = {"ramdisk:8M", NULL};
	static const int to_units[] = {2, 5};
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_error err;
	struct nvmf_ctrl *c;
	struct csts_bend b = {0};
	struct relay_hooks hooks = {.command = csts_command, .response = csts_response, .arg = &b};
	struct relay *r;
	char relay_text[8];
	uint64_t start, ms;

	test_begin("bring-up waits for CSTS.RDY within CAP.TO, and no longer");
	REQUIRE(nvmfd_start(&d, NQN, extra));
	r = relay_start(NULL, 0, d.port, &hooks);
	snprintf(relay_text, sizeof(relay_text), "%u", relay_port(r));
	o = opts_for(&d);
	o.trsvcid = relay_text;

	/* Not ready three times, then ready: the host keeps asking (connected
	 * at all, it found CSTS.RDY within CAP.TO, 2: 1.5 s). */
	atomic_store(&b.cap_to, 2);
	atomic_store(&b.not_ready, 3);
	c = nvmf_connect(&o, &err);
	CHECK(c != NULL);
	if (c == NULL)
		fprintf(stderr, "connect: %s\n", err.msg);
	CHECK_EQ(atomic_load(&b.ready_reads), 4);
	if (c != NULL) {
		CHECK_EQ(nvmf_ctrl_state(c), NVMF_CTRL_LIVE);
		CHECK_EQ(NVME_CAP_TO(nvmf_ctrl_cap(c)), 2);
		CHECK_EQ(nvmf_disconnect(c), 0);
	}

	/* Never ready: a timeout error once (CAP.TO + 1) * 500 ms have passed. */
	for (size_t i = 0; i < sizeof(to_units) / sizeof(to_units[0]); i++) {
		uint64_t limit = (uint64_t)(to_units[i] + 1) * 500;

		atomic_store(&b.cap_to, to_units[i]);
		atomic_store(&b.not_ready, -1);
		atomic_store(&b.enabled, false);
		atomic_store(&b.ready_reads, 0);
		start = test_now_us();
		c = nvmf_connect(&o, &err);
		ms = (test_now_us() - start) / 1000;
		CHECK(c == NULL);
		if (c != NULL) {
			nvmf_disconnect(c);
			continue;
		}
		fprintf(stderr, "CAP.TO %d: failed after %llu ms: %s\n", to_units[i],
			(unsigned long long)ms, err.msg);
		CHECK_EQ(err.errnum, ETIMEDOUT);
		CHECK(strstr(err.msg, "CSTS.RDY") != NULL);
		CHECK(strstr(err.msg, "timeout") != NULL);
		CHECK(ms >= limit);
		CHECK(ms < limit + 2000); /* the connect around the wait, on a loaded machine */
		CHECK(atomic_load(&b.ready_reads) >= 3);
	}
	relay_stop(r);
	nvmfd_stop(&d, true);
	test_end();
}

static bool is_discovery_log_read(const struct nvme_sqe *sqe, uint64_t *offset)
{
	if (sqe->opc != NVME_ADMIN_GET_LOG_PAGE || (sqe->cdw10 & 0xff) != NVME_LOG_DISCOVERY)
		return false;
	*offset = sqe->cdw12 | (uint64_t)sqe->cdw13 << 32;
	return true;
}

static size_t count_log_reads(struct relay *r, size_t from)
{
	struct relay_cmd rc;
	size_t n = 0;
	uint64_t off;

	for (size_t i = from; relay_get_cmd(r, i, &rc); i++)
		n += is_discovery_log_read(&rc.sqe, &off);
	return n;
}

static unsigned count_in_file(const char *path, const char *what)
{
	char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = 0;
	unsigned count = 0;

	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	for (const char *p = buf; (p = strstr(p, what)) != NULL; p += strlen(what))
		count++;
	return count;
}

/* The discovery log changes between the host's reads of it. */
struct genctr_bend {
	struct nvmfd_proc *d;
	const char *conf;
	uint16_t port;
	_Atomic bool change_at_records; /* reconfigure nvmfd before the first records read */
	_Atomic bool bump_header;      /* a new generation in every header read */
	_Atomic uint64_t next_gen;
	_Atomic bool reloaded;
};

static void genctr_command(void *arg, unsigned conn, uint16_t qid, struct nvme_sqe *sqe)
{
	struct genctr_bend *b = arg;
	uint64_t off;

	if (!is_discovery_log_read(sqe, &off) || off == 0 ||
	    !atomic_exchange(&b->change_at_records, false))
		return;
	/* The host has the header; the records it asks for now come from a
	 * newer log: nvmfd reloads a configuration with a second subsystem
	 * before this command reaches it. */
	{
		unsigned before = count_in_file(b->d->log, "configuration reloaded");

		write_config(b->conf, b->port, false, true);
		nvmfd_signal(b->d, SIGHUP);
		for (int i = 0; i < 500 && count_in_file(b->d->log, "configuration reloaded") == before;
		     i++)
			usleep(10000);
		atomic_store(&b->reloaded,
			     count_in_file(b->d->log, "configuration reloaded") > before);
	}
}

static void genctr_c2h(void *arg, unsigned conn, uint16_t qid, const struct nvme_sqe *cmd,
		       uint32_t datao, uint8_t *data, uint32_t len)
{
	struct genctr_bend *b = arg;
	uint64_t off, gen;

	if (!atomic_load(&b->bump_header) || !is_discovery_log_read(cmd, &off) || off != 0 ||
	    datao != 0 || len < 8)
		return;
	gen = atomic_fetch_add(&b->next_gen, 1);
	memcpy(data, &gen, sizeof(gen));
}

void test_discovery_genctr(void)
{
	char conf[300];
	const char *extra[] = {"-c", conf, NULL};
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_error err;
	struct nvmf_discovery_log *before = NULL, *log = NULL, *after = NULL;
	size_t nbefore = 0, nrec = 0, nafter = 0, mark, found2 = 0;
	uint16_t port = nvmfd_free_port();
	struct genctr_bend b = {.d = &d, .conf = conf, .port = port};
	struct relay_hooks hooks = {.command = genctr_command, .c2h_data = genctr_c2h, .arg = &b};
	struct relay *r;
	char relay_text[8], subnqn[NVMF_HOST_NQN_SIZE];

	test_begin("discovery log read while it changes: generation counter, retry, consistent log");
	snprintf(conf, sizeof(conf), "%s/genctr.json", nvmfd_dir());
	write_config(conf, port, false, false);
	REQUIRE(nvmfd_start(&d, NULL, extra));
	r = relay_start(NULL, 0, d.disc_port, &hooks);
	snprintf(relay_text, sizeof(relay_text), "%u", relay_port(r));
	o = opts_for(&d);
	o.subnqn = NULL;
	o.trsvcid = relay_text;

	/* Undisturbed: header, records, header. */
	mark = relay_ncmds(r);
	REQUIRE(nvmf_discover(&o, &before, &nbefore, &err) == 0);
	CHECK_EQ(count_log_reads(r, mark), 3);
	CHECK(nbefore >= 1);

	/* A second subsystem appears after the header was read. */
	atomic_store(&b.change_at_records, true);
	mark = relay_ncmds(r);
	CHECK_EQ(nvmf_discover(&o, &log, &nrec, &err), 0);
	CHECK(atomic_load(&b.reloaded));
	/* The first pass saw the generation move and was thrown away. */
	CHECK_EQ(count_log_reads(r, mark), 6);
	if (log != NULL) {
		CHECK_EQ(nrec, nbefore + 1);
		CHECK_EQ(log->numrec, nrec);
		CHECK(log->genctr > before->genctr);
		for (size_t i = 0; i < nrec; i++) {
			nvmf_discovery_entry_str(&log->entries[i], NULL, 0, NULL, 0, subnqn,
						 sizeof(subnqn));
			found2 += strcmp(subnqn, NQN2) == 0;
		}
		CHECK_EQ(found2, 1);
		/* What a fresh read returns now: the same log, record for record. */
		CHECK_EQ(nvmf_discover(&o, &after, &nafter, &err), 0);
		CHECK_EQ(nafter, nrec);
		CHECK(after != NULL && after->genctr == log->genctr);
		CHECK(after != NULL && nafter == nrec &&
		      memcmp(after->entries, log->entries, nrec * sizeof(log->entries[0])) == 0);
	}

	/* A log that never holds still: a bounded number of passes, then a
	 * clear error rather than a torn log. */
	atomic_store(&b.next_gen, 1000);
	atomic_store(&b.bump_header, true);
	free(log);
	log = NULL;
	mark = relay_ncmds(r);
	CHECK_EQ(nvmf_discover(&o, &log, &nrec, &err), -EAGAIN);
	CHECK(log == NULL || !"a log returned");
	CHECK(strstr(err.msg, "kept changing") != NULL);
	CHECK_EQ(count_log_reads(r, mark), 30); /* 10 passes of 3 reads */
	atomic_store(&b.bump_header, false);

	free(before);
	free(log);
	free(after);
	relay_stop(r);
	nvmfd_stop(&d, true);
	test_end();
}

/* Connect commands through the relay since a mark: how many, how many with
 * SQ flow control disabled. */
static void count_connects(struct relay *r, size_t from, unsigned *total, unsigned *disabled)
{
	struct relay_cmd rc;

	*total = *disabled = 0;
	for (size_t i = from; relay_get_cmd(r, i, &rc); i++) {
		if (!is_fabrics(&rc.sqe, NVMF_FCTYPE_CONNECT))
			continue;
		(*total)++;
		*disabled += (((const struct nvmf_connect_cmd *)&rc.sqe)->cattr &
			      NVMF_CONNECT_ATTR_DISABLE_SQ_FC) != 0;
	}
}

void test_connect_all_sqflow(void)
{
	static const char *const extra[] = {"ramdisk:16M", NULL};
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_error err;
	struct nvmf_discovery_log *log = NULL;
	struct nvmf_connect_all_result *res = NULL;
	struct relay *r;
	size_t nrec = 0, mark;
	unsigned total, disabled, nvm = 0;
	uint8_t wbuf[8192], rbuf[8192];

	test_begin("connect-all disables SQ flow control where the discovery entry allows it");
	REQUIRE(nvmfd_start(&d, NQN, extra));
	/* The entries name 127.0.0.1:PORT; the relay takes 127.0.0.2:PORT and
	 * connect-all is pointed there (its traddr override). */
	r = relay_start("127.0.0.2", d.port, d.port, NULL);
	o = opts_for(&d);
	o.subnqn = NULL;
	o.trsvcid = d.disc_text;
	REQUIRE(nvmf_discover(&o, &log, &nrec, &err) == 0);
	for (size_t i = 0; i < nrec; i++)
		if (log->entries[i].subtype == NVMF_SUBTYPE_NVME) {
			nvm++;
			CHECK(log->entries[i].treq & NVMF_TREQ_DISABLE_SQFLOW);
		}
	CHECK_EQ(nvm, 1);

	o = opts_for(&d); /* disable_sqflow not asked for */
	CHECK(!o.disable_sqflow);
	mark = relay_ncmds(r);
	CHECK_EQ(nvmf_connect_all(&o, log, nrec, "127.0.0.2", &res), 1);
	count_connects(r, mark, &total, &disabled);
	CHECK_EQ(total, 1 + o.nr_io_queues); /* admin + I/O queues, all through the relay */
	CHECK_EQ(disabled, total);
	for (size_t i = 0; i < nrec; i++) {
		struct nvmf_ns *ns;

		if (res[i].ctrl == NULL)
			continue;
		ns = nvmf_ctrl_ns(res[i].ctrl, 1);
		REQUIRE(ns != NULL);
		test_fill(wbuf, sizeof(wbuf), 77);
		CHECK_EQ(nvmf_ns_write_sync(ns, 0, wbuf, sizeof(wbuf), 0), 0);
		CHECK_EQ(nvmf_ns_read_sync(ns, 0, rbuf, sizeof(rbuf)), 0);
		CHECK(memcmp(wbuf, rbuf, sizeof(wbuf)) == 0);
		CHECK_EQ(nvmf_disconnect(res[i].ctrl), 0);
	}
	free(res);
	res = NULL;

	/* The same entries without the TREQ bit: flow control stays on. */
	for (size_t i = 0; i < nrec; i++)
		log->entries[i].treq &= (uint8_t)~NVMF_TREQ_DISABLE_SQFLOW;
	mark = relay_ncmds(r);
	CHECK_EQ(nvmf_connect_all(&o, log, nrec, "127.0.0.2", &res), 1);
	count_connects(r, mark, &total, &disabled);
	CHECK_EQ(total, 1 + o.nr_io_queues);
	CHECK_EQ(disabled, 0);
	for (size_t i = 0; i < nrec; i++)
		if (res[i].ctrl != NULL)
			CHECK_EQ(nvmf_disconnect(res[i].ctrl), 0);
	free(res);
	free(log);
	relay_stop(r);
	nvmfd_stop(&d, true);
	test_end();
}

void test_keep_alive(void)
{
	static const char *const extra[] = {"ramdisk:8M", NULL};
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_ctrl *c;
	uint8_t buf[4096];

	test_begin("keep alive at KATO/2 keeps an idle association");
	REQUIRE(nvmfd_start(&d, NQN, extra));
	o = opts_for(&d);
	o.kato_s = 1;
	c = connect_or_die(&o);
	sleep(3);
	CHECK_EQ(nvmf_ctrl_state(c), NVMF_CTRL_LIVE);
	CHECK_EQ(nvmf_ctrl_reconnects(c), 0);
	CHECK_EQ(nvmf_ns_read_sync(nvmf_ctrl_ns(c, 1), 0, buf, sizeof(buf)), 0);
	CHECK_EQ(nvmf_disconnect(c), 0);
	nvmfd_stop(&d, true);
	test_end();
}

/* Verified I/O in a loop until told to stop: the load across a restart. */
struct loader {
	struct nvmf_ns *ns;
	_Atomic bool stop;
	_Atomic unsigned rounds;
	unsigned failures;
	int first_failure;
};

static void *loader_main(void *p)
{
	struct loader *l = p;
	uint8_t wbuf[65536], rbuf[65536];

	while (!atomic_load(&l->stop)) {
		uint64_t off = (uint64_t)(l->rounds % 64) * sizeof(wbuf);
		int ret;

		test_fill(wbuf, sizeof(wbuf), l->rounds);
		ret = nvmf_ns_write_sync(l->ns, off, wbuf, sizeof(wbuf), 0);
		if (ret == 0)
			ret = nvmf_ns_read_sync(l->ns, off, rbuf, sizeof(rbuf));
		if (ret == 0 && memcmp(wbuf, rbuf, sizeof(wbuf)) != 0)
			ret = -EILSEQ;
		if (ret != 0 && l->failures++ == 0)
			l->first_failure = ret;
		l->rounds++;
	}
	return NULL;
}

unsigned kill_delay_us = 300000;

void test_reconnect(void)
{
	char img[300];
	const char *extra[] = {img, NULL};
	enum { N = 32, BS = 4096 };
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_ctrl *c;
	struct nvmf_ns *ns;
	struct loader l = {0};
	struct counter held = COUNTER_INIT;
	pthread_t t;
	uint8_t *wbuf = malloc(N * BS), *rbuf = malloc(N * BS);
	unsigned before;

	test_begin("target restarted mid-I/O: reconnect, held I/O resent, data verified");
	REQUIRE(wbuf != NULL && rbuf != NULL);
	snprintf(img, sizeof(img), "%s/reconnect.img,size=32M", nvmfd_dir());
	REQUIRE(nvmfd_start(&d, NQN, extra));
	o = opts_for(&d);
	c = connect_or_die(&o);
	ns = nvmf_ctrl_ns(c, 1);
	REQUIRE(ns != NULL);
	l.ns = ns;
	REQUIRE(pthread_create(&t, NULL, loader_main, &l) == 0);
	/* The kill comes at a point the seed picks (make stress varies it). */
	usleep(kill_delay_us);
	before = l.rounds;
	nvmfd_stop(&d, false); /* SIGKILL mid-I/O */
	CHECK(wait_state(c, NVMF_CTRL_RECONNECTING, 5000));
	/* Submitted while down: held, not failed. */
	test_fill(wbuf, N * BS, 99);
	for (unsigned i = 0; i < N; i++)
		CHECK_EQ(nvmf_ns_write(ns, i % 2 + 1, 2048 + i, 1, wbuf + i * BS, 0, count_cb, &held),
			 0);
	usleep(1500000);
	CHECK_EQ(held.done, 0);
	REQUIRE(nvmfd_restart(&d));
	CHECK(counter_wait(&held, N, 15000));
	CHECK_EQ(held.failed, 0);
	CHECK(wait_state(c, NVMF_CTRL_LIVE, 5000));
	/* The load goes on past the reconnect: two rounds finish after the kill. */
	for (uint64_t end = test_now_us() + 15000000; l.rounds <= before + 1 && test_now_us() < end;)
		usleep(10000);
	atomic_store(&l.stop, true);
	pthread_join(t, NULL);
	CHECK(l.rounds > before + 1);
	CHECK_EQ(l.failures, 0);
	if (l.failures != 0)
		fprintf(stderr, "loader: first failure %d\n", l.first_failure);
	CHECK_EQ(nvmf_ctrl_reconnects(c), 1);
	CHECK_EQ(nvmf_ns_read_sync(ns, 2048ull * BS, rbuf, N * BS), 0);
	CHECK(test_verify(rbuf, N * BS, 99));

	/* A graceful restart (SIGTERM: the target closes first) recovers too. */
	nvmfd_stop(&d, true);
	CHECK(wait_state(c, NVMF_CTRL_RECONNECTING, 5000));
	REQUIRE(nvmfd_restart(&d));
	CHECK(wait_state(c, NVMF_CTRL_LIVE, 10000));
	CHECK_EQ(nvmf_ns_read_sync(ns, 2048ull * BS, rbuf, N * BS), 0);
	CHECK(test_verify(rbuf, N * BS, 99));
	CHECK_EQ(nvmf_ctrl_reconnects(c), 2);
	CHECK_EQ(nvmf_disconnect(c), 0);
	nvmfd_stop(&d, true);
	free(wbuf);
	free(rbuf);
	test_end();
}

/* A listener on 127.0.0.1:port that takes connections and drops them at
 * once, noting when each came: the host's reconnect attempts while the
 * target is away. */
struct attempts {
	int lfd;
	_Atomic bool stop;
	uint64_t at_us[32];
	_Atomic unsigned n;
};

static void *take_attempts(void *p)
{
	struct attempts *a = p;

	while (!atomic_load(&a->stop)) {
		struct pollfd pfd = {.fd = a->lfd, .events = POLLIN};
		int fd;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept(a->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (atomic_load(&a->n) < 32)
			a->at_us[atomic_load(&a->n)] = test_now_us();
		atomic_fetch_add(&a->n, 1);
		close(fd);
	}
	return NULL;
}

static int listen_on(uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	REQUIRE(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	REQUIRE(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	REQUIRE(listen(fd, 16) == 0);
	return fd;
}

void test_reconnect_timing(void)
{
	static const char *const extra[] = {"ramdisk:8M", NULL};
	enum { DELAY_S = 2, SLACK_MS = 1000 };
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_ctrl *c;
	struct attempts a = {0};
	pthread_t t;
	uint64_t killed, lost, back, live;
	uint8_t buf[4096];

	test_begin("reconnect every reconnect-delay, and within it once the target is back");
	REQUIRE(nvmfd_start(&d, NQN, extra));
	o = opts_for(&d);
	o.reconnect_delay_s = DELAY_S;
	c = connect_or_die(&o);
	/* The host sees the loss between these two instants. */
	killed = test_now_us();
	nvmfd_stop(&d, false);
	lost = test_now_us();
	CHECK(wait_state(c, NVMF_CTRL_RECONNECTING, 5000));
	/* Away: the attempts reach a listener that drops them. */
	a.lfd = listen_on(d.port);
	REQUIRE(pthread_create(&t, NULL, take_attempts, &a) == 0);
	while (atomic_load(&a.n) < 3 && test_now_us() - lost < 15000000)
		usleep(10000);
	atomic_store(&a.stop, true);
	pthread_join(t, NULL);
	close(a.lfd);
	CHECK(atomic_load(&a.n) >= 3);
	for (unsigned i = 0; i < atomic_load(&a.n) && i < 32; i++) {
		uint64_t since = (a.at_us[i] - (i == 0 ? lost : a.at_us[i - 1])) / 1000;
		uint64_t earliest = (a.at_us[i] - (i == 0 ? killed : a.at_us[i - 1])) / 1000;

		fprintf(stderr, "attempt %u: %llu ms after the %s\n", i + 1,
			(unsigned long long)since, i == 0 ? "loss" : "previous one");
		/* Every DELAY_S, not sooner (counted from the kill, which the
		 * host cannot have seen earlier; 50 ms for the listener thread's
		 * timestamps); a failed attempt does not wait longer. */
		CHECK(earliest + 50 >= DELAY_S * 1000u);
		CHECK(since < DELAY_S * 1000u + SLACK_MS);
	}
	/* Back: live again within one reconnect delay (and a little). */
	REQUIRE(nvmfd_restart(&d));
	back = test_now_us();
	CHECK(wait_state(c, NVMF_CTRL_LIVE, 3 * DELAY_S * 1000));
	live = test_now_us();
	fprintf(stderr, "live %llu ms after the target was back\n",
		(unsigned long long)(live - back) / 1000);
	CHECK(live - back < (DELAY_S * 1000u + SLACK_MS) * 1000u);
	CHECK_EQ(nvmf_ctrl_reconnects(c), 1);
	CHECK_EQ(nvmf_ns_read_sync(nvmf_ctrl_ns(c, 1), 0, buf, sizeof(buf)), 0);
	CHECK_EQ(nvmf_disconnect(c), 0);
	nvmfd_stop(&d, true);
	test_end();
}

void test_ctrl_loss(void)
{
	static const char *const extra[] = {"ramdisk:8M", NULL};
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_ctrl *c;
	struct nvmf_ns *ns;
	struct counter held = COUNTER_INIT;
	uint8_t buf[4096];
	uint64_t start;

	test_begin("ctrl-loss-tmo expires: held I/O fails with ENODEV, new I/O too");
	REQUIRE(nvmfd_start(&d, NQN, extra));
	o = opts_for(&d);
	o.ctrl_loss_tmo_s = 2;
	c = connect_or_die(&o);
	ns = nvmf_ctrl_ns(c, 1);
	REQUIRE(ns != NULL);
	nvmfd_stop(&d, false);
	CHECK(wait_state(c, NVMF_CTRL_RECONNECTING, 5000));
	start = test_now_us();
	CHECK_EQ(nvmf_ns_read(ns, 1, 0, 1, buf, count_cb, &held), 0);
	CHECK(counter_wait(&held, 1, 10000));
	CHECK_EQ(held.first_error, ENODEV);
	CHECK(test_now_us() - start < 6000000);
	CHECK_EQ(nvmf_ctrl_state(c), NVMF_CTRL_FAILED);
	CHECK_EQ(nvmf_ns_read(ns, 1, 0, 1, buf, count_cb, &held), -ENODEV);
	CHECK_EQ(nvmf_ns_read_sync(ns, 0, buf, sizeof(buf)), -ENODEV);
	CHECK(nvmf_disconnect(c) != 0);
	test_end();
}

/*
 * A response that carries the CID a slot's previous command had (a stale
 * duplicate) must not complete the command the slot holds now: the host
 * refuses it as a protocol error, reconnects and resends, and the write it
 * reports done is on the target.  (fuzz_host_ctrl found stale duplicates
 * completing the wrong command.)
 */
struct stale_bend {
	pthread_mutex_t lock;
	uint16_t cids[64];       /* write CIDs on the I/O queue, as sent */
	unsigned ncids;
	bool armed;
	unsigned rewritten;
	uint16_t stale, fresh;   /* the rewrite made */
};

static void stale_command(void *arg, unsigned conn, uint16_t qid, struct nvme_sqe *sqe)
{
	struct stale_bend *b = arg;

	pthread_mutex_lock(&b->lock);
	if (qid == 1 && sqe->opc == NVME_IO_WRITE && b->ncids < 64)
		b->cids[b->ncids++] = sqe->cid;
	pthread_mutex_unlock(&b->lock);
}

static void stale_response(void *arg, unsigned conn, uint16_t qid, const struct nvme_sqe *cmd,
			   struct nvme_cqe *cqe)
{
	struct stale_bend *b = arg;

	pthread_mutex_lock(&b->lock);
	if (b->armed && qid == 1 && cmd->opc == NVME_IO_WRITE) {
		/* The latest earlier write that used the same slot. */
		for (unsigned i = b->ncids; i-- > 0;)
			if (b->cids[i] != cqe->cid && (b->cids[i] & 0xfff) == (cqe->cid & 0xfff)) {
				b->armed = false;
				b->rewritten++;
				b->stale = b->cids[i];
				b->fresh = cqe->cid;
				cqe->cid = b->cids[i];
				break;
			}
	}
	pthread_mutex_unlock(&b->lock);
}

/* Reads of 8 KiB end after 4 KiB, with LAST_PDU and SUCCESS. */
static uint32_t cut_reads(void *arg, unsigned conn, uint16_t qid, const struct nvme_sqe *cmd,
			  const uint8_t *data, uint32_t len)
{
	return cmd->opc == NVME_IO_READ && len == 8192 ? 4096 : 0;
}

/*
 * A transfer cut short with LAST_PDU is no protocol error (SPDK answers
 * Authentication Receive so), but a read it cuts short fails: never
 * reported done with half its buffer stale.  The association stays.
 */
void test_short_read(void)
{
	static const char *const extra[] = {"ramdisk:8M", NULL};
	const struct relay_hooks hooks = {.c2h_trim = cut_reads};
	uint8_t buf[8192];
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_ctrl *c;
	struct relay *r;
	char relay_text[8];

	test_begin("a read ended short of its buffer fails, the association stays");
	REQUIRE(nvmfd_start(&d, NQN, extra));
	r = relay_start(NULL, 0, d.port, &hooks);
	snprintf(relay_text, sizeof(relay_text), "%u", relay_port(r));
	o = opts_for(&d);
	o.trsvcid = relay_text;
	o.nr_io_queues = 1;
	c = connect_or_die(&o);
	CHECK_EQ(nvmf_ns_read_sync(nvmf_ctrl_ns(c, 1), 0, buf, sizeof(buf)), -ENODATA);
	CHECK_EQ(nvmf_ns_read_sync(nvmf_ctrl_ns(c, 1), 0, buf, 4096), 0);
	CHECK_EQ(nvmf_ctrl_reconnects(c), 0);
	CHECK_EQ(nvmf_disconnect(c), 0);
	relay_stop(r);
	nvmfd_stop(&d, true);
	test_end();
}

void test_stale_cid(void)
{
	static const char *const extra[] = {"ramdisk:8M", NULL};
	struct stale_bend b = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct relay_hooks hooks = {.command = stale_command, .response = stale_response, .arg = &b};
	uint8_t wbuf[2][4096], rbuf[4096];
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_ctrl *c;
	struct nvmf_ns *ns;
	struct relay *r;
	char relay_text[8];

	test_begin("a stale response (a slot's previous CID) completes nothing");
	REQUIRE(nvmfd_start(&d, NQN, extra));
	r = relay_start(NULL, 0, d.port, &hooks);
	snprintf(relay_text, sizeof(relay_text), "%u", relay_port(r));
	o = opts_for(&d);
	o.trsvcid = relay_text;
	o.nr_io_queues = 1;
	c = connect_or_die(&o);
	ns = nvmf_ctrl_ns(c, 1);
	REQUIRE(ns != NULL);
	test_fill(wbuf[0], sizeof(wbuf[0]), 1);
	test_fill(wbuf[1], sizeof(wbuf[1]), 2);
	/* A few writes, one at a time: the same slots come round again. */
	for (int i = 0; i < 4; i++)
		CHECK_EQ(nvmf_ns_write_sync(ns, 0, wbuf[0], sizeof(wbuf[0]), 0), 0);
	pthread_mutex_lock(&b.lock);
	b.armed = true;
	pthread_mutex_unlock(&b.lock);
	/* Its response comes back under the earlier command's CID. */
	CHECK_EQ(nvmf_ns_write_sync(ns, 8192, wbuf[1], sizeof(wbuf[1]), 0), 0);
	pthread_mutex_lock(&b.lock);
	CHECK_EQ(b.rewritten, 1);
	fprintf(stderr, "response for CID %#x came back as CID %#x\n", b.fresh, b.stale);
	pthread_mutex_unlock(&b.lock);
	CHECK(nvmf_ctrl_reconnects(c) >= 1);
	CHECK(wait_state(c, NVMF_CTRL_LIVE, 5000));
	CHECK_EQ(nvmf_ns_read_sync(ns, 8192, rbuf, sizeof(rbuf)), 0);
	CHECK(memcmp(rbuf, wbuf[1], sizeof(rbuf)) == 0);
	CHECK_EQ(nvmf_ns_read_sync(ns, 0, rbuf, sizeof(rbuf)), 0);
	CHECK(memcmp(rbuf, wbuf[0], sizeof(rbuf)) == 0);
	CHECK_EQ(nvmf_disconnect(c), 0);
	relay_stop(r);
	nvmfd_stop(&d, true);
	test_end();
}

void test_command_timeout(void)
{
	static const char *const extra[] = {"ramdisk:8M", NULL};
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_ctrl *c;
	struct nvmf_ns *ns;
	uint8_t wbuf[8192], rbuf[8192];
	struct counter io = COUNTER_INIT;

	test_begin("a target that stops answering: command timeout, reset, recovery");
	REQUIRE(nvmfd_start(&d, NQN, extra));
	o = opts_for(&d);
	o.kato_s = 0;
	o.io_timeout_ms = 1000;
	o.connect_timeout_ms = 1000;
	c = connect_or_die(&o);
	ns = nvmf_ctrl_ns(c, 1);
	REQUIRE(ns != NULL);
	test_fill(wbuf, sizeof(wbuf), 5);
	nvmfd_signal(&d, SIGSTOP);
	CHECK_EQ(nvmf_ns_write(ns, 1, 8, sizeof(wbuf) / 512, wbuf, 0, count_cb, &io), 0);
	CHECK(wait_state(c, NVMF_CTRL_RECONNECTING, 5000));
	usleep(500000);
	nvmfd_signal(&d, SIGCONT);
	CHECK(counter_wait(&io, 1, 15000));
	CHECK_EQ(io.failed, 0);
	CHECK_EQ(nvmf_ns_read_sync(ns, 8 * 512, rbuf, sizeof(rbuf)), 0);
	CHECK(test_verify(rbuf, sizeof(rbuf), 5));
	CHECK(nvmf_ctrl_reconnects(c) >= 1);
	CHECK_EQ(nvmf_disconnect(c), 0);
	nvmfd_stop(&d, true);
	test_end();
}

void test_disconnect_busy(void)
{
	static const char *const extra[] = {"ramdisk:16M", NULL};
	enum { N = 48 };
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_ctrl *c;
	struct nvmf_ns *ns;
	struct counter io = COUNTER_INIT;
	uint8_t *buf = malloc(N * 65536);

	test_begin("disconnect with I/O outstanding: every command completes first");
	REQUIRE(buf != NULL);
	REQUIRE(nvmfd_start(&d, NQN, extra));
	o = opts_for(&d);
	c = connect_or_die(&o);
	ns = nvmf_ctrl_ns(c, 1);
	for (unsigned i = 0; i < N; i++)
		CHECK_EQ(nvmf_ns_write(ns, i % 2 + 1, (uint64_t)i * 128, 128, buf + i * 65536, 0,
				       count_cb, &io), 0);
	CHECK_EQ(nvmf_disconnect(c), 0);
	CHECK_EQ(io.done, N);
	CHECK_EQ(io.failed, 0);
	nvmfd_stop(&d, true);
	free(buf);
	test_end();
}

/*
 * Run alone (host_lib netns), in a network namespace of its own: port 8009
 * is free there, so the default discovery port is tested both ways, with
 * nvmfd's discovery controller on it and with nothing there.
 */
void test_discover_default_port(void)
{
	static const char *const extra[] = {"ramdisk:8M", NULL};
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_error err;
	struct nvmf_discovery_log *log = NULL;
	size_t nrec = 0, found = 0;
	char subnqn[NVMF_HOST_NQN_SIZE], trsvcid[33];

	test_begin("discover without a port goes to 8009");
	REQUIRE(nvmfd_start_ports(&d, nvmfd_free_port(), 8009, NQN, extra));
	nvmf_host_opts_init(&o);
	o.traddr = "127.0.0.1";
	o.connect_timeout_ms = 2000;
	CHECK_EQ(nvmf_discover(&o, &log, &nrec, &err), 0);
	for (size_t i = 0; log != NULL && i < nrec; i++) {
		nvmf_discovery_entry_str(&log->entries[i], NULL, 0, trsvcid, sizeof(trsvcid), subnqn,
					 sizeof(subnqn));
		if (strcmp(subnqn, NQN) == 0) {
			found++;
			CHECK(strcmp(trsvcid, d.port_text) == 0);
		}
	}
	CHECK_EQ(found, 1);
	free(log);
	log = NULL;
	nvmfd_stop(&d, true);
	/* Nothing on 8009 now: refused, and the message names the port. */
	CHECK(nvmf_discover(&o, &log, &nrec, &err) != 0);
	CHECK(log == NULL);
	CHECK_EQ(err.errnum, ECONNREFUSED);
	CHECK(strstr(err.msg, "127.0.0.1:8009") != NULL);
	fprintf(stderr, "with nothing there: %s\n", err.msg);
	test_end();
}
