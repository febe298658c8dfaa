/* SPDX-License-Identifier: MIT */
/*
 * Controller internals: the target's object model and the functions the
 * controller's source files share.
 *
 * Objects and who guards them:
 *   target  - lock: ports, subsystems, connections, controller lists, the
 *             discovery generation counter.
 *   subsys  - ns_lock (rwlock): the namespace table; the rest is fixed once
 *             created except the host list, which changes under target lock.
 *   ns      - immutable; refcounted (the table holds one reference, every
 *             command using it another), closed when the last goes.
 *   ctrl    - lock: properties, features, AEN state, its queue table.
 *   conn    - one queue pair.  Commands arrive on the transport's receive
 *             thread; the command contexts (struct nvmf_cmd) come from a
 *             preallocated pool under conn->lock.
 *
 * Teardown never runs on a transport thread: callbacks only mark a
 * connection closing (no lock taken), the reaper moves it to the teardown
 * thread, which stops its queue pair and frees it once its commands have
 * finished, then the controller once its last connection is gone
 * (reaper.c).
 */
#ifndef NVMF_CONTROLLER_INTERNAL_H
#define NVMF_CONTROLLER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "backend/backend.h"
#include "nvmf/controller.h"
#include "nvmf/transport.h"

#define CTRL_AERL 4                 /* AERs held at once (Identify AERL + 1) */
#define CTRL_EVENTS_MAX 16          /* events waiting for an AER */
#define CTRL_ERROR_SLOTS 64         /* error log entries (Identify ELPE + 1) */
#define CTRL_KAS 10                 /* keep alive granularity: 10 x 100 ms */
#define CTRL_ADMIN_QSIZE 32         /* admin queue entries, at most */
#define CTRL_CMD_SLACK 16           /* contexts beyond the queue size */
#define CTRL_DISC_MAX_RECORDS 1024  /* discovery log entries, at most */
#define CTRL_FIRMWARE "0.1.0"

struct nvmf_ns {
	_Atomic int refs;
	uint32_t nsid;
	struct nvmf_bdev *bdev;
	uint64_t nsze;                 /* blocks */
	uint8_t lbads;                 /* log2 of the block size */
	uint8_t uuid[16];
	uint8_t nguid[16];
	uint8_t eui64[8];
	struct nvmf_ns_conf conf;      /* as configured, to compare on reload */
};

struct nvmf_subsys {
	struct nvmf_target *target;
	struct nvmf_subsys *next;
	int refs;                      /* target list + controllers (target lock) */
	bool discovery;
	bool removed;
	char nqn[NVMF_NQN_SIZE];
	char serial[NVMF_SERIAL_SIZE];
	char model[NVMF_MODEL_SIZE];
	char firmware[NVMF_FIRMWARE_SIZE];
	bool allow_any_host;
	unsigned nhosts;
	char (*hosts)[NVMF_NQN_SIZE];
	uint16_t cntlid_min, cntlid_max, next_cntlid;
	uint16_t max_io_queues;
	uint16_t vendor_id, subsys_vendor_id;
	uint32_t ieee_oui;
	bool dhchap_required;
	struct nvmf_ctrl *ctrls;       /* target lock */
	pthread_rwlock_t ns_lock;
	struct nvmf_ns *ns[NVMF_MAX_NSID + 1];
};

/* A port's transport: its configured trtype, TCP where left 0. */
static inline enum nvmf_trtype port_trtype(const struct nvmf_port_conf *c)
{
	return c->trtype != 0 ? c->trtype : NVMF_TRTYPE_TCP;
}

struct nvmf_port {
	struct nvmf_port *next;
	struct nvmf_port_conf conf;    /* subsystems owned */
	struct port_listener *listener; /* listen.c; carried over by a reload */
	char bound_trsvcid[32];        /* what trsvcid resolved to */
	uint32_t inline_data_size;
};

/* A host entry's credentials, parsed (auth.c).  Holds secrets: cleansed
 * when freed. */
