/* SPDX-License-Identifier: MIT */
/*
 * Many queue pairs at once on loopback: CONTROLLERS host controllers of
 * 1 admin + IOQ I/O queues each (100 x 10 = 1000 by default), connected
 * through the host library on an event-loop engine, against nvmfd on its
 * epoll engine with a file namespace.  Every I/O queue writes its own
 * region and reads it back, ROUNDS times; then everyone disconnects.
 *
 * nvmfd must hold them with bounded memory, threads and file descriptors,
 * and give everything back.  The figures (memory per queue pair, threads,
 * fds, times) are printed on one "figures:" line for bench/RESULTS.md.
 *
 * The whole thing runs CYCLES times: memory must not grow from cycle to
 * cycle.  The allocator keeps some freed memory (the loops, the reaper and
 * the workers use different arenas), and the first cycle is its warm-up:
 * the second one peaks some 30 MB higher (18%), with librbd linked or not,
 * and from then on the peaks stay within 1 MB of each other (5 cycles
 * measured).  So the cycle after the warm-up is the reference: what each
 * later cycle leaves behind is held against its peak, and each later peak
 * against it.
 *
 *   robustness_many_conns [CONTROLLERS [IOQ [ROUNDS [CYCLES [QUEUE_DEPTH [ENGINE]]]]]]
 *
 * (ENGINE threads is for comparison: two threads per queue pair.)
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "nvmf/host.h"
#include "nvmf/log.h"
#include "robustness/daemon.h"
#include "util/test_util.h"

#define NQN DAEMON_NQN
#define BS 4096
#define IO_BYTES 8192
#define CONNECTORS 4              /* threads connecting controllers at once */
#define SPARE_FDS 256             /* beyond one per queue pair: logs, the file, ... */
#if defined(__SANITIZE_ADDRESS__)
#define KB_PER_QPAIR_MAX 2048
#define GROWTH_SLACK_KB (64L * 1024) /* the quarantine of freed memory (daemon.c) */
#elif defined(__SANITIZE_THREAD__)
/* ThreadSanitizer's shadow of every byte and its per-thread caches. */
#define KB_PER_QPAIR_MAX 4096
#define GROWTH_SLACK_KB (64L * 1024)
#else
#define KB_PER_QPAIR_MAX 512
#define GROWTH_SLACK_KB 0L
#endif

#define WARMUP_CYCLES 1

static unsigned ncontrollers = 100, nioq = 9, rounds = 2, cycles = WARMUP_CYCLES + 2;
static struct daemon d;
static struct nvmf_engine *host_engine;
static struct nvmf_ctrl **ctrls;
static _Atomic unsigned connect_failures;

struct io_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned pending;
	unsigned errors;
};

static struct io_wait iow = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static void io_done(void *arg, const struct nvmf_cpl *cpl)
{
	pthread_mutex_lock(&iow.lock);
	if (!nvmf_cpl_ok(cpl)) {
		char why[128];

		if (iow.errors++ < 5)
			fprintf(stderr, "I/O failed: %s\n", nvmf_cpl_str(cpl, why, sizeof(why)));
	}
	if (--iow.pending == 0)
		pthread_cond_broadcast(&iow.cond);
	pthread_mutex_unlock(&iow.lock);
}

static bool io_wait_all(int timeout_s)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_s;
	pthread_mutex_lock(&iow.lock);
	while (iow.pending > 0 && rc == 0)
		rc = pthread_cond_timedwait(&iow.cond, &iow.lock, &ts);
	rc = iow.pending == 0 ? 0 : -1;
	pthread_mutex_unlock(&iow.lock);
	return rc == 0;
}

