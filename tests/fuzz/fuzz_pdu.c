/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the NVMe/TCP receive path of a queue pair, fed an arbitrary
 * byte stream by a peer over a socket pair.
 *
 * Controller role (default): the input is what a host sends, ICReq first.
 * The controller behind the queue pair answers Reads with C2HData and pulls
 * Write data in-capsule or through R2T, so the whole data path is reachable.
 *
 * Host role (-DFUZZ_HOST): the first 128 bytes answer the host's ICReq;
 * then, with a Read (CID 1, 8 KiB) and a Write (CID 2, 16 KiB, through R2T)
 * outstanding, the rest is what a controller sends.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nvmf/log.h"
#include "nvmf/transport.h"

#define MAX_IO (64 * 1024)

struct fuzz_peer {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool ended;
	uint8_t buf[MAX_IO];
	struct iovec iov[4];
};

static void on_error(void *arg, int error)
{
	struct fuzz_peer *peer = arg;

	pthread_mutex_lock(&peer->lock);
	peer->ended = true;
	pthread_cond_broadcast(&peer->cond);
	pthread_mutex_unlock(&peer->lock);
}

static void respond(struct nvmf_capsule *cmd, uint16_t status)
{
	struct nvmf_capsule *rsp = nvmf_capsule_response_for(cmd, status, 0, 0);

	if (rsp != NULL) {
		nvmf_capsule_transmit(rsp);
		nvmf_capsule_free(rsp);
	}
	nvmf_capsule_free(cmd);
}

static void write_done(void *arg, size_t xfered, int error)
{
	respond(arg, error == 0 ? 0 : NVME_STATUS(0, NVME_SC_TRANSIENT_TRANSPORT_ERROR));
}

/* A controller in miniature: enough to drive every transfer path. */
static void ctrl_receive(void *arg, struct nvmf_capsule *cmd)
{
	struct fuzz_peer *peer = arg;
	const struct nvme_sqe *sqe = nvmf_capsule_sqe(cmd);
	size_t len = nvmf_capsule_data_len(cmd);
	uint16_t status = nvmf_capsule_validate_command(cmd);
	struct iovec *iov = &peer->iov[sqe->cid % 4];
	struct nvmf_iov data = {.iov = iov, .iovcnt = 1, .len = len};

	if (status != 0 || len > MAX_IO) {
		respond(cmd, status != 0 ? status : NVME_STATUS(0, NVME_SC_INVALID_FIELD));
		return;
	}
	*iov = (struct iovec){.iov_base = peer->buf, .iov_len = len};
	if (sqe->opc == NVME_IO_WRITE && len > 0) {
		if (nvmf_receive_controller_data(cmd, 0, &data, write_done, cmd) != 0)
			respond(cmd, NVME_STATUS(0, NVME_SC_DATA_TRANSFER_ERROR));
		return;
	}
	if (sqe->opc == NVME_IO_READ && len > 0) {
		status = nvmf_send_controller_data(cmd, 0, &data, true, NULL, NULL);
		if (status == NVMF_SUCCESS_SENT)
			nvmf_capsule_free(cmd);
		else
			respond(cmd, status);
		return;
	}
	respond(cmd, 0);
}

static void host_receive(void *arg, struct nvmf_capsule *rsp)
{
	nvmf_capsule_free(rsp);
}

static void host_data(void *arg, size_t xfered, int error)
{
}

static void feed(int fd, const uint8_t *data, size_t size)
{
	while (size > 0) {
		ssize_t n = send(fd, data, size, MSG_NOSIGNAL);

		if (n <= 0)
			return; /* the queue pair closed: it has seen enough */
		data += n;
		size -= (size_t)n;
	}
}

/* Read and drop what the queue pair sends, so its transmit side never stalls. */
static void *drain(void *arg)
{
	int fd = *(int *)arg;
	char buf[4096];

	while (recv(fd, buf, sizeof(buf), 0) > 0)
		;
	return NULL;
}

