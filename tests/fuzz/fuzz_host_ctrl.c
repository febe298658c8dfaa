/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the host's controller logic (src/host) against a hostile
 * controller.  A real struct nvmf_ctrl is brought up by nvmf_connect()
 * against an in-process fake controller whose every answer - completion
 * status and DW0/DW1, Identify Controller / Namespace / active NS list /
 * descriptors, log pages (the discovery log above all), DH-HMAC-CHAP
 * messages, read data, failed connection setups, lost connections, stray
 * and duplicate responses, short or corrupt data - comes from the input.
 *
 * No sockets: the host's queue pairs are in-memory ones.  The link wraps
 * nvmf_qpair_create() and connect() (-Wl,--wrap, see tests/fuzz.cmake): the
 * host still resolves the address and opens a socket, its connect()
 * succeeds at once, and nvmf_qpair_create() closes that socket and returns a
 * queue pair of this file's transport.  It answers each command at once on
 * the sending thread (fast: no thread switch per command), or, with flag
 * FLAG1_THREAD, on a fake-controller thread as a transport thread would;
 * either way as the TCP transport does: read data released before the
 * response, outstanding transfers failed with ECONNABORTED when the queue
 * pair is freed, no callback once nvmf_qpair_free() has returned.  src/ is
 * not changed for it.
 *
 * Reconnection without waiting: the link wraps pthread_cond_timedwait() as
 * well, and a controller's wait for its reconnect delay (1 s at the least)
 * times out at once, as if the delay had passed; every other wait is left
 * alone.
 *
 * Input: three flag bytes, then records until the input runs out:
 *   [class][mode][status: 2 LE][cdw0: 4 LE][cdw1: 4 LE][length: 2 LE][data]
 * Each command the host sends is classified (enum cls); it takes the next
 * record of its class, or gets a default, valid answer when none is left
 * (so short inputs still reach deep).  A record's status, cdw0 and cdw1
 * replace the default response; its data, if any, is laid over the start of
 * the default data (a valid Identify, discovery log, ...) and stays in force
 * for later commands of the class until another record brings data: the
 * three reads of a discovery log see one image unless records change it.
 * The mode (enum mode) says how the answer goes wrong.  AERs are held; the
 * harness completes them with the AER records once the controller is up
 * (settle()), so that the host's event handling runs at a defined point.
 *
 * Flags byte 0: bit 0 discovery controller (the well-known NQN), bit 1
 * KATO 1 s, bit 2 disable SQ flow control, bit 3 DH-HMAC-CHAP secret, bit 4
 * connect to the discovery log's entries (nvmf_connect_all, first 3),
 * bits 5-6 I/O queues - 1, bit 7 queue size 4 (else 32).
 * Flags byte 1: bit 0 bidirectional DH-HMAC-CHAP; bits 1 and 5 set and 7
 * clear: the fake controller prefers ffdhe2048 (else the null group); bits
 * 2-3 its hash; bit 4 (FLAG1_THREAD) answers come from the fake
 * controller's thread; bit 6 the I/O queues authenticate too (else only the
 * admin queue).
 * Flags byte 2: bit 0 a lost controller reconnects (ctrl-loss-tmo 3 s,
 * reconnect delay 1 s: up to 3 attempts), else it fails at once.
 *
 * After the input every controller is disconnected; every queue pair and
 * capsule must have been freed (or the input is reported as a leak), and
 * nothing may wait longer than WAIT_MS (reported as a hang).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "host/host_internal.h"
#include "security/dhchap.h"
#include "nvmf/log.h"
#include "transport/transport.h"

#define NQN "nqn.2024-01.org.nvmfd:fuzz"
#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:5a1f0c3e-2b4d-4e6f-8a9b-0c1d2e3f4a5b"
#define HOSTID "5a1f0c3e-2b4d-4e6f-8a9b-0c1d2e3f4a5b"
#define SECRET "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:"
#define RECORD_HEADER 14
#define MAX_RECORDS 8192
#define IMG_MAX 65536               /* a record's data is at most 65535 bytes */
#define MAX_CSTS_RECORDS 3          /* each not-ready CSTS costs the host a sleep */
#define CONNECT_ALL_MAX 3
#define WAIT_MS 10000
#define STRAY_CID 0x8000u           /* never a host slot */
#define FLAG1_THREAD 0x10           /* answer on the fake controller's thread */
#define FLAG2_RECONNECT 0x01
#define HEADER 3                    /* flag bytes */
#define CTRLS_MAX 8                 /* 1 + CONNECT_ALL_MAX, and failed ones */

enum cls {
	C_QPAIR,        /* a queue's connection setup (ICReq/ICResp): status != 0 fails it */
	C_CONNECT,
	C_PROP_GET,     /* CAP, VS, ... */
	C_CSTS,         /* Property Get CSTS */
	C_PROP_SET,
	C_ID_CTRL,
	C_ID_NS,
	C_ID_NSLIST,
	C_ID_OTHER,     /* CNS 03h descriptors and the rest */
	C_LOG_DISC,
	C_LOG_OTHER,
	C_SET_FEAT,
	C_GET_FEAT,
	C_AER,
	C_AUTH_SEND,
	C_AUTH_RECV,
	C_IO,
	C_OTHER,        /* Keep Alive, Disconnect, ... */
	NCLASS
};

enum mode {
	M_NORMAL,
	M_SHORT,        /* half the read data arrives */
	M_DIGEST,       /* read data fails its digest (EBADMSG) */
	M_KILL,         /* the connection drops instead of answering */
	M_DUP,          /* the response comes twice */
	M_STRAY,        /* a response for a command never sent comes first */
	M_TERM,         /* the connection ends with a protocol error */
	M_DUP_LATE,     /* the response comes again, racing with the next command
			   sent on the queue pair (which may have its CID) */
};
#define MODE_DNR 0x08

struct record {
	uint8_t cls;
	uint8_t mode;
	uint16_t status;
	uint32_t cdw0;
	uint32_t cdw1;
	const uint8_t *data;
	uint16_t len;
	int next;                   /* next record of the class, -1 */
};

struct fz_qp {
	struct nvmf_qpair qp;
	_Atomic int refs;           /* the host's handle + capsules */
	bool freed;                 /* fz.lock */
	unsigned busy;              /* fz.lock: its commands being answered */
	bool dead;                  /* fz.lock: the error callback ran */
	bool discovery;             /* its Connect named the discovery NQN */
	uint16_t qid;
	uint32_t cc;
	uint32_t max_io;
	uint32_t max_icd;
	char subnqn[NVMF_NQN_FIELD_SIZE];
	char hostnqn[NVMF_NQN_FIELD_SIZE];
	/* Held while handing the host its responses and callbacks: one at a
	 * time per queue pair, as a transport's receive thread does. */
	pthread_mutex_t rx_lock;
	struct nvme_cqe stale;      /* fz.lock: M_DUP_LATE's response, again */
	bool stale_set;
	struct nvmf_dhchap *auth;   /* the controller's side, when it asks */
	uint8_t *auth_msg;          /* its next message for Authentication Receive */
	size_t auth_len;
};

