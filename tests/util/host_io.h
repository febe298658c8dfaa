/* SPDX-License-Identifier: MIT */
/* Verified I/O through the host library, for tests against live targets. */
#ifndef TESTS_UTIL_HOST_IO_H
#define TESTS_UTIL_HOST_IO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvmf/host.h"

/* Bytes written and read back per I/O queue, at that queue's own offset. */
#define TEST_IO_REGION (256 * 1024)

/*
 * Write a pattern (seed + queue number) on every I/O queue of the
 * controller, each over namespace 1 at its own offset, in commands up to
 * the controller's limit; read it back and compare.
 */
bool test_verify_io(struct nvmf_ctrl *c, uint32_t seed);

/* test_verify_io round after round (seeds base_seed, base_seed + 1, ...)
 * on a thread of its own until stop is set: start it with pthread_create
 * and test_io_load_run. */
struct test_io_load {
	struct nvmf_ctrl *c;
	uint32_t base_seed;
	atomic_bool stop;
	bool ok;           /* every round verified */
	unsigned rounds;
};

void *test_io_load_run(void *arg);

#endif
