/* SPDX-License-Identifier: MIT */
/*
 * The NVMe over Fabrics host side of libnvmf.
 *
 * nvmf_connect() brings up one remote controller: the admin queue and its
 * I/O queues, each a transport queue pair (include/nvmf/transport.h).  The
 * controller is then used through namespace handles (struct nvmf_ns) for
 * I/O and through the admin helpers; a keep-alive and recovery thread per
 * controller sends Keep Alive, handles asynchronous events and, when a
 * connection is lost, reconnects every reconnect delay until the controller
 * loss timeout, holding I/O meanwhile (as the Linux host does).
 *
 * Commands are asynchronous.  Every submission takes a preallocated slot of
 * the chosen I/O queue (the slot index is the command identifier) and
 * returns at once; the completion arrives either through the callback given
 * at submission, which runs on a transport thread and must not block, or,
 * with a NULL callback, through nvmf_ioq_poll().  A callback may submit
 * further commands.  Any number of threads may submit to one controller.
 * The *_sync helpers wait and may not be called from a callback.
 *
 * Return values follow nvmf/nvmf.h: 0 on success, a negative errno for
 * local failures, and, from the helpers that wait for a command, a positive
 * NVMe status (SCT << 8 | SC) when the controller failed it.
 */
#ifndef NVMF_HOST_H
#define NVMF_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "nvmf/spec.h"
#include "nvmf/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

struct nvmf_ctrl;
struct nvmf_ns;

#define NVMF_HOST_NQN_SIZE NVMF_NQN_FIELD_SIZE /* NUL-terminated NQN buffers */
#define NVMF_UUID_STR_SIZE 37                  /* 36 characters and a NUL */
#define NVMF_DEFAULT_PORT "4420"
#define NVMF_DEFAULT_DISCOVERY_PORT "8009"

/* What a completed command reports. */
struct nvmf_cpl {
	int error;         /* 0, or a positive errno when no valid response
			      exists: EBADMSG data digest mismatch, ENODEV
			      controller lost (ctrl-loss-tmo expired),
			      ESHUTDOWN disconnected, ENOMEM, ... */
	uint16_t status;   /* NVMe status, SCT << 8 | SC; 0 is success */
	bool dnr;          /* the controller says: do not retry */
	uint32_t cdw0;
	uint32_t cdw1;
};

static inline bool nvmf_cpl_ok(const struct nvmf_cpl *cpl)
{
	return cpl->error == 0 && cpl->status == 0;
}

/* 0, -error or the status: the convention of the *_sync helpers. */
static inline int nvmf_cpl_result(const struct nvmf_cpl *cpl)
{
	return cpl->error != 0 ? -cpl->error : cpl->status;
}

typedef void nvmf_cmd_cb(void *arg, const struct nvmf_cpl *cpl);

/*
 * An asynchronous event: the completion DW0 (type, information, log page)
 * and the log page it named, already read (and so acknowledged).  Called
 * on the controller's own thread, after the namespace list was refreshed.
 */
typedef void nvmf_aen_cb(void *arg, uint32_t cdw0, const void *log, size_t log_len);

/*
 * Connection parameters; nvme-cli's option letters in brackets.  Start
 * from nvmf_host_opts_init(), which sets size: the library accepts the
 * struct of an older release (smaller size, missing fields at their
 * defaults) and refuses a newer one whose fields it does not know.
 */
