/* SPDX-License-Identifier: MIT */
/* nvmf discover and nvmf connect-all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf.h"

static const char *trtype_str(uint8_t t)
{
	switch (t) {
	case NVMF_TRTYPE_RDMA: return "rdma";
	case NVMF_TRTYPE_FC: return "fc";
	case NVMF_TRTYPE_TCP: return "tcp";
	case NVMF_TRTYPE_LOOP: return "loop";
	default: return "unrecognized";
	}
}

static const char *adrfam_str(uint8_t a)
{
	switch (a) {
	case NVMF_ADRFAM_IPV4: return "ipv4";
	case NVMF_ADRFAM_IPV6: return "ipv6";
	default: return "unrecognized";
	}
}

static const char *subtype_str(uint8_t s)
{
	switch (s) {
	case NVMF_SUBTYPE_REFERRAL: return "discovery subsystem referral";
	case NVMF_SUBTYPE_NVME: return "nvme subsystem";
	case NVMF_SUBTYPE_CURRENT_DISCOVERY: return "current discovery subsystem";
	default: return "unrecognized";
	}
}

static const char *secure_str(uint8_t treq)
{
	switch (treq & 0x3) {
	case NVMF_TREQ_SECURE_REQUIRED: return "required";
	case NVMF_TREQ_SECURE_NOT_REQUIRED: return "not required";
	default: return "not specified";
	}
}

static const char *sectype_str(uint8_t s)
{
	switch (s) {
	case NVMF_TCP_SECTYPE_NONE: return "none";
	case NVMF_TCP_SECTYPE_TLS12: return "tls1.2";
	case NVMF_TCP_SECTYPE_TLS13: return "tls1.3";
	default: return "unrecognized";
	}
}

static struct nvmf_discovery_log *discover(struct cli *cli, size_t *nrec)
{
	struct nvmf_discovery_log *log;
	struct nvmf_error err;
	int ret = nvmf_discover(&cli->opts, &log, nrec, &err);

	if (ret != 0)
		die(cli, "%s", err.msg);
	return log;
}

int cmd_discover(struct cli *cli)
{
	size_t nrec;
	struct nvmf_discovery_log *log = discover(cli, &nrec);
	json_t *records = json_array();

	if (!cli->json)
		printf("\nDiscovery Log Number of Records %zu, Generation counter %llu\n", nrec,
		       (unsigned long long)log->genctr);
	for (size_t i = 0; i < nrec; i++) {
		const struct nvmf_discovery_log_entry *e = &log->entries[i];
		char traddr[256], trsvcid[33], subnqn[NVMF_HOST_NQN_SIZE];
		char treq[96];

		nvmf_discovery_entry_str(e, traddr, sizeof(traddr), trsvcid, sizeof(trsvcid), subnqn,
					 sizeof(subnqn));
		snprintf(treq, sizeof(treq), "%s%s", secure_str(e->treq),
			 (e->treq & NVMF_TREQ_DISABLE_SQFLOW) ? ", sq flow control disable supported"
							       : "");
		if (cli->json) {
			json_array_append_new(records,
				json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:i, s:s}",
					  "trtype", trtype_str(e->trtype), "adrfam",
					  adrfam_str(e->adrfam), "subtype", subtype_str(e->subtype),
					  "treq", treq, "portid", e->portid, "cntlid", e->cntlid,
					  "trsvcid", trsvcid, "subnqn", subnqn, "traddr", traddr,
					  "eflags", e->eflags, "sectype",
					  sectype_str(e->tsas.tcp.sectype)));
			continue;
		}
		printf("=====Discovery Log Entry %zu======\n", i);
		printf("trtype:  %s\n", trtype_str(e->trtype));
		printf("adrfam:  %s\n", adrfam_str(e->adrfam));
		printf("subtype: %s\n", subtype_str(e->subtype));
		printf("treq:    %s\n", treq);
		printf("portid:  %u\n", e->portid);
		printf("trsvcid: %s\n", trsvcid);
		printf("subnqn:  %s\n", subnqn);
		printf("traddr:  %s\n", traddr);
		printf("eflags:  %#x\n", e->eflags);
		printf("sectype: %s\n", sectype_str(e->tsas.tcp.sectype));
	}
	if (cli->json)
		json_print(json_pack("{s:I, s:I, s:o}", "genctr", (json_int_t)log->genctr,
				     "numrec", (json_int_t)nrec, "records", records));
	else
		json_decref(records);
	free(log);
	return 0;
}

int cmd_connect_all(struct cli *cli)
{
	size_t nrec, failed = 0, ok = 0;
	struct nvmf_discovery_log *log = discover(cli, &nrec);
	struct nvmf_connect_all_result *res;
	struct nvmf_host_opts base = cli->opts;
	char first_error[256] = "";
	json_t *list = json_array();
	int ret;

	base.subnqn = NULL;
	base.trsvcid = NULL;
	ret = nvmf_connect_all(&base, log, nrec, cli->connect_addr, &res);
	if (ret < 0)
		die(cli, "out of memory");
	if (!cli->json)
		printf("%-4s %-40s %-24s %-6s %-5s %-4s %s\n", "Entry", "Subsystem NQN", "Address",
		       "Ctrl", "I/OQ", "NS", "Status");
	for (size_t i = 0; i < nrec; i++) {
		struct nvmf_connect_all_result *r = &res[i];
		char traddr[256], trsvcid[33], subnqn[NVMF_HOST_NQN_SIZE], addr[300];
		uint32_t nsids[1];
		size_t nns = 0;
		const char *status;

		nvmf_discovery_entry_str(r->entry, traddr, sizeof(traddr), trsvcid, sizeof(trsvcid),
					 subnqn, sizeof(subnqn));
		snprintf(addr, sizeof(addr), "%s:%s",
			 cli->connect_addr != NULL ? cli->connect_addr : traddr, trsvcid);
		if (r->ctrl != NULL) {
			nns = nvmf_ctrl_ns_list(r->ctrl, nsids, 0);
			status = "connected";
			ok++;
		} else if (r->skipped && r->err.msg[0] == '\0') {
			status = "skipped";
		} else {
			status = r->err.msg;
			if (first_error[0] == '\0')
				snprintf(first_error, sizeof(first_error), "%s", r->err.msg);
			failed++;
		}
		if (cli->json) {
			json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s}", "entry", (int)i, "subnqn",
					      subnqn, "traddr",
					      cli->connect_addr != NULL ? cli->connect_addr : traddr,
					      "trsvcid", trsvcid, "status",
					      r->ctrl != NULL ? "connected"
					      : r->skipped && r->err.msg[0] == '\0' ? "skipped"
										     : "failed");
			if (r->ctrl != NULL) {
				json_object_set_new(o, "cntlid",
						    json_integer(nvmf_ctrl_cntlid(r->ctrl)));
				json_object_set_new(o, "io_queues",
						    json_integer(nvmf_ctrl_nr_io_queues(r->ctrl)));
				json_object_set_new(o, "namespaces", json_integer((json_int_t)nns));
			} else if (r->err.msg[0] != '\0') {
				json_object_set_new(o, "error", json_string(r->err.msg));
			}
			json_array_append_new(list, o);
		} else if (r->ctrl != NULL) {
			printf("%-5zu %-40s %-24s %-6u %-5u %-4zu %s\n", i, subnqn, addr,
			       nvmf_ctrl_cntlid(r->ctrl), nvmf_ctrl_nr_io_queues(r->ctrl), nns, status);
		} else {
			printf("%-5zu %-40s %-24s %-6s %-5s %-4s %s\n", i, subnqn, addr, "-", "-", "-",
			       status);
		}
	}
	for (size_t i = 0; i < nrec; i++)
		if (res[i].ctrl != NULL)
			cli_disconnect(cli, res[i].ctrl);
	if (cli->json)
		json_print(json_pack("{s:i, s:i, s:o}", "connected", (int)ok, "failed", (int)failed,
				     "entries", list));
	else
		json_decref(list);
	free(res);
	free(log);
	if (failed != 0)
		die(cli, "%zu of %zu subsystems could not be connected: %s", failed, failed + ok,
		    first_error);
	if (ok == 0)
		die(cli, "the discovery log lists no NVMe/TCP subsystem");
	return 0;
}
