/* SPDX-License-Identifier: MIT */
/* Host messages: status names, failed Connects explained, UUID text. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "host/host_internal.h"

struct status_name {
	uint16_t status;
	const char *name;
};

/* Base 2.0 Figures 100-104 and NVMe-oF 1.1 §2.4. */
static const struct status_name status_names[] = {
	{0x000, "Successful Completion"},
	{0x001, "Invalid Command Opcode"},
	{0x002, "Invalid Field in Command"},
	{0x003, "Command ID Conflict"},
	{0x004, "Data Transfer Error"},
	{0x005, "Commands Aborted due to Power Loss Notification"},
	{0x006, "Internal Error"},
	{0x007, "Command Abort Requested"},
	{0x008, "Command Aborted due to SQ Deletion"},
	{0x009, "Command Aborted due to Failed Fused Command"},
	{0x00a, "Command Aborted due to Missing Fused Command"},
	{0x00b, "Invalid Namespace or Format"},
	{0x00c, "Command Sequence Error"},
	{0x00d, "Invalid SGL Segment Descriptor"},
	{0x00e, "Invalid Number of SGL Descriptors"},
	{0x00f, "Data SGL Length Invalid"},
	{0x010, "Metadata SGL Length Invalid"},
	{0x011, "SGL Descriptor Type Invalid"},
	{0x015, "Operation Denied"},
	{0x016, "SGL Offset Invalid"},
	{0x018, "Host Identifier Inconsistent Format"},
	{0x019, "Keep Alive Timer Expired"},
	{0x01a, "Keep Alive Timeout Invalid"},
	{0x01b, "Command Aborted due to Preempt and Abort"},
	{0x01c, "Sanitize Failed"},
	{0x01d, "Sanitize In Progress"},
	{0x020, "Namespace is Write Protected"},
	{0x021, "Command Interrupted"},
	{0x022, "Transient Transport Error"},
	{0x080, "LBA Out of Range"},
	{0x081, "Capacity Exceeded"},
	{0x082, "Namespace Not Ready"},
	{0x083, "Reservation Conflict"},
	{0x084, "Format In Progress"},
	{0x100, "Completion Queue Invalid"},
	{0x101, "Invalid Queue Identifier"},
	{0x102, "Invalid Queue Size"},
	{0x103, "Abort Command Limit Exceeded"},
	{0x105, "Asynchronous Event Request Limit Exceeded"},
	{0x106, "Invalid Firmware Slot"},
	{0x107, "Invalid Firmware Image"},
	{0x109, "Invalid Log Page"},
	{0x10a, "Invalid Format"},
	{0x10c, "Invalid Queue Deletion"},
	{0x10d, "Feature Identifier Not Saveable"},
	{0x10e, "Feature Not Changeable"},
	{0x10f, "Feature Not Namespace Specific"},
	/* 80h-82h mean one thing for Fabrics commands, another for I/O. */
	{0x180, "Connect Incompatible Format / Conflicting Attributes"},
	{0x181, "Connect Controller Busy / Invalid Protection Information"},
	{0x182, "Connect Invalid Parameters / Attempted Write to Read Only Range"},
	{0x183, "Connect Restart Discovery"},
	{0x184, "Connect Invalid Host"},
	{0x185, "Invalid Queue Type"},
	{0x190, "Discovery Restart"},
	{0x191, "Authentication Required"},
	{0x280, "Write Fault"},
	{0x281, "Unrecovered Read Error"},
	{0x282, "End-to-end Guard Check Error"},
	{0x283, "End-to-end Application Tag Check Error"},
	{0x284, "End-to-end Reference Tag Check Error"},
	{0x285, "Compare Failure"},
	{0x286, "Access Denied"},
	{0x287, "Deallocated or Unwritten Logical Block"},
	{0x300, "Internal Path Error"},
	{0x301, "Asymmetric Access Persistent Loss"},
	{0x302, "Asymmetric Access Inaccessible"},
	{0x303, "Asymmetric Access Transition"},
	{0x360, "Controller Pathing Error"},
	{0x370, "Host Pathing Error"},
	{0x371, "Command Aborted By Host"},
};

const char *nvmf_status_str(uint16_t status)
{
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (status_names[i].status == (status & 0x7ff))
			return status_names[i].name;
	return "Unknown Status";
}

