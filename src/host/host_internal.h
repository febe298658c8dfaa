/* SPDX-License-Identifier: MIT */
/*
 * Host internals: controllers, their queues and the command slots.
 *
 * Every queue (admin or I/O) owns a fixed array of slots; a slot is one
 * command from submission to completion.  Its CID on the wire is the slot's
 * index with a 4-bit generation above it that moves on every send (as
 * Linux's nvme_cid does), so a stale or duplicated response for a slot's
 * previous command cannot complete the command the slot holds now.
 * User slots sit on the queue's free list; internal slots (Connect, bring-up
 * and shutdown commands, Keep Alive) on a small list of their own, and the
 * AER slots are fixed, so that users can never starve the controller's own
 * traffic.  At most qsize - 1 commands are outstanding per queue, so the
 * submission queue never overflows whatever SQHD says.
 *
 * Submitters and the recovery thread meet through two atomics per queue:
 * a submitter announces itself in `users`, then checks `live`; recovery
 * clears `live`, then waits for `users` to drain before it frees the queue
 * pair.  So the I/O path takes no lock but the queue's own (the slot list).
 *
 * A command completes when its response has arrived and, if it has data,
 * when the transport has released the buffer (`pending` counts both).
 */
#ifndef NVMF_HOST_INTERNAL_H
#define NVMF_HOST_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "security/dhchap.h"
#include "nvmf/host.h"
#include "security/tls_session.h"

#define HOST_ADMIN_QSIZE 32        /* admin queue entries, as Linux */
#define HOST_MAX_AERS 4            /* AERs kept outstanding, at most */
#define HOST_ADMIN_INTERNAL 2      /* Keep Alive + one synchronous command */
#define HOST_IO_INTERNAL 1         /* the queue's Connect */
#define HOST_MAX_RETRIES 5         /* resends after lost connections, per command */
#define HOST_MAX_IOVCNT 64         /* iovecs per command (the transport's limit) */
#define HOST_MAX_NAMESPACES 16384  /* active namespaces tracked, at most */
#define HOST_SHUTDOWN_TIMEOUT_MS 5000 /* CSTS.SHST wait when RTD3E says less */
#define HOST_NSID_ALL 0xffffffffu

/* Queues hold at most 1024 slots (MAX_QUEUE_SIZE): 12 bits of index. */
#define HOST_CID_GEN_SHIFT 12
#define HOST_CID_INDEX(cid) ((cid) & ((1u << HOST_CID_GEN_SHIFT) - 1))

/*
 * Who owns a slot.  Every change goes through slot_set_state (queue.c),
 * which checks the transition in Debug builds:
 *
 *   FREE -> OWNED           taken by a submitter (or an AER armed)
 *   OWNED -> INFLIGHT       handed to the transport (slot_send)
 *   OWNED -> HELD           parked while the queue is down (slot_hold)
 *   HELD -> OWNED           taken off the held list to be sent or failed
 *   INFLIGHT -> OWNED       taken back: its transmission failed, or the
 *                           queue was reclaimed and it fails now
 *   INFLIGHT -> HELD        reclaimed to be resent
 *   INFLIGHT, OWNED -> FREE completed (or given back unsent)
 *   INFLIGHT, OWNED -> REAP completed, awaiting nvmf_ioq_poll
 *   REAP -> FREE            handed out by nvmf_ioq_poll
 *
 * Only INFLIGHT is shared between threads: the receive path completes it
 * once `responded` is claimed; the submitter takes it back after a failed
 * transmission only by claiming `responded` first, under the queue lock; the
 * worker reclaims it only after queue_stop, when no submitter and no
 * transport thread can touch it.
 */
enum slot_state {
	SLOT_FREE,
	SLOT_OWNED,       /* one thread's, off every list */
	SLOT_HELD,        /* on the held list: waiting for the queue to come (back) up */
	SLOT_INFLIGHT,    /* the transport has it */
	SLOT_REAP,        /* completed, waiting for nvmf_ioq_poll */
};

enum slot_kind {
	SLOT_USER,
	SLOT_INTERNAL,    /* never held or resent: fails with the connection */
	SLOT_AER,         /* internal, and exempt from command timeouts */
};

struct host_queue;

struct host_slot {
	struct host_queue *q;
	struct host_slot *next;      /* free, held or poll list */
	uint16_t cid;                /* the slot's index */
	_Atomic uint16_t wire_cid;   /* index | generation << HOST_CID_GEN_SHIFT */
	uint8_t kind;
	_Atomic uint8_t state;
	_Atomic int pending;         /* response + data release still due */
	_Atomic bool responded;      /* a second response is a protocol error */
	_Atomic uint64_t submit_ns;  /* for command timeouts */
	_Atomic uint8_t sent_opc;    /* the opcode sent, for the timeout scan */
	uint8_t retries;
	bool has_data;
	bool send;
	struct nvme_sqe sqe;
	struct iovec iov1;           /* single-buffer commands */
	struct nvmf_iov data;
	nvmf_cmd_cb *cb;
	void *arg;
	struct nvmf_cpl cpl;
	int data_error;
};

