/* SPDX-License-Identifier: MIT */
/*
 * The command layer (cmd.h): a command context's states, its data
 * transfers and its completion.  The handlers (admin.c, io.c, auth.c) and
 * the connection (conn.c) finish commands through these; the status they
 * pass already carries the DNR the controller decided on.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/cmd.h"
#include "util/clock.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/testpoint.h"

struct nvme_sqe *cmd_sqe(struct nvmf_cmd *cmd)
{
	return nvmf_capsule_sqe(cmd->nc);
}

/* ------------------------------------------------------------------ */
/* Command contexts                                                    */
/* ------------------------------------------------------------------ */

void cmd_set_state(struct nvmf_cmd *cmd, unsigned from, enum cmd_state to)
{
#ifdef NVMF_DEBUG_CHECKS
	unsigned seen = atomic_load(&cmd->state);

	do {
		if ((seen & from) == 0) {
			fprintf(stderr, "nvmfd: cid %u: command state %#x, expected one of %#x "
				"(moving to %#x)\n", cmd->nc != NULL ? cmd_sqe(cmd)->cid : 0, seen,
				from, (unsigned)to);
			abort();
		}
	} while (!atomic_compare_exchange_weak(&cmd->state, &seen, (unsigned)to));
#else
	(void)from;
	atomic_store_explicit(&cmd->state, (unsigned)to, memory_order_relaxed);
#endif
}

struct nvmf_cmd *cmd_get(struct nvmf_conn *conn)
{
	struct nvmf_cmd *cmd;

	nvmf_mutex_lock(&conn->lock);
	cmd = conn->free_cmds;
	if (cmd != NULL) {
		conn->free_cmds = cmd->next_free;
		conn->inflight++;
	}
	nvmf_mutex_unlock(&conn->lock);
	if (cmd != NULL) {
		cmd_set_state(cmd, CMD_FREE, CMD_RECEIVED);
		atomic_store(&cmd->refs, 1);
		cmd->ns = NULL;
		cmd->len = 0;
		cmd->fua = false;
		cmd->stats = NULL;
		cmd->on_worker = false;
		cmd->stat_bytes = 0;
	}
	return cmd;
}

/*
 * The host may reuse a CID as soon as it sees the command's response, which
 * can be before the last reference to the context goes: release the CID
 * before the response (or the C2HData that ends the command) is queued.
 */
static void cmd_release_cid(struct nvmf_cmd *cmd)
{
	uint16_t cid;

	if (!cmd->holds_cid)
		return;
	cid = cmd_sqe(cmd)->cid;
	atomic_fetch_and(&cmd->conn->cids_in_flight[cid / 64], ~(1ull << (cid % 64)));
	cmd->holds_cid = false;
}

void cmd_put(struct nvmf_cmd *cmd)
{
	struct nvmf_conn *conn = cmd->conn;

	if (atomic_fetch_sub(&cmd->refs, 1) != 1)
		return;
	if (cmd->ns != NULL) {
		ns_put(cmd->ns);
		cmd->ns = NULL;
	}
	cmd_release_cid(cmd); /* a command that ends without a response */
	cmd_set_state(cmd, CMD_DONE | CMD_HELD, CMD_FREE);
	nvmf_capsule_free(cmd->nc);
	cmd->nc = NULL;
	nvmf_mutex_lock(&conn->lock);
	cmd->next_free = conn->free_cmds;
	conn->free_cmds = cmd;
	/* The last command of a stopped connection frees it: touch it no more. */
	if (--conn->inflight == 0 && conn->draining)
		teardown_conn_drained(conn);
	nvmf_mutex_unlock(&conn->lock);
}

struct nvmf_cmd *cmd_of_work(struct nvmf_work *work)
{
	return (struct nvmf_cmd *)((uint8_t *)work - offsetof(struct nvmf_cmd, work));
}

void cmd_execute(struct nvmf_cmd *cmd, void (*fn)(struct nvmf_work *work), bool here)
{
	cmd_set_state(cmd, CMD_RECEIVED, CMD_EXECUTING);
	cmd->work.fn = fn;
	cmd->on_worker = !here;
	if (here)
		fn(&cmd->work);
	else
		nvmf_workq_submit(cmd->conn->target->wq, &cmd->work);
}

