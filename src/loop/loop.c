/* SPDX-License-Identifier: MIT */
/*
 * The loop transport: queue pairs between a host and a controller in the
 * same process, no wire at all (trtype NVMF_TRTYPE_LOOP).  It exists to
 * prove that the host and controller layers need nothing of TCP, and to
 * test them without sockets.
 *
 * A listener registers a name (traddr; trsvcid is not part of the key).
 * nvmf_qpair_connect finds it, asks its owner for the controller end's
 * parameters (accept), makes a linked pair of ends, hands the controller
 * end over (attach) and returns the host end.
 *
 * Both ends share one lock.  Capsules are copied into the receiving end's
 * own capsules; data is copied between the caller buffers of both sides
 * under the lock, so once a transfer has been completed (or its end freed)
 * no copy can reach its buffer.  A host transfer is found by CID while its
 * command is outstanding and completes when the response is sent (or, for
 * in-capsule data, when the command is).  Every callback runs on the
 * delivery thread of the end it belongs to, never in the caller of the
 * call that caused it, so no callback runs under a lock of the other side.
 *
 * The queue's limits (in-capsule data accepted or used, the largest
 * transfer) come from the tcp member of the parameters, which the host and
 * controller layers fill in as the queue's limits whatever the transport.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/transport.h"
#include "util/clock.h"
#include "util/lock.h"
#include "util/thread.h"

#define LOOP_MAX_IOVCNT 64          /* iovecs in one caller buffer, as TCP */
#define LOOP_ADMIN_MAX_ICD 8192     /* admin and Fabrics commands, as TCP */
#define LOOP_POOL_SLACK 64          /* capsules beyond twice the queue size */

extern const struct nvmf_transport_ops nvmf_loop_transport;

struct loop_capsule;

enum loop_event_kind {
	EV_CAPSULE,   /* deliver a received capsule */
	EV_IO,        /* a data transfer completed */
	EV_ERROR,     /* the peer went away */
};

struct loop_event {
	struct loop_event *next;
	enum loop_event_kind kind;
	struct loop_capsule *cap;    /* EV_CAPSULE; EV_IO: a host transfer's capsule */
	nvmf_io_complete_cb *cb;
	void *cb_arg;
	size_t xfered;
	int error;
};

struct loop_capsule {
	struct nvmf_capsule nc;
	struct loop_end *end;
	struct loop_capsule *next_free;
	struct loop_capsule *all_next;   /* every capsule of the end */
	struct loop_capsule *hash_next;  /* host: outstanding transfers by CID */
	int refs;                        /* upper layer + transfer under way */
	struct loop_event ev;            /* its delivery, or its transfer's end */
	bool xfer_busy;                  /* host: a transfer is registered or ending */
	bool xfer_registered;
	size_t xfered;
	uint8_t *icd;                    /* controller: in-capsule data received */
	uint32_t icd_len;
};

struct loop_pair {
	pthread_mutex_t lock;            /* everything in both ends */
	int ends;                        /* not yet released */
};

struct loop_end {
	struct nvmf_qpair qp;
	struct loop_pair *pair;
	struct loop_end *peer;           /* NULL once either end is freed */
	pthread_t thread;
	pthread_cond_t cond;             /* an event is queued, or stop */
	struct loop_event *head, **tail;
	bool stop;
	bool freeing;
	bool reported;                   /* the error event is queued */
	struct loop_event error_ev;
	int refs;                        /* 1 + capsules handed out */
	unsigned pool_size, pool_max;
	struct loop_capsule *free_caps, *all_caps;
	struct loop_capsule **cid_hash;  /* host */
	uint32_t cid_hash_mask;
	uint32_t max_icd;
	uint32_t max_io_size;
};

#define LEND(q) ((struct loop_end *)(q))
#define LCAP(c) ((struct loop_capsule *)(c))

/* ------------------------------------------------------------------ */
/* Caller buffers                                                      */
/* ------------------------------------------------------------------ */

/* A buffer the transport may use: few enough iovecs that cover len. */
static bool iov_ok(const struct nvmf_iov *data)
{
	size_t total = 0;

	if (data->iovcnt < 0 || data->iovcnt > LOOP_MAX_IOVCNT || data->len > UINT32_MAX ||
	    (data->iovcnt > 0 && data->iov == NULL))
		return false;
	for (int i = 0; i < data->iovcnt && total < data->len; i++)
		total += data->iov[i].iov_len;
	return total >= data->len;
}

struct iov_cursor {
	const struct iovec *iov;
	int left;
	size_t off;                      /* into iov[0] */
};

static struct iov_cursor cursor_at(const struct nvmf_iov *data, size_t offset)
{
	struct iov_cursor c = {.iov = data->iov, .left = data->iovcnt, .off = offset};

