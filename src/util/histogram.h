/* SPDX-License-Identifier: MIT */
/*
 * Latency histogram: log-linear buckets in nanoseconds, 64 per power of two
 * (under 1.6% error), fixed size, no allocation.  One per thread; merge to
 * report.  Used by the benchmarks and by `nvmf perf`.
 */
#ifndef NVMF_UTIL_HISTOGRAM_H
#define NVMF_UTIL_HISTOGRAM_H

#include <stdint.h>
#include <string.h>

#define NVMF_HIST_SUB_BITS 6u
#define NVMF_HIST_SUB (1u << NVMF_HIST_SUB_BITS)
#define NVMF_HIST_MAX_MSB 40u /* ~18 minutes; longer lands in the last bucket */
#define NVMF_HIST_BUCKETS ((NVMF_HIST_MAX_MSB - NVMF_HIST_SUB_BITS + 2) * NVMF_HIST_SUB)

struct nvmf_histogram {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t buckets[NVMF_HIST_BUCKETS];
};

static inline unsigned nvmf_hist_index(uint64_t ns)
{
	unsigned msb, shift;

	if (ns < NVMF_HIST_SUB)
		return (unsigned)ns;
	msb = 63u - (unsigned)__builtin_clzll(ns);
	if (msb > NVMF_HIST_MAX_MSB)
		return NVMF_HIST_BUCKETS - 1;
	shift = msb - NVMF_HIST_SUB_BITS;
	return (shift + 1) * NVMF_HIST_SUB + (unsigned)(ns >> shift) - NVMF_HIST_SUB;
}

static inline void nvmf_hist_add(struct nvmf_histogram *h, uint64_t ns)
{
	h->count++;
	h->sum_ns += ns;
	h->buckets[nvmf_hist_index(ns)]++;
}

static inline void nvmf_hist_merge(struct nvmf_histogram *into, const struct nvmf_histogram *h)
{
	into->count += h->count;
	into->sum_ns += h->sum_ns;
	for (unsigned i = 0; i < NVMF_HIST_BUCKETS; i++)
		into->buckets[i] += h->buckets[i];
}

static inline void nvmf_hist_reset(struct nvmf_histogram *h)
{
	memset(h, 0, sizeof(*h));
}

/* Midpoint of a bucket, in ns. */
static inline double nvmf_hist_bucket_ns(unsigned index)
{
	unsigned shift;
	uint64_t low;

	if (index < NVMF_HIST_SUB)
		return index;
	shift = index / NVMF_HIST_SUB - 1;
	low = (uint64_t)(index % NVMF_HIST_SUB + NVMF_HIST_SUB) << shift;
	return (double)low + (double)((1ull << shift) - 1) / 2;
}

static inline double nvmf_hist_mean_usec(const struct nvmf_histogram *h)
{
	return h->count != 0 ? (double)h->sum_ns / (double)h->count / 1000 : 0;
}

/* The latency at or below which a fraction of the samples lie, in us. */
static inline double nvmf_hist_percentile_usec(const struct nvmf_histogram *h, double fraction)
{
	double exact_rank = fraction * (double)h->count;
	uint64_t rank = (uint64_t)exact_rank, seen = 0;

	if ((double)rank < exact_rank || rank == 0)
		rank++;
	for (unsigned i = 0; i < NVMF_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank)
			return nvmf_hist_bucket_ns(i) / 1000;
	}
	return 0;
}

#endif
