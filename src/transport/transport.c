/* SPDX-License-Identifier: MIT */
/* The public queue pair and capsule API: generic checks, then the ops table. */
#include "transport/transport.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "transport/engine.h"
#include "util/lock.h"

#define MAX_REGISTERED 8

extern const struct nvmf_transport_ops *const nvmf_builtin_transports[];

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct nvmf_transport_ops *registered[MAX_REGISTERED]; /* registry_lock */

const struct nvmf_transport_ops *nvmf_transport_find(enum nvmf_trtype trtype)
{
	const struct nvmf_transport_ops *found = NULL;

	for (size_t i = 0; nvmf_builtin_transports[i] != NULL && found == NULL; i++)
		if (nvmf_builtin_transports[i]->trtype == trtype)
			found = nvmf_builtin_transports[i];
	nvmf_mutex_lock(&registry_lock);
	for (size_t i = 0; i < MAX_REGISTERED && found == NULL; i++)
		if (registered[i] != NULL && registered[i]->trtype == trtype)
			found = registered[i];
	nvmf_mutex_unlock(&registry_lock);
	return found;
}

int nvmf_transport_register(const struct nvmf_transport_ops *ops)
{
	int rc = ENOSPC;

	if (nvmf_transport_find(ops->trtype) != NULL)
		return EEXIST;
	nvmf_mutex_lock(&registry_lock);
	for (size_t i = 0; i < MAX_REGISTERED; i++)
		if (registered[i] == NULL) {
			registered[i] = ops;
			rc = 0;
			break;
		}
	nvmf_mutex_unlock(&registry_lock);
	return rc;
}

static _Atomic uint64_t xport_events[2][NVMF_XPORT_EVENTS]; /* [controller] */

void nvmf_transport_count(const struct nvmf_qpair *qp, enum nvmf_xport_event ev)
{
	atomic_fetch_add_explicit(&xport_events[qp->controller][ev], 1, memory_order_relaxed);
}

uint64_t nvmf_transport_events(bool controller, enum nvmf_xport_event ev)
{
	return atomic_load_explicit(&xport_events[controller][ev], memory_order_relaxed);
}

static void no_transport(const struct nvmf_addr *addr, struct nvmf_error *err)
{
	memset(err, 0, sizeof(*err));
	err->errnum = EPROTONOSUPPORT;
	snprintf(err->msg, sizeof(err->msg), "no transport for trtype %d (%.64s)", addr->trtype,
		 addr->traddr);
}

struct nvmf_qpair *nvmf_qpair_connect(const struct nvmf_addr *addr,
				      const struct nvmf_qpair_params *params,
				      struct nvmf_error *err)
{
	const struct nvmf_transport_ops *ops = nvmf_transport_find(addr->trtype);

	if (ops == NULL || ops->qpair_connect == NULL) {
		no_transport(addr, err);
		return NULL;
	}
	return ops->qpair_connect(addr, params, err);
}

struct nvmf_listener *nvmf_listen(const struct nvmf_listen_params *params, struct nvmf_error *err)
{
	const struct nvmf_transport_ops *ops = nvmf_transport_find(params->addr.trtype);

	if (ops == NULL || ops->listen == NULL) {
		no_transport(&params->addr, err);
		return NULL;
	}
	return ops->listen(params, err);
}

void nvmf_listener_addr(const struct nvmf_listener *listener, struct nvmf_addr *addr)
{
	*addr = listener->addr;
}

void nvmf_listener_free(struct nvmf_listener *listener)
{
	if (listener != NULL)
		listener->ops->listener_free(listener);
}

void nvmf_qpair_init(struct nvmf_qpair *qp, const struct nvmf_transport_ops *ops,
		     const struct nvmf_qpair_params *params)
{
	qp->ops = ops;
	qp->engine = params->engine != NULL ? params->engine : nvmf_engine_default();
	qp->controller = params->controller;
	qp->admin = params->admin;
	qp->sq_flow_control = params->sq_flow_control;
	qp->qsize = params->qsize;
	atomic_init(&qp->sqhd, 0);
	qp->error_cb = params->error_cb;
	qp->receive_cb = params->receive_cb;
	qp->cb_arg = params->cb_arg;
}

