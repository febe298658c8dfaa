/* SPDX-License-Identifier: MIT */
/*
 * File and block device backends: pread/pwrite on the page cache,
 * fdatasync for Flush, pwritev2(RWF_DSYNC) for FUA writes, and fallocate
 * (PUNCH_HOLE, ZERO_RANGE) for deallocation and Write Zeroes, falling back
 * to writing zeroes where the file system or device cannot.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "backend/backend.h"

#define ZERO_CHUNK (64 * 1024)

static const uint8_t zero_chunk[ZERO_CHUNK];

static int file_read(struct nvmf_bdev *bdev, void *buf, size_t len, uint64_t offset)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pread(bdev->fd, p, len, (off_t)offset);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			/* Past the end of a file someone truncated: reads as zeroes. */
			memset(p, 0, len);
			return 0;
		}
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

static int file_write(struct nvmf_bdev *bdev, const void *buf, size_t len, uint64_t offset,
		      bool fua)
{
	const uint8_t *p = buf;

	while (len > 0) {
		struct iovec iov = {.iov_base = (void *)p, .iov_len = len};
		/* FUA: this write alone is durable when it returns. */
		ssize_t n = pwritev2(bdev->fd, &iov, 1, (off_t)offset, fua ? RWF_DSYNC : 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

static int file_flush(struct nvmf_bdev *bdev)
{
	return fdatasync(bdev->fd) == 0 ? 0 : -errno;
}

static int write_zero_bytes(struct nvmf_bdev *bdev, uint64_t offset, uint64_t len)
{
	while (len > 0) {
		size_t n = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;
		int rc = file_write(bdev, zero_chunk, n, offset, false);

		if (rc != 0)
			return rc;
		offset += n;
		len -= n;
	}
	return 0;
}

static int file_write_zeroes(struct nvmf_bdev *bdev, uint64_t offset, uint64_t len,
			     bool deallocate)
{
	int mode = deallocate && bdev->deallocate_zeroes
			   ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
			   : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;

	if (fallocate(bdev->fd, mode, (off_t)offset, (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EINVAL && errno != ENODEV)
		return -errno;
	return write_zero_bytes(bdev, offset, len);
}

static int file_deallocate(struct nvmf_bdev *bdev, uint64_t offset, uint64_t len)
{
	if (fallocate(bdev->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
		      (off_t)len) == 0)
		return 0;
	/* Deallocation is advisory: a backing without it keeps the data. */
	if (errno == EOPNOTSUPP || errno == EINVAL || errno == ENODEV)
		return bdev->deallocate_zeroes ? write_zero_bytes(bdev, offset, len) : 0;
	return -errno;
}

static void file_close(struct nvmf_bdev *bdev)
{
	close(bdev->fd);
	free(bdev);
}

const struct nvmf_backend_ops nvmf_backend_file_ops = {
	.name = "file",
	.inline_io = false,
	.read = file_read,
	.write = file_write,
	.flush = file_flush,
	.write_zeroes = file_write_zeroes,
	.deallocate = file_deallocate,
	.close = file_close,
};

const struct nvmf_backend_ops nvmf_backend_blockdev_ops = {
	.name = "block",
	.inline_io = false,
	.read = file_read,
	.write = file_write,
	.flush = file_flush,
	.write_zeroes = file_write_zeroes,
	.deallocate = file_deallocate,
	.close = file_close,
};

/*
 * Size a file we just created and make it and its directory entry durable:
 * a namespace the host has been told exists must not vanish in a power cut.
 */
static int file_settle_new(int fd, const char *path, uint64_t size, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int dfd, rc = 0;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (ftruncate(fd, (off_t)size) != 0 || fsync(fd) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot size new file: %s", path, strerror(-rc));
		return rc;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot sync directory %s: %s", path, dir, strerror(-rc));
	}
	if (dfd >= 0)
		close(dfd);
	return rc;
}

int nvmf_backend_file_open(const char *path, uint64_t create_size, uint32_t block_size,
			   bool readonly, struct nvmf_bdev **out, char *err, size_t errlen)
{
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct nvmf_bdev *bdev;
	struct stat st;
	uint64_t size;
	int fd, rc;

	fd = open(path, flags);
	if (fd < 0 && errno == ENOENT && create_size != 0 && !readonly) {
		fd = open(path, flags | O_CREAT | O_EXCL, 0600);
		if (fd >= 0 && (rc = file_settle_new(fd, path, create_size, err, errlen)) != 0) {
			close(fd);
			unlink(path);
			return rc;
		}
	}
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s%s", path, strerror(-rc),
			 rc == -ENOENT ? " (give a size to create it)" : "");
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	bdev = calloc(1, sizeof(*bdev));
	if (bdev == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	bdev->fd = fd;
	bdev->readonly = readonly;
	if (S_ISBLK(st.st_mode)) {
		int lbs = 512;

		if (ioctl(fd, BLKGETSIZE64, &size) != 0 || ioctl(fd, BLKSSZGET, &lbs) != 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: cannot read the device size: %s", path,
				 strerror(-rc));
			goto fail;
		}
		if (block_size == 0)
			block_size = lbs >= 4096 ? 4096 : 512;
		if ((int)block_size < lbs) {
			snprintf(err, errlen, "%s: block size %u is below the device's %d", path,
				 block_size, lbs);
			rc = -EINVAL;
			goto fail;
		}
		bdev->ops = &nvmf_backend_blockdev_ops;
		/* Discard does not promise zeroes on every device. */
		bdev->deallocate_zeroes = false;
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
		if (block_size == 0)
			block_size = 4096;
		bdev->ops = &nvmf_backend_file_ops;
		/* A punched hole reads back as zeroes. */
		bdev->deallocate_zeroes = true;
	} else {
		snprintf(err, errlen, "%s: not a regular file or block device", path);
		rc = -EINVAL;
		goto fail;
	}
	bdev->block_size = block_size;
	bdev->size = size / block_size * block_size;
	if (bdev->size == 0) {
		snprintf(err, errlen, "%s: smaller than one %u-byte block", path, block_size);
		rc = -EINVAL;
		goto fail;
	}
	*out = bdev;
	return 0;

fail:
	close(fd);
	free(bdev);
	return rc;
}