struct fz_cap {
	struct nvmf_capsule nc;
	_Atomic int refs;           /* its owner + the fake's queue */
	bool data_done;
	const struct record *forced;
	struct fz_cap *next;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;        /* work for the fake thread */
	pthread_cond_t done;        /* a queue pair's last command answered */
	pthread_t thread;
	bool started;
	bool verbose;
	struct fz_cap *fifo, **fifo_tail; /* commands to answer */
	struct fz_cap *held;        /* AERs */
	struct fz_cap *stuck;       /* commands of dead queue pairs */
	unsigned busy;              /* commands being answered */
	/* This input. */
	uint8_t flags0, flags1, flags2;
	/* Controllers whose reconnect delay is skipped (reg_lock). */
	pthread_mutex_t reg_lock;
	struct nvmf_ctrl *ctrls[CTRLS_MAX];
	unsigned nctrls;
	struct record *recs;
	int head[NCLASS];
	const struct record *overlay[NCLASS];
	unsigned csts_used;
	_Atomic unsigned live_qps;
	_Atomic unsigned live_caps;
	_Atomic unsigned aens;      /* events the host handled (aen_cb) */
	/* The AER settle() completes (fz.lock): pending, answered or dropped
	 * with its queue pair, and whether the answer is an event. */
	enum { FORCED_NONE, FORCED_PENDING, FORCED_ANSWERED, FORCED_DROPPED } forced;
	bool forced_event;
} fz = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER, .reg_lock = PTHREAD_MUTEX_INITIALIZER};

static uint8_t tmpl_id_ctrl[4096], tmpl_id_disc[4096], tmpl_id_ns[4096], tmpl_id_desc[4096];
static uint8_t tmpl_disc_log[3 * 1024], tmpl_read[4096];
static uint8_t img[IMG_MAX];        /* the fake thread's scratch */
static uint8_t sink[IMG_MAX];
static volatile uint8_t sink_sum;

/* ------------------------------------------------------------------ */
/* Records                                                             */
/* ------------------------------------------------------------------ */

static const struct record *next_record(enum cls c)
{
	const struct record *r = NULL;

	pthread_mutex_lock(&fz.lock);
	if (fz.recs != NULL && fz.head[c] >= 0 && (c != C_CSTS || fz.csts_used < MAX_CSTS_RECORDS)) {
		r = &fz.recs[fz.head[c]];
		fz.head[c] = r->next;
		if (c == C_CSTS)
			fz.csts_used++;
		if (r->len > 0)
			fz.overlay[c] = r;
	}
	pthread_mutex_unlock(&fz.lock);
	return r;
}

static void parse_records(const uint8_t *data, size_t size)
{
	static struct record recs[MAX_RECORDS];
	int tail[NCLASS];
	size_t pos = HEADER;
	int n = 0;

	for (int c = 0; c < NCLASS; c++)
		fz.head[c] = tail[c] = -1;
	while (size - pos >= RECORD_HEADER && n < MAX_RECORDS) {
		struct record *r = &recs[n];
		const uint8_t *p = data + pos;
		size_t len = (size_t)p[12] | (size_t)p[13] << 8;

		r->cls = (uint8_t)(p[0] % NCLASS);
		r->mode = p[1];
		r->status = (uint16_t)((p[2] | p[3] << 8) & 0x7ff); /* SCT and SC */
		memcpy(&r->cdw0, p + 4, 4);
		memcpy(&r->cdw1, p + 8, 4);
		pos += RECORD_HEADER;
		if (len > size - pos)
			len = size - pos;
		r->data = data + pos;
		r->len = (uint16_t)len;
		r->next = -1;
		pos += len;
		if (tail[r->cls] >= 0)
			recs[tail[r->cls]].next = n;
		else
			fz.head[r->cls] = n;
		tail[r->cls] = n;
		n++;
	}
	fz.recs = recs;
	memset(fz.overlay, 0, sizeof(fz.overlay));
	fz.csts_used = 0;
}

/* ------------------------------------------------------------------ */
/* The in-memory transport (host role)                                  */
/* ------------------------------------------------------------------ */

static void process(struct fz_cap *m);

static void qp_put(struct fz_qp *q)
{
	if (atomic_fetch_sub(&q->refs, 1) != 1)
		return;
	nvmf_dhchap_free(q->auth);
	free(q->auth_msg);
	pthread_mutex_destroy(&q->rx_lock);
	free(q);
	atomic_fetch_sub(&fz.live_qps, 1);
}

