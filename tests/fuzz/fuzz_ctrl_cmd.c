/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the controller's command handling (Fabrics, admin, I/O and
 * discovery), fed capsules - an SQE plus its data - with no sockets: an
 * in-memory transport hands them to connections of a real target
 * (target_conn_reserve/attach, as tests/controller/no_socket_test.c does),
 * serving three ramdisk namespaces (512-byte blocks with reservations, 4 KiB
 * blocks, read-only) and a file (its I/O runs on the worker pool), unlinked
 * once open.  Reservations persist from one input to the next, as the
 * namespaces' data does.
 *
 * Input: a flags byte, then records until the input runs out:
 *   [queue: 1 byte, modulo NQUEUES][SQE: 64 bytes][data length: 2 bytes LE][data]
 * Flags bit 0: the harness brings the queues up first (admin Connect,
 * CC.EN = 1, I/O Connects for QIDs 1..NQUEUES-1), so records start deep;
 * otherwise the records must Connect themselves.
 * In-capsule data (SGL 01h) is the record's data; for a transport SGL (5Ah)
 * the record's data stands for what the host would send by R2T.
 *
 * After the input every connection is closed; the target must free them
 * all (and their controllers) in time, or the input is reported as a hang.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/conn.h"
#include "nvmf/log.h"
#include "transport/transport.h"

#define NQN "nqn.2024-01.org.nvmfd:fuzz"
#define HOSTNQN "nqn.2024-01.org.nvmfd:fuzz-host"
#define NQUEUES 4
#define MAX_IO (128 * 1024)         /* the target's default max_io_size */
#define MAX_ICD 16384               /* its default in-capsule data size */
#define RECORD_HEADER (1 + 64 + 2)
#define REAP_TIMEOUT_MS 10000
#define FLAG_BRING_UP 0x01

struct mem_capsule {
	struct nvmf_capsule nc;
	const uint8_t *data;        /* the record's data */
	size_t data_len;
};

struct mem_qpair {
	struct nvmf_qpair qp;
	pthread_mutex_t lock;       /* held while delivering; qpair_free waits on it */
	bool attached;
	bool freed;
	uint32_t responses;
	uint16_t last_status;
	uint32_t last_cdw0;
};

static struct nvmf_target *target;
static bool verbose;                /* FUZZ_VERBOSE: every response on stderr */
static struct mem_qpair queues[NQUEUES];
static uint8_t c2h_sink[MAX_IO];

static struct nvmf_capsule *mem_capsule_alloc(struct nvmf_qpair *qp)
{
	struct mem_capsule *mc = calloc(1, sizeof(*mc));

	if (mc == NULL)
		return NULL;
	mc->nc.qp = qp;
	return &mc->nc;
}

static void mem_capsule_free(struct nvmf_capsule *nc)
{
	free(nc);
}

static int mem_capsule_transmit(struct nvmf_capsule *nc)
{
	struct mem_qpair *mq = (struct mem_qpair *)nc->qp;

	/* Responses come from any thread (workers, the reaper's AER drops). */
	__atomic_add_fetch(&mq->responses, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&mq->last_status, NVME_CQE_TO_STATUS(nc->cqe.status), __ATOMIC_RELAXED);
	__atomic_store_n(&mq->last_cdw0, nc->cqe.cdw0, __ATOMIC_RELAXED);
	if (verbose)
		fprintf(stderr, "queue %ld: cid %u status %#x dw0 %#x\n", (long)(mq - queues),
			nc->cqe.cid, NVME_CQE_TO_STATUS(nc->cqe.status), nc->cqe.cdw0);
	return 0;
}

/* What the TCP transport checks before the controller sees a command. */
static uint16_t mem_validate_command(const struct nvmf_capsule *nc)
{
	const struct mem_capsule *mc = (const struct mem_capsule *)nc;
	const struct nvme_sgl_desc *sgl = &nc->sqe.sgl1;

	if (sgl->type == NVME_SGL_ID_ICD)
		return sgl->address == 0 && sgl->length == mc->data_len && sgl->length <= MAX_ICD
			       ? 0
			       : NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID);
	if (sgl->type == NVME_SGL_ID_TRANSPORT)
		return sgl->length <= MAX_IO
			       ? 0
			       : NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID);
	return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID);
}

static size_t mem_capsule_data_len(const struct nvmf_capsule *nc)
{
	return nc->sqe.sgl1.length;
}

static size_t iov_total(const struct nvmf_iov *data)
{
	size_t n = 0;

	for (int i = 0; i < data->iovcnt; i++)
		n += data->iov[i].iov_len;
	return n;
}

