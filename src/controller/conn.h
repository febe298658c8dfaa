/* SPDX-License-Identifier: MIT */
/* Connections: Connect, command dispatch, the context pool (conn.c). */
#ifndef NVMF_CONTROLLER_CONN_H
#define NVMF_CONTROLLER_CONN_H

#include "controller/admin.h"
#include "controller/io.h"
#include "controller/auth.h"

/* A connection on port, and the parameters of its queue pair (TCP, no fd). */
struct nvmf_conn *conn_alloc(struct nvmf_target *t, const struct nvmf_port *port,
			     struct nvmf_qpair_params *params);
/* Frees a connection that has no queue pair, or whose queue pair is freed. */
void conn_release(struct nvmf_conn *conn);
/* Stops the transport; true when no command runs any more (then call
 * conn_finish), else the last one to end hands it to teardown (teardown
 * thread only). */
bool conn_stop(struct nvmf_conn *conn);
/* Unlinks a stopped, idle connection from its controller and frees both
 * as their last references go (teardown thread only). */
void conn_finish(struct nvmf_conn *conn);

/*
 * Admission, for listeners and for connections without sockets (tests,
 * fuzz targets): reserve one on portid (counted against max_connections)
 * and get its queue pair parameters; create the queue pair with them, with
 * any transport (the callbacks may run before attach); then attach it, or
 * abandon the reservation.
 */
struct nvmf_conn *target_conn_reserve(struct nvmf_target *t, uint16_t portid,
				      struct nvmf_qpair_params *params, int *error);
void target_conn_attach(struct nvmf_target *t, struct nvmf_conn *conn, struct nvmf_qpair *qp);
void target_conn_abandon(struct nvmf_target *t, struct nvmf_conn *conn);

#endif