struct host_cred {
	char nqn[NVMF_NQN_SIZE];
	bool has_dhchap;
	bool has_ctrl_key;
	bool has_tls;
	uint8_t hash;                  /* enum nvmf_dhchap_hash */
	uint8_t dhgroup;               /* enum nvmf_dhchap_dhgroup */
	struct nvmf_dhchap_key dhchap_key;
	struct nvmf_dhchap_key ctrl_key;
	struct nvmf_tls_key tls_key;
};

/* What a controller's queues authenticate with, fixed at the admin
 * Connect so that a reload does not change a live association. */
struct ctrl_auth {
	bool required;                 /* DH-HMAC-CHAP on every queue */
	bool has_key;                  /* false: required, but the host has none */
	bool has_ctrl_key;
	uint8_t hash;
	uint8_t dhgroup;
	struct nvmf_dhchap_key host_key;
	struct nvmf_dhchap_key ctrl_key;
};

struct conn_auth;
struct port_listener;

/*
 * A command context's life.  Every change goes through cmd_set_state
 * (conn.c), which checks it in Debug builds: a second completion of one
 * command (a response sent twice) aborts there.
 *
 *   FREE -> RUNNING          received (cmd_get)
 *   RUNNING -> DATA_IN       waiting for the host's data (cmd_receive_into)
 *   DATA_IN -> RUNNING       the data is in
 *   RUNNING -> HELD          an AER kept for a future event (ctrl->lock)
 *   HELD -> RUNNING          taken for an event or an Abort (ctrl->lock)
 *   RUNNING, DATA_IN -> DONE answered: response queued, or C2H SUCCESS sent
 *   DONE -> FREE             its last reference went (the transport let go)
 *   HELD -> FREE             dropped unanswered as its admin queue goes
 *
 * References (refs) say when it may go back to the pool: the command's
 * own, one per data transfer the transport holds, one per work item.
 */
enum cmd_state {
	CMD_FREE = 1u << 0,
	CMD_RUNNING = 1u << 1,
	CMD_DATA_IN = 1u << 2,
	CMD_HELD = 1u << 3,
	CMD_DONE = 1u << 4,
};

struct nvmf_cmd {
	struct nvmf_conn *conn;
	struct nvmf_capsule *nc;
	struct nvmf_cmd *next_free;
	_Atomic unsigned state;        /* enum cmd_state */
	struct nvmf_ns *ns;            /* held while the command runs */
	_Atomic int refs;              /* the command + a data transfer */
	uint8_t *buf;                  /* grows to the largest transfer, kept */
	size_t buf_cap;
	size_t len;
	struct iovec iov;
	uint64_t offset;               /* bytes into the namespace */
	bool fua;
	bool deallocate;               /* Write Zeroes DEAC */
	bool holds_cid;                /* its CID is marked in conn->cids_in_flight */
	void (*cont)(struct nvmf_cmd *cmd); /* what runs once the data is in */
	struct nvmf_work work;
};

struct nvmf_conn {
	struct nvmf_target *target;
	struct nvmf_conn *next;        /* target list */
	/* Set once nvmf_qpair_create returns, which may be after the first
	 * capsules arrive: the receive path uses nvmf_capsule_qpair(). */
	struct nvmf_qpair *qp;
	uint16_t portid;
	uint32_t inline_data_size;
	char peer[64];                 /* for log lines */
	char local_traddr[64];         /* the address the host reached us on */
	/* Set by Connect on the receive thread; read by others after that. */
	struct nvmf_ctrl *ctrl;
	uint16_t qid;
	bool connecting;               /* receive thread only: a Connect is under way */
	_Atomic bool connected;
	_Atomic bool refusing;         /* commands beyond the contexts were refused */
	_Atomic bool overrun;          /* responses ran out: being dropped */
	/* DH-HMAC-CHAP (auth.c): set up by Connect before `connected`. */
	_Atomic bool authenticated;    /* commands other than Authentication
	                                  Send/Receive may run */
	struct conn_auth *auth;        /* NULL: the queue needs no authentication */
	_Atomic uint64_t auth_deadline_ms; /* transaction timer; 0: none running */
	_Atomic bool closing;          /* the teardown thread frees it */
	bool draining;                 /* lock: stopped, the last command frees it */
	uint64_t connect_deadline_ms;
	pthread_mutex_t lock;          /* the context pool */
	struct nvmf_cmd *cmds;
	unsigned ncmds;
	struct nvmf_cmd *free_cmds;
	unsigned inflight;
	/* SMART counters, written by this queue's receive thread only. */
	_Atomic uint64_t reads, writes, read_units, write_units;
	/* The CIDs of commands in flight, one bit each: a duplicate is a
	 * Command ID Conflict (Base 2.0 §4.6.1.2.1, as FreeBSD nvmft). */
	_Atomic uint64_t cids_in_flight[65536 / 64];
};

