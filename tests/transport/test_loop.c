/* SPDX-License-Identifier: MIT */
/*
 * The loop transport at the capsule API: a listener and a host queue pair
 * in one process, capsules both ways, data both ways (in-capsule and not,
 * in pieces, short), the bounds every call checks, and teardown with
 * commands outstanding from either end: each transfer completes exactly
 * once, with ECONNABORTED, and (under ASan) nothing touches a buffer after.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "transport/transport.h"
#include "util/test_util.h"

#define NAME "loop-test"
#define MAX_IO (1u << 20)
#define MAX_ICD 8192
#define QSIZE 32
#define WAIT_MS 10000
#define NXFER 8

/* What both sides saw, in arrival order; guarded by lock. */
struct side {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct nvmf_capsule *rx[64];
	unsigned nrx;
	int errors;
	int error;
	unsigned seq;               /* events of this side so far */
};

struct done {
	struct side *side;
	unsigned calls;
	size_t xfered;
	int error;
	unsigned seq;               /* side's event number when it ran */
};

static struct side host_side, ctrl_side;
static struct nvmf_qpair *ctrl_qp;
static unsigned attached;

static void side_init(struct side *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
}

static void on_receive(void *arg, struct nvmf_capsule *nc)
{
	struct side *s = arg;

	pthread_mutex_lock(&s->lock);
	REQUIRE(s->nrx < 64);
	s->rx[s->nrx++] = nc;
	s->seq++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void on_error(void *arg, int error)
{
	struct side *s = arg;

	pthread_mutex_lock(&s->lock);
	s->errors++;
	s->error = error;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void on_done(void *arg, size_t xfered, int error)
{
	struct done *d = arg;

	pthread_mutex_lock(&d->side->lock);
	d->calls++;
	d->xfered = xfered;
	d->error = error;
	d->seq = ++d->side->seq;
	pthread_cond_broadcast(&d->side->cond);
	pthread_mutex_unlock(&d->side->lock);
}

static struct timespec deadline(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_MS / 1000;
	return ts;
}

/* The next received capsule of a side, or NULL after the wait. */
static struct nvmf_capsule *next_rx(struct side *s)
{
	struct timespec ts = deadline();
	struct nvmf_capsule *nc = NULL;

	pthread_mutex_lock(&s->lock);
	while (s->nrx == 0)
		if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) != 0)
			break;
	if (s->nrx > 0) {
		nc = s->rx[0];
		memmove(s->rx, s->rx + 1, --s->nrx * sizeof(s->rx[0]));
	}
	pthread_mutex_unlock(&s->lock);
	return nc;
}

static bool wait_calls(struct done *d, unsigned calls)
{
	struct timespec ts = deadline();
	bool ok;

	pthread_mutex_lock(&d->side->lock);
	while (d->calls < calls)
		if (pthread_cond_timedwait(&d->side->cond, &d->side->lock, &ts) != 0)
			break;
	ok = d->calls >= calls;
	pthread_mutex_unlock(&d->side->lock);
	return ok;
}

static bool wait_error(struct side *s)
{
	struct timespec ts = deadline();
	bool ok;

	pthread_mutex_lock(&s->lock);
	while (s->errors == 0)
		if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) != 0)
			break;
	ok = s->errors == 1;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static int accept_cb(void *arg, const struct nvmf_peer *peer, struct nvmf_qpair_params *p,
		     void **conn)
{
	bool *sqfc = arg;

	CHECK(strncmp(peer->name, "loop:" NAME, 5 + strlen(NAME)) == 0);
	p->qsize = QSIZE;
	p->sq_flow_control = *sqfc;
	p->error_cb = on_error;
	p->receive_cb = on_receive;
	p->cb_arg = &ctrl_side;
	p->tcp.max_icd = MAX_ICD;
	p->tcp.max_io_size = MAX_IO;
	*conn = &attached;
	return 0;
}

static void attach_cb(void *conn, struct nvmf_qpair *qp, const struct nvmf_error *err)
{
	CHECK(conn == &attached);
	CHECK(qp != NULL);
	if (qp == NULL)
		fprintf(stderr, "attach: %s\n", err->msg);
	attached++;
	ctrl_qp = qp;
}

