/* SPDX-License-Identifier: MIT */
/*
 * NVM command set I/O commands: Read, Write (FUA), Flush, Write Zeroes,
 * Dataset Management (deallocate) and Compare (NVM Command Set 1.0 §3).
 * Reservations (resv.c) are checked first.  Checks run on the receive
 * thread; the backend call runs inline for backends that never block
 * (ramdisk), is submitted to backends with their own asynchronous I/O
 * (RBD), and runs on the worker pool otherwise.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "controller/ana.h"
#include "controller/io.h"
#include "util/log.h"
#include "util/testpoint.h"

#define NSID_BROADCAST 0xffffffffu
#define SC_NS_WRITE_PROTECTED 0x20 /* SCT 1 (Base 2.0 §4.6.1.2.2) */
#define NLB(cdw12) (((cdw12) & 0xffffu) + 1)

uint16_t io_errno_status(int rc, bool write)
{
	switch (-rc) {
	case ENOSPC:
	case EDQUOT:
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_CAPACITY_EXCEEDED);
	case EROFS:
	case EPERM:
	case EACCES:
	case EBADF:
		return NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC, SC_NS_WRITE_PROTECTED);
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENOTCONN:
	case ESHUTDOWN:
		/* Storage behind this controller out of reach (a Ceph cluster):
		 * retryable, and another path may still reach it. */
		return NVME_STATUS(NVME_SCT_PATH, NVME_SC_INTERNAL_PATH_ERROR);
	case EIO:
		return write ? NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT)
			     : NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_UNRECOVERED_READ_ERROR);
	default:
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
	}
}

static void io_abort_preempted(struct nvmf_cmd *cmd)
{
	cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORTED_PREEMPT_ABORT), 0, 0);
}

/* A command of a namespace with reservations, off the work queue: its
 * host may have been preempted with abort while it waited there. */
static void io_work_checked(struct nvmf_work *work)
{
	struct nvmf_cmd *cmd = cmd_of_work(work);

	if (resv_io_aborted(cmd))
		io_abort_preempted(cmd);
	else
		cmd->work_fn(work);
}

static void io_run(struct nvmf_cmd *cmd, void (*fn)(struct nvmf_work *work))
{
	bool here = cmd->ns->bdev->ops->inline_io;

	if (cmd->ns->resv != NULL) {
		/* Its host was preempted with abort while its data came in. */
		if (resv_io_aborted(cmd)) {
			io_abort_preempted(cmd);
			return;
		}
		if (!here) {
			cmd->work_fn = fn;
			fn = io_work_checked;
		}
	}
	cmd_execute(cmd, fn, here);
}

static void io_log_error(struct nvmf_cmd *cmd, const char *what, int rc)
{
	NVMF_ERR("nvmfd: namespace %u: %s of %zu bytes at %llu failed: %s", cmd->ns->nsid, what,
		 cmd->len, (unsigned long long)cmd->offset, strerror(-rc));
}

/*
 * A backend's asynchronous I/O finished, on one of its threads.  The
 * command is answered from here as a worker answers it: the response or
 * the read data is queued on the queue pair, whose engine thread is woken
 * to send it; this thread never touches the socket.
 */
static void io_submitted_done(struct nvmf_bdev_io *bio, int rc)
{
	static const char *const what[] = {
		[NVMF_BDEV_READ] = "read",
		[NVMF_BDEV_WRITE] = "write",
		[NVMF_BDEV_FLUSH] = "flush",
		[NVMF_BDEV_WRITE_ZEROES] = "write zeroes",
	};
	struct nvmf_cmd *cmd = (struct nvmf_cmd *)((uint8_t *)bio - offsetof(struct nvmf_cmd, bio));

	if (rc != 0) {
		io_log_error(cmd, what[bio->op], rc);
		cmd_complete(cmd, io_errno_status(rc, bio->op != NVMF_BDEV_READ), 0, 0);
	} else if (bio->op == NVMF_BDEV_READ) {
		cmd_reply_data(cmd, cmd->len);
	} else {
		cmd_complete(cmd, 0, 0, 0);
	}
}

/* Runs EXECUTING on the receive thread: the completion may come before
 * submit returns, and finds the command in the state it expects. */
static void submit_work(struct nvmf_work *work)
{
	struct nvmf_cmd *cmd = cmd_of_work(work);

	cmd->ns->bdev->ops->submit(cmd->ns->bdev, &cmd->bio);
}