static const char *error_str(int error)
{
	switch (error) {
	case EBADMSG:
		return "data digest mismatch";
	case ENODEV:
		return "controller lost (ctrl-loss-tmo expired)";
	case ESHUTDOWN:
		return "controller disconnected";
	case ECONNABORTED:
		return "connection lost";
	case ETIMEDOUT:
		return "no response (timeout)";
	default:
		return strerror(error);
	}
}

const char *nvmf_cpl_str(const struct nvmf_cpl *cpl, char *buf, size_t len)
{
	if (cpl->error != 0)
		snprintf(buf, len, "%s", error_str(cpl->error));
	else if (cpl->status == 0)
		snprintf(buf, len, "success");
	else
		snprintf(buf, len, "%s (SCT %#x, SC %#x%s)", nvmf_status_str(cpl->status),
			 NVME_STATUS_SCT(cpl->status), NVME_STATUS_SC(cpl->status),
			 cpl->dnr ? ", DNR" : "");
	return buf;
}

void host_set_error(struct nvmf_error *err, int errnum, uint16_t status, const char *fmt, ...)
{
	va_list ap;

	err->errnum = errnum;
	err->status = status;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void host_connect_error(const struct nvmf_ctrl *c, uint16_t qid, const struct nvmf_cpl *cpl,
			struct nvmf_error *err)
{
	/* Invalid Parameters DW0: IPO (byte offset) 15:0, IATTR bit 16 (1: in the data). */
	uint32_t ipo = cpl->cdw0 & 0xffff;
	bool in_data = (cpl->cdw0 & NVMF_CONNECT_IPO_DATA) != 0;
	char why[128];

	switch (cpl->status) {
	case NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST):
		host_set_error(err, 0, cpl->status, "host %s is not allowed to connect to %s "
			       "(Connect Invalid Host)", c->hostnqn, c->subnqn);
		break;
	case NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAMETERS):
		if (in_data && ipo == offsetof(struct nvmf_connect_data, subnqn))
			host_set_error(err, 0, cpl->status, "unknown subsystem NQN %s at %s:%s "
				       "(Connect Invalid Parameters)", c->subnqn, c->traddr,
				       c->trsvcid);
		else if (in_data && ipo == offsetof(struct nvmf_connect_data, hostnqn))
			host_set_error(err, 0, cpl->status, "host NQN %s refused by %s (Connect "
				       "Invalid Parameters)", c->hostnqn, c->subnqn);
		else if (in_data && ipo == offsetof(struct nvmf_connect_data, cntlid))
			host_set_error(err, 0, cpl->status, "queue %u: controller ID %u refused "
				       "(Connect Invalid Parameters)", qid,
				       atomic_load(&((struct nvmf_ctrl *)c)->cntlid));
		else if (!in_data && ipo == offsetof(struct nvmf_connect_cmd, sqsize))
			host_set_error(err, 0, cpl->status, "queue %u: size %u refused (Connect "
				       "Invalid Parameters)", qid,
				       qid == 0 ? HOST_ADMIN_QSIZE : c->io_qsize);
		else
			host_set_error(err, 0, cpl->status, "Connect (queue %u) to %s: invalid "
				       "parameter at %s byte %u", qid, c->name,
				       in_data ? "data" : "command", ipo);
		break;
	default:
		host_set_error(err, 0, cpl->status, "Connect (queue %u) to %s refused: %s", qid,
			       c->name, nvmf_cpl_str(cpl, why, sizeof(why)));
		break;
	}
	err->dnr = cpl->dnr;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int host_parse_uuid(const char *s, uint8_t uuid[16])
{
	int n = 0;

	for (int i = 0; i < 36; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			continue;
		}
		hi = hex_digit(s[i]);
		lo = hi < 0 ? -1 : hex_digit(s[i + 1]);
		if (lo < 0)
			return -EINVAL;
		uuid[n++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return s[36] == '\0' || s[36] == '\n' ? 0 : -EINVAL;
}

void host_format_uuid(const uint8_t u[16], char out[NVMF_UUID_STR_SIZE])
{
	snprintf(out, NVMF_UUID_STR_SIZE,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
		 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
		 u[15]);
}