static const struct nvmf_listen_ops listen_ops = {.accept = accept_cb, .attach = attach_cb};
static bool listener_sqfc = true;

static struct nvmf_listener *start_listener(void)
{
	struct nvmf_listen_params lp = {.addr = {.trtype = NVMF_TRTYPE_LOOP, .traddr = NAME},
					.ops = &listen_ops, .arg = &listener_sqfc};
	struct nvmf_error err;
	struct nvmf_listener *l = nvmf_listen(&lp, &err);

	REQUIRE(l != NULL);
	return l;
}

static struct nvmf_qpair *connect_host(bool sqfc)
{
	struct nvmf_addr addr = {.trtype = NVMF_TRTYPE_LOOP, .traddr = NAME, .trsvcid = "4420"};
	struct nvmf_qpair_params p = {
		.trtype = NVMF_TRTYPE_LOOP, .sq_flow_control = sqfc, .qsize = QSIZE,
		.error_cb = on_error, .receive_cb = on_receive, .cb_arg = &host_side,
		.tcp = {.max_icd = MAX_ICD, .max_io_size = MAX_IO},
	};
	struct nvmf_error err;
	struct nvmf_qpair *qp;

	side_init(&host_side);
	side_init(&ctrl_side);
	ctrl_qp = NULL;
	listener_sqfc = sqfc;
	qp = nvmf_qpair_connect(&addr, &p, &err);
	REQUIRE(qp != NULL);
	REQUIRE(ctrl_qp != NULL);
	return qp;
}

/* Host: a command with cid and opcode, maybe with data; the transmit's result. */
static int send_cmd(struct nvmf_qpair *qp, uint16_t cid, uint8_t opc, const struct nvmf_iov *data,
		    bool send, struct done *d)
{
	struct nvme_sqe sqe = {.opc = opc, .cid = cid, .nsid = 1, .cdw10 = 0x1234u + cid};
	struct nvmf_capsule *nc = nvmf_capsule_command(qp, &sqe);
	int error;

	REQUIRE(nc != NULL);
	if (data != NULL)
		CHECK_EQ(nvmf_capsule_append_data(nc, data, send, on_done, d), 0);
	error = nvmf_capsule_transmit(nc);
	nvmf_capsule_free(nc);
	return error;
}

static void expect_response(uint16_t cid, uint16_t status, uint32_t cdw0)
{
	struct nvmf_capsule *rsp = next_rx(&host_side);
	const struct nvme_cqe *cqe;

	REQUIRE(rsp != NULL);
	cqe = nvmf_capsule_cqe(rsp);
	REQUIRE(cqe != NULL);
	CHECK_EQ(cqe->cid, cid);
	CHECK_EQ(NVME_CQE_TO_STATUS(cqe->status), status);
	CHECK_EQ(cqe->cdw0, cdw0);
	nvmf_capsule_free(rsp);
}

static void test_connect_refused(void)
{
	struct nvmf_addr addr = {.trtype = NVMF_TRTYPE_LOOP, .traddr = "nobody-listens"};
	struct nvmf_qpair_params p = {.trtype = NVMF_TRTYPE_LOOP, .qsize = QSIZE,
				      .error_cb = on_error, .receive_cb = on_receive,
				      .tcp = {.max_io_size = MAX_IO}};
	struct nvmf_listen_params lp = {.addr = {.trtype = NVMF_TRTYPE_LOOP, .traddr = NAME},
					.ops = &listen_ops, .arg = &listener_sqfc};
	struct nvmf_listener *l;
	struct nvmf_error err;

	test_begin("connect: no listener refused, a name taken twice refused");
	CHECK(nvmf_qpair_connect(&addr, &p, &err) == NULL);
	CHECK_EQ(err.errnum, ECONNREFUSED);
	l = start_listener();
	CHECK(nvmf_listen(&lp, &err) == NULL);
	CHECK_EQ(err.errnum, EADDRINUSE);
	nvmf_listener_free(l);
	snprintf(addr.traddr, sizeof(addr.traddr), NAME);
	CHECK(nvmf_qpair_connect(&addr, &p, &err) == NULL); /* gone with its listener */
	CHECK_EQ(err.errnum, ECONNREFUSED);
	test_end();
}

