/* SPDX-License-Identifier: MIT */
#include "util/host_io.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/test_util.h"

struct io_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	struct nvmf_cpl cpl;
};

static void io_done(void *arg, const struct nvmf_cpl *cpl)
{
	struct io_wait *w = arg;

	pthread_mutex_lock(&w->lock);
	w->cpl = *cpl;
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* One command on I/O queue ioq, waited for: 0 or its error. */
static int io_on(struct nvmf_ns *ns, unsigned ioq, bool write, uint64_t slba, void *buf,
		 size_t len)
{
	struct io_wait w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	uint32_t nlb = (uint32_t)(len / nvmf_ns_lba_size(ns));
	int ret = write ? nvmf_ns_write(ns, ioq, slba, nlb, buf, 0, io_done, &w)
			: nvmf_ns_read(ns, ioq, slba, nlb, buf, io_done, &w);

	if (ret != 0)
		return ret;
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	return nvmf_cpl_result(&w.cpl);
}

bool test_verify_io(struct nvmf_ctrl *c, uint32_t seed)
{
	struct nvmf_ns *ns = nvmf_ctrl_ns(c, 1);
	uint8_t *wbuf = malloc(TEST_IO_REGION), *rbuf = malloc(TEST_IO_REGION);
	size_t chunk = nvmf_ctrl_max_io_size(c) < TEST_IO_REGION ? nvmf_ctrl_max_io_size(c)
								 : TEST_IO_REGION;
	bool ok = ns != NULL && wbuf != NULL && rbuf != NULL;

	for (unsigned q = 1; ok && q <= nvmf_ctrl_nr_io_queues(c); q++) {
		uint64_t base = (uint64_t)(q - 1) * TEST_IO_REGION;

		test_fill(wbuf, TEST_IO_REGION, seed + q);
		memset(rbuf, 0, TEST_IO_REGION);
		for (size_t off = 0; ok && off < TEST_IO_REGION; off += chunk) {
			uint64_t slba = (base + off) / nvmf_ns_lba_size(ns);
			int ret = io_on(ns, q, true, slba, wbuf + off, chunk);

			if (ret == 0)
				ret = io_on(ns, q, false, slba, rbuf + off, chunk);
			if (ret != 0) {
				fprintf(stderr, "I/O on queue %u: %d\n", q, ret);
				ok = false;
			}
		}
		ok = ok && memcmp(wbuf, rbuf, TEST_IO_REGION) == 0;
	}
	if (!ok)
		fprintf(stderr, "I/O verification failed\n");
	free(wbuf);
	free(rbuf);
	return ok;
}

void *test_io_load_run(void *arg)
{
	struct test_io_load *l = arg;

	l->ok = true;
	while (l->ok && !atomic_load(&l->stop)) {
		l->ok = test_verify_io(l->c, l->base_seed + l->rounds);
		l->rounds++;
	}
	return NULL;
}
