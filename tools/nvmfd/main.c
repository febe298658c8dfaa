/* SPDX-License-Identifier: MIT */
/*
 * nvmfd: the NVMe/TCP target daemon.
 *
 *   nvmfd [-a ADDR] [-s PORT] [-n SUBNQN] [--allow-host HOSTNQN]... [BACKING]...
 *   nvmfd -c /etc/nvmet/config.json
 *
 * Runs in the foreground and logs to stderr.  SIGTERM/SIGINT: graceful
 * stop (exit 0 once everything is flushed).  SIGHUP: reload the
 * configuration file.  JSON-RPC on a Unix socket (rpc.c) changes the
 * running configuration; SIGHUP and RPC changes take turns (state.lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nvmf/log.h"
#include "nvmf/transport.h"
#include "metrics_http.h"
#include "nvmfd.h"

#define DEFAULT_NQN "nqn.2024-01.org.nvmfd:default"
#define DEFAULT_ADDR "127.0.0.1"
#define DEFAULT_PORT "4420"
#define DEFAULT_DISCOVERY_PORT 8009
#define DEFAULT_NS_SIZE "1G"
#define DEFAULT_NS_FILE "default.img"
#define DISCOVERY_PORTID NVMFD_DISCOVERY_PORTID
#define IO_PORTID 1
#define FD_RESERVE 64              /* listeners, files, pipes, the engine */

/* --allow-host and the credentials that follow it (secrets point into
 * argv, wiped once copied). */
struct cli_host {
	const char *nqn;
	char *dhchap_secret;
	char *dhchap_ctrl_secret;
	int dhchap_hash;            /* 0: SHA-256 */
	int dhchap_dhgroup;         /* 0: null */
	char *tls_key;
};

/* --ana-state [PORTID:][GRPID=]STATE */
struct cli_ana {
	uint16_t portid;
	struct nvmf_port_ana ana;
};

struct options {
	const char *addr;
	const char *port;
	const char *nqn;
	const char *config;
	const char *pidfile;
	const char *data_dir;
	const char *default_size;
	uint32_t block_size;
	int discovery_port;         /* -1: none */
	bool discovery_port_given;  /* --discovery-port: it must be served */
	unsigned nhosts;
	struct cli_host *hosts;
	bool tls;                   /* the NVMe/TCP port requires TLS 1.3 */
	bool fatal_close;           /* --fatal-error close: every port */
	bool dhchap_required;       /* every host must authenticate */
	unsigned nana;
	struct cli_ana *ana;
	uint16_t cntlid_min, cntlid_max; /* --cntlid-range; 0: the default */
	int nbacking;
	char **backing;
	const char *engine;
	const char *rpc_socket;     /* NULL: the default, optional */
	const char *metrics;        /* --metrics ADDR:PORT; NULL: off */
	const char *ceph_conf;      /* NULL: $CEPH_CONF, then Ceph's search */
	const char *ceph_id;        /* NULL: admin */
	struct nvmf_target_params params;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nvmfd [options] [BACKING]...\n"
		"       nvmfd -c FILE [options]\n"
		"Serves NVMe over TCP: one subsystem from the command line, or an nvmetcli\n"
		"JSON configuration (-c). BACKING: a file (PATH[,size=SIZE][,bs=512|4096][,ro]),\n"
		"a block device, ramdisk:SIZE[,bs=...], or a Ceph RBD image\n"
		"rbd:POOL[/NAMESPACE]/IMAGE[,bs=...][,ro]. Without BACKING, a %s file\n"
		"under the data directory is served.\n\n"
		"  -a, --addr ADDR           listen address (%s)\n"
		"  -s, --port PORT           NVMe/TCP port (%s)\n"
		"  -n, --nqn NQN             subsystem NQN (%s)\n"
		"      --allow-host NQN      allow this host (repeat); none given: any host\n"
		"        --dhchap-secret KEY       its DH-HMAC-CHAP secret (DHHC-1:..., as\n"
		"                                  nvme gen-dhchap-key prints): it must authenticate\n"
		"        --dhchap-ctrl-secret KEY  controller secret, for bidirectional authentication\n"
		"        --dhchap-hash NAME        sha256 (default), sha384, sha512\n"
		"        --dhchap-dhgroup NAME     null (default), ffdhe2048 ... ffdhe8192\n"
		"        --tls-key KEY             its TLS PSK (NVMeTLSkey-1:..., nvme gen-tls-key)\n"
		"                                  (these follow the --allow-host they belong to)\n"
		"      --dhchap-required     hosts without a DH-HMAC-CHAP secret are refused\n"
		"      --tls                 the NVMe/TCP port requires TLS 1.3 (the discovery\n"
		"                            port stays plaintext and reports the requirement)\n"
		"  -c, --config FILE         nvmetcli JSON configuration (SIGHUP reloads it)\n"
		"      --discovery-port PORT dedicated discovery port (%d, left out if another\n"
		"                            process holds it; 0: none)\n"
		"      --data-dir DIR        default namespace and reservation state directory\n"
		"                            ($STATE_DIRECTORY or /var/lib/nvmfd)\n"
		"      --default-size SIZE   size of the default namespace file (%s)\n"
		"      --block-size N        logical block size for BACKINGs: 512 or 4096\n"
		"      --pidfile FILE        write the process ID here\n"
		"      --rpc-socket PATH     JSON-RPC socket (nvmfctl; default\n"
		"                            $RUNTIME_DIRECTORY/nvmfd.sock or /run/nvmfd/nvmfd.sock)\n"
		"      --max-connections N   TCP connections at once (128)\n"
		"      --max-io-queues N     I/O queues per controller (16)\n"
		"      --queue-depth N       entries per queue (128)\n"
		"      --max-io-size SIZE    bytes per command, MDTS (128K)\n"
		"      --inline-data-size N  in-capsule data per I/O command (16384)\n"
		"      --ana-state [PORTID:][GRPID=]STATE\n"
		"                            ANA state of a group on a port (repeat): optimized,\n"
		"                            non_optimized, inaccessible, persistent_loss, change\n"
		"                            (port %d and group 1 unless given; over the file's,\n"
		"                            reloads included)\n"
		"      --cntlid-range MIN-MAX controller IDs of the subsystem (two daemons serving\n"
		"                            one subsystem as an HA pair need disjoint ranges)\n"
		"      --fatal-error HOW     a host's protocol error ends its connection with a\n"
		"                            C2HTermReq (termreq, the default, as the spec asks)\n"
		"                            or a close without one (close, as the Linux target;\n"
		"                            for Linux 6.1 hosts, which crash on a C2HTermReq)\n"
		"      --connect-timeout MS  a new connection must Connect within (10000)\n"
		"      --io-workers N        threads for file and block I/O (4)\n"
		"      --ceph-conf FILE      Ceph cluster of rbd: namespaces ($CEPH_CONF, then\n"
		"                            /etc/ceph/ceph.conf)\n"
		"      --ceph-id NAME        Ceph client id for rbd: namespaces (admin)\n"
		"      --engine SPEC         socket engine: hybrid (default: one loop per CPU\n"
		"                            of the affinity mask, up to 4), epoll, poll,\n"
		"                            threads; ,poll=USEC\n"
		"                            ,threads=N ,cpu=C\n"
		"      --metrics ADDR:PORT   serve Prometheus metrics at http://ADDR:PORT/metrics\n"
		"                            (off by default; a bare PORT: 127.0.0.1)\n"
		"  -v, --verbose             debug logs\n"
		"  -q, --quiet               warnings and errors only\n"
		"  -h, --help\n",
		DEFAULT_NS_FILE, DEFAULT_ADDR, DEFAULT_PORT, DEFAULT_NQN, DEFAULT_DISCOVERY_PORT,
		DEFAULT_NS_SIZE, IO_PORTID);
}

