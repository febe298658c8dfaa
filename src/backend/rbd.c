/* SPDX-License-Identifier: MIT */
/*
 * RBD backend: a namespace on a Ceph RBD image, "rbd:POOL/IMAGE" or
 * "rbd:POOL/NAMESPACE/IMAGE", through librbd.  Read, Write, Flush and Write
 * Zeroes go through librbd's asynchronous calls and complete on librbd's
 * callback thread (no thread per I/O); Compare, Dataset Management and the
 * flush of every namespace use the synchronous calls on the worker pool.
 * One cluster connection serves every image in the process.
 *
 * librbd's cache is off: with several gateways on one image a cached block
 * goes stale as soon as another gateway writes it, and without the cache
 * an acknowledged write is on the OSDs.  Cluster calls are bounded (mount,
 * monitor and OSD operation timeouts) so that a cluster gone away fails
 * I/O with -ETIMEDOUT instead of holding it forever.
 *
 * An image resized while served is noticed through librbd's update watch
 * (the header object's notifications): the new size goes to
 * bdev->grown_to, which the controller announces.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#include "backend/backend.h"
#include "backend/rbd_internal.h"
#include "nvmf/controller.h"
#include "util/clock.h"
#include "util/log.h"

#define RBD_PREFIX "rbd:"
#define RBD_NAME_MAX 256
/* A failed connect is reported again, without retrying, for this long:
 * namespaces opened together wait for one timeout, not one each. */
#define CONNECT_RETRY_MS 10000

/* Bounds on cluster calls, where ceph.conf and CEPH_ARGS left Ceph's default. */
static const struct {
	const char *name;
	double ceph_default;
	const char *bound;
} cluster_timeouts[] = {
	{"client_mount_timeout", 300, "20"}, /* reaching the monitors */
	{"rados_mon_op_timeout", 0, "20"},   /* 0: forever */
	{"rados_osd_op_timeout", 0, "20"},   /* every image I/O */
};

static struct {
	pthread_mutex_t lock;
	char conf_file[4096];         /* "": $CEPH_CONF, then Ceph's search */
	char client_id[64];
	rados_t rados;                /* NULL: not connected */
	unsigned users;               /* open images */
	char failure[256];            /* why the last connect failed */
	uint64_t failed_at_ns;
} cluster = {.lock = PTHREAD_MUTEX_INITIALIZER, .client_id = "admin"};

static struct rbd_bdev *to_rbd(struct nvmf_bdev *bdev)
{
	return (struct rbd_bdev *)bdev;
}

int nvmf_rbd_configure(const char *conf_file, const char *client_id)
{
	if (conf_file == NULL)
		conf_file = "";
	if (client_id == NULL)
		client_id = "admin";
	if (strlen(conf_file) >= sizeof(cluster.conf_file) ||
	    strlen(client_id) >= sizeof(cluster.client_id) || client_id[0] == '\0')
		return -EINVAL;
	pthread_mutex_lock(&cluster.lock);
	strcpy(cluster.conf_file, conf_file);
	strcpy(cluster.client_id, client_id);
	pthread_mutex_unlock(&cluster.lock);
	return 0;
}

static void bound_timeouts(rados_t rados)
{
	for (size_t i = 0; i < sizeof(cluster_timeouts) / sizeof(cluster_timeouts[0]); i++) {
		char value[64];

		if (rados_conf_get(rados, cluster_timeouts[i].name, value, sizeof(value)) == 0 &&
		    strtod(value, NULL) == cluster_timeouts[i].ceph_default)
			rados_conf_set(rados, cluster_timeouts[i].name, cluster_timeouts[i].bound);
	}
}