static void test_capsule_round_trip(void)
{
	struct nvmf_listener *l = start_listener();
	struct nvmf_qpair *qp = connect_host(true);
	struct nvmf_capsule *cmd;
	struct nvmf_qpair_info info;

	test_begin("capsule round trip, SQ head advances");
	for (uint16_t cid = 1; cid <= 3; cid++) {
		CHECK_EQ(send_cmd(qp, cid, 0x06, NULL, false, NULL), 0);
		cmd = next_rx(&ctrl_side);
		REQUIRE(cmd != NULL);
		CHECK_EQ(nvmf_capsule_sqe(cmd)->cid, cid);
		CHECK_EQ(nvmf_capsule_sqe(cmd)->cdw10, 0x1234u + cid);
		CHECK_EQ(nvmf_capsule_validate_command(cmd), 0);
		CHECK_EQ(nvmf_capsule_data_len(cmd), 0);
		CHECK_EQ(nvmf_capsule_respond(cmd, 0, 0xabc0u + cid, 0), 0);
		nvmf_capsule_free(cmd);
		expect_response(cid, 0, 0xabc0u + cid);
	}
	CHECK_EQ(atomic_load(&qp->sqhd), 3);
	nvmf_qpair_get_info(qp, &info);
	CHECK_EQ(info.max_icd, MAX_ICD);
	nvmf_qpair_free(qp);
	CHECK(wait_error(&ctrl_side));
	CHECK_EQ(ctrl_side.error, ECONNRESET);
	nvmf_qpair_free(ctrl_qp);
	nvmf_listener_free(l);
	test_end();
}

/* A host write of len bytes; the controller pulls it in two pieces. */
static void write_case(struct nvmf_qpair *qp, uint16_t cid, size_t len, bool expect_icd)
{
	uint8_t *src = malloc(len), *dst = malloc(len);
	struct iovec hv[3] = {{src, len / 3}, {src + len / 3, len / 3},
			      {src + 2 * (len / 3), len - 2 * (len / 3)}};
	struct nvmf_iov hdata = {.iov = hv, .iovcnt = 3, .len = len};
	struct done hd = {.side = &host_side}, cd1 = {.side = &ctrl_side}, cd2 = cd1;
	struct iovec cv1 = {dst, len / 2}, cv2 = {dst + len / 2, len - len / 2};
	struct nvmf_capsule *cmd;

	REQUIRE(src != NULL && dst != NULL);
	test_fill(src, len, (uint32_t)cid);
	CHECK_EQ(send_cmd(qp, cid, NVME_IO_WRITE, &hdata, true, &hd), 0);
	cmd = next_rx(&ctrl_side);
	REQUIRE(cmd != NULL);
	CHECK_EQ(nvmf_capsule_sqe(cmd)->sgl1.type,
		 expect_icd ? NVME_SGL_ID_ICD : NVME_SGL_ID_TRANSPORT);
	CHECK_EQ(nvmf_capsule_validate_command(cmd), 0);
	CHECK_EQ(nvmf_capsule_data_len(cmd), len);
	if (expect_icd) {
		/* In-capsule data was copied: the host has its buffer back. */
		CHECK(wait_calls(&hd, 1));
		CHECK_EQ(hd.xfered, len);
		memset(src, 0, len);
	}
	/* Past the command's data: refused, nothing runs. */
	CHECK_EQ(nvmf_receive_controller_data(cmd, (uint32_t)(len / 2),
					      &(struct nvmf_iov){&cv2, 1, len - len / 2 + 1},
					      on_done, &cd2),
		 -EFBIG);
	CHECK_EQ(nvmf_receive_controller_data(cmd, 0, &(struct nvmf_iov){&cv1, 1, len / 2},
					      on_done, &cd1), 0);
	CHECK_EQ(nvmf_receive_controller_data(cmd, (uint32_t)(len / 2),
					      &(struct nvmf_iov){&cv2, 1, len - len / 2}, on_done,
					      &cd2), 0);
	CHECK(wait_calls(&cd1, 1) && wait_calls(&cd2, 1));
	CHECK_EQ(cd1.error, 0);
	CHECK_EQ(cd2.xfered, len - len / 2);
	CHECK(test_verify(dst, len, (uint32_t)cid));
	CHECK_EQ(nvmf_capsule_respond(cmd, 0, 0, 0), 0);
	nvmf_capsule_free(cmd);
	expect_response(cid, 0, 0);
	CHECK(wait_calls(&hd, 1));
	CHECK_EQ(hd.calls, 1);
	CHECK_EQ(hd.error, 0);
	CHECK_EQ(hd.xfered, len);
	free(src);
	free(dst);
}

