/* SPDX-License-Identifier: MIT */
/* Backend selection by path, size parsing, and the worker pool. */
#include "backend/backend.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf/controller.h"
#include "util/lock.h"
#include "util/thread.h"

#define RAMDISK_PREFIX "ramdisk:"
#define RBD_PREFIX "rbd:"

int nvmf_parse_size(const char *text, uint64_t *bytes)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (text == NULL || !isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (*end != '\0') {
		end++;
		/* Accept "4G", "4GB", "4GiB". */
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end != '\0')
			return -EINVAL;
	}
	if (shift != 0 && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*bytes = (uint64_t)v << shift;
	return 0;
}

int nvmf_bdev_open(const char *path, uint64_t create_size, uint32_t block_size, bool readonly,
		   struct nvmf_bdev **bdev, char *err, size_t errlen)
{
	if (block_size != 0 && block_size != 512 && block_size != 4096) {
		snprintf(err, errlen, "block size %u: must be 512 or 4096", block_size);
		return -EINVAL;
	}
	if (strncmp(path, RAMDISK_PREFIX, strlen(RAMDISK_PREFIX)) == 0) {
		uint64_t size;

		if (nvmf_parse_size(path + strlen(RAMDISK_PREFIX), &size) != 0 || size == 0) {
			snprintf(err, errlen, "%s: bad ramdisk size (want e.g. ramdisk:512M)", path);
			return -EINVAL;
		}
		return nvmf_backend_ramdisk_open(size, block_size, bdev, err, errlen);
	}
	if (strncmp(path, RBD_PREFIX, strlen(RBD_PREFIX)) == 0)
		return nvmf_backend_rbd_open(path, block_size, readonly, bdev, err, errlen);
	return nvmf_backend_file_open(path, create_size, block_size, readonly, bdev, err, errlen);
}

#ifndef NVMF_HAVE_RBD
int nvmf_backend_rbd_open(const char *path, uint32_t block_size, bool readonly,
			  struct nvmf_bdev **bdev, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: this build has no RBD support (librbd-dev was missing)", path);
	return -ENOTSUP;
}

int nvmf_rbd_configure(const char *conf_file, const char *client_id)
{
	return 0;
}
#endif

void nvmf_bdev_close(struct nvmf_bdev *bdev)
{
	if (bdev != NULL)
		bdev->ops->close(bdev);
}

/* ------------------------------------------------------------------ */
/* Worker pool                                                         */
/* ------------------------------------------------------------------ */

struct nvmf_workq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct nvmf_work *head, **tail;
	bool stop;
	unsigned nthreads;
	pthread_t threads[];
};

static void *workq_main(void *arg)
{
	struct nvmf_workq *wq = arg;

	nvmf_mutex_lock(&wq->lock);
	for (;;) {
		struct nvmf_work *work;

		while (wq->head == NULL && !wq->stop)
			pthread_cond_wait(&wq->cond, &wq->lock);
		work = wq->head;
		if (work == NULL)
			break; /* stopping, and nothing left */
		wq->head = work->next;
		if (wq->head == NULL)
			wq->tail = &wq->head;
		nvmf_mutex_unlock(&wq->lock);
		work->fn(work);
		nvmf_mutex_lock(&wq->lock);
	}
	nvmf_mutex_unlock(&wq->lock);
	return NULL;
}

struct nvmf_workq *nvmf_workq_create(unsigned nthreads)
{
	struct nvmf_workq *wq;
	sigset_t all, old;

	if (nthreads == 0)
		nthreads = 1;
	wq = calloc(1, sizeof(*wq) + nthreads * sizeof(pthread_t));
	if (wq == NULL)
		return NULL;
	nvmf_mutex_init(&wq->lock);
	pthread_cond_init(&wq->cond, NULL);
	wq->tail = &wq->head;
	/* Workers leave signals to the application's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; wq->nthreads < nthreads; wq->nthreads++) {
		if (pthread_create(&wq->threads[wq->nthreads], NULL, workq_main, wq) != 0)
			break;
		nvmf_thread_name(wq->threads[wq->nthreads], "nvmf-io/%u", wq->nthreads);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (wq->nthreads == 0) {
		nvmf_workq_destroy(wq);
		errno = EAGAIN;
		return NULL;
	}
	return wq;
}

void nvmf_workq_submit(struct nvmf_workq *wq, struct nvmf_work *work)
{
	work->next = NULL;
	nvmf_mutex_lock(&wq->lock);
	*wq->tail = work;
	wq->tail = &work->next;
	pthread_cond_signal(&wq->cond);
	nvmf_mutex_unlock(&wq->lock);
}

void nvmf_workq_destroy(struct nvmf_workq *wq)
{
	if (wq == NULL)
		return;
	nvmf_mutex_lock(&wq->lock);
	wq->stop = true;
	pthread_cond_broadcast(&wq->cond);
	nvmf_mutex_unlock(&wq->lock);
	for (unsigned i = 0; i < wq->nthreads; i++)
		pthread_join(wq->threads[i], NULL);
	pthread_cond_destroy(&wq->cond);
	pthread_mutex_destroy(&wq->lock);
	free(wq);
}
