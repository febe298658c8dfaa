/* SPDX-License-Identifier: MIT */
/*
 * nvmf: an NVMe over Fabrics host command.  Connection options follow
 * nvme-cli; a target may also be named by one URI, nvme+tcp://ADDR[:PORT]/NQN.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf.h"
#include "nvmf/log.h"

enum opt_id {
	OPT_TRANSPORT = 't',
	OPT_TRADDR = 'a',
	OPT_TRSVCID = 's',
	OPT_NQN = 'n',
	OPT_HOSTNQN = 'q',
	OPT_HOSTID = 'I',
	OPT_NR_IO_QUEUES = 'i',
	OPT_QUEUE_SIZE = 'Q',
	OPT_KATO = 'k',
	OPT_RECONNECT_DELAY = 'c',
	OPT_CTRL_LOSS_TMO = 'l',
	OPT_HDR_DIGEST = 'g',
	OPT_DATA_DIGEST = 'G',
	OPT_DISABLE_SQFLOW = 'd',
	OPT_FOREGROUND = 'f',
	OPT_DHCHAP_SECRET = 'S',
	OPT_DHCHAP_CTRL_SECRET = 'C',
	OPT_OUTPUT = 'o',
	OPT_VERBOSE = 'v',
	OPT_HELP = 'h',
	OPT_ENGINE = 256,
	OPT_NSID,
	OPT_OFFSET,
	OPT_LENGTH,
	OPT_DATA,
	OPT_FUA,
	OPT_DEALLOCATE,
	OPT_LOG_ID,
	OPT_LOG_LEN,
	OPT_LSP,
	OPT_FEATURE_ID,
	OPT_SEL,
	OPT_CDW11,
	OPT_DATA_LEN,
	OPT_RAW,
	OPT_CONNECT_ADDR,
	OPT_RW,
	OPT_RWMIXREAD,
	OPT_BS,
	OPT_IODEPTH,
	OPT_RUNTIME,
	OPT_QUEUES,
	OPT_VERIFY,
	OPT_SIZE,
	OPT_JSON_LOG,
	OPT_MAX_IO_SIZE,
	OPT_IO_TIMEOUT,
	OPT_CONNECT_TIMEOUT,
	OPT_TLS,
	OPT_TLS_KEY,
	OPT_TLS_KEY_FILE,
	OPT_CRKEY,
	OPT_NRKEY,
	OPT_PRKEY,
	OPT_RTYPE,
	OPT_RREGA,
	OPT_RACQA,
	OPT_RRELA,
	OPT_CPTPL,
	OPT_IEKEY,
	OPT_EDS,
	OPT_IOPOLICY,
	OPT_ALL_PATHS,
};

/* Which subcommands take an option. */
#define C_DISCOVER (1u << 0)
#define C_CONNECT_ALL (1u << 1)
#define C_IDENTIFY (1u << 2)
#define C_LIST_NS (1u << 3)
#define C_GET_LOG (1u << 4)
#define C_GET_FEATURE (1u << 5)
#define C_READ (1u << 6)
#define C_WRITE (1u << 7)
#define C_COMPARE (1u << 8)
#define C_FLUSH (1u << 9)
#define C_WRITE_ZEROES (1u << 10)
#define C_TRIM (1u << 11)
#define C_PERF (1u << 12)
#define C_MOUNT (1u << 13)
#define C_RESV_REGISTER (1u << 14)
#define C_RESV_ACQUIRE (1u << 15)
#define C_LIST_PATHS (1u << 19)
#define C_MULTIPATH (C_PERF | C_LIST_PATHS | C_MOUNT) /* take several paths */
#define C_UMOUNT (1u << 16) /* no connection options */
#define C_RESV_RELEASE (1u << 17)
#define C_RESV_REPORT (1u << 18)
#define C_ALL (0xfffffu & ~C_UMOUNT)
#define C_RESV (C_RESV_REGISTER | C_RESV_ACQUIRE | C_RESV_RELEASE | C_RESV_REPORT)
#define C_MOUNTPOINT (C_MOUNT | C_UMOUNT) /* end with a MOUNTPOINT operand */
#define C_IO (C_READ | C_WRITE | C_COMPARE | C_FLUSH | C_WRITE_ZEROES | C_TRIM)

struct opt_def {
	const char *name;
	int has_arg;
	int id;
	unsigned cmds;
	const char *arg;
	const char *help;
};