struct nvmf_host_opts {
	size_t size;               /* sizeof(struct nvmf_host_opts), by nvmf_host_opts_init */
	enum nvmf_trtype trtype;   /* [-t] NVMF_TRTYPE_TCP, or another built in */
	const char *traddr;        /* [-a] numeric IPv4 or IPv6 address */
	const char *trsvcid;       /* [-s] NULL: 4420, 8009 for discovery */
	const char *subnqn;        /* [-n] NULL: the discovery NQN */
	const char *hostnqn;       /* [-q] NULL: nvmf_host_default_ids() */
	const char *hostid;        /* [-I] UUID; NULL: see nvmf_host_default_ids() */
	unsigned nr_io_queues;     /* [-i] 0: one per CPU of the affinity mask */
	unsigned queue_size;       /* [-Q] I/O queue entries */
	int kato_s;                /* [-k] keep-alive timeout, seconds; 0: none */
	int reconnect_delay_s;     /* [-c] */
	int ctrl_loss_tmo_s;       /* [-l] -1: reconnect forever, 0: never */
	bool hdr_digest;           /* [-g] */
	bool data_digest;          /* [-G] */
	bool disable_sqflow;       /* [--disable-sqflow] */
	uint32_t max_io_size;      /* bytes per command; lowered to MDTS */
	uint32_t io_timeout_ms;    /* a command this late resets the connection */
	uint32_t connect_timeout_ms; /* per connection attempt and bring-up step */
	struct nvmf_engine *engine; /* NULL: the default engine */
	nvmf_aen_cb *aen_cb;
	void *aen_arg;
	/*
	 * Secure channels.  DH-HMAC-CHAP (TP 8006) runs on every queue whose
	 * Connect response asks for it; with a controller secret the
	 * controller must ask, and prove that secret.  TLS 1.3 (TP 8011) runs
	 * before every queue's ICReq.  Secrets are the text forms
	 * `nvme gen-dhchap-key` / `nvme gen-tls-key` print; they are parsed at
	 * nvmf_connect and not referenced afterwards.
	 */
	const char *dhchap_secret;      /* [--dhchap-secret] DHHC-1 host secret */
	const char *dhchap_ctrl_secret; /* [--dhchap-ctrl-secret] bidirectional */
	bool tls;                       /* [--tls] TLS on this connection; needs tls_key */
	const char *tls_key;            /* [--tls-key] NVMeTLSkey-1 PSK */
	int tls_identity_version;       /* 0: "NVMe0R.." (default), 1: TP 8018 "NVMe1R.." */
};

/* Defaults as nvme-cli and the Linux host use them, and size. */
void nvmf_host_opts_init(struct nvmf_host_opts *opts);

/*
 * The host NQN and host ID to use when none is given, as nvme-cli finds
 * them: /etc/nvme/hostnqn and /etc/nvme/hostid when present; otherwise a
 * generated NQN (nqn.2014-08.org.nvmexpress:uuid:<uuid>) kept under the
 * per-user state directory ($XDG_STATE_HOME/nvmf, else ~/.local/state/nvmf)
 * so it stays the same.  The host ID is the UUID in the host NQN when it
 * has one.  hostnqn may be given (non-empty) to derive only the ID.
 */
int nvmf_host_default_ids(char hostnqn[NVMF_HOST_NQN_SIZE], char hostid[NVMF_UUID_STR_SIZE]);

/*
 * Parse "nvme+tcp://ADDR[:PORT]/SUBNQN" (IPv6 as [ADDR]) into opts; the
 * strings point into buf, which must outlive their use.
 */
int nvmf_parse_uri(const char *uri, struct nvmf_host_opts *opts, char *buf, size_t buflen);

/* ------------------------------------------------------------------ */
/* Controllers                                                         */
/* ------------------------------------------------------------------ */

/* Connect and bring up a controller; NULL with *err filled on failure. */
struct nvmf_ctrl *nvmf_connect(const struct nvmf_host_opts *opts, struct nvmf_error *err);

/*
 * Orderly disconnect: stop new submissions, let outstanding commands
 * finish, shut the controller down (CC.SHN, CSTS.SHST), close, free.
 * Commands that could not finish fail with ESHUTDOWN.  Returns 0, or a
 * negative errno when the shutdown was not clean (the controller is freed
 * all the same).
 */
int nvmf_disconnect(struct nvmf_ctrl *ctrl);

