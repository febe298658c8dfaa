/* SPDX-License-Identifier: MIT */
/*
 * nvmfd --metrics: the Prometheus endpoint against what happened.
 *
 *   - ops and bytes per namespace equal `nvmf perf`'s own totals (its
 *     --json-log "result" line), and the latency histogram counts them all;
 *   - a refused command is counted under its status;
 *   - connections, controllers and queue pairs of a connected host, and
 *     their return to nothing once it goes; a host NQN escaped in labels;
 *   - transport errors: a header digest error, a TermReq from the host,
 *     bytes that are no PDU;
 *   - bad HTTP requests get 400/404/405/431/505, and the endpoint (and
 *     nvmfd) keep serving.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../robustness/daemon.h"
#include "host_helper.h"
#include "util/raw_pdu.h"
#include "util/test_util.h"

#define WAIT_MS 60000             /* for a state to show, on a loaded machine */
#define NS1_BYTES (64u << 20)
#define NS2_BLOCKS 32768          /* ramdisk:16M, 512-byte blocks */
#define HTTP_BIG 9000             /* over nvmfd's 8 KiB request limit */

static struct daemon d;
static uint16_t metrics_port;

/* The port of "nvmfd: metrics on http://127.0.0.1:PORT/metrics". */
static uint16_t find_metrics_port(void)
{
	FILE *f = fopen(d.log, "r");
	char line[512];
	unsigned port = 0;

	REQUIRE(f != NULL);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "nvmfd: metrics on http://127.0.0.1:%u/metrics", &port) == 1)
			break;
	fclose(f);
	REQUIRE(port != 0 && port <= 65535);
	return (uint16_t)port;
}

/* Send req, read the answer to EOF: its status code (body in *body,
 * malloc'd, if asked), or -1. */
static int http(const char *req, size_t len, char **body)
{
	size_t cap = 1 << 16, got = 0;
	char *buf = malloc(cap + 1);
	int fd = test_connect(metrics_port), status = -1;
	char *sep;

	REQUIRE(buf != NULL && fd >= 0);
	if (test_write_all(fd, req, len) != 0)
		goto out;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, WAIT_MS) <= 0)
			goto out;
		if (got == cap) {
			char *more = realloc(buf, 2 * cap + 1);

			REQUIRE(more != NULL);
			buf = more;
			cap *= 2;
		}
		n = read(fd, buf + got, cap - got);
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	if (sscanf(buf, "HTTP/1.1 %d ", &status) != 1)
		status = -1;
	sep = strstr(buf, "\r\n\r\n");
	if (body != NULL && sep != NULL) {
		*body = strdup(sep + 4);
		REQUIRE(*body != NULL);
	}
out:
	close(fd);
	free(buf);
	return status;
}

static char *scrape(void)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n";
	char *body = NULL;

	REQUIRE(http(req, sizeof(req) - 1, &body) == 200 && body != NULL);
	return body;
}

/* The value of the sample "series" (name{labels}) in page; -1 if absent. */
static long long sample(const char *page, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = page; (p = strstr(p, series)) != NULL; p += n)
		if ((p == page || p[-1] == '\n') && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	return -1;
}

static long long ns_sample(const char *page, const char *name, unsigned nsid, const char *op,
			   const char *extra)
{
	char series[512];

	snprintf(series, sizeof(series), "%s{subsystem=\"%s\",nsid=\"%u\",op=\"%s\"%s}", name,
		 DAEMON_NQN, nsid, op, extra);
	return sample(page, series);
}

static long long host_sample(const char *name, const char *extra)
{
	char series[512], *page = scrape();
	long long v;

	snprintf(series, sizeof(series), "%s{subsystem=\"%s\",host=\"%s\"%s}", name, DAEMON_NQN,
		 TH_HOSTNQN, extra);
	v = sample(page, series);
	free(page);
	return v;
}

static long long xport_errors(const char *kind)
{
	char series[128], *page = scrape();
	long long v;

	snprintf(series, sizeof(series), "nvmfd_transport_errors_total{kind=\"%s\"}", kind);
	v = sample(page, series);
	free(page);
	return v;
}