	while (c.left > 0 && c.off >= c.iov->iov_len) {
		c.off -= c.iov->iov_len;
		c.iov++;
		c.left--;
	}
	return c;
}

/* Copy len bytes; the caller checked both ranges against their buffers. */
static void iov_copy(const struct nvmf_iov *dst, size_t dst_off, const struct nvmf_iov *src,
		     size_t src_off, size_t len)
{
	struct iov_cursor d = cursor_at(dst, dst_off), s = cursor_at(src, src_off);

	while (len > 0 && d.left > 0 && s.left > 0) {
		size_t n = len;

		if (n > d.iov->iov_len - d.off)
			n = d.iov->iov_len - d.off;
		if (n > s.iov->iov_len - s.off)
			n = s.iov->iov_len - s.off;
		memcpy((uint8_t *)d.iov->iov_base + d.off, (const uint8_t *)s.iov->iov_base + s.off,
		       n);
		len -= n;
		d.off += n;
		s.off += n;
		for (; d.left > 0 && d.off == d.iov->iov_len; d.left--, d.iov++)
			d.off = 0;
		for (; s.left > 0 && s.off == s.iov->iov_len; s.left--, s.iov++)
			s.off = 0;
	}
}

/* ------------------------------------------------------------------ */
/* Capsules                                                            */
/* ------------------------------------------------------------------ */

static void end_release(struct loop_end *end);

static struct loop_capsule *capsule_get_locked(struct loop_end *end)
{
	struct loop_capsule *lc = end->free_caps;

	NVMF_ASSERT_LOCKED(&end->pair->lock);
	if (lc == NULL) {
		if (end->pool_size >= end->pool_max || (lc = calloc(1, sizeof(*lc))) == NULL)
			return NULL;
		lc->end = end;
		lc->all_next = end->all_caps;
		end->all_caps = lc;
		end->pool_size++;
	} else {
		end->free_caps = lc->next_free;
	}
	memset(&lc->nc, 0, sizeof(lc->nc));
	lc->nc.qp = &end->qp;
	lc->refs = 1;
	lc->xfer_busy = false;
	lc->xfer_registered = false;
	lc->xfered = 0;
	lc->icd_len = 0;
	end->refs++;
	return lc;
}

/* Drops a reference; true when the end lost its last one. */
static bool capsule_put_locked(struct loop_capsule *lc)
{
	struct loop_end *end = lc->end;

	NVMF_ASSERT_LOCKED(&end->pair->lock);
	if (--lc->refs > 0)
		return false;
	lc->next_free = end->free_caps;
	end->free_caps = lc;
	return --end->refs == 0;
}

static void capsule_put(struct loop_capsule *lc)
{
	struct loop_end *end = lc->end;
	bool last;

	nvmf_mutex_lock(&end->pair->lock);
	last = capsule_put_locked(lc);
	nvmf_mutex_unlock(&end->pair->lock);
	if (last)
		end_release(end);
}

static struct nvmf_capsule *loop_capsule_alloc(struct nvmf_qpair *qp)
{
	struct loop_end *end = LEND(qp);
	struct loop_capsule *lc;

	nvmf_mutex_lock(&end->pair->lock);
	lc = capsule_get_locked(end);
	nvmf_mutex_unlock(&end->pair->lock);
	if (lc == NULL) {
		errno = ENOBUFS;
		return NULL;
	}
	return &lc->nc;
}

static void loop_capsule_free(struct nvmf_capsule *nc)
{
	capsule_put(LCAP(nc));
}

/* ------------------------------------------------------------------ */
/* Host transfers by CID                                               */
/* ------------------------------------------------------------------ */

static struct loop_capsule **cid_slot(struct loop_end *host, uint16_t cid)
{
	return &host->cid_hash[(uint32_t)(cid * 0x9e37u) & host->cid_hash_mask];
}

static struct loop_capsule *xfer_lookup_locked(struct loop_end *host, uint16_t cid)
{
	for (struct loop_capsule *lc = *cid_slot(host, cid); lc != NULL; lc = lc->hash_next)
		if (lc->nc.sqe.cid == cid)
			return lc;
	return NULL;
}

static void xfer_unregister_locked(struct loop_end *host, struct loop_capsule *lc)
{
	struct loop_capsule **pp = cid_slot(host, lc->nc.sqe.cid);

	while (*pp != lc)
		pp = &(*pp)->hash_next;
	*pp = lc->hash_next;
	lc->xfer_registered = false;
}

/* ------------------------------------------------------------------ */
/* Delivery                                                            */
/* ------------------------------------------------------------------ */

static void queue_event_locked(struct loop_end *end, struct loop_event *ev)
{
	NVMF_ASSERT_LOCKED(&end->pair->lock);
	ev->next = NULL;
	*end->tail = ev;
	end->tail = &ev->next;
	pthread_cond_signal(&end->cond);
}