enum nvmf_ctrl_state {
	NVMF_CTRL_LIVE,
	NVMF_CTRL_RECONNECTING,    /* I/O is held */
	NVMF_CTRL_FAILED,          /* ctrl-loss-tmo expired: I/O fails with ENODEV */
	NVMF_CTRL_DISCONNECTING,
};

enum nvmf_ctrl_state nvmf_ctrl_state(const struct nvmf_ctrl *ctrl);
const struct nvme_id_ctrl *nvmf_ctrl_identify(const struct nvmf_ctrl *ctrl);
uint64_t nvmf_ctrl_cap(const struct nvmf_ctrl *ctrl);
uint32_t nvmf_ctrl_vs(const struct nvmf_ctrl *ctrl);
uint16_t nvmf_ctrl_cntlid(const struct nvmf_ctrl *ctrl);
bool nvmf_ctrl_is_discovery(const struct nvmf_ctrl *ctrl);
unsigned nvmf_ctrl_nr_io_queues(const struct nvmf_ctrl *ctrl);
/* Commands each I/O queue takes at once. */
unsigned nvmf_ctrl_queue_depth(const struct nvmf_ctrl *ctrl);
/* Largest data transfer of one command, bytes (MDTS and max_io_size). */
uint32_t nvmf_ctrl_max_io_size(const struct nvmf_ctrl *ctrl);
/* In-capsule data bytes on I/O queues (from IOCCSZ). */
uint32_t nvmf_ctrl_max_icd(const struct nvmf_ctrl *ctrl);
const char *nvmf_ctrl_subnqn(const struct nvmf_ctrl *ctrl);
const char *nvmf_ctrl_hostnqn(const struct nvmf_ctrl *ctrl);
const char *nvmf_ctrl_hostid(const struct nvmf_ctrl *ctrl);
const char *nvmf_ctrl_traddr(const struct nvmf_ctrl *ctrl);
const char *nvmf_ctrl_trsvcid(const struct nvmf_ctrl *ctrl);
/* Negotiated transport parameters of an I/O queue (1..n) or the admin queue (0). */
int nvmf_ctrl_queue_info(const struct nvmf_ctrl *ctrl, unsigned qid, struct nvmf_qpair_info *info);
/* Successful reconnections so far. */
unsigned nvmf_ctrl_reconnects(const struct nvmf_ctrl *ctrl);
/*
 * The DH-HMAC-CHAP the admin queue last authenticated with (enum
 * nvmf_dhchap_hash / nvmf_dhchap_dhgroup of nvmf/auth.h, and whether the
 * controller proved its secret too); false when the controller asked for
 * none.  The TLS cipher of a queue is in nvmf_qpair_info.tls_cipher.
 */
bool nvmf_ctrl_auth_info(const struct nvmf_ctrl *ctrl, uint8_t *hash, uint8_t *dhgroup,
			 bool *bidirectional);

/*
 * Re-authentication (TP 8006): run DH-HMAC-CHAP again on every queue of a
 * live controller, the admin queue first, then each I/O queue, with the
 * controller's current secrets, as the Linux host does when its
 * dhchap_secret is written.  The queues stay usable meanwhile.  Runs on
 * the controller's thread, so not during a reconnection (it waits for its
 * end); blocks until done.  Not from a command or event callback.
 *
 * Returns 0, or an error with err saying why:
 *   -EACCES     the controller refused (wrong secret) or could not prove
 *               the controller secret;  -ETIMEDOUT, -ECONNRESET, or -EIO
 *               with err->status the NVMe status of a refused
 *               Authentication Send/Receive, otherwise;
 *   -EINVAL     no DH-HMAC-CHAP secret;  -EOPNOTSUPP  a discovery
 *               controller, or one that did not ask for authentication
 *               when the association was made;
 *   -ENODEV / -ENOTCONN / -ESHUTDOWN  lost, reconnecting, disconnecting.
 * A re-authentication that fails once it started ends the association
 * (nvmfd and Linux nvmet end it too): the controller reconnects as after a
 * lost connection, with the current secrets, so one the controller keeps
 * refusing ends NVMF_CTRL_FAILED.
 */