/* Poll a scraped value until it is want. */
static bool wait_value(long long (*get)(const char *, const char *), const char *a,
		       const char *b, long long want)
{
	uint64_t end = test_now_us() + WAIT_MS * 1000ull;
	long long v;

	while ((v = get(a, b)) != want && test_now_us() < end)
		usleep(20000);
	if (v != want)
		fprintf(stderr, "%s %s: %lld, want %lld\n", a, b, v, want);
	return v == want;
}

/* ------------------------------------------------------------------ */

static void test_perf_totals(void)
{
	char log[256], uri[300], line[65536], *page;
	unsigned long long rd_ios, rd_bytes, rd_err, wr_ios, wr_bytes, wr_err;
	const char *totals = NULL;
	FILE *f;
	pid_t pid;
	int status;

	test_begin("ops and bytes equal nvmf perf's totals");
	snprintf(log, sizeof(log), "%s/perf.jsonl", rob_dir());
	snprintf(uri, sizeof(uri), "nvme+tcp://127.0.0.1:%u/%s", d.port, DAEMON_NQN);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		execl(NVMF_PATH, "nvmf", "perf", "--rw", "randrw", "--bs", "4k", "--iodepth", "8",
		      "--queues", "2", "--runtime", "2", "--size", "16M", "--json-log", log, uri,
		      (char *)NULL);
		_exit(127);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	f = fopen(log, "r");
	REQUIRE(f != NULL);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "{\"type\":\"result\"", 16) == 0)
			totals = strstr(line, "\"totals\":");
	fclose(f);
	REQUIRE(totals != NULL);
	REQUIRE(sscanf(totals, "\"totals\":{\"read\":{\"ios\":%llu,\"bytes\":%llu,\"errors\":%llu},"
		       "\"write\":{\"ios\":%llu,\"bytes\":%llu,\"errors\":%llu}}", &rd_ios, &rd_bytes,
		       &rd_err, &wr_ios, &wr_bytes, &wr_err) == 6);
	printf("perf: %llu reads (%llu bytes), %llu writes (%llu bytes)\n", rd_ios, rd_bytes,
	       wr_ios, wr_bytes);
	CHECK(rd_ios > 0 && wr_ios > 0);
	page = scrape();
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_ops_total", 1, "read", ""), rd_ios);
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_ops_total", 1, "write", ""), wr_ios);
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_bytes_total", 1, "read", ""), rd_bytes);
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_bytes_total", 1, "write", ""), wr_bytes);
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_latency_seconds_count", 1, "read", ""), rd_ios);
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_latency_seconds_bucket", 1, "write",
			   ",le=\"+Inf\""), wr_ios);
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_ops_total", 1, "flush", ""), 0);
	free(page);
	test_end();
}

