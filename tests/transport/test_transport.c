/* SPDX-License-Identifier: MIT */
/*
 * End-to-end transport tests: a host-role and a controller-role queue pair
 * over real loopback TCP in one process, moving data every way the NVMe/TCP
 * transport can, with every byte verified.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nvmf/tls.h"
#include "transport/loopback.h"
#include "util/test_util.h"

#define TIMEOUT_MS 20000

/* Write a pattern, read it back through a fresh buffer, compare. */
static void roundtrip(struct loopback *lb, uint16_t cid, uint32_t offset, size_t len,
		      uint32_t seed)
{
	uint8_t *out = malloc(len + 1), *in = malloc(len + 1);

	REQUIRE(out != NULL && in != NULL);
	test_fill(out, len, seed);
	memset(in, 0xee, len);
	CHECK_EQ(loopback_write(lb, cid, offset, out, len), 0);
	CHECK(memcmp(lb->store + offset, out, len) == 0);
	CHECK_EQ(loopback_read(lb, cid, offset, in, len), 0);
	CHECK(test_verify(in, len, seed));
	free(out);
	free(in);
}

static void test_in_capsule_write(void)
{
	struct loopback_config cfg = loopback_defaults();
	struct loopback *lb;

	test_begin("in-capsule writes");
	cfg.max_icd = 16384;
	lb = loopback_open(&cfg);
	roundtrip(lb, 1, 0, 512, 1);
	roundtrip(lb, 2, 4096, 4096, 2);
	roundtrip(lb, 3, 100, 16384, 3); /* exactly the in-capsule limit */
	/* No R2T was needed: every write fitted in its capsule. */
	loopback_close(lb);
	test_end();
}

static void test_r2t_writes(uint32_t maxr2t)
{
	struct loopback_config cfg = loopback_defaults();
	struct loopback *lb;
	char name[64];

	snprintf(name, sizeof(name), "R2T writes, MAXH2CDATA 4096, MAXR2T %u", maxr2t);
	test_begin(name);
	cfg.max_icd = 0; /* every write goes through R2T/H2CData */
	cfg.maxh2cdata = 4096;
	cfg.maxr2t = maxr2t;
	lb = loopback_open(&cfg);
	roundtrip(lb, 1, 0, 4096, 10);
	roundtrip(lb, 2, 0, 4097, 11);      /* one byte over a PDU */
	roundtrip(lb, 3, 8192, 65536, 12);  /* 16 H2CData PDUs */
	roundtrip(lb, 4, 0, 1000000, 13);   /* not a multiple of anything */
	loopback_close(lb);
	test_end();
}

static void test_reads(uint32_t max_c2h, uint32_t pieces)
{
	struct loopback_config cfg = loopback_defaults();
	struct loopback *lb;
	char name[80];

	snprintf(name, sizeof(name), "reads, C2HData up to %u bytes, %u send call(s)", max_c2h,
		 pieces);
	test_begin(name);
	cfg.max_c2h_data = max_c2h;
	cfg.read_pieces = pieces;
	lb = loopback_open(&cfg);
	roundtrip(lb, 1, 0, 4096, 20);
	roundtrip(lb, 2, 512, 131072, 21);
	roundtrip(lb, 3, 3, 777777, 22);
	loopback_close(lb);
	test_end();
}