/* Connects with cluster.lock held.  -EHOSTUNREACH: the cluster did not answer. */
static int cluster_connect_locked(char *err, size_t errlen)
{
	const char *conf = cluster.conf_file[0] != '\0' ? cluster.conf_file : NULL;
	sigset_t all, old;
	rados_t rados;
	int rc;

	rc = rados_create(&rados, cluster.client_id);
	if (rc < 0) {
		snprintf(err, errlen, "creating a Ceph client: %s", strerror(-rc));
		return rc;
	}
	rc = rados_conf_read_file(rados, conf);
	if (rc < 0) {
		snprintf(err, errlen, "reading the Ceph configuration %.160s: %s",
			 conf != NULL ? conf : "($CEPH_CONF or /etc/ceph/ceph.conf)", strerror(-rc));
		rados_shutdown(rados);
		return rc;
	}
	rados_conf_parse_env(rados, NULL); /* CEPH_ARGS */
	bound_timeouts(rados);
	rados_conf_set(rados, "rbd_cache", "false");
	/* librados' threads leave signals to the application's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = rados_connect(rados);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		snprintf(err, errlen, "cannot connect to the Ceph cluster as client.%s: %s",
			 cluster.client_id,
			 rc == -ENOENT ? "no keyring for it, or no monitor address" : strerror(-rc));
		rados_shutdown(rados);
		return -EHOSTUNREACH;
	}
	cluster.rados = rados;
	return 0;
}

/* The shared connection, made on first use; the caller is one more user. */
int rbd_cluster_get(rados_t *rados, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&cluster.lock);
	if (cluster.rados == NULL) {
		if (cluster.failed_at_ns != 0 &&
		    nvmf_now_ns() - cluster.failed_at_ns < CONNECT_RETRY_MS * 1000000ull) {
			snprintf(err, errlen, "%s", cluster.failure);
			rc = -EHOSTUNREACH;
		} else {
			rc = cluster_connect_locked(err, errlen);
			if (rc == -EHOSTUNREACH) {
				snprintf(cluster.failure, sizeof(cluster.failure), "%s", err);
				cluster.failed_at_ns = nvmf_now_ns();
			}
		}
	}
	if (rc == 0) {
		cluster.failed_at_ns = 0;
		cluster.users++;
		*rados = cluster.rados;
	}
	pthread_mutex_unlock(&cluster.lock);
	return rc;
}

void rbd_cluster_put(void)
{
	pthread_mutex_lock(&cluster.lock);
	if (--cluster.users == 0) {
		rados_shutdown(cluster.rados);
		cluster.rados = NULL;
	}
	pthread_mutex_unlock(&cluster.lock);
}

/* Set on librbd's thread while it runs a completion (rbd_close_bdev). */
static _Thread_local bool in_completion;

bool rbd_in_completion(void)
{
	return in_completion;
}

static void rbd_io_done(rbd_completion_t c, void *arg)
{
	struct nvmf_bdev_io *io = arg;
	ssize_t rc = rbd_aio_get_return_value(c);

	rbd_aio_release(c);
	in_completion = true;
	io->done(io, rc < 0 ? (int)rc : 0);
	in_completion = false;
}