static void test_sessions_and_errors(void)
{
	static uint8_t buf[4096];
	struct th_queue admin, io[2];
	struct th_opts opts = {.qsize = 32};
	uint32_t dw0;
	char *page;

	test_begin("gauges for a connected host; a refused command counted by status");
	REQUIRE(th_connect_admin(&admin, d.port, DAEMON_NQN, &opts) == 0);
	REQUIRE(th_set_features(&admin, NVME_FEAT_NUMBER_OF_QUEUES, 0x00010001, &dw0) == 0);
	for (unsigned q = 0; q < 2; q++)
		REQUIRE(th_connect_io(&io[q], d.port, DAEMON_NQN, (uint16_t)(q + 1), admin.cntlid,
				      &opts) == 0);
	CHECK(wait_value(host_sample, "nvmfd_controllers", "", 1));
	CHECK(wait_value(host_sample, "nvmfd_queue_pairs", ",type=\"admin\"", 1));
	CHECK(wait_value(host_sample, "nvmfd_queue_pairs", ",type=\"io\"", 2));
	CHECK(wait_value(host_sample, "nvmfd_connections", "", 3));

	/* A read just past the end of namespace 2: LBA Out of Range (0x80). */
	CHECK_EQ(th_rw(&io[0], NVME_IO_READ, 2, NS2_BLOCKS, 1, buf, 512, 0), 0x80);
	CHECK_EQ(th_rw(&io[1], NVME_IO_WRITE, 2, 0, 8, buf, 4096, 0), 0);
	th_close(&io[0]);
	page = scrape();
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_errors_total", 2, "read", ",status=\"0x0080\""),
		 1);
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_ops_total", 2, "read", ""), 1);
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_bytes_total", 2, "read", ""), 0);
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_ops_total", 2, "write", ""), 1);
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_bytes_total", 2, "write", ""), 4096);
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_errors_total", 2, "write", ",status=\"0x0080\""),
		 -1);
	free(page);
	/* Namespace 3 (a file): counted on the worker pool's threads. */
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ(th_rw(&io[1], NVME_IO_WRITE, 3, i, 1, buf, 4096, 0), 0);
		CHECK_EQ(th_rw(&io[1], NVME_IO_READ, 3, i, 1, buf, 4096, 0), 0);
	}
	page = scrape();
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_ops_total", 3, "write", ""), 4);
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_bytes_total", 3, "read", ""), 4 * 4096);
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_latency_seconds_count", 3, "read", ""), 4);
	free(page);
	/* The closed queue's counts stay, folded into the namespace's. */
	CHECK(wait_value(host_sample, "nvmfd_queue_pairs", ",type=\"io\"", 1));
	page = scrape();
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_ops_total", 2, "read", ""), 1);
	free(page);
	th_close(&io[1]);
	th_close(&admin);
	CHECK(wait_value(host_sample, "nvmfd_controllers", "", -1));
	CHECK(wait_value(host_sample, "nvmfd_connections", "", -1));
	page = scrape();
	CHECK_EQ(ns_sample(page, "nvmfd_namespace_ops_total", 2, "write", ""), 1);
	free(page);
	test_end();
}

/* A host NQN with a quote and a backslash shows escaped, and the page
 * stays parseable. */
static void test_label_escaping(void)
{
	static const char nqn[] = "nqn.2014-08.org.test:quote\"back\\slash";
	static const char series[] = "nvmfd_controllers{subsystem=\"" DAEMON_NQN
				     "\",host=\"nqn.2014-08.org.test:quote\\\"back\\\\slash\"}";
	struct th_opts opts = {.qsize = 32, .hostnqn = nqn};
	struct th_queue admin;
	char *page;

	test_begin("label values are escaped");
	REQUIRE(th_connect_admin(&admin, d.port, DAEMON_NQN, &opts) == 0);
	page = scrape();
	if (sample(page, series) != 1)
		fprintf(stderr, "no %s in:\n%s\n", series, page);
	CHECK_EQ(sample(page, series), 1);
	free(page);
	th_close(&admin);
	test_end();
}

static const struct raw_ctrl_case *raw_case(const char *name)
{
	for (size_t i = 0; i < raw_nctrl_cases; i++)
		if (strcmp(raw_ctrl_cases[i].name, name) == 0)
			return &raw_ctrl_cases[i];
	fprintf(stderr, "no raw case \"%s\"\n", name);
	exit(1);
}

/* Send one malformed PDU after ICReq and wait for the controller to end
 * the connection. */
static void hostile(const char *name)
{
	const struct raw_ctrl_case *c = raw_case(name);
	struct raw r = {.fd = test_connect(d.port)};
	struct raw_pdu *p = calloc(1, sizeof(*p));

	REQUIRE(r.fd >= 0 && p != NULL);
	REQUIRE(raw_handshake(&r, c->dgst));
	c->build(p, &r);
	REQUIRE(raw_send(&r, p) == 0);
	CHECK(test_wait_eof(r.fd, WAIT_MS) == 0);
	close(r.fd);
	free(p);
}

static long long kind_value(const char *kind, const char *unused)
{
	(void)unused;
	return xport_errors(kind);
}

