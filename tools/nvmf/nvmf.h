/* SPDX-License-Identifier: MIT */
/* The nvmf command: what the subcommands share. */
#ifndef NVMF_TOOL_H
#define NVMF_TOOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "nvmf/host.h"

/* Parsed command line. */
struct cli {
	const char *cmd;
	struct nvmf_host_opts opts;
	bool nr_io_queues_set;
	bool queue_size_set;
	bool json;
	int verbose;
	struct nvmf_engine *engine;
	const char *engine_spec;       /* --engine, to make it again */
	char uri_buf[1024];
	char tls_key_buf[128];         /* --tls-key-file's key (wiped at exit) */

	/* Subcommand options. */
	uint32_t nsid;                 /* 0: the first active namespace */
	uint64_t offset;
	uint64_t length;
	bool has_length;
	const char *data;              /* file, or "-" for stdin/stdout */
	bool fua;
	bool deallocate;
	int log_id;                    /* -1: not given */
	uint32_t log_len;
	uint8_t lsp;
	int feature_id;                /* -1: not given */
	uint8_t sel;
	uint32_t cdw11;
	uint32_t data_len;
	bool raw;
	const char *connect_addr;
	/* resv-* */
	uint64_t crkey, nrkey, prkey;
	unsigned resv_action;          /* --rrega, --racqa or --rrela */
	unsigned rtype;
	unsigned cptpl;
	bool iekey;
	bool eds;

	/* perf */
	const char *rw;
	unsigned rwmixread;
	uint32_t bs;
	unsigned iodepth;
	unsigned runtime;
	unsigned queues;
	bool verify;
	uint64_t size;
	const char *json_log;

	/* Several paths (repeated -a/-s, several URIs): multipath.  Path i is
	 * addrs[i] and ports[i], the last one given repeating. */
	const char *addrs[NVMF_MPATH_MAX_PATHS];
	unsigned naddrs;
	const char *ports[NVMF_MPATH_MAX_PATHS];
	unsigned nports;
	char uri_bufs[NVMF_MPATH_MAX_PATHS][512];
	enum nvmf_iopolicy iopolicy;
	bool all_paths;                /* --all-paths: from the discovery log */

	/* mount, umount */
	const char *mountpoint;
	bool foreground;
};

/* Exit codes. */
#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* Print "nvmf CMD: reason" on one line and exit. */
_Noreturn void die(const struct cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Connect with the command line's options, or die with the reason. */
struct nvmf_ctrl *cli_connect(struct cli *cli);
void cli_disconnect(struct cli *cli, struct nvmf_ctrl *ctrl);
/* Paths the command line gives (1 unless -a/-s or URIs repeat). */
unsigned cli_npaths(const struct cli *cli);
/* Connect every path as one multipath controller, or die with the reason. */
struct nvmf_mpath *cli_mpath_connect(struct cli *cli);
void cli_mpath_disconnect(struct cli *cli, struct nvmf_mpath *mp);
/* The namespace the command names (--nsid), or the first active one. */
struct nvmf_ns *cli_namespace(struct cli *cli, struct nvmf_ctrl *ctrl);
/* A library result (0, -errno, NVMe status) as text. */
const char *result_str(int ret, char *buf, size_t len);

/* Print a JSON document on stdout (and free it). */
void json_print(json_t *doc);
/* Hex dump on stdout, 16 bytes a line. */
void hexdump(const void *buf, size_t len);
/* An ASCII identify field without trailing blanks. */
void id_str(char *out, size_t out_len, const char *field, size_t field_len);

int cmd_discover(struct cli *cli);
int cmd_connect_all(struct cli *cli);
int cmd_identify(struct cli *cli);
int cmd_list_ns(struct cli *cli);
int cmd_get_log(struct cli *cli);
int cmd_get_feature(struct cli *cli);
int cmd_read(struct cli *cli);
int cmd_write(struct cli *cli);
int cmd_compare(struct cli *cli);
int cmd_flush(struct cli *cli);
int cmd_write_zeroes(struct cli *cli);
int cmd_trim(struct cli *cli);
int cmd_perf(struct cli *cli);
int cmd_mount(struct cli *cli);
int cmd_umount(struct cli *cli);
int cmd_resv_register(struct cli *cli);
int cmd_resv_acquire(struct cli *cli);
int cmd_resv_release(struct cli *cli);
int cmd_resv_report(struct cli *cli);
int cmd_list_paths(struct cli *cli);
/* nvme-cli's key generators; argv[0] is the command name. */
int cmd_gen_dhchap_key(int argc, char **argv);
int cmd_gen_tls_key(int argc, char **argv);

#endif
