/*
 * tcp_ceiling: the TCP ceiling that NVMe/TCP benchmark figures are divided by.
 *
 * A server thread and a client thread talk over one 127.0.0.1 TCP connection
 * using exactly the byte pattern of NVMe/TCP I/O, with no NVMe logic at all:
 *   read:  client sends a 72 B command;
 *          server answers 24 B C2H data header + bs data + 24 B response.
 *   write: client sends a 72 B command + bs in-capsule data;
 *          server answers a 24 B response.
 * Three modes: blocking sockets (block), busy-polling non-blocking sockets
 * (poll), and io_uring (uring: each send goes in one io_uring_enter with
 * the receive after it, linked, and the thread sleeps in that call until
 * the receive completes: one system call per round instead of two, to see
 * what an io_uring engine could save over blocking sockets).
 *
 * Each side receives everything available in one receive, parses it as a byte
 * stream (units straddle receives), and answers all whole units of that
 * receive with one sendmsg.  Payload bytes reach their destination (a per-I/O
 * buffer, as a real host or target needs) in one of two ways:
 *   --placement copy:   recv into one buffer, then memcpy the payloads out;
 *   --placement direct: one recvmsg whose iovecs scatter the stream straight
 *                       into place (headers to scratch, payloads to their
 *                       buffers), the way a transport reads data into place.
 * The ceiling of a byte pattern is the better of the two.
 *
 * The server's payloads come from, and go to, one buffer of --bs bytes by
 * default: always in cache.  With --region SIZE they are blocks at random
 * offsets of a SIZE-byte buffer instead, as a RAM namespace of that size
 * serves them, so a figure measured on such a namespace divides by a ceiling
 * that pays the same memory traffic.
 * The client keeps --iodepth I/Os in flight.
 *
 * Why neither side can deadlock in a send: a deadlock needs both sides stuck
 * sending at once.  In each direction one side sends only small units (read:
 * 72 B commands, write: 24 B responses) and never has more than iodepth of them
 * unread by its peer, i.e. at most MAX_IODEPTH * 72 B = 18 KiB, far below the
 * 128 KiB a TCP receive buffer starts with.  So that side's sends always
 * complete, it goes back to recv, and the side sending bulk data drains.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "util/histogram.h"

#define CMD_PDU_BYTES   72u     /* capsule command: 8 B PDU header + 64 B SQE */
#define C2H_HDR_BYTES   24u     /* C2H data PDU header */
#define RESP_PDU_BYTES  24u     /* capsule response: 8 B PDU header + 16 B CQE */

#define RX_BUF_BYTES    (1u << 20)
#define MAX_BS          (1u << 20)
#define MAX_IODEPTH     256u    /* keeps the deadlock argument above true */
#define MAX_SECONDS     86400.0

/*
 * No receive completes more than iodepth units, so every batch goes out in one
 * sendmsg.  A batch lays out head_i, payload, tail_i per unit with tail_i and
 * head_{i+1} adjacent in memory, so it never needs more than 2n + 1 iovecs.
 */
#define UNITS_PER_SEND  MAX_IODEPTH
#define IOVS_PER_SEND   (2 * UNITS_PER_SEND + 1)
_Static_assert(IOVS_PER_SEND <= IOV_MAX, "a whole batch must fit one sendmsg");

struct config {
	bool write;
	size_t bs;
	uint32_t iodepth;
	double runtime_sec;
	double warmup_sec;
	bool poll_mode;
	bool uring_mode;
	bool direct;                    /* --placement direct */
	size_t region;                  /* --region: server payload buffer, 0: one block */
	int server_cpu;
	int client_cpu;
	bool json;
};

/* One unit on the wire: header, optional payload, optional trailing PDU. */
struct pdu_layout {
	size_t head;
	size_t data;
	size_t tail;
};