int nvmf_ctrl_reauthenticate(struct nvmf_ctrl *ctrl, struct nvmf_error *err);

/*
 * Replace the DH-HMAC-CHAP secrets (the text forms of nvmf_host_opts) that
 * re-authentication and reconnection use from now on: key rotation.
 * secret is required; ctrl_secret NULL makes later authentications
 * unidirectional.  Authenticates nothing by itself.  0, or -EINVAL with err.
 */
int nvmf_ctrl_set_dhchap_secrets(struct nvmf_ctrl *ctrl, const char *secret,
				 const char *ctrl_secret, struct nvmf_error *err);

/* ------------------------------------------------------------------ */
/* Namespaces                                                          */
/* ------------------------------------------------------------------ */

struct nvmf_ns_info {
	uint32_t nsid;
	uint64_t nsze;             /* blocks */
	uint64_t ncap;
	uint64_t nuse;
	uint32_t lba_size;         /* bytes */
	uint16_t ms;               /* metadata bytes per block */
	bool active;               /* false once the controller dropped it */
};

/*
 * Active namespace IDs, ascending; returns how many there are (more than
 * max means the list was cut).
 */
size_t nvmf_ctrl_ns_list(struct nvmf_ctrl *ctrl, uint32_t *nsids, size_t max);
/*
 * A namespace handle: valid until nvmf_disconnect, even when the namespace
 * goes away (its I/O then fails with the controller's status).  NULL if
 * the namespace was never active.
 */
struct nvmf_ns *nvmf_ctrl_ns(struct nvmf_ctrl *ctrl, uint32_t nsid);
void nvmf_ns_get_info(const struct nvmf_ns *ns, struct nvmf_ns_info *info);
uint32_t nvmf_ns_id(const struct nvmf_ns *ns);
uint32_t nvmf_ns_lba_size(const struct nvmf_ns *ns);
uint64_t nvmf_ns_size_bytes(const struct nvmf_ns *ns);
const struct nvme_id_ns *nvmf_ns_identify(const struct nvmf_ns *ns);
struct nvmf_ctrl *nvmf_ns_ctrl(const struct nvmf_ns *ns);
/* Identify the active namespaces again (what an AEN does too). */
int nvmf_ctrl_rescan(struct nvmf_ctrl *ctrl);

/* ------------------------------------------------------------------ */
/* Asynchronous I/O                                                    */
/* ------------------------------------------------------------------ */

/*
 * ioq picks the I/O queue, 1..nvmf_ctrl_nr_io_queues(); NVMF_IOQ_ANY
 * spreads calling threads over the queues.  nlb counts blocks (1's based);
 * the buffer holds nlb * lba_size bytes and must stay valid until the
 * completion.  lba_size is the one at submission: a namespace reformatted
 * meanwhile (a rescan after a namespace event) may have larger blocks, so
 * a caller that cannot rule that out passes iovecs (*v calls), whose
 * length is checked (-EINVAL).  Transfers above nvmf_ctrl_max_io_size() are refused with
 * -E2BIG (the *_sync helpers split them).  -EAGAIN: every slot of the
 * queue is busy.
 */
#define NVMF_IOQ_ANY 0u

#define NVMF_IO_FUA (1u << 0)          /* Write, Write Zeroes: force unit access */
#define NVMF_IO_DEALLOCATE (1u << 1)   /* Write Zeroes: deallocate too */

int nvmf_ns_read(struct nvmf_ns *ns, unsigned ioq, uint64_t slba, uint32_t nlb, void *buf,
		 nvmf_cmd_cb *cb, void *arg);
int nvmf_ns_write(struct nvmf_ns *ns, unsigned ioq, uint64_t slba, uint32_t nlb,
		  const void *buf, unsigned io_flags, nvmf_cmd_cb *cb, void *arg);
