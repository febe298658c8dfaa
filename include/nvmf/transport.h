/* SPDX-License-Identifier: MIT */
/*
 * Transport-independent queue pair and capsule API.
 *
 * A queue pair (qpair) is one NVMe submission/completion queue pair carried
 * over one transport connection, in either the host or the controller role.
 * Upper layers exchange capsules (a 64-byte SQE or a 16-byte CQE plus an
 * optional data buffer) through it; everything below - PDU framing, digests,
 * in-capsule data, R2T/H2CData and C2HData transfers - is the transport's
 * business.  The TCP transport is the first implementation; a transport plugs
 * in through an ops table (see src/transport/transport.h).
 *
 * Threading: callbacks (capsule received, I/O complete, qpair error) run on a
 * transport thread.  They must not block, and must not free the qpair they
 * are called for; everything else in this API may be called from them.
 */
#ifndef NVMF_TRANSPORT_H
#define NVMF_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "nvmf/error.h"
#include "nvmf/spec.h"

#ifdef __cplusplus
extern "C" {
#endif

struct nvmf_qpair;
struct nvmf_capsule;
struct nvmf_engine;
struct nvmf_listener;
struct nvmf_tls_key;
struct nvmf_tls_session;

/* A transport address: what a discovery log entry and nvme-cli name. */
struct nvmf_addr {
	enum nvmf_trtype trtype;
	enum nvmf_adrfam adrfam;   /* TCP: IPv4 or IPv6 */
	char traddr[256];          /* TCP: a numeric address; loop: any name */
	char trsvcid[32];          /* TCP: the port; "0" lets a listener pick one */
};

/* TLS 1.3 with a PSK under NVMe/TCP (TP 8011), as a port asks for it. */
enum nvmf_tcp_tls {
	NVMF_TCP_TLS_NONE = 0,   /* plaintext */
	NVMF_TCP_TLS_REQUIRED,   /* TLS only: a plaintext ICReq is refused */
	NVMF_TCP_TLS_OPTIONAL,   /* controller: either, by the host's first byte */
};

typedef int nvmf_tls_lookup_fn(void *arg, const char *hostnqn, const char *subnqn,
			       struct nvmf_tls_key *key);

/*
 * Called once when the qpair stops: error is 0 for an orderly close by the
 * peer, else a positive errno: EPROTO for a protocol violation by the peer
 * (we sent a TermReq), ECONNRESET for a TermReq received or a reset
 * mid-PDU, EOPNOTSUPP for a TermReq refusing one of our parameters (FES 06h,
 * e.g. digests the peer does not permit).  nvmf_qpair_create fails with the
 * same errno values in the host role.
 */
typedef void nvmf_qpair_error_cb(void *arg, int error);

/* A command capsule (controller role) or response capsule (host role). */
typedef void nvmf_capsule_received_cb(void *arg, struct nvmf_capsule *nc);

/*
 * A data transfer attached to a capsule has finished and the transport no
 * longer touches the caller's buffer.  error is 0, or a positive errno:
 * EBADMSG for a data digest mismatch, ECONNABORTED when the qpair went away.
 */
typedef void nvmf_io_complete_cb(void *arg, size_t xfered, int error);

/* A caller's data buffer: an iovec list and the bytes it covers. */
struct nvmf_iov {
	const struct iovec *iov; /* must stay valid until the data completes */
	int iovcnt;
	size_t len;              /* <= sum of iov lengths */
};

/* TCP connection parameters (see the NVMe/TCP specification, ICReq/ICResp). */
struct nvmf_tcp_params {
	int fd;                  /* nvmf_qpair_create: a connected stream socket,
	                            the qpair owns it (ignored by connect/listen) */
	bool header_digests;     /* host: request; controller: permit */
	bool data_digests;
	uint8_t pda;             /* our PDU data alignment (0..31); 0 interoperates */
	uint32_t maxr2t;         /* host: MAXR2T to offer (0's based) */
	uint32_t maxh2cdata;     /* controller: MAXH2CDATA to offer (>= 4096, %4) */
	uint32_t max_icd;        /* host: in-capsule bytes usable on this queue;
	                            controller: in-capsule bytes accepted */
	uint32_t max_c2h_data;   /* controller: split C2HData PDUs at this size */
	uint32_t max_io_size;    /* largest transfer a command may carry */
	uint32_t connect_timeout_ms; /* host: time allowed for ICResp */
	/* On a fatal protocol error, close the connection without the TermReq
	 * the specification asks for (as the Linux target does): Linux hosts
	 * before the receive guard of 6.12 crash on a C2HTermReq (README). */
	bool close_on_fatal;
	/* nvmf_qpair_create: a TLS session already handshaken on fd
	 * (include/nvmf/tls.h), or NULL for plain TCP; the qpair owns it from
	 * here, as it owns fd. */
	struct nvmf_tls_session *tls;
	/* TLS for nvmf_qpair_connect and listeners: whether to run it. */
	enum nvmf_tcp_tls tls_mode;
	/* Host: the configured PSK, and the NQNs its identity names. */
	const struct nvmf_tls_key *tls_key;
	const char *tls_hostnqn;
	const char *tls_subnqn;
	int tls_identity_version; /* 0: NVMe0R.. (default), 1: NVMe1R.. (TP 8018) */
	/* Controller: the PSK of the host an identity names (nvmf/tls.h). */
	nvmf_tls_lookup_fn *tls_lookup;
	void *tls_lookup_arg;
};

struct nvmf_qpair_params {
	enum nvmf_trtype trtype;
	bool controller;         /* role: true for the controller side */
	bool admin;              /* QID 0 */
	bool sq_flow_control;    /* maintain SQHD; the controller learns it from
	                            Connect (nvmf_qpair_set_connected) */
	uint16_t qsize;          /* queue entries (1's based); the controller
	                            passes the most it will accept */
	struct nvmf_engine *engine; /* NULL: the default engine */
	nvmf_qpair_error_cb *error_cb;
	nvmf_capsule_received_cb *receive_cb;
	void *cb_arg;
	union {
		struct nvmf_tcp_params tcp;
	};
};

/* What the connection negotiated, for the upper layer and for logs. */
struct nvmf_qpair_info {
	bool header_digests;
	bool data_digests;
	uint8_t txpda;           /* alignment we pad to, bytes */
	uint8_t rxpda;           /* alignment the peer pads to, bytes */
	uint32_t maxr2t;         /* 0's based */
	uint32_t maxh2cdata;
	uint32_t max_icd;
	const char *tls_cipher;  /* TLS 1.3 cipher suite, or NULL without TLS */
	/* Controller, with TLS: the host and subsystem of the PSK identity
	 * (Connect must name these); "" without TLS. */
	const char *tls_hostnqn;
	const char *tls_subnqn;
};

/*
 * Queue pairs.  nvmf_qpair_create takes ownership of what the transport's
 * parameters carry (TCP: the socket and TLS session) in every case: it is
 * released on failure.  It returns NULL with errno set on failure; a trtype
 * this library has no transport for fails with EPROTONOSUPPORT, and then
 * nothing in params is touched.  In
 * the host role it returns once the connection is initialised (ICReq/ICResp
 * done); it must not be called on an engine thread.  In the controller role
 * it returns at once, the peer's ICReq is answered as it arrives, and the
 * callbacks may run before nvmf_qpair_create has returned: they get the
 * qpair through the capsule (nvmf_capsule_qpair), not from the caller.
 */
struct nvmf_qpair *nvmf_qpair_create(const struct nvmf_qpair_params *params);

/*
 * Host: a queue pair to addr, made by its transport: it connects, runs its
 * handshakes (TCP: TLS 1.3 when params->tcp.tls_mode asks, then
 * ICReq/ICResp), and returns the queue pair ready for Fabrics Connect.
 * params->trtype is addr->trtype.  NULL with err filled (one line).
 * Not on an engine thread.
 */
struct nvmf_qpair *nvmf_qpair_connect(const struct nvmf_addr *addr,
				      const struct nvmf_qpair_params *params,
				      struct nvmf_error *err);

/*
 * Controller: a listener accepts connections on an address, runs the
 * transport's handshakes and hands over queue pairs.  For each connection,
 * on a thread of the listener's:
 *   accept(arg, peer, params, &conn): fill in params (role, callbacks,
 *     limits; TCP: digests permitted, TLS mode and PSK lookup) for its
 *     queue pair and return 0 with conn the owner's handle for it, or an
 *     errno to refuse it (the transport closes it);
 *   attach(conn, qp, err): the queue pair, or NULL when the handshakes or
 *     its creation failed (err says why); either way conn is the owner's
 *     again.  The queue pair's callbacks may have run before attach.
 */
struct nvmf_peer {
	char name[64];             /* the remote end, for log lines ("ADDR:PORT") */
	char local_traddr[64];     /* the address the peer reached us on */
};

struct nvmf_listen_ops {
	int (*accept)(void *arg, const struct nvmf_peer *peer, struct nvmf_qpair_params *params,
		      void **conn);
	void (*attach)(void *conn, struct nvmf_qpair *qp, const struct nvmf_error *err);
};

struct nvmf_listen_params {
	struct nvmf_addr addr;
	const struct nvmf_listen_ops *ops;
	void *arg;
	uint32_t handshake_timeout_ms; /* TLS: a handshake must finish within */
};

/* Listen on params->addr; NULL with err filled. */
struct nvmf_listener *nvmf_listen(const struct nvmf_listen_params *params,
				  struct nvmf_error *err);
/* The address as bound (a trsvcid of "0" becomes the port picked). */
void nvmf_listener_addr(const struct nvmf_listener *listener, struct nvmf_addr *addr);
/*
 * Stop: no connection is accepted from here on, handshakes under way are
 * cut short, and every accepted connection has been attached (with a
 * queue pair or NULL) by the time this returns.  No callback runs after.
 */
void nvmf_listener_free(struct nvmf_listener *listener);
/*
 * Lets queued PDUs leave (briefly), stops the transport, completes every
 * outstanding transfer with ECONNABORTED, closes the socket.  Capsules the
 * caller still holds stay valid until freed; transmitting them fails.
 * The event-loop engines allow this from the queue pair's own callbacks;
 * the threads engine does not (its threads cannot join themselves).
 */
void nvmf_qpair_free(struct nvmf_qpair *qp);
void nvmf_qpair_get_info(const struct nvmf_qpair *qp, struct nvmf_qpair_info *info);
bool nvmf_qpair_is_admin(const struct nvmf_qpair *qp);
uint16_t nvmf_qpair_qsize(const struct nvmf_qpair *qp);
/*
 * Controller: record what an accepted Connect asked for: the queue ID (QID 0
 * makes it the admin queue), the queue size (<= the qsize the qpair was
 * created with) and whether SQ flow control stays on (CATTR bit 2 clear).
 */
void nvmf_qpair_set_connected(struct nvmf_qpair *qp, uint16_t qid, uint16_t qsize,
			      bool sq_flow_control);
uint16_t nvmf_qpair_qid(const struct nvmf_qpair *qp);
bool nvmf_qpair_sq_flow_control(const struct nvmf_qpair *qp);
/* The qpair's engine thread, when the caller runs on it (for inline work). */
bool nvmf_qpair_on_engine_thread(const struct nvmf_qpair *qp);

/*
 * Capsules.  Allocation takes a capsule from the qpair's pool (no heap
 * allocation) and returns NULL when the pool is empty.  The SQE/CQE is
 * copied in.
 */
struct nvmf_capsule *nvmf_capsule_command(struct nvmf_qpair *qp, const struct nvme_sqe *sqe);
struct nvmf_capsule *nvmf_capsule_response(struct nvmf_qpair *qp, const struct nvme_cqe *cqe);
/* A response for a received command: CID, SQID and SQHD filled in.  status
 * is SCT << 8 | SC, with NVME_STATUS_DNR where the controller tells the host
 * not to retry: the transport copies it as it is. */
struct nvmf_capsule *nvmf_capsule_response_for(struct nvmf_capsule *cmd, uint16_t status,
					       uint32_t cdw0, uint32_t cdw1);
/*
 * Controller: answer a received command in one step: the response is built
 * as nvmf_capsule_response_for does, queued, and released by the transport
 * once sent.  0 or a negative errno (-ENOBUFS, -ECONNABORTED).
 */
int nvmf_capsule_respond(struct nvmf_capsule *cmd, uint16_t status, uint32_t cdw0,
			 uint32_t cdw1);
void nvmf_capsule_free(struct nvmf_capsule *nc);
struct nvme_sqe *nvmf_capsule_sqe(struct nvmf_capsule *nc);
struct nvme_cqe *nvmf_capsule_cqe(struct nvmf_capsule *nc);
struct nvmf_qpair *nvmf_capsule_qpair(const struct nvmf_capsule *nc);
/* Host: whether the CQE's SQHD means anything: false without SQ flow
 * control.  A response synthesised from a C2H SUCCESS flag carries, with
 * flow control on, the SQ head one past the last one reported. */
bool nvmf_capsule_sqhd_valid(const struct nvmf_capsule *nc);

/*
 * Host: attach the command's data buffer.  send is true for host-to-
 * controller data (writes).  complete_cb runs once the transfer is finished
 * and the transport has released the buffer (for reads, before the response
 * capsule is delivered).  The transport picks in-capsule data or R2T
 * transfers and fills in SGL1.
 */
int nvmf_capsule_append_data(struct nvmf_capsule *nc, const struct nvmf_iov *data, bool send,
			     nvmf_io_complete_cb *complete_cb, void *cb_arg);

/*
 * Queue a capsule for transmission.  The transport takes its own reference
 * for as long as it needs the capsule; the caller still frees its own with
 * nvmf_capsule_free (at once, if it has no further use for it).
 */
int nvmf_capsule_transmit(struct nvmf_capsule *nc);

/*
 * Controller: check a received command's SGL against the transport (returns
 * an nvme status, SCT << 8 | SC), and the length of the data it describes.
 */
uint16_t nvmf_capsule_validate_command(const struct nvmf_capsule *nc);
size_t nvmf_capsule_data_len(const struct nvmf_capsule *nc);

/*
 * Controller: pull len bytes of the command's host-to-controller data at
 * data_offset into the caller's buffer, from in-capsule data or via
 * R2T/H2CData.  complete_cb runs on completion or error.
 */
int nvmf_receive_controller_data(struct nvmf_capsule *nc, uint32_t data_offset,
				 const struct nvmf_iov *data, nvmf_io_complete_cb *complete_cb,
				 void *cb_arg);

/*
 * Controller: send the bytes at data_offset of the command's controller-to-
 * host data as one or more C2HData PDUs.  May be called repeatedly with
 * increasing offsets; the piece that reaches the end of the command's data
 * (nvmf_capsule_data_len) carries LAST_PDU.  If that piece is sent with
 * success_status true while SQ flow control is disabled, it also carries the
 * SUCCESS flag and ends the command: NVMF_SUCCESS_SENT is returned and the
 * caller must not send a response.  complete_cb (may be NULL) runs when the
 * transport has released the caller's buffer; it does not run when the
 * call fails.  Returns an nvme status (0 on success) or NVMF_SUCCESS_SENT.
 */
#define NVMF_SUCCESS_SENT 0xffffu
uint16_t nvmf_send_controller_data(struct nvmf_capsule *nc, uint32_t data_offset,
				   const struct nvmf_iov *data, bool success_status,
				   nvmf_io_complete_cb *complete_cb, void *cb_arg);

/*
 * Engines drive the queue pairs' sockets: the threads engine gives every
 * queue pair its own receive and transmit threads; an event-loop engine
 * serves many queue pairs from one thread and may busy-poll.  The default
 * (params.engine NULL) is event loops that poll briefly after activity
 * (hybrid); when its threads cannot be started, creating a queue pair
 * fails with that errno.
 */
enum nvmf_engine_kind {
	NVMF_ENGINE_THREADS,     /* receive + transmit thread per qpair, sleeping */
	NVMF_ENGINE_EPOLL,       /* one event-loop thread for many qpairs */
};

/* Start from nvmf_engine_params_init() or nvmf_engine_parse() (size: as
 * struct nvmf_host_opts). */
struct nvmf_engine_params {
	size_t size;             /* sizeof(struct nvmf_engine_params), by the init */
	enum nvmf_engine_kind kind;
	unsigned nthreads;       /* EPOLL: loop threads (qpairs spread over them) */
	int cpu;                 /* EPOLL: pin loop thread i to cpu + i; -1: none */
	/* EPOLL: busy-poll this long (us) after the last event before sleeping;
	 * 0 sleeps at once, NVMF_ENGINE_POLL_FOREVER never sleeps. */
	uint32_t poll_usec;
};
#define NVMF_ENGINE_POLL_FOREVER UINT32_MAX

/* One EPOLL loop thread, unpinned, sleeping when idle; and size. */
void nvmf_engine_params_init(struct nvmf_engine_params *params);
/* NULL with errno set (EINVAL: bad parameters or an unknown size). */
struct nvmf_engine *nvmf_engine_create(const struct nvmf_engine_params *params);
/* All qpairs using the engine must have been freed first. */
void nvmf_engine_destroy(struct nvmf_engine *engine);
/*
 * Parse "KIND[,threads=N][,cpu=C][,poll=USEC]": KIND is threads, epoll
 * (sleeps when idle), poll (never sleeps) or hybrid (polls 50 us, or USEC,
 * after the last event, then sleeps).  Returns 0 or -EINVAL.
 */
int nvmf_engine_parse(const char *spec, struct nvmf_engine_params *params);

#ifdef __cplusplus
}
#endif

#endif /* NVMF_TRANSPORT_H */