static int mem_receive_controller_data(struct nvmf_capsule *nc, uint32_t offset,
				       const struct nvmf_iov *data, nvmf_io_complete_cb *cb,
				       void *arg)
{
	struct mem_capsule *mc = (struct mem_capsule *)nc;
	size_t len = data->len, done = 0;

	if (offset > nc->sqe.sgl1.length || len > nc->sqe.sgl1.length - offset ||
	    iov_total(data) < len)
		return EFBIG;
	/* The host sent less than the SGL says: the transfer fails. */
	if (offset > mc->data_len || len > mc->data_len - offset) {
		cb(arg, 0, EPROTO);
		return 0;
	}
	for (int i = 0; i < data->iovcnt && done < len; i++) {
		size_t n = data->iov[i].iov_len < len - done ? data->iov[i].iov_len : len - done;

		memcpy(data->iov[i].iov_base, mc->data + offset + done, n);
		done += n;
	}
	cb(arg, len, 0);
	return 0;
}

static uint16_t mem_send_controller_data(struct nvmf_capsule *nc, uint32_t offset,
					 const struct nvmf_iov *data, bool success,
					 nvmf_io_complete_cb *cb, void *arg)
{
	size_t done = 0;

	if (nc->sqe.sgl1.type != NVME_SGL_ID_TRANSPORT || offset > nc->sqe.sgl1.length ||
	    data->len > nc->sqe.sgl1.length - offset || data->len == 0 || iov_total(data) < data->len)
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	/* Read every byte the controller sends: ASan sees what it really points at. */
	for (int i = 0; i < data->iovcnt && done < data->len; i++) {
		size_t n = data->iov[i].iov_len < data->len - done ? data->iov[i].iov_len
								    : data->len - done;

		memcpy(c2h_sink + (offset + done) % (MAX_IO - n + 1), data->iov[i].iov_base, n);
		done += n;
	}
	if (cb != NULL)
		cb(arg, data->len, 0);
	return 0;
}

static void mem_qpair_free(struct nvmf_qpair *qp)
{
	struct mem_qpair *mq = (struct mem_qpair *)qp;

	/* As a transport does: no callback runs once this returns. */
	pthread_mutex_lock(&mq->lock);
	mq->freed = true;
	pthread_mutex_unlock(&mq->lock);
}

static void mem_qpair_get_info(const struct nvmf_qpair *qp, struct nvmf_qpair_info *info)
{
	memset(info, 0, sizeof(*info));
}

static const struct nvmf_transport_ops mem_ops = {
	.qpair_free = mem_qpair_free,
	.qpair_get_info = mem_qpair_get_info,
	.capsule_alloc = mem_capsule_alloc,
	.capsule_free = mem_capsule_free,
	.capsule_transmit = mem_capsule_transmit,
	.validate_command = mem_validate_command,
	.capsule_data_len = mem_capsule_data_len,
	.receive_controller_data = mem_receive_controller_data,
	.send_controller_data = mem_send_controller_data,
};

static void quiet(enum nvmf_log_level level, const char *msg)
{
}