struct peer {
	const char *name;
	int fd;
	struct pdu_layout tx, rx;
	uint8_t *rx_buf;                /* RX_BUF_BYTES */
	size_t rx_offset;               /* bytes already seen of the unit in progress */
	uint64_t rx_units;              /* units completed; picks the destination slot */
	uint8_t *rx_dst;                /* iodepth slots of rx.data bytes, like per-I/O buffers */
	uint32_t rx_dst_slots;
	bool rx_direct;                 /* scatter into place instead of copying */
	uint8_t *region;                /* if set, every payload is a block of it */
	uint64_t region_blocks;
	uint64_t tx_units;              /* units sent; picks the source block */
	struct iovec rx_iov[IOVS_PER_SEND];
	uint8_t *tx_headers;            /* UNITS_PER_SEND * (tx.head + tx.tail) */
	uint8_t *tx_payload;            /* tx.data bytes, sent for every unit */
	struct iovec iov[IOVS_PER_SEND];
	bool uring;                     /* uring mode: ring is set up */
	struct io_uring ring;
	bool send_queued;               /* a send is prepared, not yet submitted */
	size_t send_len;
	struct msghdr send_msg;
	const char *fail_what;          /* first failure, reported by main */
	int fail_errno;
};

struct sample {
	uint64_t wall_ns;
	uint64_t server_cpu_ns;
	uint64_t client_cpu_ns;
};

struct bench {
	struct config cfg;
	struct peer server, client;
	clockid_t server_cpu_clock;     /* lets the client sample both threads at one instant */
	uint64_t *issue_ns;             /* per in-flight I/O submit time, FIFO of iodepth */
	struct nvmf_histogram hist;
	struct sample begin, end;       /* the measured interval */
};

static int peer_fail(struct peer *p, const char *what, int err)
{
	if (!p->fail_what) {
		p->fail_what = what;
		p->fail_errno = err;
	}
	return -1;
}

static int clock_ns(clockid_t id, uint64_t *ns)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return -1;
	*ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return 0;
}

/* Merging contiguous segments keeps a batch within IOVS_PER_SEND (see above). */
static void iov_append(struct iovec *iov, int *iovcnt, void *base, size_t len)
{
	if (len == 0)
		return;
	if (*iovcnt > 0) {
		struct iovec *last = &iov[*iovcnt - 1];

		if ((uint8_t *)last->iov_base + last->iov_len == (uint8_t *)base) {
			last->iov_len += len;
			return;
		}
	}
	iov[(*iovcnt)++] = (struct iovec){ .iov_base = base, .iov_len = len };
}

/* splitmix64: a unit's number to a well-spread block number. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15u;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

/* Where received unit @n's payload goes. */
static uint8_t *rx_payload(const struct peer *p, uint64_t n)
{
	if (p->region)
		return p->region + (mix(n) % p->region_blocks) * p->rx.data;
	return p->rx_dst + (n % p->rx_dst_slots) * p->rx.data;
}

/* Where sent unit @n's payload comes from (another stream of blocks). */
static uint8_t *tx_payload(const struct peer *p, uint64_t n)
{
	if (p->region)
		return p->region + (mix(~n) % p->region_blocks) * p->tx.data;
	return p->tx_payload;
}

/*
 * The iovecs that place the next units of the stream (up to rx_dst_slots of
 * them, which is as many as can be in flight) straight where they belong:
 * headers and trailers into rx_buf, payloads into their destination slots.
 * A trailer and the next header share one iovec, so 2n + 1 suffice.
 */
static int rx_scatter(struct peer *p)
{
	const struct pdu_layout *l = &p->rx;
	const size_t unit = l->head + l->data + l->tail;
	size_t offset = p->rx_offset, scratch = 0;
	uint64_t slot = p->rx_units;
	int iovcnt = 0;

	for (uint32_t i = 0; i < p->rx_dst_slots; i++, slot++, offset = 0) {
		uint8_t *dst = rx_payload(p, slot);

		if (offset < l->head) {
			iov_append(p->rx_iov, &iovcnt, p->rx_buf + scratch, l->head - offset);
			scratch += l->head - offset;
			offset = l->head;
		}
		if (offset < l->head + l->data) {
			iov_append(p->rx_iov, &iovcnt, dst + (offset - l->head),
				   l->head + l->data - offset);
			offset = l->head + l->data;
		}
		if (offset < unit) {
			iov_append(p->rx_iov, &iovcnt, p->rx_buf + scratch, unit - offset);
			scratch += unit - offset;
		}
	}
	return iovcnt;
}

enum { URING_SEND = 1, URING_RECV = 2 };