static void cap_put(struct fz_cap *m)
{
	struct fz_qp *q = (struct fz_qp *)m->nc.qp;

	if (atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	free(m);
	atomic_fetch_sub(&fz.live_caps, 1);
	qp_put(q);
}

static struct nvmf_capsule *fz_capsule_alloc(struct nvmf_qpair *qp)
{
	struct fz_qp *q = (struct fz_qp *)qp;
	struct fz_cap *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->nc.qp = qp;
	atomic_init(&m->refs, 1);
	atomic_fetch_add(&q->refs, 1);
	atomic_fetch_add(&fz.live_caps, 1);
	return &m->nc;
}

static void fz_capsule_free(struct nvmf_capsule *nc)
{
	cap_put((struct fz_cap *)nc);
}

static size_t iov_total(const struct nvmf_iov *d)
{
	size_t n = 0;

	for (int i = 0; i < d->iovcnt; i++)
		n += d->iov[i].iov_len;
	return n;
}

static void deliver(struct fz_qp *q, uint16_t cid, uint16_t status, bool dnr, uint32_t cdw0,
		    uint32_t cdw1);

static int fz_capsule_transmit(struct nvmf_capsule *nc)
{
	struct fz_cap *m = (struct fz_cap *)nc;
	struct fz_qp *q = (struct fz_qp *)nc->qp;
	struct nvme_cqe stale;
	bool stale_set;

	/* What the TCP transport refuses before queueing. */
	if (nc->has_data && (nc->data.iovcnt < 1 || nc->data.iovcnt > HOST_MAX_IOVCNT ||
			     nc->data.len > q->max_io || iov_total(&nc->data) < nc->data.len))
		return EINVAL;
	pthread_mutex_lock(&fz.lock);
	if (q->freed || q->dead) {
		pthread_mutex_unlock(&fz.lock);
		return ECONNABORTED;
	}
	q->busy++;
	fz.busy++;
	stale = q->stale;
	stale_set = q->stale_set;
	q->stale_set = false;
	pthread_mutex_unlock(&fz.lock);
	/*
	 * A response arriving while this command is on its way in, before the
	 * transport holds it (as a receive thread may deliver one meanwhile).
	 */
	if (stale_set) {
		pthread_mutex_lock(&q->rx_lock);
		deliver(q, stale.cid, NVME_CQE_TO_STATUS(stale.status), false, stale.cdw0,
			stale.cdw1);
		pthread_mutex_unlock(&q->rx_lock);
	}
	if (nc->has_data && nc->data.len == 0) {
		m->data_done = true;
		if (nc->data_cb != NULL)
			nc->data_cb(nc->data_cb_arg, 0, 0);
	}
	m->data_done = m->data_done || !nc->has_data;
	atomic_fetch_add(&m->refs, 1);
	if (fz.flags1 & FLAG1_THREAD) {
		pthread_mutex_lock(&fz.lock);
		m->next = NULL;
		*fz.fifo_tail = m;
		fz.fifo_tail = &m->next;
		pthread_cond_broadcast(&fz.cond);
	} else {
		/* Answered at once, on the sender's thread. */
		process(m);
		pthread_mutex_lock(&fz.lock);
	}
	q->busy--;
	fz.busy--;
	if (q->freed)
		pthread_cond_broadcast(&fz.done);
	pthread_mutex_unlock(&fz.lock);
	return 0;
}

/* Take q's commands off a list (fz.lock). */
static void take_commands(struct fz_cap **list, struct fz_qp *q, struct fz_cap **out)
{
	while (*list != NULL) {
		struct fz_cap *m = *list;

		if (m->nc.qp != &q->qp) {
			list = &m->next;
			continue;
		}
		*list = m->next;
		m->next = *out;
		*out = m;
	}
}

static void fz_qpair_free(struct nvmf_qpair *qp)
{
	struct fz_qp *q = (struct fz_qp *)qp;
	struct fz_cap *gone = NULL;

	pthread_mutex_lock(&fz.lock);
	q->freed = true;
	/* As a transport: no callback for it runs once this returns. */
	while (q->busy != 0)
		pthread_cond_wait(&fz.done, &fz.lock);
	take_commands(&fz.fifo, q, &gone);
	fz.fifo_tail = &fz.fifo;
	while (*fz.fifo_tail != NULL)
		fz.fifo_tail = &(*fz.fifo_tail)->next;
	take_commands(&fz.held, q, &gone);
	take_commands(&fz.stuck, q, &gone);
	pthread_mutex_unlock(&fz.lock);
	while (gone != NULL) {
		struct fz_cap *m = gone;

		gone = m->next;
		if (m->forced != NULL) {
			pthread_mutex_lock(&fz.lock);
			fz.forced = FORCED_DROPPED;
			pthread_mutex_unlock(&fz.lock);
		}
		if (!m->data_done && m->nc.data_cb != NULL)
			m->nc.data_cb(m->nc.data_cb_arg, 0, ECONNABORTED);
		cap_put(m);
	}
	qp_put(q);
}

static void fz_qpair_get_info(const struct nvmf_qpair *qp, struct nvmf_qpair_info *info)
{
	info->max_icd = ((const struct fz_qp *)qp)->max_icd;
}

static bool fz_on_engine_thread(const struct nvmf_qpair *qp)
{
	return pthread_equal(pthread_self(), fz.thread);
}

static const struct nvmf_transport_ops fz_ops = {
	.qpair_free = fz_qpair_free,
	.qpair_get_info = fz_qpair_get_info,
	.on_engine_thread = fz_on_engine_thread,
	.capsule_alloc = fz_capsule_alloc,
	.capsule_free = fz_capsule_free,
	.capsule_transmit = fz_capsule_transmit,
};

/* ------------------------------------------------------------------ */
/* Reconnect delays skipped                                            */
/* ------------------------------------------------------------------ */

/* A controller comes to the registry with its admin queue pair. */
static void ctrl_register(struct nvmf_ctrl *c)
{
	pthread_mutex_lock(&fz.reg_lock);
	for (unsigned i = 0; i < fz.nctrls; i++)
		if (fz.ctrls[i] == c)
			goto out;
	if (fz.nctrls < CTRLS_MAX)
		fz.ctrls[fz.nctrls++] = c;
out:
	pthread_mutex_unlock(&fz.reg_lock);
}

/*
 * Keep only the controllers the harness holds (keep[], n): those that
 * failed to connect are freed.  Before nvmf_disconnect() the harness
 * unregisters the controller itself.
 */
static void ctrl_registry_keep(struct nvmf_ctrl *const *keep, unsigned n)
{
	unsigned j = 0;

	pthread_mutex_lock(&fz.reg_lock);
	for (unsigned i = 0; i < fz.nctrls; i++) {
		bool kept = false;

		for (unsigned k = 0; k < n && !kept; k++)
			kept = keep[k] == fz.ctrls[i];
		if (kept)
			fz.ctrls[j++] = fz.ctrls[i];
	}
	fz.nctrls = j;
	pthread_mutex_unlock(&fz.reg_lock);
}

static void ctrl_unregister(struct nvmf_ctrl *c)
{
	unsigned j = 0;

	pthread_mutex_lock(&fz.reg_lock);
	for (unsigned i = 0; i < fz.nctrls; i++)
		if (fz.ctrls[i] != c)
			fz.ctrls[j++] = fz.ctrls[i];
	fz.nctrls = j;
	pthread_mutex_unlock(&fz.reg_lock);
}

/*
 * The wait of a registered controller's worker between reconnect attempts
 * (worker_sleep: on its condition variable, reconnecting, about a second):
 * time out at once.  Its other waits on that condition variable are for
 * internal commands (the connect timeout, WAIT_MS / 2) or happen while it
 * is not reconnecting.
 */
static bool time_warp(pthread_cond_t *cond, const struct timespec *abstime)
{
	struct timespec now;
	int64_t left_ms;
	bool warp = false;

	pthread_mutex_lock(&fz.reg_lock);
	for (unsigned i = 0; i < fz.nctrls && !warp; i++)
		warp = &fz.ctrls[i]->cond == cond &&
		       atomic_load(&fz.ctrls[i]->state) == NVMF_CTRL_RECONNECTING;
	pthread_mutex_unlock(&fz.reg_lock);
	if (!warp)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left_ms = (int64_t)(abstime->tv_sec - now.tv_sec) * 1000 +
		  (abstime->tv_nsec - now.tv_nsec) / 1000000;
	return left_ms >= 500 && left_ms <= 1500;
}

int __real_pthread_cond_timedwait(pthread_cond_t *cond, pthread_mutex_t *mutex,
				  const struct timespec *abstime);
int __wrap_pthread_cond_timedwait(pthread_cond_t *cond, pthread_mutex_t *mutex,
				  const struct timespec *abstime);

int __wrap_pthread_cond_timedwait(pthread_cond_t *cond, pthread_mutex_t *mutex,
				  const struct timespec *abstime)
{
	if (fz.started && time_warp(cond, abstime))
		return ETIMEDOUT;
	return __real_pthread_cond_timedwait(cond, mutex, abstime);
}

struct nvmf_qpair *__real_nvmf_qpair_create(const struct nvmf_qpair_params *params);
struct nvmf_qpair *__wrap_nvmf_qpair_create(const struct nvmf_qpair_params *params);
int __real_connect(int fd, const struct sockaddr *addr, socklen_t len);
int __wrap_connect(int fd, const struct sockaddr *addr, socklen_t len);

/* The host's connect(): every address answers. */
int __wrap_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (!fz.started)
		return __real_connect(fd, addr, len);
	return 0;
}

