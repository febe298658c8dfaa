/* SPDX-License-Identifier: MIT */
/* Admin commands and the controller object: properties, features, asynchronous
 * events (admin.c). */
#ifndef NVMF_CONTROLLER_ADMIN_H
#define NVMF_CONTROLLER_ADMIN_H

#include "controller/auth.h"
#include "controller/discovery.h"
#include "controller/cmd.h"
#include "controller/resv.h"

struct nvmf_ctrl *ctrl_create(struct nvmf_target *t, struct nvmf_subsys *subsys,
			      struct nvmf_conn *admin, const struct nvmf_connect_data *data,
			      uint32_t kato_ms, uint16_t *status);
void ctrl_admin_command(struct nvmf_cmd *cmd);
uint16_t ctrl_property_get(struct nvmf_ctrl *ctrl, uint32_t ofst, bool size8, uint64_t *value);
/* Property Set (completes the command, maybe later: shutdown flushes). */
void ctrl_property_set(struct nvmf_cmd *cmd);
void ctrl_touch(struct nvmf_ctrl *ctrl);
void ctrl_touch_at(struct nvmf_ctrl *ctrl, uint64_t now_ms);
void ctrl_ns_changed(struct nvmf_ctrl *ctrl, uint32_t nsid);
void ctrl_discovery_changed(struct nvmf_ctrl *ctrl);
/* An ANA group this controller sees changed state. */
void ctrl_ana_changed(struct nvmf_ctrl *ctrl);
/* Hand back held AERs without answering (the admin queue is going). */
void ctrl_drop_aers(struct nvmf_ctrl *ctrl);
void ctrl_free(struct nvmf_ctrl *ctrl);
/* I/O queues granted by Set Features Number of Queues (all, if not set). */
uint16_t ctrl_granted_io_queues(struct nvmf_ctrl *ctrl);

#endif
