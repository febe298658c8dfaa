/* SPDX-License-Identifier: MIT */
/* Ports' listeners (listen.c). */
#ifndef NVMF_CONTROLLER_LISTEN_H
#define NVMF_CONTROLLER_LISTEN_H

#include "controller/conn.h"

/* Listen on the port's address; 0, or an errno with err. */
int port_listen(struct nvmf_target *t, struct nvmf_port *port, char *err, size_t errlen);
/* A reload keeps a port's listener: it moves to the new port object. */
void port_listener_move(struct nvmf_port *to, struct nvmf_port *from);
/* Free the listener (no connection arrives after; not under the target lock). */
void port_stop(struct nvmf_port *port);
/* Shutdown: every port's listener, each handshake under way attached or
 * abandoned before it returns. */
void port_stop_all(struct nvmf_target *t);

#endif