struct nvmf_qpair *__wrap_nvmf_qpair_create(const struct nvmf_qpair_params *params)
{
	static const int errors[] = {ETIMEDOUT, ECONNRESET, EPROTO, EOPNOTSUPP, ECONNREFUSED};
	const struct record *r;
	struct fz_qp *q;

	if (!fz.started || params->controller || params->trtype != NVMF_TRTYPE_TCP)
		return __real_nvmf_qpair_create(params);
	/* The socket is ours in every case; this transport has no use for it. */
	nvmf_transport_find(NVMF_TRTYPE_TCP)->params_release(params);
	if (params->admin)
		ctrl_register((struct nvmf_ctrl *)((char *)params->cb_arg -
						   offsetof(struct nvmf_ctrl, admin)));
	r = next_record(C_QPAIR);
	if (r != NULL && r->status != 0) {
		errno = errors[r->status % (sizeof(errors) / sizeof(errors[0]))];
		return NULL;
	}
	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	{
		pthread_mutexattr_t attr;

		/* Recursive: a callback may send on its own queue pair. */
		pthread_mutexattr_init(&attr);
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&q->rx_lock, &attr);
		pthread_mutexattr_destroy(&attr);
	}
	q->qp.ops = &fz_ops;
	q->qp.admin = params->admin;
	q->qp.sq_flow_control = params->sq_flow_control;
	q->qp.qsize = params->qsize;
	q->qp.error_cb = params->error_cb;
	q->qp.receive_cb = params->receive_cb;
	q->qp.cb_arg = params->cb_arg;
	q->max_io = params->tcp.max_io_size;
	q->max_icd = params->tcp.max_icd;
	atomic_init(&q->refs, 1);
	atomic_fetch_add(&fz.live_qps, 1);
	return &q->qp;
}

/* ------------------------------------------------------------------ */
/* The fake controller                                                 */
/* ------------------------------------------------------------------ */

static enum cls classify(const struct fz_qp *q, const struct nvme_sqe *sqe)
{
	if (sqe->opc == NVME_ADMIN_FABRICS) {
		switch (sqe->nsid & 0xff) {
		case NVMF_FCTYPE_CONNECT:
			return C_CONNECT;
		case NVMF_FCTYPE_PROPERTY_GET:
			return sqe->cdw11 == NVME_PROP_CSTS ? C_CSTS : C_PROP_GET;
		case NVMF_FCTYPE_PROPERTY_SET:
			return C_PROP_SET;
		case NVMF_FCTYPE_AUTH_SEND:
			return C_AUTH_SEND;
		case NVMF_FCTYPE_AUTH_RECV:
			return C_AUTH_RECV;
		default:
			return C_OTHER;
		}
	}
	if (!q->qp.admin)
		return C_IO;
	switch (sqe->opc) {
	case NVME_ADMIN_IDENTIFY:
		switch (sqe->cdw10 & 0xff) {
		case NVME_CNS_CONTROLLER:
			return C_ID_CTRL;
		case NVME_CNS_NAMESPACE:
			return C_ID_NS;
		case NVME_CNS_ACTIVE_NS_LIST:
			return C_ID_NSLIST;
		default:
			return C_ID_OTHER;
		}
	case NVME_ADMIN_GET_LOG_PAGE:
		return (sqe->cdw10 & 0xff) == NVME_LOG_DISCOVERY ? C_LOG_DISC : C_LOG_OTHER;
	case NVME_ADMIN_SET_FEATURES:
		return C_SET_FEAT;
	case NVME_ADMIN_GET_FEATURES:
		return C_GET_FEAT;
	case NVME_ADMIN_ASYNC_EVENT_REQUEST:
		return C_AER;
	default:
		return C_OTHER;
	}
}

/* Copy what the host sends (ASan checks what its iovecs point at). */
static size_t gather(const struct nvmf_iov *d, uint8_t *out, size_t max)
{
	size_t done = 0;

	for (int i = 0; i < d->iovcnt && done < d->len; i++) {
		size_t n = d->iov[i].iov_len < d->len - done ? d->iov[i].iov_len : d->len - done;

		if (done < max)
			memcpy(out + done, d->iov[i].iov_base, n < max - done ? n : max - done);
		done += n;
	}
	return done < max ? done : max;
}

/* Write len bytes of image (from offset; zeros past its end) into the host's buffer. */
static void scatter(const struct nvmf_iov *d, size_t len, const uint8_t *image, size_t image_len,
		    uint64_t offset)
{
	size_t done = 0;

	for (int i = 0; i < d->iovcnt && done < len; i++) {
		uint8_t *p = d->iov[i].iov_base;
		size_t n = d->iov[i].iov_len < len - done ? d->iov[i].iov_len : len - done;
		uint64_t at = offset + done;
		size_t have = at < image_len ? (size_t)(image_len - at) : 0;

		if (have > n)
			have = n;
		if (have > 0)
			memcpy(p, image + at, have);
		memset(p + have, 0, n - have);
		done += n;
	}
}

static void deliver(struct fz_qp *q, uint16_t cid, uint16_t status, bool dnr, uint32_t cdw0,
		    uint32_t cdw1)
{
	struct nvmf_capsule *rsp = fz_capsule_alloc(&q->qp);

	if (rsp == NULL)
		abort();
	rsp->is_response = true;
	rsp->sqhd_valid = true;
	rsp->cqe = (struct nvme_cqe){
		.cdw0 = cdw0,
		.cdw1 = cdw1,
		.sqhd = 0,
		.sqid = q->qid,
		.cid = cid,
		.status = NVME_CQE_STATUS(status, dnr),
	};
	if (fz.verbose)
		fprintf(stderr, "fake: queue %u: cid %#x status %#x dw0 %#x\n", q->qid, cid, status,
			cdw0);
	q->qp.receive_cb(q->qp.cb_arg, rsp);
}

