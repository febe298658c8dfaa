/* SPDX-License-Identifier: MIT */
#include "transport/loopback.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "security/tls_session.h"

#include "util/test_util.h"

static struct nvmf_engine *test_engine;

void loopback_use_engine(int argc, char **argv)
{
	struct nvmf_engine_params params;

	if (argc < 2)
		return;
	REQUIRE(nvmf_engine_parse(argv[1], &params) == 0);
	test_engine = nvmf_engine_create(&params);
	REQUIRE(test_engine != NULL);
	fprintf(stderr, "engine: %s\n", argv[1]);
}

struct loopback_config loopback_defaults(void)
{
	return (struct loopback_config){
		.engine = test_engine,
		.maxh2cdata = 128 * 1024,
		.max_icd = 8192,
		.max_c2h_data = 1u << 20,
		.read_pieces = 1,
		.sq_flow_control = true,
		.qsize = 128,
		.store_size = 8u << 20,
	};
}

/* ---------------- controller side ---------------- */

/* A controller-side transfer and the iovec the transport holds meanwhile. */
struct ctrl_xfer {
	struct loopback *lb;
	struct nvmf_capsule *cmd;
	struct iovec iov;
	uint8_t *store_at;        /* unmap_on_done: where the bounce buffer's bytes belong */
};

/* unmap_on_done: data moves through a bounce buffer of its own. */
static void xfer_setup(struct ctrl_xfer *x, uint8_t *at, size_t len, bool read)
{
	x->store_at = at;
	x->iov = (struct iovec){.iov_base = at, .iov_len = len};
	if (!x->lb->cfg.unmap_on_done)
		return;
	x->iov.iov_base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
	REQUIRE(x->iov.iov_base != MAP_FAILED);
	if (read)
		memcpy(x->iov.iov_base, at, len);
}

/* The transport let go: write data lands in the store, the buffer goes. */
static void xfer_done(struct ctrl_xfer *x, bool write_ok)
{
	if (!x->lb->cfg.unmap_on_done)
		return;
	if (write_ok)
		memcpy(x->store_at, x->iov.iov_base, x->iov.iov_len);
	munmap(x->iov.iov_base, x->iov.iov_len);
}

static void ctrl_respond(struct nvmf_capsule *cmd, uint16_t status)
{
	/* As the controller does: no error of ours is worth a retry. */
	struct nvmf_capsule *rsp =
		nvmf_capsule_response_for(cmd, status != 0 ? status | NVME_STATUS_DNR : 0, 0, 0);
	int error;

	REQUIRE(rsp != NULL);
	error = nvmf_capsule_transmit(rsp);
	/* Answering fails only once the host has gone away. */
	CHECK(error == 0 || error == -ECONNABORTED);
	nvmf_capsule_free(rsp);
	nvmf_capsule_free(cmd);
}

static void ctrl_write_done(void *arg, size_t xfered, int error)
{
	struct ctrl_xfer *x = arg;
	struct loopback *lb = x->lb;
	uint16_t status = 0;

	xfer_done(x, error == 0);
	if (error == EBADMSG) {
		pthread_mutex_lock(&lb->lock);
		lb->ctrl_digest_errors++;
		pthread_mutex_unlock(&lb->lock);
		status = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_TRANSIENT_TRANSPORT_ERROR);
	} else if (error != 0) {
		/* The connection is going away: nothing to answer. */
		nvmf_capsule_free(x->cmd);
		free(x);
		return;
	} else {
		CHECK_EQ(xfered, nvmf_capsule_data_len(x->cmd));
	}
	ctrl_respond(x->cmd, status);
	free(x);
}

static void ctrl_read_piece_done(void *arg, size_t xfered, int error)
{
	struct ctrl_xfer *x = arg;

	if (error == 0)
		CHECK_EQ(xfered, x->iov.iov_len);
	xfer_done(x, false);
	free(x);
}