struct nvmf_ctrl {
	struct nvmf_target *target;
	struct nvmf_subsys *subsys;
	struct nvmf_ctrl *next;        /* subsystem list (target lock) */
	pthread_mutex_t lock;
	uint16_t cntlid;
	uint16_t portid;
	char hostnqn[NVMF_NQN_SIZE];
	uint8_t hostid[16];
	char local_traddr[64];         /* the address the host reached us on */
	struct ctrl_auth auth;         /* set before the admin Connect completes */
	uint32_t ioccsz;
	uint16_t max_qsize;
	_Atomic uint32_t kato_ms;
	_Atomic uint64_t last_activity_ms;
	_Atomic bool dead;             /* being torn down */
	uint32_t cc;
	_Atomic uint32_t csts;         /* written under lock, read without */
	uint32_t aec;
	_Atomic bool vwc;              /* read on every write */
	uint16_t nr_io_queues;         /* granted by Set Features */
	uint16_t max_io_queues;
	struct nvmf_conn *admin;
	struct nvmf_conn **io;         /* [max_io_queues + 1], by QID */
	unsigned nconns;               /* target lock */
	struct nvmf_cmd *aers[CTRL_AERL];
	unsigned naers;
	uint32_t events[CTRL_EVENTS_MAX];
	unsigned nevents;
	bool ns_aen_masked;
	bool disc_aen_masked;
	uint32_t changed_ns[1024];
	unsigned nchanged;
	bool changed_overflow;
	struct nvme_error_log_entry errors[CTRL_ERROR_SLOTS];
	uint64_t error_count;
};

struct nvmf_target {
	struct nvmf_target_params params;
	pthread_mutex_t lock;
	pthread_cond_t cond;           /* connection counts */
	struct nvmf_port *ports;
	struct nvmf_subsys *subsystems;
	struct nvmf_subsys *discovery;
	struct nvmf_conn *conns;
	unsigned nconns;
	unsigned nctrls;
	uint64_t genctr;
	uint64_t disc_signature;
	bool configured;
	_Atomic bool stopping;         /* shutdown under way: no new commands */
	bool reaper_stop;
	pthread_t reaper;
	int reaper_wake;               /* eventfd: wakes the reaper, lock-free */
	struct host_cred *hosts;       /* credentials by host NQN */
	unsigned nhosts;
	struct nvmf_workq *wq;
	struct nvmf_target_stats stats;
	/* The teardown thread's queues (teardown_lock, taken after any other). */
	pthread_t teardown;
	pthread_mutex_t teardown_lock;
	pthread_cond_t teardown_cond;
	struct nvmf_conn *doomed, **doomed_tail;   /* to stop */
	struct nvmf_conn *drained, **drained_tail; /* stopped, commands done: to free */
	bool teardown_stop;
};

/* util */
uint64_t ctrl_now_ms(void);
void ctrl_format_addr(const struct sockaddr_storage *ss, char *buf, size_t len);

/* conn.c */
/* A connection on port, and the parameters of its queue pair (TCP, no fd). */
struct nvmf_conn *conn_alloc(struct nvmf_target *t, const struct nvmf_port *port,
			     struct nvmf_qpair_params *params);
/* Frees a connection that has no queue pair, or whose queue pair is freed. */
void conn_release(struct nvmf_conn *conn);
/* Stops the transport; true when no command runs any more (then call
 * conn_finish), else the last one to end hands it to teardown (teardown
 * thread only). */