struct host_queue {
	struct nvmf_ctrl *ctrl;
	uint16_t qid;
	uint16_t qsize;              /* entries, as given to Connect */
	struct nvmf_qpair *qp;       /* NULL while down */
	_Atomic bool live;           /* user commands may be sent */
	_Atomic int users;           /* submitters between live check and send */
	_Atomic bool dead;           /* the qpair reported its end */

	pthread_mutex_t lock;        /* the lists below */
	pthread_cond_t cond;         /* a slot freed or a poll entry queued */
	unsigned waiters;
	struct host_slot *slots;
	unsigned nslots;             /* user + internal + AER */
	unsigned nuser;
	struct host_slot *free_user;
	struct host_slot *free_internal;
	struct host_slot *held_head, **held_tail;
	struct host_slot *reap_head, **reap_tail;
	unsigned busy;               /* user slots not free */
	unsigned nreap;              /* of which completed, awaiting a poll */
};

struct nvmf_ns {
	struct nvmf_ctrl *ctrl;
	uint32_t nsid;
	_Atomic uint32_t lba_shift;
	_Atomic uint64_t nsze;
	_Atomic bool active;
	struct nvme_id_ns id;        /* as of the last scan (ctrl->lock) */
};

struct aen_event {
	uint32_t cdw0;
	struct host_slot *slot;
};

/* A re-authentication asked of the worker (nvmf_ctrl_reauthenticate). */
struct reauth_job {
	bool done;
	int ret;
	struct nvmf_error err;
};

struct nvmf_ctrl {
	struct nvmf_host_opts opts;  /* strings point at the copies below */
	char traddr[256];
	char trsvcid[32];
	char subnqn[NVMF_HOST_NQN_SIZE];
	char hostnqn[NVMF_HOST_NQN_SIZE];
	char hostid_str[NVMF_UUID_STR_SIZE];
	uint8_t hostid[16];
	char name[256 + 32 + NVMF_HOST_NQN_SIZE + 2]; /* for log lines: ADDR:PORT/SUBNQN */
	bool discovery;

	/* Secure channels (auth.c), parsed from the options; cleansed at free. */
	bool has_dhchap;
	bool has_dhchap_ctrl;
	bool tls;
	struct nvmf_dhchap_key dhchap_key;
	struct nvmf_dhchap_key dhchap_ctrl_key;
	struct nvmf_tls_key tls_key;
	_Atomic uint16_t auth_tid;   /* DH-HMAC-CHAP transaction ids, per controller */
	bool authenticated;          /* lock: the admin queue's last DH-HMAC-CHAP */
	uint8_t auth_hash;
	uint8_t auth_dhgroup;
	bool auth_bidirectional;

	/* Fixed at the first bring-up. */
	uint64_t cap;
	uint32_t vs;
	struct nvme_id_ctrl id;
	uint32_t max_io_size;
	uint32_t max_icd;
	uint32_t page_shift;
	unsigned nr_io_queues;
	uint16_t io_qsize;
	unsigned naers;

	_Atomic uint16_t cntlid;
	_Atomic int state;           /* enum nvmf_ctrl_state */
	_Atomic unsigned reconnects;
	_Atomic unsigned next_ioq;   /* NVMF_IOQ_ANY spreading */

	struct host_queue admin;
	struct host_queue *ioqs;

	pthread_mutex_t lock;        /* below, and the namespace table */
	pthread_cond_t cond;         /* worker wake-ups and internal commands */
	pthread_t worker;
	bool worker_started;
	bool worker_stop;
	bool lost;                   /* a queue pair ended: recover */
	int lost_error;
	uint16_t lost_qid;
	struct aen_event aens[HOST_MAX_AERS];
	unsigned naens;
	bool ka_busy;                /* a Keep Alive is outstanding */
	struct reauth_job *reauth;   /* for the worker; one at a time */

	/* A path of a multipath controller (multipath.c), set before it
	 * carries I/O: a lost connection fails user commands with ENOTCONN
	 * instead of holding them, so that they go over another path, and
	 * the hook hears of every state change (called on the worker, lock
	 * not held). */
	_Atomic bool failfast;
	void (*state_hook)(void *arg, struct nvmf_ctrl *c, enum nvmf_ctrl_state state);
	void *state_hook_arg;

	pthread_mutex_t scan_lock;   /* one namespace scan at a time */
	struct nvmf_ns **ns;         /* sorted by NSID, never shrinks */
	size_t nns;
	size_t ns_cap;
};

/* queue.c */
int queue_init(struct host_queue *q, struct nvmf_ctrl *c, uint16_t qid, uint16_t qsize,
	       unsigned naer);
void queue_destroy(struct host_queue *q);
/* Take a user slot (wait: until one is free): 0, -EAGAIN, -ENODEV, -ESHUTDOWN. */
int queue_get_slot(struct host_queue *q, struct host_slot **slot, bool wait);
struct host_slot *queue_get_internal(struct host_queue *q);
/* Fill a slot for a command; the SQE's CID is set to the slot's. */
void slot_prepare(struct host_slot *s, const struct nvme_sqe *sqe, const struct iovec *iov,
		  int iovcnt, size_t len, bool send, nvmf_cmd_cb *cb, void *arg);