static void ctrl_receive(void *arg, struct nvmf_capsule *cmd)
{
	struct loopback *lb = arg;
	struct nvme_sqe *sqe = nvmf_capsule_sqe(cmd);
	uint16_t status = nvmf_capsule_validate_command(cmd);
	size_t len = nvmf_capsule_data_len(cmd);
	uint32_t off = sqe->cdw10;

	if (lb->cfg.hold_from_cid != 0 && sqe->cid >= lb->cfg.hold_from_cid &&
	    sqe->cid < lb->cfg.qsize) {
		pthread_mutex_lock(&lb->lock);
		lb->held[sqe->cid] = cmd;
		pthread_mutex_unlock(&lb->lock);
		return;
	}
	if (status != 0 || len > lb->cfg.store_size || off > lb->cfg.store_size - len) {
		ctrl_respond(cmd, status != 0 ? status : NVME_STATUS(0, NVME_SC_INVALID_FIELD));
		return;
	}
	if (sqe->opc == NVME_IO_WRITE && len > 0) {
		struct ctrl_xfer *x = calloc(1, sizeof(*x));
		struct nvmf_iov data;

		REQUIRE(x != NULL);
		x->lb = lb;
		x->cmd = cmd;
		xfer_setup(x, lb->store + off, len, false);
		data = (struct nvmf_iov){.iov = &x->iov, .iovcnt = 1, .len = len};
		if (nvmf_receive_controller_data(cmd, 0, &data, ctrl_write_done, x) != 0) {
			xfer_done(x, false);
			free(x);
			ctrl_respond(cmd, NVME_STATUS(0, NVME_SC_DATA_TRANSFER_ERROR));
		}
		return;
	}
	if (sqe->opc == NVME_IO_READ && len > 0) {
		uint32_t pieces = lb->cfg.read_pieces, sent = 0;
		uint16_t result = 0;

		/* Several calls with increasing offsets, as a backend reading in chunks. */
		for (uint32_t i = 0; i < pieces && result == 0; i++) {
			uint32_t n = i + 1 == pieces ? (uint32_t)len - sent : (uint32_t)len / pieces;
			struct ctrl_xfer *x = calloc(1, sizeof(*x));
			struct nvmf_iov data;

			REQUIRE(x != NULL);
			x->lb = lb;
			xfer_setup(x, lb->store + off + sent, n, true);
			data = (struct nvmf_iov){.iov = &x->iov, .iovcnt = 1, .len = n};
			result = nvmf_send_controller_data(cmd, sent, &data, true,
							   ctrl_read_piece_done, x);
			/* Refused (the connection is going down): no callback comes. */
			if (result != 0 && result != NVMF_SUCCESS_SENT) {
				xfer_done(x, false);
				free(x);
			}
			sent += n;
		}
		if (result == NVMF_SUCCESS_SENT) {
			pthread_mutex_lock(&lb->lock);
			lb->ctrl_success_sent++;
			pthread_mutex_unlock(&lb->lock);
			nvmf_capsule_free(cmd);
			return;
		}
		ctrl_respond(cmd, result);
		return;
	}
	ctrl_respond(cmd, 0);
}

static void ctrl_error(void *arg, int error)
{
	struct loopback *lb = arg;

	pthread_mutex_lock(&lb->lock);
	lb->ctrl_error = error;
	pthread_cond_broadcast(&lb->cond);
	pthread_mutex_unlock(&lb->lock);
}

/* ---------------- host side ---------------- */

void loopback_host_receive(void *arg, struct nvmf_capsule *rsp)
{
	struct loopback *lb = arg;
	struct nvme_cqe *cqe = nvmf_capsule_cqe(rsp);

	pthread_mutex_lock(&lb->lock);
	REQUIRE(cqe->cid < lb->cfg.qsize);
	CHECK(!lb->reqs[cqe->cid].response_seen);
	lb->reqs[cqe->cid].cqe = *cqe;
	lb->reqs[cqe->cid].sqhd_valid = nvmf_capsule_sqhd_valid(rsp);
	lb->reqs[cqe->cid].response_seen = true;
	/* A read's data is complete before its response is delivered. */
	if (lb->reqs[cqe->cid].wants_read && NVME_CQE_TO_STATUS(cqe->status) == 0)
		CHECK(lb->reqs[cqe->cid].data_done);
	pthread_cond_broadcast(&lb->cond);
	pthread_mutex_unlock(&lb->lock);
	nvmf_capsule_free(rsp);
}

void loopback_host_error(void *arg, int error)
{
	struct loopback *lb = arg;

	pthread_mutex_lock(&lb->lock);
	lb->host_error = error;
	pthread_cond_broadcast(&lb->cond);
	pthread_mutex_unlock(&lb->lock);
}

struct host_data_ctx {
	struct loopback *lb;
	uint16_t cid;
};

static void host_data_done(void *arg, size_t xfered, int error)
{
	struct host_data_ctx *ctx = arg;
	struct loopback *lb = ctx->lb;

	pthread_mutex_lock(&lb->lock);
	CHECK(!lb->reqs[ctx->cid].data_done);
	lb->reqs[ctx->cid].data_done = true;
	lb->reqs[ctx->cid].xfered = xfered;
	lb->reqs[ctx->cid].data_error = error;
	/* The transport let go: from here on a touch of the buffer faults. */
	if (lb->reqs[ctx->cid].unmap != NULL)
		munmap(lb->reqs[ctx->cid].unmap, lb->reqs[ctx->cid].unmap_len);
	pthread_cond_broadcast(&lb->cond);
	pthread_mutex_unlock(&lb->lock);
	free(ctx);
}

struct loopback *loopback_new(const struct loopback_config *cfg)
{
	struct loopback *lb = calloc(1, sizeof(*lb));

