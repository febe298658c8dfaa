/* SPDX-License-Identifier: MIT */
/* nvmf resv-register, resv-acquire, resv-release, resv-report: nvme-cli's
 * commands and option names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf.h"

#define REPORT_LEN 4096 /* the header and 63 extended entries */

static void done(struct cli *cli, struct nvmf_ctrl *ctrl, const char *what, int ret)
{
	char why[160];

	if (ret != 0)
		die(cli, "%s: %s", what, result_str(ret, why, sizeof(why)));
	cli_disconnect(cli, ctrl);
	if (cli->json)
		json_print(json_pack("{s:s, s:I, s:s}", "command", cli->cmd, "nsid",
				     (json_int_t)cli->nsid, "result", "success"));
	else
		printf("%s: success (namespace %u)\n", cli->cmd, cli->nsid);
}

int cmd_resv_register(struct cli *cli)
{
	struct nvmf_ctrl *ctrl = cli_connect(cli);
	struct nvmf_ns *ns = cli_namespace(cli, ctrl);

	done(cli, ctrl, "Reservation Register",
	     nvmf_resv_register_sync(ns, cli->resv_action, cli->cptpl, cli->iekey, cli->crkey,
				     cli->nrkey));
	return 0;
}

int cmd_resv_acquire(struct cli *cli)
{
	struct nvmf_ctrl *ctrl = cli_connect(cli);
	struct nvmf_ns *ns = cli_namespace(cli, ctrl);

	done(cli, ctrl, "Reservation Acquire",
	     nvmf_resv_acquire_sync(ns, cli->resv_action, cli->rtype, cli->iekey, cli->crkey,
				    cli->prkey));
	return 0;
}

int cmd_resv_release(struct cli *cli)
{
	struct nvmf_ctrl *ctrl = cli_connect(cli);
	struct nvmf_ns *ns = cli_namespace(cli, ctrl);

	done(cli, ctrl, "Reservation Release",
	     nvmf_resv_release_sync(ns, cli->resv_action, cli->rtype, cli->iekey, cli->crkey));
	return 0;
}

static void hex16(char out[33], const uint8_t *id, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* One registrant of either form: CNTLID, RCSTS, host ID, key. */
static void print_registrant(struct cli *cli, json_t *list, unsigned i, const uint8_t *e)
{
	const struct nvme_resv_registrant_ext *x = (const void *)e;
	const struct nvme_resv_registrant *r = (const void *)e;
	uint16_t cntlid = cli->eds ? x->cntlid : r->cntlid;
	uint8_t rcsts = cli->eds ? x->rcsts : r->rcsts;
	uint64_t rkey = cli->eds ? x->rkey : r->rkey;
	char hostid[33];

	hex16(hostid, cli->eds ? x->hostid : (const uint8_t *)&r->hostid, cli->eds ? 16 : 8);
	if (list != NULL) {
		json_array_append_new(list, json_pack("{s:i, s:i, s:I, s:s}", "cntlid", cntlid,
						      "rcsts", rcsts, "rkey", (json_int_t)rkey,
						      "hostid", hostid));
		return;
	}
	printf("registrant %u:\n  cntlid : %#x\n  rcsts  : %u%s\n  hostid : %s\n  rkey   : %#llx\n",
	       i, cntlid, rcsts, (rcsts & NVME_RESV_RCSTS_HOLDER) ? " (holds the reservation)" : "",
	       hostid, (unsigned long long)rkey);
}

int cmd_resv_report(struct cli *cli)
{
	struct nvmf_ctrl *ctrl = cli_connect(cli);
	struct nvmf_ns *ns = cli_namespace(cli, ctrl);
	size_t hdr = cli->eds ? NVME_RESV_REPORT_EXT_HDR : sizeof(struct nvme_resv_status);
	size_t entry = cli->eds ? sizeof(struct nvme_resv_registrant_ext)
				: sizeof(struct nvme_resv_registrant);
	uint8_t *buf = calloc(1, REPORT_LEN);
	const struct nvme_resv_status *st = (const void *)buf;
	json_t *doc = NULL, *list = NULL;
	unsigned n;
	char why[160];
	int ret;

	if (buf == NULL)
		die(cli, "out of memory");
	ret = nvmf_resv_report_sync(ns, cli->eds, buf, REPORT_LEN);
	if (ret == NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_HOST_ID_INCONSISTENT_FORMAT))
		die(cli, "Reservation Report: the controller uses 128-bit host identifiers: "
			 "add --eds");
	if (ret != 0)
		die(cli, "Reservation Report: %s", result_str(ret, why, sizeof(why)));
	/* REGCTL counts every registrant; the buffer holds what fits. */
	n = st->regctl;
	if (n > (REPORT_LEN - hdr) / entry)
		n = (unsigned)((REPORT_LEN - hdr) / entry);
	if (cli->json) {
		list = json_array();
		doc = json_pack("{s:I, s:i, s:i, s:i, s:o}", "gen", (json_int_t)st->gen, "rtype",
				st->rtype, "regctl", st->regctl, "ptpls", st->ptpls, "registrants",
				list);
	} else {
		printf("namespace %u reservation status:\n  gen    : %u\n  rtype  : %u\n"
		       "  regctl : %u\n  ptpls  : %u\n", cli->nsid, st->gen, st->rtype, st->regctl,
		       st->ptpls);
	}
	for (unsigned i = 0; i < n; i++)
		print_registrant(cli, list, i, buf + hdr + i * entry);
	if (doc != NULL)
		json_print(doc);
	free(buf);
	cli_disconnect(cli, ctrl);
	return 0;
}