static void auth_start(struct fz_qp *q)
{
	static const struct nvmf_dhchap_key *keyp;
	static struct nvmf_dhchap_key key;
	struct nvmf_dhchap_ctrl_params p = {
		.hostnqn = q->hostnqn,
		.subnqn = q->subnqn,
		.hash = (uint8_t)(1 + ((fz.flags1 >> 2) & 3) % 3),
		/* Three bits (not all ones), so that few inputs pay for DH. */
		.dhgroup = (fz.flags1 & 0xa2) == 0x22 ? NVMF_DHCHAP_DHGROUP_FFDHE2048
						       : NVMF_DHCHAP_DHGROUP_NULL,
		.seqnum = 1,
	};
	struct nvmf_error why;

	if (keyp == NULL) {
		if (nvmf_dhchap_key_parse(SECRET, &key, &why) != 0)
			abort();
		keyp = &key;
	}
	p.host_key = keyp;
	p.ctrl_key = keyp;
	nvmf_dhchap_free(q->auth);
	q->auth = nvmf_dhchap_ctrl_new(&p);
	if (q->auth_msg == NULL)
		q->auth_msg = malloc(NVMF_DHCHAP_MSG_MAX);
	q->auth_len = 0;
}

/* The default answer to a command: status, DW0/DW1, and the data image. */
struct answer {
	uint16_t status;
	uint32_t cdw0, cdw1;
	const uint8_t *image;
	size_t image_len;
	uint64_t offset;
};

static void default_answer(struct fz_qp *q, enum cls c, const struct nvme_sqe *sqe,
			   const struct nvmf_capsule *nc, struct answer *a)
{
	static const uint8_t nslist[8] = {1, 0, 0, 0, 2, 0, 0, 0};
	static const uint8_t changed[4] = {1, 0, 0, 0};
	uint32_t ofst = sqe->cdw11;

	switch (c) {
	case C_CONNECT: {
		const struct nvmf_connect_cmd *cmd = (const void *)sqe;
		uint8_t data[1024] = {0};

		if (nc->has_data)
			gather(&nc->data, data, sizeof(data));
		memcpy(q->subnqn, data + 256, sizeof(q->subnqn) - 1);
		memcpy(q->hostnqn, data + 512, sizeof(q->hostnqn) - 1);
		q->discovery = strcmp(q->subnqn, NVMF_DISCOVERY_NQN) == 0;
		q->qid = cmd->qid;
		a->cdw0 = cmd->qid == 0 ? 1 : 0;
		/* I/O queues too only with a flag: DH costs more than the rest. */
		if ((fz.flags0 & 0x08) && !q->discovery && (cmd->qid == 0 || (fz.flags1 & 0x40))) {
			a->cdw0 |= NVMF_CONNECT_RSP_ATR;
			auth_start(q);
		}
		break;
	}
	case C_PROP_GET:
		if (ofst == NVME_PROP_CAP) {
			uint64_t cap = 127 | NVME_CAP_CQR | (1ull << 24) | NVME_CAP_CSS_NVM;

			a->cdw0 = (uint32_t)cap;
			a->cdw1 = (uint32_t)(cap >> 32);
		} else if (ofst == NVME_PROP_VS) {
			a->cdw0 = 0x10400;
		}
		break;
	case C_CSTS:
		a->cdw0 = (q->cc & NVME_CC_EN) ? NVME_CSTS_RDY : 0;
		if (NVME_CC_SHN(q->cc) != 0)
			a->cdw0 |= NVME_CSTS_SHST_COMPLETE;
		break;
	case C_PROP_SET:
		if (ofst == NVME_PROP_CC)
			q->cc = (uint32_t)sqe->cdw12;
		break;
	case C_ID_CTRL:
		a->image = q->discovery ? tmpl_id_disc : tmpl_id_ctrl;
		a->image_len = 4096;
		break;
	case C_ID_NS:
		a->image = tmpl_id_ns;
		a->image_len = 4096;
		break;
	case C_ID_NSLIST:
		/* Namespaces 1 and 2; nothing after them. */
		a->image = nslist;
		a->image_len = sqe->nsid == 0 ? sizeof(nslist) : 0;
		break;
	case C_ID_OTHER:
		a->image = tmpl_id_desc;
		a->image_len = 4096;
		break;
	case C_LOG_DISC:
	case C_LOG_OTHER:
		if (c == C_LOG_DISC) {
			a->image = tmpl_disc_log;
			a->image_len = sizeof(tmpl_disc_log);
		} else if ((sqe->cdw10 & 0xff) == NVME_LOG_CHANGED_NS_LIST) {
			a->image = changed;
			a->image_len = sizeof(changed);
		}
		a->offset = (uint64_t)sqe->cdw12 | (uint64_t)sqe->cdw13 << 32;
		break;
	case C_SET_FEAT:
		if ((sqe->cdw10 & 0xff) == NVME_FEAT_NUMBER_OF_QUEUES)
			a->cdw0 = sqe->cdw11; /* all that was asked for */
		break;
	case C_AUTH_SEND:
		if (q->auth != NULL && nc->has_data) {
			static uint8_t msg[NVMF_DHCHAP_MSG_MAX];
			size_t n = gather(&nc->data, msg, sizeof(msg)), out = 0;
			int r = nvmf_dhchap_step(q->auth, msg, n, q->auth_msg, NVMF_DHCHAP_MSG_MAX,
						 &out);

			q->auth_len = r >= 0 ? out : 0;
		}
		break;
	case C_AUTH_RECV:
		a->image = q->auth_msg;
		a->image_len = q->auth_len;
		break;
	case C_IO:
		a->image = tmpl_read;
		a->image_len = sizeof(tmpl_read);
		break;
	default:
		break;
	}
}

static void answer(struct fz_cap *m);

static void process(struct fz_cap *m)
{
	struct fz_qp *q = (struct fz_qp *)m->nc.qp;

	if (classify(q, &m->nc.sqe) == C_AER && m->forced == NULL) {
		/* Held until settle() completes it, or the queue pair goes. */
		pthread_mutex_lock(&fz.lock);
		m->next = fz.held;
		fz.held = m;
		pthread_mutex_unlock(&fz.lock);
		return;
	}
	pthread_mutex_lock(&q->rx_lock);
	answer(m);
	pthread_mutex_unlock(&q->rx_lock);
}