static struct loop_event *pop_event_locked(struct loop_end *end)
{
	struct loop_event *ev = end->head;

	if (ev != NULL) {
		end->head = ev->next;
		if (end->head == NULL)
			end->tail = &end->head;
	}
	return ev;
}

/* A host transfer is over: its data is no longer ours to touch. */
static struct loop_event *xfer_done_event(struct loop_capsule *lc)
{
	lc->ev = (struct loop_event){.kind = EV_IO, .cap = lc, .cb = lc->nc.data_cb,
				     .cb_arg = lc->nc.data_cb_arg, .xfered = lc->xfered};
	return &lc->ev;
}

static void queue_xfer_done_locked(struct loop_end *host, struct loop_capsule *lc)
{
	queue_event_locked(host, xfer_done_event(lc));
}

/* Run one event; aborted: the end is being freed, so transfers fail and
 * received capsules are dropped. */
static void run_event(struct loop_end *end, struct loop_event *ev, bool aborted)
{
	switch (ev->kind) {
	case EV_CAPSULE:
		if (aborted)
			capsule_put(ev->cap);
		else
			nvmf_qpair_deliver(&end->qp, &ev->cap->nc);
		break;
	case EV_IO:
		if (ev->cb != NULL)
			ev->cb(ev->cb_arg, ev->xfered, aborted ? ECONNABORTED : ev->error);
		if (ev->cap != NULL) {
			nvmf_mutex_lock(&end->pair->lock);
			ev->cap->xfer_busy = false;
			nvmf_mutex_unlock(&end->pair->lock);
			capsule_put(ev->cap);
		} else {
			free(ev);
		}
		break;
	case EV_ERROR:
		if (!aborted)
			end->qp.error_cb(end->qp.cb_arg, ev->error);
		break;
	}
}

static void *delivery_main(void *arg)
{
	struct loop_end *end = arg;
	struct loop_event *ev;

	nvmf_thread_name(pthread_self(), "nvmf-deliver");
	nvmf_mutex_lock(&end->pair->lock);
	while (!end->stop) {
		ev = pop_event_locked(end);
		if (ev == NULL) {
			pthread_cond_wait(&end->cond, &end->pair->lock);
			continue;
		}
		nvmf_mutex_unlock(&end->pair->lock);
		run_event(end, ev, false);
		nvmf_mutex_lock(&end->pair->lock);
	}
	nvmf_mutex_unlock(&end->pair->lock);
	return NULL;
}