/* Hands the command to a backend with its own asynchronous I/O; false: none. */
static bool io_submit(struct nvmf_cmd *cmd, enum nvmf_bdev_op op)
{
	if (cmd->ns->bdev->ops->submit == NULL)
		return false;
	cmd->bio = (struct nvmf_bdev_io){
		.op = op,
		.buf = cmd->buf,
		.offset = cmd->offset,
		.len = cmd->len,
		.fua = cmd->fua,
		.deallocate = cmd->deallocate,
		.done = io_submitted_done,
	};
	cmd_execute(cmd, submit_work, true);
	return true;
}

static void read_work(struct nvmf_work *work)
{
	struct nvmf_cmd *cmd = cmd_of_work(work);
	struct nvmf_bdev *bdev = cmd->ns->bdev;
	int rc;

	NVMF_TESTPOINT("controller.io.read", cmd); /* a backend read that hangs */
	rc = bdev->ops->read(bdev, cmd->buf, cmd->len, cmd->offset);

	if (rc != 0) {
		io_log_error(cmd, "read", rc);
		cmd_complete(cmd, io_errno_status(rc, false), 0, 0);
		return;
	}
	cmd_reply_data(cmd, cmd->len);
}

static void write_work(struct nvmf_work *work)
{
	struct nvmf_cmd *cmd = cmd_of_work(work);
	struct nvmf_bdev *bdev = cmd->ns->bdev;
	int rc = bdev->ops->write(bdev, cmd->buf, cmd->len, cmd->offset, cmd->fua);

	if (rc != 0)
		io_log_error(cmd, "write", rc);
	cmd_complete(cmd, rc != 0 ? io_errno_status(rc, true) : 0, 0, 0);
}

static void write_data_in(struct nvmf_cmd *cmd)
{
	if (!io_submit(cmd, NVMF_BDEV_WRITE))
		io_run(cmd, write_work);
}

/* The data landed in the namespace itself: nothing left to do. */
static void write_data_in_place(struct nvmf_cmd *cmd)
{
	cmd_complete(cmd, 0, 0, 0);
}

static void compare_work(struct nvmf_work *work)
{
	struct nvmf_cmd *cmd = cmd_of_work(work);
	struct nvmf_bdev *bdev = cmd->ns->bdev;
	uint8_t *media = cmd->buf + cmd->len;
	int rc = bdev->ops->read(bdev, media, cmd->len, cmd->offset);

	if (rc != 0) {
		io_log_error(cmd, "compare read", rc);
		cmd_complete(cmd, io_errno_status(rc, false), 0, 0);
		return;
	}
	cmd_complete(cmd,
		     memcmp(cmd->buf, media, cmd->len) == 0
			     ? 0
			     : NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILURE),
		     0, 0);
}

static void compare_data_in(struct nvmf_cmd *cmd)
{
	io_run(cmd, compare_work);
}

static void flush_work(struct nvmf_work *work)
{
	struct nvmf_cmd *cmd = cmd_of_work(work);
	struct nvmf_bdev *bdev = cmd->ns->bdev;
	int rc = bdev->ops->flush(bdev);

	if (rc != 0)
		io_log_error(cmd, "flush", rc);
	cmd_complete(cmd, rc != 0 ? io_errno_status(rc, true) : 0, 0, 0);
}

static void flush_all_work(struct nvmf_work *work)
{
	struct nvmf_cmd *cmd = cmd_of_work(work);
	int rc = subsys_flush_all(cmd->conn->ctrl->subsys);

	cmd_complete(cmd, rc != 0 ? io_errno_status(rc, true) : 0, 0, 0);
}

static void write_zeroes_work(struct nvmf_work *work)
{
	struct nvmf_cmd *cmd = cmd_of_work(work);
	struct nvmf_bdev *bdev = cmd->ns->bdev;
	int rc = bdev->ops->write_zeroes(bdev, cmd->offset, cmd->len, cmd->deallocate);

	if (rc != 0)
		io_log_error(cmd, "write zeroes", rc);
	cmd_complete(cmd, rc != 0 ? io_errno_status(rc, true) : 0, 0, 0);
}

