/* SPDX-License-Identifier: MIT */
/*
 * The event-loop engine: each loop thread serves many connections through
 * one epoll set.  Received PDUs are handled as they arrive; work queued for
 * transmission during an iteration (by callbacks on the loop, or by other
 * threads) goes out in one batch per connection at the end of it, so a burst
 * of completions and resubmissions costs one sendmsg.
 *
 * A loop may busy-poll: with poll_usec set it keeps calling epoll_wait with
 * a zero timeout for that long after the last event before it sleeps (forever
 * with NVMF_ENGINE_POLL_FOREVER), trading a core for the wake-up latency.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "transport/engine.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/thread.h"

#define LOOP_EVENTS 64
#define RX_ROUNDS 8 /* receive calls per ready connection per iteration */
/* A polling loop with this few connections reads them directly: one recv
 * each instead of epoll_wait and then recv, on every round trip. */
#define POLL_DIRECT_MAX 4

struct nvmf_loop {
	struct nvmf_epoll_engine *engine;
	pthread_t thread;
	int epfd;
	int evfd;                 /* wakes a sleeping loop */
	int cpu;
	pthread_mutex_t lock;     /* the lists and flags below */
	pthread_cond_t cond;      /* detach acknowledgements */
	struct nvmf_engine_conn *kicked;  /* connections with PDUs to send */
	/* The same, kicked from the loop's own thread: no lock needed. */
	struct nvmf_engine_conn *local_kicked;
	struct nvmf_engine_conn *detaching;
	bool sleeping;
	bool stop;
	/* A connection was detached from a callback on this loop: events
	 * already fetched may name freed memory (epoll is level-triggered, so
	 * dropping them loses nothing). */
	bool events_stale;
	unsigned nconns;
	struct nvmf_engine_conn *direct[POLL_DIRECT_MAX]; /* all of them, if few */
};

