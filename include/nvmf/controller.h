/* SPDX-License-Identifier: MIT */
/*
 * The NVMe over Fabrics controller (target) side of libnvmf.
 *
 * A target serves NVM subsystems (each with namespaces and a host access
 * list) on ports, and a discovery controller under the well-known discovery
 * NQN on every port.  It follows the dynamic controller model: every admin
 * queue Connect creates a controller, I/O queue Connects join it by CNTLID.
 *
 * Usage: fill a struct nvmf_target_conf (by hand, or from a configuration
 * file as nvmfd does), create the target, apply the configuration (which
 * opens the listening sockets), and later apply a new configuration to
 * reload, or shut down.  The configuration structures are only read during
 * nvmf_target_configure(); the caller keeps ownership.
 *
 * Threading: every function here may be called from any thread except the
 * transport's callback threads; nvmf_target_configure, nvmf_target_shutdown
 * and nvmf_target_destroy must not run concurrently with each other.
 */
#ifndef NVMF_CONTROLLER_H
#define NVMF_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvmf/auth.h"
#include "nvmf/error.h"
#include "nvmf/spec.h"
#include "nvmf/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NVMF_NQN_SIZE (NVMF_NQN_MAX_LEN + 1)
#define NVMF_PATH_SIZE 1024
#define NVMF_MAX_NSID 1024            /* namespace IDs 1..1024 (Identify NN) */
#define NVMF_SERIAL_SIZE 21           /* Identify SN: 20 ASCII characters */
#define NVMF_MODEL_SIZE 41            /* Identify MN: 40 */
#define NVMF_FIRMWARE_SIZE 9          /* Identify FR: 8 */
/* The NVMe version the controller implements: the VS property and
 * Identify VER report it, whatever a configuration asks. */
#define NVMF_TARGET_VS NVME_VS(1, 3, 0)
/* ANA group IDs 1..NVMF_ANA_GRPMAX (Identify ANAGRPMAX and NANAGRPID, as
 * the Linux target). */
#define NVMF_ANA_GRPMAX 128

/* A namespace and its backing store. */
struct nvmf_ns_conf {
	uint32_t nsid;                /* 1..NVMF_MAX_NSID */
	/* A regular file, a block device, or "ramdisk:SIZE" (SIZE like 512M, 4G). */
	char path[NVMF_PATH_SIZE];
	uint64_t size;                /* regular file: create it this size when missing */
	uint32_t block_size;          /* 512 or 4096; 0: the backing's (files: 4096) */
	bool enabled;                 /* disabled namespaces are configured but not served */
	bool readonly;
	/* Persistent reservations (nvmetcli "resv_enable"); with persist
	 * through power loss they are kept in the target's state_dir. */
	bool resv_enable;
	/* Identifiers; those not given are derived from subsystem NQN, NSID and
	 * path, so they stay the same across restarts. */
	bool has_uuid, has_nguid, has_eui64;
	uint8_t uuid[16];
	uint8_t nguid[16];
	uint8_t eui64[8];
	/* Its ANA group, 1..NVMF_ANA_GRPMAX; 0: group 1. */
	uint32_t anagrpid;
};

struct nvmf_subsys_conf {
	char nqn[NVMF_NQN_SIZE];
	char serial[NVMF_SERIAL_SIZE];   /* "": derived from the NQN */
	char model[NVMF_MODEL_SIZE];     /* "": "nvmfd" */
	char firmware[NVMF_FIRMWARE_SIZE]; /* "": the library version */
	bool allow_any_host;
	unsigned nhosts;
	char (*hosts)[NVMF_NQN_SIZE];    /* allowed host NQNs */
	unsigned nns;
	struct nvmf_ns_conf *ns;
	uint16_t cntlid_min, cntlid_max; /* 0: 1 and NVMF_CNTLID_MAX */
	uint16_t max_io_queues;          /* 0: the target's limit */
	/* Identify VID, SSVID and IEEE (an OUI, 24 bits); 0: none. */
	uint16_t vendor_id, subsys_vendor_id;
	uint32_t ieee_oui;
	/* Every host must authenticate (DH-HMAC-CHAP): one without a secret
	 * in the target's host entries is refused.  Hosts with a secret
	 * authenticate whether this is set or not. */
	bool dhchap_required;
	/* Namespace IDs 1..max_namespaces (Identify NN); 0: NVMF_MAX_NSID. */
	uint16_t max_namespaces;
};

/*
 * A host's credentials, kept per host as the Linux target does (configfs
 * hosts/<nqn>/dhchap_key, dhchap_ctrl_key, dhchap_hash, dhchap_dhgroup).
 * Strings are the text forms `nvme gen-dhchap-key` and `nvme gen-tls-key`
 * print; "" means none.  The target keeps only parsed copies.
 */