static void test_success_flag(void)
{
	struct loopback_config cfg = loopback_defaults();
	struct loopback *lb;

	test_begin("C2H SUCCESS without SQ flow control");
	cfg.sq_flow_control = false;
	cfg.read_pieces = 2;
	lb = loopback_open(&cfg);
	roundtrip(lb, 5, 0, 65536, 30);
	/* Counted on the controller's thread: read once it has stopped. */
	nvmf_qpair_free(lb->ctrl);
	lb->ctrl = NULL;
	CHECK_EQ(lb->ctrl_success_sent, 1);
	/* The synthesised response: success, no SQ head. */
	CHECK(!lb->reqs[5].sqhd_valid);
	CHECK_EQ(lb->reqs[5].cqe.status, 0);
	CHECK_EQ(lb->reqs[5].cqe.cid, 5);
	loopback_close(lb);

	/* With flow control on, the controller must send a real response. */
	cfg.sq_flow_control = true;
	lb = loopback_open(&cfg);
	roundtrip(lb, 6, 0, 65536, 31);
	nvmf_qpair_free(lb->ctrl);
	lb->ctrl = NULL;
	CHECK_EQ(lb->ctrl_success_sent, 0);
	CHECK(lb->reqs[6].sqhd_valid);
	loopback_close(lb);
	test_end();
}

static void test_digests(bool hd, bool dd)
{
	struct loopback_config cfg = loopback_defaults();
	struct nvmf_qpair_info info;
	struct loopback *lb;
	char name[64];

	snprintf(name, sizeof(name), "digests: header %s, data %s", hd ? "on" : "off",
		 dd ? "on" : "off");
	test_begin(name);
	cfg.hdgst = hd;
	cfg.ddgst = dd;
	cfg.maxh2cdata = 8192;
	cfg.max_c2h_data = 16384;
	lb = loopback_open(&cfg);
	nvmf_qpair_get_info(lb->host, &info);
	CHECK_EQ(info.header_digests, hd);
	CHECK_EQ(info.data_digests, dd);
	nvmf_qpair_get_info(lb->ctrl, &info);
	CHECK_EQ(info.header_digests, hd);
	CHECK_EQ(info.data_digests, dd);
	roundtrip(lb, 1, 0, 4096, 40);     /* in-capsule */
	roundtrip(lb, 2, 0, 100000, 41);   /* R2T, several H2CData; several C2HData */
	CHECK_EQ(lb->ctrl_digest_errors, 0);
	loopback_close(lb);
	test_end();
}

static void test_padding(void)
{
	struct loopback_config cfg = loopback_defaults();
	struct nvmf_qpair_info info;
	struct loopback *lb;

	/* PDA 2 is 12-byte alignment: not a power of two (FreeBSD's old bug). */
	test_begin("non-zero HPDA and CPDA padding");
	cfg.host_pda = 2;
	cfg.ctrl_pda = 7;
	cfg.hdgst = true;
	cfg.ddgst = true;
	cfg.maxh2cdata = 4096;
	cfg.max_c2h_data = 4096;
	lb = loopback_open(&cfg);
	nvmf_qpair_get_info(lb->host, &info);
	CHECK_EQ(info.rxpda, 12);
	CHECK_EQ(info.txpda, 32);
	roundtrip(lb, 1, 0, 1000, 50);     /* in-capsule data padded to CPDA */
	roundtrip(lb, 2, 0, 20000, 51);    /* H2CData padded to CPDA, C2HData to HPDA */
	loopback_close(lb);

	cfg.host_pda = 31; /* 128 bytes: the largest PDO */
	cfg.ctrl_pda = 31;
	lb = loopback_open(&cfg);
	roundtrip(lb, 1, 0, 5000, 52);
	roundtrip(lb, 2, 0, 9000, 53);
	loopback_close(lb);
	test_end();
}