static const struct opt_def opt_defs[] = {
	{"transport", 1, OPT_TRANSPORT, C_ALL, "tcp", "transport type (only tcp)"},
	{"traddr", 1, OPT_TRADDR, C_ALL, "ADDR", "target address (numeric IPv4/IPv6)"},
	{"trsvcid", 1, OPT_TRSVCID, C_ALL, "PORT", "target port (4420; discover: 8009)"},
	{"nqn", 1, OPT_NQN, C_ALL, "NQN", "subsystem NQN"},
	{"hostnqn", 1, OPT_HOSTNQN, C_ALL, "NQN", "host NQN (default /etc/nvme/hostnqn)"},
	{"hostid", 1, OPT_HOSTID, C_ALL, "UUID", "host ID (default /etc/nvme/hostid)"},
	{"nr-io-queues", 1, OPT_NR_IO_QUEUES, C_ALL, "N", "I/O queues (default: CPUs)"},
	{"queue-size", 1, OPT_QUEUE_SIZE, C_ALL, "N", "I/O queue entries (128)"},
	{"keep-alive-tmo", 1, OPT_KATO, C_ALL, "SEC", "keep-alive timeout (5)"},
	{"reconnect-delay", 1, OPT_RECONNECT_DELAY, C_ALL, "SEC", "between reconnects (10)"},
	{"ctrl-loss-tmo", 1, OPT_CTRL_LOSS_TMO, C_ALL, "SEC",
	 "give up reconnecting after (600; -1 never)"},
	{"hdr-digest", 0, OPT_HDR_DIGEST, C_ALL, NULL, "header digests"},
	{"data-digest", 0, OPT_DATA_DIGEST, C_ALL, NULL, "data digests"},
	{"disable-sqflow", 0, OPT_DISABLE_SQFLOW, C_ALL, NULL, "disable SQ flow control"},
	{"dhchap-secret", 1, OPT_DHCHAP_SECRET, C_ALL, "KEY",
	 "DH-HMAC-CHAP host secret (DHHC-1:...)"},
	{"dhchap-ctrl-secret", 1, OPT_DHCHAP_CTRL_SECRET, C_ALL, "KEY",
	 "controller secret: the controller authenticates too"},
	{"tls", 0, OPT_TLS, C_ALL, NULL, "TLS 1.3 (needs --tls-key or --tls-key-file)"},
	{"tls-key", 1, OPT_TLS_KEY, C_ALL, "KEY",
	 "TLS PSK (NVMeTLSkey-1:...); implies --tls but for the discovery connection"},
	{"tls-key-file", 1, OPT_TLS_KEY_FILE, C_ALL, "FILE", "read the TLS PSK from FILE"},
	{"output-format", 1, OPT_OUTPUT, C_ALL, "FMT", "normal or json"},
	{"engine", 1, OPT_ENGINE, C_ALL, "SPEC", "transport engine (hybrid; or epoll, poll, threads)"},
	{"max-io-size", 1, OPT_MAX_IO_SIZE, C_ALL, "SIZE", "bytes per command (1M)"},
	{"io-timeout", 1, OPT_IO_TIMEOUT, C_ALL, "MS", "command timeout (30000)"},
	{"connect-timeout", 1, OPT_CONNECT_TIMEOUT, C_ALL, "MS",
	 "per connection setup step (10000)"},
	{"verbose", 0, OPT_VERBOSE, C_ALL | C_UMOUNT, NULL, "more log output (twice: debug)"},
	{"help", 0, OPT_HELP, C_ALL | C_UMOUNT, NULL, "this help"},
	{"nsid", 1, OPT_NSID, C_IDENTIFY | C_GET_LOG | C_GET_FEATURE | C_IO | C_PERF | C_RESV, "N",
	 "namespace (default: the first)"},
	{"offset", 1, OPT_OFFSET, C_IO | C_GET_LOG | C_PERF, "BYTES", "start offset"},
	{"length", 1, OPT_LENGTH, C_IO, "BYTES", "bytes to transfer"},
	{"data", 1, OPT_DATA, C_READ | C_WRITE | C_COMPARE, "FILE", "data file, - for stdio"},
	{"fua", 0, OPT_FUA, C_WRITE | C_WRITE_ZEROES, NULL, "force unit access"},
	{"deallocate", 0, OPT_DEALLOCATE, C_WRITE_ZEROES, NULL, "deallocate as well"},
	{"log-id", 1, OPT_LOG_ID, C_GET_LOG, "ID", "log page identifier"},
	{"log-len", 1, OPT_LOG_LEN, C_GET_LOG, "BYTES", "bytes to read"},
	{"lsp", 1, OPT_LSP, C_GET_LOG, "N", "log specific field"},
	{"feature-id", 1, OPT_FEATURE_ID, C_GET_FEATURE, "ID", "feature identifier"},
	{"sel", 1, OPT_SEL, C_GET_FEATURE, "N", "0 current, 1 default, 2 saved, 3 supported"},
	{"cdw11", 1, OPT_CDW11, C_GET_FEATURE, "N", "command dword 11"},
	{"data-len", 1, OPT_DATA_LEN, C_GET_FEATURE, "BYTES", "feature data to read"},
	{"raw-binary", 0, OPT_RAW, C_GET_LOG, NULL, "write the log as binary to stdout"},
	{"connect-addr", 1, OPT_CONNECT_ADDR, C_CONNECT_ALL | C_MULTIPATH, "ADDR",
	 "connect here instead of each entry's address"},
	{"rw", 1, OPT_RW, C_PERF, "MODE", "read|write|randread|randwrite|randrw (randread)"},
	{"rwmixread", 1, OPT_RWMIXREAD, C_PERF, "PCT", "reads in randrw (50)"},
	{"bs", 1, OPT_BS, C_PERF, "SIZE", "block size (4k)"},
	{"iodepth", 1, OPT_IODEPTH, C_PERF, "N", "I/Os in flight per queue (32)"},
	{"runtime", 1, OPT_RUNTIME, C_PERF, "SEC", "duration (10)"},
	{"queues", 1, OPT_QUEUES, C_PERF, "N", "I/O queues used (1)"},
	{"verify", 0, OPT_VERIFY, C_PERF, NULL, "write patterns, check every read"},
	{"size", 1, OPT_SIZE, C_PERF, "SIZE", "region used (the namespace; verify: 256M)"},
	{"json-log", 1, OPT_JSON_LOG, C_PERF, "FILE",
	 "write per-second samples, the histogram and the totals as JSON lines"},
	{"foreground", 0, OPT_FOREGROUND, C_MOUNT, NULL, "stay in the foreground, log to stderr"},
	{"crkey", 1, OPT_CRKEY, C_RESV_REGISTER | C_RESV_ACQUIRE | C_RESV_RELEASE, "KEY",
	 "current reservation key"},
	{"nrkey", 1, OPT_NRKEY, C_RESV_REGISTER, "KEY", "new reservation key"},
	{"prkey", 1, OPT_PRKEY, C_RESV_ACQUIRE, "KEY", "key of the registrants to preempt"},
	{"rtype", 1, OPT_RTYPE, C_RESV_ACQUIRE | C_RESV_RELEASE, "N",
	 "1 write exclusive, 2 exclusive access, 3/4 the same for registrants only, 5/6 all registrants"},
	{"rrega", 1, OPT_RREGA, C_RESV_REGISTER, "N", "0 register, 1 unregister, 2 replace"},
	{"racqa", 1, OPT_RACQA, C_RESV_ACQUIRE, "N", "0 acquire, 1 preempt, 2 preempt and abort"},
	{"rrela", 1, OPT_RRELA, C_RESV_RELEASE, "N", "0 release, 1 clear"},
	{"cptpl", 1, OPT_CPTPL, C_RESV_REGISTER, "N",
	 "persist through power loss: 0 no change, 2 off, 3 on"},
	{"iekey", 0, OPT_IEKEY, C_RESV_REGISTER | C_RESV_ACQUIRE | C_RESV_RELEASE, NULL,
	 "ignore the current key"},
	{"eds", 0, OPT_EDS, C_RESV_REPORT, NULL, "extended report: 128-bit host IDs"},
	{"iopolicy", 1, OPT_IOPOLICY, C_MULTIPATH, "NAME",
	 "several paths: round-robin (default) or queue-depth"},
	{"all-paths", 0, OPT_ALL_PATHS, C_MULTIPATH, NULL,
	 "every path the discovery controller at -a/-s lists for -n"},
};

