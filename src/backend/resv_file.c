/* SPDX-License-Identifier: MIT */
/*
 * The local reservation store (resv_store.h): one file, written whole to a
 * temporary file, synced and renamed over the old one, the directory
 * synced, so a crash leaves the old state or the new one.  Only this
 * process writes it, so versions are not kept (always 0).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"

struct resv_file {
	struct nvmf_resv_store base;
	char path[4096];
};

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int sync_dir(const char *path)
{
	char dir[4096];
	char *slash;
	int fd, rc = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		*(slash == dir ? slash + 1 : slash) = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int file_load(struct nvmf_resv_store *s, void *buf, size_t cap, size_t *len,
		     uint64_t *version)
{
	struct resv_file *f = (struct resv_file *)s;
	ssize_t n = 0;
	int fd, rc;

	*len = 0;
	*version = 0;
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno; /* ENOENT: nothing persisted */
	while (*len < cap && (n = read(fd, (uint8_t *)buf + *len, cap - *len)) > 0)
		*len += (size_t)n;
	rc = n < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int file_save(struct nvmf_resv_store *s, uint64_t version, const void *buf, size_t len,
		     const void *msg, size_t msglen, uint64_t *new_version)
{
	struct resv_file *f = (struct resv_file *)s;
	char tmp[sizeof(f->path) + 8];
	int fd, rc;

	(void)version, (void)msg, (void)msglen;
	*new_version = 0;
	if (len == 0) {
		/* PTPL cleared: the file goes, so a restart starts with none. */
		if (unlink(f->path) != 0 && errno != ENOENT)
			return -errno;
		return sync_dir(f->path);
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, buf, len);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, f->path) != 0)
		rc = -errno;
	if (rc != 0) {
		unlink(tmp);
		return rc;
	}
	return sync_dir(f->path);
}

static void file_close(struct nvmf_resv_store *s)
{
	free(s);
}

static const struct nvmf_resv_store_ops file_ops = {
	.load = file_load,
	.save = file_save,
	.close = file_close,
};

int nvmf_resv_store_open(struct nvmf_bdev *bdev, const char *path, nvmf_resv_changed_fn changed,
			 void *arg, struct nvmf_resv_store **store, char *err, size_t errlen)
{
	struct resv_file *f;

	*store = NULL;
	if (bdev->ops->resv_store_open != NULL)
		return bdev->ops->resv_store_open(bdev, changed, arg, store, err, errlen);
	if (path == NULL)
		return 0;
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (snprintf(f->path, sizeof(f->path), "%s", path) >= (int)sizeof(f->path)) {
		snprintf(err, errlen, "reservation state path too long");
		free(f);
		return -ENAMETOOLONG;
	}
	f->base.ops = &file_ops;
	f->base.where = f->path;
	*store = &f->base;
	return 0;
}