static void answer(struct fz_cap *m)
{
	struct fz_qp *q = (struct fz_qp *)m->nc.qp;
	struct nvmf_capsule *nc = &m->nc;
	const struct nvme_sqe sqe = nc->sqe;
	enum cls c = classify(q, &sqe);
	const struct record *r = m->forced;
	const struct record *over;
	struct answer a = {0};
	unsigned mode;
	int data_error = 0;

	if (r == NULL)
		r = next_record(c);
	mode = r != NULL ? r->mode & 7 : M_NORMAL;
	if (fz.verbose)
		fprintf(stderr, "fake: queue %u: opc %#x class %d cid %u%s mode %u\n", q->qid,
			sqe.opc, c, sqe.cid, r != NULL ? " (record)" : "", mode);
	if (mode == M_KILL || mode == M_TERM) {
		pthread_mutex_lock(&fz.lock);
		if (m->forced != NULL) {
			fz.forced = FORCED_ANSWERED;
			fz.forced_event = false;
			m->forced = NULL;
		}
		q->dead = true;
		m->next = fz.stuck; /* its transfer fails when the queue pair is freed */
		fz.stuck = m;
		pthread_mutex_unlock(&fz.lock);
		q->qp.error_cb(q->qp.cb_arg, mode == M_KILL ? ECONNRESET : EPROTO);
		return;
	}
	default_answer(q, c, &sqe, nc, &a);
	if (r != NULL) {
		a.status = r->status;
		a.cdw0 = r->cdw0;
		a.cdw1 = r->cdw1;
		if (c == C_PROP_SET && sqe.cdw11 == NVME_PROP_CC && r->status != 0)
			q->cc = 0;
	}
	pthread_mutex_lock(&fz.lock);
	over = nc->has_data && !nc->data_send ? fz.overlay[c] : NULL;
	pthread_mutex_unlock(&fz.lock);
	if (over != NULL && c == C_ID_NSLIST) {
		/* The record is the page, whichever NSID it starts after. */
		a.image = over->data;
		a.image_len = over->len;
		a.offset = 0;
	} else if (over != NULL) {
		/* The record's data laid over the start of the default. */
		size_t n = a.image != NULL ? (a.image_len < IMG_MAX ? a.image_len : IMG_MAX) : 0;

		if (n > 0)
			memcpy(img, a.image, n);
		memset(img + n, 0, IMG_MAX - n);
		memcpy(img, over->data, over->len);
		a.image = img;
		a.image_len = over->len > n ? over->len : n;
	}
	if (nc->has_data && !m->data_done) {
		size_t len = nc->data.len;

		if (nc->data_send) {
			gather(&nc->data, sink, sizeof(sink));
		} else {
			if (mode == M_SHORT)
				len /= 2;
			scatter(&nc->data, len, a.image, a.image != NULL ? a.image_len : 0, a.offset);
			if (mode == M_DIGEST)
				data_error = EBADMSG;
			else if (len < nc->data.len && a.status == 0)
				data_error = ENODATA; /* what the TCP transport reports */
		}
		m->data_done = true;
		if (nc->data_cb != NULL)
			nc->data_cb(nc->data_cb_arg, len, data_error);
	}
	if (mode == M_STRAY)
		deliver(q, (uint16_t)(sqe.cid | STRAY_CID), a.status, false, a.cdw0, a.cdw1);
	if (m->forced != NULL) {
		/* Before the host can handle the event: settle() waits for it. */
		pthread_mutex_lock(&fz.lock);
		fz.forced = FORCED_ANSWERED;
		fz.forced_event = a.status == 0;
		pthread_mutex_unlock(&fz.lock);
	}
	deliver(q, sqe.cid, a.status, r != NULL && (r->mode & MODE_DNR), a.cdw0, a.cdw1);
	if (mode == M_DUP)
		deliver(q, sqe.cid, a.status, false, a.cdw0, a.cdw1);
	if (mode == M_DUP_LATE) {
		pthread_mutex_lock(&fz.lock);
		q->stale = (struct nvme_cqe){.cid = sqe.cid, .status = NVME_CQE_STATUS(a.status, 0),
					     .cdw0 = a.cdw0, .cdw1 = a.cdw1};
		q->stale_set = true;
		pthread_mutex_unlock(&fz.lock);
	}
	cap_put(m);
}

