/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the reservation state file loader (src/controller/resv.c),
 * the file nvmfd reads at start for a namespace with persist through power
 * loss.  Any bytes must be refused with a reason or accepted whole; never
 * read out of bounds.
 *
 * Input: a flags byte, then the file.  Flags bit 0: the harness writes the
 * file's CRC32C into its header first (the 4 bytes at offset 12, computed
 * with them zero, as resv.c does), so the fuzzer gets past the checksum to
 * the checks behind it.  The namespace is NSID 1 with UUID 5a5a...5a.
 *
 * Flags bit 1: the bytes are instead a notice message from another gateway
 * (an RBD namespace's watch delivers whatever was sent to the object): it
 * is refused, or accepted and encodes back to exactly the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "controller/resv.h"
#include "util/crc32c.h"

#define CRC_OFFSET 12
#define FLAG_FIX_CRC 0x01
#define FLAG_NOTICE_MSG 0x02

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t uuid[16];
	uint8_t *file;
	char why[160];
	size_t len;

	if (size < 1)
		return 0;
	len = size - 1;
	file = malloc(len + 1); /* exactly the file: ASan sees any overread */
	if (file == NULL)
		return 0;
	memcpy(file, data + 1, len);
	if (data[0] & FLAG_NOTICE_MSG) {
		uint8_t *again = malloc(len + 1);
		ssize_t n = again != NULL ? resv_msg_reencode(file, len, again, len) : -1;

		if (n >= 0 && ((size_t)n != len || memcmp(again, file, len) != 0))
			abort(); /* an accepted message means exactly what it says */
		free(again);
		free(file);
		return 0;
	}
	if ((data[0] & FLAG_FIX_CRC) && len >= CRC_OFFSET + 4) {
		uint32_t crc;

		memset(file + CRC_OFFSET, 0, 4);
		crc = nvmf_crc32c_final(nvmf_crc32c_update(NVMF_CRC32C_INIT, file, len));
		memcpy(file + CRC_OFFSET, &crc, 4);
	}
	memset(uuid, 0x5a, sizeof(uuid));
	why[0] = '\0';
	if (resv_state_parse(file, len, 1, uuid, why, sizeof(why)) != 0 && why[0] == '\0')
		abort(); /* a refusal always says why */
	free(file);
	return 0;
}