static int parse_uint(const char *opt, const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || s[0] == '\0' || s[0] == '-' || v > max) {
		fprintf(stderr, "nvmfd: %s: \"%s\" is not a number up to %lu\n", opt, s, max);
		return -1;
	}
	*out = v;
	return 0;
}

enum {
	OPT_ALLOW_HOST = 256,
	OPT_DISCOVERY_PORT,
	OPT_DATA_DIR,
	OPT_DEFAULT_SIZE,
	OPT_BLOCK_SIZE,
	OPT_PIDFILE,
	OPT_MAX_CONNECTIONS,
	OPT_MAX_IO_QUEUES,
	OPT_QUEUE_DEPTH,
	OPT_MAX_IO_SIZE,
	OPT_INLINE_DATA_SIZE,
	OPT_FATAL_ERROR,
	OPT_CONNECT_TIMEOUT,
	OPT_IO_WORKERS,
	OPT_ENGINE,
	OPT_METRICS,
	OPT_DHCHAP_SECRET,
	OPT_DHCHAP_CTRL_SECRET,
	OPT_DHCHAP_HASH,
	OPT_DHCHAP_DHGROUP,
	OPT_DHCHAP_REQUIRED,
	OPT_TLS,
	OPT_TLS_KEY,
	OPT_RPC_SOCKET,
	OPT_ANA_STATE,
	OPT_CNTLID_RANGE,
	OPT_CEPH_CONF,
	OPT_CEPH_ID,
};