static void *connector(void *arg)
{
	unsigned first = (unsigned)(uintptr_t)arg;

	for (unsigned c = first; c < ncontrollers; c += CONNECTORS) {
		struct nvmf_host_opts opts;
		struct nvmf_error err;
		char hostnqn[NVMF_HOST_NQN_SIZE], hostid[NVMF_UUID_STR_SIZE];

		snprintf(hostid, sizeof(hostid), "00000000-0000-4000-8000-%012x", c + 1);
		snprintf(hostnqn, sizeof(hostnqn), "nqn.2014-08.org.nvmexpress:uuid:%s", hostid);
		nvmf_host_opts_init(&opts);
		opts.traddr = "127.0.0.1";
		opts.trsvcid = d.port_text;
		opts.subnqn = NQN;
		opts.hostnqn = hostnqn;
		opts.hostid = hostid;
		opts.nr_io_queues = nioq;
		opts.queue_size = 32;
		opts.kato_s = 30;
		opts.ctrl_loss_tmo_s = 0;
		opts.engine = host_engine;
		ctrls[c] = nvmf_connect(&opts, &err);
		if (ctrls[c] == NULL) {
			if (atomic_fetch_add(&connect_failures, 1) < 5)
				fprintf(stderr, "controller %u: %s\n", c, err.msg);
		} else if (nvmf_ctrl_nr_io_queues(ctrls[c]) != nioq) {
			fprintf(stderr, "controller %u: %u I/O queues, not %u\n", c,
				nvmf_ctrl_nr_io_queues(ctrls[c]), nioq);
			atomic_fetch_add(&connect_failures, 1);
		}
	}
	return NULL;
}

/* Each I/O queue writes its own region, then every region is read back. */
static bool verified_io_round(unsigned round, uint8_t *wbufs, uint8_t *rbufs)
{
	unsigned nq = ncontrollers * nioq;
	unsigned bad = 0;

	for (int pass = 0; pass < 2; pass++) {
		pthread_mutex_lock(&iow.lock);
		iow.pending = nq;
		iow.errors = 0;
		pthread_mutex_unlock(&iow.lock);
		for (unsigned i = 0; i < nq; i++) {
			struct nvmf_ns *ns = nvmf_ctrl_ns(ctrls[i / nioq], 1);
			unsigned ioq = i % nioq + 1;
			uint64_t slba = (uint64_t)i * (IO_BYTES / BS);
			uint8_t *w = wbufs + (size_t)i * IO_BYTES, *r = rbufs + (size_t)i * IO_BYTES;
			int rc;

			if (pass == 0) {
				test_fill(w, IO_BYTES, round * 1000003u + i);
				rc = nvmf_ns_write(ns, ioq, slba, IO_BYTES / BS, w, 0, io_done, NULL);
			} else {
				memset(r, 0, IO_BYTES);
				rc = nvmf_ns_read(ns, ioq, slba, IO_BYTES / BS, r, io_done, NULL);
			}
			if (rc != 0) {
				struct nvmf_cpl cpl = {.error = rc < 0 ? -rc : 0,
						       .status = rc > 0 ? (uint16_t)rc : 0};

				io_done(NULL, &cpl);
			}
		}
		if (!io_wait_all(120)) {
			fprintf(stderr, "I/O did not complete\n");
			return false;
		}
		if (iow.errors != 0)
			return false;
	}
	for (unsigned i = 0; i < nq; i++)
		bad += memcmp(wbufs + (size_t)i * IO_BYTES, rbufs + (size_t)i * IO_BYTES, IO_BYTES) != 0;
	if (bad != 0)
		fprintf(stderr, "%u of %u queues read back other data\n", bad, nq);
	return bad == 0;
}

/*
 * Raise the soft open-file limit to what the test needs (this process holds
 * the host end of every connection; nvmfd, started from here, inherits the
 * limit and holds the other end): to the hard limit, or just to need when
 * the hard limit is unlimited.  False, with a message, when the hard limit
 * is too low: the test then fails rather than being skipped, so that a
 * machine that cannot run it is noticed.
 */
