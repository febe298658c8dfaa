/* SPDX-License-Identifier: MIT */
/*
 * The controller without sockets: capsules (SQE + data) are fed straight
 * into a connection through an in-memory transport, and its responses and
 * controller-to-host data are captured.  This is the entry a fuzz target
 * uses.  Checks Connect, enable, Identify, Write/Read on a ramdisk, then
 * feeds thousands of random commands and requires an answer to each.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/conn.h"
#include "nvmf/log.h"
#include "transport/transport.h"
#include "util/test_util.h"

#define NQN "nqn.2024-01.org.nvmfd:nosocket"
#define HOSTNQN "nqn.2024-01.org.nvmfd:host"
#define C2H_MAX (256 * 1024)

struct mem_capsule {
	struct nvmf_capsule nc;
	const uint8_t *data;           /* host-to-controller data of a command */
	size_t data_len;
};

struct mem_qpair {
	struct nvmf_qpair qp;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned responses;
	struct nvme_cqe cqe;           /* the latest response */
	uint8_t c2h[C2H_MAX];
	size_t c2h_len;
};

#define MEMQ(q) ((struct mem_qpair *)(q))
#define MEMC(c) ((struct mem_capsule *)(c))

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
	struct mem_qpair *mq = MEMQ(nc->qp);

	pthread_mutex_lock(&mq->lock);
	mq->cqe = nc->cqe;
	mq->responses++;
	pthread_cond_broadcast(&mq->cond);
	pthread_mutex_unlock(&mq->lock);
	return 0;
}

static uint16_t mem_validate_command(const struct nvmf_capsule *nc)
{
	const struct mem_capsule *mc = (const struct mem_capsule *)nc;

	if (nc->sqe.sgl1.type == NVME_SGL_ID_ICD)
		return nc->sqe.sgl1.length == mc->data_len
			       ? 0
			       : NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID);
	if (nc->sqe.sgl1.type == NVME_SGL_ID_TRANSPORT)
		return nc->sqe.sgl1.length <= C2H_MAX
			       ? 0
			       : NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID);
	return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID);
}

static size_t mem_capsule_data_len(const struct nvmf_capsule *nc)
{
	return nc->sqe.sgl1.length;
}

static int mem_receive_controller_data(struct nvmf_capsule *nc, uint32_t offset,
				       const struct nvmf_iov *data, nvmf_io_complete_cb *cb,
				       void *arg)
{
	struct mem_capsule *mc = MEMC(nc);
	size_t len = data->len;

	if (offset > mc->data_len || len > mc->data_len - offset)
		len = 0; /* the host sent less than the SGL said */
	memcpy(data->iov[0].iov_base, mc->data + offset, len);
	cb(arg, len, len == data->len ? 0 : EPROTO);
	return 0;
}

static uint16_t mem_send_controller_data(struct nvmf_capsule *nc, uint32_t offset,
					 const struct nvmf_iov *data, bool success,
					 nvmf_io_complete_cb *cb, void *arg)
{
	struct mem_qpair *mq = MEMQ(nc->qp);

	if (offset + data->len > C2H_MAX)
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	pthread_mutex_lock(&mq->lock);
	memcpy(mq->c2h + offset, data->iov[0].iov_base, data->len);
	mq->c2h_len = offset + data->len;
	pthread_mutex_unlock(&mq->lock);
	if (cb != NULL)
		cb(arg, data->len, 0);
	return 0;
}

static void mem_qpair_free(struct nvmf_qpair *qp)
{
	/* The test owns the memory; nothing runs after this. */
}

