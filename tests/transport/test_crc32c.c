/* SPDX-License-Identifier: MIT */
/* CRC32C against published vectors (RFC 3720 B.4, the "123456789" check). */
#include <string.h>

#include "util/crc32c.h"
#include "util/test_util.h"

static const uint8_t iscsi_read_pdu[48] = {
	0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
	0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

int main(void)
{
	uint8_t buf[32];
	uint32_t crc;

	test_begin("CRC32C published vectors");
	CHECK_EQ(nvmf_crc32c("123456789", 9), 0xe3069283u);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(nvmf_crc32c(buf, sizeof(buf)), 0x8a9136aau);
	memset(buf, 0xff, sizeof(buf));
	CHECK_EQ(nvmf_crc32c(buf, sizeof(buf)), 0x62a8ab43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	CHECK_EQ(nvmf_crc32c(buf, sizeof(buf)), 0x46dd794eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	CHECK_EQ(nvmf_crc32c(buf, sizeof(buf)), 0x113fdb5cu);
	CHECK_EQ(nvmf_crc32c(iscsi_read_pdu, sizeof(iscsi_read_pdu)), 0xd9963a56u);
	/* The wire form is little-endian: zeros give aa 36 91 8a (RFC 3720). */
	memset(buf, 0, sizeof(buf));
	crc = nvmf_crc32c(buf, sizeof(buf));
	CHECK(memcmp(&crc, "\xaa\x36\x91\x8a", 4) == 0);
	/* A running CRC over pieces equals the CRC of the whole. */
	crc = nvmf_crc32c_update(NVMF_CRC32C_INIT, "1234", 4);
	crc = nvmf_crc32c_update(crc, "56789", 5);
	CHECK_EQ(nvmf_crc32c_final(crc), 0xe3069283u);
	test_end();
	return test_summary();
}
