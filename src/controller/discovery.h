/* SPDX-License-Identifier: MIT */
/* The discovery log (discovery.c). */
#ifndef NVMF_CONTROLLER_DISCOVERY_H
#define NVMF_CONTROLLER_DISCOVERY_H

#include "controller/objects.h"

/* Build the discovery log for a host into a new buffer (free it). */
uint8_t *discovery_log_build(struct nvmf_target *t, struct nvmf_ctrl *ctrl, size_t *len);
/* A digest of what discovery shows, to notice changes on reload. */
uint64_t discovery_signature(struct nvmf_target *t);

#endif
