/* SPDX-License-Identifier: MIT */
/*
 * transport_bench: the NVMe/TCP transport alone, host and controller queue
 * pairs over one loopback connection, with no controller logic behind them
 * (reads come from, writes go to, a preallocated buffer).  The controller runs
 * in a child process pinned to one CPU, the host in this process pinned to the
 * other, as bench/tcp_ceiling does for the raw byte pattern, so the two
 * figures divide.
 *
 *   transport_bench --rw read|write --bs 4k --iodepth 32 --runtime 3
 *                   [--engine threads] [--hdgst] [--ddgst] [--success] [--icd SIZE]
 *                   [--tls 1|2] [-o json]
 *
 * --tls runs the connection over TLS 1.3 with a pre-shared key: 1 for
 * TLS_AES_128_GCM_SHA256, 2 for TLS_AES_256_GCM_SHA384.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "security/tls_session.h"
#include "nvmf/transport.h"
#include "util/histogram.h"

#define MAX_IODEPTH 1024
#define MAX_HIST_THREADS 8

struct config {
	bool write;
	size_t bs;
	unsigned iodepth;
	double runtime, warmup;
	int server_cpu, client_cpu;
	const char *engine;
	bool hdgst, ddgst;
	bool success;     /* SQ flow control off: reads end with C2H SUCCESS */
	uint32_t icd;     /* in-capsule data limit on the I/O queue */
	int tls;          /* 0: none; 1/2: the PSK hash, so the cipher suite */
	bool json;
};

#define BENCH_HOSTNQN "nqn.2024-01.io.example:bench-host"
#define BENCH_SUBNQN "nqn.2024-01.io.example:bench"
static struct nvmf_tls_key tls_key;    /* made before the fork: both sides hold it */

static struct config cfg = {
	.bs = 4096, .iodepth = 1, .runtime = 3, .warmup = 0.5, .server_cpu = 0, .client_cpu = 1,
	.engine = "threads", .icd = 16384,
};