struct nvmf_host_conf {
	char nqn[NVMF_NQN_SIZE];
	char dhchap_key[NVMF_DHCHAP_SECRET_MAX];      /* host secret (DHHC-1) */
	char dhchap_ctrl_key[NVMF_DHCHAP_SECRET_MAX]; /* controller secret: bidirectional */
	uint8_t dhchap_hash;          /* enum nvmf_dhchap_hash; 0: SHA-256 */
	uint8_t dhchap_dhgroup;       /* enum nvmf_dhchap_dhgroup; 0: null */
	char tls_key[NVMF_TLS_KEY_STRING_MAX];        /* PSK (NVMeTLSkey-1) */
};

/* TLS on a port (NVMe/TCP 1.1 §3.6; discovery TREQ and TSAS). */
enum nvmf_port_tls {
	NVMF_PORT_TLS_NONE = 0,       /* plaintext only */
	NVMF_PORT_TLS_REQUIRED,       /* TLS 1.3 only: a plaintext ICReq is refused */
	NVMF_PORT_TLS_OPTIONAL,       /* either, decided by the host's first byte */
};

/* The ANA state of one group on a port (nvmetcli's ports[].ana_groups[]). */
struct nvmf_port_ana {
	uint32_t grpid;                  /* 1..NVMF_ANA_GRPMAX */
	enum nvme_ana_state state;
};

struct nvmf_port_conf {
	uint16_t portid;
	enum nvmf_trtype trtype;         /* 0: TCP */
	enum nvmf_adrfam adrfam;
	char traddr[256];                /* numeric IPv4/IPv6 address */
	char trsvcid[32];                /* TCP port; "0": an ephemeral one */
	uint32_t inline_data_size;       /* in-capsule data per I/O command, bytes;
	                                    UINT32_MAX: the target's default */
	enum nvmf_port_tls tls;
	/* A fatal protocol error by a host ends its connection without a
	 * C2HTermReq, as the Linux target does (for hosts that crash on one,
	 * Linux 6.1: README); false sends it, as the specification asks. */
	bool fatal_close;
	/* A port that cannot be bound because its address is in use
	 * (EADDRINUSE) is left out with a warning instead of failing the
	 * configuration; a later nvmf_target_configure tries it again. */
	bool optional;
	unsigned nsubsys;
	char (*subsystems)[NVMF_NQN_SIZE]; /* NQNs served here (none: discovery only) */
	/* ANA group states on this port.  A group not listed is optimized
	 * if it is group 1 and inaccessible otherwise, as on the Linux
	 * target; a reload that changes a state raises the ANA change event
	 * on every controller of this port whose subsystem has a namespace
	 * in that group. */
	unsigned nana;
	struct nvmf_port_ana *ana;
};

struct nvmf_target_conf {
	unsigned nports;
	struct nvmf_port_conf *ports;
	unsigned nsubsys;
	struct nvmf_subsys_conf *subsys;
	unsigned nhosts;
	struct nvmf_host_conf *hosts;    /* credentials; NQNs unique */
};

/* Limits and defaults for the whole target; start from nvmf_target_params_init()
 * (size: as struct nvmf_host_opts). */
struct nvmf_target_params {
	size_t size;                  /* sizeof(struct nvmf_target_params), by the init */
	uint32_t max_connections;     /* TCP connections at once (128) */
	uint16_t max_io_queues;       /* per controller (16) */
	uint16_t max_queue_depth;     /* entries per queue: CAP.MQES + 1 (128) */
	uint32_t max_io_size;         /* bytes per command, a power of two >= 4096 (128 KiB) */
	uint32_t inline_data_size;    /* default in-capsule data (16 KiB) */
	uint32_t connect_timeout_ms;  /* a new connection must Connect within (10000);
	                                 the TLS handshake counts against it */
	uint32_t shutdown_timeout_ms; /* graceful shutdown waits this long (10000) */
	unsigned io_workers;          /* threads for blocking backend I/O (4) */
	bool allow_digests;           /* permit header/data digests (true) */
	/* Drives the connections' sockets (nvmf_engine_create); NULL: the
	 * default engine (include/nvmf/transport.h).  Must outlive the target. */
	struct nvmf_engine *engine;
	/* Where reservations that persist through power loss are kept, one
	 * file per namespace; NULL: nowhere (PTPL is refused).  Must outlive
	 * the target. */
	const char *state_dir;
};

struct nvmf_target;
struct nvmf_engine;

/* The defaults in brackets above, and size. */
void nvmf_target_params_init(struct nvmf_target_params *params);