/*
 * uring mode: submit the prepared send (if any) and a receive linked behind
 * it, sleep until both are done; the receive's result.
 */
static ssize_t peer_recv_uring(struct peer *p, struct msghdr *msg)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&p->ring);
	unsigned want = p->send_queued ? 2 : 1;
	ssize_t received = -1;

	if (!p->rx_direct) {
		p->rx_iov[0] = (struct iovec){ .iov_base = p->rx_buf, .iov_len = RX_BUF_BYTES };
		msg->msg_iovlen = 1;
	}
	io_uring_prep_recvmsg(sqe, p->fd, msg, 0);
	io_uring_sqe_set_data64(sqe, URING_RECV);
	p->send_queued = false;
	int err = io_uring_submit_and_wait(&p->ring, want);

	if (err < 0)
		return peer_fail(p, "io_uring_submit_and_wait", -err);
	while (want > 0) {
		struct io_uring_cqe *cqe;

		if ((err = io_uring_wait_cqe(&p->ring, &cqe)) < 0)
			return peer_fail(p, "io_uring_wait_cqe", -err);
		if (io_uring_cqe_get_data64(cqe) == URING_SEND) {
			if (cqe->res < 0 || (size_t)cqe->res != p->send_len)
				peer_fail(p, "sendmsg (io_uring)", cqe->res < 0 ? -cqe->res : EIO);
		} else {
			received = cqe->res < 0 ? peer_fail(p, "recvmsg (io_uring)", -cqe->res)
						: cqe->res;
		}
		io_uring_cqe_seen(&p->ring, cqe);
		want--;
	}
	return p->fail_what ? -1 : received;
}

/* Sleeps in block mode; spins on EAGAIN in poll mode (the socket is O_NONBLOCK). */
static ssize_t peer_recv(struct peer *p)
{
	struct msghdr msg = { .msg_iov = p->rx_iov };

	if (p->rx_direct)
		msg.msg_iovlen = (size_t)rx_scatter(p);
	if (p->uring)
		return peer_recv_uring(p, &msg);
	for (;;) {
		ssize_t n = p->rx_direct ? recvmsg(p->fd, &msg, 0) :
					   recv(p->fd, p->rx_buf, RX_BUF_BYTES, 0);

		if (n >= 0)
			return n;
		if (errno != EINTR && errno != EAGAIN)
			return peer_fail(p, "recv", errno);
	}
}

/*
 * Parses @len received bytes, copying payload out unless recvmsg already put
 * it in place; returns the units completed.
 */
static uint32_t peer_consume(struct peer *p, size_t len)
{
	const struct pdu_layout *l = &p->rx;
	const size_t unit = l->head + l->data + l->tail;
	const uint8_t *src = p->rx_buf;
	uint32_t completed = 0;

	while (len > 0) {
		size_t take = unit - p->rx_offset < len ? unit - p->rx_offset : len;
		/* The part of [rx_offset, rx_offset + take) that is payload. */
		size_t lo = p->rx_offset > l->head ? p->rx_offset : l->head;
		size_t hi = p->rx_offset + take < l->head + l->data ?
			    p->rx_offset + take : l->head + l->data;

		if (lo < hi && !p->rx_direct) {
			uint8_t *dst = rx_payload(p, p->rx_units);

			memcpy(dst + (lo - l->head), src + (lo - p->rx_offset), hi - lo);
		}
		src += take;
		len -= take;
		p->rx_offset += take;
		if (p->rx_offset == unit) {
			p->rx_offset = 0;
			p->rx_units++;
			completed++;
		}
	}
	return completed;
}

/* Writes every byte of @iov, resuming after partial sends. */
static int send_all(struct peer *p, struct iovec *iov, int iovcnt)
{
	while (iovcnt > 0) {
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
		ssize_t sent = sendmsg(p->fd, &msg, MSG_NOSIGNAL);

		if (sent < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;       /* poll mode spins until the socket has room */
			return peer_fail(p, "sendmsg", errno);
		}
		while (iovcnt > 0 && (size_t)sent >= iov->iov_len) {
			sent -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + sent;
			iov->iov_len -= (size_t)sent;
		}
	}
	return 0;
}