bool cmd_buf(struct nvmf_cmd *cmd, size_t len)
{
	size_t cap = 4096;
	void *p;

	if (len <= cmd->buf_cap)
		return true;
	while (cap < len)
		cap <<= 1;
	/* Grows only: a queue settles on buffers of its largest transfer. */
	if (posix_memalign(&p, 4096, cap) != 0)
		return false;
	free(cmd->buf);
	cmd->buf = p;
	cmd->buf_cap = cap;
	return true;
}

/*
 * No response capsule is free: the host has more commands outstanding than
 * its queue holds (NVMe-oF 1.1 §2.3) and is not reading the responses.
 * Nothing more can be answered on this queue, so it is dropped, with one
 * log line rather than one per command.
 */
void conn_overrun(struct nvmf_conn *conn, uint16_t cid)
{
	if (!atomic_exchange(&conn->overrun, true))
		NVMF_WARN("nvmfd: %s: queue %u: the host sends far more commands than the queue holds without reading the responses (cid %u); closing the connection",
			  conn->peer, conn->qid, cid);
	conn_mark_closing(conn);
}

uint16_t cmd_status_dnr(uint16_t status)
{
	/* A data digest error may pass on a second try (TCP 1.0a §3.6.2.13);
	 * a path status (ANA) on another path, or this one later. */
	if (status == 0 || status == NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_TRANSIENT_TRANSPORT_ERROR) ||
	    (status >> 8) == NVME_SCT_PATH)
		return status;
	return status | NVME_STATUS_DNR;
}

/* Count a command on its namespace as it ends, on the completing thread. */
static void cmd_account(struct nvmf_cmd *cmd, uint16_t status)
{
	struct conn_ns_stats *s = cmd->stats;

	if (s == NULL)
		return;
	cmd->stats = NULL;
	stats_complete(s, cmd->op, status == 0 ? cmd->stat_bytes : 0,
		       nvmf_now_ns() - cmd->start_ns, cmd->on_worker);
	if (status != 0)
		stats_note_error(cmd->conn->ctrl->subsys, s->nsid, cmd->op, status);
}

void cmd_complete(struct nvmf_cmd *cmd, uint16_t status, uint32_t dw0, uint32_t dw1)
{
	int error;

	cmd_set_state(cmd, CMD_RECEIVED | CMD_NEED_DATA | CMD_EXECUTING | CMD_SENDING_DATA,
		      CMD_DONE);
	cmd_account(cmd, status);
	if (status != 0 && cmd->conn->ctrl != NULL)
		ctrl_record_error(cmd->conn->ctrl, cmd, status);
	cmd_release_cid(cmd);
	/* One step: the transport frees the response once it is sent. */
	error = NVMF_FAULT("controller.cmd_complete.respond", cmd);
	if (error == 0)
		error = -nvmf_capsule_respond(cmd->nc, cmd_status_dnr(status), dw0, dw1);
	if (error == ENOBUFS)
		conn_overrun(cmd->conn, cmd_sqe(cmd)->cid);
	else if (error != 0)
		NVMF_DEBUG("nvmfd: %s: response to cid %u dropped: connection closing",
			   cmd->conn->peer, cmd_sqe(cmd)->cid);
	cmd_put(cmd);
}

static void data_sent(void *arg, size_t xfered, int error)
{
	cmd_put(arg);
}

void cmd_reply_data(struct nvmf_cmd *cmd, size_t len)
{
	cmd_reply_from(cmd, cmd->buf, len);
}

void cmd_reply_from(struct nvmf_cmd *cmd, void *buf, size_t len)
{
	struct nvmf_iov data;
	uint16_t st;

	if (len == 0) {
		cmd_complete(cmd, 0, 0, 0);
		return;
	}
	cmd->iov = (struct iovec){.iov_base = buf, .iov_len = len};
	data = (struct nvmf_iov){.iov = &cmd->iov, .iovcnt = 1, .len = len};
	cmd_release_cid(cmd); /* the data may end the command (C2H SUCCESS) */
	atomic_fetch_add(&cmd->refs, 1); /* released once the transport lets go */
	cmd_set_state(cmd, CMD_RECEIVED | CMD_EXECUTING, CMD_SENDING_DATA);
	st = nvmf_send_controller_data(cmd->nc, 0, &data, true, data_sent, cmd);
	if (st == NVMF_SUCCESS_SENT) {
		cmd_account(cmd, 0);
		cmd_set_state(cmd, CMD_SENDING_DATA, CMD_DONE);
		cmd_put(cmd);
		return;
	}
	if (st != 0)
		cmd_put(cmd); /* not queued: no callback will come */
	cmd_complete(cmd, st, 0, 0);
}

