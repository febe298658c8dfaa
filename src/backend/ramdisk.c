/* SPDX-License-Identifier: MIT */
/*
 * RAM disk backend: anonymous memory reserved lazily (MAP_NORESERVE), so a
 * large ramdisk costs only what is written.  Operations are memory copies
 * and run inline on the receive thread.  Deallocation hands whole pages
 * back to the kernel (they read back as zeroes).
 *
 * Reads of pages never written must not touch them: the first read of an
 * anonymous page is a page fault (~15 us under a hypervisor's shadow
 * paging, as long as ten 4 KiB reads), and a random read over a fresh
 * namespace takes one per page until every page has been read once.  A
 * bitmap records the pages that may hold data ("touched"); a read of
 * untouched pages is served from a small read-only region whose page tables
 * all point at the kernel's zero page.  Invariant: an untouched page reads
 * as zeroes.
 */
#include <errno.h>
#include <stdatomic.h>
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

/* The zero source's size: reads longer than this populate instead. */
#define RAM_ZERO_MAX (4u << 20)

struct ramdisk {
	struct nvmf_bdev bdev;            /* first: ops get &rd->bdev */
	_Atomic uint64_t *touched;        /* a bit per page */
	const uint8_t *zeroes;            /* zero_len bytes mapping the zero page */
	size_t zero_len;
	unsigned page_shift;
};

static struct ramdisk *ram_of(struct nvmf_bdev *bdev)
{
	return (struct ramdisk *)bdev;
}

/* The bits of word w inside pages [first, last]. */
static uint64_t word_mask(uint64_t w, uint64_t first, uint64_t last)
{
	uint64_t lo = w == first / 64 ? first % 64 : 0;
	uint64_t hi = w == last / 64 ? last % 64 : 63;

	return (hi == 63 ? ~0ull : (2ull << hi) - 1) & ~((1ull << lo) - 1);
}

/* Whether none, or all, of pages [first, last] are touched. */
static void touched_range(struct ramdisk *rd, uint64_t first, uint64_t last, bool *none,
			  bool *all)
{
	*none = true;
	*all = true;
	for (uint64_t w = first / 64; w <= last / 64; w++) {
		uint64_t m = word_mask(w, first, last);
		uint64_t bits = atomic_load_explicit(&rd->touched[w], memory_order_relaxed) & m;

		if (bits != 0)
			*none = false;
		if (bits != m)
			*all = false;
	}
}

static void touch(struct ramdisk *rd, uint64_t first, uint64_t last, bool set)
{
	for (uint64_t w = first / 64; w <= last / 64; w++) {
		uint64_t m = word_mask(w, first, last);
		uint64_t bits = atomic_load_explicit(&rd->touched[w], memory_order_relaxed);

		/* Only writers of a page's first data pay the atomic. */
		if (set && (bits & m) != m)
			atomic_fetch_or_explicit(&rd->touched[w], m, memory_order_relaxed);
		else if (!set && (bits & m) != 0)
			atomic_fetch_and_explicit(&rd->touched[w], ~m, memory_order_relaxed);
	}
}

/*
 * The bytes at offset.  A writer's pages are marked touched before it
 * writes; a reader of untouched pages gets the zero source, and a reader of
 * partly touched ones has the rest mapped (to the zero page) in one call
 * rather than a fault per page.
 */
static uint8_t *ram_map(struct nvmf_bdev *bdev, uint64_t offset, size_t len, bool write)
{
	struct ramdisk *rd = ram_of(bdev);
	uint64_t first = offset >> rd->page_shift;
	uint64_t last = (offset + len - 1) >> rd->page_shift;
	bool none, all;

	if (len == 0)
		return bdev->mem + offset;
	if (write) {
		touch(rd, first, last, true);
		return bdev->mem + offset;
	}
	touched_range(rd, first, last, &none, &all);
	if (none && len <= rd->zero_len)
		return (uint8_t *)rd->zeroes;
	if (!all) {
		uint64_t start = first << rd->page_shift;

		/* Best effort: where it fails the copy faults the pages in. */
		(void)madvise(bdev->mem + start, ((last + 1) << rd->page_shift) - start,
			      MADV_POPULATE_READ);
		touch(rd, first, last, true);
	}
	return bdev->mem + offset;
}

static int ram_read(struct nvmf_bdev *bdev, void *buf, size_t len, uint64_t offset)
{
	memcpy(buf, ram_map(bdev, offset, len, false), len);
	return 0;
}

static int ram_write(struct nvmf_bdev *bdev, const void *buf, size_t len, uint64_t offset,
		     bool fua)
{
	memcpy(ram_map(bdev, offset, len, true), buf, len);
	return 0;
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
	/* Untouched before dropped: a reader in between already sees zeroes. */
	touch(ram_of(bdev), start / page, end / page - 1, false);
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
	struct ramdisk *rd = ram_of(bdev);

	munmap(bdev->mem, bdev->size);
	if (rd->zeroes != NULL)
		munmap((void *)rd->zeroes, rd->zero_len);
	free(rd->touched);
	free(rd);
}

/* The zero source: read-only, its pages the kernel's zero page. */
static int ram_zero_source(struct ramdisk *rd)
{
	size_t page = (size_t)1 << rd->page_shift;
	uint64_t len = rd->bdev.size < RAM_ZERO_MAX ? rd->bdev.size : RAM_ZERO_MAX;
	void *p;

	len = (len + page - 1) / page * page;
	p = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* Where this fails (before Linux 5.14) the first reads fault it in. */
	(void)madvise(p, len, MADV_POPULATE_READ);
	rd->zeroes = p;
	rd->zero_len = len;
	return 0;
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
	const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	struct ramdisk *rd;
	struct nvmf_bdev *bdev;
	int rc;

	if (block_size == 0)
		block_size = 512;
	size = size / block_size * block_size;
	if (size == 0) {
		snprintf(err, errlen, "ramdisk smaller than one %u-byte block", block_size);
		return -EINVAL;
	}
	rd = calloc(1, sizeof(*rd));
	if (rd != NULL)
		rd->touched = calloc((size + page * 64 - 1) / (page * 64), sizeof(*rd->touched));
	if (rd == NULL || rd->touched == NULL) {
		snprintf(err, errlen, "out of memory");
		if (rd != NULL)
			free(rd);
		return -ENOMEM;
	}
	rd->page_shift = (unsigned)__builtin_ctzll(page);
	bdev = &rd->bdev;
	bdev->ops = &nvmf_backend_ramdisk_ops;
	bdev->size = size;
	bdev->mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	rc = bdev->mem == MAP_FAILED ? -errno : ram_zero_source(rd);
	if (rc != 0) {
		snprintf(err, errlen, "ramdisk of %llu bytes: %s", (unsigned long long)size,
			 strerror(-rc));
		if (bdev->mem != MAP_FAILED)
			munmap(bdev->mem, size);
		free(rd->touched);
		free(rd);
		return rc;
	}
#ifdef __SANITIZE_THREAD__
	/* Hosts may read and write the same blocks at once: NVMe leaves what such
	 * a read returns undefined, and the transport moves namespace data in
	 * place; the memory's races are the hosts', not the program's. */
	AnnotateBenignRaceSized(__FILE__, __LINE__, bdev->mem, size, "namespace data");
#endif
	bdev->block_size = block_size;
	bdev->fd = -1;
	bdev->deallocate_zeroes = true;
	*out = bdev;
	return 0;
}