static void dsm_work(struct nvmf_work *work)
{
	struct nvmf_cmd *cmd = cmd_of_work(work);
	struct nvmf_bdev *bdev = cmd->ns->bdev;
	const struct nvme_dsm_range *ranges = (const struct nvme_dsm_range *)cmd->buf;
	size_t n = cmd->len / sizeof(*ranges);
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++)
		if (ranges[i].nlb != 0)
			rc = bdev->ops->deallocate(bdev, ranges[i].slba << cmd->ns->lbads,
						   (uint64_t)ranges[i].nlb << cmd->ns->lbads);
	if (rc != 0)
		NVMF_ERR("nvmfd: namespace %u: deallocate failed: %s", cmd->ns->nsid, strerror(-rc));
	cmd_complete(cmd, rc != 0 ? io_errno_status(rc, true) : 0, 0, 0);
}

static void dsm_data_in(struct nvmf_cmd *cmd)
{
	const struct nvme_dsm_range *ranges = (const struct nvme_dsm_range *)cmd->buf;
	size_t n = cmd->len / sizeof(*ranges);

	uint64_t nsze = atomic_load_explicit(&cmd->ns->nsze, memory_order_relaxed);

	for (size_t i = 0; i < n; i++) {
		if (ranges[i].slba > nsze || ranges[i].nlb > nsze - ranges[i].slba) {
			cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE), 0, 0);
			return;
		}
	}
	/* Only the deallocate attribute does anything; hints are accepted. */
	if ((cmd_sqe(cmd)->cdw11 & NVME_DSM_ATTR_DEALLOCATE) == 0) {
		cmd_complete(cmd, 0, 0, 0);
		return;
	}
	for (size_t i = 0; i < n; i++)
		cmd->stat_bytes += (uint64_t)ranges[i].nlb << cmd->ns->lbads;
	io_run(cmd, dsm_work);
}

/* The LBA range of a Read/Write/Compare/Write Zeroes, in bytes. */
static uint16_t io_range(struct nvmf_cmd *cmd, uint64_t *offset, uint64_t *len)
{
	const struct nvme_sqe *sqe = cmd_sqe(cmd);
	uint64_t slba = sqe->cdw10 | ((uint64_t)sqe->cdw11 << 32);
	uint64_t nlb = NLB(sqe->cdw12);
	uint64_t nsze = atomic_load_explicit(&cmd->ns->nsze, memory_order_relaxed);

	if (slba > nsze || nlb > nsze - slba)
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_LBA_OUT_OF_RANGE);
	*offset = slba << cmd->ns->lbads;
	*len = nlb << cmd->ns->lbads;
	return 0;
}

/*
 * Each I/O command's start: 0 when it is under way (it completes itself), or
 * the status to complete it with now.
 */
static uint16_t io_start_read(struct nvmf_cmd *cmd)
{
	uint64_t offset, len;
	uint16_t st = io_range(cmd, &offset, &len);

	if (st == 0)
		st = cmd_check_data(cmd, len, true);
	if (st != 0)
		return st;
	cmd->stat_bytes = len;
	if (cmd->ns->bdev->ops->map != NULL) {
		/* Sent straight from the namespace's memory. */
		cmd_reply_from(cmd, cmd->ns->bdev->ops->map(cmd->ns->bdev, offset, len, false), len);
		return 0;
	}
	if (!cmd_buf(cmd, len))
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
	cmd->offset = offset;
	cmd->len = len;
	if (!io_submit(cmd, NVMF_BDEV_READ))
		io_run(cmd, read_work);
	return 0;
}

static uint16_t io_start_write(struct nvmf_cmd *cmd)
{
	const struct nvme_sqe *sqe = cmd_sqe(cmd);
	uint64_t offset, len;
	uint16_t st;

	if (cmd->ns->bdev->readonly)
		return NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC, SC_NS_WRITE_PROTECTED);
	st = io_range(cmd, &offset, &len);
	if (st == 0)
		st = cmd_check_data(cmd, len, false);
	if (st != 0)
		return st;
	cmd->offset = offset;
	/* With the write cache off, every write is durable on completion. */
	cmd->fua = (sqe->cdw12 & NVME_RW_FUA) != 0 || !atomic_load(&cmd->conn->ctrl->vwc);
	cmd->stat_bytes = len;
	/* With reservations the data waits in a buffer, so that a
	 * preempt-and-abort can still keep it off the media. */
	if (cmd->ns->bdev->ops->map != NULL && cmd->ns->resv == NULL) {
		/*
		 * Straight into the namespace's memory.  A write failed by a
		 * data digest error may leave its range partly written, as
		 * any Write that completes with an error may.
		 */
		uint8_t *mem = cmd->ns->bdev->ops->map(cmd->ns->bdev, offset, len, true);

		cmd_receive_into(cmd, mem, len, write_data_in_place);
		return 0;
	}
	cmd_receive_data(cmd, len, write_data_in);
	return 0;
}