static void submit(struct nvmf_qpair *qp, struct fuzz_peer *peer, uint16_t cid, uint8_t opc,
		   size_t len)
{
	struct nvme_sqe sqe = {.opc = opc, .cid = cid, .nsid = 1};
	struct nvmf_capsule *nc = nvmf_capsule_command(qp, &sqe);
	struct iovec *iov = &peer->iov[cid];
	struct nvmf_iov data = {.iov = iov, .iovcnt = 1, .len = len};

	if (nc == NULL)
		return;
	*iov = (struct iovec){.iov_base = peer->buf + (size_t)cid * 16384, .iov_len = len};
	nvmf_capsule_append_data(nc, &data, opc == NVME_IO_WRITE, host_data, peer);
	nvmf_capsule_transmit(nc);
	nvmf_capsule_free(nc);
}

static void quiet(enum nvmf_log_level level, const char *msg)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_peer peer;
	struct nvmf_qpair *qp;
	pthread_t drainer;
	int sv[2];
	bool host = false;

#ifdef FUZZ_HOST
	host = true;
#endif
	/* Nearly every input is a protocol error: keep quiet unless asked. */
	if (getenv("FUZZ_VERBOSE") == NULL)
		nvmf_log_set_sink(quiet);
	else
		nvmf_log_set_level(NVMF_LOG_DEBUG);
	memset(&peer, 0, sizeof(peer));
	pthread_mutex_init(&peer.lock, NULL);
	pthread_cond_init(&peer.cond, NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	if (pthread_create(&drainer, NULL, drain, &sv[1]) != 0)
		abort();

	struct nvmf_qpair_params params = {
		.trtype = NVMF_TRTYPE_TCP,
		.controller = !host,
		/* A reserved ICReq/ICResp bit picks SQ flow control: both C2H endings. */
		.sq_flow_control = size > 127 && (data[127] & 1),
		.qsize = 32,
		.error_cb = on_error,
		.receive_cb = host ? host_receive : ctrl_receive,
		.cb_arg = &peer,
		.tcp = {
			.fd = sv[0],
			.header_digests = true,
			.data_digests = true,
			.maxh2cdata = 4096,
			.max_icd = host ? 0 : 8192,
			.max_c2h_data = 4096,
			.max_io_size = MAX_IO,
			.maxr2t = 1,
			.connect_timeout_ms = 200,
		},
	};
	if (host) {
		/* Whatever the input says, ask for digests only if its ICResp
		 * grants them: the interesting paths start after ICResp. */
		size_t ic = size < 128 ? size : 128;

		params.tcp.header_digests = size > 11 && (data[11] & 1);
		params.tcp.data_digests = size > 11 && (data[11] & 2);
		feed(sv[1], data, ic);
		if (ic == size)
			shutdown(sv[1], SHUT_WR); /* no need to wait out the timeout */
		qp = nvmf_qpair_create(&params);
		if (qp != NULL) {
			submit(qp, &peer, 1, NVME_IO_READ, 8192);
			submit(qp, &peer, 2, NVME_IO_WRITE, 16384);
			feed(sv[1], data + ic, size - ic);
		}
	} else {
		qp = nvmf_qpair_create(&params);
		if (qp == NULL)
			abort();
		nvmf_qpair_set_connected(qp, 1, 32, params.sq_flow_control);
		feed(sv[1], data, size);
	}
	/* End of input: the queue pair sees EOF and reports. */
	shutdown(sv[1], SHUT_WR);
	if (qp != NULL) {
		pthread_mutex_lock(&peer.lock);
		while (!peer.ended)
			pthread_cond_wait(&peer.cond, &peer.lock);
		pthread_mutex_unlock(&peer.lock);
		nvmf_qpair_free(qp);
	}
	shutdown(sv[1], SHUT_RDWR);
	pthread_join(drainer, NULL);
	close(sv[1]);
	pthread_cond_destroy(&peer.cond);
	pthread_mutex_destroy(&peer.lock);
	return 0;
}
