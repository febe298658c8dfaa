/* SPDX-License-Identifier: MIT */
/*
 * Reservation stores: where a namespace's reservation state lives, as an
 * opaque versioned blob that the controller (resv.c) encodes and decodes.
 *
 * The local store (resv_file.c) is a file in the state directory that only
 * this process writes; it keeps the state across restarts (PTPL).  A shared
 * store belongs to storage that several gateways serve (RBD: a RADOS object
 * next to the image, rbd_resv.c): every gateway writes it, so a change is a
 * compare-and-swap on the version, and the other gateways hear of it
 * through their changed callback.
 */
#ifndef NVMF_BACKEND_RESV_STORE_H
#define NVMF_BACKEND_RESV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nvmf_bdev;
struct nvmf_resv_store;

/*
 * Another gateway changed the shared state (msg: what its save passed, up
 * to NVMF_RESV_MSG_MAX bytes, untrusted), or changes may have been missed
 * (msg NULL).  Runs on a backend thread; must not block.
 */
typedef void (*nvmf_resv_changed_fn)(void *arg, const void *msg, size_t len);

#define NVMF_RESV_MSG_MAX 8192

struct nvmf_resv_store_ops {
	/* The stored blob, up to cap bytes (*len 0: nothing stored), and
	 * its version.  0 or a negative errno. */
	int (*load)(struct nvmf_resv_store *s, void *buf, size_t cap, size_t *len,
		    uint64_t *version);
	/*
	 * Replace the blob loaded at version with buf (len 0: remove it);
	 * -ECANCELED: someone else changed it since (load again).  A shared
	 * store then passes msg to the other gateways' changed callbacks
	 * before returning.  *new_version: the version now stored.
	 */
	int (*save)(struct nvmf_resv_store *s, uint64_t version, const void *buf, size_t len,
		    const void *msg, size_t msglen, uint64_t *new_version);
	void (*close)(struct nvmf_resv_store *s);
};

struct nvmf_resv_store {
	const struct nvmf_resv_store_ops *ops;
	bool shared;                  /* other gateways write it too */
	const char *where;            /* names it in log lines */
};

/*
 * The store for a namespace on bdev: the storage's shared one where it has
 * one (RBD), else the file at path (NULL: none, *store set to NULL).
 * changed is only called for a shared store.  0 or a negative errno with
 * the reason in err.
 */
int nvmf_resv_store_open(struct nvmf_bdev *bdev, const char *path, nvmf_resv_changed_fn changed,
			 void *arg, struct nvmf_resv_store **store, char *err, size_t errlen);

#endif