struct cmd_def {
	const char *name;
	unsigned bit;
	int (*fn)(struct cli *cli);
	const char *help;
};

static const struct cmd_def cmd_defs[] = {
	{"discover", C_DISCOVER, cmd_discover, "list a discovery controller's log page"},
	{"connect-all", C_CONNECT_ALL, cmd_connect_all,
	 "connect to every subsystem discovered and list them"},
	{"identify", C_IDENTIFY, cmd_identify, "identify the controller and its namespaces"},
	{"list-ns", C_LIST_NS, cmd_list_ns, "list the active namespaces"},
	{"get-log", C_GET_LOG, cmd_get_log, "read a log page"},
	{"get-feature", C_GET_FEATURE, cmd_get_feature, "read a feature"},
	{"read", C_READ, cmd_read, "read a byte range"},
	{"write", C_WRITE, cmd_write, "write a byte range"},
	{"compare", C_COMPARE, cmd_compare, "compare a byte range with a file"},
	{"flush", C_FLUSH, cmd_flush, "flush the volatile write cache"},
	{"write-zeroes", C_WRITE_ZEROES, cmd_write_zeroes, "zero a byte range"},
	{"trim", C_TRIM, cmd_trim, "deallocate a byte range"},
	{"perf", C_PERF, cmd_perf, "generate load and measure it"},
	{"mount", C_MOUNT, cmd_mount, "namespaces as files MOUNTPOINT/n<NSID> (FUSE)"},
	{"umount", C_UMOUNT, cmd_umount, "unmount MOUNTPOINT, wait for flush and disconnect"},
	{"resv-register", C_RESV_REGISTER, cmd_resv_register,
	 "register, unregister or replace a reservation key"},
	{"resv-acquire", C_RESV_ACQUIRE, cmd_resv_acquire,
	 "acquire or preempt a reservation"},
	{"resv-release", C_RESV_RELEASE, cmd_resv_release, "release or clear a reservation"},
	{"resv-report", C_RESV_REPORT, cmd_resv_report, "show registrants and the reservation"},
	{"list-paths", C_LIST_PATHS, cmd_list_paths,
	 "each path to the subsystem (repeat -a/-s, or URIs) and its ANA state"},
};