/* uring mode: prepare one send of the whole batch, linked to the next receive. */
static int queue_send(struct peer *p, int iovcnt)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&p->ring);

	p->send_msg = (struct msghdr){ .msg_iov = p->iov, .msg_iovlen = (size_t)iovcnt };
	p->send_len = 0;
	for (int i = 0; i < iovcnt; i++)
		p->send_len += p->iov[i].iov_len;
	io_uring_prep_sendmsg(sqe, p->fd, &p->send_msg, MSG_NOSIGNAL | MSG_WAITALL);
	io_uring_sqe_set_data64(sqe, URING_SEND);
	sqe->flags |= IOSQE_IO_LINK;
	p->send_queued = true;
	return 0;
}

static int peer_send_units(struct peer *p, uint32_t units)
{
	const struct pdu_layout *l = &p->tx;

	/* One receive never completes more than a batch: one send per round. */
	if (p->uring && units > UNITS_PER_SEND)
		return peer_fail(p, "more units than one send holds", 0);

	while (units > 0) {
		uint32_t batch = units < UNITS_PER_SEND ? units : UNITS_PER_SEND;
		int iovcnt = 0;

		for (uint32_t i = 0; i < batch; i++) {
			uint8_t *hdr = p->tx_headers + i * (l->head + l->tail);

			iov_append(p->iov, &iovcnt, hdr, l->head);
			iov_append(p->iov, &iovcnt, tx_payload(p, p->tx_units++), l->data);
			iov_append(p->iov, &iovcnt, hdr + l->head, l->tail);
		}
		if ((p->uring ? queue_send(p, iovcnt) : send_all(p, p->iov, iovcnt)) != 0)
			return -1;
		units -= batch;
	}
	return 0;
}

static void peer_close(struct peer *p)
{
	if (p->uring)
		io_uring_queue_exit(&p->ring);
	if (close(p->fd) != 0)
		peer_fail(p, "close", errno);
}

static void *server_thread(void *arg)
{
	struct peer *p = arg;

	for (;;) {
		ssize_t n = peer_recv(p);

		if (n < 0)
			break;
		if (n == 0) {   /* the client drained its I/Os and closed */
			if (p->rx_offset != 0)
				peer_fail(p, "client closed mid-command", 0);
			break;
		}
		uint32_t units = peer_consume(p, (size_t)n);

		if (units > 0 && peer_send_units(p, units) != 0)
			break;
	}
	peer_close(p);
	return NULL;
}

static int take_sample(struct bench *b, uint64_t now, struct sample *s)
{
	s->wall_ns = now;
	if (clock_ns(b->server_cpu_clock, &s->server_cpu_ns) != 0)
		return peer_fail(&b->client, "clock_gettime(server cpu)", errno);
	if (clock_ns(CLOCK_THREAD_CPUTIME_ID, &s->client_cpu_ns) != 0)
		return peer_fail(&b->client, "clock_gettime(client cpu)", errno);
	return 0;
}

/*
 * Completions arrive in submission order (one connection, the server answers
 * in order), so the submit timestamps form a FIFO.
 */
struct inflight {
	uint32_t oldest;
	uint32_t count;
};

static int client_submit(struct bench *b, struct inflight *q, uint32_t count)
{
	uint64_t now;

	if (clock_ns(CLOCK_MONOTONIC, &now) != 0)
		return peer_fail(&b->client, "clock_gettime", errno);
	for (uint32_t i = 0; i < count; i++)
		b->issue_ns[(q->oldest + q->count + i) % b->cfg.iodepth] = now;
	q->count += count;
	return peer_send_units(&b->client, count);
}