static void test_many_in_flight(void)
{
	struct loopback_config cfg = loopback_defaults();
	enum { N = 128, SLOT = 65536 };
	struct loopback *lb;
	uint8_t *out = malloc((size_t)N * SLOT), *in = malloc((size_t)N * SLOT);
	struct iovec iov[N];
	struct nvmf_iov data[N];

	test_begin("128 commands in flight");
	REQUIRE(out != NULL && in != NULL);
	cfg.qsize = N;
	cfg.max_icd = 8192;
	cfg.maxh2cdata = 16384;
	lb = loopback_open(&cfg);
	for (int i = 0; i < N; i++) {
		/* Sizes from 1 byte to 64 KiB: in-capsule and R2T mixed. */
		size_t len = (size_t)1 + (size_t)i * (SLOT - 1) / (N - 1);

		test_fill(out + (size_t)i * SLOT, len, 100 + (uint32_t)i);
		iov[i] = (struct iovec){.iov_base = out + (size_t)i * SLOT, .iov_len = len};
		data[i] = (struct nvmf_iov){.iov = &iov[i], .iovcnt = 1, .len = len};
	}
	for (int i = 0; i < N; i++)
		CHECK_EQ(loopback_submit(lb, (uint16_t)i, NVME_IO_WRITE, (uint32_t)i * SLOT, &data[i],
					 true), 0);
	for (int i = 0; i < N; i++) {
		CHECK(loopback_wait(lb, (uint16_t)i, TIMEOUT_MS));
		CHECK_EQ(lb->reqs[i].cqe.status, 0);
		CHECK_EQ(lb->reqs[i].xfered, data[i].len);
	}
	for (int i = 0; i < N; i++) {
		iov[i].iov_base = in + (size_t)i * SLOT;
		memset(iov[i].iov_base, 0, iov[i].iov_len);
		CHECK_EQ(loopback_submit(lb, (uint16_t)i, NVME_IO_READ, (uint32_t)i * SLOT, &data[i],
					 false), 0);
	}
	for (int i = 0; i < N; i++) {
		CHECK(loopback_wait(lb, (uint16_t)i, TIMEOUT_MS));
		CHECK_EQ(lb->reqs[i].cqe.status, 0);
		CHECK(test_verify(in + (size_t)i * SLOT, data[i].len, 100 + (uint32_t)i));
	}
	loopback_close(lb);
	free(out);
	free(in);
	test_end();
}

/*
 * Large and small reads in flight at once, digests on: behind a large
 * payload the host reads only the next headers into its ring, so each PDU
 * boundary lands somewhere else in a receive; every byte still verifies.
 */
static void test_reads_in_flight(uint32_t max_c2h)
{
	struct loopback_config cfg = loopback_defaults();
	enum { N = 24, SLOT = 140000 };
	struct loopback *lb;
	uint8_t *buf = malloc((size_t)N * SLOT);
	struct iovec iov[N];
	struct nvmf_iov data[N];
	char name[80];

	snprintf(name, sizeof(name), "large and small reads in flight, C2HData up to %u", max_c2h);
	test_begin(name);
	REQUIRE(buf != NULL);
	cfg.qsize = N;
	cfg.hdgst = cfg.ddgst = true;
	cfg.max_c2h_data = max_c2h;
	lb = loopback_open(&cfg);
	test_fill(lb->store, (size_t)N * SLOT, 300);
	for (int i = 0; i < N; i++) {
		/* 128 KiB and more, then a few bytes to 4 KiB, in turn. */
		size_t len = i % 2 == 0 ? 131072 + (size_t)i * 311 : 1 + (size_t)i * 170;

		iov[i] = (struct iovec){.iov_base = buf + (size_t)i * SLOT, .iov_len = len};
		data[i] = (struct nvmf_iov){.iov = &iov[i], .iovcnt = 1, .len = len};
		memset(iov[i].iov_base, 0, len);
		CHECK_EQ(loopback_submit(lb, (uint16_t)i, NVME_IO_READ, (uint32_t)i * SLOT, &data[i],
					 false), 0);
	}
	for (int i = 0; i < N; i++) {
		CHECK(loopback_wait(lb, (uint16_t)i, TIMEOUT_MS));
		CHECK_EQ(lb->reqs[i].cqe.status, 0);
		CHECK_EQ(lb->reqs[i].data_error, 0);
		CHECK(memcmp(iov[i].iov_base, lb->store + (size_t)i * SLOT, iov[i].iov_len) == 0);
	}
	loopback_close(lb);
	free(buf);
	test_end();
}