static uint16_t io_start_compare(struct nvmf_cmd *cmd)
{
	uint64_t offset, len;
	uint16_t st = io_range(cmd, &offset, &len);

	if (st == 0)
		st = cmd_check_data(cmd, len, false);
	if (st != 0)
		return st;
	/* Host data, then the media copy behind it. */
	if (!cmd_buf(cmd, 2 * len))
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
	cmd->offset = offset;
	cmd->stat_bytes = len;
	cmd_receive_data(cmd, len, compare_data_in);
	return 0;
}

static uint16_t io_start_write_zeroes(struct nvmf_cmd *cmd)
{
	uint64_t offset, len;
	uint16_t st;

	if (cmd->ns->bdev->readonly)
		return NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC, SC_NS_WRITE_PROTECTED);
	st = io_range(cmd, &offset, &len);
	if (st == 0)
		st = cmd_check_data(cmd, 0, false);
	if (st != 0)
		return st;
	cmd->offset = offset;
	cmd->len = len;
	cmd->stat_bytes = len;
	cmd->deallocate = (cmd_sqe(cmd)->cdw12 & NVME_WZ_DEAC) != 0;
	if (!io_submit(cmd, NVMF_BDEV_WRITE_ZEROES))
		io_run(cmd, write_zeroes_work);
	return 0;
}

static uint16_t io_start_dsm(struct nvmf_cmd *cmd)
{
	const struct nvme_sqe *sqe = cmd_sqe(cmd);
	size_t len = ((sqe->cdw10 & 0xff) + 1) * sizeof(struct nvme_dsm_range);
	uint16_t st;

	if (cmd->ns->bdev->readonly && (sqe->cdw11 & NVME_DSM_ATTR_DEALLOCATE))
		return NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC, SC_NS_WRITE_PROTECTED);
	st = cmd_check_data(cmd, len, false);
	if (st != 0)
		return st;
	cmd_receive_data(cmd, len, dsm_data_in);
	return 0;
}

static uint16_t io_start_flush(struct nvmf_cmd *cmd)
{
	if (!io_submit(cmd, NVMF_BDEV_FLUSH))
		io_run(cmd, flush_work);
	return 0;
}

void ctrl_io_command(struct nvmf_cmd *cmd)
{
	const struct nvme_sqe *sqe = cmd_sqe(cmd);
	struct nvmf_conn *conn = cmd->conn;
	struct nvmf_ctrl *ctrl = conn->ctrl;
	uint16_t st = 0;

	if (!ctrl_ready(ctrl)) {
		cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR), 0, 0);
		return;
	}
	if (sqe->opc == NVME_IO_FLUSH && sqe->nsid == NSID_BROADCAST) {
		cmd_execute(cmd, flush_all_work, false);
		return;
	}
	cmd->ns = subsys_get_ns(ctrl->subsys, sqe->nsid);
	if (cmd->ns == NULL) {
		cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_NAMESPACE_OR_FORMAT),
			     0, 0);
		return;
	}
	if (stats_op_of(sqe->opc, &cmd->op))
		cmd->stats = conn_ns_stats(conn, sqe->nsid);
	/* Not on a path whose group is inaccessible, lost or in transition. */
	st = ana_io_status(ctrl, cmd->ns);
	if (st != 0) {
		cmd_complete(cmd, st, 0, 0);
		return;
	}
	if (cmd->ns->resv != NULL && resv_is_command(sqe->opc)) {
		resv_io_command(cmd);
		return;
	}
	if (cmd->ns->resv != NULL && (st = resv_io_check(cmd)) != 0) {
		cmd_complete(cmd, st, 0, 0);
		return;
	}
	switch (sqe->opc) {
	case NVME_IO_READ:
		st = io_start_read(cmd);
		break;
	case NVME_IO_WRITE:
		st = io_start_write(cmd);
		break;
	case NVME_IO_COMPARE:
		st = io_start_compare(cmd);
		break;
	case NVME_IO_FLUSH:
		st = io_start_flush(cmd);
		break;
	case NVME_IO_WRITE_ZEROES:
		st = io_start_write_zeroes(cmd);
		break;
	case NVME_IO_DATASET_MANAGEMENT:
		st = io_start_dsm(cmd);
		break;
	default:
		st = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
		break;
	}
	if (st != 0)
		cmd_complete(cmd, st, 0, 0);
}
