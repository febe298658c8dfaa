/* SPDX-License-Identifier: MIT */
/*
 * What a data digest costs the side that sends the data, in CPU
 * nanoseconds per block: nvmf_crc32c_update against
 * nvmf_crc32c_update_cold (src/util/crc32c.h, what the transmit path
 * uses), over blocks at random places of a region as large as the RAM
 * namespaces bench/run.py serves (cold: as a target reading a namespace
 * sees them) and over one block again and again (hot: a host's buffer it
 * has just written).  Rounds are interleaved; the median counts.
 *
 *   build/bench/digest_cost [REGION_MIB]
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/crc32c.h"

#define ROUNDS 7
#define BYTES_PER_ROUND (256ull << 20)

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile uint32_t sink;

/* ns per block of bs bytes; cold: at random blocks of the region. */
static double run(const uint8_t *region, size_t region_len, size_t bs, bool cold,
		  bool prefetch)
{
	uint64_t blocks = region_len / bs, seed = 0x9e3779b97f4a7c15ull;
	unsigned long n = (unsigned long)(BYTES_PER_ROUND / bs);
	uint32_t crc = NVMF_CRC32C_INIT;
	double t0 = cpu_ns();

	for (unsigned long i = 0; i < n; i++) {
		const uint8_t *p = region;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		if (cold)
			p += (seed >> 33) % blocks * bs;
		crc = prefetch ? nvmf_crc32c_update_cold(crc, p, bs) : nvmf_crc32c_update(crc, p, bs);
	}
	sink = crc;
	return (cpu_ns() - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	const size_t sizes[] = {4096, 131072};
	size_t region_len;
	uint8_t *region;

	if (mib < 1 || mib > 65536) {
		fprintf(stderr, "digest_cost: REGION_MIB must be 1 to 65536\n");
		return 2;
	}
	region_len = (size_t)mib << 20;
	region = malloc(region_len);
	if (region == NULL) {
		fprintf(stderr, "digest_cost: out of memory\n");
		return 1;
	}
	memset(region, 0x5a, region_len);
	printf("| block | data | CRC only (ns) | prefetched (ns) | prefetched / CRC only |\n");
	printf("|---|---|---|---|---|\n");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (int c = 1; c >= 0; c--) {
			bool cold = c == 1;
			double plain[ROUNDS], pref[ROUNDS];

			for (int r = 0; r < ROUNDS; r++) {
				plain[r] = run(region, region_len, sizes[s], cold, false);
				pref[r] = run(region, region_len, sizes[s], cold, true);
			}
			qsort(plain, ROUNDS, sizeof(double), cmp_double);
			qsort(pref, ROUNDS, sizeof(double), cmp_double);
			printf("| %zu KiB | %s | %.0f | %.0f | %.2f |\n", sizes[s] >> 10,
			       cold ? "cold (random blocks)" : "hot (one block)", plain[ROUNDS / 2],
			       pref[ROUNDS / 2], pref[ROUNDS / 2] / plain[ROUNDS / 2]);
		}
	free(region);
	return 0;
}
