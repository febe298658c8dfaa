/* SPDX-License-Identifier: MIT */
/*
 * Transport internals: the generic queue pair and capsule, which each
 * transport embeds first in its own structures, and the ops table through
 * which the public API in include/nvmf/transport.h reaches a transport.
 */
#ifndef NVMF_TRANSPORT_INTERNAL_H
#define NVMF_TRANSPORT_INTERNAL_H

#include <stdatomic.h>

#include "nvmf/transport.h"

struct nvmf_transport_ops {
	/* Owns what params carries (TCP: the socket, a TLS session) from the
	 * call on, and releases it when it fails. */
	struct nvmf_qpair *(*qpair_create)(const struct nvmf_qpair_params *params);
	/* Release what params carries, unused (creation refused before it). */
	void (*params_release)(const struct nvmf_qpair_params *params);
	void (*qpair_free)(struct nvmf_qpair *qp);
	void (*qpair_get_info)(const struct nvmf_qpair *qp, struct nvmf_qpair_info *info);
	bool (*on_engine_thread)(const struct nvmf_qpair *qp);
	/* rx: a capsule for a received PDU; otherwise one the upper layer sends */
	struct nvmf_capsule *(*capsule_alloc)(struct nvmf_qpair *qp);
	void (*capsule_free)(struct nvmf_capsule *nc);
	int (*capsule_transmit)(struct nvmf_capsule *nc);
	/* Allocate, queue and hand over a response in one step (optional). */
	int (*capsule_respond)(struct nvmf_qpair *qp, const struct nvme_cqe *cqe);
	uint16_t (*validate_command)(const struct nvmf_capsule *nc);
	size_t (*capsule_data_len)(const struct nvmf_capsule *nc);
	int (*receive_controller_data)(struct nvmf_capsule *nc, uint32_t data_offset,
				       const struct nvmf_iov *data, nvmf_io_complete_cb *cb,
				       void *cb_arg);
	uint16_t (*send_controller_data)(struct nvmf_capsule *nc, uint32_t data_offset,
					 const struct nvmf_iov *data, bool success_status,
					 nvmf_io_complete_cb *cb, void *cb_arg);
};

struct nvmf_qpair {
	const struct nvmf_transport_ops *ops;
	struct nvmf_engine *engine;
	bool controller;
	bool admin;
	bool sq_flow_control;
	uint16_t qid;
	uint16_t qsize;
	/* Controller: SQ head reported in responses, advanced per command.
	 * Host: the last SQ head the controller reported. */
	_Atomic uint16_t sqhd;
	nvmf_qpair_error_cb *error_cb;
	nvmf_capsule_received_cb *receive_cb;
	void *cb_arg;
};

struct nvmf_capsule {
	struct nvmf_qpair *qp;
	bool is_response;
	bool sqhd_valid;
	union {
		struct nvme_sqe sqe;
		struct nvme_cqe cqe;
	};
	/* Host command data, from nvmf_capsule_append_data. */
	bool has_data;
	bool data_send;
	struct nvmf_iov data;
	nvmf_io_complete_cb *data_cb;
	void *data_cb_arg;
};

/* Fill the generic part of a new qpair from its parameters. */
void nvmf_qpair_init(struct nvmf_qpair *qp, const struct nvmf_transport_ops *ops,
		     const struct nvmf_qpair_params *params);
/* Hand a received capsule to the upper layer. */
void nvmf_qpair_deliver(struct nvmf_qpair *qp, struct nvmf_capsule *nc);

extern const struct nvmf_transport_ops nvmf_tcp_ops;

#endif