static void test_transport_errors(void)
{
	static const char junk[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	long long digest = xport_errors("digest"), sent = xport_errors("termreq_sent");
	long long received = xport_errors("termreq_received");
	long long pdu = xport_errors("pdu_validation");
	int fd;

	test_begin("transport errors by kind");
	CHECK(digest >= 0 && sent >= 0 && received >= 0 && pdu >= 0);
	hostile("header digest error");
	CHECK(wait_value(kind_value, "digest", NULL, digest + 1));
	CHECK(wait_value(kind_value, "termreq_sent", NULL, sent + 1));
	hostile("TermReq from the host");
	CHECK(wait_value(kind_value, "termreq_received", NULL, received + 1));
	/* Not a PDU at all: refused at its header, with a TermReq. */
	fd = test_connect(d.port);
	REQUIRE(fd >= 0 && test_write_all(fd, junk, sizeof(junk) - 1) == 0);
	CHECK(test_wait_eof(fd, WAIT_MS) == 0);
	close(fd);
	CHECK(wait_value(kind_value, "pdu_validation", NULL, pdu + 1));
	CHECK(wait_value(kind_value, "termreq_sent", NULL, sent + 2));
	CHECK_EQ(xport_errors("digest"), digest + 1);
	test_end();
}

static void test_bad_http(void)
{
	static const struct {
		const char *req;
		int status;
	} cases[] = {
		{"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200},
		{"GET /metrics?name[]=x HTTP/1.0\r\n\r\n", 200},
		{"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 404},
		{"GET /metricsx HTTP/1.1\r\nHost: x\r\n\r\n", 404},
		{"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405},
		{"DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405},
		{"GET /metrics HTTP/1.1\r\n\r\n", 400},                  /* no Host */
		{"GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"GET /metrics HTTP/1.1\r\nHost x\r\n\r\n", 400},        /* no colon */
		{"GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
		{"GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET http://x/metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", 505},
		{"GET /metrics HTTX/1.1\r\nHost: x\r\n\r\n", 400},
		{"\x16\x03\x01\x01\xf4\x01\x01\x01\xf0\r\n\r\n", 400}, /* like a TLS ClientHello */
	};
	char big[HTTP_BIG], *body = NULL;
	size_t n;

	test_begin("bad HTTP requests are answered and the endpoint keeps serving");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = http(cases[i].req, strlen(cases[i].req), NULL);

		if (got != cases[i].status)
			fprintf(stderr, "request %zu: %d, want %d\n", i, got, cases[i].status);
		CHECK_EQ(got, cases[i].status);
	}
	/* HEAD: the headers alone. */
	static const char head[] = "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n";

	CHECK_EQ(http(head, sizeof(head) - 1, &body), 200);
	CHECK(body != NULL && body[0] == '\0');
	free(body);
	/* 65 header fields, then a request over 8 KiB with no end of headers. */
	n = (size_t)snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%d: y\r\n", i);
	n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
	CHECK_EQ(http(big, n, NULL), 431);
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	CHECK_EQ(http(big, sizeof(big), NULL), 431);
	/* Half a request, then the client goes. */
	{
		int fd = test_connect(metrics_port);

		REQUIRE(fd >= 0 && test_write_all(fd, "GET /metr", 9) == 0);
		close(fd);
	}
	body = scrape();
	CHECK(strstr(body, "# TYPE nvmfd_namespace_latency_seconds histogram\n") != NULL);
	free(body);
	CHECK(daemon_alive(&d));
	test_end();
}

int main(void)
{
	char file[300];
	const char *extra[] = {"--metrics", "127.0.0.1:0", "ramdisk:64M", "ramdisk:16M,bs=512",
			       file, NULL};

	/* Namespace 3, a file: its commands complete on the worker pool. */
	snprintf(file, sizeof(file), "%s/ns3.img,size=1M", rob_dir());
	REQUIRE(daemon_start(&d, extra));
	metrics_port = find_metrics_port();
	printf("nvmfd on port %u, metrics on %u\n", d.port, metrics_port);
	test_perf_totals();
	test_sessions_and_errors();
	test_label_escaping();
	test_transport_errors();
	test_bad_http();
	CHECK_EQ(daemon_stop(&d, SIGTERM, WAIT_MS), 0);
	return test_summary();
}