/* The iovec array itself must stay valid until the completion. */
int nvmf_ns_readv(struct nvmf_ns *ns, unsigned ioq, uint64_t slba, uint32_t nlb,
		  const struct iovec *iov, int iovcnt, nvmf_cmd_cb *cb, void *arg);
int nvmf_ns_writev(struct nvmf_ns *ns, unsigned ioq, uint64_t slba, uint32_t nlb,
		   const struct iovec *iov, int iovcnt, unsigned io_flags, nvmf_cmd_cb *cb,
		   void *arg);
int nvmf_ns_flush(struct nvmf_ns *ns, unsigned ioq, nvmf_cmd_cb *cb, void *arg);
int nvmf_ns_write_zeroes(struct nvmf_ns *ns, unsigned ioq, uint64_t slba, uint32_t nlb,
			 unsigned io_flags, nvmf_cmd_cb *cb, void *arg);
/* Dataset Management: nr ranges (1..256), attributes as CDW11 (AD = deallocate). */
int nvmf_ns_dsm(struct nvmf_ns *ns, unsigned ioq, const struct nvme_dsm_range *ranges,
		unsigned nr, uint32_t attributes, nvmf_cmd_cb *cb, void *arg);
int nvmf_ns_compare(struct nvmf_ns *ns, unsigned ioq, uint64_t slba, uint32_t nlb,
		    const void *buf, nvmf_cmd_cb *cb, void *arg);

/*
 * Reservations (Base 2.0 §8.19), on a namespace whose Identify RESCAP
 * says which types it has.  The keys' buffer must stay valid until the
 * completion; cptpl is NVME_RESV_CPTPL_* (persist through power loss);
 * iekey ignores the current key.  A command the reservation refuses ends
 * with Reservation Conflict (NVME_SC_RESERVATION_CONFLICT).
 */
int nvmf_resv_register(struct nvmf_ns *ns, unsigned ioq, enum nvme_resv_rrega rrega,
		       unsigned cptpl, bool iekey, const struct nvme_resv_register_data *keys,
		       nvmf_cmd_cb *cb, void *arg);
int nvmf_resv_acquire(struct nvmf_ns *ns, unsigned ioq, enum nvme_resv_racqa racqa,
		      enum nvme_resv_type rtype, bool iekey,
		      const struct nvme_resv_acquire_data *keys, nvmf_cmd_cb *cb, void *arg);
int nvmf_resv_release(struct nvmf_ns *ns, unsigned ioq, enum nvme_resv_rrela rrela,
		      enum nvme_resv_type rtype, bool iekey,
		      const struct nvme_resv_release_data *key, nvmf_cmd_cb *cb, void *arg);
/* Reservation Report into len bytes (a multiple of 4, at least 24): a
 * struct nvme_resv_status, then struct nvme_resv_registrant entries, or
 * with eds the 64-byte extended header and nvme_resv_registrant_ext
 * entries (128-bit host IDs: what NVMe over Fabrics controllers use). */
int nvmf_resv_report(struct nvmf_ns *ns, unsigned ioq, bool eds, void *buf, size_t len,
		     nvmf_cmd_cb *cb, void *arg);

enum nvmf_data_dir {
	NVMF_DATA_NONE,
	NVMF_DATA_TO_CTRL,         /* host to controller (write-like) */
	NVMF_DATA_FROM_CTRL,       /* controller to host (read-like) */
};

/*
 * Passthrough: any SQE (CID, PSDT and SGL1 are filled in) with an optional
 * buffer.  ioq 0 is the admin queue.
 */
int nvmf_passthru(struct nvmf_ctrl *ctrl, unsigned ioq, const struct nvme_sqe *sqe, void *buf,
		  size_t len, enum nvmf_data_dir dir, nvmf_cmd_cb *cb, void *arg);

/* A command submitted with a NULL callback, reaped by nvmf_ioq_poll(). */
struct nvmf_event {
	void *arg;                 /* as given at submission */
	struct nvmf_cpl cpl;
};