	REQUIRE(lb != NULL);
	lb->cfg = *cfg;
	lb->store = calloc(1, cfg->store_size);
	lb->reqs = calloc(cfg->qsize, sizeof(*lb->reqs));
	lb->held = calloc(cfg->qsize, sizeof(*lb->held));
	REQUIRE(lb->store != NULL && lb->reqs != NULL && lb->held != NULL);
	pthread_mutex_init(&lb->lock, NULL);
	pthread_cond_init(&lb->cond, NULL);
	lb->host_error = -1;
	lb->ctrl_error = -1;
	return lb;
}

#define TLS_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001"
#define TLS_SUBNQN "nqn.2024-01.io.nvmf:loopback"

static int tls_lookup(void *arg, const char *hostnqn, const char *subnqn,
		      struct nvmf_tls_key *key)
{
	const struct loopback *lb = arg;

	return nvmf_tls_key_parse(lb->cfg.tls_key, key, NULL);
}

struct tls_server {
	struct loopback *lb;
	int fd;
	struct nvmf_tls_session *session;
	char err[256];
};

static void *tls_server_main(void *arg)
{
	struct tls_server *ts = arg;
	struct nvmf_tls_server_params params = {.lookup = tls_lookup, .lookup_arg = ts->lb};

	ts->session = nvmf_tls_server_handshake(ts->fd, &params, ts->err, sizeof(ts->err));
	return NULL;
}

/* TLS 1.3 with the configured PSK on both ends of the connection. */
static void tls_handshake(struct loopback *lb, int cfd, int sfd,
			  struct nvmf_tls_session **client, struct nvmf_tls_session **server)
{
	struct tls_server ts = {.lb = lb, .fd = sfd};
	struct nvmf_tls_key key;
	char err[256];
	pthread_t thread;

	REQUIRE(nvmf_tls_key_parse(lb->cfg.tls_key, &key, NULL) == 0);
	REQUIRE(pthread_create(&thread, NULL, tls_server_main, &ts) == 0);
	struct nvmf_tls_client_params params = {
		.hostnqn = TLS_HOSTNQN, .subnqn = TLS_SUBNQN, .key = &key};
	*client = nvmf_tls_client_handshake(cfd, &params, err, sizeof(err));
	pthread_join(thread, NULL);
	if (*client == NULL || ts.session == NULL)
		fprintf(stderr, "TLS handshake: %s / %s\n", err, ts.err);
	REQUIRE(*client != NULL && ts.session != NULL);
	*server = ts.session;
}

static void open_controller(struct loopback *lb, int fd, struct nvmf_tls_session *tls)
{
	const struct loopback_config *cfg = &lb->cfg;
	struct nvmf_qpair_params cp = {
		.trtype = NVMF_TRTYPE_TCP,
		.controller = true,
		.sq_flow_control = cfg->sq_flow_control,
		.qsize = cfg->qsize,
		.engine = cfg->engine,
		.error_cb = ctrl_error,
		.receive_cb = ctrl_receive,
		.cb_arg = lb,
		.tcp = {
			.fd = fd,
			.header_digests = true,
			.data_digests = true,
			.pda = cfg->ctrl_pda,
			.maxh2cdata = cfg->maxh2cdata,
			.max_icd = cfg->max_icd,
			.max_c2h_data = cfg->max_c2h_data,
			.max_io_size = 16u << 20,
			.tls = tls,
			.close_on_fatal = cfg->close_on_fatal,
		},
	};

	lb->ctrl = nvmf_qpair_create(&cp);
	REQUIRE(lb->ctrl != NULL);
	nvmf_qpair_set_connected(lb->ctrl, 1, cfg->qsize, cfg->sq_flow_control);
}

struct loopback *loopback_open_controller(const struct loopback_config *cfg, int fd)
{
	struct loopback *lb = loopback_new(cfg);

	open_controller(lb, fd, NULL);
	return lb;
}

struct loopback *loopback_open(const struct loopback_config *cfg)
{
	struct loopback *lb = loopback_new(cfg);
	struct nvmf_tls_session *ctls = NULL, *stls = NULL;
	int cfd, sfd;

	test_tcp_pair(&cfd, &sfd);
	if (cfg->tls_key != NULL)
		tls_handshake(lb, cfd, sfd, &ctls, &stls);
	open_controller(lb, sfd, stls);

