/* SPDX-License-Identifier: MIT */
/*
 * The RAM disk backend: never-written blocks read as zeroes without
 * touching (faulting in) the namespace's pages, written blocks read back,
 * deallocated ones read as zeroes again, across page and zero-source
 * boundaries.
 */
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#include "backend/backend.h"
#include "util/test_util.h"

#define SIZE (64u << 20)
#define PAGE 4096u

static long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static struct nvmf_bdev *open_ramdisk(void)
{
	struct nvmf_bdev *bdev = NULL;
	char err[128];

	REQUIRE(nvmf_bdev_open("ramdisk:64M", 0, 512, false, &bdev, err, sizeof(err)) == 0);
	REQUIRE(bdev->ops->map != NULL);
	return bdev;
}

/* Reads spread over a fresh namespace, one per page: zeroes, few faults. */
static void fresh_reads(void)
{
	struct nvmf_bdev *bdev = open_ramdisk();
	static uint8_t buf[PAGE];
	const unsigned pages = 2000;
	bool zero = true;
	long faults;

	test_begin("fresh namespace: reads give zeroes and fault in no pages");
	faults = minor_faults();
	for (unsigned i = 0; i < pages; i++) {
		uint64_t off = (uint64_t)(i * 7919u % (SIZE / PAGE)) * PAGE;

		zero &= all_zero(bdev->ops->map(bdev, off, PAGE, false), PAGE);
		CHECK(bdev->ops->read(bdev, buf, PAGE, off + PAGE / 2 - 512) == 0);
		zero &= all_zero(buf, PAGE);
	}
	CHECK(zero);
	faults = minor_faults() - faults;
	/* One per page before; a margin for the allocator and the sanitizers. */
	if (faults >= pages / 4)
		fprintf(stderr, "%ld minor faults for %u fresh page reads\n", faults, pages);
	CHECK(faults < pages / 4);
	nvmf_bdev_close(bdev);
	test_end();
}

/* Written, partly written, deallocated and long ranges read back right. */
static void written_reads(void)
{
	struct nvmf_bdev *bdev = open_ramdisk();
	static uint8_t data[3 * PAGE], got[8u << 20];
	uint8_t *mem;

	test_begin("written, partly written and deallocated blocks read back");
	test_fill(data, sizeof(data), 19);
	/* Through map (the transport's way) and through write. */
	mem = bdev->ops->map(bdev, 10 * PAGE + 512, PAGE, true);
	memcpy(mem, data, PAGE);
	CHECK(bdev->ops->write(bdev, data + PAGE, 2 * PAGE, 20 * PAGE, false) == 0);

	/* A range from an untouched page into a written one, and on past it. */
	memcpy(got, bdev->ops->map(bdev, 9 * PAGE, 3 * PAGE, false), 3 * PAGE);
	CHECK(all_zero(got, PAGE + 512));
	CHECK(memcmp(got + PAGE + 512, data, PAGE) == 0);
	CHECK(all_zero(got + 2 * PAGE + 512, PAGE - 512));
	CHECK(bdev->ops->read(bdev, got, 2 * PAGE, 20 * PAGE) == 0);
	CHECK(memcmp(got, data + PAGE, 2 * PAGE) == 0);

	/* Longer than the zero source: untouched, then with one written page. */
	CHECK(bdev->ops->read(bdev, got, sizeof(got), 32u << 20) == 0);
	CHECK(all_zero(got, sizeof(got)));
	CHECK(bdev->ops->read(bdev, got, sizeof(got), 16 * PAGE) == 0);
	CHECK(all_zero(got, 4 * PAGE));
	CHECK(memcmp(got + 4 * PAGE, data + PAGE, 2 * PAGE) == 0);
	CHECK(all_zero(got + 6 * PAGE, sizeof(got) - 6 * PAGE));

	/* Deallocate a whole page and part of the next. */
	CHECK(bdev->ops->deallocate(bdev, 20 * PAGE, PAGE + 1024) == 0);
	CHECK(bdev->ops->read(bdev, got, 2 * PAGE, 20 * PAGE) == 0);
	CHECK(all_zero(got, PAGE + 1024));
	CHECK(memcmp(got + PAGE + 1024, data + 2 * PAGE + 1024, PAGE - 1024) == 0);
	CHECK(all_zero(bdev->ops->map(bdev, 20 * PAGE, PAGE, false), PAGE));
	/* Written again after deallocation. */
	CHECK(bdev->ops->write(bdev, data, PAGE, 20 * PAGE, false) == 0);
	CHECK(memcmp(bdev->ops->map(bdev, 20 * PAGE, PAGE, false), data, PAGE) == 0);

	/* Write Zeroes over the map-written page. */
	CHECK(bdev->ops->write_zeroes(bdev, 10 * PAGE, PAGE, false) == 0);
	CHECK(bdev->ops->read(bdev, got, 2 * PAGE, 10 * PAGE) == 0);
	CHECK(all_zero(got, PAGE));
	CHECK(memcmp(got + PAGE, data + PAGE - 512, 512) == 0);
	nvmf_bdev_close(bdev);
	test_end();
}

int main(void)
{
	fresh_reads();
	written_reads();
	return test_summary();
}
