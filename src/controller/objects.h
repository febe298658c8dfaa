/* SPDX-License-Identifier: MIT */
/*
 * The controller's objects: what each one holds and which lock guards it.
 * Every part of the controller includes this; it calls into no part.
 *
 * The parts call one way, each including only the headers of the parts
 * below it:
 *
 *   target.c   subsystems, ports, configuration, reload, shutdown
 *     listen.c   ports' listeners         reaper.c  timers and teardown
 *       conn.c     connections: Connect, dispatch, the context pool
 *         admin.c    admin commands, the controller (properties, AENs)
 *           discovery.c  the discovery log        auth.c  DH-HMAC-CHAP
 *         io.c       NVM commands
 *           resv.c     reservations (also for admin.c: features, log page)
 *             cmd.c      a command's states, data transfers, completion
 *             objects.c  lookups, references, hand-offs to the reaper
 *             stats.c    I/O counters and the metrics snapshot (stats.h)
 *
 * A lower part that needs something of an upper one (the reaper to act,
 * a subsystem looked up) gets it through objects.c, which works on the
 * objects' data alone: it sets flags and queues that the upper part reads.
 *
 * Objects and who guards them:
 *   target  - lock: ports, subsystems, connections, controller lists, the
 *             discovery generation counter.
 *   subsys  - ns_lock (rwlock): the namespace table; the rest is fixed once
 *             created except the host list, which changes under target lock.
 *   ns      - immutable; refcounted (the table holds one reference, every
 *             command using it another), closed when the last goes.  Its
 *             reservation state (resv) has locks of its own (resv.c).
 *   ctrl    - lock: properties, features, AEN state, its queue table.
 *   stats   - stats_lock: the subsystems' I/O totals (stats.h).
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
#ifndef NVMF_CONTROLLER_OBJECTS_H
#define NVMF_CONTROLLER_OBJECTS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

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

struct ns_resv;
struct ctrl_resv;

struct nvmf_ns {
	_Atomic int refs;
	uint32_t nsid;
	struct nvmf_bdev *bdev;
	_Atomic uint64_t nsze;         /* blocks; grows while served (reaper.c) */
	uint8_t lbads;                 /* log2 of the block size */
	uint8_t uuid[16];
	uint8_t nguid[16];
	uint8_t eui64[8];
	struct nvmf_ns_conf conf;      /* as configured, to compare on reload */
	struct ns_resv *resv;          /* NULL: no reservations */
	void (*resv_free)(struct ns_resv *resv); /* set by resv.c, run by ns_put */
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
	uint16_t max_namespaces;       /* Identify NN */
	struct nvmf_ctrl *ctrls;       /* target lock */
	pthread_rwlock_t ns_lock;
	struct nvmf_ns *ns[NVMF_MAX_NSID + 1];
	struct ns_totals *totals;      /* stats.h; target stats_lock */
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
struct conn_ns_stats;
struct ns_totals;
struct nvmf_cmd;
struct port_listener;

/* A port's ANA group states (ana.c).  Kept by port ID for the target's
 * life, so controllers hold a pointer across reloads; the states are
 * atomics the I/O path reads without a lock. */
struct ana_port {
	struct ana_port *next;         /* target lock */
	uint16_t portid;
	_Atomic uint8_t state[NVMF_ANA_GRPMAX + 1]; /* enum nvme_ana_state by group */
};

struct nvmf_conn {
	struct nvmf_target *target;
	struct nvmf_conn *next;        /* target list, from reserve on */
	/* Set at attach (target lock), which may be after the first capsules
	 * arrive: the receive path uses nvmf_capsule_qpair(), and teardown
	 * leaves a connection without one alone until it has one. */
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
	/* I/O counters per namespace (stats.h): prepended by the receive
	 * thread, walked by scrapes; stats_last is the receive thread's. */
	struct conn_ns_stats *_Atomic stats;
	struct conn_ns_stats *stats_last;
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
	struct ana_port *ana;          /* its port's ANA states; NULL: discovery */
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
	bool ana_aen_masked;           /* until the host reads the ANA log */
	uint32_t changed_ns[1024];
	unsigned nchanged;
	bool changed_overflow;
	struct nvme_error_log_entry errors[CTRL_ERROR_SLOTS];
	uint64_t error_count;
	struct ctrl_resv *resv;        /* notices and masks (resv.c); NULL until used */
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
	struct ana_port *ana_ports;
	_Atomic uint64_t ana_chgcnt;   /* the ANA log's change count */
	bool configured;
	_Atomic bool stopping;         /* shutdown under way: no new commands */
	bool reaper_stop;
	pthread_t reaper;
	int reaper_wake;               /* eventfd: wakes the reaper, lock-free */
	struct host_cred *hosts;       /* credentials by host NQN */
	unsigned nhosts;
	struct nvmf_workq *wq;
	struct nvmf_target_stats stats;
	/* Subsystems' I/O totals (stats.h); taken after lock, before none. */
	pthread_mutex_t stats_lock;
	/* The teardown thread's queues (teardown_lock, taken after any other). */
	pthread_t teardown;
	pthread_mutex_t teardown_lock;
	pthread_cond_t teardown_cond;
	struct nvmf_conn *doomed, **doomed_tail;   /* to stop */
	struct nvmf_conn *drained, **drained_tail; /* stopped, commands done: to free */
	bool teardown_stop;
};

/* objects.c: lookups and references (any thread) */
uint64_t ctrl_now_ms(void);
bool subsys_host_allowed(struct nvmf_subsys *subsys, const char *hostnqn);
bool port_has_subsys(const struct nvmf_port *port, const char *nqn);
/* Target lock held. */
struct nvmf_port *target_find_port(struct nvmf_target *t, uint16_t portid);
struct nvmf_subsys *target_find_subsys(struct nvmf_target *t, const char *nqn);
/* Free a subsystem nothing references any more. */
void subsys_free(struct nvmf_subsys *subsys);
/* Drop a reference; the last frees it (takes the target lock). */
void subsys_put(struct nvmf_subsys *subsys);
/* Look a namespace up and take a reference (NULL if not active). */
struct nvmf_ns *subsys_get_ns(struct nvmf_subsys *subsys, uint32_t nsid);
void ns_put(struct nvmf_ns *ns);
/* Flush every namespace of a subsystem; 0 or the first error. */
int subsys_flush_all(struct nvmf_subsys *subsys);
bool ctrl_ready(struct nvmf_ctrl *ctrl);

/* objects.c: hand-offs to the reaper and teardown threads (reaper.c
 * consumes them); flags and queues only, so any part may use them. */
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

#endif