static void test_writes(void)
{
	struct nvmf_listener *l = start_listener();
	struct nvmf_qpair *qp = connect_host(true);

	test_begin("writes: in-capsule (4 KiB, 8 KiB) and pulled (8 KiB + 1, 1 MiB)");
	write_case(qp, 1, 4096, true);
	write_case(qp, 2, MAX_ICD, true);
	write_case(qp, 3, MAX_ICD + 1, false);
	write_case(qp, 4, MAX_IO, false);
	nvmf_qpair_free(qp);
	nvmf_qpair_free(ctrl_qp);
	nvmf_listener_free(l);
	test_end();
}

/* A host read of len; the controller sends `have` bytes in pieces. */
static void read_case(struct nvmf_qpair *qp, uint16_t cid, size_t len, size_t have)
{
	uint8_t *src = malloc(len), *dst = calloc(1, len);
	struct iovec hv = {dst, len};
	struct done hd = {.side = &host_side}, cd[3];
	struct nvmf_capsule *cmd, *rsp;
	size_t piece = have / 3, off = 0;

	REQUIRE(src != NULL && dst != NULL);
	test_fill(src, len, (uint32_t)cid + 100);
	CHECK_EQ(send_cmd(qp, cid, NVME_IO_READ, &(struct nvmf_iov){&hv, 1, len}, false, &hd), 0);
	cmd = next_rx(&ctrl_side);
	REQUIRE(cmd != NULL);
	CHECK_EQ(nvmf_capsule_data_len(cmd), len);
	/* Past the end, and out of order: refused. */
	CHECK(nvmf_send_controller_data(cmd, 0, &(struct nvmf_iov){&(struct iovec){src, len + 1},
								     1, len + 1},
					false, NULL, NULL) != 0);
	CHECK(nvmf_send_controller_data(cmd, 1, &(struct nvmf_iov){&(struct iovec){src, 1}, 1, 1},
					false, NULL, NULL) != 0);
	for (int i = 0; i < 3; i++) {
		size_t n = i < 2 ? piece : have - off;
		struct iovec v = {src + off, n};

		cd[i] = (struct done){.side = &ctrl_side};
		CHECK_EQ(nvmf_send_controller_data(cmd, (uint32_t)off, &(struct nvmf_iov){&v, 1, n},
						   true, on_done, &cd[i]), 0);
		off += n;
	}
	for (int i = 0; i < 3; i++)
		CHECK(wait_calls(&cd[i], 1) && cd[i].error == 0);
	CHECK_EQ(nvmf_capsule_respond(cmd, 0, 7, 0), 0);
	nvmf_capsule_free(cmd);
	rsp = next_rx(&host_side);
	REQUIRE(rsp != NULL);
	/* The data completed before the response was delivered. */
	CHECK_EQ(hd.calls, 1);
	CHECK(hd.seq != 0 && hd.seq < host_side.seq);
	CHECK_EQ(hd.error, 0);
	CHECK_EQ(hd.xfered, have);
	CHECK(test_verify(dst, have, (uint32_t)cid + 100));
	for (size_t i = have; i < len; i++)
		if (dst[i] != 0) {
			CHECK(dst[i] == 0); /* nothing written past what was sent */
			break;
		}
	CHECK_EQ(nvmf_capsule_cqe(rsp)->cdw0, 7);
	nvmf_capsule_free(rsp);
	free(src);
	free(dst);
}

