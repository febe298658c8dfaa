/* SPDX-License-Identifier: MIT */
/*
 * What the rbd tests ask of a host that the nvmf command does not show.
 *
 *   rbd_host ids URI NSID
 *     prints the namespace's identification descriptors (Identify CNS 03h),
 *     one "TYPE HEX" a line: what a multipath host matches gateways on.
 *   rbd_host resize URI NSID WANT_BYTES COMMAND [ARGS...]
 *     connects, runs COMMAND (rbd resize), waits up to 60 s for the
 *     Namespace Attribute Changed event, then checks that namespace NSID
 *     holds WANT_BYTES.
 *   rbd_host notice URI NSID HOSTNQN HOSTID WANT_TYPE COMMAND [ARGS...]
 *     connects as that host, runs COMMAND (a reservation command through
 *     another gateway), waits up to 60 s for the Reservation Log Page
 *     Available event and checks the notice it brought: type WANT_TYPE
 *     (enum nvme_resv_notice_type) for namespace NSID.
 *
 * Exit 0 on success, 1 otherwise, 2 on bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nvmf/host.h"
#include "nvmf/spec.h"

#define WAIT_MS 60000

static _Atomic unsigned events;
static _Atomic uint32_t last_cdw0;
static struct nvme_resv_notification_log last_notice; /* before events counts it */

/* On the controller's thread, after the namespaces were identified again. */
static void on_aen(void *arg, uint32_t cdw0, const void *log, size_t log_len)
{
	(void)arg;
	if (log != NULL && log_len >= sizeof(last_notice) &&
	    cdw0 == NVME_AER_DW0(NVME_AER_TYPE_IO_SPECIFIC, NVME_AER_IO_RESV_LOG,
				 NVME_LOG_RESERVATION))
		memcpy(&last_notice, log, sizeof(last_notice));
	atomic_store(&last_cdw0, cdw0);
	atomic_fetch_add(&events, 1);
}

static int run(char **argv)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "rbd_host: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static uint64_t ns_bytes(struct nvmf_ctrl *ctrl, uint32_t nsid)
{
	struct nvmf_ns *ns = nvmf_ctrl_ns(ctrl, nsid);

	return ns != NULL ? nvmf_ns_size_bytes(ns) : 0;
}

static struct nvmf_ctrl *connect_uri(const char *uri, const char *hostnqn, const char *hostid,
				     char *buf, size_t len)
{
	struct nvmf_host_opts opts;
	struct nvmf_error err;
	struct nvmf_ctrl *ctrl;

	nvmf_host_opts_init(&opts);
	if (nvmf_parse_uri(uri, &opts, buf, len) != 0) {
		fprintf(stderr, "rbd_host: bad URI %s\n", uri);
		return NULL;
	}
	opts.aen_cb = on_aen;
	opts.hostnqn = hostnqn;
	opts.hostid = hostid;
	ctrl = nvmf_connect(&opts, &err);
	if (ctrl == NULL)
		fprintf(stderr, "rbd_host: connect: %s\n", err.msg);
	return ctrl;
}

static int cmd_ids(struct nvmf_ctrl *ctrl, uint32_t nsid)
{
	static const char *const names[] = {
		[NVME_NIDT_EUI64] = "eui64",
		[NVME_NIDT_NGUID] = "nguid",
		[NVME_NIDT_UUID] = "uuid",
		[NVME_NIDT_CSI] = "csi",
	};
	uint8_t list[4096];
	size_t off = 0;
	int rc = nvmf_identify(ctrl, NVME_CNS_NS_ID_DESCRIPTORS, nsid, list);

	if (rc != 0) {
		fprintf(stderr, "rbd_host: Identify CNS 03h: %d\n", rc);
		return 1;
	}
	/* A zero type ends the list (Base 2.0 §5.17.2.3). */
	while (off + sizeof(struct nvme_ns_id_desc) <= sizeof(list)) {
		struct nvme_ns_id_desc d;

		/* Descriptors follow each other unaligned. */
		memcpy(&d, list + off, sizeof(d));
		if (d.nidt == 0 || off + sizeof(d) + d.nidl > sizeof(list))
			break;
		printf("%s ", d.nidt < sizeof(names) / sizeof(names[0]) && names[d.nidt] != NULL
				      ? names[d.nidt]
				      : "type?");
		for (unsigned i = 0; i < d.nidl; i++)
			printf("%02x", list[off + sizeof(d) + i]);
		printf("\n");
		off += sizeof(d) + d.nidl;
	}
	return 0;
}