void nvmf_qpair_deliver(struct nvmf_qpair *qp, struct nvmf_capsule *nc)
{
	if (qp->controller) {
		/* Each command consumed advances the SQ head (NVMe-oF 1.1 §2.3). */
		uint16_t head = atomic_load_explicit(&qp->sqhd, memory_order_relaxed);
		atomic_store_explicit(&qp->sqhd, (uint16_t)((head + 1) % qp->qsize),
				      memory_order_relaxed);
	}
	qp->receive_cb(qp->cb_arg, nc);
}

struct nvmf_qpair *nvmf_qpair_create(const struct nvmf_qpair_params *params)
{
	const struct nvmf_transport_ops *ops = nvmf_transport_find(params->trtype);

	if (ops == NULL) {
		/* No transport here to say what params holds: nothing is ours. */
		errno = EPROTONOSUPPORT;
		return NULL;
	}
	if (params->qsize < 2 || params->error_cb == NULL || params->receive_cb == NULL) {
		/* What params carries (a socket) is ours in every case. */
		ops->params_release(params);
		errno = EINVAL;
		return NULL;
	}
	return ops->qpair_create(params);
}

void nvmf_qpair_free(struct nvmf_qpair *qp)
{
	if (qp != NULL)
		qp->ops->qpair_free(qp);
}

void nvmf_qpair_get_info(const struct nvmf_qpair *qp, struct nvmf_qpair_info *info)
{
	memset(info, 0, sizeof(*info));
	qp->ops->qpair_get_info(qp, info);
}

bool nvmf_qpair_on_engine_thread(const struct nvmf_qpair *qp)
{
	return qp->ops->on_engine_thread(qp);
}

bool nvmf_qpair_is_admin(const struct nvmf_qpair *qp)
{
	return qp->admin;
}

uint16_t nvmf_qpair_qsize(const struct nvmf_qpair *qp)
{
	return qp->qsize;
}

void nvmf_qpair_set_connected(struct nvmf_qpair *qp, uint16_t qid, uint16_t qsize,
			      bool sq_flow_control)
{
	qp->qid = qid;
	qp->admin = qid == 0;
	if (qsize >= 1 && qsize <= qp->qsize)
		qp->qsize = qsize;
	qp->sq_flow_control = sq_flow_control;
}

uint16_t nvmf_qpair_qid(const struct nvmf_qpair *qp)
{
	return qp->qid;
}

bool nvmf_qpair_sq_flow_control(const struct nvmf_qpair *qp)
{
	return qp->sq_flow_control;
}

struct nvmf_capsule *nvmf_capsule_command(struct nvmf_qpair *qp, const struct nvme_sqe *sqe)
{
	struct nvmf_capsule *nc = qp->ops->capsule_alloc(qp);

	if (nc == NULL)
		return NULL;
	nc->is_response = false;
	nc->sqe = *sqe;
	/* Fabrics always describes data with SGLs. */
	nc->sqe.flags = (uint8_t)((nc->sqe.flags & ~NVME_SQE_PSDT_MASK) | NVME_SQE_PSDT_SGL);
	return nc;
}

struct nvmf_capsule *nvmf_capsule_response(struct nvmf_qpair *qp, const struct nvme_cqe *cqe)
{
	struct nvmf_capsule *nc = qp->ops->capsule_alloc(qp);

	if (nc == NULL)
		return NULL;
	nc->is_response = true;
	nc->cqe = *cqe;
	return nc;
}

/* The CQE answering a received command. */
static struct nvme_cqe response_cqe(const struct nvmf_capsule *cmd, uint16_t status,
				    uint32_t cdw0, uint32_t cdw1)
{
	const struct nvmf_qpair *qp = cmd->qp;

	return (struct nvme_cqe){
		.cdw0 = cdw0,
		.cdw1 = cdw1,
		.sqhd = qp->sq_flow_control ? atomic_load(&qp->sqhd) : NVME_SQHD_INVALID,
		.sqid = qp->qid,
		.cid = cmd->sqe.cid,
		/* Whether the host may retry is the controller's to say. */
		.status = NVME_CQE_STATUS(status, (status & NVME_STATUS_DNR) != 0),
	};
}

