/* SPDX-License-Identifier: MIT */
/*
 * RAM disk backend: anonymous memory reserved lazily (MAP_NORESERVE), so a
 * large ramdisk costs only what is written.  Operations are memory copies
 * and run inline on the receive thread.  Deallocation hands whole pages
 * back to the kernel (they read back as zeroes).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/backend.h"

#ifdef __SANITIZE_THREAD__
/* ThreadSanitizer's dynamic annotation, from libtsan. */
void AnnotateBenignRaceSized(const char *file, int line, const volatile void *mem, size_t size,
			     const char *desc);
#endif

static int ram_read(struct nvmf_bdev *bdev, void *buf, size_t len, uint64_t offset)
{
	memcpy(buf, bdev->mem + offset, len);
	return 0;
}

static int ram_write(struct nvmf_bdev *bdev, const void *buf, size_t len, uint64_t offset,
		     bool fua)
{
	memcpy(bdev->mem + offset, buf, len);
	return 0;
}

static uint8_t *ram_map(struct nvmf_bdev *bdev, uint64_t offset)
{
	return bdev->mem + offset;
}

static int ram_flush(struct nvmf_bdev *bdev)
{
	return 0;
}

/* Zero a range: whole pages are dropped, the partial ends cleared. */
static int ram_zero(struct nvmf_bdev *bdev, uint64_t offset, uint64_t len)
{
	const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t start = (offset + page - 1) / page * page;
	uint64_t end = (offset + len) / page * page;

	if (start >= end) {
		memset(bdev->mem + offset, 0, len);
		return 0;
	}
	memset(bdev->mem + offset, 0, start - offset);
	memset(bdev->mem + end, 0, offset + len - end);
	if (madvise(bdev->mem + start, end - start, MADV_DONTNEED) != 0)
		memset(bdev->mem + start, 0, end - start);
	return 0;
}

static int ram_write_zeroes(struct nvmf_bdev *bdev, uint64_t offset, uint64_t len,
			    bool deallocate)
{
	return ram_zero(bdev, offset, len);
}

static int ram_deallocate(struct nvmf_bdev *bdev, uint64_t offset, uint64_t len)
{
	return ram_zero(bdev, offset, len);
}

static void ram_close(struct nvmf_bdev *bdev)
{
	munmap(bdev->mem, bdev->size);
	free(bdev);
}

const struct nvmf_backend_ops nvmf_backend_ramdisk_ops = {
	.name = "ramdisk",
	.inline_io = true,
	.read = ram_read,
	.map = ram_map,
	.write = ram_write,
	.flush = ram_flush,
	.write_zeroes = ram_write_zeroes,
	.deallocate = ram_deallocate,
	.close = ram_close,
};

int nvmf_backend_ramdisk_open(uint64_t size, uint32_t block_size, struct nvmf_bdev **out,
			      char *err, size_t errlen)
{
	struct nvmf_bdev *bdev;

	if (block_size == 0)
		block_size = 512;
	size = size / block_size * block_size;
	if (size == 0) {
		snprintf(err, errlen, "ramdisk smaller than one %u-byte block", block_size);
		return -EINVAL;
	}
	bdev = calloc(1, sizeof(*bdev));
	if (bdev == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	bdev->mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (bdev->mem == MAP_FAILED) {
		int rc = -errno;

		snprintf(err, errlen, "ramdisk of %llu bytes: %s", (unsigned long long)size,
			 strerror(-rc));
		free(bdev);
		return rc;
	}
#ifdef __SANITIZE_THREAD__
	/* Hosts may read and write the same blocks at once: NVMe leaves what such
	 * a read returns undefined, and the transport moves namespace data in
	 * place; the memory's races are the hosts', not the program's. */
	AnnotateBenignRaceSized(__FILE__, __LINE__, bdev->mem, size, "namespace data");
#endif
	bdev->ops = &nvmf_backend_ramdisk_ops;
	bdev->size = size;
	bdev->block_size = block_size;
	bdev->fd = -1;
	bdev->deallocate_zeroes = true;
	*out = bdev;
	return 0;
}