#define NOPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))
#define NCMDS (sizeof(cmd_defs) / sizeof(cmd_defs[0]))

_Noreturn void die(const struct cli *cli, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "nvmf %s: %s\n", cli != NULL && cli->cmd != NULL ? cli->cmd : "", msg);
	exit(EXIT_FAIL);
}

static void usage(FILE *out, const struct cmd_def *cmd)
{
	if (cmd != NULL && cmd->bit == C_UMOUNT)
		fprintf(out, "usage: nvmf umount [options] MOUNTPOINT\n");
	else if (cmd != NULL && cmd->bit == C_MOUNT)
		fprintf(out, "usage: nvmf mount [options] [nvme+tcp://ADDR[:PORT]/SUBNQN]... MOUNTPOINT\n");
	else
		fprintf(out, "usage: nvmf COMMAND [options] [nvme+tcp://ADDR[:PORT]/SUBNQN]\n");
	if (cmd == NULL) {
		fprintf(out, "\ncommands:\n");
		for (size_t i = 0; i < NCMDS; i++)
			fprintf(out, "  %-14s %s\n", cmd_defs[i].name, cmd_defs[i].help);
		fprintf(out, "  %-14s %s\n  %-14s %s\n", "gen-dhchap-key",
			"print a DH-HMAC-CHAP secret (as nvme gen-dhchap-key)", "gen-tls-key",
			"print a TLS PSK (as nvme gen-tls-key)");
		fprintf(out, "\n'nvmf COMMAND --help' lists a command's options.\n");
		return;
	}
	fprintf(out, "\nnvmf %s: %s\n\noptions:\n", cmd->name, cmd->help);
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_def *o = &opt_defs[i];
		char lhs[48];

		if ((o->cmds & cmd->bit) == 0)
			continue;
		if (o->id < 256)
			snprintf(lhs, sizeof(lhs), "-%c, --%s%s%s", o->id, o->name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		else
			snprintf(lhs, sizeof(lhs), "    --%s%s%s", o->name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		fprintf(out, "  %-34s %s\n", lhs, o->help);
	}
}

/* "4k", "1M", "512", "2GiB": bytes. */
static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || s[0] == '-')
		return false;
	switch (*end) {
	case 'k': case 'K': mult = 1ull << 10; end++; break;
	case 'm': case 'M': mult = 1ull << 20; end++; break;
	case 'g': case 'G': mult = 1ull << 30; end++; break;
	case 't': case 'T': mult = 1ull << 40; end++; break;
	default: break;
	}
	if (mult != 1 && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
		end += strlen(end);
	if (*end != '\0' || (v != 0 && mult > UINT64_MAX / v))
		return false;
	*out = v * mult;
	return true;
}

static uint64_t arg_size(const struct cli *cli, const char *name, const char *s)
{
	uint64_t v;

	if (!parse_size(s, &v))
		die(cli, "invalid --%s: %s", name, s);
	return v;
}

static long arg_long(const struct cli *cli, const char *name, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		die(cli, "invalid --%s: %s (%ld to %ld)", name, s, min, max);
	return v;
}

static void log_sink(enum nvmf_log_level level, const char *msg);