static int client_run(struct bench *b)
{
	struct peer *p = &b->client;
	struct inflight q = { 0, 0 };
	enum { WARMUP, MEASURE, DRAIN } phase = WARMUP;
	uint64_t start;

	if (clock_ns(CLOCK_MONOTONIC, &start) != 0)
		return peer_fail(p, "clock_gettime", errno);
	const uint64_t measure_from = start + (uint64_t)(b->cfg.warmup_sec * 1e9);
	const uint64_t measure_until = measure_from + (uint64_t)(b->cfg.runtime_sec * 1e9);

	if (client_submit(b, &q, b->cfg.iodepth) != 0)
		return -1;
	while (phase != DRAIN || q.count > 0) {
		ssize_t n = peer_recv(p);
		uint64_t now;

		if (n < 0)
			return -1;
		if (n == 0)
			return peer_fail(p, "server closed the connection early", 0);
		if (clock_ns(CLOCK_MONOTONIC, &now) != 0)
			return peer_fail(p, "clock_gettime", errno);
		uint32_t completed = peer_consume(p, (size_t)n);

		for (uint32_t i = 0; i < completed; i++) {
			uint64_t latency = now - b->issue_ns[q.oldest];

			q.oldest = (q.oldest + 1) % b->cfg.iodepth;
			if (phase == MEASURE) {
				nvmf_hist_add(&b->hist, latency);
			}
		}
		q.count -= completed;

		if (phase == WARMUP && now >= measure_from) {
			if (take_sample(b, now, &b->begin) != 0)
				return -1;
			phase = MEASURE;
		} else if (phase == MEASURE && now >= measure_until) {
			if (take_sample(b, now, &b->end) != 0)
				return -1;
			phase = DRAIN;
		}
		if (phase != DRAIN && completed > 0 && client_submit(b, &q, completed) != 0)
			return -1;
	}
	return 0;
}

static void *client_thread(void *arg)
{
	struct bench *b = arg;

	client_run(b);
	peer_close(&b->client);     /* the server exits on EOF, also after a failure */
	return NULL;
}

/*
 * Writes every page now so no page fault lands in the measurement.  The fill
 * is non-zero because GCC turns malloc + memset(0) into calloc, which leaves
 * fresh mmap pages untouched.
 */
static void *alloc_touched(size_t len)
{
	void *buf = malloc(len);

	if (buf)
		memset(buf, 0xa5, len);
	return buf;
}

static int peer_alloc(struct peer *p, size_t region)
{
	p->rx_buf = alloc_touched(RX_BUF_BYTES);
	p->tx_headers = calloc(UNITS_PER_SEND, p->tx.head + p->tx.tail);
	if (!p->rx_buf || !p->tx_headers)
		return -1;
	if (region > 0) {
		size_t bs = p->rx.data > 0 ? p->rx.data : p->tx.data;

		p->region_blocks = region / bs;
		return (p->region = alloc_touched(p->region_blocks * bs)) ? 0 : -1;
	}
	if (p->rx.data > 0 && !(p->rx_dst = alloc_touched(p->rx_dst_slots * p->rx.data)))
		return -1;
	if (p->tx.data > 0 && !(p->tx_payload = alloc_touched(p->tx.data)))
		return -1;
	return 0;
}

static void peer_free(struct peer *p)
{
	free(p->rx_buf);
	free(p->rx_dst);
	free(p->tx_headers);
	free(p->tx_payload);
	free(p->region);
}

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "tcp_ceiling: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void bad_arg(const char *opt, const char *value, const char *expected)
{
	fprintf(stderr, "tcp_ceiling: invalid %s '%s' (expected %s)\n", opt, value, expected);
	exit(2);
}

static void configure_socket(int fd, bool nonblocking)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		die("setsockopt(TCP_NODELAY)");
	if (nonblocking) {
		int flags = fcntl(fd, F_GETFL);

		if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
			die("fcntl(O_NONBLOCK)");
	}
}

/* Connects fds[0] (server end) and fds[1] (client end) over 127.0.0.1. */
static void connect_loopback(int fds[2], bool nonblocking)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t addr_len = sizeof(addr);
	int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (listener < 0)
		die("socket");
	if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		die("bind");
	if (listen(listener, 1) != 0)
		die("listen");
	if (getsockname(listener, (struct sockaddr *)&addr, &addr_len) != 0)
		die("getsockname");
	fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[1] < 0)
		die("socket");
	/* The backlog completes the handshake, so connect need not wait for accept. */
	if (connect(fds[1], (struct sockaddr *)&addr, sizeof(addr)) != 0)
		die("connect");
	fds[0] = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	if (fds[0] < 0)
		die("accept");
	if (close(listener) != 0)
		die("close");
	configure_socket(fds[0], nonblocking);
	configure_socket(fds[1], nonblocking);
}