static void test_scattered_buffers(void)
{
	struct loopback_config cfg = loopback_defaults();
	struct loopback *lb;
	enum { PIECES = 7 };
	uint8_t *buf = malloc(PIECES * 5000), *back = malloc(PIECES * 5000);
	struct iovec iov[PIECES];
	struct nvmf_iov data = {.iov = iov, .iovcnt = PIECES, .len = 0};

	test_begin("iovec lists split across PDUs");
	REQUIRE(buf != NULL && back != NULL);
	cfg.max_icd = 0;
	cfg.maxh2cdata = 4096;
	cfg.max_c2h_data = 4096;
	lb = loopback_open(&cfg);
	test_fill(buf, PIECES * 5000, 60);
	for (int i = 0; i < PIECES; i++) {
		iov[i] = (struct iovec){.iov_base = buf + i * 5000, .iov_len = 5000 - (size_t)i * 3};
		data.len += iov[i].iov_len;
	}
	CHECK_EQ(loopback_submit(lb, 1, NVME_IO_WRITE, 0, &data, true), 0);
	CHECK(loopback_wait(lb, 1, TIMEOUT_MS));
	size_t at = 0;
	for (int i = 0; i < PIECES; i++) {
		CHECK(memcmp(lb->store + at, iov[i].iov_base, iov[i].iov_len) == 0);
		at += iov[i].iov_len;
	}
	for (int i = 0; i < PIECES; i++)
		iov[i].iov_base = back + i * 5000;
	CHECK_EQ(loopback_submit(lb, 2, NVME_IO_READ, 0, &data, false), 0);
	CHECK(loopback_wait(lb, 2, TIMEOUT_MS));
	at = 0;
	for (int i = 0; i < PIECES; i++) {
		CHECK(memcmp(lb->store + at, back + i * 5000, iov[i].iov_len) == 0);
		at += iov[i].iov_len;
	}
	loopback_close(lb);
	free(buf);
	free(back);
	test_end();
}

static void test_zero_and_large(void)
{
	struct loopback_config cfg = loopback_defaults();
	struct loopback *lb;
	uint8_t dummy = 0;

	test_begin("zero-length and 4 MiB transfers");
	cfg.maxh2cdata = 65536;
	lb = loopback_open(&cfg);
	CHECK_EQ(loopback_write(lb, 1, 0, &dummy, 0), 0);
	CHECK_EQ(loopback_read(lb, 2, 0, &dummy, 0), 0);
	CHECK_EQ(lb->reqs[2].xfered, 0);
	roundtrip(lb, 3, 0, 4u << 20, 70);
	/* A command with no data at all. */
	CHECK_EQ(loopback_submit(lb, 4, NVME_IO_FLUSH, 0, NULL, false), 0);
	CHECK(loopback_wait(lb, 4, TIMEOUT_MS));
	CHECK_EQ(lb->reqs[4].cqe.status, 0);
	loopback_close(lb);
	test_end();
}

/* The same transfers under TLS 1.3: the PDUs ride in records, and the
 * receive path must drain what the session has already decrypted. */
static void test_tls(const char *key, const char *cipher)
{
	struct loopback_config cfg = loopback_defaults();
	struct nvmf_qpair_info info;
	struct loopback *lb;
	char name[80];

	snprintf(name, sizeof(name), "TLS 1.3, %s", cipher);
	test_begin(name);
	cfg.tls_key = key;
	cfg.hdgst = cfg.ddgst = true;
	cfg.maxh2cdata = 8192;
	cfg.max_c2h_data = 16384;
	lb = loopback_open(&cfg);
	nvmf_qpair_get_info(lb->host, &info);
	CHECK(info.tls_cipher != NULL && strcmp(info.tls_cipher, cipher) == 0);
	roundtrip(lb, 1, 0, 4096, 80);     /* in-capsule */
	roundtrip(lb, 2, 0, 200000, 81);   /* R2T and several C2HData */
	roundtrip(lb, 3, 7, 4u << 20, 82); /* many records each way */
	loopback_close(lb);
	test_end();
}