/* Library messages while connecting are kept: a failure is told in one line. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static bool log_buffering;
static char log_buf[16][512];
static unsigned log_nbuf;

static void log_sink(enum nvmf_log_level level, const char *msg)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};

	pthread_mutex_lock(&log_lock);
	if (log_buffering) {
		if (log_nbuf < sizeof(log_buf) / sizeof(log_buf[0]))
			snprintf(log_buf[log_nbuf++], sizeof(log_buf[0]), "%s: %s", names[level], msg);
	} else {
		fprintf(stderr, "nvmf: %s: %s\n", names[level], msg);
	}
	pthread_mutex_unlock(&log_lock);
}

static void log_buffer(bool on, bool flush)
{
	pthread_mutex_lock(&log_lock);
	log_buffering = on;
	if (!on) {
		for (unsigned i = 0; flush && i < log_nbuf; i++)
			fprintf(stderr, "nvmf: %s\n", log_buf[i]);
		log_nbuf = 0;
	}
	pthread_mutex_unlock(&log_lock);
}

struct nvmf_ctrl *cli_connect(struct cli *cli)
{
	struct nvmf_error err;
	struct nvmf_ctrl *ctrl;

	if (cli->opts.subnqn == NULL)
		die(cli, "a subsystem NQN is required (-n NQN or nvme+tcp://ADDR/NQN)");
	log_buffer(true, false);
	ctrl = nvmf_connect(&cli->opts, &err);
	log_buffer(false, ctrl != NULL || cli->verbose > 0);
	if (ctrl == NULL)
		die(cli, "%s", err.msg);
	return ctrl;
}

void cli_disconnect(struct cli *cli, struct nvmf_ctrl *ctrl)
{
	int ret = nvmf_disconnect(ctrl);

	if (ret != 0 && cli->verbose > 0)
		fprintf(stderr, "nvmf %s: disconnect was not clean: %s\n", cli->cmd, strerror(-ret));
}

struct nvmf_ns *cli_namespace(struct cli *cli, struct nvmf_ctrl *ctrl)
{
	uint32_t first;
	struct nvmf_ns *ns;

	if (cli->nsid == 0) {
		if (nvmf_ctrl_ns_list(ctrl, &first, 1) == 0)
			die(cli, "%s has no active namespace", nvmf_ctrl_subnqn(ctrl));
		cli->nsid = first;
	}
	ns = nvmf_ctrl_ns(ctrl, cli->nsid);
	if (ns == NULL)
		die(cli, "namespace %u is not active on %s", cli->nsid, nvmf_ctrl_subnqn(ctrl));
	return ns;
}

const char *result_str(int ret, char *buf, size_t len)
{
	struct nvmf_cpl cpl = {.error = ret < 0 ? -ret : 0, .status = ret > 0 ? (uint16_t)ret : 0};

	if (ret == NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_RESERVATION_CONFLICT)) {
		snprintf(buf, len, "reservation conflict (another host's reservation refuses it; "
			 "SCT 0, SC 0x83)");
		return buf;
	}
	return nvmf_cpl_str(&cpl, buf, len);
}

void json_print(json_t *doc)
{
	char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s != NULL) {
		puts(s);
		free(s);
	}
	json_decref(doc);
}

void hexdump(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t off = 0; off < len; off += 16) {
		printf("%06zx:", off);
		for (size_t i = off; i < off + 16 && i < len; i++)
			printf(" %02x", p[i]);
		printf("\n");
	}
}

void id_str(char *out, size_t out_len, const char *field, size_t field_len)
{
	size_t n = strnlen(field, field_len);

	while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\0'))
		n--;
	if (n >= out_len)
		n = out_len - 1;
	memcpy(out, field, n);
	out[n] = '\0';
}

/* The PSK in a file: the first word that is an interchange key (a
 * bare key, or nvme-cli's "identity key" lines). */
static void read_tls_key_file(struct cli *cli, const char *path)
{
	char line[1024], *word, *save;
	bool found = false;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		die(cli, "--tls-key-file %s: %s", path, strerror(errno));
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		for (word = strtok_r(line, " \t\r\n", &save); word != NULL && !found;
		     word = strtok_r(NULL, " \t\r\n", &save)) {
			if (strncmp(word, "NVMeTLSkey-1:", 13) != 0)
				continue;
			if (strlen(word) >= sizeof(cli->tls_key_buf))
				break;
			memcpy(cli->tls_key_buf, word, strlen(word) + 1);
			found = true;
		}
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	if (!found)
		die(cli, "--tls-key-file %s: no NVMeTLSkey-1 key in it", path);
}