static void die(const char *what, int error)
{
	fprintf(stderr, "transport_bench: %s: %s\n", what, strerror(error));
	exit(1);
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0 || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		die("sched_setaffinity", errno);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static struct nvmf_engine *make_engine(void)
{
	struct nvmf_engine_params params;
	struct nvmf_engine *engine;

	if (nvmf_engine_parse(cfg.engine, &params) != 0)
		die("--engine", EINVAL);
	engine = nvmf_engine_create(&params);
	if (engine == NULL)
		die("nvmf_engine_create", errno);
	return engine;
}

/* ---------------- controller (child process) ---------------- */

static int bench_key(void *arg, const char *hostnqn, const char *subnqn, struct nvmf_tls_key *key)
{
	*key = tls_key;
	return 0;
}

struct ctrl_slot {
	struct nvmf_capsule *cmd;
	struct iovec iov;
};

static uint8_t *ctrl_buf;
static struct ctrl_slot ctrl_slots[MAX_IODEPTH * 2];
static pthread_mutex_t ctrl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ctrl_cond = PTHREAD_COND_INITIALIZER;
static bool ctrl_done;

static void ctrl_respond(struct nvmf_capsule *cmd, uint16_t status)
{
	struct nvmf_capsule *rsp = nvmf_capsule_response_for(cmd, status, 0, 0);

	if (rsp != NULL) {
		nvmf_capsule_transmit(rsp);
		nvmf_capsule_free(rsp);
	}
	nvmf_capsule_free(cmd);
}

static void ctrl_write_done(void *arg, size_t xfered, int error)
{
	struct ctrl_slot *slot = arg;

	ctrl_respond(slot->cmd, error == 0 ? 0 : NVME_STATUS(0, NVME_SC_DATA_TRANSFER_ERROR));
}

static void ctrl_receive(void *arg, struct nvmf_capsule *cmd)
{
	const struct nvme_sqe *sqe = nvmf_capsule_sqe(cmd);
	struct ctrl_slot *slot = &ctrl_slots[sqe->cid % (MAX_IODEPTH * 2)];
	size_t len = nvmf_capsule_data_len(cmd);
	struct nvmf_iov data = {.iov = &slot->iov, .iovcnt = 1, .len = len};

	if (nvmf_capsule_validate_command(cmd) != 0 || len > cfg.bs) {
		ctrl_respond(cmd, NVME_STATUS(0, NVME_SC_INVALID_FIELD));
		return;
	}
	slot->cmd = cmd;
	slot->iov = (struct iovec){.iov_base = ctrl_buf + (size_t)(sqe->cid % cfg.iodepth) * cfg.bs,
				   .iov_len = len};
	if (sqe->opc == NVME_IO_WRITE) {
		if (nvmf_receive_controller_data(cmd, 0, &data, ctrl_write_done, slot) != 0)
			ctrl_respond(cmd, NVME_STATUS(0, NVME_SC_DATA_TRANSFER_ERROR));
		return;
	}
	/* Reads: the data goes out of the "namespace" buffer as it is. */
	uint16_t status = nvmf_send_controller_data(cmd, 0, &data, true, NULL, NULL);

	if (status == NVMF_SUCCESS_SENT)
		nvmf_capsule_free(cmd);
	else
		ctrl_respond(cmd, status);
}

static void ctrl_error(void *arg, int error)
{
	pthread_mutex_lock(&ctrl_lock);
	ctrl_done = true;
	pthread_cond_signal(&ctrl_cond);
	pthread_mutex_unlock(&ctrl_lock);
}

/* Child: serve one connection; report CPU time between the parent's marks. */
static void run_controller(int lfd, int marks)
{
	struct nvmf_engine *engine;
	struct nvmf_qpair *qp;
	uint64_t begin = 0, end = 0;
	char mark;
	int fd;

	pin(cfg.server_cpu);
	ctrl_buf = aligned_alloc(4096, cfg.bs * cfg.iodepth);
	if (ctrl_buf == NULL)
		die("allocating the controller buffer", ENOMEM);
	memset(ctrl_buf, 0xa5, cfg.bs * cfg.iodepth);
	engine = make_engine();
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept", errno);
	struct nvmf_tls_session *tls = NULL;
	if (cfg.tls != 0) {
		const struct nvmf_tls_server_params tp = {.lookup = bench_key};
		char err[256];

		tls = nvmf_tls_server_handshake(fd, &tp, err, sizeof(err));
		if (tls == NULL) {
			fprintf(stderr, "transport_bench: %s\n", err);
			exit(1);
		}
	}
	struct nvmf_qpair_params params = {
		.trtype = NVMF_TRTYPE_TCP,
		.controller = true,
		.sq_flow_control = !cfg.success,
		.qsize = (uint16_t)(cfg.iodepth + 1),
		.engine = engine,
		.error_cb = ctrl_error,
		.receive_cb = ctrl_receive,
		.tcp = {.fd = fd, .header_digests = true, .data_digests = true,
			.maxh2cdata = 1u << 20, .max_icd = cfg.icd, .max_c2h_data = 1u << 20,
			.max_io_size = 1u << 20, .tls = tls},
	};
	qp = nvmf_qpair_create(&params);
	if (qp == NULL)
		die("controller qpair", errno);
	nvmf_qpair_set_connected(qp, 1, params.qsize, !cfg.success);

	/* 'b' and 'e' bracket the measured interval; the answer is the CPU used. */
	while (read(marks, &mark, 1) == 1) {
		if (mark == 'b') {
			begin = cpu_ns();
		} else if (mark == 'e') {
			end = cpu_ns();
			uint64_t used = end - begin;
			if (write(marks, &used, sizeof(used)) != sizeof(used))
				break;
		}
	}
	pthread_mutex_lock(&ctrl_lock);
	while (!ctrl_done)
		pthread_cond_wait(&ctrl_cond, &ctrl_lock);
	pthread_mutex_unlock(&ctrl_lock);
	nvmf_qpair_free(qp);
	nvmf_engine_destroy(engine);
	exit(0);
}

/* ---------------- host ---------------- */

struct host_req {
	_Atomic int pending;    /* events left: response, and data if any */
	uint64_t start_ns;
	uint16_t cid;
	struct iovec iov;
	struct nvmf_iov data;
};

static struct nvmf_qpair *host_qp;
static struct host_req host_reqs[MAX_IODEPTH];
static uint8_t *host_buf;
static _Atomic bool measuring, stopping;
static _Atomic uint64_t completed;
static _Atomic int inflight;
static struct nvmf_histogram hists[MAX_HIST_THREADS];
static _Atomic unsigned nhists;
static __thread struct nvmf_histogram *my_hist;

static void host_submit(struct host_req *r);

static void req_event(struct host_req *r)
{
	uint64_t end;

	if (atomic_fetch_sub(&r->pending, 1) != 1)
		return;
	end = now_ns();
	if (atomic_load_explicit(&measuring, memory_order_relaxed)) {
		if (my_hist == NULL) {
			unsigned i = atomic_fetch_add(&nhists, 1);

			if (i >= MAX_HIST_THREADS)
				die("too many completion threads", EOVERFLOW);
			my_hist = &hists[i];
		}
		nvmf_hist_add(my_hist, end - r->start_ns);
		atomic_fetch_add_explicit(&completed, 1, memory_order_relaxed);
	}
	if (atomic_load(&stopping))
		atomic_fetch_sub(&inflight, 1);
	else
		host_submit(r);
}

static void host_data_done(void *arg, size_t xfered, int error)
{
	if (error != 0 || xfered != cfg.bs)
		die("data transfer", error != 0 ? error : EIO);
	req_event(arg);
}

static void host_receive(void *arg, struct nvmf_capsule *rsp)
{
	const struct nvme_cqe *cqe = nvmf_capsule_cqe(rsp);
	struct host_req *r = &host_reqs[cqe->cid];

	if (cqe->status != 0)
		die("command failed", EIO);
	nvmf_capsule_free(rsp);
	req_event(r);
}

static void host_error(void *arg, int error)
{
	if (!atomic_load(&stopping))
		die("connection lost", error);
}

static void host_submit(struct host_req *r)
{
	struct nvme_sqe sqe = {
		.opc = cfg.write ? NVME_IO_WRITE : NVME_IO_READ,
		.cid = r->cid,
		.nsid = 1,
	};
	struct nvmf_capsule *nc = nvmf_capsule_command(host_qp, &sqe);
	int error;

	if (nc == NULL)
		die("no capsule", errno);
	atomic_store(&r->pending, 2);
	r->start_ns = now_ns();
	nvmf_capsule_append_data(nc, &r->data, cfg.write, host_data_done, r);
	error = nvmf_capsule_transmit(nc);
	nvmf_capsule_free(nc);
	if (error != 0)
		die("transmit", -error);
}

static void sleep_seconds(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	}
	if (*end != '\0' || v == 0 || v > (1u << 20))
		die("--bs (1 byte to 1 MiB)", EINVAL);
	return (size_t)v;
}

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{"rw", required_argument, NULL, 'r'},
		{"bs", required_argument, NULL, 'b'},
		{"iodepth", required_argument, NULL, 'q'},
		{"runtime", required_argument, NULL, 't'},
		{"warmup", required_argument, NULL, 'w'},
		{"server-cpu", required_argument, NULL, 'S'},
		{"client-cpu", required_argument, NULL, 'C'},
		{"engine", required_argument, NULL, 'e'},
		{"hdgst", no_argument, NULL, 'H'},
		{"ddgst", no_argument, NULL, 'D'},
		{"success", no_argument, NULL, 's'},
		{"icd", required_argument, NULL, 'I'},
		{"tls", required_argument, NULL, 'T'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (strcmp(optarg, "read") != 0 && strcmp(optarg, "write") != 0)
				die("--rw read|write", EINVAL);
			cfg.write = strcmp(optarg, "write") == 0;
			break;
		case 'b': cfg.bs = parse_size(optarg); break;
		case 'q': cfg.iodepth = (unsigned)atoi(optarg); break;
		case 't': cfg.runtime = atof(optarg); break;
		case 'w': cfg.warmup = atof(optarg); break;
		case 'S': cfg.server_cpu = atoi(optarg); break;
		case 'C': cfg.client_cpu = atoi(optarg); break;
		case 'e': cfg.engine = optarg; break;
		case 'H': cfg.hdgst = true; break;
		case 'D': cfg.ddgst = true; break;
		case 's': cfg.success = true; break;
		case 'I': cfg.icd = (uint32_t)parse_size(optarg); break;
		case 'T':
			cfg.tls = atoi(optarg);
			if (cfg.tls != 1 && cfg.tls != 2)
				die("--tls 1 (AES-128-GCM) or 2 (AES-256-GCM)", EINVAL);
			break;
		case 'o': cfg.json = strcmp(optarg, "json") == 0; break;
		default: exit(2);
		}
	}
	if (cfg.iodepth < 1 || cfg.iodepth > MAX_IODEPTH || cfg.runtime <= 0)
		die("--iodepth 1..1024, --runtime > 0", EINVAL);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sin);
	struct nvmf_engine *engine;
	int marks[2], lfd, fd, status;
	uint64_t t0, t1, c0, c1, server_cpu = 0;
	struct nvmf_histogram all;
	pid_t child;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if (cfg.tls != 0) {
		char text[NVMF_TLS_KEY_STRING_MAX];
		struct nvmf_error err;

		if (nvmf_tls_key_generate(cfg.tls, NULL, text, sizeof(text), &err) < 0 ||
		    nvmf_tls_key_parse(text, &tls_key, &err) != 0) {
			fprintf(stderr, "transport_bench: %s\n", err.msg);
			return 1;
		}
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(lfd, 1) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) != 0)
		die("listen on 127.0.0.1", errno);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, marks) != 0)
		die("socketpair", errno);
	child = fork();
	if (child < 0)
		die("fork", errno);
	if (child == 0) {
		close(marks[0]);
		run_controller(lfd, marks[1]);
	}
	close(marks[1]);
	close(lfd);

	pin(cfg.client_cpu);
	host_buf = aligned_alloc(4096, cfg.bs * cfg.iodepth);
	if (host_buf == NULL)
		die("allocating host buffers", ENOMEM);
	memset(host_buf, 0x5a, cfg.bs * cfg.iodepth);
	engine = make_engine();
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		die("connect", errno);
	struct nvmf_tls_session *tls = NULL;
	if (cfg.tls != 0) {
		const struct nvmf_tls_client_params tp = {.hostnqn = BENCH_HOSTNQN,
							  .subnqn = BENCH_SUBNQN, .key = &tls_key};
		char err[256];

		tls = nvmf_tls_client_handshake(fd, &tp, err, sizeof(err));
		if (tls == NULL) {
			fprintf(stderr, "transport_bench: %s\n", err);
			return 1;
		}
	}
	struct nvmf_qpair_params params = {
		.trtype = NVMF_TRTYPE_TCP,
		.sq_flow_control = !cfg.success,
		.qsize = (uint16_t)(cfg.iodepth + 1),
		.engine = engine,
		.error_cb = host_error,
		.receive_cb = host_receive,
		.tcp = {.fd = fd, .header_digests = cfg.hdgst, .data_digests = cfg.ddgst,
			.max_icd = cfg.icd, .max_io_size = 1u << 20, .tls = tls},
	};
	host_qp = nvmf_qpair_create(&params);
	if (host_qp == NULL)
		die("host qpair", errno);

	for (unsigned i = 0; i < cfg.iodepth; i++) {
		struct host_req *r = &host_reqs[i];

		r->cid = (uint16_t)i;
		r->iov = (struct iovec){.iov_base = host_buf + (size_t)i * cfg.bs, .iov_len = cfg.bs};
		r->data = (struct nvmf_iov){.iov = &r->iov, .iovcnt = 1, .len = cfg.bs};
	}
	atomic_store(&inflight, (int)cfg.iodepth);
	for (unsigned i = 0; i < cfg.iodepth; i++)
		host_submit(&host_reqs[i]);

	sleep_seconds(cfg.warmup);
	if (write(marks[0], "b", 1) != 1)
		die("controller marks", errno);
	c0 = cpu_ns();
	t0 = now_ns();
	atomic_store(&measuring, true);
	sleep_seconds(cfg.runtime);
	atomic_store(&measuring, false);
	t1 = now_ns();
	c1 = cpu_ns();
	if (write(marks[0], "e", 1) != 1 || read(marks[0], &server_cpu, sizeof(server_cpu)) !=
						     sizeof(server_cpu))
		die("controller marks", errno);

	/* Let the I/O in flight drain, then close. */
	atomic_store(&stopping, true);
	for (int i = 0; i < 5000 && atomic_load(&inflight) > 0; i++)
		usleep(1000);
	nvmf_qpair_free(host_qp);
	close(marks[0]);
	waitpid(child, &status, 0);
	nvmf_engine_destroy(engine);

	nvmf_hist_reset(&all);
	for (unsigned i = 0; i < atomic_load(&nhists) && i < MAX_HIST_THREADS; i++)
		nvmf_hist_merge(&all, &hists[i]);
	double secs = (double)(t1 - t0) / 1e9;
	uint64_t n = atomic_load(&completed);
	double iops = (double)n / secs;
	double mibs = iops * (double)cfg.bs / (1 << 20);
	double host_us = n ? (double)(c1 - c0) / 1e3 / (double)n : 0;
	double ctrl_us = n ? (double)server_cpu / 1e3 / (double)n : 0;

	if (cfg.json)
		printf("{\"rw\":\"%s\",\"bs\":%zu,\"iodepth\":%u,\"engine\":\"%s\",\"hdgst\":%s,"
		       "\"ddgst\":%s,\"tls\":%d,\"iops\":%.0f,\"mib_per_sec\":%.1f,\"lat_usec\":{\"mean\":%.2f,"
		       "\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f},\"cpu_usec_per_io\":{\"server\":%.2f,"
		       "\"client\":%.2f}}\n",
		       cfg.write ? "write" : "read", cfg.bs, cfg.iodepth, cfg.engine,
		       cfg.hdgst ? "true" : "false", cfg.ddgst ? "true" : "false", cfg.tls, iops, mibs,
		       nvmf_hist_mean_usec(&all), nvmf_hist_percentile_usec(&all, 0.5),
		       nvmf_hist_percentile_usec(&all, 0.99), nvmf_hist_percentile_usec(&all, 0.999),
		       ctrl_us, host_us);
	else
		printf("transport %s bs=%zu qd=%u engine=%s%s%s%s: %.0f IOPS, %.1f MiB/s, lat mean %.1f "
		       "us p50 %.1f p99 %.1f p99.9 %.1f, cpu/io server %.2f us client %.2f us\n",
		       cfg.write ? "write" : "read", cfg.bs, cfg.iodepth, cfg.engine,
		       cfg.hdgst ? " hdgst" : "", cfg.ddgst ? " ddgst" : "",
		       cfg.tls == 1 ? " tls-aes128" : cfg.tls == 2 ? " tls-aes256" : "", iops, mibs,
		       nvmf_hist_mean_usec(&all), nvmf_hist_percentile_usec(&all, 0.5),
		       nvmf_hist_percentile_usec(&all, 0.99), nvmf_hist_percentile_usec(&all, 0.999),
		       ctrl_us, host_us);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