	struct nvmf_qpair_params hp = {
		.trtype = NVMF_TRTYPE_TCP,
		.controller = false,
		.sq_flow_control = cfg->sq_flow_control,
		.qsize = cfg->qsize,
		.engine = cfg->engine,
		.error_cb = loopback_host_error,
		.receive_cb = loopback_host_receive,
		.cb_arg = lb,
		.tcp = {
			.fd = cfd,
			.header_digests = cfg->hdgst,
			.data_digests = cfg->ddgst,
			.pda = cfg->host_pda,
			.maxr2t = cfg->maxr2t,
			.max_icd = cfg->max_icd,
			.max_io_size = 16u << 20,
			.tls = ctls,
		},
	};
	lb->host = nvmf_qpair_create(&hp);
	REQUIRE(lb->host != NULL);
	return lb;
}

void loopback_close(struct loopback *lb)
{
	nvmf_qpair_free(lb->host);
	nvmf_qpair_free(lb->ctrl);
	for (unsigned i = 0; i < lb->cfg.qsize; i++)
		nvmf_capsule_free(lb->held[i]);
	free(lb->held);
	pthread_cond_destroy(&lb->cond);
	pthread_mutex_destroy(&lb->lock);
	free(lb->reqs);
	free(lb->store);
	free(lb);
}

int loopback_submit(struct loopback *lb, uint16_t cid, uint8_t opc, uint32_t offset,
		    const struct nvmf_iov *data, bool write)
{
	struct nvme_sqe sqe = {.opc = opc, .cid = cid, .nsid = 1, .cdw10 = offset};
	struct nvmf_capsule *nc = nvmf_capsule_command(lb->host, &sqe);
	int error;

	if (nc == NULL)
		return errno;
	pthread_mutex_lock(&lb->lock);
	memset(&lb->reqs[cid], 0, sizeof(lb->reqs[cid]));
	lb->reqs[cid].wants_data = data != NULL;
	lb->reqs[cid].wants_read = data != NULL && !write;
	if (lb->cfg.unmap_on_done && data != NULL) {
		/* The test mmap'd it: one mapping per command. */
		lb->reqs[cid].unmap = data->iov[0].iov_base;
		lb->reqs[cid].unmap_len = data->iov[0].iov_len;
	}
	pthread_mutex_unlock(&lb->lock);
	if (data != NULL) {
		struct host_data_ctx *ctx = malloc(sizeof(*ctx));

		REQUIRE(ctx != NULL);
		ctx->lb = lb;
		ctx->cid = cid;
		CHECK_EQ(nvmf_capsule_append_data(nc, data, write, host_data_done, ctx), 0);
	}
	error = nvmf_capsule_transmit(nc);
	nvmf_capsule_free(nc);
	return error;
}

bool loopback_wait(struct loopback *lb, uint16_t cid, int timeout_ms)
{
	struct timespec deadline;
	bool done;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&lb->lock);
	for (;;) {
		struct loopback_req *r = &lb->reqs[cid];

		done = r->response_seen && (!r->wants_data || r->data_done);
		if (done || pthread_cond_timedwait(&lb->cond, &lb->lock, &deadline) == ETIMEDOUT)
			break;
	}
	done = lb->reqs[cid].response_seen && (!lb->reqs[cid].wants_data || lb->reqs[cid].data_done);
	pthread_mutex_unlock(&lb->lock);
	return done;
}

static int wait_error(struct loopback *lb, const int *which, int timeout_ms)
{
	uint64_t deadline = test_now_us() + (uint64_t)timeout_ms * 1000;
	int error;

	pthread_mutex_lock(&lb->lock);
	while (*which < 0 && test_now_us() < deadline) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&lb->cond, &lb->lock, &ts);
	}
	error = *which;
	pthread_mutex_unlock(&lb->lock);
	return error;
}

int loopback_wait_host_error(struct loopback *lb, int timeout_ms)
{
	return wait_error(lb, &lb->host_error, timeout_ms);
}

int loopback_wait_ctrl_error(struct loopback *lb, int timeout_ms)
{
	return wait_error(lb, &lb->ctrl_error, timeout_ms);
}

static int sync_io(struct loopback *lb, uint16_t cid, uint8_t opc, uint32_t offset, void *buf,
		   size_t len, bool write)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct nvmf_iov data = {.iov = &iov, .iovcnt = 1, .len = len};
	int error = loopback_submit(lb, cid, opc, offset, &data, write);

	if (error != 0)
		return error;
	if (!loopback_wait(lb, cid, 10000))
		return -ETIMEDOUT;
	if (lb->reqs[cid].data_error != 0)
		return -lb->reqs[cid].data_error;
	return NVME_CQE_TO_STATUS(lb->reqs[cid].cqe.status);
}

int loopback_write(struct loopback *lb, uint16_t cid, uint32_t offset, const void *buf,
		   size_t len)
{
	return sync_io(lb, cid, NVME_IO_WRITE, offset, (void *)buf, len, true);
}

int loopback_read(struct loopback *lb, uint16_t cid, uint32_t offset, void *buf, size_t len)
{
	return sync_io(lb, cid, NVME_IO_READ, offset, buf, len, false);
}
