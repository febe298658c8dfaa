/* SPDX-License-Identifier: MIT */
/*
 * Transport internals: the generic queue pair, capsule and listener, which
 * each transport embeds first in its own structures, and the ops table
 * through which the public API in include/nvmf/transport.h reaches a
 * transport.  Transports are found by trtype in a table: the built-in ones
 * (listed by the build, src/transport/builtin.c.in) and any registered at
 * run time; the core names none of them.
 */
#ifndef NVMF_TRANSPORT_INTERNAL_H
#define NVMF_TRANSPORT_INTERNAL_H

#include <stdatomic.h>

#include "nvmf/transport.h"

struct nvmf_transport_ops {
	enum nvmf_trtype trtype;
	const char *name;
	/* Owns what params carries (TCP: the socket, a TLS session) from the
	 * call on, and releases it when it fails. */
	struct nvmf_qpair *(*qpair_create)(const struct nvmf_qpair_params *params);
	/* Host: connect to addr, handshakes included. */
	struct nvmf_qpair *(*qpair_connect)(const struct nvmf_addr *addr,
					    const struct nvmf_qpair_params *params,
					    struct nvmf_error *err);
	/* Controller: accept connections on an address. */
	struct nvmf_listener *(*listen)(const struct nvmf_listen_params *params,
					struct nvmf_error *err);
	void (*listener_free)(struct nvmf_listener *listener);
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

struct nvmf_listener {
	const struct nvmf_transport_ops *ops;
	struct nvmf_addr addr;         /* as bound */
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

/* The transport for trtype, or NULL. */
const struct nvmf_transport_ops *nvmf_transport_find(enum nvmf_trtype trtype);
/* Add a transport to the table (tests plug in their own): 0, EEXIST or ENOSPC. */
int nvmf_transport_register(const struct nvmf_transport_ops *ops);

/*
 * Protocol errors, counted per role for the whole process (metrics): they
 * are rare, so a shared atomic each; the I/O path never counts here.
 */
enum nvmf_xport_event {
	NVMF_XPORT_DIGEST_ERROR,       /* header or data digest mismatch */
	NVMF_XPORT_TERMREQ_SENT,
	NVMF_XPORT_TERMREQ_RECEIVED,
	NVMF_XPORT_PDU_ERROR,          /* a fatal error other than a digest */
	NVMF_XPORT_EVENTS
};
void nvmf_transport_count(const struct nvmf_qpair *qp, enum nvmf_xport_event ev);
uint64_t nvmf_transport_events(bool controller, enum nvmf_xport_event ev);

#endif
