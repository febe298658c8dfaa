/* SPDX-License-Identifier: MIT */
/*
 * host_lib's two halves: test_host_lib.c (calls, I/O, discovery, events)
 * and test_host_lib_recovery.c (bring-up through the wire relay, keep
 * alive, reconnection, controller loss, timeouts), and what they share.
 */
#ifndef TESTS_HOST_LIB_TEST_H
#define TESTS_HOST_LIB_TEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/nvmfd_proc.h"
#include "nvmf/host.h"

#define NQN "nqn.2024-01.io.example:host-test"
#define NQN2 "nqn.2024-01.io.example:host-test-2"

/* Completion counting for asynchronous commands. */
struct counter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned done;
	unsigned failed;
	int first_error;
	uint16_t first_status;
};

#define COUNTER_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0}

/* The options every case starts from: nvmfd d's port, NQN, two I/O queues. */
struct nvmf_host_opts opts_for(const struct nvmfd_proc *d);
struct nvmf_ctrl *connect_or_die(const struct nvmf_host_opts *o);
bool wait_state(struct nvmf_ctrl *c, enum nvmf_ctrl_state want, int ms);
void count_cb(void *arg, const struct nvmf_cpl *cpl);
bool counter_wait(struct counter *c, unsigned n, int ms);
/* One subsystem (a second namespace, a second subsystem, on request). */
void write_config(const char *path, uint16_t port, bool second_ns, bool second_subsys);

/* test_host_lib_recovery.c */
extern unsigned kill_delay_us; /* make stress: from NVMF_SEED */
void test_csts_rdy_wait(void);
void test_discovery_genctr(void);
void test_connect_all_sqflow(void);
void test_keep_alive(void);
void test_reconnect(void);
void test_reconnect_timing(void);
void test_ctrl_loss(void);
void test_command_timeout(void);
void test_stale_cid(void);
void test_short_read(void);
void test_disconnect_busy(void);
void test_discover_default_port(void);

#endif
