/* SPDX-License-Identifier: MIT */
/*
 * The RBD reservation store (resv_store.h): one RADOS object per image,
 * "nvmf_resv.IMAGE_ID" in the image's pool and namespace, holding a 64-bit
 * little-endian version and then the controller's blob.
 *
 * A save is one RADOS write operation: compare the version bytes
 * (cmpext), then write the whole object.  The OSD applies an operation's
 * steps atomically, so of two gateways saving on the same version one
 * wins and the other gets -ECANCELED and loads again: a read-modify-write
 * without a lock to lose when a gateway dies holding it.  (An RBD image
 * metadata key has no compare step; an exclusive lock would need
 * breaking when its holder is killed.)
 *
 * Every gateway watches the object.  A save notifies it with the saver's
 * message and waits (NOTIFY_TIMEOUT_MS) for the watchers' acknowledgements;
 * a watcher marks its copy stale before acknowledging, so once a
 * reservation command completes, every gateway that acknowledged reads
 * the new state before its next I/O check.  A watch in error may have
 * missed notifies: the copy is stale after every load until a new watch
 * is in place.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "backend/rbd_internal.h"
#include "util/log.h"

#define OBJECT_PREFIX "nvmf_resv."
#define VERSION_LEN 8
#define NOTIFY_TIMEOUT_MS 5000

struct rbd_resv {
	struct nvmf_resv_store base;
	rados_ioctx_t ioctx;          /* this store's own: lives as long as it */
	char oid[sizeof(OBJECT_PREFIX) + 128];
	char where[sizeof(OBJECT_PREFIX) + 128 + 600];
	uint64_t self;                /* leads this store's notifies: its own are skipped */
	uint64_t cookie;              /* the watch */
	_Atomic bool watching;
	nvmf_resv_changed_fn changed;
	void *arg;
};

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* A notify from another gateway (its message after its self token). */
static void watch_cb(void *arg, uint64_t notify_id, uint64_t handle, uint64_t notifier,
		     void *data, size_t len)
{
	struct rbd_resv *s = arg;

	(void)notifier;
	if (len < 8)
		s->changed(s->arg, NULL, 0);
	else if (get_le64(data) != s->self)
		s->changed(s->arg, (uint8_t *)data + 8,
			   len - 8 > NVMF_RESV_MSG_MAX ? 0 : len - 8);
	rados_notify_ack(s->ioctx, s->oid, notify_id, handle, NULL, 0);
}

static void watch_err(void *arg, uint64_t cookie, int err)
{
	struct rbd_resv *s = arg;

	(void)cookie;
	atomic_store(&s->watching, false);
	s->changed(s->arg, NULL, 0);
	NVMF_WARN("nvmfd: %s: watch lost (%s): the reservation is read from the cluster before "
		  "every I/O until it is back", s->where, strerror(-err));
}

/* Watch again after an error; the caller loads afterwards. */
static void rewatch(struct rbd_resv *s)
{
	int rc;

	rados_unwatch2(s->ioctx, s->cookie);
	rc = rados_watch2(s->ioctx, s->oid, &s->cookie, watch_cb, watch_err, s);
	if (rc == 0) {
		atomic_store(&s->watching, true);
		NVMF_INFO("nvmfd: %s: watch back", s->where);
	}
}

static int resv_load(struct nvmf_resv_store *base, void *buf, size_t cap, size_t *len,
		     uint64_t *version)
{
	struct rbd_resv *s = (struct rbd_resv *)base;
	uint8_t *data = malloc(VERSION_LEN + cap);
	int n;

	*len = 0;
	*version = 0;
	if (data == NULL)
		return -ENOMEM;
	if (!atomic_load(&s->watching))
		rewatch(s);
	n = rados_read(s->ioctx, s->oid, (char *)data, VERSION_LEN + cap, 0);
	if (n >= VERSION_LEN) {
		*version = get_le64(data);
		*len = (size_t)n - VERSION_LEN;
		memcpy(buf, data + VERSION_LEN, *len);
	}
	free(data);
	/* Still no watch: the next check loads again. */
	if (!atomic_load(&s->watching))
		s->changed(s->arg, NULL, 0);
	if (n == -ENOENT)
		return 0; /* removed behind our back: no reservation, version 0 */
	if (n < 0)
		return n;
	return n < VERSION_LEN ? -EINVAL : 0;
}