/* Returns NULL with errno set (EINVAL: params out of range or of an unknown size). */
struct nvmf_target *nvmf_target_create(const struct nvmf_target_params *params);

/*
 * Apply a configuration: the first call opens the ports; later calls
 * reload, keeping what did not change.  Added, removed or replaced
 * namespaces raise the namespace attribute changed event on the
 * subsystem's controllers; changes to what discovery shows bump the
 * discovery generation counter and raise the discovery log change event.
 * On error (a negative errno, with err saying why) nothing is changed.
 */
int nvmf_target_configure(struct nvmf_target *target, const struct nvmf_target_conf *conf,
			  struct nvmf_error *err);

/* Check a configuration without applying it (0, or a negative errno and err). */
int nvmf_target_conf_validate(const struct nvmf_target_conf *conf, struct nvmf_error *err);

/* The TCP port a configured port listens on (useful with trsvcid "0"); -ENOENT
 * for an unknown port ID or one not on TCP. */
int nvmf_target_listen_port(struct nvmf_target *target, uint16_t portid);

/*
 * Graceful stop: close the listening sockets, let commands in flight finish
 * (answering new ones with a retryable error), flush every namespace, close
 * every connection.  Returns 0, or -EIO if a flush failed or -ETIMEDOUT if
 * commands were still in flight after shutdown_timeout_ms.
 */
int nvmf_target_shutdown(struct nvmf_target *target);

/* Shuts down if needed, then frees everything. */
void nvmf_target_destroy(struct nvmf_target *target);

/*
 * Set one ANA group's state on a port now (what SPDK's
 * nvmf_subsystem_listener_set_ana_state does), raising the ANA change
 * event as a reload would.  The next nvmf_target_configure sets the
 * states its configuration gives.  0, -ENOENT (no such port), -EINVAL
 * (group or state out of range).
 */
int nvmf_target_set_ana_state(struct nvmf_target *target, uint16_t portid, uint32_t grpid,
			      enum nvme_ana_state state);

/* Counters for tests and logs. */
struct nvmf_target_stats {
	unsigned connections;
	unsigned controllers;
	uint64_t discovery_genctr;
	uint64_t kato_expired;        /* associations torn down by keep alive */
	uint64_t connect_timeouts;    /* connections closed before Connect */
	uint64_t refused_connections; /* over max_connections */
	uint64_t tls_refused;         /* TLS handshakes failed or refused */
	uint64_t auth_failures;       /* DH-HMAC-CHAP transactions failed */
};
void nvmf_target_get_stats(struct nvmf_target *target, struct nvmf_target_stats *stats);

/* A running subsystem, as nvmf_target_subsys_info() sees it. */
struct nvmf_target_ns_info {
	uint32_t nsid;
	uint32_t block_size;
	uint64_t size;                /* bytes */
	bool readonly;
	uint8_t uuid[16];             /* as served: configured or derived */
	uint8_t nguid[16];
	uint8_t eui64[8];
	char backend[16];             /* "file", "block", "ramdisk" */
};

struct nvmf_target_ctrl_info {
	uint16_t cntlid;
	uint16_t portid;
	char hostnqn[NVMF_NQN_SIZE];
	uint8_t hostid[16];
	uint16_t nr_io_queues;        /* granted (Set Features Number of Queues) */
	uint16_t io_queues;           /* connected now */
	uint32_t kato_ms;
	bool authenticated;           /* DH-HMAC-CHAP on its queues */
	bool dead;                    /* being torn down */
};

struct nvmf_target_qpair_info {
	uint16_t cntlid;
	uint16_t qid;                 /* 0: the admin queue */
	uint16_t portid;
	bool closing;
	char peer[64];                /* the host's address and port */
	char local_traddr[64];        /* the address it reached us on */
};

struct nvmf_target_subsys_info {
	char serial[NVMF_SERIAL_SIZE];   /* as served: configured or derived */
	char model[NVMF_MODEL_SIZE];
	char firmware[NVMF_FIRMWARE_SIZE];
	unsigned nns, nctrls, nqpairs;
	struct nvmf_target_ns_info *ns;       /* active namespaces, by NSID */
	struct nvmf_target_ctrl_info *ctrls;
	struct nvmf_target_qpair_info *qpairs;
};

/*
 * A snapshot of subnqn's namespaces, controllers and queue pairs, taken
 * at once.  Returns 0 and *info (free it with the function below), or
 * -ENOENT (no such subsystem), -ENOMEM.
 */
int nvmf_target_subsys_info(struct nvmf_target *target, const char *subnqn,
			    struct nvmf_target_subsys_info **info);
void nvmf_target_subsys_info_free(struct nvmf_target_subsys_info *info);