/*
 * Reap up to max completions of callback-less commands on queue ioq (0:
 * admin), waiting up to timeout_ms (-1: forever) for the first.  Returns
 * how many, 0 on timeout.
 */
int nvmf_ioq_poll(struct nvmf_ctrl *ctrl, unsigned ioq, struct nvmf_event *ev, unsigned max,
		  int timeout_ms);
/* Wait until no command is outstanding on any queue; -ETIMEDOUT otherwise. */
int nvmf_ctrl_wait_idle(struct nvmf_ctrl *ctrl, int timeout_ms);

/* ------------------------------------------------------------------ */
/* Synchronous helpers (0, -errno or an NVMe status)                    */
/* ------------------------------------------------------------------ */

/* Byte offsets and lengths, multiples of the block size; split at max_io_size. */
int nvmf_ns_read_sync(struct nvmf_ns *ns, uint64_t offset, void *buf, size_t len);
int nvmf_ns_write_sync(struct nvmf_ns *ns, uint64_t offset, const void *buf, size_t len,
		       unsigned io_flags);
int nvmf_ns_flush_sync(struct nvmf_ns *ns);
int nvmf_ns_write_zeroes_sync(struct nvmf_ns *ns, uint64_t offset, uint64_t len,
			      unsigned io_flags);
/* Deallocate a byte range (Dataset Management, split into ranges). */
int nvmf_ns_trim_sync(struct nvmf_ns *ns, uint64_t offset, uint64_t len);
int nvmf_ns_compare_sync(struct nvmf_ns *ns, uint64_t offset, const void *buf, size_t len);
int nvmf_passthru_sync(struct nvmf_ctrl *ctrl, unsigned ioq, const struct nvme_sqe *sqe,
		       void *buf, size_t len, enum nvmf_data_dir dir, struct nvmf_cpl *cpl);
/* Reservations, as their asynchronous forms above. */
int nvmf_resv_register_sync(struct nvmf_ns *ns, enum nvme_resv_rrega rrega, unsigned cptpl,
			    bool iekey, uint64_t crkey, uint64_t nrkey);
int nvmf_resv_acquire_sync(struct nvmf_ns *ns, enum nvme_resv_racqa racqa,
			   enum nvme_resv_type rtype, bool iekey, uint64_t crkey, uint64_t prkey);
int nvmf_resv_release_sync(struct nvmf_ns *ns, enum nvme_resv_rrela rrela,
			   enum nvme_resv_type rtype, bool iekey, uint64_t crkey);
int nvmf_resv_report_sync(struct nvmf_ns *ns, bool eds, void *buf, size_t len);

int nvmf_identify(struct nvmf_ctrl *ctrl, uint8_t cns, uint32_t nsid, void *buf4k);
/* Get Log Page, split into commands of at most max_io_size; offset % 4 == 0. */
int nvmf_get_log_page(struct nvmf_ctrl *ctrl, uint8_t lid, uint32_t nsid, uint64_t offset,
		      void *buf, size_t len, bool retain_async_event);
int nvmf_get_features(struct nvmf_ctrl *ctrl, uint8_t fid, uint32_t nsid, uint8_t sel,
		      uint32_t cdw11, void *buf, size_t len, uint32_t *result);
int nvmf_set_features(struct nvmf_ctrl *ctrl, uint8_t fid, uint32_t nsid, uint32_t cdw11,
		      bool save, const void *buf, size_t len, uint32_t *result);

/* ------------------------------------------------------------------ */
/* Discovery                                                           */
/* ------------------------------------------------------------------ */

/* Upper bound on records read from a discovery log page. */
#define NVMF_DISCOVERY_MAX_RECORDS 1024u

/*
 * Read the discovery log page of a (discovery) controller: header, then
 * the records, then the header again; restarted while the generation
 * counter moves or the controller answers Discovery Restart.  *log is
 * malloc()ed (free() it) and holds *nrec records.
 */
int nvmf_get_discovery_log(struct nvmf_ctrl *ctrl, struct nvmf_discovery_log **log,
			   size_t *nrec);