/* "[PORTID:][GRPID=]STATE" */
static int parse_ana_state(const char *arg, struct options *o)
{
	struct cli_ana a = {.portid = IO_PORTID, .ana = {.grpid = 1}};
	const char *p = arg, *eq = strchr(arg, '=');
	struct cli_ana *more;
	char *end;
	unsigned long v;

	if (strchr(p, ':') != NULL) {
		v = strtoul(p, &end, 10);
		if (end == p || *end != ':' || v > UINT16_MAX - 1)
			goto bad;
		a.portid = (uint16_t)v;
		p = end + 1;
	}
	if (eq != NULL) {
		v = strtoul(p, &end, 10);
		if (end == p || end != eq || v == 0 || v > NVMF_ANA_GRPMAX)
			goto bad;
		a.ana.grpid = (uint32_t)v;
		p = eq + 1;
	}
	if (nvmf_ana_state_parse(p, &a.ana.state) != 0)
		goto bad;
	more = realloc(o->ana, (o->nana + 1) * sizeof(*more));
	if (more == NULL)
		return -1;
	o->ana = more;
	o->ana[o->nana++] = a;
	return 0;
bad:
	fprintf(stderr, "nvmfd: --ana-state %s: want [PORTID:][GRPID=]STATE, GRPID 1..%d, STATE optimized, non_optimized, inaccessible, persistent_loss or change\n",
		arg, NVMF_ANA_GRPMAX);
	return -1;
}

static int parse_cntlid_range(const char *arg, struct options *o)
{
	unsigned long lo, hi;
	char *end;

	lo = strtoul(arg, &end, 10);
	if (end != arg && *end == '-') {
		const char *h = end + 1;

		hi = strtoul(h, &end, 10);
		if (end != h && *end == '\0' && lo >= 1 && lo <= hi && hi <= NVMF_CNTLID_MAX) {
			o->cntlid_min = (uint16_t)lo;
			o->cntlid_max = (uint16_t)hi;
			return 0;
		}
	}
	fprintf(stderr, "nvmfd: --cntlid-range %s: want MIN-MAX within 1-%d\n", arg,
		NVMF_CNTLID_MAX);
	return -1;
}

/* The --allow-host a credential option belongs to. */
static struct cli_host *last_host(struct options *o, const char *opt)
{
	if (o->nhosts == 0) {
		fprintf(stderr, "nvmfd: %s belongs to a host: put it after --allow-host HOSTNQN\n",
			opt);
		return NULL;
	}
	return &o->hosts[o->nhosts - 1];
}