static void *fake_thread(void *arg)
{
	pthread_mutex_lock(&fz.lock);
	for (;;) {
		struct fz_cap *m;
		struct fz_qp *q;

		while (fz.fifo == NULL)
			pthread_cond_wait(&fz.cond, &fz.lock);
		m = fz.fifo;
		fz.fifo = m->next;
		if (fz.fifo == NULL)
			fz.fifo_tail = &fz.fifo;
		q = (struct fz_qp *)m->nc.qp;
		if (q->dead) {
			m->next = fz.stuck;
			fz.stuck = m;
			continue;
		}
		q->busy++;
		fz.busy++;
		pthread_mutex_unlock(&fz.lock);
		process(m);
		pthread_mutex_lock(&fz.lock);
		q->busy--;
		fz.busy--;
		if (q->freed)
			pthread_cond_broadcast(&fz.done);
	}
	return arg;
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

static void put_str(uint8_t *field, size_t len, const char *s, char pad)
{
	size_t n = strlen(s);

	memset(field, pad, len);
	memcpy(field, s, n < len ? n : len);
}

static void templates(void)
{
	struct nvme_id_ctrl *id = (struct nvme_id_ctrl *)tmpl_id_ctrl;
	struct nvme_id_ns *ns = (struct nvme_id_ns *)tmpl_id_ns;
	struct nvmf_discovery_log *log = (struct nvmf_discovery_log *)tmpl_disc_log;

	id->vid = 0x1b36;
	put_str((uint8_t *)id->sn, sizeof(id->sn), "fuzz0001", ' ');
	put_str((uint8_t *)id->mn, sizeof(id->mn), "fuzz controller", ' ');
	put_str((uint8_t *)id->fr, sizeof(id->fr), "1.0", ' ');
	id->mdts = 5;
	id->cntlid = 1;
	id->ver = 0x10400;
	id->rtd3e = 1000;
	id->oaes = NVME_CTRL_OAES_NS_ATTR;
	id->cntrltype = NVME_CTRL_TYPE_IO;
	id->aerl = 3;
	id->elpe = 3;
	id->lpa = NVME_CTRL_LPA_EXTENDED;
	id->sqes = 0x66;
	id->cqes = 0x44;
	id->maxcmd = 128;
	id->nn = 4;
	id->oncs = NVME_CTRL_ONCS_COMPARE | NVME_CTRL_ONCS_DSM | NVME_CTRL_ONCS_WRITE_ZEROES;
	id->vwc = NVME_CTRL_VWC_PRESENT;
	id->sgls = NVME_CTRL_SGLS_SUPPORTED | NVME_CTRL_SGLS_OFFSET;
	snprintf(id->subnqn, sizeof(id->subnqn), "%s", NQN);
	id->ioccsz = 4 + 8192 / 16;
	id->iorcsz = 1;
	id->msdbd = 1;
	memcpy(tmpl_id_disc, tmpl_id_ctrl, sizeof(tmpl_id_disc));
	id = (struct nvme_id_ctrl *)tmpl_id_disc;
	id->cntrltype = NVME_CTRL_TYPE_DISCOVERY;
	id->oaes = NVME_CTRL_OAES_DISCOVERY_CHANGE;
	id->nn = 0;
	id->oncs = 0;
	id->vwc = 0;
	snprintf(id->subnqn, sizeof(id->subnqn), "%s", NVMF_DISCOVERY_NQN);

	ns->nsze = ns->ncap = ns->nuse = 2048;
	ns->nlbaf = 1;
	ns->lbaf[0].lbads = 9;
	ns->lbaf[1].lbads = 12;
	memset(ns->nguid, 0x42, sizeof(ns->nguid));

	/* CNS 03h: an NGUID and a CSI descriptor. */
	tmpl_id_desc[0] = NVME_NIDT_NGUID;
	tmpl_id_desc[1] = 16;
	memset(tmpl_id_desc + 4, 0x42, 16);
	tmpl_id_desc[20] = NVME_NIDT_CSI;
	tmpl_id_desc[21] = 1;

	log->genctr = 1;
	log->numrec = 2;
	for (int i = 0; i < 2; i++) {
		struct nvmf_discovery_log_entry *e = &log->entries[i];

		e->trtype = NVMF_TRTYPE_TCP;
		e->adrfam = NVMF_ADRFAM_IPV4;
		e->subtype = i == 0 ? NVMF_SUBTYPE_NVME : NVMF_SUBTYPE_CURRENT_DISCOVERY;
		e->treq = NVMF_TREQ_SECURE_NOT_REQUIRED | NVMF_TREQ_DISABLE_SQFLOW;
		e->portid = 1;
		e->cntlid = 0xffff;
		e->asqsz = 32;
		put_str((uint8_t *)e->trsvcid, sizeof(e->trsvcid), i == 0 ? "4420" : "8009", ' ');
		put_str((uint8_t *)e->subnqn, sizeof(e->subnqn), i == 0 ? NQN : NVMF_DISCOVERY_NQN,
			'\0');
		put_str((uint8_t *)e->traddr, sizeof(e->traddr), "127.0.0.1", ' ');
	}
	for (size_t i = 0; i < sizeof(tmpl_read); i++)
		tmpl_read[i] = (uint8_t)(i * 7 + 3);
}

static void quiet(enum nvmf_log_level level, const char *msg)
{
}

static void setup(void)
{
	fz.verbose = getenv("FUZZ_VERBOSE") != NULL;
	if (fz.verbose)
		nvmf_log_set_level(NVMF_LOG_DEBUG);
	else
		nvmf_log_set_sink(quiet);
	templates();
	fz.fifo_tail = &fz.fifo;
	if (pthread_create(&fz.thread, NULL, fake_thread, NULL) != 0)
		abort();
	fz.started = true;
}

/* ------------------------------------------------------------------ */
/* The harness                                                         */
/* ------------------------------------------------------------------ */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void hang(const char *what)
{
	fprintf(stderr, "fuzz_host_ctrl: %s for %d ms\n", what, WAIT_MS);
	abort();
}

static void aen_cb(void *arg, uint32_t cdw0, const void *log, size_t len)
{
	const uint8_t *p = log;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum ^= p[i];
	sink_sum ^= sum;
	atomic_fetch_add(&fz.aens, 1);
}

static bool fake_idle(void)
{
	bool idle;

	pthread_mutex_lock(&fz.lock);
	idle = fz.fifo == NULL && fz.busy == 0;
	pthread_mutex_unlock(&fz.lock);
	return idle;
}

static unsigned held_aers(struct nvmf_ctrl *c)
{
	unsigned n = 0;

	for (struct fz_cap *m = fz.held; m != NULL; m = m->next)
		if (m->nc.qp->cb_arg == &c->admin)
			n++;
	return n;
}

static bool recovering(struct nvmf_ctrl *c)
{
	bool lost;

	pthread_mutex_lock(&c->lock);
	lost = c->lost;
	pthread_mutex_unlock(&c->lock);
	return lost || atomic_load(&c->state) == NVMF_CTRL_RECONNECTING;
}

/*
 * Let the controller's worker finish what it has (a recovery), then
 * complete held AERs with the AER records one at a time, each time
 * waiting until the host has handled the event and armed the AER again
 * (or given up on the controller).
 */
static void settle(struct nvmf_ctrl *c)
{
	uint64_t deadline = now_ms() + WAIT_MS;

	while (recovering(c) || !fake_idle()) {
		if (now_ms() > deadline)
			hang("controller never settled");
		usleep(50);
	}
	for (;;) {
		struct fz_cap *m = NULL, **pp;
		unsigned before, base = 0;

		pthread_mutex_lock(&fz.lock);
		for (pp = &fz.held; *pp != NULL; pp = &(*pp)->next)
			if ((*pp)->nc.qp->cb_arg == &c->admin)
				break;
		if (*pp != NULL && fz.head[C_AER] >= 0 && atomic_load(&c->state) == NVMF_CTRL_LIVE) {
			m = *pp;
			*pp = m->next;
			m->forced = &fz.recs[fz.head[C_AER]];
			fz.head[C_AER] = m->forced->next;
			fz.forced = FORCED_PENDING;
			base = atomic_load(&fz.aens); /* before the fake thread can answer it */
			m->next = NULL;
			*fz.fifo_tail = m;
			fz.fifo_tail = &m->next;
			pthread_cond_broadcast(&fz.cond);
		}
		before = held_aers(c);
		pthread_mutex_unlock(&fz.lock);
		if (m == NULL)
			return;
		/*
		 * Until it is answered (or dropped with a lost connection) and,
		 * when the answer is an event, the host has handled it and
		 * armed the AER again, unless it gave the controller up.
		 */
		for (;;) {
			bool rearmed, answered, event;

			pthread_mutex_lock(&fz.lock);
			rearmed = held_aers(c) > before;
			answered = fz.forced != FORCED_PENDING;
			event = fz.forced == FORCED_ANSWERED && fz.forced_event;
			pthread_mutex_unlock(&fz.lock);
			if (answered && fake_idle() && !recovering(c) &&
			    (!event || (atomic_load(&fz.aens) > base &&
					(rearmed || atomic_load(&c->state) != NVMF_CTRL_LIVE))))
				break;
			if (now_ms() > deadline)
				hang("asynchronous event not handled");
			usleep(50);
		}
	}
}

static void host_opts(struct nvmf_host_opts *o, bool discovery)
{
	nvmf_host_opts_init(o);
	o->traddr = "127.0.0.1";
	o->trsvcid = discovery ? "8009" : "4420";
	o->subnqn = discovery ? NVMF_DISCOVERY_NQN : NQN;
	o->hostnqn = HOSTNQN;
	o->hostid = HOSTID;
	o->nr_io_queues = 1u + ((fz.flags0 >> 5) & 3);
	o->queue_size = (fz.flags0 & 0x80) ? 4 : 32;
	o->kato_s = (fz.flags0 & 0x02) ? 1 : 0;
	o->reconnect_delay_s = 1;
	/* The reconnect delay is skipped (time_warp()), the loss timeout is not. */
	o->ctrl_loss_tmo_s = (fz.flags2 & FLAG2_RECONNECT) ? 3 : 0;
	o->disable_sqflow = (fz.flags0 & 0x04) != 0;
	o->connect_timeout_ms = WAIT_MS / 2;
	o->io_timeout_ms = WAIT_MS / 2;
	o->aen_cb = aen_cb;
	if (fz.flags0 & 0x08) {
		o->dhchap_secret = SECRET;
		if (fz.flags1 & 0x01)
			o->dhchap_ctrl_secret = SECRET;
	}
}

static void exercise_ns(struct nvmf_ctrl *c)
{
	uint32_t nsids[8];
	size_t n = nvmf_ctrl_ns_list(c, nsids, 8);
	struct nvmf_ns *ns = NULL;
	struct nvmf_event ev;
	struct iovec iov;
	uint8_t *buf;
	uint32_t lba;

	for (size_t i = 0; i < n && i < 8; i++) {
		struct nvmf_ns *x = nvmf_ctrl_ns(c, nsids[i]);
		struct nvmf_ns_info info;

		if (x == NULL)
			abort(); /* listed as active, yet no handle */
		nvmf_ns_get_info(x, &info);
		if (ns == NULL)
			ns = x;
	}
	if (ns == NULL || nvmf_ctrl_nr_io_queues(c) == 0)
		return;
	lba = nvmf_ns_lba_size(ns);
	if (lba > nvmf_ctrl_max_io_size(c) || lba > 65536 || nvmf_ns_size_bytes(ns) < lba)
		return;
	buf = malloc(lba);
	if (buf == NULL)
		return;
	nvmf_ns_read_sync(ns, 0, buf, lba);
	nvmf_ns_write_sync(ns, 0, buf, lba, NVMF_IO_FUA);
	nvmf_ns_compare_sync(ns, 0, buf, lba);
	nvmf_ns_flush_sync(ns);
	nvmf_ns_write_zeroes_sync(ns, 0, lba, NVMF_IO_DEALLOCATE);
	nvmf_ns_trim_sync(ns, 0, lba);
	/*
	 * A completion reaped by polling.  With an iovec, so the library checks
	 * the buffer against the block size it uses: an event from the fuzzed
	 * controller may have had the namespace rescanned to larger blocks
	 * since lba was read (nvmf_ns_read would trust buf to hold one).
	 */
	iov = (struct iovec){.iov_base = buf, .iov_len = lba};
	if (nvmf_ns_readv(ns, 1, 0, 1, &iov, 1, NULL, buf) == 0 &&
	    nvmf_ioq_poll(c, 1, &ev, 1, WAIT_MS) != 1)
		hang("read completion never reaped");
	free(buf);
}

static void exercise_admin(struct nvmf_ctrl *c)
{
	uint8_t *buf = malloc(4096);
	struct nvmf_qpair_info info;
	uint32_t result, nsids[1];

	if (buf == NULL)
		return;
	if (nvmf_ctrl_ns_list(c, nsids, 1) > 0)
		nvmf_identify(c, NVME_CNS_NS_ID_DESCRIPTORS, nsids[0], buf);
	nvmf_get_log_page(c, NVME_LOG_SMART, HOST_NSID_ALL, 0, buf, 512, false);
	nvmf_get_features(c, NVME_FEAT_VOLATILE_WRITE_CACHE, 0, NVME_FEAT_SEL_CURRENT, 0, NULL, 0,
			  &result);
	nvmf_ctrl_queue_info(c, 0, &info);
	nvmf_ctrl_rescan(c);
	free(buf);
}

static void exercise_discovery(struct nvmf_ctrl *c)
{
	struct nvmf_discovery_log *log = NULL;
	struct nvmf_connect_all_result *res = NULL;
	struct nvmf_host_opts base;
	size_t nrec = 0;
	int n;

	if (nvmf_get_discovery_log(c, &log, &nrec) != 0)
		return;
	for (size_t i = 0; i < nrec; i++) {
		char traddr[256], trsvcid[33], subnqn[NVMF_HOST_NQN_SIZE], tiny[4];

		nvmf_discovery_entry_str(&log->entries[i], traddr, sizeof(traddr), trsvcid,
					 sizeof(trsvcid), subnqn, sizeof(subnqn));
		nvmf_discovery_entry_str(&log->entries[i], tiny, sizeof(tiny), tiny, 1, tiny, 0);
	}
	if ((fz.flags0 & 0x10) && nrec > 0) {
		host_opts(&base, false);
		base.nr_io_queues = 1;
		n = nvmf_connect_all(&base, log, nrec < CONNECT_ALL_MAX ? nrec : CONNECT_ALL_MAX, NULL,
				     &res);
		if (n >= 0) {
			struct nvmf_ctrl *live[1 + CONNECT_ALL_MAX] = {c};
			unsigned nlive = 1;

			for (size_t i = 0; i < nrec && i < CONNECT_ALL_MAX; i++)
				if (res[i].ctrl != NULL)
					live[nlive++] = res[i].ctrl;
			ctrl_registry_keep(live, nlive);
		}
		for (int i = 0; n > 0 && i < (int)(nrec < CONNECT_ALL_MAX ? nrec : CONNECT_ALL_MAX); i++) {
			if (res[i].ctrl == NULL)
				continue;
			settle(res[i].ctrl);
			ctrl_unregister(res[i].ctrl);
			nvmf_disconnect(res[i].ctrl);
		}
		free(res);
	}
	free(log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nvmf_host_opts opts;
	struct nvmf_error err;
	struct nvmf_ctrl *c;
	uint64_t deadline;

	if (!fz.started)
		setup();
	if (size < HEADER)
		return 0;
	fz.flags0 = data[0];
	fz.flags1 = data[1];
	fz.flags2 = data[2];
	parse_records(data, size);
	atomic_store(&fz.aens, 0);

	host_opts(&opts, fz.flags0 & 0x01);
	c = nvmf_connect(&opts, &err);
	ctrl_registry_keep(&c, c != NULL);
	if (c != NULL) {
		settle(c);
		if (nvmf_ctrl_is_discovery(c)) {
			exercise_discovery(c);
		} else {
			exercise_ns(c);
			exercise_admin(c);
		}
		settle(c);
		ctrl_unregister(c);
		nvmf_disconnect(c);
	}

	/* Everything the host had must be gone, without waiting. */
	deadline = now_ms() + WAIT_MS;
	while (!fake_idle())
		if (now_ms() > deadline)
			hang("fake controller still busy after disconnect");
	if (atomic_load(&fz.live_qps) != 0 || atomic_load(&fz.live_caps) != 0) {
		fprintf(stderr, "fuzz_host_ctrl: %u queue pairs and %u capsules left after "
			"disconnect\n", atomic_load(&fz.live_qps), atomic_load(&fz.live_caps));
		abort();
	}
	pthread_mutex_lock(&fz.lock);
	fz.recs = NULL;
	pthread_mutex_unlock(&fz.lock);
	return 0;
}
