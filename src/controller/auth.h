/* SPDX-License-Identifier: MIT */
/* DH-HMAC-CHAP (TP 8006) on the controller's queues (auth.c). */
#ifndef NVMF_CONTROLLER_AUTH_H
#define NVMF_CONTROLLER_AUTH_H

#include "controller/cmd.h"

/* Parse and check a configuration's host entries; 0, or an errno with err. */
int auth_hosts_parse(const struct nvmf_target_conf *conf, struct host_cred **out,
		     char *err, size_t errlen);
/* Cleanse and free. */
void auth_hosts_free(struct host_cred *hosts, unsigned n);
/* A host's entry (target lock held), or NULL. */
const struct host_cred *auth_find_host(const struct nvmf_target *t, const char *hostnqn);
/* The credentials a host's association on subsys uses (target lock held). */
void auth_ctrl_creds(const struct nvmf_target *t, const struct nvmf_subsys *subsys,
		     const char *hostnqn, struct ctrl_auth *out);
/*
 * After a queue's Connect: make the queue wait for authentication when the
 * association needs it.  Returns the Connect response's AUTHREQ bits
 * (NVMF_CONNECT_RSP_ATR or 0), or -ENOMEM.
 */
int auth_queue_setup(struct nvmf_conn *conn, const struct ctrl_auth *creds,
		     const char *hostnqn, const char *subnqn, uint32_t kato_ms);
/* Authentication Send / Receive (fctype 05h / 06h). */
void auth_send(struct nvmf_cmd *cmd);
void auth_receive(struct nvmf_cmd *cmd);
void auth_queue_free(struct nvmf_conn *conn);
void auth_creds_clear(struct ctrl_auth *creds);

#endif
