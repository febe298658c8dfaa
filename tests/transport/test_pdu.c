/* SPDX-License-Identifier: MIT */
/*
 * The PDU header validator on its own: each field in the specification's
 * order, the lowest wrong field reported first, lengths bounded.
 */
#include <string.h>

#include "tcp/pdu.h"
#include "util/test_util.h"

static const struct nvmf_tcp_rx_rules ctrl_rules = {
	.controller = true, .initialized = true, .rxpda = 4, .max_icd = 8192,
	.max_data = 1u << 20,
};

static enum nvmf_tcp_verdict check(uint8_t type, uint8_t flags, uint8_t hlen, uint8_t pdo,
				   uint32_t plen, const struct nvmf_tcp_rx_rules *rules,
				   uint16_t *fes, uint32_t *fei, struct nvmf_tcp_pdu_layout *layout)
{
	struct nvme_tcp_common_hdr ch = {.pdu_type = type, .flags = flags, .hlen = hlen,
					 .pdo = pdo, .plen = plen};

	*fes = 0;
	*fei = 0xdead;
	return nvmf_tcp_validate_ch(&ch, rules, layout, fes, fei);
}

int main(void)
{
	struct nvmf_tcp_rx_rules rules = ctrl_rules;
	struct nvmf_tcp_pdu_layout l;
	uint16_t fes;
	uint32_t fei;

	test_begin("PDU validator: field order and lengths");
	/* A good command with 512 bytes in the capsule. */
	CHECK_EQ(check(4, 0, 72, 72, 72 + 512, &rules, &fes, &fei, &l), NVMF_TCP_PDU_VALID);
	CHECK_EQ(l.header_len, 72);
	CHECK_EQ(l.data_len, 512);
	CHECK_EQ(l.pad_len, 0);
	/* Several wrong fields: the lowest offset (FLAGS, then HLEN...) is named. */
	CHECK_EQ(check(4, 0x08, 71, 3, 5, &rules, &fes, &fei, &l), NVMF_TCP_PDU_FATAL);
	CHECK_EQ(fes, 1);
	CHECK_EQ(fei, 1);
	CHECK_EQ(check(4, 0, 71, 3, 5, &rules, &fes, &fei, &l), NVMF_TCP_PDU_FATAL);
	CHECK_EQ(fei, 2);
	CHECK_EQ(check(4, 0, 72, 3, 80, &rules, &fes, &fei, &l), NVMF_TCP_PDU_FATAL);
	CHECK_EQ(fei, 3);
	/* PLEN beyond what the queue accepts: refused before anything is read. */
	CHECK_EQ(check(4, 0, 72, 72, 0xffffffffu, &rules, &fes, &fei, &l), NVMF_TCP_PDU_FATAL);
	CHECK_EQ(fes, 1);
	CHECK_EQ(fei, 4);
	CHECK_EQ(check(6, 0, 24, 24, 24 + (1u << 20) + 1, &rules, &fes, &fei, &l),
		 NVMF_TCP_PDU_FATAL);
	CHECK_EQ(fei, 4);
	/* Padding to the receiver's alignment is accepted and measured. */
	rules.rxpda = 32;
	CHECK_EQ(check(6, 0, 24, 32, 32 + 4096, &rules, &fes, &fei, &l), NVMF_TCP_PDU_VALID);
	CHECK_EQ(l.pad_len, 8);
	CHECK_EQ(check(6, 0, 24, 28, 28 + 4096, &rules, &fes, &fei, &l), NVMF_TCP_PDU_FATAL);
	CHECK_EQ(fei, 3);
	rules.rxpda = 4;
	/* Digests: exactly as negotiated; the data digest only with data. */
	rules.header_digests = rules.data_digests = true;
	CHECK_EQ(check(4, 1, 72, 0, 76, &rules, &fes, &fei, &l), NVMF_TCP_PDU_VALID);
	CHECK_EQ(l.header_len, 76);
	CHECK_EQ(check(4, 3, 72, 76, 76 + 100 + 4, &rules, &fes, &fei, &l), NVMF_TCP_PDU_VALID);
	CHECK(l.data_digest);
	CHECK_EQ(l.data_len, 100);
	CHECK_EQ(check(4, 1, 72, 76, 76 + 100, &rules, &fes, &fei, &l), NVMF_TCP_PDU_FATAL);
	CHECK_EQ(fei, 1);
	CHECK_EQ(check(4, 0, 72, 0, 72, &rules, &fes, &fei, &l), NVMF_TCP_PDU_FATAL);
	CHECK_EQ(fei, 1);
	/* TermReq: never digests; a bad length means close without a reply. */
	CHECK_EQ(check(2, 0, 24, 0, 24 + 128, &rules, &fes, &fei, &l), NVMF_TCP_PDU_VALID);
	CHECK_EQ(l.data_len, 128);
	CHECK_EQ(check(2, 0, 24, 0, 24 + 129, &rules, &fes, &fei, &l), NVMF_TCP_PDU_CLOSE);
	CHECK_EQ(check(2, 1, 24, 0, 28, &rules, &fes, &fei, &l), NVMF_TCP_PDU_FATAL);
	rules.header_digests = rules.data_digests = false;
	/* Direction and phase. */
	CHECK_EQ(check(7, 0, 24, 24, 4120, &rules, &fes, &fei, &l), NVMF_TCP_PDU_FATAL);
	CHECK_EQ(fei, 0);
	CHECK_EQ(check(0, 0, 128, 0, 128, &rules, &fes, &fei, &l), NVMF_TCP_PDU_FATAL);
	CHECK_EQ(fei, 0);
	rules.initialized = false;
	CHECK_EQ(check(0, 0, 128, 0, 128, &rules, &fes, &fei, &l), NVMF_TCP_PDU_VALID);
	CHECK_EQ(check(4, 0, 72, 0, 72, &rules, &fes, &fei, &l), NVMF_TCP_PDU_FATAL);
	CHECK_EQ(fei, 0);
	/* Host side: SUCCESS needs LAST_PDU. */
	rules = ctrl_rules;
	rules.controller = false;
	CHECK_EQ(check(7, 0x0c, 24, 24, 24 + 512, &rules, &fes, &fei, &l), NVMF_TCP_PDU_VALID);
	CHECK_EQ(check(7, 0x08, 24, 24, 24 + 512, &rules, &fes, &fei, &l), NVMF_TCP_PDU_FATAL);
	CHECK_EQ(fei, 1);
	/* R2T and CapsuleResp carry no data. */
	CHECK_EQ(check(9, 0, 24, 0, 28, &rules, &fes, &fei, &l), NVMF_TCP_PDU_FATAL);
	CHECK_EQ(fei, 4);
	test_end();
	return test_summary();
}
