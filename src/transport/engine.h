/* SPDX-License-Identifier: MIT */
/*
 * Engines decide which threads move a connection's bytes.  A transport
 * embeds a struct nvmf_engine_conn in each queue pair and supplies the rx and
 * tx functions; the engine calls them when the socket is ready (or, with the
 * threads engine, from threads that sleep in recv/send).
 *
 * The transport's receive state is touched only from conn->rx, its
 * send-in-progress state only from conn->tx; an engine never runs either
 * of them concurrently with itself for the same connection.
 */
#ifndef NVMF_ENGINE_H
#define NVMF_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "nvmf/transport.h"

struct nvmf_engine_conn;

struct nvmf_engine_ops {
	int (*attach)(struct nvmf_engine *engine, struct nvmf_engine_conn *conn);
	/* New PDUs are queued (conn->lock held, conn->tx_queued set). */
	void (*kick)(struct nvmf_engine_conn *conn);
	/* Stop calling the connection; returns once no callback is running. */
	void (*detach)(struct nvmf_engine_conn *conn);
	void (*destroy)(struct nvmf_engine *engine);
	bool (*on_engine_thread)(const struct nvmf_engine_conn *conn);
};

struct nvmf_engine {
	const struct nvmf_engine_ops *ops;
	struct nvmf_engine_params params;
};

/* Return values of the rx and tx functions. */
enum {
	NVMF_CONN_DONE = -1,      /* finished: error recorded, or closed */
	NVMF_CONN_IDLE = 0,       /* nothing more to do until the socket is ready */
	NVMF_CONN_PROGRESS = 1,   /* did work; call again */
	NVMF_CONN_DRAINED = 2,    /* did work, and the socket had no more */
};

struct nvmf_engine_conn {
	int fd;
	/* Receive and handle what the socket has; block: may sleep in recv. */
	int (*rx)(struct nvmf_engine_conn *conn, bool block);
	/* Send what is queued; block: may sleep in send.  Returns IDLE once the
	 * queue is empty (or, non-blocking, the socket is full: then
	 * conn->tx_blocked is set). */
	int (*tx)(struct nvmf_engine_conn *conn, bool block);
	/* rx returned DONE: the transport reports the end to its upper layer. */
	void (*rx_done)(struct nvmf_engine_conn *conn);

	pthread_mutex_t *lock;    /* the transport's lock; guards tx_queued */
	bool tx_queued;           /* PDUs wait to be sent */
	bool tx_blocked;          /* non-blocking tx stopped on a full socket */

	/* Engine-private state. */
	struct nvmf_engine *engine;
	bool stop;
	union {
		struct {
			pthread_t rx_thread;
			pthread_t tx_thread;
			pthread_cond_t tx_cond;
			bool tx_running;  /* one of the two threads is in tx() (lock) */
		} threads;
		struct {
			struct nvmf_loop *loop;
			struct nvmf_engine_conn *next_kicked; /* loop's tx list */
			struct nvmf_engine_conn *next_local;  /* ... kicked on the loop */
			bool kicked;
			bool kicked_local;
			bool rx_finished;
			uint32_t events;
		} ev;
	};
};

/* The process-wide default engine (hybrid event loops), created on first
 * use; NULL with errno when its threads cannot be started (tried again on
 * the next call). */
struct nvmf_engine *nvmf_engine_default(void);

struct nvmf_engine *nvmf_engine_threads_create(const struct nvmf_engine_params *params);
/* cpus: NULL, or a CPU per loop to pin it to (overrides params->cpu). */
struct nvmf_engine *nvmf_engine_epoll_create(const struct nvmf_engine_params *params,
					     const int *cpus);

#endif