static int resv_save(struct nvmf_resv_store *base, uint64_t version, const void *buf, size_t len,
		     const void *msg, size_t msglen, uint64_t *new_version)
{
	struct rbd_resv *s = (struct rbd_resv *)base;
	uint8_t *data = malloc(VERSION_LEN + (len > msglen ? len : msglen));
	uint8_t expect[VERSION_LEN];
	rados_write_op_t op;
	char *reply = NULL;
	size_t reply_len = 0;
	int rc, cmp = 0;

	if (data == NULL || msglen > NVMF_RESV_MSG_MAX) {
		free(data);
		return data == NULL ? -ENOMEM : -EINVAL;
	}
	op = rados_create_write_op();
	if (op == NULL) {
		free(data);
		return -ENOMEM;
	}
	put_le64(expect, version);
	if (version == 0)
		rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
	else
		rados_write_op_cmpext(op, (const char *)expect, VERSION_LEN, 0, &cmp);
	put_le64(data, version + 1);
	memcpy(data + VERSION_LEN, buf, len);
	rados_write_op_write_full(op, (const char *)data, VERSION_LEN + len);
	rc = rados_write_op_operate(op, s->ioctx, s->oid, NULL, 0);
	rados_release_write_op(op);
	/* A failed cmpext answers -MAX_ERRNO - offset (below -4095). */
	if (rc == -EEXIST || rc < -4095 || cmp < 0) {
		free(data);
		return -ECANCELED;
	}
	if (rc < 0) {
		free(data);
		return rc;
	}
	*new_version = version + 1;
	put_le64(data, s->self);
	memcpy(data + VERSION_LEN, msg, msglen);
	rc = rados_notify2(s->ioctx, s->oid, (const char *)data, (int)(VERSION_LEN + msglen),
			   NOTIFY_TIMEOUT_MS, &reply, &reply_len);
	if (reply != NULL)
		rados_buffer_free(reply);
	free(data);
	if (rc < 0)
		NVMF_WARN("nvmfd: %s: saved, but not every gateway acknowledged the change (%s); "
			  "one that missed it enforces the new reservation once its watch is "
			  "back", s->where, strerror(-rc));
	return 0;
}

static void store_free(struct rbd_resv *s)
{
	if (s->cookie != 0)
		rados_unwatch2(s->ioctx, s->cookie);
	/* No callback runs on s once this returns. */
	rados_watch_flush(rados_ioctx_get_cluster(s->ioctx));
	rados_ioctx_destroy(s->ioctx);
	free(s);
	rbd_cluster_put();
}

static void *close_thread(void *arg)
{
	store_free(arg);
	return NULL;
}

/* As rbd.c's close: never wait for librados on librbd's completion thread. */
static void resv_close(struct nvmf_resv_store *base)
{
	struct rbd_resv *s = (struct rbd_resv *)base;
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (!rbd_in_completion()) {
		store_free(s);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, close_thread, s);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		NVMF_ERR("nvmfd: %s left watched: no thread to close it (%s)", s->where,
			 strerror(rc));
}

static const struct nvmf_resv_store_ops rbd_resv_ops = {
	.load = resv_load,
	.save = resv_save,
	.close = resv_close,
};

/* The object exists (a watch needs one), at version 1 if new. */
static int create_object(struct rbd_resv *s)
{
	rados_write_op_t op = rados_create_write_op();
	uint8_t v1[VERSION_LEN];
	int rc;

	if (op == NULL)
		return -ENOMEM;
	put_le64(v1, 1);
	rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
	rados_write_op_write_full(op, (const char *)v1, sizeof(v1));
	rc = rados_write_op_operate(op, s->ioctx, s->oid, NULL, 0);
	rados_release_write_op(op);
	return rc == -EEXIST ? 0 : rc;
}

int rbd_resv_store_open(struct nvmf_bdev *bdev, nvmf_resv_changed_fn changed, void *arg,
			struct nvmf_resv_store **store, char *err, size_t errlen)
{
	struct rbd_bdev *r = (struct rbd_bdev *)bdev;
	struct rbd_resv *s = calloc(1, sizeof(*s));
	rados_t rados;
	int rc;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = rbd_cluster_get(&rados, err, errlen);
	if (rc != 0) {
		free(s);
		return rc;
	}
	snprintf(s->oid, sizeof(s->oid), OBJECT_PREFIX "%s", r->image_id);
	snprintf(s->where, sizeof(s->where), "reservation object %s of %s", s->oid, r->identity);
	s->base.ops = &rbd_resv_ops;
	s->base.shared = true;
	s->base.where = s->where;
	s->changed = changed;
	s->arg = arg;
	if (getrandom(&s->self, sizeof(s->self), 0) != sizeof(s->self))
		s->self = (uint64_t)(uintptr_t)s ^ (uint64_t)getpid() << 32;
	rc = rados_ioctx_create2(rados, rados_ioctx_get_id(r->ioctx), &s->ioctx);
	if (rc == 0) {
		rados_ioctx_set_namespace(s->ioctx, r->nspace);
		rc = create_object(s);
		if (rc == 0)
			rc = rados_watch2(s->ioctx, s->oid, &s->cookie, watch_cb, watch_err, s);
		if (rc != 0)
			rados_ioctx_destroy(s->ioctx);
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", s->where, strerror(-rc));
		free(s);
		rbd_cluster_put();
		return rc == -ETIMEDOUT ? -EHOSTUNREACH : rc;
	}
	atomic_store(&s->watching, true);
	*store = &s->base;
	return 0;
}