static void data_received(void *arg, size_t xfered, int error)
{
	struct nvmf_cmd *cmd = arg;

	if (error == EBADMSG) {
		/* A data digest error fails this command only (TCP 1.0a §3.6.2.13). */
		cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_TRANSIENT_TRANSPORT_ERROR),
			     0, 0);
		return;
	}
	if (error != 0) {
		cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_DATA_TRANSFER_ERROR), 0,
			     0);
		return;
	}
	cmd_set_state(cmd, CMD_NEED_DATA, CMD_RECEIVED);
	cmd->cont(cmd);
}

void cmd_receive_data(struct nvmf_cmd *cmd, size_t len, void (*done)(struct nvmf_cmd *cmd))
{
	if (!cmd_buf(cmd, len)) {
		cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR), 0,
			     0);
		return;
	}
	cmd_receive_into(cmd, cmd->buf, len, done);
}

void cmd_receive_into(struct nvmf_cmd *cmd, void *dst, size_t len,
		      void (*done)(struct nvmf_cmd *cmd))
{
	struct nvmf_iov data;
	int error;

	cmd->len = len;
	if (len == 0) {
		done(cmd);
		return;
	}
	cmd->iov = (struct iovec){.iov_base = dst, .iov_len = len};
	data = (struct nvmf_iov){.iov = &cmd->iov, .iovcnt = 1, .len = len};
	cmd->cont = done;
	/* In-capsule data arrives within the call. */
	cmd_set_state(cmd, CMD_RECEIVED, CMD_NEED_DATA);
	error = nvmf_receive_controller_data(cmd->nc, 0, &data, data_received, cmd);
	if (error != 0)
		cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_DATA_TRANSFER_ERROR), 0,
			     0);
}

uint16_t cmd_check_data(struct nvmf_cmd *cmd, size_t len, bool to_host)
{
	const struct nvme_sgl_desc *sgl = &cmd_sqe(cmd)->sgl1;

	/* In-capsule data only ever flows host to controller (TCP 1.0a §3.3.1). */
	if (to_host && sgl->type == NVME_SGL_ID_ICD && sgl->length != 0)
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	if (nvmf_capsule_data_len(cmd->nc) != len)
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID);
	return 0;
}



void ctrl_record_error(struct nvmf_ctrl *ctrl, struct nvmf_cmd *cmd, uint16_t status)
{
	const struct nvme_sqe *sqe = cmd_sqe(cmd);
	struct nvme_error_log_entry *e;

	nvmf_mutex_lock(&ctrl->lock);
	e = &ctrl->errors[ctrl->error_count % CTRL_ERROR_SLOTS];
	memset(e, 0, sizeof(*e));
	e->error_count = ++ctrl->error_count;
	e->sqid = cmd->conn->qid;
	e->cid = sqe->cid;
	e->status = NVME_CQE_STATUS(status, false);
	e->parm_error_location = 0xffff;
	e->nsid = sqe->nsid;
	e->trtype = NVMF_TRTYPE_TCP;
	nvmf_mutex_unlock(&ctrl->lock);
}

void ctrl_raise_event(struct nvmf_ctrl *ctrl, uint32_t dw0)
{
	struct nvmf_cmd *aer = NULL;

	nvmf_mutex_lock(&ctrl->lock);
	if (ctrl->naers > 0) {
		aer = ctrl->aers[0];
		memmove(ctrl->aers, ctrl->aers + 1, --ctrl->naers * sizeof(ctrl->aers[0]));
		cmd_set_state(aer, CMD_HELD, CMD_RECEIVED);
	} else {
		bool queued = false;

		for (unsigned i = 0; i < ctrl->nevents; i++)
			queued |= ctrl->events[i] == dw0;
		if (!queued && ctrl->nevents < CTRL_EVENTS_MAX)
			ctrl->events[ctrl->nevents++] = dw0;
	}
	nvmf_mutex_unlock(&ctrl->lock);
	if (aer != NULL)
		cmd_complete(aer, 0, dw0, 0);
}