bool conn_stop(struct nvmf_conn *conn);
/* Unlinks a stopped, idle connection from its controller and frees both
 * as their last references go (teardown thread only). */
void conn_finish(struct nvmf_conn *conn);
void cmd_complete(struct nvmf_cmd *cmd, uint16_t status, uint32_t dw0, uint32_t dw1);
void cmd_put(struct nvmf_cmd *cmd);
/* Move cmd from one of the states in from (a mask) to to. */
void cmd_set_state(struct nvmf_cmd *cmd, unsigned from, enum cmd_state to);
/* Make cmd->buf hold len bytes; false if out of memory. */
bool cmd_buf(struct nvmf_cmd *cmd, size_t len);
/* Send cmd->buf[0..len) to the host, then complete with success. */
void cmd_reply_data(struct nvmf_cmd *cmd, size_t len);
/* The same, from len bytes at data (which outlives the command). */
void cmd_reply_from(struct nvmf_cmd *cmd, void *data, size_t len);
/* Pull the command's host-to-controller data into cmd->buf, then call done. */
void cmd_receive_data(struct nvmf_cmd *cmd, size_t len, void (*done)(struct nvmf_cmd *cmd));
/* The same, into len bytes at dst (which outlives the command). */
void cmd_receive_into(struct nvmf_cmd *cmd, void *dst, size_t len,
		      void (*done)(struct nvmf_cmd *cmd));
/* The SGL length, checked to be exactly len and in the given direction. */
uint16_t cmd_check_data(struct nvmf_cmd *cmd, size_t len, bool to_host);
struct nvme_sqe *cmd_sqe(struct nvmf_cmd *cmd);

/* admin.c */
struct nvmf_ctrl *ctrl_create(struct nvmf_target *t, struct nvmf_subsys *subsys,
			      struct nvmf_conn *admin, const struct nvmf_connect_data *data,
			      uint32_t kato_ms, uint16_t *status);
void ctrl_admin_command(struct nvmf_cmd *cmd);
uint16_t ctrl_property_get(struct nvmf_ctrl *ctrl, uint32_t ofst, bool size8, uint64_t *value);
/* Property Set (completes the command, maybe later: shutdown flushes). */
void ctrl_property_set(struct nvmf_cmd *cmd);
void ctrl_touch(struct nvmf_ctrl *ctrl);
/* Queue an asynchronous event for the host (any thread but the reaper's lock). */
void ctrl_raise_event(struct nvmf_ctrl *ctrl, uint32_t dw0);
void ctrl_ns_changed(struct nvmf_ctrl *ctrl, uint32_t nsid);
void ctrl_discovery_changed(struct nvmf_ctrl *ctrl);
/* Hand back held AERs without answering (the admin queue is going). */
void ctrl_drop_aers(struct nvmf_ctrl *ctrl);
void ctrl_free(struct nvmf_ctrl *ctrl);
bool ctrl_ready(struct nvmf_ctrl *ctrl);
/* I/O queues granted by Set Features Number of Queues (all, if not set). */
uint16_t ctrl_granted_io_queues(struct nvmf_ctrl *ctrl);
void ctrl_record_error(struct nvmf_ctrl *ctrl, struct nvmf_cmd *cmd, uint16_t status);

/* io.c */
void ctrl_io_command(struct nvmf_cmd *cmd);
/* Look a namespace up and take a reference (NULL if not active). */
struct nvmf_ns *subsys_get_ns(struct nvmf_subsys *subsys, uint32_t nsid);
void ns_put(struct nvmf_ns *ns);
/* Map a backend errno to an NVMe status. */
uint16_t io_errno_status(int rc, bool write);

/* auth.c: DH-HMAC-CHAP (TP 8006) on the controller's queues */
/* Parse and check a configuration's host entries; 0, or an errno with err. */
int auth_hosts_parse(const struct nvmf_target_conf *conf, struct host_cred **out,
		     char *err, size_t errlen);
