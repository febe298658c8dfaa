/* SPDX-License-Identifier: MIT */
/*
 * Namespace backends: the storage behind a namespace, reached through an
 * ops table.  Offsets and lengths are in bytes and already checked against
 * the namespace size by the caller.  Operations return 0 or a negative
 * errno.  A backend with inline_io set never blocks (the ramdisk), so the
 * controller may run it on the transport's receive thread; the others run
 * on the worker pool (struct nvmf_workq), except that a backend with
 * submit (RBD) takes Read, Write, Flush and Write Zeroes asynchronously and
 * completes them from its own threads.  -EHOSTUNREACH from open: the
 * storage cannot be reached now (the namespace is left out, the rest served).
 */
#ifndef NVMF_BACKEND_H
#define NVMF_BACKEND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/resv_store.h"

struct nvmf_bdev;

enum nvmf_bdev_op {
	NVMF_BDEV_READ,
	NVMF_BDEV_WRITE,
	NVMF_BDEV_FLUSH,
	NVMF_BDEV_WRITE_ZEROES,
};

/* One asynchronous operation, embedded in its owner (the command). */
struct nvmf_bdev_io {
	enum nvmf_bdev_op op;
	void *buf;                    /* READ, WRITE */
	uint64_t offset, len;
	bool fua;                     /* WRITE */
	bool deallocate;              /* WRITE_ZEROES */
	/* Called once, on any thread, possibly before submit returns. */
	void (*done)(struct nvmf_bdev_io *io, int rc);
};

struct nvmf_backend_ops {
	const char *name;
	bool inline_io;
	int (*read)(struct nvmf_bdev *bdev, void *buf, size_t len, uint64_t offset);
	int (*write)(struct nvmf_bdev *bdev, const void *buf, size_t len, uint64_t offset,
		     bool fua);
	int (*flush)(struct nvmf_bdev *bdev);
	/* Zero a range; deallocate: the blocks may be unmapped (reads give 0). */
	int (*write_zeroes)(struct nvmf_bdev *bdev, uint64_t offset, uint64_t len,
			    bool deallocate);
	/* Deallocate (punch a hole) where the backing supports it; a no-op otherwise. */
	int (*deallocate)(struct nvmf_bdev *bdev, uint64_t offset, uint64_t len);
	/*
	 * Memory-backed namespaces only (NULL otherwise): the len bytes at
	 * offset, valid while the namespace is open, so transfers move straight
	 * between the socket and the namespace with no bounce buffer.  For a
	 * read (!write) the bytes may be elsewhere (never-written blocks come
	 * from a shared zero source) and must not be written.
	 */
	uint8_t *(*map)(struct nvmf_bdev *bdev, uint64_t offset, size_t len, bool write);
	/* Optional: start io; its done callback reports the result. */
	void (*submit)(struct nvmf_bdev *bdev, struct nvmf_bdev_io *io);
	/* Optional: the storage's shared reservation store (resv_store.h). */
	int (*resv_store_open)(struct nvmf_bdev *bdev, nvmf_resv_changed_fn changed, void *arg,
			       struct nvmf_resv_store **store, char *err, size_t errlen);
	void (*close)(struct nvmf_bdev *bdev);
};

struct nvmf_bdev {
	const struct nvmf_backend_ops *ops;
	uint64_t size;                /* bytes, a multiple of block_size */
	uint32_t block_size;
	bool readonly;
	bool deallocate_zeroes;       /* deallocated blocks read back as zeroes */
	int fd;                       /* file and block device */
	uint8_t *mem;                 /* ramdisk */
	/* Names the storage wherever it is opened (RBD: cluster, pool, image
	 * id), so every gateway derives the same namespace identifiers;
	 * NULL: they come from subsystem, NSID and path. */
	const char *identity;
	/* Storage that can grow under the daemon (RBD: rbd resize) stores its
	 * new size here, in bytes, from any thread; the controller takes it
	 * (0: nothing new) and announces the new capacity. */
	_Atomic uint64_t grown_to;
};

/*
 * Open the backing named by path: "ramdisk:SIZE", a block device, or a
 * regular file (created with create_size bytes when missing and
 * create_size != 0).  block_size 0 picks the backing's own.  Returns 0 or
 * a negative errno with a reason in err.
 */
int nvmf_bdev_open(const char *path, uint64_t create_size, uint32_t block_size, bool readonly,
		   struct nvmf_bdev **bdev, char *err, size_t errlen);
void nvmf_bdev_close(struct nvmf_bdev *bdev);

extern const struct nvmf_backend_ops nvmf_backend_file_ops;
extern const struct nvmf_backend_ops nvmf_backend_blockdev_ops;
extern const struct nvmf_backend_ops nvmf_backend_ramdisk_ops;

int nvmf_backend_file_open(const char *path, uint64_t create_size, uint32_t block_size,
			   bool readonly, struct nvmf_bdev **bdev, char *err, size_t errlen);
/* path: "rbd:POOL/IMAGE" or "rbd:POOL/NAMESPACE/IMAGE". */
int nvmf_backend_rbd_open(const char *path, uint32_t block_size, bool readonly,
			  struct nvmf_bdev **bdev, char *err, size_t errlen);
int nvmf_backend_ramdisk_open(uint64_t size, uint32_t block_size, struct nvmf_bdev **bdev,
			      char *err, size_t errlen);

/*
 * The worker pool: a fixed set of threads running queued work items in
 * order.  Items are embedded in their owner (no allocation per item).
 */
struct nvmf_work {
	struct nvmf_work *next;
	void (*fn)(struct nvmf_work *work);
};

struct nvmf_workq;

struct nvmf_workq *nvmf_workq_create(unsigned nthreads);
void nvmf_workq_submit(struct nvmf_workq *wq, struct nvmf_work *work);
/* Runs what is queued, then stops the threads and frees the pool. */
void nvmf_workq_destroy(struct nvmf_workq *wq);

#endif