/* A completion of the controller's, run on its delivery thread. */
static int queue_io_done_locked(struct loop_end *end, nvmf_io_complete_cb *cb, void *cb_arg,
				size_t xfered)
{
	struct loop_event *ev;

	if (cb == NULL)
		return 0;
	ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return ENOMEM;
	*ev = (struct loop_event){.kind = EV_IO, .cb = cb, .cb_arg = cb_arg, .xfered = xfered};
	queue_event_locked(end, ev);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Ends                                                                */
/* ------------------------------------------------------------------ */

static uint32_t round_pow2(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static bool params_ok(const struct nvmf_qpair_params *params)
{
	return params->qsize >= 2 && params->error_cb != NULL && params->receive_cb != NULL &&
	       params->tcp.max_io_size != 0;
}

/* The generic part as nvmf_qpair_init fills it, without an engine: each
 * end has its own delivery thread. */
static int end_init(struct loop_end *end, struct loop_pair *pair,
		    const struct nvmf_qpair_params *params, bool controller)
{
	end->qp.ops = &nvmf_loop_transport;
	end->qp.engine = params->engine;
	end->qp.controller = controller;
	end->qp.admin = params->admin;
	end->qp.sq_flow_control = params->sq_flow_control;
	end->qp.qsize = params->qsize;
	atomic_init(&end->qp.sqhd, 0);
	end->qp.error_cb = params->error_cb;
	end->qp.receive_cb = params->receive_cb;
	end->qp.cb_arg = params->cb_arg;
	end->pair = pair;
	end->tail = &end->head;
	end->refs = 1;
	end->pool_max = 2u * params->qsize + LOOP_POOL_SLACK;
	end->max_icd = params->tcp.max_icd;
	end->max_io_size = params->tcp.max_io_size;
	nvmf_cond_init_monotonic(&end->cond);
	if (!controller) {
		end->cid_hash_mask = round_pow2(2u * params->qsize) - 1;
		end->cid_hash = calloc(end->cid_hash_mask + 1, sizeof(*end->cid_hash));
		if (end->cid_hash == NULL)
			return ENOMEM;
	}
	return 0;
}

/* The last reference is gone: free the end, and the pair after its second. */
static void end_release(struct loop_end *end)
{
	struct loop_pair *pair = end->pair;
	bool last;

	while (end->all_caps != NULL) {
		struct loop_capsule *lc = end->all_caps;

		end->all_caps = lc->all_next;
		free(lc->icd);
		free(lc);
	}
	free(end->cid_hash);
	pthread_cond_destroy(&end->cond);
	free(end);
	nvmf_mutex_lock(&pair->lock);
	last = --pair->ends == 0;
	nvmf_mutex_unlock(&pair->lock);
	if (last) {
		pthread_mutex_destroy(&pair->lock);
		free(pair);
	}
}

static int start_delivery(struct loop_end *end)
{
	sigset_t all, old;
	int rc;

	/* Delivery threads leave signals to the application's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&end->thread, NULL, delivery_main, end);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void stop_delivery(struct loop_end *end)
{
	nvmf_mutex_lock(&end->pair->lock);
	end->stop = true;
	pthread_cond_signal(&end->cond);
	nvmf_mutex_unlock(&end->pair->lock);
	pthread_join(end->thread, NULL);
}

/* A linked host end and controller end, both delivering; 0 or an errno. */
static int pair_create(const struct nvmf_qpair_params *hp, const struct nvmf_qpair_params *cp,
		       struct loop_end **host_out, struct loop_end **ctrl_out)
{
	struct loop_pair *pair = calloc(1, sizeof(*pair));
	struct loop_end *host = calloc(1, sizeof(*host)), *ctrl = calloc(1, sizeof(*ctrl));
	int rc = ENOMEM;

	if (pair == NULL || host == NULL || ctrl == NULL) {
		free(pair);
		free(host);
		free(ctrl);
		return ENOMEM;
	}
	nvmf_mutex_init(&pair->lock);
	pair->ends = 2;
	if (end_init(host, pair, hp, false) != 0 || end_init(ctrl, pair, cp, true) != 0)
		goto fail;
	host->peer = ctrl;
	ctrl->peer = host;
	rc = start_delivery(host);
	if (rc != 0)
		goto fail;
	rc = start_delivery(ctrl);
	if (rc != 0) {
		stop_delivery(host);
		goto fail;
	}
	*host_out = host;
	*ctrl_out = ctrl;
	return 0;
fail:
	end_release(host);
	end_release(ctrl);
	return rc;
}

static struct nvmf_qpair *loop_qpair_create(const struct nvmf_qpair_params *params)
{
	/* A loop queue pair is made by connecting to a listener, never from
	 * parameters alone: there is no socket to hand over. */
	(void)params;
	errno = EOPNOTSUPP;
	return NULL;
}

static void loop_params_release(const struct nvmf_qpair_params *params)
{
	(void)params; /* a loop queue pair's parameters own nothing */
}

/* Fail what the end still holds: transfers end with ECONNABORTED. */
static void end_abort_all(struct loop_end *end)
{
	struct loop_event *ev;

	for (;;) {
		nvmf_mutex_lock(&end->pair->lock);
		ev = pop_event_locked(end);
		nvmf_mutex_unlock(&end->pair->lock);
		if (ev == NULL)
			break;
		run_event(end, ev, true);
	}
	if (end->qp.controller)
		return;
	for (uint32_t b = 0; b <= end->cid_hash_mask; b++) {
		for (;;) {
			struct loop_capsule *lc;

			nvmf_mutex_lock(&end->pair->lock);
			lc = end->cid_hash[b];
			if (lc != NULL) {
				xfer_unregister_locked(end, lc);
				ev = xfer_done_event(lc);
			}
			nvmf_mutex_unlock(&end->pair->lock);
			if (lc == NULL)
				break;
			run_event(end, ev, true);
		}
	}
}

static void loop_qpair_free(struct nvmf_qpair *qp)
{
	struct loop_end *end = LEND(qp), *peer;
	bool last;

	nvmf_mutex_lock(&end->pair->lock);
	end->freeing = true;
	peer = end->peer;
	if (peer != NULL) {
		/* Unlinked: neither side can reach the other's buffers now. */
		peer->peer = NULL;
		end->peer = NULL;
		if (!peer->reported && !peer->freeing) {
			peer->reported = true;
			peer->error_ev = (struct loop_event){.kind = EV_ERROR, .error = ECONNRESET};
			queue_event_locked(peer, &peer->error_ev);
		}
	}
	nvmf_mutex_unlock(&end->pair->lock);
	stop_delivery(end);
	end_abort_all(end);
	nvmf_mutex_lock(&end->pair->lock);
	last = --end->refs == 0;
	nvmf_mutex_unlock(&end->pair->lock);
	if (last)
		end_release(end);
}

static void loop_qpair_get_info(const struct nvmf_qpair *qp, struct nvmf_qpair_info *info)
{
	info->max_icd = LEND(qp)->max_icd;
	info->tls_hostnqn = "";
	info->tls_subnqn = "";
}

static bool loop_on_engine_thread(const struct nvmf_qpair *qp)
{
	return pthread_equal(pthread_self(), LEND(qp)->thread) != 0;
}

/* ------------------------------------------------------------------ */
/* Listeners and connecting                                            */
/* ------------------------------------------------------------------ */

struct loop_listener {
	struct nvmf_listener base;
	struct nvmf_listen_params p;
	struct loop_listener *next;
	unsigned attaching;              /* connects between accept and attach */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t registry_cond = PTHREAD_COND_INITIALIZER; /* attaching fell */
static struct loop_listener *listeners;   /* registry_lock */
static unsigned long connections;         /* registry_lock: names the peers */

static void set_error(struct nvmf_error *err, int errnum, const char *what, const char *traddr)
{
	memset(err, 0, sizeof(*err));
	err->errnum = errnum;
	snprintf(err->msg, sizeof(err->msg), "loop %.200s: %s", traddr, what);
}

static bool traddr_ok(const struct nvmf_addr *addr)
{
	return addr->traddr[0] != '\0' && memchr(addr->traddr, '\0', sizeof(addr->traddr)) != NULL;
}

static struct loop_listener *find_listener_locked(const char *traddr)
{
	for (struct loop_listener *l = listeners; l != NULL; l = l->next)
		if (strcmp(l->base.addr.traddr, traddr) == 0)
			return l;
	return NULL;
}

static struct nvmf_listener *loop_listen(const struct nvmf_listen_params *params,
					 struct nvmf_error *err)
{
	struct loop_listener *l;

	if (!traddr_ok(&params->addr) || params->ops == NULL) {
		set_error(err, EINVAL, "a listener needs a name (traddr) and callbacks", "");
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		set_error(err, ENOMEM, "out of memory", params->addr.traddr);
		return NULL;
	}
	l->base.ops = &nvmf_loop_transport;
	l->base.addr = params->addr;
	l->p = *params;
	pthread_mutex_lock(&registry_lock);
	if (find_listener_locked(params->addr.traddr) != NULL) {
		pthread_mutex_unlock(&registry_lock);
		set_error(err, EADDRINUSE, "the name is taken by another listener",
			  params->addr.traddr);
		free(l);
		return NULL;
	}
	l->next = listeners;
	listeners = l;
	pthread_mutex_unlock(&registry_lock);
	return &l->base;
}

static void loop_listener_free(struct nvmf_listener *base)
{
	struct loop_listener *l = (struct loop_listener *)base;

	pthread_mutex_lock(&registry_lock);
	for (struct loop_listener **pp = &listeners; *pp != NULL; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	/* Connects that found it before it left the registry attach first. */
	while (l->attaching > 0)
		pthread_cond_wait(&registry_cond, &registry_lock);
	pthread_mutex_unlock(&registry_lock);
	free(l);
}

/* Ask the listener's owner, make the pair, attach the controller end. */
static struct loop_end *accept_and_attach(struct loop_listener *l, unsigned long id,
					  const struct nvmf_qpair_params *hp,
					  struct nvmf_error *err)
{
	struct nvmf_qpair_params cp;
	struct nvmf_peer peer = {0};
	struct loop_end *host = NULL, *ctrl = NULL;
	void *conn = NULL;
	int rc;

	snprintf(peer.name, sizeof(peer.name), "loop:%.40s#%lu", l->base.addr.traddr, id);
	snprintf(peer.local_traddr, sizeof(peer.local_traddr), "%.63s", l->base.addr.traddr);
	memset(&cp, 0, sizeof(cp));
	rc = l->p.ops->accept(l->p.arg, &peer, &cp, &conn);
	if (rc != 0) {
		set_error(err, ECONNREFUSED, "the listener refused the connection",
			  l->base.addr.traddr);
		return NULL;
	}
	cp.trtype = NVMF_TRTYPE_LOOP;
	cp.controller = true;
	rc = params_ok(&cp) ? pair_create(hp, &cp, &host, &ctrl) : EINVAL;
	if (rc != 0) {
		set_error(err, rc, rc == EINVAL ? "the listener's queue parameters are invalid"
						: "cannot set up the queue pair",
			  l->base.addr.traddr);
		l->p.ops->attach(conn, NULL, err);
		return NULL;
	}
	l->p.ops->attach(conn, &ctrl->qp, NULL);
	return host;
}

static struct nvmf_qpair *loop_qpair_connect(const struct nvmf_addr *addr,
					     const struct nvmf_qpair_params *params,
					     struct nvmf_error *err)
{
	struct loop_listener *l;
	struct loop_end *host;
	unsigned long id;

	if (!traddr_ok(addr) || !params_ok(params) || params->controller) {
		set_error(err, EINVAL, "invalid address or queue parameters", addr->traddr);
		return NULL;
	}
	pthread_mutex_lock(&registry_lock);
	l = find_listener_locked(addr->traddr);
	if (l != NULL)
		l->attaching++;
	id = ++connections;
	pthread_mutex_unlock(&registry_lock);
	if (l == NULL) {
		set_error(err, ECONNREFUSED, "no listener of that name", addr->traddr);
		return NULL;
	}
	host = accept_and_attach(l, id, params, err);
	pthread_mutex_lock(&registry_lock);
	l->attaching--;
	pthread_cond_broadcast(&registry_cond);
	pthread_mutex_unlock(&registry_lock);
	return host != NULL ? &host->qp : NULL;
}

/* ------------------------------------------------------------------ */
/* Commands and responses                                              */
/* ------------------------------------------------------------------ */

static uint32_t icd_limit(const struct loop_end *end, const struct nvme_sqe *sqe)
{
	if (end->qp.admin || sqe->opc == NVME_ADMIN_FABRICS)
		return end->max_icd > LOOP_ADMIN_MAX_ICD ? end->max_icd : LOOP_ADMIN_MAX_ICD;
	return end->max_icd;
}

/* Host: the SGL of a command, and how much of its data rides in the capsule. */
static int build_sgl(struct loop_end *host, struct loop_capsule *hc, uint32_t *icd_len)
{
	struct nvmf_capsule *nc = &hc->nc;
	struct nvme_sgl_desc *sgl = &nc->sqe.sgl1;

	*icd_len = 0;
	memset(sgl, 0, sizeof(*sgl));
	sgl->type = NVME_SGL_ID_TRANSPORT;
	if (!nc->has_data)
		return 0;
	if (!iov_ok(&nc->data) || nc->data.len > host->max_io_size)
		return EINVAL;
	sgl->length = (uint32_t)nc->data.len;
	if (nc->data_send && nc->data.len > 0 && nc->data.len <= icd_limit(host, &nc->sqe)) {
		sgl->type = NVME_SGL_ID_ICD;
		*icd_len = (uint32_t)nc->data.len;
	}
	return 0;
}

/* Host: the command, copied into a capsule of the controller end. */
static int send_command_locked(struct loop_end *host, struct loop_end *ctrl,
			       struct loop_capsule *hc, uint32_t icd_len)
{
	struct nvmf_capsule *nc = &hc->nc;
	struct loop_capsule *cc;

	if (hc->xfer_busy)
		return EBUSY;
	if (icd_len > icd_limit(ctrl, &nc->sqe))
		return EMSGSIZE;
	if (nc->has_data && icd_len == 0 && nc->data.len > 0 &&
	    xfer_lookup_locked(host, nc->sqe.cid) != NULL)
		return EEXIST;
	cc = capsule_get_locked(ctrl);
	if (cc == NULL)
		return ENOBUFS; /* far more commands outstanding than the queue holds */
	if (icd_len > 0) {
		if (cc->icd == NULL)
			cc->icd = malloc(icd_limit(ctrl, &nc->sqe) > LOOP_ADMIN_MAX_ICD
						 ? icd_limit(ctrl, &nc->sqe)
						 : LOOP_ADMIN_MAX_ICD);
		if (cc->icd == NULL) {
			capsule_put_locked(cc); /* never its end's last: the end holds one */
			return ENOMEM;
		}
		iov_copy(&(struct nvmf_iov){.iov = &(struct iovec){cc->icd, icd_len}, .iovcnt = 1,
					    .len = icd_len},
			 0, &nc->data, 0, icd_len);
		cc->icd_len = icd_len;
	}
	if (nc->has_data) {
		hc->refs++; /* the capsule outlives its transfer */
		hc->xfer_busy = true;
		if (icd_len == 0 && nc->data.len > 0) {
			struct loop_capsule **slot = cid_slot(host, nc->sqe.cid);

			hc->hash_next = *slot;
			*slot = hc;
			hc->xfer_registered = true;
		} else {
			/* In-capsule (or no) data: the buffer is free already. */
			hc->xfered = icd_len;
			queue_xfer_done_locked(host, hc);
		}
	}
	cc->nc.sqe = nc->sqe;
	cc->ev = (struct loop_event){.kind = EV_CAPSULE, .cap = cc};
	queue_event_locked(ctrl, &cc->ev);
	return 0;
}

/* Controller: the response, copied into a capsule of the host end; it
 * ends the command's transfer first (read data before the response). */
static int send_response_locked(struct loop_end *ctrl, const struct nvme_cqe *cqe)
{
	struct loop_end *host = ctrl->peer;
	struct loop_capsule *rsp, *xfer;

	if (ctrl->freeing || host == NULL)
		return ECONNABORTED;
	rsp = capsule_get_locked(host);
	if (rsp == NULL)
		return ENOBUFS;
	xfer = xfer_lookup_locked(host, cqe->cid);
	if (xfer != NULL) {
		xfer_unregister_locked(host, xfer);
		queue_xfer_done_locked(host, xfer);
	}
	rsp->nc.is_response = true;
	rsp->nc.sqhd_valid = host->qp.sq_flow_control;
	rsp->nc.cqe = *cqe;
	if (host->qp.sq_flow_control && cqe->sqhd < host->qp.qsize)
		atomic_store_explicit(&host->qp.sqhd, cqe->sqhd, memory_order_relaxed);
	rsp->ev = (struct loop_event){.kind = EV_CAPSULE, .cap = rsp};
	queue_event_locked(host, &rsp->ev);
	return 0;
}

static int loop_capsule_transmit(struct nvmf_capsule *nc)
{
	struct loop_end *end = LEND(nc->qp);
	uint32_t icd_len = 0;
	int error;

	if (!nc->is_response) {
		error = build_sgl(end, LCAP(nc), &icd_len);
		if (error != 0)
			return error;
	}
	nvmf_mutex_lock(&end->pair->lock);
	if (end->freeing || end->peer == NULL)
		error = ECONNABORTED;
	else if (nc->is_response)
		error = send_response_locked(end, &nc->cqe);
	else
		error = send_command_locked(end, end->peer, LCAP(nc), icd_len);
	nvmf_mutex_unlock(&end->pair->lock);
	return error;
}

static int loop_capsule_respond(struct nvmf_qpair *qp, const struct nvme_cqe *cqe)
{
	struct loop_end *ctrl = LEND(qp);
	int error;

	nvmf_mutex_lock(&ctrl->pair->lock);
	error = send_response_locked(ctrl, cqe);
	nvmf_mutex_unlock(&ctrl->pair->lock);
	return error;
}

/* ------------------------------------------------------------------ */
/* Controller data                                                     */
/* ------------------------------------------------------------------ */

static uint16_t loop_validate_command(const struct nvmf_capsule *nc)
{
	const struct loop_capsule *cc = (const struct loop_capsule *)nc;
	const struct nvme_sgl_desc *sgl = &nc->sqe.sgl1;

	if ((nc->sqe.flags & NVME_SQE_PSDT_MASK) != NVME_SQE_PSDT_SGL)
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	switch (sgl->type) {
	case NVME_SGL_ID_ICD:
		if (sgl->address != 0)
			return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_SGL_OFFSET_INVALID);
		if (sgl->length != cc->icd_len)
			return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID);
		return 0;
	case NVME_SGL_ID_TRANSPORT:
		if (cc->icd_len != 0)
			return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
		if (sgl->length > cc->end->max_io_size)
			return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_DATA_SGL_LENGTH_INVALID);
		return 0;
	default:
		if (sgl->length == 0 && cc->icd_len == 0)
			return 0;
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID);
	}
}

static size_t loop_capsule_data_len(const struct nvmf_capsule *nc)
{
	return nc->sqe.sgl1.length;
}

/* The host's transfer for a command of the controller's, in the given
 * direction, holding [offset, offset + len); NULL if there is none. */
static struct loop_capsule *peer_xfer_locked(struct loop_end *ctrl, const struct nvmf_capsule *nc,
					     bool send, uint32_t offset, size_t len)
{
	struct loop_capsule *xfer;

	if (ctrl->freeing || ctrl->peer == NULL)
		return NULL;
	xfer = xfer_lookup_locked(ctrl->peer, nc->sqe.cid);
	if (xfer == NULL || xfer->nc.data_send != send || offset > xfer->nc.data.len ||
	    len > xfer->nc.data.len - offset)
		return NULL;
	return xfer;
}

static int loop_receive_controller_data(struct nvmf_capsule *nc, uint32_t data_offset,
					const struct nvmf_iov *data, nvmf_io_complete_cb *cb,
					void *cb_arg)
{
	struct loop_capsule *cc = LCAP(nc);
	struct loop_end *ctrl = cc->end;
	struct loop_capsule *xfer;
	size_t len = data->len;
	int error = 0;

	if (data_offset > nc->sqe.sgl1.length || len > nc->sqe.sgl1.length - data_offset ||
	    !iov_ok(data))
		return EFBIG;
	if (nc->sqe.sgl1.type == NVME_SGL_ID_ICD && data_offset + len > cc->icd_len)
		return EFBIG;
	nvmf_mutex_lock(&ctrl->pair->lock);
	if (ctrl->freeing) {
		error = ECONNABORTED;
	} else if (nc->sqe.sgl1.type == NVME_SGL_ID_ICD || len == 0) {
		error = queue_io_done_locked(ctrl, cb, cb_arg, len);
		if (error == 0 && len > 0)
			iov_copy(data, 0,
				 &(struct nvmf_iov){.iov = &(struct iovec){cc->icd, cc->icd_len},
						    .iovcnt = 1, .len = cc->icd_len},
				 data_offset, len);
	} else if ((xfer = peer_xfer_locked(ctrl, nc, true, data_offset, len)) == NULL) {
		error = ctrl->peer == NULL ? ECONNABORTED : EPROTO;
	} else {
		error = queue_io_done_locked(ctrl, cb, cb_arg, len);
		if (error == 0) {
			iov_copy(data, 0, &xfer->nc.data, data_offset, len);
			xfer->xfered += len;
		}
	}
	nvmf_mutex_unlock(&ctrl->pair->lock);
	return error;
}

/* Controller: SUCCESS in place of a response, as TCP's C2H flag: the
 * command's CQE is all zeroes but CID (and the next SQ head). */
static void send_success_locked(struct loop_end *ctrl, struct loop_capsule *rsp, uint16_t cid)
{
	struct loop_end *host = ctrl->peer;

	rsp->nc.is_response = true;
	rsp->nc.sqhd_valid = host->qp.sq_flow_control;
	rsp->nc.cqe = (struct nvme_cqe){.cid = cid, .sqhd = NVME_SQHD_INVALID,
					.sqid = ctrl->qp.qid};
	if (host->qp.sq_flow_control) {
		uint16_t head = (uint16_t)((atomic_load(&host->qp.sqhd) + 1) % host->qp.qsize);

		atomic_store(&host->qp.sqhd, head);
		rsp->nc.cqe.sqhd = head;
	}
	rsp->ev = (struct loop_event){.kind = EV_CAPSULE, .cap = rsp};
	queue_event_locked(host, &rsp->ev);
}

static uint16_t loop_send_controller_data(struct nvmf_capsule *nc, uint32_t data_offset,
					  const struct nvmf_iov *data, bool success_status,
					  nvmf_io_complete_cb *cb, void *cb_arg)
{
	struct loop_end *ctrl = LCAP(nc)->end;
	const uint32_t total = nc->sqe.sgl1.length;
	size_t len = data->len;
	struct loop_capsule *xfer, *rsp = NULL;
	uint16_t status = 0;
	bool success;

	if (nc->sqe.sgl1.type != NVME_SGL_ID_TRANSPORT || data_offset > total ||
	    len > total - data_offset || len == 0 || !iov_ok(data))
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	/* SUCCESS stands in for the CQE only without SQ flow control. */
	success = data_offset + len == total && success_status && !ctrl->qp.sq_flow_control;
	nvmf_mutex_lock(&ctrl->pair->lock);
	xfer = peer_xfer_locked(ctrl, nc, false, data_offset, len);
	if (xfer == NULL || xfer->xfered != data_offset) {
		/* Gone, or not this command's next bytes (data goes in order). */
		status = xfer == NULL && (ctrl->freeing || ctrl->peer == NULL)
				 ? NVME_STATUS(NVME_SCT_PATH, NVME_SC_INTERNAL_PATH_ERROR)
				 : NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	} else if ((success && (rsp = capsule_get_locked(ctrl->peer)) == NULL) ||
		   queue_io_done_locked(ctrl, cb, cb_arg, len) != 0) {
		if (rsp != NULL)
			capsule_put_locked(rsp); /* never its end's last */
		status = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
	} else {
		iov_copy(&xfer->nc.data, data_offset, data, 0, len);
		xfer->xfered += len;
		if (success) {
			xfer_unregister_locked(ctrl->peer, xfer);
			queue_xfer_done_locked(ctrl->peer, xfer);
			send_success_locked(ctrl, rsp, nc->sqe.cid);
		}
	}
	nvmf_mutex_unlock(&ctrl->pair->lock);
	if (status != 0)
		return status;
	return success ? NVMF_SUCCESS_SENT : 0;
}

const struct nvmf_transport_ops nvmf_loop_transport = {
	.trtype = NVMF_TRTYPE_LOOP,
	.name = "loop",
	.qpair_create = loop_qpair_create,
	.qpair_connect = loop_qpair_connect,
	.listen = loop_listen,
	.listener_free = loop_listener_free,
	.params_release = loop_params_release,
	.qpair_free = loop_qpair_free,
	.qpair_get_info = loop_qpair_get_info,
	.on_engine_thread = loop_on_engine_thread,
	.capsule_alloc = loop_capsule_alloc,
	.capsule_free = loop_capsule_free,
	.capsule_transmit = loop_capsule_transmit,
	.capsule_respond = loop_capsule_respond,
	.validate_command = loop_validate_command,
	.capsule_data_len = loop_capsule_data_len,
	.receive_controller_data = loop_receive_controller_data,
	.send_controller_data = loop_send_controller_data,
};
