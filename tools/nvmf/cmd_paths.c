/* SPDX-License-Identifier: MIT */
/* Several paths to one subsystem (libnvmf multipath) and nvmf list-paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf.h"

unsigned cli_npaths(const struct cli *cli)
{
	unsigned n = cli->naddrs > cli->nports ? cli->naddrs : cli->nports;

	return n > 0 ? n : 1;
}

/* --all-paths: every entry of the discovery log (the discovery controller
 * at -a/-s, port 8009 unless given) for the subsystem NQN. */
static void discover_paths(struct cli *cli)
{
	static char addrs[NVMF_MPATH_MAX_PATHS][256], ports[NVMF_MPATH_MAX_PATHS][32];
	struct nvmf_host_opts dopts = cli->opts;
	struct nvmf_discovery_log *log;
	struct nvmf_error err;
	char subnqn[NVMF_HOST_NQN_SIZE];
	size_t nrec;
	unsigned n = 0;

	dopts.subnqn = NULL;
	if (nvmf_discover(&dopts, &log, &nrec, &err) != 0)
		die(cli, "--all-paths: %s", err.msg);
	for (size_t i = 0; i < nrec; i++) {
		const struct nvmf_discovery_log_entry *e = &log->entries[i];

		if (e->subtype != NVMF_SUBTYPE_NVME || e->trtype != NVMF_TRTYPE_TCP)
			continue;
		nvmf_discovery_entry_str(e, addrs[n], sizeof(addrs[n]), ports[n], sizeof(ports[n]),
					 subnqn, sizeof(subnqn));
		if (strcmp(subnqn, cli->opts.subnqn) != 0)
			continue;
		if (n == NVMF_MPATH_MAX_PATHS) {
			fprintf(stderr, "nvmf %s: --all-paths: using the first %u paths\n", cli->cmd,
				NVMF_MPATH_MAX_PATHS);
			break;
		}
		cli->addrs[n] = cli->connect_addr != NULL ? cli->connect_addr : addrs[n];
		cli->ports[n] = ports[n];
		n++;
	}
	free(log);
	if (n == 0)
		die(cli, "--all-paths: the discovery log lists no TCP path to %s", cli->opts.subnqn);
	cli->naddrs = cli->nports = n;
}

struct nvmf_mpath *cli_mpath_connect(struct cli *cli)
{
	unsigned n = cli_npaths(cli);
	struct nvmf_host_opts opts[NVMF_MPATH_MAX_PATHS];
	const struct nvmf_host_opts *list[NVMF_MPATH_MAX_PATHS];
	struct nvmf_error err;
	struct nvmf_mpath *mp;

	if (cli->opts.subnqn == NULL)
		die(cli, "a subsystem NQN is required (-n NQN or nvme+tcp://ADDR/NQN)");
	if (cli->all_paths) {
		discover_paths(cli);
		n = cli_npaths(cli);
	}
	for (unsigned i = 0; i < n; i++) {
		opts[i] = cli->opts;
		if (cli->naddrs > 0)
			opts[i].traddr = cli->addrs[i < cli->naddrs ? i : cli->naddrs - 1];
		if (cli->nports > 0)
			opts[i].trsvcid = cli->ports[i < cli->nports ? i : cli->nports - 1];
		list[i] = &opts[i];
	}
	mp = nvmf_mpath_connect(list, n, cli->iopolicy, &err);
	if (mp == NULL)
		die(cli, "%s", err.msg);
	return mp;
}

void cli_mpath_disconnect(struct cli *cli, struct nvmf_mpath *mp)
{
	int ret = nvmf_mpath_disconnect(mp);

	if (ret != 0 && cli->verbose > 0)
		fprintf(stderr, "nvmf %s: disconnect was not clean: %s\n", cli->cmd, strerror(-ret));
}

static const char *state_name(enum nvmf_ctrl_state s)
{
	switch (s) {
	case NVMF_CTRL_LIVE:
		return "live";
	case NVMF_CTRL_RECONNECTING:
		return "connecting";
	case NVMF_CTRL_FAILED:
		return "failed";
	default:
		return "disconnecting";
	}
}

int cmd_list_paths(struct cli *cli)
{
	struct nvmf_mpath *mp = cli_mpath_connect(cli);
	uint32_t nsid = cli->nsid != 0 ? cli->nsid : 1;
	json_t *arr = json_array();
	unsigned n = nvmf_mpath_npaths(mp);

	if (!cli->json)
		printf("%s namespace %u, iopolicy %s\n", cli->opts.subnqn, nsid,
		       nvmf_iopolicy_name(cli->iopolicy));
	for (unsigned i = 0; i < n; i++) {
		struct nvmf_path_info info;
		const char *ana;

		nvmf_mpath_path_info(mp, i, nsid, &info);
		ana = info.ana_state != 0 ? nvmf_ana_state_name(info.ana_state) : "-";
		if (cli->json) {
			json_array_append_new(
				arr, json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:b}", "traddr",
					       info.traddr, "trsvcid", info.trsvcid, "state",
					       state_name(info.state), "cntlid", info.cntlid,
					       "anagrpid", (int)info.anagrpid, "ana_state", ana,
					       "usable", info.usable));
			continue;
		}
		printf("  path %u  %s:%s  %-10s  controller %-5u  ANA group %u %s%s\n", i,
		       info.traddr, info.trsvcid, state_name(info.state), info.cntlid,
		       info.anagrpid, ana, info.usable ? "" : " (not used)");
	}
	if (cli->json)
		json_print(json_pack("{s:s, s:i, s:s, s:o}", "subnqn", cli->opts.subnqn, "nsid",
				     (int)nsid, "iopolicy", nvmf_iopolicy_name(cli->iopolicy),
				     "paths", arr));
	else
		json_decref(arr);
	cli_mpath_disconnect(cli, mp);
	return 0;
}