/*
 * Metrics, for an exporter (nvmfd --metrics): per-namespace I/O counters,
 * sessions by subsystem and host, transport errors.  I/O is counted per
 * queue pair by the thread that owns it and summed here; counters of
 * closed queue pairs are kept per namespace, so totals only grow while
 * the subsystem exists.  Broadcast Flush and commands naming no active
 * namespace are not counted per namespace.
 */
enum nvmf_io_op {
	NVMF_IO_OP_READ,
	NVMF_IO_OP_WRITE,
	NVMF_IO_OP_FLUSH,
	NVMF_IO_OP_WRITE_ZEROES,
	NVMF_IO_OP_DSM,               /* Dataset Management */
	NVMF_IO_OP_COMPARE,
	NVMF_IO_OP_COUNT
};

/* Latency buckets: bucket i < NVMF_LATENCY_BUCKETS - 1 holds commands
 * that took at most nvmf_latency_bucket_ns(i) = 1 us << i (1 us to
 * ~2.1 s) and more than the bucket before; the last holds the rest. */
#define NVMF_LATENCY_BUCKETS 23

static inline uint64_t nvmf_latency_bucket_ns(unsigned i)
{
	return 1000ull << i;
}

struct nvmf_io_op_metrics {
	uint64_t ops;                 /* commands accepted for execution */
	uint64_t bytes;               /* data read, written, compared, zeroed
	                                 or deallocated */
	uint64_t latency_sum_ns;      /* receipt to completion, completed ones */
	uint64_t latency[NVMF_LATENCY_BUCKETS]; /* per bucket, not cumulative */
};

struct nvmf_io_error_metrics {
	enum nvmf_io_op op;
	uint16_t status;              /* SCT << 8 | SC; 0xffff: others, beyond
	                                 the distinct statuses kept */
	uint64_t count;
};

struct nvmf_ns_metrics {
	const char *subsys_nqn;
	uint32_t nsid;
	struct nvmf_io_op_metrics op[NVMF_IO_OP_COUNT];
	unsigned nerrors;
	const struct nvmf_io_error_metrics *errors;
};

/* The queue pairs of one subsystem's controllers for one host; subsys_nqn
 * and host_nqn are "" for connections that have not (yet) connected. */
struct nvmf_session_metrics {
	const char *subsys_nqn;
	const char *host_nqn;
	unsigned connections;         /* TCP connections (one per queue pair) */
	unsigned controllers;
	unsigned admin_qpairs, io_qpairs;
};

/* Errors by kind.  The transport's four count every controller-role
 * queue pair of the process (targets in one process share them); the
 * last two are this target's. */
struct nvmf_transport_metrics {
	uint64_t digest_errors;       /* header and data digest mismatches */
	uint64_t termreq_sent;
	uint64_t termreq_received;
	uint64_t pdu_errors;          /* PDUs refused by validation (fatal) */
	uint64_t kato_expired;        /* associations ended by keep alive */
	uint64_t auth_failures;       /* DH-HMAC-CHAP transactions failed */
};

/* Callbacks run on the caller's thread, with no lock held; what they are
 * given lives until they return (the records may grow at their ends in
 * later versions).  Any of them may be NULL. */
struct nvmf_metrics_visitor {
	size_t size;                  /* sizeof(struct nvmf_metrics_visitor) */
	void (*ns)(void *arg, const struct nvmf_ns_metrics *m);
	void (*session)(void *arg, const struct nvmf_session_metrics *m);
	void (*transport)(void *arg, const struct nvmf_transport_metrics *m);
	void *arg;
};

/* Take a snapshot and hand it to the visitor: namespaces by subsystem and
 * NSID, sessions, then transport.  0, -ENOMEM, or -EINVAL for a visitor
 * of an unknown size. */
int nvmf_target_visit_metrics(struct nvmf_target *target, const struct nvmf_metrics_visitor *v);

/* The lowercase name of an op ("read", "write_zeroes", ...), or NULL. */
const char *nvmf_io_op_name(enum nvmf_io_op op);

/* "4096", "512K", "64M", "4G", "1T" (binary units) to bytes; 0 or -EINVAL. */
int nvmf_parse_size(const char *text, uint64_t *bytes);

/*
 * The Ceph cluster "rbd:POOL[/NAMESPACE]/IMAGE" namespaces are served from:
 * its configuration file (NULL: $CEPH_CONF, then Ceph's own search) and
 * the client id to authenticate as (NULL: "admin").  Call before the
 * first rbd: namespace opens.  0, or -EINVAL for a name too long.
 */
int nvmf_rbd_configure(const char *conf_file, const char *client_id);

#ifdef __cplusplus
}
#endif

#endif /* NVMF_CONTROLLER_H */