static bool raise_nofile(rlim_t need)
{
	struct rlimit rl, want;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("getrlimit(RLIMIT_NOFILE)");
		return false;
	}
	if (rl.rlim_cur < need && rl.rlim_max >= need) {
		want = (struct rlimit){.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
		/* Unlimited is above the kernel's nr_open: setrlimit refuses it. */
		if (rl.rlim_max == RLIM_INFINITY || setrlimit(RLIMIT_NOFILE, &want) != 0)
			want.rlim_cur = need;
		if (want.rlim_cur == need && setrlimit(RLIMIT_NOFILE, &want) != 0)
			perror("setrlimit(RLIMIT_NOFILE)");
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < need) {
		fprintf(stderr, "FAIL: this test needs %llu open files (one per queue pair in this "
			"process and in nvmfd, and %u spare), but the open-file limit is %llu "
			"(hard limit %llu): raise the hard limit (ulimit -Hn, limits.conf, or "
			"LimitNOFILE= for a service) to run it\n",
			(unsigned long long)need, SPARE_FDS, (unsigned long long)rl.rlim_cur,
			(unsigned long long)rl.rlim_max);
		return false;
	}
	fprintf(stderr, "open-file limit %llu (hard %llu), %llu needed\n",
		(unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
		(unsigned long long)need);
	return true;
}

struct figures {
	long rss_connected, rss, hwm, threads, rss_after;
	int fds, fds_after;
	double connect_s, io_s, disconnect_s;
};

/* Connect everyone, verified I/O, disconnect everyone; false on a failure to go on. */
static bool cycle(unsigned n, struct figures *f, uint8_t *wbufs, uint8_t *rbufs, int base_fds,
		  int base_sockets)
{
	pthread_t th[CONNECTORS];
	unsigned nqpairs = ncontrollers * (1 + nioq);
	uint64_t t0;
	int conns;

	memset(ctrls, 0, ncontrollers * sizeof(*ctrls));
	atomic_store(&connect_failures, 0);
	t0 = test_now_us();
	for (uintptr_t i = 0; i < CONNECTORS; i++)
		REQUIRE(pthread_create(&th[i], NULL, connector, (void *)i) == 0);
	for (int i = 0; i < CONNECTORS; i++)
		pthread_join(th[i], NULL);
	f->connect_s = (double)(test_now_us() - t0) / 1e6;
	CHECK_EQ(atomic_load(&connect_failures), 0);
	if (atomic_load(&connect_failures) != 0)
		return false;
	/* The sockets nvmfd holds, not /proc/net/tcp: read while connections
	 * of the last cycle leave the table, that may show an entry twice (1001
	 * of 1000 was seen under ASan). */
	conns = daemon_socket_fds(&d) - base_sockets;
	f->rss_connected = daemon_status(&d, "VmRSS");
	fprintf(stderr, "cycle %u: %u controllers, %u queue pairs connected in %.1f s; nvmfd sees %d connections\n",
		n, ncontrollers, nqpairs, f->connect_s, conns);
	CHECK_EQ(conns, (int)nqpairs);

	t0 = test_now_us();
	for (unsigned r = 1; r <= rounds; r++)
		CHECK(verified_io_round(n * 1000 + r, wbufs, rbufs));
	f->io_s = (double)(test_now_us() - t0) / 1e6;
	f->rss = daemon_status(&d, "VmRSS");
	f->hwm = daemon_status(&d, "VmHWM");
	f->threads = daemon_status(&d, "Threads");
	f->fds = daemon_fds(&d);
	fprintf(stderr, "cycle %u: %u rounds of verified I/O on %u I/O queues in %.1f s\n", n, rounds,
		ncontrollers * nioq, f->io_s);

	t0 = test_now_us();
	for (unsigned c = 0; c < ncontrollers; c++)
		CHECK_EQ(nvmf_disconnect(ctrls[c]), 0);
	f->disconnect_s = (double)(test_now_us() - t0) / 1e6;
	f->fds_after = daemon_wait_fds(&d, base_fds, 30000);
	for (uint64_t end = test_now_us() + 30000000; daemon_tcp_conns(&d) > 0 && test_now_us() < end;)
		usleep(50000);
	f->rss_after = daemon_status(&d, "VmRSS");
	return true;
}

int main(int argc, char **argv)
{
	unsigned nqpairs;
	char backing[600], maxconn[16], maxioq[16], depth[16] = "128", engine[32] = "epoll";
	const char *extra[] = {"--engine", engine, "--max-connections", maxconn, "--max-io-queues",
			       maxioq, "--queue-depth", depth, backing, "-q", NULL};
	struct nvmf_engine_params ep;
	uint8_t *wbufs, *rbufs;
	long base_rss, base_threads, ref_rss = 0;
	int base_fds, base_sockets;

	if (argc > 1)
		ncontrollers = (unsigned)atoi(argv[1]);
	if (argc > 2)
		nioq = (unsigned)atoi(argv[2]);
	if (argc > 3)
		rounds = (unsigned)atoi(argv[3]);
	if (argc > 4)
		cycles = (unsigned)atoi(argv[4]);
	if (argc > 5)
		snprintf(depth, sizeof(depth), "%s", argv[5]);
	if (argc > 6)
		snprintf(engine, sizeof(engine), "%s", argv[6]);
	REQUIRE(ncontrollers > 0 && nioq > 0 && cycles > 0);
	nqpairs = ncontrollers * (1 + nioq);
	signal(SIGPIPE, SIG_IGN);
	nvmf_log_set_level(NVMF_LOG_ERR);
	if (!raise_nofile((rlim_t)nqpairs + SPARE_FDS))
		return 1;
	snprintf(maxconn, sizeof(maxconn), "%u", nqpairs + 16);
	snprintf(maxioq, sizeof(maxioq), "%u", nioq);
	snprintf(backing, sizeof(backing), "%s/load.img,size=4G", rob_dir());
	wbufs = malloc((size_t)ncontrollers * nioq * IO_BYTES);
	rbufs = malloc((size_t)ncontrollers * nioq * IO_BYTES);
	ctrls = calloc(ncontrollers, sizeof(*ctrls));
	nvmf_engine_params_init(&ep);
	ep.nthreads = 2;
	host_engine = nvmf_engine_create(&ep);
	REQUIRE(wbufs != NULL && rbufs != NULL && ctrls != NULL && host_engine != NULL);

	test_begin("many queue pairs at once, each doing verified I/O");
	REQUIRE(daemon_start(&d, extra));
	usleep(200000);
	base_fds = daemon_fds(&d);
	base_sockets = daemon_socket_fds(&d);
	base_rss = daemon_status(&d, "VmRSS");
	base_threads = daemon_status(&d, "Threads");
	for (unsigned n = 1; n <= cycles; n++) {
		struct figures f;

		if (!cycle(n, &f, wbufs, rbufs, base_fds, base_sockets))
			break;
		fprintf(stderr, "figures: cycle=%u engine=%s queue_depth=%s qpairs=%u controllers=%u ioq_per_ctrl=%u "
			"rss_base_kb=%ld rss_connected_kb=%ld rss_kb=%ld hwm_kb=%ld kb_per_qpair=%.1f "
			"threads_base=%ld threads=%ld fds_base=%d fds=%d fds_after=%d rss_after_kb=%ld "
			"connect_s=%.1f io_s=%.1f disconnect_s=%.1f\n",
			n, engine, depth, nqpairs, ncontrollers, nioq, base_rss, f.rss_connected, f.rss, f.hwm,
			(double)(f.rss - base_rss) / nqpairs, base_threads, f.threads, base_fds, f.fds,
			f.fds_after, f.rss_after, f.connect_s, f.io_s, f.disconnect_s);
		/* Bounded: one descriptor per connection, no thread per connection. */
		CHECK(f.fds <= base_fds + (int)nqpairs + 8);
		CHECK(f.threads <= base_threads + 4 || strcmp(engine, "threads") == 0);
		CHECK(f.rss - base_rss <= (long)nqpairs * KB_PER_QPAIR_MAX);
		/* Everything given back, and memory reused from one cycle to the next. */
		CHECK(f.fds_after <= base_fds);
		CHECK_EQ(daemon_tcp_conns(&d), 0);
		if (n == WARMUP_CYCLES + 1)
			ref_rss = f.rss;
		if (n > WARMUP_CYCLES + 1) {
			CHECK(f.rss_after <= ref_rss + GROWTH_SLACK_KB);
			CHECK(f.rss <= ref_rss + ref_rss / 16 + GROWTH_SLACK_KB);
		}
	}
	CHECK_EQ(daemon_stop(&d, SIGTERM, 60000), 0);
	test_end();
	nvmf_engine_destroy(host_engine);
	free(ctrls);
	free(wbufs);
	free(rbufs);
	return test_summary();
}