static void test_reads(void)
{
	struct nvmf_listener *l = start_listener();
	struct nvmf_qpair *qp = connect_host(true);

	test_begin("reads in three pieces, full and short");
	read_case(qp, 1, 4096, 4096);
	read_case(qp, 2, MAX_IO, MAX_IO);
	read_case(qp, 3, 65536, 10000); /* the controller had less than asked */
	nvmf_qpair_free(qp);
	nvmf_qpair_free(ctrl_qp);
	nvmf_listener_free(l);
	test_end();
}

static void test_success_flag(void)
{
	struct nvmf_listener *l = start_listener();
	struct nvmf_qpair *qp = connect_host(false);
	uint8_t src[4096], dst[4096] = {0};
	struct iovec hv = {dst, sizeof(dst)}, cv = {src, sizeof(src)};
	struct done hd = {.side = &host_side}, cd = {.side = &ctrl_side};
	struct nvmf_capsule *cmd, *rsp;

	test_begin("read ended by SUCCESS without SQ flow control");
	test_fill(src, sizeof(src), 77);
	CHECK_EQ(send_cmd(qp, 9, NVME_IO_READ, &(struct nvmf_iov){&hv, 1, sizeof(dst)}, false, &hd),
		 0);
	cmd = next_rx(&ctrl_side);
	REQUIRE(cmd != NULL);
	CHECK_EQ(nvmf_send_controller_data(cmd, 0, &(struct nvmf_iov){&cv, 1, sizeof(src)}, true,
					   on_done, &cd),
		 NVMF_SUCCESS_SENT);
	nvmf_capsule_free(cmd);
	rsp = next_rx(&host_side);
	REQUIRE(rsp != NULL);
	CHECK_EQ(nvmf_capsule_cqe(rsp)->cid, 9);
	CHECK_EQ(nvmf_capsule_cqe(rsp)->status, 0);
	CHECK(!nvmf_capsule_sqhd_valid(rsp));
	CHECK_EQ(hd.calls, 1);
	CHECK_EQ(hd.xfered, sizeof(dst));
	CHECK(test_verify(dst, sizeof(dst), 77));
	CHECK(wait_calls(&cd, 1));
	nvmf_capsule_free(rsp);
	nvmf_qpair_free(qp);
	nvmf_qpair_free(ctrl_qp);
	nvmf_listener_free(l);
	test_end();
}

static void test_host_bounds(void)
{
	struct nvmf_listener *l = start_listener();
	struct nvmf_qpair *qp = connect_host(true);
	static uint8_t buf[MAX_IO + 1];
	struct iovec many[65];
	struct done d = {.side = &host_side};

	test_begin("host: buffers past the limits are refused");
	for (int i = 0; i < 65; i++)
		many[i] = (struct iovec){buf + i, 1};
	CHECK_EQ(send_cmd(qp, 1, NVME_IO_WRITE, &(struct nvmf_iov){many, 65, 65}, true, &d), -EINVAL);
	CHECK_EQ(send_cmd(qp, 2, NVME_IO_WRITE,
			  &(struct nvmf_iov){&(struct iovec){buf, MAX_IO + 1}, 1, MAX_IO + 1}, true,
			  &d),
		 -EINVAL);
	CHECK_EQ(send_cmd(qp, 3, NVME_IO_WRITE, &(struct nvmf_iov){&(struct iovec){buf, 10}, 1, 11},
			  true, &d),
		 -EINVAL);
	CHECK_EQ(d.calls, 0);
	nvmf_qpair_free(qp);
	nvmf_qpair_free(ctrl_qp);
	nvmf_listener_free(l);
	test_end();
}

/* Commands outstanding when one end goes: reads and pulled writes. */
struct outstanding {
	uint8_t *buf[NXFER];
	struct done d[NXFER];
	struct nvmf_capsule *cmd[NXFER];
	struct iovec iov[NXFER];     /* valid until each transfer completes */
	uint8_t sink[100];
};

