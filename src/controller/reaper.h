/* SPDX-License-Identifier: MIT */
/* Timers and teardown threads (reaper.c); the hand-offs to them are in
 * objects.h. */
#ifndef NVMF_CONTROLLER_REAPER_H
#define NVMF_CONTROLLER_REAPER_H

#include "controller/conn.h"

int reaper_start(struct nvmf_target *t);
/* After shutdown: every connection is gone. */
void reaper_stop(struct nvmf_target *t);

#endif