/* A reservation key: any 64-bit number (decimal, 0x hex). */
static uint64_t arg_key(const struct cli *cli, const char *name, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
		die(cli, "invalid --%s: %s (a 64-bit key)", name, s);
	return v;
}

/* The resv-* options, nvme-cli's names and ranges. */
static void set_resv_option(struct cli *cli, int id, const char *arg)
{
	switch (id) {
	case OPT_CRKEY: cli->crkey = arg_key(cli, "crkey", arg); break;
	case OPT_NRKEY: cli->nrkey = arg_key(cli, "nrkey", arg); break;
	case OPT_PRKEY: cli->prkey = arg_key(cli, "prkey", arg); break;
	case OPT_RTYPE: cli->rtype = (unsigned)arg_long(cli, "rtype", arg, 0, 6); break;
	case OPT_RREGA: cli->resv_action = (unsigned)arg_long(cli, "rrega", arg, 0, 2); break;
	case OPT_RACQA: cli->resv_action = (unsigned)arg_long(cli, "racqa", arg, 0, 2); break;
	case OPT_RRELA: cli->resv_action = (unsigned)arg_long(cli, "rrela", arg, 0, 1); break;
	case OPT_CPTPL:
		cli->cptpl = (unsigned)arg_long(cli, "cptpl", arg, 0, 3);
		if (cli->cptpl == 1)
			die(cli, "invalid --cptpl: 1 is reserved (0 no change, 2 off, 3 on)");
		break;
	case OPT_IEKEY: cli->iekey = true; break;
	case OPT_EDS: cli->eds = true; break;
	default: break;
	}
}

/* One more -a or -s: several make several paths. */
static void add_path_field(struct cli *cli, const char **list, unsigned *n, const char *arg,
			   const char *opt)
{
	if (*n >= NVMF_MPATH_MAX_PATHS)
		die(cli, "%s: at most %u paths", opt, NVMF_MPATH_MAX_PATHS);
	list[(*n)++] = arg;
}

/* Target URIs: the first sets the options, each adds a path. */
static void parse_uris(struct cli *cli, int argc, char **argv)
{
	for (unsigned i = 0; optind < argc; i++, optind++) {
		struct nvmf_host_opts o;

		nvmf_host_opts_init(&o);
		if (i >= NVMF_MPATH_MAX_PATHS)
			die(cli, "at most %u target URIs", NVMF_MPATH_MAX_PATHS);
		if (nvmf_parse_uri(argv[optind], &o, cli->uri_bufs[i], sizeof(cli->uri_bufs[i])) != 0)
			die(cli, "not a target URI (nvme+tcp://ADDR[:PORT]/SUBNQN): %s", argv[optind]);
		if (cli->opts.subnqn != NULL && o.subnqn != NULL &&
		    strcmp(cli->opts.subnqn, o.subnqn) != 0)
			die(cli, "%s: every path must name the same subsystem (%s)", argv[optind],
			    cli->opts.subnqn);
		if (i == 0)
			nvmf_parse_uri(argv[optind], &cli->opts, cli->uri_buf, sizeof(cli->uri_buf));
		add_path_field(cli, cli->addrs, &cli->naddrs, o.traddr, "URI");
		add_path_field(cli, cli->ports, &cli->nports,
			       o.trsvcid != NULL ? o.trsvcid : NVMF_DEFAULT_PORT, "URI");
	}
}