static const struct option longopts[] = {
	{"addr", required_argument, NULL, 'a'},
	{"port", required_argument, NULL, 's'},
	{"nqn", required_argument, NULL, 'n'},
	{"config", required_argument, NULL, 'c'},
	{"allow-host", required_argument, NULL, OPT_ALLOW_HOST},
	{"discovery-port", required_argument, NULL, OPT_DISCOVERY_PORT},
	{"data-dir", required_argument, NULL, OPT_DATA_DIR},
	{"default-size", required_argument, NULL, OPT_DEFAULT_SIZE},
	{"block-size", required_argument, NULL, OPT_BLOCK_SIZE},
	{"pidfile", required_argument, NULL, OPT_PIDFILE},
	{"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
	{"max-io-queues", required_argument, NULL, OPT_MAX_IO_QUEUES},
	{"queue-depth", required_argument, NULL, OPT_QUEUE_DEPTH},
	{"max-io-size", required_argument, NULL, OPT_MAX_IO_SIZE},
	{"inline-data-size", required_argument, NULL, OPT_INLINE_DATA_SIZE},
	{"fatal-error", required_argument, NULL, OPT_FATAL_ERROR},
	{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
	{"io-workers", required_argument, NULL, OPT_IO_WORKERS},
	{"engine", required_argument, NULL, OPT_ENGINE},
	{"metrics", required_argument, NULL, OPT_METRICS},
	{"dhchap-secret", required_argument, NULL, OPT_DHCHAP_SECRET},
	{"dhchap-ctrl-secret", required_argument, NULL, OPT_DHCHAP_CTRL_SECRET},
	{"dhchap-hash", required_argument, NULL, OPT_DHCHAP_HASH},
	{"dhchap-dhgroup", required_argument, NULL, OPT_DHCHAP_DHGROUP},
	{"dhchap-required", no_argument, NULL, OPT_DHCHAP_REQUIRED},
	{"tls", no_argument, NULL, OPT_TLS},
	{"tls-key", required_argument, NULL, OPT_TLS_KEY},
	{"rpc-socket", required_argument, NULL, OPT_RPC_SOCKET},
	{"ana-state", required_argument, NULL, OPT_ANA_STATE},
	{"cntlid-range", required_argument, NULL, OPT_CNTLID_RANGE},
	{"ceph-conf", required_argument, NULL, OPT_CEPH_CONF},
	{"ceph-id", required_argument, NULL, OPT_CEPH_ID},
	{"verbose", no_argument, NULL, 'v'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* --allow-host and what follows it: that host's keys.  1: not one of these. */
static int parse_host_option(int c, struct options *o)
{
	struct cli_host *h;

	switch (c) {
	case OPT_ALLOW_HOST: {
		struct cli_host *hosts = realloc(o->hosts, (o->nhosts + 1) * sizeof(*hosts));

		if (hosts == NULL)
			return -1;
		o->hosts = hosts;
		o->hosts[o->nhosts++] = (struct cli_host){.nqn = optarg};
		break;
	}
	case OPT_DHCHAP_SECRET:
		if ((h = last_host(o, "--dhchap-secret")) == NULL)
			return -1;
		h->dhchap_secret = optarg;
		break;
	case OPT_DHCHAP_CTRL_SECRET:
		if ((h = last_host(o, "--dhchap-ctrl-secret")) == NULL)
			return -1;
		h->dhchap_ctrl_secret = optarg;
		break;
	case OPT_DHCHAP_HASH:
		if ((h = last_host(o, "--dhchap-hash")) == NULL)
			return -1;
		h->dhchap_hash = nvmf_dhchap_hash_from_name(optarg);
		if (h->dhchap_hash <= 0) {
			fprintf(stderr, "nvmfd: --dhchap-hash %s: want sha256, sha384 or sha512\n",
				optarg);
			return -1;
		}
		break;
	case OPT_DHCHAP_DHGROUP:
		if ((h = last_host(o, "--dhchap-dhgroup")) == NULL)
			return -1;
		h->dhchap_dhgroup = nvmf_dhchap_dhgroup_from_name(optarg);
		if (h->dhchap_dhgroup < 0) {
			fprintf(stderr, "nvmfd: --dhchap-dhgroup %s: want null, ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144 or ffdhe8192\n",
				optarg);
			return -1;
		}
		break;
	case OPT_TLS_KEY:
		if ((h = last_host(o, "--tls-key")) == NULL)
			return -1;
		h->tls_key = optarg;
		break;
	default:
		return 1;
	}
	return 0;
}

/* Sizes and limits of the target.  1: not one of these. */
static int parse_limit_option(int c, struct options *o)
{
	unsigned long v;
	uint64_t size;

	switch (c) {
	case OPT_DEFAULT_SIZE:
		if (nvmf_parse_size(optarg, &size) != 0 || size == 0) {
			fprintf(stderr, "nvmfd: --default-size: \"%s\" is not a size\n", optarg);
			return -1;
		}
		o->default_size = optarg;
		break;
	case OPT_BLOCK_SIZE:
		if (parse_uint("--block-size", optarg, 4096, &v) != 0)
			return -1;
		if (v != 512 && v != 4096) {
			fprintf(stderr, "nvmfd: --block-size: must be 512 or 4096\n");
			return -1;
		}
		o->block_size = (uint32_t)v;
		break;
	case OPT_MAX_CONNECTIONS:
		if (parse_uint("--max-connections", optarg, 65536, &v) != 0 || v == 0)
			return -1;
		o->params.max_connections = (uint32_t)v;
		break;
	case OPT_MAX_IO_QUEUES:
		if (parse_uint("--max-io-queues", optarg, 1024, &v) != 0 || v == 0)
			return -1;
		o->params.max_io_queues = (uint16_t)v;
		break;
	case OPT_QUEUE_DEPTH:
		if (parse_uint("--queue-depth", optarg, 4096, &v) != 0 || v < 32) {
			fprintf(stderr, "nvmfd: --queue-depth: 32 to 4096\n");
			return -1;
		}
		o->params.max_queue_depth = (uint16_t)v;
		break;
	case OPT_MAX_IO_SIZE:
		if (nvmf_parse_size(optarg, &size) != 0 || size < 4096 || size > (1u << 24) ||
		    (size & (size - 1)) != 0) {
			fprintf(stderr, "nvmfd: --max-io-size: a power of two from 4K to 16M\n");
			return -1;
		}
		o->params.max_io_size = (uint32_t)size;
		break;
	case OPT_INLINE_DATA_SIZE:
		if (parse_uint("--inline-data-size", optarg, 128 * 1024, &v) != 0 || v % 16 != 0) {
			fprintf(stderr, "nvmfd: --inline-data-size: a multiple of 16 up to 131072\n");
			return -1;
		}
		o->params.inline_data_size = (uint32_t)v;
		break;
	case OPT_CONNECT_TIMEOUT:
		if (parse_uint("--connect-timeout", optarg, 3600000, &v) != 0 || v == 0)
			return -1;
		o->params.connect_timeout_ms = (uint32_t)v;
		break;
	case OPT_IO_WORKERS:
		if (parse_uint("--io-workers", optarg, 256, &v) != 0 || v == 0)
			return -1;
		o->params.io_workers = (unsigned)v;
		break;
	default:
		return 1;
	}
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	unsigned long v;
	int c, rc;

	nvmf_target_params_init(&o->params);
	o->discovery_port = DEFAULT_DISCOVERY_PORT;
	while ((c = getopt_long(argc, argv, "a:s:n:c:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->addr = optarg;
			break;
		case 's':
			if (parse_uint("--port", optarg, 65535, &v) != 0)
				return -1;
			o->port = optarg;
			break;
		case 'n':
			o->nqn = optarg;
			break;
		case 'c':
			o->config = optarg;
			break;
		case OPT_DHCHAP_REQUIRED:
			o->dhchap_required = true;
			break;
		case OPT_TLS:
			o->tls = true;
			break;
		case OPT_FATAL_ERROR:
			if (strcmp(optarg, "close") != 0 && strcmp(optarg, "termreq") != 0) {
				fprintf(stderr, "nvmfd: --fatal-error %s: want termreq or close\n",
					optarg);
				return -1;
			}
			o->fatal_close = strcmp(optarg, "close") == 0;
			break;
		case OPT_DISCOVERY_PORT:
			if (parse_uint("--discovery-port", optarg, 65535, &v) != 0)
				return -1;
			o->discovery_port = v == 0 ? -1 : (int)v;
			o->discovery_port_given = true;
			break;
		case OPT_DATA_DIR:
			o->data_dir = optarg;
			break;
		case OPT_PIDFILE:
			o->pidfile = optarg;
			break;
		case OPT_METRICS:
			o->metrics = optarg;
			break;
		case OPT_ENGINE:
			o->engine = optarg;
			break;
		case OPT_RPC_SOCKET:
			if (optarg[0] == '\0') {
				fprintf(stderr, "nvmfd: --rpc-socket: empty path\n");
				return -1;
			}
			o->rpc_socket = optarg;
			break;
		case OPT_ANA_STATE:
			if (parse_ana_state(optarg, o) != 0)
				return -1;
			break;
		case OPT_CNTLID_RANGE:
			if (parse_cntlid_range(optarg, o) != 0)
				return -1;
			break;
		case OPT_CEPH_CONF:
			o->ceph_conf = optarg;
			break;
		case OPT_CEPH_ID:
			o->ceph_id = optarg;
			break;
		case 'v':
			nvmf_log_set_level(NVMF_LOG_DEBUG);
			break;
		case 'q':
			nvmf_log_set_level(NVMF_LOG_WARN);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			rc = parse_host_option(c, o);
			if (rc == 1)
				rc = parse_limit_option(c, o);
			if (rc == 1)
				usage(stderr);
			if (rc != 0)
				return -1;
		}
	}
	if (nvmf_rbd_configure(o->ceph_conf, o->ceph_id) != 0) {
		fprintf(stderr, "nvmfd: --ceph-conf or --ceph-id too long\n");
		return -1;
	}
	o->nbacking = argc - optind;
	o->backing = argv + optind;
	if (o->config != NULL && (o->nbacking > 0 || o->nqn != NULL || o->nhosts > 0 ||
				  o->port != NULL || o->tls || o->dhchap_required || o->cntlid_min != 0)) {
		fprintf(stderr, "nvmfd: -c takes the subsystems, ports and hosts from the file: "
				"no BACKING, -s, -n, --allow-host, --tls, --dhchap-required or --cntlid-range with it\n");
		return -1;
	}
	return 0;
}

static bool addr_is_ipv6(const char *addr)
{
	return strchr(addr, ':') != NULL;
}

/* The data directory: systemd's StateDirectory, or /var/lib. */
static const char *data_dir(const struct options *o)
{
	const char *dir = o->data_dir;

	if (dir == NULL)
		dir = getenv("STATE_DIRECTORY");
	return dir != NULL ? dir : "/var/lib/nvmfd";
}

/* Namespaces with reservations keep them there too (persist through power
 * loss): made at start when the configuration has any. */
static int state_dir(struct options *o, const struct nvmf_target_conf *conf)
{
	bool any = false;

	for (unsigned s = 0; s < conf->nsubsys; s++)
		for (unsigned n = 0; n < conf->subsys[s].nns; n++)
			any |= conf->subsys[s].ns[n].resv_enable;
	o->params.state_dir = data_dir(o);
	if (any && mkdir(o->params.state_dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "nvmfd: data directory %s (reservation state): %s\n",
			o->params.state_dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* The default namespace lives in the data directory. */
static int default_backing(const struct options *o, struct nvmf_ns_conf *ns)
{
	const char *dir = data_dir(o);
	uint64_t size;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "nvmfd: data directory %s: %s\n", dir, strerror(errno));
		return -1;
	}
	memset(ns, 0, sizeof(*ns));
	if ((size_t)snprintf(ns->path, sizeof(ns->path), "%s/%s", dir, DEFAULT_NS_FILE) >=
	    sizeof(ns->path)) {
		fprintf(stderr, "nvmfd: data directory path too long\n");
		return -1;
	}
	nvmf_parse_size(o->default_size != NULL ? o->default_size : DEFAULT_NS_SIZE, &size);
	ns->size = size;
	ns->enabled = true;
	return 0;
}

static int add_port(struct nvmf_target_conf *conf, uint16_t portid, const char *addr,
		    const char *port, const char *nqn)
{
	struct nvmf_port_conf *p = nvmfd_conf_add_port(conf);

	if (p == NULL)
		return -1;
	p->portid = portid;
	p->adrfam = addr_is_ipv6(addr) ? NVMF_ADRFAM_IPV6 : NVMF_ADRFAM_IPV4;
	snprintf(p->traddr, sizeof(p->traddr), "%s", addr);
	snprintf(p->trsvcid, sizeof(p->trsvcid), "%s", port);
	if (nqn != NULL) {
		p->subsystems = calloc(1, sizeof(*p->subsystems));
		if (p->subsystems == NULL)
			return -1;
		snprintf(p->subsystems[0], sizeof(p->subsystems[0]), "%s", nqn);
		p->nsubsys = 1;
	}
	return 0;
}

/* A key string into its fixed-size field, then out of argv: other users
 * read /proc/PID/cmdline. */
static int copy_key(char *dst, size_t size, char *src, const char *opt, const char *nqn)
{
	size_t n;

	if (src == NULL)
		return 0;
	n = strlen(src);
	if (n >= size) {
		fprintf(stderr, "nvmfd: %s for %s: longer than any key (%zu characters)\n", opt, nqn,
			size - 1);
		return -1;
	}
	memcpy(dst, src, n + 1);
	explicit_bzero(src, n);
	return 0;
}

/* The --allow-host entries' credentials as the target's host entries. */
static int build_cli_hosts(const struct options *o, struct nvmf_target_conf *conf)
{
	bool any_tls = false;

	conf->hosts = calloc(o->nhosts ? o->nhosts : 1, sizeof(*conf->hosts));
	if (conf->hosts == NULL)
		return -1;
	conf->nhosts = o->nhosts;
	for (unsigned i = 0; i < o->nhosts; i++) {
		const struct cli_host *h = &o->hosts[i];
		struct nvmf_host_conf *c = &conf->hosts[i];

		if (h->dhchap_secret == NULL &&
		    (h->dhchap_ctrl_secret != NULL || h->dhchap_hash != 0 || h->dhchap_dhgroup != 0)) {
			fprintf(stderr, "nvmfd: host %s: --dhchap-ctrl-secret, --dhchap-hash and --dhchap-dhgroup need --dhchap-secret\n",
				h->nqn);
			return -1;
		}
		snprintf(c->nqn, sizeof(c->nqn), "%s", h->nqn);
		if (copy_key(c->dhchap_key, sizeof(c->dhchap_key), h->dhchap_secret,
			     "--dhchap-secret", h->nqn) != 0 ||
		    copy_key(c->dhchap_ctrl_key, sizeof(c->dhchap_ctrl_key), h->dhchap_ctrl_secret,
			     "--dhchap-ctrl-secret", h->nqn) != 0 ||
		    copy_key(c->tls_key, sizeof(c->tls_key), h->tls_key, "--tls-key", h->nqn) != 0)
			return -1;
		c->dhchap_hash = (uint8_t)h->dhchap_hash;
		c->dhchap_dhgroup = (uint8_t)h->dhchap_dhgroup;
		any_tls |= h->tls_key != NULL;
	}
	if (o->tls && !any_tls) {
		fprintf(stderr, "nvmfd: --tls: no host could connect: give --allow-host HOSTNQN --tls-key KEY\n");
		return -1;
	}
	return 0;
}

static int build_cli_conf(const struct options *o, struct nvmf_target_conf *conf)
{
	const char *addr = o->addr != NULL ? o->addr : DEFAULT_ADDR;
	struct nvmf_subsys_conf *s;
	char err[512];

	memset(conf, 0, sizeof(*conf));
	s = nvmfd_conf_add_subsys(conf);
	if (s == NULL)
		return -1;
	snprintf(s->nqn, sizeof(s->nqn), "%s", o->nqn != NULL ? o->nqn : DEFAULT_NQN);
	/* Without --allow-host, any host: the default address is loopback only. */
	s->allow_any_host = o->nhosts == 0;
	s->nhosts = o->nhosts;
	s->hosts = calloc(o->nhosts ? o->nhosts : 1, sizeof(*s->hosts));
	s->nns = o->nbacking > 0 ? (unsigned)o->nbacking : 1;
	s->ns = calloc(s->nns, sizeof(*s->ns));
	if (s->hosts == NULL || s->ns == NULL)
		return -1;
	for (unsigned i = 0; i < o->nhosts; i++)
		snprintf(s->hosts[i], sizeof(s->hosts[i]), "%s", o->hosts[i].nqn);
	s->dhchap_required = o->dhchap_required;
	s->cntlid_min = o->cntlid_min;
	s->cntlid_max = o->cntlid_max;
	if (build_cli_hosts(o, conf) != 0)
		return -1;
	if (o->nbacking == 0) {
		if (default_backing(o, &s->ns[0]) != 0)
			return -1;
		s->ns[0].block_size = o->block_size;
	}
	for (int i = 0; i < o->nbacking; i++) {
		if (nvmfd_parse_backing(o->backing[i], &s->ns[i], err, sizeof(err)) != 0) {
			fprintf(stderr, "nvmfd: %s\n", err);
			return -1;
		}
		if (s->ns[i].block_size == 0)
			s->ns[i].block_size = o->block_size;
		s->ns[i].nsid = (uint32_t)i + 1;
	}
	s->ns[0].nsid = 1;
	if (add_port(conf, IO_PORTID, addr, o->port != NULL ? o->port : DEFAULT_PORT, s->nqn) != 0)
		return -1;
	conf->ports[conf->nports - 1].tls = o->tls ? NVMF_PORT_TLS_REQUIRED : NVMF_PORT_TLS_NONE;
	return 0;
}

/*
 * The dedicated discovery port, unless a configured port already is one.
 * The default one is optional: another nvmfd on this machine may hold it,
 * and every port serves discovery anyway.
 */
static int add_discovery_port(const struct options *o, struct nvmf_target_conf *conf)
{
	char number[16], addr[sizeof(conf->ports[0].traddr)];

	if (o->discovery_port < 0)
		return 0;
	snprintf(number, sizeof(number), "%d", o->discovery_port);
	for (unsigned i = 0; i < conf->nports; i++)
		if (strcmp(conf->ports[i].trsvcid, number) == 0)
			return 0;
	/* A copy: adding the port may move conf->ports. */
	snprintf(addr, sizeof(addr), "%s",
		 o->addr != NULL	 ? o->addr
		 : conf->nports > 0 ? conf->ports[0].traddr
				    : DEFAULT_ADDR);
	if (add_port(conf, DISCOVERY_PORTID, addr, number, NULL) != 0)
		return -1;
	conf->ports[conf->nports - 1].optional = !o->discovery_port_given;
	return 0;
}

/* --fatal-error close: on every port, the configuration's included. */
static int apply_fatal_close(const struct options *o, struct nvmf_target_conf *conf)
{
	for (unsigned i = 0; i < conf->nports && o->fatal_close; i++)
		conf->ports[i].fatal_close = true;
	return 0;
}

/* --ana-state: over the states the configuration gives its ports. */
static int apply_ana_states(const struct options *o, struct nvmf_target_conf *conf)
{
	for (unsigned i = 0; i < o->nana; i++) {
		const struct cli_ana *a = &o->ana[i];
		struct nvmf_port_conf *p = NULL;
		struct nvmf_port_ana *more;
		unsigned k;

		for (unsigned j = 0; j < conf->nports && p == NULL; j++)
			if (conf->ports[j].portid == a->portid)
				p = &conf->ports[j];
		if (p == NULL) {
			fprintf(stderr, "nvmfd: --ana-state: no port %u is configured\n", a->portid);
			return -1;
		}
		for (k = 0; k < p->nana && p->ana[k].grpid != a->ana.grpid; k++)
			;
		if (k == p->nana) {
			more = realloc(p->ana, (p->nana + 1) * sizeof(*more));
			if (more == NULL)
				return -1;
			p->ana = more;
			p->nana++;
		}
		p->ana[k] = a->ana;
	}
	return 0;
}

static void config_warning(void *file, const char *line)
{
	fprintf(stderr, "nvmfd: warning: %s: %s\n", (const char *)file, line);
}

static int load_conf(const struct options *o, struct nvmf_target_conf *conf)
{
	char err[1024];

	if (o->config == NULL) {
		if (build_cli_conf(o, conf) == 0 && add_discovery_port(o, conf) == 0 &&
		    apply_ana_states(o, conf) == 0)
			return apply_fatal_close(o, conf);
		nvmfd_config_free(conf); /* the parts built */
		return -1;
	}
	if (nvmfd_config_load(o->config, conf, config_warning, (void *)o->config, err,
			      sizeof(err)) != 0) {
		fprintf(stderr, "nvmfd: %s: %s\n", o->config, err);
		return -1;
	}
	if (add_discovery_port(o, conf) != 0 || apply_ana_states(o, conf) != 0) {
		nvmfd_config_free(conf);
		return -1;
	}
	return apply_fatal_close(o, conf);
}


/*
 * Every connection holds a descriptor: make room for --max-connections
 * (within the hard limit), or say where connections will start to wait.
 */
static void fit_fd_limit(uint32_t max_connections)
{
	rlim_t want = (rlim_t)max_connections + FD_RESERVE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want)
		fprintf(stderr, "nvmfd: --max-connections %u needs %llu open files but the limit is %llu: connections beyond about %llu will wait (raise ulimit -n)\n",
			max_connections, (unsigned long long)want, (unsigned long long)rl.rlim_cur,
			rl.rlim_cur > FD_RESERVE ? (unsigned long long)(rl.rlim_cur - FD_RESERVE) : 0ull);
}

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "nvmfd: pidfile %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0) {
		fprintf(stderr, "nvmfd: pidfile %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The file again, as a whole; JSON-RPC changes not saved are dropped. */
static void reload(const struct options *o, struct nvmfd_state *st)
{
	struct nvmf_target_conf conf;
	struct nvmf_error err;

	if (o->config == NULL) {
		fprintf(stderr, "nvmfd: SIGHUP: no configuration file (-c) to reload\n");
		return;
	}
	fprintf(stderr, "nvmfd: SIGHUP: reloading %s\n", o->config);
	if (load_conf(o, &conf) != 0) {
		fprintf(stderr, "nvmfd: reload failed; the running configuration stays\n");
		return;
	}
	pthread_mutex_lock(&st->lock);
	if (nvmf_target_configure(st->target, &conf, &err) != 0) {
		fprintf(stderr, "nvmfd: reload failed (%s); the running configuration stays\n",
			err.msg);
		nvmfd_config_free(&conf);
	} else {
		fprintf(stderr, "nvmfd: configuration reloaded\n");
		nvmfd_config_free(&st->conf);
		st->conf = conf;
	}
	pthread_mutex_unlock(&st->lock);
}

/* Signals until SIGTERM or SIGINT: SIGHUP reloads. */
static void serve(const struct options *o, struct nvmfd_state *st, sigset_t *sigs)
{
	int sig;

	for (;;) {
		if (sigwait(sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(o, st);
			continue;
		}
		fprintf(stderr, "nvmfd: %s: stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		return;
	}
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct nvmfd_state st = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct nvmfd_rpc *rpc;
	struct metrics_server *metrics = NULL;
	char metrics_err[256];
	sigset_t sigs;
	struct nvmf_error err;
	bool fatal;
	int rc;

	nvmf_log_set_level(NVMF_LOG_INFO);
	if (parse_options(argc, argv, &o) != 0) {
		free(o.hosts);
		free(o.ana);
		return 2;
	}
	fit_fd_limit(o.params.max_connections);
	rc = load_conf(&o, &st.conf);
	/* The command line hosts are in conf now; a reload reads only -c. */
	free(o.hosts);
	o.hosts = NULL;
	o.nhosts = 0;
	if (rc == 0 && state_dir(&o, &st.conf) != 0) {
		nvmfd_config_free(&st.conf);
		rc = -1;
	}
	if (rc != 0) {
		free(o.ana);
		return 1;
	}
	/* Every thread created from here on inherits the blocked signals;
	 * this thread takes them with sigwait. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Bound before any other thread runs: it sets the umask for a moment. */
	rpc = nvmfd_rpc_open(o.rpc_socket, &fatal);
	if (rpc == NULL && fatal) {
		nvmfd_config_free(&st.conf);
		free(o.ana);
		return 1;
	}
	if (o.engine != NULL) {
		struct nvmf_engine_params ep;

		if (nvmf_engine_parse(o.engine, &ep) != 0 ||
		    (o.params.engine = nvmf_engine_create(&ep)) == NULL) {
			fprintf(stderr, "nvmfd: --engine %s: not an engine this build has\n", o.engine);
			rc = 2;
			goto out;
		}
	}
	st.target = nvmf_target_create(&o.params);
	if (st.target == NULL) {
		fprintf(stderr, "nvmfd: cannot create the target: %s\n", strerror(errno));
		rc = 1;
		goto out;
	}
	rc = nvmf_target_configure(st.target, &st.conf, &err);
	if (rc != 0)
		fprintf(stderr, "nvmfd: %s\n", err.msg);
	else if (o.pidfile != NULL && write_pidfile(o.pidfile) != 0)
		rc = -1;
	if (rc != 0) {
		rc = 1;
		goto out;
	}
	if (o.metrics != NULL) {
		metrics = metrics_server_start(st.target, o.metrics, metrics_err,
					       sizeof(metrics_err));
		if (metrics == NULL) {
			fprintf(stderr, "nvmfd: %s\n", metrics_err);
			rc = 1;
			goto out;
		}
		fprintf(stderr, "nvmfd: metrics on http://%s/metrics\n",
			metrics_server_name(metrics));
	}
	st.config_path = o.config;
	st.fatal_close = o.fatal_close;
	if (rpc != NULL && nvmfd_rpc_start(rpc, &st) != 0) {
		nvmfd_rpc_close(rpc);
		rpc = NULL;
	}
	fprintf(stderr, "nvmfd: ready (pid %ld)\n", (long)getpid());
	serve(&o, &st, &sigs);
	/* No change may start once the target stops. */
	nvmfd_rpc_close(rpc);
	rpc = NULL;
	metrics_server_stop(metrics);
	metrics = NULL;
	rc = nvmf_target_shutdown(st.target);
	if (o.pidfile != NULL)
		unlink(o.pidfile);
	fprintf(stderr, "nvmfd: stopped%s\n", rc == 0 ? "" : " (with errors, see above)");
	rc = rc == 0 ? 0 : 1;
out:
	nvmfd_rpc_close(rpc);
	metrics_server_stop(metrics);
	nvmf_target_destroy(st.target);
	nvmf_engine_destroy(o.params.engine);
	nvmfd_config_free(&st.conf);
	free(o.ana);
	return rc;
}