static void test_qpair_free_with_io_pending(void)
{
	struct loopback_config cfg = loopback_defaults();
	struct loopback *lb;
	uint8_t *buf = malloc(8u << 20);
	struct iovec iov[8];
	struct nvmf_iov data[8];

	/* Every buffer handed to the transport comes back, even on teardown. */
	test_begin("free with transfers in flight");
	REQUIRE(buf != NULL);
	cfg.maxh2cdata = 4096;
	lb = loopback_open(&cfg);
	for (uint16_t cid = 0; cid < 8; cid++) {
		iov[cid] = (struct iovec){.iov_base = buf + ((size_t)cid << 20), .iov_len = 1u << 20};
		data[cid] = (struct nvmf_iov){.iov = &iov[cid], .iovcnt = 1, .len = 1u << 20};
		CHECK_EQ(loopback_submit(lb, cid, cid % 2 ? NVME_IO_READ : NVME_IO_WRITE,
					 (uint32_t)cid << 20, &data[cid], cid % 2 == 0), 0);
	}
	nvmf_qpair_free(lb->host);
	for (uint16_t cid = 0; cid < 8; cid++) {
		/* Either it finished before the free or it was aborted: never lost. */
		CHECK(lb->reqs[cid].data_done);
	}
	lb->host = NULL;
	loopback_close(lb);
	free(buf);
	test_end();
}

static void *map_buffer(size_t len, uint32_t seed)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE(p != MAP_FAILED);
	test_fill(p, len, seed);
	return p;
}

/*
 * A command's data completion is the transport's last touch of the buffer,
 * whichever way the queue pair ends: every buffer, on both sides, is
 * unmapped the moment its completion runs, so a later read or write of it
 * (a batch still being sent, a receive still landing) faults.  Writes and
 * reads of 1 MiB through 4 KiB socket buffers keep data in every stage.
 */
static void teardown_case(const char *name, bool free_host_first)
{
	enum { N = 8, LEN = 1u << 20 };
	struct loopback_config cfg = loopback_defaults();
	struct iovec iov[N];
	struct nvmf_iov data[N];
	struct loopback *lb;
	unsigned aborted = 0;

	test_begin(name);
	cfg.maxh2cdata = 4096;
	cfg.max_c2h_data = 4096;
	cfg.max_icd = 0;
	cfg.unmap_on_done = true;
	cfg.hold_from_cid = N - 2; /* two never answered: surely in flight */
	lb = loopback_open(&cfg);
	for (uint16_t cid = 0; cid < N; cid++) {
		iov[cid] = (struct iovec){.iov_base = map_buffer(LEN, cid), .iov_len = LEN};
		data[cid] = (struct nvmf_iov){.iov = &iov[cid], .iovcnt = 1, .len = LEN};
		CHECK_EQ(loopback_submit(lb, cid, cid % 2 ? NVME_IO_READ : NVME_IO_WRITE,
					 (uint32_t)cid * LEN, &data[cid], cid % 2 == 0), 0);
	}
	if (free_host_first) {
		nvmf_qpair_free(lb->host);
		lb->host = NULL;
	} else {
		/* The peer goes: the host sees the connection end mid-transfer,
		 * reports it, and completes everything only when freed. */
		nvmf_qpair_free(lb->ctrl);
		lb->ctrl = NULL;
		CHECK(loopback_wait_host_error(lb, TIMEOUT_MS) >= 0);
		nvmf_qpair_free(lb->host);
		lb->host = NULL;
	}
	/* Every buffer came back (and was unmapped) by the time free returned. */
	for (uint16_t cid = 0; cid < N; cid++) {
		CHECK(lb->reqs[cid].data_done);
		aborted += lb->reqs[cid].data_error == ECONNABORTED;
	}
	fprintf(stderr, "%u of %u transfers aborted\n", aborted, N);
	CHECK(aborted >= 2);
	loopback_close(lb);
	test_end();
}