static void mem_qpair_get_info(const struct nvmf_qpair *qp, struct nvmf_qpair_info *info)
{
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

static struct mem_qpair *mem_connect(struct nvmf_target *t)
{
	struct nvmf_qpair_params params;
	struct mem_qpair *mq = calloc(1, sizeof(*mq));
	struct nvmf_conn *conn;
	int error;

	REQUIRE(mq != NULL);
	conn = target_conn_reserve(t, 1, &params, &error);
	REQUIRE(conn != NULL);
	pthread_mutex_init(&mq->lock, NULL);
	pthread_cond_init(&mq->cond, NULL);
	nvmf_qpair_init(&mq->qp, &mem_ops, &params);
	target_conn_attach(t, conn, &mq->qp);
	return mq;
}

/* Feed one command; returns its status, or -1 if no response came. */
static int mem_cmd(struct mem_qpair *mq, const struct nvme_sqe *sqe, const void *data, size_t len,
		   struct nvme_cqe *cqe)
{
	struct mem_capsule *mc = MEMC(mem_capsule_alloc(&mq->qp));
	unsigned before;
	struct timespec ts;
	int rc = 0;

	REQUIRE(mc != NULL);
	mc->nc.sqe = *sqe;
	mc->data = data;
	mc->data_len = data != NULL && sqe->sgl1.type == NVME_SGL_ID_ICD ? len : 0;
	pthread_mutex_lock(&mq->lock);
	before = mq->responses;
	mq->c2h_len = 0;
	pthread_mutex_unlock(&mq->lock);
	nvmf_qpair_deliver(&mq->qp, &mc->nc);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&mq->lock);
	while (mq->responses == before && rc == 0)
		rc = pthread_cond_timedwait(&mq->cond, &mq->lock, &ts);
	if (cqe != NULL)
		*cqe = mq->cqe;
	rc = mq->responses == before ? -1 : NVME_CQE_TO_STATUS(mq->cqe.status);
	pthread_mutex_unlock(&mq->lock);
	return rc;
}

static struct nvme_sqe sqe_with(uint8_t opc, uint8_t sgl_type, uint32_t len)
{
	struct nvme_sqe sqe = {.opc = opc, .flags = NVME_SQE_PSDT_SGL};

	sqe.sgl1.type = sgl_type;
	sqe.sgl1.length = len;
	return sqe;
}

static int mem_connect_cmd(struct mem_qpair *mq, uint16_t qid, uint16_t cntlid, uint16_t *out)
{
	struct nvmf_connect_data data = {.cntlid = cntlid};
	struct nvme_sqe sqe = sqe_with(NVME_ADMIN_FABRICS, NVME_SGL_ID_ICD, sizeof(data));
	struct nvmf_connect_cmd *c = (struct nvmf_connect_cmd *)&sqe;
	struct nvme_cqe cqe;
	int st;

	c->fctype = NVMF_FCTYPE_CONNECT;
	c->qid = qid;
	c->sqsize = 31;
	snprintf(data.subnqn, sizeof(data.subnqn), NQN);
	snprintf(data.hostnqn, sizeof(data.hostnqn), HOSTNQN);
	st = mem_cmd(mq, &sqe, &data, sizeof(data), &cqe);
	*out = (uint16_t)cqe.cdw0;
	return st;
}