/*
 * Connect to a discovery controller (opts->subnqn NULL: the well-known NQN;
 * port 8009 when none is given), read its log page and disconnect.
 */
int nvmf_discover(const struct nvmf_host_opts *opts, struct nvmf_discovery_log **log,
		  size_t *nrec, struct nvmf_error *err);

/* Entry fields as C strings (trailing spaces and NULs removed). */
void nvmf_discovery_entry_str(const struct nvmf_discovery_log_entry *e, char *traddr,
			      size_t traddr_len, char *trsvcid, size_t trsvcid_len,
			      char *subnqn, size_t subnqn_len);

struct nvmf_connect_all_result {
	const struct nvmf_discovery_log_entry *entry;
	struct nvmf_ctrl *ctrl;    /* NULL when the connect failed or was skipped */
	bool skipped;              /* not TCP, or not an NVM subsystem */
	struct nvmf_error err;
};

/*
 * Connect to every NVM subsystem entry of a discovery log, with the other
 * parameters from base.  SQ flow control is disabled where TREQ allows it.
 * TLS is used where the entry's TSAS says TLS 1.3 and base has a PSK; an
 * entry whose TREQ requires a secure channel fails without one.
 * traddr_override, when set, replaces each entry's address (for targets
 * that report an address this host does not route to).  *results is
 * malloc()ed, one per record; returns how many controllers connected, or
 * -EINVAL (base of an unknown size) or -ENOMEM.
 */
int nvmf_connect_all(const struct nvmf_host_opts *base, const struct nvmf_discovery_log *log,
		     size_t nrec, const char *traddr_override,
		     struct nvmf_connect_all_result **results);

/* ------------------------------------------------------------------ */
/* Multipath                                                           */
/* ------------------------------------------------------------------ */

/*
 * One subsystem over several paths (addresses or ports), each its own
 * controller from nvmf_connect(), as Linux native multipath does.  I/O
 * goes to a path whose ANA state for the namespace is optimized, to a
 * non-optimized one only when no optimized path is usable, picked by the
 * I/O policy.  A command that fails on a path (the connection lost, or a
 * path status such as ANA Inaccessible) is sent again on another usable
 * path, or held until one is usable, without an error to the caller; a
 * lost path reconnects on its own (reconnect delay, ctrl-loss-tmo of its
 * options) and rejoins.  I/O fails (ENODEV) only when every path is gone
 * for good.  Each path's ANA log is read at connect, after a reconnect
 * and on every ANA change event.
 */
struct nvmf_mpath;

#define NVMF_MPATH_MAX_PATHS 16

enum nvmf_iopolicy {
	NVMF_IOPOLICY_ROUND_ROBIN,    /* "round-robin": usable paths in turn */
	NVMF_IOPOLICY_QUEUE_DEPTH,    /* "queue-depth": the path with the fewest in flight */
};

/* "round-robin", "queue-depth" (Linux's names); -EINVAL for another. */
int nvmf_iopolicy_parse(const char *name, enum nvmf_iopolicy *policy);
const char *nvmf_iopolicy_name(enum nvmf_iopolicy policy);

/*
 * Connect every path (each an nvmf_host_opts of the same subsystem NQN;
 * npaths 1..NVMF_MPATH_MAX_PATHS).  Paths that cannot connect now are
 * tried again every reconnect delay until their ctrl-loss-tmo; NULL with
 * err (the first path's failure) only when none connects.
 */
struct nvmf_mpath *nvmf_mpath_connect(const struct nvmf_host_opts *const *paths,
				      unsigned npaths, enum nvmf_iopolicy policy,
				      struct nvmf_error *err);
/* Disconnect every path (nvmf_disconnect) and free; commands held fail
 * with ESHUTDOWN.  0, or the first path's error. */