static void target_setup(void)
{
	static struct nvmf_ns_conf ns[4];
	static struct nvmf_subsys_conf subsys;
	static struct nvmf_port_conf port;
	static char port_subsys[1][NVMF_NQN_SIZE] = {NQN};
	struct nvmf_target_params params;
	struct nvmf_target_conf conf;
	struct nvmf_error err;

	verbose = getenv("FUZZ_VERBOSE") != NULL;
	if (verbose)
		nvmf_log_set_level(NVMF_LOG_DEBUG);
	else
		nvmf_log_set_sink(quiet);
	for (int i = 0; i < 4; i++) {
		snprintf(ns[i].path, sizeof(ns[i].path), "ramdisk:1M");
		ns[i].nsid = (uint32_t)i + 1;
		ns[i].enabled = true;
		ns[i].block_size = i == 1 ? 4096 : 512;
		ns[i].readonly = i == 2;
	}
	ns[0].resv_enable = true; /* no state directory: PTPL is refused */
	snprintf(ns[3].path, sizeof(ns[3].path), "%s/nvmf-fuzz-ctrl-%d.img",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
	ns[3].size = 1u << 20;
	snprintf(subsys.nqn, sizeof(subsys.nqn), NQN);
	subsys.allow_any_host = true;
	subsys.nns = 4;
	subsys.ns = ns;
	port.portid = 1;
	port.adrfam = NVMF_ADRFAM_IPV4;
	snprintf(port.traddr, sizeof(port.traddr), "127.0.0.1");
	snprintf(port.trsvcid, sizeof(port.trsvcid), "0");
	port.inline_data_size = UINT32_MAX;
	port.nsubsys = 1;
	port.subsystems = port_subsys;
	conf = (struct nvmf_target_conf){.nports = 1, .ports = &port, .nsubsys = 1, .subsys = &subsys};
	nvmf_target_params_init(&params);
	params.io_workers = 2;
	target = nvmf_target_create(&params);
	if (target == NULL || nvmf_target_configure(target, &conf, &err) != 0)
		abort();
	unlink(ns[3].path); /* open now: nothing is left behind */
	for (int q = 0; q < NQUEUES; q++)
		pthread_mutex_init(&queues[q].lock, NULL);
}

static void queue_open(struct mem_qpair *mq)
{
	struct nvmf_qpair_params params;
	struct nvmf_conn *conn;
	int error;

	pthread_mutex_lock(&mq->lock);
	memset(&mq->qp, 0, sizeof(mq->qp));
	mq->freed = false;
	mq->attached = false;
	mq->responses = 0;
	pthread_mutex_unlock(&mq->lock);
	conn = target_conn_reserve(target, 1, &params, &error);
	if (conn == NULL)
		abort(); /* the previous input's connections were all freed */
	nvmf_qpair_init(&mq->qp, &mem_ops, &params);
	target_conn_attach(target, conn, &mq->qp);
	mq->attached = true;
}

/* Deliver one capsule on a queue, unless the target has freed it. */
static void deliver(struct mem_qpair *mq, const struct nvme_sqe *sqe, const uint8_t *data,
		    size_t len)
{
	struct mem_capsule *mc;

	pthread_mutex_lock(&mq->lock);
	if (mq->freed || !mq->attached) {
		pthread_mutex_unlock(&mq->lock);
		return;
	}
	mc = (struct mem_capsule *)mem_capsule_alloc(&mq->qp);
	if (mc == NULL)
		abort();
	mc->nc.sqe = *sqe;
	mc->data = data;
	mc->data_len = len;
	nvmf_qpair_deliver(&mq->qp, &mc->nc);
	pthread_mutex_unlock(&mq->lock);
}

static void bring_up(void)
{
	struct nvmf_connect_data data = {.cntlid = NVMF_CNTLID_DYNAMIC};
	struct nvmf_connect_cmd c = {.opc = NVME_ADMIN_FABRICS, .flags = NVME_SQE_PSDT_SGL,
				     .fctype = NVMF_FCTYPE_CONNECT, .sqsize = 31};
	struct nvmf_property_set_cmd ps = {.opc = NVME_ADMIN_FABRICS, .flags = NVME_SQE_PSDT_SGL,
					   .fctype = NVMF_FCTYPE_PROPERTY_SET, .ofst = NVME_PROP_CC,
					   .value = NVME_CC_EN | (6u << 16) | (4u << 20)};

	snprintf(data.subnqn, sizeof(data.subnqn), NQN);
	snprintf(data.hostnqn, sizeof(data.hostnqn), HOSTNQN);
	c.sgl1.type = NVME_SGL_ID_ICD;
	c.sgl1.length = sizeof(data);
	deliver(&queues[0], (struct nvme_sqe *)&c, (const uint8_t *)&data, sizeof(data));
	if (__atomic_load_n(&queues[0].last_status, __ATOMIC_RELAXED) != 0)
		return;
	data.cntlid = (uint16_t)__atomic_load_n(&queues[0].last_cdw0, __ATOMIC_RELAXED);
	((struct nvme_sqe *)&ps)->sgl1.type = NVME_SGL_ID_TRANSPORT;
	deliver(&queues[0], (struct nvme_sqe *)&ps, NULL, 0);
	for (uint16_t q = 1; q < NQUEUES; q++) {
		c.qid = q;
		c.cid = q;
		deliver(&queues[q], (struct nvme_sqe *)&c, (const uint8_t *)&data, sizeof(data));
	}
}

/* Close every queue and wait until the target has freed them all. */
static void close_all(void)
{
	struct nvmf_target_stats st;
	int waited = 0;

	for (int q = 0; q < NQUEUES; q++) {
		struct mem_qpair *mq = &queues[q];

		/* The peer went away, as a transport reports it; under the lock,
		 * the reaper cannot free the connection meanwhile. */
		pthread_mutex_lock(&mq->lock);
		if (mq->attached && !mq->freed)
			mq->qp.error_cb(mq->qp.cb_arg, 0);
		pthread_mutex_unlock(&mq->lock);
	}
	for (;;) {
		nvmf_target_get_stats(target, &st);
		if (st.connections == 0 && st.controllers == 0)
			break;
		if (waited >= REAP_TIMEOUT_MS) {
			fprintf(stderr, "fuzz_ctrl_cmd: %u connections, %u controllers not freed after %d ms\n",
				st.connections, st.controllers, REAP_TIMEOUT_MS);
			abort();
		}
		usleep(1000);
		waited++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 1;

	if (target == NULL)
		target_setup();
	if (size < 1)
		return 0;
	for (int q = 0; q < NQUEUES; q++)
		queue_open(&queues[q]);
	if (data[0] & FLAG_BRING_UP)
		bring_up();
	while (size - pos >= RECORD_HEADER) {
		struct nvme_sqe sqe;
		unsigned q = data[pos] % NQUEUES;
		size_t len;

		memcpy(&sqe, data + pos + 1, sizeof(sqe));
		len = (size_t)data[pos + 65] | (size_t)data[pos + 66] << 8;
		pos += RECORD_HEADER;
		if (len > size - pos)
			len = size - pos;
		deliver(&queues[q], &sqe, data + pos, len);
		pos += len;
	}
	close_all();
	return 0;
}