static int cmd_resize(struct nvmf_ctrl *ctrl, uint32_t nsid, uint64_t want, char **command)
{
	uint32_t want_cdw0 = NVME_AER_DW0(NVME_AER_TYPE_NOTICE, NVME_AER_NOTICE_NS_CHANGED,
					  NVME_LOG_CHANGED_NS_LIST);
	uint64_t before = ns_bytes(ctrl, nsid), after;
	int rc = run(command), waited = 0;

	if (rc != 0) {
		fprintf(stderr, "rbd_host: %s exited %d\n", command[0], rc);
		return 1;
	}
	while (atomic_load(&events) == 0 && waited < WAIT_MS) {
		usleep(10000);
		waited += 10;
	}
	after = ns_bytes(ctrl, nsid);
	printf("rbd_host: %u event(s), last %#x, after %d ms; namespace %u: %" PRIu64
	       " bytes before, %" PRIu64 " after\n",
	       atomic_load(&events), atomic_load(&last_cdw0), waited, nsid, before, after);
	if (atomic_load(&events) == 0 || atomic_load(&last_cdw0) != want_cdw0) {
		fprintf(stderr, "rbd_host: no Namespace Attribute Changed event (want %#x)\n",
			want_cdw0);
		return 1;
	}
	if (after != want) {
		fprintf(stderr, "rbd_host: capacity %" PRIu64 ", want %" PRIu64 "\n", after, want);
		return 1;
	}
	return 0;
}

static int cmd_notice(uint32_t nsid, unsigned want_type, char **command)
{
	uint32_t want_cdw0 = NVME_AER_DW0(NVME_AER_TYPE_IO_SPECIFIC, NVME_AER_IO_RESV_LOG,
					  NVME_LOG_RESERVATION);
	int rc = run(command), waited = 0;

	if (rc != 0) {
		fprintf(stderr, "rbd_host: %s exited %d\n", command[0], rc);
		return 1;
	}
	while (atomic_load(&events) == 0 && waited < WAIT_MS) {
		usleep(10000);
		waited += 10;
	}
	printf("rbd_host: %u event(s), last %#x, after %d ms; notice type %u for namespace %u\n",
	       atomic_load(&events), atomic_load(&last_cdw0), waited, last_notice.rnlpt,
	       last_notice.nsid);
	if (atomic_load(&events) == 0 || atomic_load(&last_cdw0) != want_cdw0 ||
	    last_notice.rnlpt != want_type || last_notice.nsid != nsid) {
		fprintf(stderr, "rbd_host: no reservation notice of type %u (want event %#x)\n",
			want_type, want_cdw0);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct nvmf_ctrl *ctrl;
	char buf[1024];
	bool ids = argc == 4 && strcmp(argv[1], "ids") == 0;
	bool notice = argc >= 8 && strcmp(argv[1], "notice") == 0;
	int rc;

	if (!ids && !notice && !(argc >= 6 && strcmp(argv[1], "resize") == 0)) {
		fprintf(stderr, "usage: rbd_host ids URI NSID\n"
				"       rbd_host resize URI NSID WANT_BYTES COMMAND [ARGS...]\n"
				"       rbd_host notice URI NSID HOSTNQN HOSTID WANT_TYPE COMMAND [ARGS...]\n");
		return 2;
	}
	ctrl = connect_uri(argv[2], notice ? argv[4] : NULL, notice ? argv[5] : NULL, buf,
			   sizeof(buf));
	if (ctrl == NULL)
		return 1;
	if (ids)
		rc = cmd_ids(ctrl, (uint32_t)strtoul(argv[3], NULL, 0));
	else if (notice)
		rc = cmd_notice((uint32_t)strtoul(argv[3], NULL, 0),
				(unsigned)strtoul(argv[6], NULL, 0), argv + 7);
	else
		rc = cmd_resize(ctrl, (uint32_t)strtoul(argv[3], NULL, 0),
				strtoull(argv[4], NULL, 0), argv + 5);
	nvmf_disconnect(ctrl);
	return rc;
}
