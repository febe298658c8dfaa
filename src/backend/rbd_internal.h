/* SPDX-License-Identifier: MIT */
/*
 * What the RBD backend's files share: rbd.c (the image, the cluster
 * connection) and rbd_resv.c (the reservation store next to the image).
 */
#ifndef NVMF_BACKEND_RBD_INTERNAL_H
#define NVMF_BACKEND_RBD_INTERNAL_H

#include <rados/librados.h>
#include <rbd/librbd.h>

#include "backend/backend.h"

struct rbd_bdev {
	struct nvmf_bdev bdev;
	rados_ioctx_t ioctx;
	rbd_image_t image;
	uint64_t watch;               /* rbd_update_watch handle */
	bool watching;
	char image_id[128];
	char nspace[256];             /* RADOS namespace; "": the pool's default */
	char identity[512];           /* cluster fsid, pool id, namespace, image id */
};

/* The process's one cluster connection, counted: 0 or a negative errno
 * (-EHOSTUNREACH: the cluster did not answer) with the reason in err. */
int rbd_cluster_get(rados_t *rados, char *err, size_t errlen);
void rbd_cluster_put(void);

/* On librbd's thread, running an I/O completion: no waiting for librados. */
bool rbd_in_completion(void);

int rbd_resv_store_open(struct nvmf_bdev *bdev, nvmf_resv_changed_fn changed, void *arg,
			struct nvmf_resv_store **store, char *err, size_t errlen);

#endif
