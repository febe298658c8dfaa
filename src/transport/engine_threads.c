/* SPDX-License-Identifier: MIT */
/*
 * The threads engine: every connection gets a receive thread that sleeps in
 * recv() and a transmit thread that sleeps on a condition variable until
 * PDUs are queued, as the kernel's socket upcalls would wake them.
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

static void *threads_rx_main(void *arg)
{
	struct nvmf_engine_conn *conn = arg;

	nvmf_thread_name(pthread_self(), "nvmf-rx");
	while (conn->rx(conn, true) != NVMF_CONN_DONE)
		;
	conn->rx_done(conn);
	return NULL;
}

static void *threads_tx_main(void *arg)
{
	struct nvmf_engine_conn *conn = arg;

	nvmf_thread_name(pthread_self(), "nvmf-tx");
	nvmf_mutex_lock(conn->lock);
	for (;;) {
		while (!conn->tx_queued && !conn->stop)
			pthread_cond_wait(&conn->threads.tx_cond, conn->lock);
		if (conn->stop)
			break;
		conn->tx_queued = false;
		nvmf_mutex_unlock(conn->lock);
		if (conn->tx(conn, true) == NVMF_CONN_DONE) {
			/* The send side is dead: wake the receiver so it reports. */
			shutdown(conn->fd, SHUT_RDWR);
			return NULL;
		}
		nvmf_mutex_lock(conn->lock);
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
	pthread_cond_signal(&conn->threads.tx_cond);
}

static void threads_detach(struct nvmf_engine_conn *conn)
{
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

static bool threads_on_engine_thread(const struct nvmf_engine_conn *conn)
{
	pthread_t self = pthread_self();

	return pthread_equal(self, conn->threads.rx_thread) ||
	       pthread_equal(self, conn->threads.tx_thread);
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