struct nvmf_epoll_engine {
	struct nvmf_engine base;
	unsigned nloops;
	unsigned next_loop;
	pthread_mutex_t lock;     /* next_loop */
	struct nvmf_loop loops[];
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void loop_wake(struct nvmf_loop *loop)
{
	uint64_t one = 1;

	if (write(loop->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		NVMF_WARN("engine: cannot wake a loop: %s", strerror(errno));
}

static void set_interest(struct nvmf_loop *loop, struct nvmf_engine_conn *conn, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = conn};

	if (conn->ev.events == events || conn->ev.rx_finished)
		return;
	conn->ev.events = events;
	epoll_ctl(loop->epfd, EPOLL_CTL_MOD, conn->fd, &ev);
}

static bool loop_flush(struct nvmf_loop *loop);

/*
 * Receive until the socket is drained (bounded, so one peer cannot starve
 * the others), sending what each round produced before the next: the peer
 * gets new work while we are still reading, so neither side idles.
 */
static bool loop_rx(struct nvmf_loop *loop, struct nvmf_engine_conn *conn)
{
	bool progress = false;

	for (int i = 0; i < RX_ROUNDS && !conn->ev.rx_finished && !loop->events_stale; i++) {
		int r = conn->rx(conn, false);

		if (r == NVMF_CONN_DONE) {
			/* Stop watching; the transport reports, the owner detaches. */
			epoll_ctl(loop->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
			conn->ev.rx_finished = true;
			conn->rx_done(conn);
			return true;
		}
		if (r == NVMF_CONN_IDLE)
			break;
		progress = true;
		loop_flush(loop);
		if (r == NVMF_CONN_DRAINED)
			break; /* another recv would only say EAGAIN */
	}
	return progress;
}

static void loop_tx(struct nvmf_loop *loop, struct nvmf_engine_conn *conn)
{
	int r = conn->tx(conn, false);

	if (r == NVMF_CONN_DONE) {
		/* The peer is gone; receiving will notice and report. */
		shutdown(conn->fd, SHUT_RDWR);
		return;
	}
	set_interest(loop, conn, conn->tx_blocked ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/*
 * Send what callbacks and other threads queued since the last iteration.
 * One connection at a time off the shared list: a completion may detach
 * another connection, which then leaves the list.
 */
static bool loop_flush(struct nvmf_loop *loop)
{
	bool progress = false;

	/* What callbacks on this loop queued: the common case, lock-free. */
	while (loop->local_kicked != NULL) {
		struct nvmf_engine_conn *conn = loop->local_kicked;

		loop->local_kicked = conn->ev.next_local;
		conn->ev.kicked_local = false;
		if (!conn->tx_blocked)
			loop_tx(loop, conn);
		progress = true;
	}
	for (;;) {
		struct nvmf_engine_conn *conn;

		nvmf_mutex_lock(&loop->lock);
		conn = loop->kicked;
		if (conn != NULL) {
			loop->kicked = conn->ev.next_kicked;
			conn->ev.kicked = false;
		}
		nvmf_mutex_unlock(&loop->lock);
		if (conn == NULL)
			return progress;
		if (!conn->tx_blocked)
			loop_tx(loop, conn);
		progress = true;
	}
}

static void unlink_kicked_locked(struct nvmf_loop *loop, struct nvmf_engine_conn *conn)
{
	struct nvmf_engine_conn **pp = &loop->kicked;

	NVMF_ASSERT_LOCKED(&loop->lock);
	while (*pp != NULL && *pp != conn)
		pp = &(*pp)->ev.next_kicked;
	if (*pp == conn)
		*pp = conn->ev.next_kicked;
	conn->ev.kicked = false;
}

/* The loop-local list: only ever touched on the loop's thread. */
static void unlink_local(struct nvmf_loop *loop, struct nvmf_engine_conn *conn)
{
	struct nvmf_engine_conn **pp = &loop->local_kicked;

	while (*pp != NULL && *pp != conn)
		pp = &(*pp)->ev.next_local;
	if (*pp == conn)
		*pp = conn->ev.next_local;
	conn->ev.kicked_local = false;
}

/* The connection list for direct polling (loop->lock held). */
static void direct_remove_locked(struct nvmf_loop *loop, struct nvmf_engine_conn *conn)
{
	NVMF_ASSERT_LOCKED(&loop->lock);
	for (unsigned i = 0; i < POLL_DIRECT_MAX; i++)
		if (loop->direct[i] == conn)
			loop->direct[i] = NULL;
}

static void direct_add_locked(struct nvmf_loop *loop, struct nvmf_engine_conn *conn)
{
	NVMF_ASSERT_LOCKED(&loop->lock);
	for (unsigned i = 0; i < POLL_DIRECT_MAX; i++)
		if (loop->direct[i] == NULL) {
			loop->direct[i] = conn;
			return;
		}
}

/*
 * A polling iteration without epoll_wait: each connection is read at once.
 * Returns false if the loop has too many connections for that.
 */
static bool loop_poll_direct(struct nvmf_loop *loop, bool *busy)
{
	struct nvmf_engine_conn *conns[POLL_DIRECT_MAX];
	unsigned n = 0;

	nvmf_mutex_lock(&loop->lock);
	if (loop->nconns > POLL_DIRECT_MAX) {
		nvmf_mutex_unlock(&loop->lock);
		return false;
	}
	for (unsigned i = 0; i < POLL_DIRECT_MAX; i++)
		if (loop->direct[i] != NULL)
			conns[n++] = loop->direct[i];
	nvmf_mutex_unlock(&loop->lock);

	loop->events_stale = false;
	for (unsigned i = 0; i < n && !loop->events_stale; i++) {
		struct nvmf_engine_conn *conn = conns[i];

		if (conn->tx_blocked) {
			conn->tx_blocked = false;
			loop_tx(loop, conn); /* sets it again if the socket is still full */
		}
		if (!loop->events_stale && !conn->ev.rx_finished)
			*busy |= loop_rx(loop, conn);
	}
	return true;
}

/* Between iterations: let go of connections their owners are freeing. */
static void loop_detach_requests(struct nvmf_loop *loop)
{
	nvmf_mutex_lock(&loop->lock);
	while (loop->detaching != NULL) {
		struct nvmf_engine_conn *conn = loop->detaching;

		loop->detaching = conn->ev.next_kicked;
		unlink_local(loop, conn);
		direct_remove_locked(loop, conn);
		if (!conn->ev.rx_finished)
			epoll_ctl(loop->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
		conn->ev.loop = NULL; /* acknowledged: never touched again */
		loop->nconns--;
	}
	pthread_cond_broadcast(&loop->cond);
	nvmf_mutex_unlock(&loop->lock);
}

static void *loop_main(void *arg)
{
	struct nvmf_loop *loop = arg;
	const uint32_t poll_usec = loop->engine->base.params.poll_usec;
	struct epoll_event events[LOOP_EVENTS];
	uint64_t last_busy = now_us();

	nvmf_thread_name(pthread_self(), "nvmf-loop/%u", (unsigned)(loop - loop->engine->loops));
	if (loop->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(loop->cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
			NVMF_WARN("engine: cannot pin a loop to CPU %d", loop->cpu);
	}
	for (;;) {
		int timeout = 0, n;
		bool busy = false;

		nvmf_mutex_lock(&loop->lock);
		if (loop->stop) {
			nvmf_mutex_unlock(&loop->lock);
			break;
		}
		if (loop->kicked == NULL && loop->local_kicked == NULL && loop->detaching == NULL &&
		    poll_usec != NVMF_ENGINE_POLL_FOREVER &&
		    now_us() - last_busy >= poll_usec) {
			/* Sleep; kicks from now on write the eventfd. */
			loop->sleeping = true;
			timeout = -1;
		}
		nvmf_mutex_unlock(&loop->lock);

		if (timeout == 0 && loop_poll_direct(loop, &busy)) {
			busy |= loop_flush(loop);
			loop_detach_requests(loop);
			if (busy)
				last_busy = now_us();
			continue;
		}
		n = epoll_wait(loop->epfd, events, LOOP_EVENTS, timeout);
		if (timeout != 0) {
			nvmf_mutex_lock(&loop->lock);
			loop->sleeping = false;
			nvmf_mutex_unlock(&loop->lock);
		}
		loop->events_stale = false;
		for (int i = 0; i < n && !loop->events_stale; i++) {
			struct nvmf_engine_conn *conn = events[i].data.ptr;

			if (conn == NULL) {
				uint64_t count;

				if (read(loop->evfd, &count, sizeof(count)) < 0 && errno != EAGAIN)
					NVMF_WARN("engine: eventfd read: %s", strerror(errno));
				continue;
			}
			if ((events[i].events & EPOLLOUT) != 0 && conn->tx_blocked) {
				conn->tx_blocked = false;
				loop_tx(loop, conn);
			}
			if ((events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0)
				busy |= loop_rx(loop, conn);
		}
		busy |= loop_flush(loop);
		loop_detach_requests(loop);
		if (busy || n > 0)
			last_busy = now_us();
	}
	return NULL;
}

static int epoll_attach(struct nvmf_engine *base, struct nvmf_engine_conn *conn)
{
	struct nvmf_epoll_engine *engine = (struct nvmf_epoll_engine *)base;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = conn};
	struct nvmf_loop *loop;
	int flags;

	nvmf_mutex_lock(&engine->lock);
	loop = &engine->loops[engine->next_loop++ % engine->nloops];
	nvmf_mutex_unlock(&engine->lock);

	flags = fcntl(conn->fd, F_GETFL);
	if (flags < 0 || fcntl(conn->fd, F_SETFL, flags | O_NONBLOCK) != 0)
		return errno;
	conn->engine = base;
	conn->stop = false;
	conn->ev.loop = loop;
	conn->ev.next_kicked = NULL;
	conn->ev.next_local = NULL;
	conn->ev.kicked = false;
	conn->ev.kicked_local = false;
	conn->ev.rx_finished = false;
	conn->ev.events = EPOLLIN;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, conn->fd, &ev) != 0)
		return errno;
	nvmf_mutex_lock(&loop->lock);
	loop->nconns++;
	direct_add_locked(loop, conn);
	nvmf_mutex_unlock(&loop->lock);
	return 0;
}

static bool epoll_on_engine_thread(const struct nvmf_engine_conn *conn)
{
	const struct nvmf_loop *loop = conn->ev.loop;

	return loop != NULL && pthread_equal(pthread_self(), loop->thread);
}

static void epoll_kick(struct nvmf_engine_conn *conn)
{
	struct nvmf_loop *loop = conn->ev.loop;
	bool wake;

	if (loop == NULL)
		return;
	if (pthread_equal(pthread_self(), loop->thread)) {
		/* From a callback on the loop: flushed before it sleeps. */
		if (!conn->ev.kicked_local) {
			conn->ev.kicked_local = true;
			conn->ev.next_local = loop->local_kicked;
			loop->local_kicked = conn;
		}
		return;
	}
	nvmf_mutex_lock(&loop->lock);
	if (!conn->ev.kicked) {
		conn->ev.kicked = true;
		conn->ev.next_kicked = loop->kicked;
		loop->kicked = conn;
	}
	wake = loop->sleeping;
	nvmf_mutex_unlock(&loop->lock);
	if (wake && !pthread_equal(pthread_self(), loop->thread))
		loop_wake(loop);
}

static void epoll_detach(struct nvmf_engine_conn *conn)
{
	struct nvmf_loop *loop = conn->ev.loop;

	if (loop == NULL)
		return;
	if (pthread_equal(pthread_self(), loop->thread)) {
		/* From a callback on the loop: nothing of this connection is
		 * running, and the loop only looks at it through the lists. */
		unlink_local(loop, conn);
		nvmf_mutex_lock(&loop->lock);
		unlink_kicked_locked(loop, conn);
		if (!conn->ev.rx_finished)
			epoll_ctl(loop->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
		loop->events_stale = true;
		loop->nconns--;
		direct_remove_locked(loop, conn);
		nvmf_mutex_unlock(&loop->lock);
		conn->ev.loop = NULL;
		return;
	}
	nvmf_mutex_lock(&loop->lock);
	unlink_kicked_locked(loop, conn);
	conn->ev.next_kicked = loop->detaching;
	loop->detaching = conn;
	if (loop->sleeping)
		loop_wake(loop);
	while (conn->ev.loop != NULL)
		pthread_cond_wait(&loop->cond, &loop->lock);
	nvmf_mutex_unlock(&loop->lock);
}

static void epoll_destroy(struct nvmf_engine *base)
{
	struct nvmf_epoll_engine *engine = (struct nvmf_epoll_engine *)base;

	for (unsigned i = 0; i < engine->nloops; i++) {
		struct nvmf_loop *loop = &engine->loops[i];

		nvmf_mutex_lock(&loop->lock);
		loop->stop = true;
		nvmf_mutex_unlock(&loop->lock);
		loop_wake(loop);
		pthread_join(loop->thread, NULL);
		close(loop->epfd);
		close(loop->evfd);
		pthread_cond_destroy(&loop->cond);
		pthread_mutex_destroy(&loop->lock);
	}
	pthread_mutex_destroy(&engine->lock);
	free(engine);
}

static const struct nvmf_engine_ops epoll_ops = {
	.attach = epoll_attach,
	.kick = epoll_kick,
	.detach = epoll_detach,
	.destroy = epoll_destroy,
	.on_engine_thread = epoll_on_engine_thread,
};

static int loop_start(struct nvmf_epoll_engine *engine, struct nvmf_loop *loop, int cpu)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	sigset_t all, old;
	int error;

	loop->engine = engine;
	loop->cpu = cpu;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->epfd < 0 || loop->evfd < 0 ||
	    epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->evfd, &ev) != 0) {
		error = errno;
		goto fail;
	}
	nvmf_mutex_init(&loop->lock);
	pthread_cond_init(&loop->cond, NULL);
	/* Loop threads must not take signals meant for the application. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	error = pthread_create(&loop->thread, NULL, loop_main, loop);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (error == 0)
		return 0;
	pthread_cond_destroy(&loop->cond);
	pthread_mutex_destroy(&loop->lock);
fail:
	if (loop->epfd >= 0)
		close(loop->epfd);
	if (loop->evfd >= 0)
		close(loop->evfd);
	return error;
}

struct nvmf_engine *nvmf_engine_epoll_create(const struct nvmf_engine_params *params,
					     const int *cpus)
{
	unsigned n = params->nthreads != 0 ? params->nthreads : 1;
	struct nvmf_epoll_engine *engine;

	engine = calloc(1, sizeof(*engine) + n * sizeof(engine->loops[0]));
	if (engine == NULL)
		return NULL;
	engine->base.ops = &epoll_ops;
	engine->base.params = *params;
	nvmf_mutex_init(&engine->lock);
	for (unsigned i = 0; i < n; i++) {
		int cpu = cpus != NULL ? cpus[i] : params->cpu >= 0 ? params->cpu + (int)i : -1;
		int error = loop_start(engine, &engine->loops[i], cpu);

		if (error != 0) {
			engine->nloops = i;
			epoll_destroy(&engine->base);
			errno = error;
			return NULL;
		}
		engine->nloops = i + 1;
	}
	return &engine->base;
}