int main(void)
{
	struct nvmf_target_params params;
	struct nvmf_target_conf conf;
	struct nvmf_subsys_conf subsys = {0};
	struct nvmf_ns_conf ns = {0};
	struct nvmf_port_conf port = {0};
	char port_subsys[1][NVMF_NQN_SIZE] = {NQN};
	struct nvmf_target *t;
	struct mem_qpair *admin, *io;
	uint16_t cntlid, io_cntlid;
	struct nvmf_error err;
	uint8_t wbuf[8192];
	unsigned seed = 12345, answered = 0, tried = 0;

	nvmf_log_set_level(NVMF_LOG_ERR);
	test_begin("controller without sockets");
	snprintf(ns.path, sizeof(ns.path), "ramdisk:1M");
	ns.nsid = 1;
	ns.enabled = true;
	snprintf(subsys.nqn, sizeof(subsys.nqn), NQN);
	subsys.allow_any_host = true;
	subsys.nns = 1;
	subsys.ns = &ns;
	port.portid = 1;
	port.adrfam = NVMF_ADRFAM_IPV4;
	snprintf(port.traddr, sizeof(port.traddr), "127.0.0.1");
	snprintf(port.trsvcid, sizeof(port.trsvcid), "0");
	port.inline_data_size = UINT32_MAX;
	port.nsubsys = 1;
	port.subsystems = port_subsys;
	conf = (struct nvmf_target_conf){.nports = 1, .ports = &port, .nsubsys = 1, .subsys = &subsys};
	nvmf_target_params_init(&params);
	t = nvmf_target_create(&params);
	REQUIRE(t != NULL);
	REQUIRE(nvmf_target_configure(t, &conf, &err) == 0);

	admin = mem_connect(t);
	CHECK_EQ(mem_connect_cmd(admin, 0, NVMF_CNTLID_DYNAMIC, &cntlid), 0);
	{
		struct nvmf_property_set_cmd ps = {.opc = NVME_ADMIN_FABRICS, .flags = NVME_SQE_PSDT_SGL,
						   .fctype = NVMF_FCTYPE_PROPERTY_SET,
						   .ofst = NVME_PROP_CC,
						   .value = NVME_CC_EN | (6u << 16) | (4u << 20)};
		struct nvme_sqe id = sqe_with(NVME_ADMIN_IDENTIFY, NVME_SGL_ID_TRANSPORT, 4096);

		((struct nvme_sqe *)&ps)->sgl1.type = NVME_SGL_ID_TRANSPORT;
		CHECK_EQ(mem_cmd(admin, (struct nvme_sqe *)&ps, NULL, 0, NULL), 0);
		id.cdw10 = NVME_CNS_CONTROLLER;
		CHECK_EQ(mem_cmd(admin, &id, NULL, 0, NULL), 0);
		CHECK_EQ(admin->c2h_len, 4096);
		CHECK_EQ(strcmp(((struct nvme_id_ctrl *)admin->c2h)->subnqn, NQN), 0);
		CHECK_EQ(((struct nvme_id_ctrl *)admin->c2h)->cntlid, cntlid);
	}
	io = mem_connect(t);
	CHECK_EQ(mem_connect_cmd(io, 1, cntlid, &io_cntlid), 0);
	CHECK_EQ(io_cntlid, cntlid);
	{
		struct nvme_sqe w = sqe_with(NVME_IO_WRITE, NVME_SGL_ID_ICD, 4096);
		struct nvme_sqe r = sqe_with(NVME_IO_READ, NVME_SGL_ID_TRANSPORT, 4096);

		w.nsid = r.nsid = 1;
		w.cdw10 = r.cdw10 = 16;
		w.cdw12 = r.cdw12 = 7;
		test_fill(wbuf, 4096, 99);
		CHECK_EQ(mem_cmd(io, &w, wbuf, 4096, NULL), 0);
		CHECK_EQ(mem_cmd(io, &r, NULL, 0, NULL), 0);
		CHECK_EQ(io->c2h_len, 4096);
		CHECK(test_verify(io->c2h, 4096, 99));
	}
	/* Random commands: every one is answered (AER and Abort left out: an
	 * AER is held on purpose; Fabrics commands could close the queue). */
	for (int i = 0; i < 20000; i++) {
		struct mem_qpair *q = i % 2 ? io : admin;
		struct nvme_sqe sqe;
		uint8_t *raw = (uint8_t *)&sqe;
		size_t len = (size_t)rand_r(&seed) % sizeof(wbuf);
		bool icd = rand_r(&seed) % 2;

		for (size_t b = 0; b < sizeof(sqe); b++)
			raw[b] = (uint8_t)rand_r(&seed);
		sqe.opc %= 0x20;
		if (sqe.opc == NVME_ADMIN_ASYNC_EVENT_REQUEST || sqe.opc == NVME_ADMIN_ABORT)
			continue;
		sqe.flags = NVME_SQE_PSDT_SGL;
		sqe.nsid %= 4;
		sqe.cdw12 &= 0x400000ff; /* small NLB, maybe FUA */
		sqe.sgl1.type = icd ? NVME_SGL_ID_ICD : NVME_SGL_ID_TRANSPORT;
		sqe.sgl1.address = 0;
		sqe.sgl1.length = (uint32_t)len;
		test_fill(wbuf, len, (uint32_t)i);
		tried++;
		answered += mem_cmd(q, &sqe, wbuf, len, NULL) >= 0;
	}
	CHECK_EQ(answered, tried);
	fprintf(stderr, "%u random commands, %u answered\n", tried, answered);
	nvmf_target_destroy(t);
	free(admin);
	free(io);
	test_end();
	return test_summary();
}