/* Cleanse and free. */
void auth_hosts_free(struct host_cred *hosts, unsigned n);
/* A host's entry (target lock held), or NULL. */
const struct host_cred *auth_find_host(const struct nvmf_target *t, const char *hostnqn);
/* The credentials a host's association on subsys uses (target lock held). */
void auth_ctrl_creds(const struct nvmf_target *t, const struct nvmf_subsys *subsys,
		     const char *hostnqn, struct ctrl_auth *out);
/*
 * After a queue's Connect: make the queue wait for authentication when the
 * association needs it.  Returns the Connect response's AUTHREQ bits
 * (NVMF_CONNECT_RSP_ATR or 0), or -ENOMEM.
 */
int auth_queue_setup(struct nvmf_conn *conn, const struct ctrl_auth *creds,
		     const char *hostnqn, const char *subnqn, uint32_t kato_ms);
/* Authentication Send / Receive (fctype 05h / 06h). */
void auth_send(struct nvmf_cmd *cmd);
void auth_receive(struct nvmf_cmd *cmd);
void auth_queue_free(struct nvmf_conn *conn);
void auth_creds_clear(struct ctrl_auth *creds);

/* listen.c: ports' listeners */
/* Listen on the port's address; 0, or an errno with err. */
int port_listen(struct nvmf_target *t, struct nvmf_port *port, char *err, size_t errlen);
/* A reload keeps a port's listener: it moves to the new port object. */
void port_listener_move(struct nvmf_port *to, struct nvmf_port *from);
/* Free the listener (no connection arrives after; not under the target lock). */
void port_stop(struct nvmf_port *port);
/* Shutdown: every port's listener, each handshake under way attached or
 * abandoned before it returns. */
void port_stop_all(struct nvmf_target *t);

/* discovery.c */
/* Build the discovery log for a host into a new buffer (free it). */
uint8_t *discovery_log_build(struct nvmf_target *t, struct nvmf_ctrl *ctrl, size_t *len);
/* A digest of what discovery shows, to notice changes on reload. */
uint64_t discovery_signature(struct nvmf_target *t);

/* target.c */
void subsys_put(struct nvmf_subsys *subsys);
/* Flush every namespace of a subsystem; 0 or the first error. */
int subsys_flush_all(struct nvmf_subsys *subsys);
bool subsys_host_allowed(struct nvmf_subsys *subsys, const char *hostnqn);
bool port_has_subsys(const struct nvmf_port *port, const char *nqn);
struct nvmf_port *target_find_port(struct nvmf_target *t, uint16_t portid);
struct nvmf_subsys *target_find_subsys(struct nvmf_target *t, const char *nqn);
/* reaper.c: timers and teardown */
int reaper_start(struct nvmf_target *t);
/* After shutdown: every connection is gone. */
void reaper_stop(struct nvmf_target *t);
/* Any thread, any lock held: the reaper looks at closing connections. */
void target_wake_reaper(struct nvmf_target *t);
/* Any thread, any lock held. */
void conn_mark_closing(struct nvmf_conn *conn);
/* A stopped connection's last command ended: free it (any thread). */
void teardown_conn_drained(struct nvmf_conn *conn);
/* End a controller's association: every queue closes (any thread). */
void ctrl_kill(struct nvmf_ctrl *ctrl);
void ctrl_kill_locked(struct nvmf_ctrl *ctrl);
/* A thread with every signal blocked (attr may be NULL). */
int target_start_thread(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *),
			void *arg);

/*
 * Connections without sockets (tests, fuzz targets): reserve one on portid
 * (counted against max_connections) and get its queue pair parameters;
 * create the queue pair with them, with any transport (the callbacks may
 * run before attach); then attach it, or abandon the reservation.
 */
struct nvmf_conn *target_conn_reserve(struct nvmf_target *t, uint16_t portid,
				      struct nvmf_qpair_params *params, int *error);
void target_conn_attach(struct nvmf_target *t, struct nvmf_conn *conn, struct nvmf_qpair *qp);
void target_conn_abandon(struct nvmf_target *t, struct nvmf_conn *conn);

#endif
