/* SPDX-License-Identifier: MIT */
/*
 * I/O counters for metrics and the SMART log (stats.c).  Beside objects.c
 * at the bottom of the controller: it works on the objects' data alone.
 *
 * Each queue pair keeps its own counters per namespace it has seen.  A
 * command is counted as it completes, on the thread completing it:
 *   rx - the queue pair's receive thread (commands a non-blocking backend
 *        runs inline, refusals, data transfer errors): the only writer,
 *        so a relaxed load and store, no atomic read-modify-write;
 *   wq - the worker pool (blocking backends): several writers, so an
 *        atomic add, which costs nothing beside the system call it ends.
 * A scrape sums them with relaxed loads.  When the queue pair goes, its
 * counters are added to its subsystem's per-namespace totals (under the
 * target's stats_lock), where errors by status are also kept: errors are
 * rare and already take the controller's lock for the error log.
 */
#ifndef NVMF_CONTROLLER_STATS_H
#define NVMF_CONTROLLER_STATS_H

#include "controller/objects.h"

struct op_counters {
	_Atomic uint64_t ops, bytes, latency_sum_ns;
	_Atomic uint64_t latency[NVMF_LATENCY_BUCKETS];
};

struct conn_ns_stats {
	struct conn_ns_stats *next;    /* immutable once published */
	uint32_t nsid;
	struct op_counters rx[NVMF_IO_OP_COUNT];
	struct op_counters wq[NVMF_IO_OP_COUNT];
};

/* Distinct (op, status) pairs kept per namespace; further statuses add
 * up under 0xffff, one such entry per op. */
#define NS_ERROR_KINDS 16
#define NS_ERROR_OTHER 0xffffu
#define NS_ERROR_ROOM (NS_ERROR_KINDS + NVMF_IO_OP_COUNT)

struct ns_totals {
	struct ns_totals *next;
	uint32_t nsid;
	struct nvmf_io_op_metrics op[NVMF_IO_OP_COUNT];
	unsigned nerrors;
	struct nvmf_io_error_metrics errors[NS_ERROR_ROOM];
};

/* The op an NVM command opcode counts as; false for others. */
bool stats_op_of(uint8_t opc, enum nvmf_io_op *op);

/* This queue pair's counters for nsid, made on first use; NULL when out
 * of memory (the command is then not counted).  Receive thread only. */
struct conn_ns_stats *conn_ns_stats(struct nvmf_conn *conn, uint32_t nsid);

static inline unsigned stats_latency_bucket(uint64_t ns)
{
	unsigned i;

	if (ns <= 1000)
		return 0;
	i = 64u - (unsigned)__builtin_clzll((ns - 1) / 1000);
	return i < NVMF_LATENCY_BUCKETS - 1 ? i : NVMF_LATENCY_BUCKETS - 1;
}

static inline void counter_bump(_Atomic uint64_t *c, uint64_t v, bool shared)
{
	if (shared)
		atomic_fetch_add_explicit(c, v, memory_order_relaxed);
	else
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
				      memory_order_relaxed);
}

/* A command completed after ns nanoseconds; shared: on a worker thread. */
static inline void stats_complete(struct conn_ns_stats *s, enum nvmf_io_op op, uint64_t bytes,
				  uint64_t ns, bool shared)
{
	struct op_counters *c = shared ? &s->wq[op] : &s->rx[op];

	counter_bump(&c->ops, 1, shared);
	if (bytes != 0)
		counter_bump(&c->bytes, bytes, shared);
	counter_bump(&c->latency_sum_ns, ns, shared);
	counter_bump(&c->latency[stats_latency_bucket(ns)], 1, shared);
}

/* A failed command on subsys's namespace nsid (any thread, no lock held
 * but the caller's command). */
void stats_note_error(struct nvmf_subsys *subsys, uint32_t nsid, enum nvmf_io_op op,
		      uint16_t status);

/* Commands and bytes of op on a live queue pair (any thread). */
void stats_conn_sum(struct nvmf_conn *conn, enum nvmf_io_op op, uint64_t *ops, uint64_t *bytes);

/* A queue pair of subsys goes: add its counters to the subsystem's totals
 * and free them (target lock held; no command of conn runs). */
void stats_retire_conn_locked(struct nvmf_conn *conn, struct nvmf_subsys *subsys);

/* Free a queue pair's counters (no command runs). */
void stats_conn_free(struct nvmf_conn *conn);

/* Free a subsystem's totals. */
void stats_subsys_free(struct nvmf_subsys *subsys);

#endif
