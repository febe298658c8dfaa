/* SPDX-License-Identifier: MIT */
/* NVM command set commands (io.c). */
#ifndef NVMF_CONTROLLER_IO_H
#define NVMF_CONTROLLER_IO_H

#include "controller/resv.h"

void ctrl_io_command(struct nvmf_cmd *cmd);
/* Map a backend errno to an NVMe status. */
uint16_t io_errno_status(int rc, bool write);

#endif