static void test_teardown_last_touch(void)
{
	teardown_case("teardown: host freed mid-transfer, no buffer touched after completion",
		      true);
	teardown_case("teardown: controller freed mid-transfer, no buffer touched after completion",
		      false);
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

static void ignore_error(void *arg, int error) {}
static void ignore_capsule(void *arg, struct nvmf_capsule *nc) {}

/*
 * nvmf_qpair_create owns the socket whatever happens: refused parameters
 * close it; only a trtype the library has no transport for leaves it be.
 */
static void test_create_refused(void)
{
	static const struct {
		const char *what;
		uint16_t qsize;
		bool no_error_cb;
		uint8_t pda;
		uint32_t max_io_size;
		int trtype;
		int error;
	} cases[] = {
		{"qsize 1", 1, false, 0, 4096, NVMF_TRTYPE_TCP, EINVAL},
		{"no error callback", 32, true, 0, 4096, NVMF_TRTYPE_TCP, EINVAL},
		{"PDA 32", 32, false, 32, 4096, NVMF_TRTYPE_TCP, EINVAL},
		{"no transfer size", 32, false, 0, 0, NVMF_TRTYPE_TCP, EINVAL},
		{"RDMA", 32, false, 0, 4096, NVMF_TRTYPE_RDMA, EPROTONOSUPPORT},
	};

	test_begin("creation refused: the socket is released with it");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int cfd, sfd;
		struct nvmf_qpair_params p = {
			.trtype = cases[i].trtype,
			.qsize = cases[i].qsize,
			.error_cb = cases[i].no_error_cb ? NULL : ignore_error,
			.receive_cb = ignore_capsule,
			.tcp = {.pda = cases[i].pda, .max_io_size = cases[i].max_io_size},
		};

		test_tcp_pair(&cfd, &sfd);
		p.tcp.fd = cfd;
		errno = 0;
		CHECK(nvmf_qpair_create(&p) == NULL);
		CHECK_EQ(errno, cases[i].error);
		if (fd_open(cfd) != (cases[i].error == EPROTONOSUPPORT))
			fprintf(stderr, "%s: the socket is %s\n", cases[i].what,
				fd_open(cfd) ? "still open" : "closed");
		CHECK(fd_open(cfd) == (cases[i].error == EPROTONOSUPPORT));
		if (fd_open(cfd))
			close(cfd);
		close(sfd);
	}
	test_end();
}

int main(int argc, char **argv)
{
	loopback_use_engine(argc, argv);
	test_in_capsule_write();
	test_r2t_writes(0);
	test_r2t_writes(3);
	test_reads(1u << 20, 1);
	test_reads(4096, 1);
	test_reads(4096, 3);
	test_success_flag();
	test_digests(false, false);
	test_digests(true, false);
	test_digests(false, true);
	test_digests(true, true);
	test_padding();
	test_many_in_flight();
	test_reads_in_flight(1u << 20);
	test_reads_in_flight(20000);
	test_scattered_buffers();
	test_zero_and_large();
	/* Keys as `nvme gen-tls-key --hmac=1` and `--hmac=2` write them. */
	for (int hmac = 1; hmac <= 2; hmac++) {
		char key[NVMF_TLS_KEY_STRING_MAX];
		struct nvmf_error err;

		REQUIRE(nvmf_tls_key_generate(hmac, NULL, key, sizeof(key), &err) > 0);
		test_tls(key, hmac == 1 ? "TLS_AES_128_GCM_SHA256" : "TLS_AES_256_GCM_SHA384");
	}
	test_qpair_free_with_io_pending();
	test_teardown_last_touch();
	test_create_refused();
	return test_summary();
}
