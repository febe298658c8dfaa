/* SPDX-License-Identifier: MIT */
/*
 * The command layer: a command context, its states, its data transfers and
 * its completion (cmd.c).  Below the handlers and the connection.
 */
#ifndef NVMF_CONTROLLER_CMD_H
#define NVMF_CONTROLLER_CMD_H

#include <sys/uio.h>

#include "controller/objects.h"

/*
 * A command context's life.  Every change goes through cmd_set_state
 * (cmd.c), which checks it in Debug builds: a second completion of one
 * command (a response sent twice) aborts there.
 *
 *   FREE -> RUNNING          received (cmd_get)
 *   RUNNING -> DATA_IN       waiting for the host's data (cmd_receive_into)
 *   DATA_IN -> RUNNING       the data is in
 *   RUNNING -> HELD          an AER kept for a future event (ctrl->lock)
 *   HELD -> RUNNING          taken for an event or an Abort (ctrl->lock)
 *   RUNNING, DATA_IN -> DONE answered: response queued, or C2H SUCCESS sent
 *   DONE -> FREE             its last reference went (the transport let go)
 *   HELD -> FREE             dropped unanswered as its admin queue goes
 *
 * References (refs) say when it may go back to the pool: the command's
 * own, one per data transfer the transport holds, one per work item.
 */
enum cmd_state {
	CMD_FREE = 1u << 0,
	CMD_RUNNING = 1u << 1,
	CMD_DATA_IN = 1u << 2,
	CMD_HELD = 1u << 3,
	CMD_DONE = 1u << 4,
};

struct nvmf_cmd {
	struct nvmf_conn *conn;
	struct nvmf_capsule *nc;
	struct nvmf_cmd *next_free;
	_Atomic unsigned state;        /* enum cmd_state */
	struct nvmf_ns *ns;            /* held while the command runs */
	_Atomic int refs;              /* the command + a data transfer */
	uint8_t *buf;                  /* grows to the largest transfer, kept */
	size_t buf_cap;
	size_t len;
	struct iovec iov;
	uint64_t offset;               /* bytes into the namespace */
	bool fua;
	bool deallocate;               /* Write Zeroes DEAC */
	bool holds_cid;                /* its CID is marked in conn->cids_in_flight */
	void (*cont)(struct nvmf_cmd *cmd); /* what runs once the data is in */
	struct nvmf_work work;
};

/* A context from conn's pool, RUNNING, or NULL when all are in use. */
struct nvmf_cmd *cmd_get(struct nvmf_conn *conn);
/* Answer the command; status as the controller decided it, DNR included. */
void cmd_complete(struct nvmf_cmd *cmd, uint16_t status, uint32_t dw0, uint32_t dw1);
void cmd_put(struct nvmf_cmd *cmd);
/* Move cmd from one of the states in from (a mask) to to. */
void cmd_set_state(struct nvmf_cmd *cmd, unsigned from, enum cmd_state to);
/* Make cmd->buf hold len bytes; false if out of memory. */
bool cmd_buf(struct nvmf_cmd *cmd, size_t len);
/* Send cmd->buf[0..len) to the host, then complete with success. */
void cmd_reply_data(struct nvmf_cmd *cmd, size_t len);
/* The same, from len bytes at data (which outlives the command). */
void cmd_reply_from(struct nvmf_cmd *cmd, void *data, size_t len);
/* Pull the command's host-to-controller data into cmd->buf, then call done. */
void cmd_receive_data(struct nvmf_cmd *cmd, size_t len, void (*done)(struct nvmf_cmd *cmd));
/* The same, into len bytes at dst (which outlives the command). */
void cmd_receive_into(struct nvmf_cmd *cmd, void *dst, size_t len,
		      void (*done)(struct nvmf_cmd *cmd));
/* The SGL length, checked to be exactly len and in the given direction. */
uint16_t cmd_check_data(struct nvmf_cmd *cmd, size_t len, bool to_host);
struct nvme_sqe *cmd_sqe(struct nvmf_cmd *cmd);
/* No response capsule is free: the host is not reading; drop the queue. */
void conn_overrun(struct nvmf_conn *conn, uint16_t cid);
/* Note a failed command in its controller's error log. */
void ctrl_record_error(struct nvmf_ctrl *ctrl, struct nvmf_cmd *cmd, uint16_t status);

#endif