static void set_option(struct cli *cli, int id, const char *arg)
{
	struct nvmf_host_opts *o = &cli->opts;

	switch (id) {
	case OPT_TRANSPORT:
		if (strcmp(arg, "tcp") != 0)
			die(cli, "transport %s is not supported (only tcp)", arg);
		break;
	case OPT_TRADDR:
		add_path_field(cli, cli->addrs, &cli->naddrs, arg, "-a");
		o->traddr = cli->addrs[0];
		break;
	case OPT_TRSVCID:
		add_path_field(cli, cli->ports, &cli->nports, arg, "-s");
		o->trsvcid = cli->ports[0];
		break;
	case OPT_ALL_PATHS: cli->all_paths = true; break;
	case OPT_IOPOLICY:
		if (nvmf_iopolicy_parse(arg, &cli->iopolicy) != 0)
			die(cli, "--iopolicy %s: want round-robin or queue-depth", arg);
		break;
	case OPT_NQN: o->subnqn = arg; break;
	case OPT_HOSTNQN: o->hostnqn = arg; break;
	case OPT_HOSTID: o->hostid = arg; break;
	case OPT_NR_IO_QUEUES:
		o->nr_io_queues = (unsigned)arg_long(cli, "nr-io-queues", arg, 1, 128);
		cli->nr_io_queues_set = true;
		break;
	case OPT_QUEUE_SIZE:
		o->queue_size = (unsigned)arg_long(cli, "queue-size", arg, 3, 1024);
		cli->queue_size_set = true;
		break;
	case OPT_KATO: o->kato_s = (int)arg_long(cli, "keep-alive-tmo", arg, 0, 65535); break;
	case OPT_RECONNECT_DELAY:
		o->reconnect_delay_s = (int)arg_long(cli, "reconnect-delay", arg, 1, 3600);
		break;
	case OPT_CTRL_LOSS_TMO:
		o->ctrl_loss_tmo_s = (int)arg_long(cli, "ctrl-loss-tmo", arg, -1, 1 << 30);
		break;
	case OPT_HDR_DIGEST: o->hdr_digest = true; break;
	case OPT_DATA_DIGEST: o->data_digest = true; break;
	case OPT_DISABLE_SQFLOW: o->disable_sqflow = true; break;
	case OPT_DHCHAP_SECRET: o->dhchap_secret = arg; break;
	case OPT_DHCHAP_CTRL_SECRET: o->dhchap_ctrl_secret = arg; break;
	case OPT_TLS: o->tls = true; break;
	case OPT_TLS_KEY: o->tls_key = arg; break;
	case OPT_TLS_KEY_FILE:
		read_tls_key_file(cli, arg);
		o->tls_key = cli->tls_key_buf;
		break;
	case OPT_OUTPUT:
		if (strcmp(arg, "json") == 0)
			cli->json = true;
		else if (strcmp(arg, "normal") == 0)
			cli->json = false;
		else
			die(cli, "unknown output format %s (normal or json)", arg);
		break;
	case OPT_ENGINE: {
		struct nvmf_engine_params params;

		if (nvmf_engine_parse(arg, &params) != 0)
			die(cli, "unknown engine %s", arg);
		cli->engine = nvmf_engine_create(&params);
		cli->engine_spec = arg;
		if (cli->engine == NULL)
			die(cli, "cannot create engine %s: %s", arg, strerror(errno));
		o->engine = cli->engine;
		break;
	}
	case OPT_MAX_IO_SIZE:
		o->max_io_size = (uint32_t)arg_size(cli, "max-io-size", arg);
		break;
	case OPT_IO_TIMEOUT:
		o->io_timeout_ms = (uint32_t)arg_long(cli, "io-timeout", arg, 1, 3600000);
		break;
	case OPT_CONNECT_TIMEOUT:
		o->connect_timeout_ms = (uint32_t)arg_long(cli, "connect-timeout", arg, 1, 3600000);
		break;
	case OPT_VERBOSE: cli->verbose++; break;
	case OPT_NSID: cli->nsid = (uint32_t)arg_long(cli, "nsid", arg, 1, 0xfffffffe); break;
	case OPT_OFFSET: cli->offset = arg_size(cli, "offset", arg); break;
	case OPT_LENGTH:
		cli->length = arg_size(cli, "length", arg);
		cli->has_length = true;
		break;
	case OPT_DATA: cli->data = arg; break;
	case OPT_FUA: cli->fua = true; break;
	case OPT_DEALLOCATE: cli->deallocate = true; break;
	case OPT_LOG_ID: cli->log_id = (int)arg_long(cli, "log-id", arg, 0, 255); break;
	case OPT_LOG_LEN:
		cli->log_len = (uint32_t)arg_long(cli, "log-len", arg, 4, 1 << 24);
		break;
	case OPT_LSP: cli->lsp = (uint8_t)arg_long(cli, "lsp", arg, 0, 127); break;
	case OPT_FEATURE_ID:
		cli->feature_id = (int)arg_long(cli, "feature-id", arg, 0, 255);
		break;
	case OPT_SEL: cli->sel = (uint8_t)arg_long(cli, "sel", arg, 0, 3); break;
	case OPT_CDW11: cli->cdw11 = (uint32_t)arg_long(cli, "cdw11", arg, 0, UINT32_MAX); break;
	case OPT_DATA_LEN:
		cli->data_len = (uint32_t)arg_long(cli, "data-len", arg, 0, 1 << 20);
		break;
	case OPT_RAW: cli->raw = true; break;
	case OPT_CONNECT_ADDR: cli->connect_addr = arg; break;
	case OPT_RW: cli->rw = arg; break;
	case OPT_RWMIXREAD:
		cli->rwmixread = (unsigned)arg_long(cli, "rwmixread", arg, 0, 100);
		break;
	case OPT_BS: cli->bs = (uint32_t)arg_size(cli, "bs", arg); break;
	case OPT_IODEPTH: cli->iodepth = (unsigned)arg_long(cli, "iodepth", arg, 1, 1022); break;
	case OPT_RUNTIME: cli->runtime = (unsigned)arg_long(cli, "runtime", arg, 1, 1 << 20); break;
	case OPT_QUEUES: cli->queues = (unsigned)arg_long(cli, "queues", arg, 1, 128); break;
	case OPT_VERIFY: cli->verify = true; break;
	case OPT_SIZE: cli->size = arg_size(cli, "size", arg); break;
	case OPT_JSON_LOG: cli->json_log = arg; break;
	case OPT_FOREGROUND: cli->foreground = true; break;
	default: set_resv_option(cli, id, arg); break;
	}
}