/*
 * A size like 4096, 4k, 128k, 256m, 4g within [min, max]; anything else is
 * a usage error for opt.
 */
static size_t parse_size(const char *opt, const char *s, size_t min, size_t max,
			 const char *expected)
{
	char *end;
	unsigned shift = 0;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);

	if (errno == 0 && end != s && isdigit((unsigned char)*s)) {
		switch (tolower((unsigned char)*end)) {
		case 'k': shift = 10; end++; break;
		case 'm': shift = 20; end++; break;
		case 'g': shift = 30; end++; break;
		}
		if (*end == '\0' && v <= (max >> shift) && (v << shift) >= min)
			return (size_t)v << shift;
	}
	bad_arg(opt, s, expected);
	return 0;
}

static long parse_long(const char *opt, const char *s, long min, long max)
{
	char *end;

	errno = 0;
	long v = strtol(s, &end, 10);

	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		char expected[64];

		snprintf(expected, sizeof(expected), "integer %ld..%ld", min, max);
		bad_arg(opt, s, expected);
	}
	return v;
}

static double parse_seconds(const char *opt, const char *s, bool allow_zero)
{
	char *end;

	errno = 0;
	double v = strtod(s, &end);

	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) ||
	    v < 0 || (v == 0 && !allow_zero) || v > MAX_SECONDS)
		bad_arg(opt, s, allow_zero ? "seconds 0..86400" : "seconds >0..86400");
	return v;
}

