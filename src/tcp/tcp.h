/* SPDX-License-Identifier: MIT */
/*
 * Inside the TCP transport: what its files share.  tcp_qpair.c, tcp_rx.c
 * and tcp_tx.c hold the queue pairs (lifetime, receive, transmit; their
 * own shared insides are in tcp_internal.h), tcp_conn.c the connections
 * (the host's connect, the controller's listeners and TLS handshakes).
 */
#ifndef NVMF_TCP_TCP_H
#define NVMF_TCP_TCP_H

#include "transport/transport.h"

extern const struct nvmf_transport_ops nvmf_tcp_transport;

/* A queue pair on a connected socket (params->tcp.fd, maybe .tls). */
struct nvmf_qpair *tcp_qpair_create(const struct nvmf_qpair_params *params);

struct nvmf_qpair *tcp_qpair_connect(const struct nvmf_addr *addr,
				     const struct nvmf_qpair_params *params,
				     struct nvmf_error *err);
struct nvmf_listener *tcp_listen(const struct nvmf_listen_params *params, struct nvmf_error *err);
void tcp_listener_free(struct nvmf_listener *listener);

#endif
