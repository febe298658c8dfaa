/* SPDX-License-Identifier: MIT */
/*
 * The command layer: a command context, its states, its data transfers and
 * its completion (cmd.c).  Below the handlers and the connection.
 */
#ifndef NVMF_CONTROLLER_CMD_H
#define NVMF_CONTROLLER_CMD_H

#include <sys/uio.h>

#include "controller/objects.h"
#include "controller/stats.h"

/*
 * A command context's states, one at a time.  Every change goes through
 * cmd_set_state, which in Debug builds (NVMF_DEBUG_CHECKS) checks that the
 * command was in one of the states the caller expects: a command answered
 * twice, or data asked for while the backend runs, aborts there.
 *
 *   FREE -> RECEIVED          a capsule arrived (cmd_get)
 *   RECEIVED -> NEED_DATA     waiting for the host's data (cmd_receive_into)
 *   NEED_DATA -> RECEIVED     the data is in: the handler goes on (cmd->cont)
 *   RECEIVED -> EXECUTING     handed to the backend or a worker (cmd_execute),
 *                             or to a backend's own asynchronous I/O (io.c)
 *   RECEIVED -> HELD          an AER kept for a future event (ctrl->lock)
 *   HELD -> RECEIVED          taken for an event or an Abort (ctrl->lock)
 *   RECEIVED, EXECUTING -> SENDING_DATA
 *                             controller-to-host data queued (cmd_reply_from)
 *   SENDING_DATA -> DONE      the data's last PDU carried SUCCESS: no response
 *   RECEIVED, NEED_DATA, EXECUTING, SENDING_DATA -> DONE
 *                             answered: response queued (cmd_complete)
 *   DONE -> FREE              its last reference went (the transport let go)
 *   HELD -> FREE              dropped unanswered as its admin queue goes
 *
 * References (refs) say when it may go back to the pool: the command's
 * own, one per data transfer the transport holds.
 */
enum cmd_state {
	CMD_FREE = 1u << 0,         /* in its connection's pool */
	CMD_RECEIVED = 1u << 1,     /* its handler runs: decoding, checking, deciding */
	CMD_NEED_DATA = 1u << 2,    /* waiting for host-to-controller data */
	CMD_EXECUTING = 1u << 3,    /* in the backend or on the work queue */
	CMD_HELD = 1u << 4,         /* an AER waiting for an event */
	CMD_SENDING_DATA = 1u << 5, /* controller-to-host data queued, not yet answered */
	CMD_DONE = 1u << 6,         /* answered; references may still be held */
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
	uint64_t resv_seen;            /* preempt-and-aborts before its access check */
	void (*work_fn)(struct nvmf_work *work); /* io.c: run after a last such check */
	/* Counted as it completes (stats.h) when stats is set: an NVM
	 * command on a namespace.  on_worker: it runs on the worker pool. */
	struct conn_ns_stats *stats;
	enum nvmf_io_op op;
	bool on_worker;
	uint64_t stat_bytes;           /* data moved, counted on success */
	uint64_t start_ns;             /* receipt (CLOCK_MONOTONIC) */
	void (*cont)(struct nvmf_cmd *cmd); /* what runs once the data is in */
	struct nvmf_work work;
	struct nvmf_bdev_io bio;       /* backends with submit (io.c) */
};

/* A context from conn's pool, RECEIVED, or NULL when all are in use. */
struct nvmf_cmd *cmd_get(struct nvmf_conn *conn);
/* Run fn with the command EXECUTING: on the target's work queue, or right
 * here when here is set (a backend that does not block). */
void cmd_execute(struct nvmf_cmd *cmd, void (*fn)(struct nvmf_work *work), bool here);
/* The command a work item belongs to. */
struct nvmf_cmd *cmd_of_work(struct nvmf_work *work);
/* The controller's retry policy: every error but a transient transport
 * error tells the host not to retry the command as it is (DNR). */
uint16_t cmd_status_dnr(uint16_t status);
/* Answer the command (status SCT << 8 | SC); cmd_status_dnr adds DNR. */
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
/* Queue an asynchronous event for the host: answer a held AER, or keep
 * it for the next one (any thread but the reaper's lock). */
void ctrl_raise_event(struct nvmf_ctrl *ctrl, uint32_t dw0);
/* Note a failed command in its controller's error log. */
void ctrl_record_error(struct nvmf_ctrl *ctrl, struct nvmf_cmd *cmd, uint16_t status);

#endif
