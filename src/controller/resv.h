/* SPDX-License-Identifier: MIT */
/*
 * Persistent reservations (resv.c): the per-namespace registrants and
 * reservation, the access rules every I/O command passes, the
 * Reservation Register / Acquire / Release / Report commands, the
 * reservation features (81h-83h), the Reservation Notification log page
 * and its event, and the state file that keeps a reservation across
 * restarts when persist through power loss (PTPL) is set.
 *
 * Below io.c and admin.c, above cmd.c.  Registrants are keyed by host
 * identifier, so every controller of one host shares them.
 */
#ifndef NVMF_CONTROLLER_RESV_H
#define NVMF_CONTROLLER_RESV_H

#include <sys/types.h>

#include "controller/cmd.h"

/* Give ns reservations (target.c, at namespace open): with state_dir,
 * the state file is loaded, and a torn or corrupt one refuses the
 * namespace, saying why in err.  0 or a positive errno. */
int resv_ns_init(struct nvmf_ns *ns, const char *state_dir, char *err, size_t errlen);

/* Identify Namespace RESCAP for ns (0: no reservations). */
uint8_t resv_rescap(const struct nvmf_ns *ns);

/* io.c, for a namespace with reservations: */
bool resv_is_command(uint8_t opc);
/* Register, Acquire, Release or Report (completes the command). */
void resv_io_command(struct nvmf_cmd *cmd);
/* 0, or Reservation Conflict for this host's command under the current
 * reservation; remembers what preempt-and-abort has done so far. */
uint16_t resv_io_check(struct nvmf_cmd *cmd);
/* The command's host was preempted with abort since resv_io_check. */
bool resv_io_aborted(struct nvmf_cmd *cmd);

/* admin.c: Get/Set Features 81h, 82h, 83h (completes the command). */
void resv_get_features(struct nvmf_cmd *cmd, unsigned sel);
void resv_set_features(struct nvmf_cmd *cmd);
/* Get Log Page 80h: the oldest notice, taken off the queue. */
void resv_log_page(struct nvmf_ctrl *ctrl, struct nvme_resv_notification_log *log, bool retain);
/* reaper.c, target lock held: deliver to subsys's controllers the
 * notices other gateways' reservation commands raised (shared stores). */
void resv_deliver_remote_locked(struct nvmf_subsys *subsys);
/* Free what the controller kept for reservations (ctrl_free). */
void resv_ctrl_free(struct nvmf_ctrl *ctrl);

/* The state file's loader, for the fuzz target: 0, or -EINVAL with why. */
int resv_state_parse(const uint8_t *data, size_t len, uint32_t nsid, const uint8_t uuid[16],
		     char *why, size_t whylen);
/* A notice message from another gateway, for the fuzz target: decoded and
 * encoded again into out (cap >= len); the length written, or -EINVAL if
 * the message is refused. */
ssize_t resv_msg_reencode(const uint8_t *msg, size_t len, uint8_t *out, size_t cap);

#endif