/* Send a prepared (OWNED) slot; user slots are held while the queue is down. */
void slot_send(struct host_slot *s);
/* Claim a FREE AER slot for arming; false if it is in use. */
bool slot_claim_aer(struct host_slot *s);
/* Give an unsent slot back (a submission refused before sending). */
void slot_release(struct host_slot *s);
void queue_receive(void *arg, struct nvmf_capsule *rsp);
void queue_error(void *arg, int error);
/* Stop user sends, wait for submitters, free the queue pair. */
void queue_stop(struct host_queue *q);
/*
 * After queue_stop: internal commands fail with ECONNABORTED; user commands
 * are held for resending (user_error 0) or fail with user_error.
 */
void queue_reclaim(struct host_queue *q, int user_error);
/* Fail every held user command with error. */
void queue_fail_held(struct host_queue *q, int error);
/* Let user commands go again: held ones are sent first. */
void queue_go_live(struct host_queue *q);
/* The oldest in-flight command (not an AER): its age in ns, 0 if none. */
uint64_t queue_oldest_ns(struct host_queue *q, uint64_t now, uint16_t *cid, uint8_t *opc);

/* Wait for a command submitted with sync_cb; returns its result. */
struct sync_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	struct nvmf_cpl cpl;
};
void sync_wait_init(struct sync_wait *w);
void sync_cb(void *arg, const struct nvmf_cpl *cpl);
void sync_wait_for(struct sync_wait *w);

/* ctrl.c */
/*
 * An internal admin or Connect command on q, waited for up to timeout_ms.
 * On a timeout or a lost connection the queue is stopped (the controller
 * will recover), so the command cannot outlive the call.
 */
int ctrl_internal_cmd(struct nvmf_ctrl *c, struct host_queue *q, const struct nvme_sqe *sqe,
		      void *buf, size_t len, enum nvmf_data_dir dir, struct nvmf_cpl *cpl);
/* Mark the association lost and wake the worker. */
void ctrl_mark_lost(struct nvmf_ctrl *c, uint16_t qid, int error);
/* Notes a completed AER for the worker. */
void ctrl_aer_done(void *arg, const struct nvmf_cpl *cpl);
struct host_queue *ctrl_queue(struct nvmf_ctrl *c, unsigned qid);
/* Make c a path of a multipath controller (see failfast above). */
void ctrl_set_path_hooks(struct nvmf_ctrl *c,
			 void (*hook)(void *arg, struct nvmf_ctrl *c, enum nvmf_ctrl_state state),
			 void *arg);

/* cmd.c */
/* An admin command: internal (the controller's own threads) or a user slot. */
int ctrl_admin_sync(struct nvmf_ctrl *c, bool internal, const struct nvme_sqe *sqe, void *buf,
		    size_t len, enum nvmf_data_dir dir, struct nvmf_cpl *cpl);
int ctrl_get_log(struct nvmf_ctrl *c, bool internal, uint8_t lid, uint32_t nsid,
		 uint64_t offset, void *buf, size_t len, bool rae);
int ctrl_scan_namespaces(struct nvmf_ctrl *c, bool internal);
void ctrl_free_namespaces(struct nvmf_ctrl *c);

/* auth.c: secure channels */
/* Parse the options' secrets into c (0, or -errno with err). */
int host_secrets_setup(struct nvmf_ctrl *c, const struct nvmf_host_opts *opts,
		       struct nvmf_error *err);
void host_secrets_clear(struct nvmf_ctrl *c);
/* DH-HMAC-CHAP on a queue after its Connect answered with authreq
 * (AUTHREQ bits of DW0): 0, or an error with err. */
int host_authenticate(struct nvmf_ctrl *c, struct host_queue *q, uint32_t authreq,
		      struct nvmf_error *err);

/* DH-HMAC-CHAP again on every queue of the live controller, on the
 * worker: 0, or an error with err (an authentication that failed marks the
 * association lost). */
int host_reauthenticate(struct nvmf_ctrl *c, struct nvmf_error *err);

/* discovery.c */
int host_discovery_log(struct nvmf_ctrl *c, bool internal, struct nvmf_discovery_log **log,
		       size_t *nrec);

/* ids.c: the host NQN kept under the state directory, made on first use. */
int host_stored_hostnqn(char nqn[NVMF_HOST_NQN_SIZE]);

/* ctrl.c */
/* The caller's options over the defaults (util/opts.h); 0 or -EINVAL with err. */
int host_opts_import(struct nvmf_host_opts *ours, const struct nvmf_host_opts *given,
		     struct nvmf_error *err);

/* names.c */
/* Explain a failed Connect in err (one line). */
void host_connect_error(const struct nvmf_ctrl *c, uint16_t qid, const struct nvmf_cpl *cpl,
			struct nvmf_error *err);
void host_set_error(struct nvmf_error *err, int errnum, uint16_t status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int host_parse_uuid(const char *s, uint8_t uuid[16]);
void host_format_uuid(const uint8_t uuid[16], char out[NVMF_UUID_STR_SIZE]);

#endif