static void rbd_submit(struct nvmf_bdev *bdev, struct nvmf_bdev_io *io)
{
	rbd_image_t image = to_rbd(bdev)->image;
	rbd_completion_t c;
	int rc = rbd_aio_create_completion(io, rbd_io_done, &c);

	if (rc < 0) {
		io->done(io, rc);
		return;
	}
	switch (io->op) {
	case NVMF_BDEV_READ:
		rc = rbd_aio_read(image, io->offset, io->len, io->buf, c);
		break;
	case NVMF_BDEV_WRITE:
		/* FUA: written through to the OSDs whatever the cache settings. */
		rc = rbd_aio_write2(image, io->offset, io->len, io->buf, c,
				    io->fua ? LIBRADOS_OP_FLAG_FADVISE_FUA : 0);
		break;
	case NVMF_BDEV_FLUSH:
		rc = rbd_aio_flush(image, c);
		break;
	case NVMF_BDEV_WRITE_ZEROES:
		/* librbd deallocates the whole objects in the range either way. */
		rc = rbd_aio_write_zeroes(image, io->offset, io->len, c, 0, 0);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	if (rc < 0) {
		rbd_aio_release(c);
		io->done(io, rc);
	}
}

static int rbd_read_sync(struct nvmf_bdev *bdev, void *buf, size_t len, uint64_t offset)
{
	ssize_t n = rbd_read(to_rbd(bdev)->image, offset, len, buf);

	if (n < 0)
		return (int)n;
	if ((size_t)n < len)
		memset((uint8_t *)buf + n, 0, len - (size_t)n); /* past a shrunk image's end */
	return 0;
}

static int rbd_write_sync(struct nvmf_bdev *bdev, const void *buf, size_t len, uint64_t offset,
			  bool fua)
{
	ssize_t n = rbd_write2(to_rbd(bdev)->image, offset, len, buf,
			       fua ? LIBRADOS_OP_FLAG_FADVISE_FUA : 0);

	return n < 0 ? (int)n : 0;
}

static int rbd_flush_sync(struct nvmf_bdev *bdev)
{
	return rbd_flush(to_rbd(bdev)->image);
}

static int rbd_write_zeroes_sync(struct nvmf_bdev *bdev, uint64_t offset, uint64_t len,
				 bool deallocate)
{
	ssize_t n = rbd_write_zeroes(to_rbd(bdev)->image, offset, len, 0, 0);

	return n < 0 ? (int)n : 0;
}

static int rbd_deallocate(struct nvmf_bdev *bdev, uint64_t offset, uint64_t len)
{
	return rbd_discard(to_rbd(bdev)->image, offset, len);
}

static void close_image(struct rbd_bdev *r)
{
	/* Waits for a running header_updated. */
	if (r->watching)
		rbd_update_unwatch(r->image, r->watch);
	rbd_close(r->image);
	rados_ioctx_destroy(r->ioctx);
	free(r);
	rbd_cluster_put();
}

static void *close_thread(void *arg)
{
	close_image(arg);
	return NULL;
}

/*
 * The last reference to a namespace can go with the command a completion
 * answers (a reload removed it meanwhile): librbd's own thread must not
 * wait for librbd there (rbd_close, rados_shutdown), so another thread
 * closes it.
 */
static void rbd_close_bdev(struct nvmf_bdev *bdev)
{
	struct rbd_bdev *r = to_rbd(bdev);
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (!in_completion) {
		close_image(r);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, close_thread, r);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		NVMF_ERR("nvmfd: rbd image %s left open: no thread to close it (%s)", r->identity,
			 strerror(rc));
}

static const struct nvmf_backend_ops rbd_ops = {
	.name = "rbd",
	.read = rbd_read_sync,
	.write = rbd_write_sync,
	.flush = rbd_flush_sync,
	.write_zeroes = rbd_write_zeroes_sync,
	.deallocate = rbd_deallocate,
	.submit = rbd_submit,
	.resv_store_open = rbd_resv_store_open,
	.close = rbd_close_bdev,
};

/*
 * The image's header changed (resize, snapshot, features), on librbd's
 * notification thread; reading the size here is what Ceph's own rbd-ggate
 * does.  Only growth is passed on.
 */
static void header_updated(void *arg)
{
	struct rbd_bdev *r = arg;
	uint64_t size;
	int rc = rbd_get_size(r->image, &size);

	if (rc < 0) {
		NVMF_WARN("nvmfd: rbd image %s: size after a header update: %s", r->identity,
			  strerror(-rc));
		return;
	}
	size = size / r->bdev.block_size * r->bdev.block_size;
	if (size > r->bdev.size)
		atomic_store(&r->bdev.grown_to, size);
	else if (size < r->bdev.size)
		NVMF_WARN("nvmfd: rbd image %s shrank to %llu bytes; the namespace keeps %llu (I/O past the image's end fails)",
			  r->identity, (unsigned long long)size, (unsigned long long)r->bdev.size);
}

struct rbd_name {
	char pool[RBD_NAME_MAX];
	char nspace[RBD_NAME_MAX];    /* "": the pool's default namespace */
	char image[RBD_NAME_MAX];
};

/* "rbd:POOL/IMAGE" or "rbd:POOL/NAMESPACE/IMAGE", no part empty. */
static int parse_name(const char *path, struct rbd_name *name)
{
	char *parts[3];
	char copy[3 * RBD_NAME_MAX];
	char *save = NULL, *p;
	unsigned n = 0;
	const char *spec = path + strlen(RBD_PREFIX);

	if (strlen(spec) >= sizeof(copy) || strstr(spec, "//") != NULL || spec[0] == '/' ||
	    spec[0] == '\0' || spec[strlen(spec) - 1] == '/')
		return -EINVAL;
	strcpy(copy, spec);
	for (p = strtok_r(copy, "/", &save); p != NULL; p = strtok_r(NULL, "/", &save)) {
		if (n == 3 || strlen(p) >= RBD_NAME_MAX)
			return -EINVAL;
		parts[n++] = p;
	}
	if (n < 2)
		return -EINVAL;
	strcpy(name->pool, parts[0]);
	strcpy(name->nspace, n == 3 ? parts[1] : "");
	strcpy(name->image, parts[n - 1]);
	return 0;
}

/* The image's size and identity; the image is open. */
static int describe_image(struct rbd_bdev *r, rados_t rados, const struct rbd_name *name,
			  uint32_t block_size, char *err, size_t errlen)
{
	char fsid[64], id[128];
	uint64_t size;
	int rc;

	rc = rbd_get_size(r->image, &size);
	if (rc == 0)
		rc = rbd_get_id(r->image, id, sizeof(id));
	if (rc == 0)
		rc = rados_cluster_fsid(rados, fsid, sizeof(fsid)) < 0 ? -EIO : 0;
	if (rc != 0) {
		snprintf(err, errlen, "reading the image's size and id: %s", strerror(-rc));
		return rc;
	}
	r->bdev.block_size = block_size != 0 ? block_size : 512;
	r->bdev.size = size / r->bdev.block_size * r->bdev.block_size;
	if (r->bdev.size == 0) {
		snprintf(err, errlen, "the image holds no whole %u-byte block", r->bdev.block_size);
		return -EINVAL;
	}
	snprintf(r->image_id, sizeof(r->image_id), "%s", id);
	snprintf(r->nspace, sizeof(r->nspace), "%s", name->nspace);
	snprintf(r->identity, sizeof(r->identity), "rbd:%s/%lld/%s/%s", fsid,
		 (long long)rados_ioctx_get_id(r->ioctx), name->nspace, id);
	r->bdev.identity = r->identity;
	return 0;
}

static int open_image(struct rbd_bdev *r, rados_t rados, const struct rbd_name *name,
		      bool readonly, char *err, size_t errlen)
{
	int rc = rados_ioctx_create(rados, name->pool, &r->ioctx);

	if (rc < 0) {
		snprintf(err, errlen, "pool %s: %s", name->pool, strerror(-rc));
		return rc == -ETIMEDOUT ? -EHOSTUNREACH : rc;
	}
	rados_ioctx_set_namespace(r->ioctx, name->nspace);
	rc = readonly ? rbd_open_read_only(r->ioctx, name->image, &r->image, NULL)
		      : rbd_open(r->ioctx, name->image, &r->image, NULL);
	if (rc < 0) {
		snprintf(err, errlen, "image %s%s%s in pool %s: %s", name->nspace,
			 name->nspace[0] != '\0' ? "/" : "", name->image, name->pool,
			 strerror(-rc));
		rados_ioctx_destroy(r->ioctx);
		return rc == -ETIMEDOUT ? -EHOSTUNREACH : rc;
	}
	return 0;
}

int nvmf_backend_rbd_open(const char *path, uint32_t block_size, bool readonly,
			  struct nvmf_bdev **bdev, char *err, size_t errlen)
{
	struct rbd_name name;
	struct rbd_bdev *r;
	rados_t rados;
	char why[256];
	int rc;

	if (parse_name(path, &name) != 0) {
		snprintf(err, errlen, "%s: want rbd:POOL/IMAGE or rbd:POOL/NAMESPACE/IMAGE", path);
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = rbd_cluster_get(&rados, why, sizeof(why));
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		free(r);
		return rc;
	}
	rc = open_image(r, rados, &name, readonly, why, sizeof(why));
	if (rc == 0) {
		rc = describe_image(r, rados, &name, block_size, why, sizeof(why));
		if (rc != 0) {
			rbd_close(r->image);
			rados_ioctx_destroy(r->ioctx);
		}
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		free(r);
		rbd_cluster_put();
		return rc;
	}
	r->bdev.ops = &rbd_ops;
	r->bdev.readonly = readonly;
	r->bdev.fd = -1;
	rc = rbd_update_watch(r->image, &r->watch, header_updated, r);
	if (rc < 0)
		NVMF_WARN("nvmfd: %s: no watch on the image's header (%s): a resize will not be noticed",
			  path, strerror(-rc));
	r->watching = rc == 0;
	*bdev = &r->bdev;
	return 0;
}