int nvmf_mpath_disconnect(struct nvmf_mpath *mp);
int nvmf_mpath_set_iopolicy(struct nvmf_mpath *mp, enum nvmf_iopolicy policy);
unsigned nvmf_mpath_npaths(const struct nvmf_mpath *mp);
/* A path's controller; NULL while it has never connected. */
struct nvmf_ctrl *nvmf_mpath_ctrl(struct nvmf_mpath *mp, unsigned path);

struct nvmf_path_info {
	char traddr[256];
	char trsvcid[32];
	bool connected;            /* has a controller (it may be reconnecting) */
	enum nvmf_ctrl_state state;
	uint16_t cntlid;
	uint32_t anagrpid;         /* the namespace's ANA group; 0: not reported */
	uint8_t ana_state;         /* enum nvme_ana_state; 0: not reported */
	bool usable;               /* I/O to the namespace may go this way now */
	uint64_t commands;         /* I/O commands sent this way */
};

/* What path 0..npaths-1 is, and is for namespace nsid: 0 or -EINVAL. */
int nvmf_mpath_path_info(struct nvmf_mpath *mp, unsigned path, uint32_t nsid,
			 struct nvmf_path_info *info);
/* The namespace as the first live path sees it: 0, -ENOENT or -ENODEV. */
int nvmf_mpath_ns_info(struct nvmf_mpath *mp, uint32_t nsid, struct nvmf_ns_info *info);
/* The smallest nvmf_ctrl_max_io_size() of the connected paths. */
uint32_t nvmf_mpath_max_io_size(const struct nvmf_mpath *mp);

/* As nvmf_ns_read/write/flush; the command may run on several paths in
 * turn before cb, which gets the last path's completion.  -EAGAIN: the
 * chosen path's queue is full. */
int nvmf_mpath_read(struct nvmf_mpath *mp, uint32_t nsid, uint64_t slba, uint32_t nlb,
		    void *buf, nvmf_cmd_cb *cb, void *arg);
int nvmf_mpath_write(struct nvmf_mpath *mp, uint32_t nsid, uint64_t slba, uint32_t nlb,
		     const void *buf, unsigned io_flags, nvmf_cmd_cb *cb, void *arg);
int nvmf_mpath_flush(struct nvmf_mpath *mp, uint32_t nsid, nvmf_cmd_cb *cb, void *arg);
/* As nvmf_ns_write_zeroes and nvmf_ns_dsm (the ranges stay valid until cb). */
int nvmf_mpath_write_zeroes(struct nvmf_mpath *mp, uint32_t nsid, uint64_t slba, uint32_t nlb,
			    unsigned io_flags, nvmf_cmd_cb *cb, void *arg);
int nvmf_mpath_dsm(struct nvmf_mpath *mp, uint32_t nsid, const struct nvme_dsm_range *ranges,
		   unsigned nr, uint32_t attributes, nvmf_cmd_cb *cb, void *arg);
/* Byte offsets and lengths, multiples of the block size (0, -errno or status). */
int nvmf_mpath_read_sync(struct nvmf_mpath *mp, uint32_t nsid, uint64_t offset, void *buf,
			 size_t len);
int nvmf_mpath_write_sync(struct nvmf_mpath *mp, uint32_t nsid, uint64_t offset,
			  const void *buf, size_t len, unsigned io_flags);
int nvmf_mpath_flush_sync(struct nvmf_mpath *mp, uint32_t nsid);
/* As nvmf_ns_write_zeroes_sync and nvmf_ns_trim_sync, over the paths. */
int nvmf_mpath_write_zeroes_sync(struct nvmf_mpath *mp, uint32_t nsid, uint64_t offset,
				 uint64_t len, unsigned io_flags);
int nvmf_mpath_trim_sync(struct nvmf_mpath *mp, uint32_t nsid, uint64_t offset, uint64_t len);

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

/* "Invalid Field in Command", ... for an NVMe status (SCT << 8 | SC). */
const char *nvmf_status_str(uint16_t status);
/* One line for a completion: the error or the status. */
const char *nvmf_cpl_str(const struct nvmf_cpl *cpl, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* NVMF_HOST_H */