static void parse_args(int argc, char **argv, struct config *cfg)
{
	enum { OPT_RW = 256, OPT_BS, OPT_IODEPTH, OPT_RUNTIME, OPT_WARMUP, OPT_MODE,
	       OPT_PLACEMENT, OPT_REGION, OPT_SERVER_CPU, OPT_CLIENT_CPU };
	static const struct option options[] = {
		{ "rw", required_argument, NULL, OPT_RW },
		{ "bs", required_argument, NULL, OPT_BS },
		{ "iodepth", required_argument, NULL, OPT_IODEPTH },
		{ "runtime", required_argument, NULL, OPT_RUNTIME },
		{ "warmup", required_argument, NULL, OPT_WARMUP },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "placement", required_argument, NULL, OPT_PLACEMENT },
		{ "region", required_argument, NULL, OPT_REGION },
		{ "server-cpu", required_argument, NULL, OPT_SERVER_CPU },
		{ "client-cpu", required_argument, NULL, OPT_CLIENT_CPU },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*cfg = (struct config){ .bs = 4096, .iodepth = 32, .runtime_sec = 3,
				.warmup_sec = 0.5, .poll_mode = true, .client_cpu = 1 };
	while ((opt = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
		switch (opt) {
		case OPT_RW:
			if (strcmp(optarg, "read") != 0 && strcmp(optarg, "write") != 0)
				bad_arg("--rw", optarg, "read or write");
			cfg->write = strcmp(optarg, "write") == 0;
			break;
		case OPT_BS:
			cfg->bs = parse_size("--bs", optarg, 1, MAX_BS, "1..1m, e.g. 4k, 4096, 128k");
			break;
		case OPT_IODEPTH:
			cfg->iodepth = (uint32_t)parse_long("--iodepth", optarg, 1, MAX_IODEPTH);
			break;
		case OPT_RUNTIME:
			cfg->runtime_sec = parse_seconds("--runtime", optarg, false);
			break;
		case OPT_WARMUP:
			cfg->warmup_sec = parse_seconds("--warmup", optarg, true);
			break;
		case OPT_MODE:
			if (strcmp(optarg, "block") != 0 && strcmp(optarg, "poll") != 0 &&
			    strcmp(optarg, "uring") != 0)
				bad_arg("--mode", optarg, "block, poll or uring");
			cfg->poll_mode = strcmp(optarg, "poll") == 0;
			cfg->uring_mode = strcmp(optarg, "uring") == 0;
			break;
		case OPT_PLACEMENT:
			if (strcmp(optarg, "copy") != 0 && strcmp(optarg, "direct") != 0)
				bad_arg("--placement", optarg, "copy or direct");
			cfg->direct = strcmp(optarg, "direct") == 0;
			break;
		case OPT_REGION:
			cfg->region = parse_size("--region", optarg, 0, 64ull << 30,
						 "0 or a size up to 64g, e.g. 256m");
			break;
		case OPT_SERVER_CPU:
			cfg->server_cpu = (int)parse_long("--server-cpu", optarg, 0, CPU_SETSIZE - 1);
			break;
		case OPT_CLIENT_CPU:
			cfg->client_cpu = (int)parse_long("--client-cpu", optarg, 0, CPU_SETSIZE - 1);
			break;
		case 'o':
			if (strcmp(optarg, "json") != 0)
				bad_arg("-o", optarg, "json");
			cfg->json = true;
			break;
		case 'h':
			printf("usage: %s [--rw read|write] [--bs SIZE] [--iodepth N] "
			       "[--runtime SEC] [--warmup SEC] [--mode block|poll|uring] "
			       "[--placement copy|direct] [--region SIZE] "
			       "[--server-cpu N] [--client-cpu N] [-o json]\n", argv[0]);
			exit(0);
		default:
			exit(2);    /* getopt already printed the reason */
		}
	}
	if (optind < argc)
		bad_arg("argument", argv[optind], "options only");
}

/* Starts a thread, pinned to @cpu unless @cpu is negative. */
static int start_thread(pthread_t *thread, void *(*fn)(void *), void *arg, int cpu)
{
	pthread_attr_t attr;
	cpu_set_t cpus;
	int err = pthread_attr_init(&attr);

	if (err != 0)
		return err;
	if (cpu >= 0) {
		CPU_ZERO(&cpus);
		CPU_SET(cpu, &cpus);
		err = pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
	}
	if (err == 0)
		err = pthread_create(thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return err;
}

static void report(const struct bench *b)
{
	const struct config *c = &b->cfg;
	const struct nvmf_histogram *h = &b->hist;
	double seconds = (double)(b->end.wall_ns - b->begin.wall_ns) / 1e9;
	double iops = (double)h->count / seconds;
	double mib_per_sec = iops * (double)c->bs / (1 << 20);
	double mean = (double)h->sum_ns / (double)h->count / 1000;
	double p50 = nvmf_hist_percentile_usec(h, 0.50);
	double p99 = nvmf_hist_percentile_usec(h, 0.99);
	double p999 = nvmf_hist_percentile_usec(h, 0.999);
	double server_cpu = (double)(b->end.server_cpu_ns - b->begin.server_cpu_ns) / 1e9;
	double client_cpu = (double)(b->end.client_cpu_ns - b->begin.client_cpu_ns) / 1e9;
	double server_per_io = server_cpu * 1e6 / (double)h->count;
	double client_per_io = client_cpu * 1e6 / (double)h->count;
	const char *rw = c->write ? "write" : "read";
	const char *mode = c->poll_mode ? "poll" : c->uring_mode ? "uring" : "block";
	const char *placement = c->direct ? "direct" : "copy";

	if (c->json)
		printf("{\"rw\":\"%s\",\"bs\":%zu,\"iodepth\":%u,\"mode\":\"%s\","
		       "\"placement\":\"%s\",\"region\":%zu,"
		       "\"runtime_sec\":%.3f,\"iops\":%.0f,\"mib_per_sec\":%.1f,"
		       "\"lat_usec\":{\"mean\":%.2f,\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f},"
		       "\"cpu_usec_per_io\":{\"server\":%.3f,\"client\":%.3f},"
		       "\"cpu_sec\":{\"server\":%.3f,\"client\":%.3f}}\n",
		       rw, c->bs, c->iodepth, mode, placement, c->region, seconds, iops, mib_per_sec,
		       mean,
		       p50, p99, p999, server_per_io, client_per_io, server_cpu, client_cpu);
	else
		printf("ceiling %s bs=%zu qd=%u mode=%s placement=%s: %.0f IOPS, %.1f MiB/s, "
		       "lat mean %.1f us p50 %.1f p99 %.1f p99.9 %.1f, "
		       "cpu/io server %.2f us client %.2f us (cpu server %.2f s client %.2f s in %.2f s)\n",
		       rw, c->bs, c->iodepth, mode, placement, iops, mib_per_sec, mean, p50, p99, p999,
		       server_per_io, client_per_io, server_cpu, client_cpu, seconds);
}

/* Prints both sides' failures on one line; returns whether there were any. */
static bool report_failures(const struct bench *b)
{
	const struct peer *peers[] = { &b->server, &b->client };
	bool failed = false;

	for (size_t i = 0; i < 2; i++) {
		const struct peer *p = peers[i];

		if (!p->fail_what)
			continue;
		fprintf(stderr, "%s%s: %s%s%s", failed ? "; " : "tcp_ceiling: ", p->name,
			p->fail_what, p->fail_errno ? ": " : "",
			p->fail_errno ? strerror(p->fail_errno) : "");
		failed = true;
	}
	if (failed)
		fputc('\n', stderr);
	return failed;
}

int main(int argc, char **argv)
{
	static struct bench b;      /* large (iovecs, histogram): keep off the stack */
	struct config *c = &b.cfg;
	cpu_set_t allowed;
	int fds[2];

	parse_args(argc, argv, c);
	if (c->region > 0 && c->region < c->bs) {
		fprintf(stderr, "tcp_ceiling: --region must hold at least one --bs block\n");
		return 2;
	}

	const struct pdu_layout command = { CMD_PDU_BYTES, c->write ? c->bs : 0, 0 };
	const struct pdu_layout answer = c->write ?
		(struct pdu_layout){ RESP_PDU_BYTES, 0, 0 } :
		(struct pdu_layout){ C2H_HDR_BYTES, c->bs, RESP_PDU_BYTES };

	/* With a single usable CPU both threads share it; pinning would only mislead. */
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		die("sched_getaffinity");
	bool pin = CPU_COUNT(&allowed) > 1;

	if (pin && (!CPU_ISSET(c->server_cpu, &allowed) || !CPU_ISSET(c->client_cpu, &allowed))) {
		fprintf(stderr, "tcp_ceiling: --server-cpu %d / --client-cpu %d not both usable\n",
			c->server_cpu, c->client_cpu);
		return 2;
	}

	connect_loopback(fds, c->poll_mode);
	b.server = (struct peer){ .name = "server", .fd = fds[0], .tx = answer, .rx = command,
				  .rx_dst_slots = c->iodepth, .rx_direct = c->direct };
	b.client = (struct peer){ .name = "client", .fd = fds[1], .tx = command, .rx = answer,
				  .rx_dst_slots = c->iodepth, .rx_direct = c->direct };
	b.issue_ns = calloc(c->iodepth, sizeof(*b.issue_ns));
	if (!b.issue_ns || peer_alloc(&b.server, c->region) != 0 || peer_alloc(&b.client, 0) != 0)
		die("out of memory");
	if (c->uring_mode) {
		int err = io_uring_queue_init(8, &b.server.ring, 0);

		if (err == 0 && (err = io_uring_queue_init(8, &b.client.ring, 0)) != 0)
			io_uring_queue_exit(&b.server.ring);
		if (err != 0) {
			errno = -err;
			die("io_uring_queue_init");
		}
		b.server.uring = b.client.uring = true;
	}

	pthread_t server, client;
	int err = start_thread(&server, server_thread, &b.server, pin ? c->server_cpu : -1);

	if (err != 0) {
		errno = err;
		die("pthread_create(server)");
	}
	err = pthread_getcpuclockid(server, &b.server_cpu_clock);
	if (err == 0)
		err = start_thread(&client, client_thread, &b, pin ? c->client_cpu : -1);
	if (err != 0) {
		/* Closing the client end lets the server see EOF and exit before we bail. */
		if (close(fds[1]) != 0 || pthread_join(server, NULL) != 0)
			die("shutting down the server");
		errno = err;
		die("starting the client");
	}
	if ((err = pthread_join(client, NULL)) != 0 || (err = pthread_join(server, NULL)) != 0) {
		errno = err;
		die("pthread_join");
	}

	bool failed = report_failures(&b);

	if (!failed && b.hist.count == 0) {
		fprintf(stderr, "tcp_ceiling: no I/O completed in the measured interval\n");
		failed = true;
	}
	if (!failed)
		report(&b);
	peer_free(&b.server);
	peer_free(&b.client);
	free(b.issue_ns);
	return failed ? 1 : 0;
}
