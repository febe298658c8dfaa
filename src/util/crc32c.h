/* SPDX-License-Identifier: MIT */
/*
 * CRC32C (Castagnoli), the NVMe/TCP header and data digest, through ISA-L.
 * A running CRC starts at NVMF_CRC32C_INIT and is finished with
 * nvmf_crc32c_final; the wire form is the finished value, little-endian.
 */
#ifndef NVMF_UTIL_CRC32C_H
#define NVMF_UTIL_CRC32C_H

#include <isa-l/crc.h>
#include <stddef.h>
#include <stdint.h>

#define NVMF_CRC32C_INIT 0xffffffffu

static inline uint32_t nvmf_crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	/* ISA-L takes an int length. */
	while (len > (1u << 30)) {
		crc = crc32_iscsi((unsigned char *)p, 1 << 30, crc);
		p += 1u << 30;
		len -= 1u << 30;
	}
	return crc32_iscsi((unsigned char *)p, (int)len, crc);
}

/*
 * The same, for bytes that may not be in cache (namespace data about to be
 * sent).  The CRC's chain of dependent instructions waits out each cache
 * miss in turn; prefetching the first page's lines at once overlaps them,
 * and past that page the hardware prefetcher has caught on.
 * bench/digest_cost measures both on cold and hot blocks.
 */
#define NVMF_CRC32C_PREFETCH_BYTES 4096u
#define NVMF_CACHE_LINE_BYTES 64u

static inline uint32_t nvmf_crc32c_update_cold(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t head = len < NVMF_CRC32C_PREFETCH_BYTES ? len : NVMF_CRC32C_PREFETCH_BYTES;

	for (size_t off = 0; off < head; off += NVMF_CACHE_LINE_BYTES)
		__builtin_prefetch(p + off);
	return nvmf_crc32c_update(crc, buf, len);
}

static inline uint32_t nvmf_crc32c_final(uint32_t crc)
{
	return ~crc;
}

static inline uint32_t nvmf_crc32c(const void *buf, size_t len)
{
	return nvmf_crc32c_final(nvmf_crc32c_update(NVMF_CRC32C_INIT, buf, len));
}

#endif