static void parse(struct cli *cli, const struct cmd_def *cmd, int argc, char **argv)
{
	struct option longopts[NOPTS + 1];
	char shortopts[2 * NOPTS + 1];
	size_t nl = 0, ns = 0;
	int c;

	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt_def *o = &opt_defs[i];

		if ((o->cmds & cmd->bit) == 0)
			continue;
		longopts[nl++] = (struct option){o->name, o->has_arg, NULL, o->id};
		if (o->id < 256) {
			shortopts[ns++] = (char)o->id;
			if (o->has_arg)
				shortopts[ns++] = ':';
		}
	}
	longopts[nl] = (struct option){0};
	shortopts[ns] = '\0';
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == '?') {
			fprintf(stderr, "nvmf %s: unknown or incomplete option %s\n", cmd->name,
				argv[optind - 1]);
			exit(EXIT_USAGE);
		}
		if (c == OPT_HELP) {
			usage(stdout, cmd);
			exit(0);
		}
		set_option(cli, c, optarg);
	}
	if ((cmd->bit & C_MOUNTPOINT) != 0) {
		if (optind >= argc) {
			fprintf(stderr, "nvmf %s: a MOUNTPOINT is required\n", cmd->name);
			exit(EXIT_USAGE);
		}
		cli->mountpoint = argv[--argc];
	}
	if (optind < argc && cmd->bit != C_UMOUNT)
		parse_uris(cli, argc, argv);
	if (optind < argc) {
		fprintf(stderr, "nvmf %s: unexpected argument %s\n", cmd->name, argv[optind]);
		exit(EXIT_USAGE);
	}
	if (cli->opts.traddr == NULL && cmd->bit != C_UMOUNT)
		die(cli, "a target address is required (-a ADDR or nvme+tcp://ADDR/NQN)");
	if (cli_npaths(cli) > 1 && (cmd->bit & C_MULTIPATH) == 0)
		die(cli, "several paths (-a/-s or URIs given more than once) are for perf, mount and list-paths; %s takes one",
		    cmd->name);
	/* A PSK means TLS, except to a discovery controller: its log says
	 * which subsystems need TLS, and connect-all uses it there. */
	if (cli->opts.tls_key != NULL && (cmd->bit & (C_DISCOVER | C_CONNECT_ALL)) == 0)
		cli->opts.tls = true;
}

int main(int argc, char **argv)
{
	struct cli cli = {.log_id = -1, .feature_id = -1, .rwmixread = 50};
	const struct cmd_def *cmd = NULL;
	int ret;

	if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout, NULL);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	/* Key generators: no target, options of their own (nvme-cli's). */
	if (strcmp(argv[1], "gen-dhchap-key") == 0)
		return cmd_gen_dhchap_key(argc - 1, argv + 1);
	if (strcmp(argv[1], "gen-tls-key") == 0)
		return cmd_gen_tls_key(argc - 1, argv + 1);
	for (size_t i = 0; i < NCMDS; i++)
		if (strcmp(argv[1], cmd_defs[i].name) == 0)
			cmd = &cmd_defs[i];
	if (cmd == NULL) {
		fprintf(stderr, "nvmf: unknown command %s\n", argv[1]);
		usage(stderr, NULL);
		return EXIT_USAGE;
	}
	cli.cmd = cmd->name;
	nvmf_host_opts_init(&cli.opts);
	nvmf_log_set_sink(log_sink);
	parse(&cli, cmd, argc - 1, argv + 1);
	if (cli.verbose > 0)
		nvmf_log_set_level(cli.verbose > 1 ? NVMF_LOG_DEBUG : NVMF_LOG_INFO);
	ret = cmd->fn(&cli);
	if (cli.engine != NULL)
		nvmf_engine_destroy(cli.engine);
	explicit_bzero(cli.tls_key_buf, sizeof(cli.tls_key_buf));
	return ret;
}