struct nvmf_capsule *nvmf_capsule_response_for(struct nvmf_capsule *cmd, uint16_t status,
					       uint32_t cdw0, uint32_t cdw1)
{
	struct nvme_cqe cqe = response_cqe(cmd, status, cdw0, cdw1);

	return nvmf_capsule_response(cmd->qp, &cqe);
}

int nvmf_capsule_respond(struct nvmf_capsule *cmd, uint16_t status, uint32_t cdw0,
			 uint32_t cdw1)
{
	struct nvme_cqe cqe = response_cqe(cmd, status, cdw0, cdw1);

	struct nvmf_capsule *rsp;
	int error;

	if (cmd->is_response || !cmd->qp->controller)
		return -EINVAL;
	/* The ops return positive errno values; the public API negative ones. */
	if (cmd->qp->ops->capsule_respond != NULL)
		return -cmd->qp->ops->capsule_respond(cmd->qp, &cqe);
	/* A transport without the one-step path. */
	rsp = nvmf_capsule_response(cmd->qp, &cqe);
	if (rsp == NULL)
		return -ENOBUFS;
	error = nvmf_capsule_transmit(rsp);
	nvmf_capsule_free(rsp);
	return error;
}

void nvmf_capsule_free(struct nvmf_capsule *nc)
{
	if (nc != NULL)
		nc->qp->ops->capsule_free(nc);
}

struct nvme_sqe *nvmf_capsule_sqe(struct nvmf_capsule *nc)
{
	return nc->is_response ? NULL : &nc->sqe;
}

struct nvme_cqe *nvmf_capsule_cqe(struct nvmf_capsule *nc)
{
	return nc->is_response ? &nc->cqe : NULL;
}

struct nvmf_qpair *nvmf_capsule_qpair(const struct nvmf_capsule *nc)
{
	return nc->qp;
}

bool nvmf_capsule_sqhd_valid(const struct nvmf_capsule *nc)
{
	return nc->sqhd_valid;
}

int nvmf_capsule_append_data(struct nvmf_capsule *nc, const struct nvmf_iov *data, bool send,
			     nvmf_io_complete_cb *complete_cb, void *cb_arg)
{
	if (nc->is_response || nc->qp->controller || nc->has_data)
		return -EINVAL;
	nc->has_data = true;
	nc->data_send = send;
	nc->data = *data;
	nc->data_cb = complete_cb;
	nc->data_cb_arg = cb_arg;
	return 0;
}

int nvmf_capsule_transmit(struct nvmf_capsule *nc)
{
	/* Hosts send commands, controllers send responses. */
	if (nc->is_response != nc->qp->controller)
		return -EINVAL;
	return -nc->qp->ops->capsule_transmit(nc);
}

uint16_t nvmf_capsule_validate_command(const struct nvmf_capsule *nc)
{
	return nc->qp->ops->validate_command(nc);
}

size_t nvmf_capsule_data_len(const struct nvmf_capsule *nc)
{
	return nc->qp->ops->capsule_data_len(nc);
}

int nvmf_receive_controller_data(struct nvmf_capsule *nc, uint32_t data_offset,
				 const struct nvmf_iov *data, nvmf_io_complete_cb *complete_cb,
				 void *cb_arg)
{
	if (nc->is_response || !nc->qp->controller)
		return -EINVAL;
	return -nc->qp->ops->receive_controller_data(nc, data_offset, data, complete_cb, cb_arg);
}

uint16_t nvmf_send_controller_data(struct nvmf_capsule *nc, uint32_t data_offset,
				   const struct nvmf_iov *data, bool success_status,
				   nvmf_io_complete_cb *complete_cb, void *cb_arg)
{
	if (nc->is_response || !nc->qp->controller)
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
	return nc->qp->ops->send_controller_data(nc, data_offset, data, success_status,
						 complete_cb, cb_arg);
}
