/* SPDX-License-Identifier: MIT */
/*
 * The threads engine: every connection gets a receive thread that sleeps in
 * recv() and a transmit thread that sleeps on a condition variable until
 * PDUs are queued, as the kernel's socket upcalls would wake them.
 *
 * What the receive thread's own callbacks queue (a host resubmitting from
 * its completions, a target answering inline) it sends itself once rx()
 * returns, without blocking: waking the transmit thread for it would cost
 * two context switches per I/O.  The transmit thread takes over what
 * others queue and whatever a full socket left unsent.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "transport/engine.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/thread.h"

/* On a receive thread, the connection whose rx() it is in. */
static _Thread_local struct nvmf_engine_conn *in_rx;

/* The receive thread sends what its rx() queued, unless tx() is running. */
static void rx_flush(struct nvmf_engine_conn *conn)
{
	int r;

	nvmf_mutex_lock(conn->lock);
	if (!conn->tx_queued || conn->threads.tx_running || conn->stop) {
		nvmf_mutex_unlock(conn->lock);
		return;
	}
	conn->tx_queued = false;
	conn->threads.tx_running = true;
	nvmf_mutex_unlock(conn->lock);
	r = conn->tx(conn, false);
	nvmf_mutex_lock(conn->lock);
	conn->threads.tx_running = false;
	if (r != NVMF_CONN_DONE && conn->tx_blocked)
		conn->tx_queued = true; /* the transmit thread waits for room */
	if (conn->tx_queued)
		pthread_cond_signal(&conn->threads.tx_cond);
	nvmf_mutex_unlock(conn->lock);
	if (r == NVMF_CONN_DONE)
		shutdown(conn->fd, SHUT_RDWR); /* as the transmit thread would */
}

static void *threads_rx_main(void *arg)
{
	struct nvmf_engine_conn *conn = arg;
	int r;

	nvmf_thread_name(pthread_self(), "nvmf-rx");
	do {
		in_rx = conn;
		r = conn->rx(conn, true);
		in_rx = NULL;
		rx_flush(conn);
	} while (r != NVMF_CONN_DONE);
	conn->rx_done(conn);
	return NULL;
}

static void *threads_tx_main(void *arg)
{
	struct nvmf_engine_conn *conn = arg;

	nvmf_thread_name(pthread_self(), "nvmf-tx");
	nvmf_mutex_lock(conn->lock);
	for (;;) {
		while ((!conn->tx_queued || conn->threads.tx_running) && !conn->stop)
			pthread_cond_wait(&conn->threads.tx_cond, conn->lock);
		if (conn->stop)
			break;
		conn->tx_queued = false;
		conn->threads.tx_running = true;
		nvmf_mutex_unlock(conn->lock);
		if (conn->tx(conn, true) == NVMF_CONN_DONE) {
			/* The send side is dead: wake the receiver so it reports. */
			shutdown(conn->fd, SHUT_RDWR);
			return NULL;
		}
		nvmf_mutex_lock(conn->lock);
		conn->threads.tx_running = false;
	}
	nvmf_mutex_unlock(conn->lock);
	return NULL;
}

/* Transport threads must not take signals meant for the application. */
static int start_thread(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int error;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	error = pthread_create(thread, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return error;
}

static int threads_attach(struct nvmf_engine *engine, struct nvmf_engine_conn *conn)
{
	int error;

	conn->engine = engine;
	conn->stop = false;
	conn->threads.tx_running = false;
	pthread_cond_init(&conn->threads.tx_cond, NULL);
	error = start_thread(&conn->threads.tx_thread, threads_tx_main, conn);
	if (error != 0)
		goto fail_cond;
	error = start_thread(&conn->threads.rx_thread, threads_rx_main, conn);
	if (error != 0)
		goto fail_tx;
	return 0;

fail_tx:
	nvmf_mutex_lock(conn->lock);
	conn->stop = true;
	pthread_cond_signal(&conn->threads.tx_cond);
	nvmf_mutex_unlock(conn->lock);
	pthread_join(conn->threads.tx_thread, NULL);
fail_cond:
	pthread_cond_destroy(&conn->threads.tx_cond);
	NVMF_ERR("engine: cannot start connection threads: %s", strerror(error));
	return error;
}

static void threads_kick(struct nvmf_engine_conn *conn)
{
	/* Queued from the receive thread's rx(): rx_flush sends it. */
	if (in_rx == conn)
		return;
	pthread_cond_signal(&conn->threads.tx_cond);
}

static bool threads_on_engine_thread(const struct nvmf_engine_conn *conn)
{
	pthread_t self = pthread_self();

	return pthread_equal(self, conn->threads.rx_thread) ||
	       pthread_equal(self, conn->threads.tx_thread);
}

static void threads_detach(struct nvmf_engine_conn *conn)
{
	/* A connection's own threads cannot join themselves. */
	NVMF_ASSERT(!threads_on_engine_thread(conn));
	nvmf_mutex_lock(conn->lock);
	conn->stop = true;
	pthread_cond_signal(&conn->threads.tx_cond);
	nvmf_mutex_unlock(conn->lock);
	/* Wakes a thread sleeping in recv() or send(). */
	shutdown(conn->fd, SHUT_RDWR);
	pthread_join(conn->threads.tx_thread, NULL);
	pthread_join(conn->threads.rx_thread, NULL);
	pthread_cond_destroy(&conn->threads.tx_cond);
}

static void threads_destroy(struct nvmf_engine *engine)
{
	free(engine);
}

static const struct nvmf_engine_ops threads_ops = {
	.attach = threads_attach,
	.kick = threads_kick,
	.detach = threads_detach,
	.destroy = threads_destroy,
	.on_engine_thread = threads_on_engine_thread,
};

struct nvmf_engine *nvmf_engine_threads_create(const struct nvmf_engine_params *params)
{
	struct nvmf_engine *engine = calloc(1, sizeof(*engine));

	if (engine == NULL)
		return NULL;
	engine->ops = &threads_ops;
	engine->params = *params;
	return engine;
}