static void send_outstanding(struct nvmf_qpair *qp, struct outstanding *o)
{
	for (int i = 0; i < NXFER; i++) {
		size_t len = 65536;

		o->buf[i] = malloc(len);
		REQUIRE(o->buf[i] != NULL);
		o->d[i] = (struct done){.side = &host_side};
		o->iov[i] = (struct iovec){o->buf[i], len};
		CHECK_EQ(send_cmd(qp, (uint16_t)(i + 1), i % 2 ? NVME_IO_READ : NVME_IO_WRITE,
				  &(struct nvmf_iov){&o->iov[i], 1, len},
				  i % 2 == 0, &o->d[i]),
			 0);
		o->cmd[i] = next_rx(&ctrl_side);
		REQUIRE(o->cmd[i] != NULL);
	}
	/* Part of one write is pulled before the end goes. */
	CHECK_EQ(nvmf_receive_controller_data(o->cmd[0], 0,
					      &(struct nvmf_iov){&(struct iovec){o->sink, 100}, 1,
								 100},
					      NULL, NULL),
		 0);
}

/* Each host transfer ended exactly once, with ECONNABORTED; free the buffers. */
static void check_aborted(struct outstanding *o)
{
	for (int i = 0; i < NXFER; i++) {
		CHECK_EQ(o->d[i].calls, 1);
		CHECK_EQ(o->d[i].error, ECONNABORTED);
		free(o->buf[i]);
	}
}

/* The controller's late calls after the host end went: refused, no touch. */
static void controller_late_calls(struct outstanding *o)
{
	uint8_t tmp[512];
	struct iovec v = {tmp, sizeof(tmp)};
	struct done cd = {.side = &ctrl_side};

	for (int i = 0; i < NXFER; i++) {
		if (i % 2)
			CHECK(nvmf_send_controller_data(o->cmd[i], 0, &(struct nvmf_iov){&v, 1, 512},
							false, on_done, &cd) != 0);
		else
			CHECK_EQ(nvmf_receive_controller_data(o->cmd[i], 0,
							      &(struct nvmf_iov){&v, 1, 512},
							      on_done, &cd),
				 -ECONNABORTED);
		CHECK_EQ(nvmf_capsule_respond(o->cmd[i], 0, 0, 0), -ECONNABORTED);
		nvmf_capsule_free(o->cmd[i]);
	}
	CHECK_EQ(cd.calls, 0);
}

static void test_host_free_outstanding(void)
{
	struct nvmf_listener *l = start_listener();
	struct nvmf_qpair *qp = connect_host(true);
	struct outstanding o;

	test_begin("host end freed with commands outstanding");
	send_outstanding(qp, &o);
	nvmf_qpair_free(qp);
	check_aborted(&o); /* the buffers are gone: ASan sees any later touch */
	CHECK(wait_error(&ctrl_side));
	CHECK_EQ(ctrl_side.error, ECONNRESET);
	controller_late_calls(&o);
	nvmf_qpair_free(ctrl_qp);
	nvmf_listener_free(l);
	test_end();
}

static void test_controller_free_outstanding(void)
{
	struct nvmf_listener *l = start_listener();
	struct nvmf_qpair *qp = connect_host(true);
	struct outstanding o;

	test_begin("controller end freed with commands outstanding");
	send_outstanding(qp, &o);
	for (int i = 0; i < NXFER; i++)
		nvmf_capsule_free(o.cmd[i]);
	nvmf_qpair_free(ctrl_qp);
	CHECK(wait_error(&host_side));
	CHECK_EQ(host_side.error, ECONNRESET);
	CHECK_EQ(send_cmd(qp, 100, 0x06, NULL, false, NULL), -ECONNABORTED);
	for (int i = 0; i < NXFER; i++)
		CHECK_EQ(o.d[i].calls, 0); /* the host's until it frees its end */
	nvmf_qpair_free(qp);
	check_aborted(&o);
	CHECK_EQ(host_side.errors, 1);
	nvmf_listener_free(l);
	test_end();
}

int main(void)
{
	test_connect_refused();
	test_capsule_round_trip();
	test_writes();
	test_reads();
	test_success_flag();
	test_host_bounds();
	test_host_free_outstanding();
	test_controller_free_outstanding();
	return test_summary();
}
