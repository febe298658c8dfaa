/* SPDX-License-Identifier: MIT */
/*
 * Regression test for a transport bug (src/tcp/tcp_tx.c, fixed): a controller
 * queue pair has queue-size x R2Ts-per-command transfer tags.  A write
 * arriving while every tag was taken got no R2T, and when a tag freed only
 * the command that held it was considered again, so the waiting write never
 * completed.  Waiting transfers now queue for tags, oldest first.
 *
 * A raw host sends 40 writes by R2T to a bare controller queue pair of 32
 * entries and answers each R2T: all 40 must complete (8 used to hang).
 */
#include <string.h>
#include <unistd.h>

#include "transport/loopback.h"
#include "util/raw_pdu.h"
#include "util/test_util.h"

#define QSIZE 32
#define WRITES 40
#define BYTES 4096

int main(void)
{
	struct loopback_config cfg = loopback_defaults();
	struct raw r = {0};
	struct raw_pdu *p = calloc(1, sizeof(*p));
	uint8_t buf[512];
	struct loopback *lb;
	unsigned r2ts = 0, done = 0;
	size_t len;
	int cfd, sfd;

	test_begin("writes beyond the transfer tags get their R2T once tags free");
	REQUIRE(p != NULL);
	cfg.qsize = QSIZE;
	test_tcp_pair(&cfd, &sfd);
	lb = loopback_open_controller(&cfg, sfd);
	r.fd = cfd;
	REQUIRE(raw_handshake(&r, 0));
	for (uint16_t cid = 1; cid <= WRITES; cid++) {
		raw_write_cmd(p, &r, cid, BYTES, false);
		((struct nvme_tcp_cmd *)p->b)->sqe.cdw10 = (uint32_t)cid * BYTES; /* store offset */
		REQUIRE(raw_send(&r, p) == 0);
	}
	while (done < WRITES && raw_read_pdu(cfd, buf, sizeof(buf), &len, 3000) == 0) {
		if (buf[0] == NVME_TCP_PDU_R2T) {
			const struct nvme_tcp_r2t_hdr *r2t = (const void *)buf;

			r2ts++;
			r.cid = r2t->cccid;
			r.ttag = r2t->ttag;
			raw_h2c(p, &r, r2t->r2to, r2t->r2tl, true);
			REQUIRE(raw_send(&r, p) == 0);
		} else if (buf[0] == NVME_TCP_PDU_CAPSULE_RESP) {
			done++;
		}
	}
	fprintf(stderr, "%u writes, %u R2Ts received and answered, %u writes completed\n", WRITES,
		r2ts, done);
	CHECK_EQ(r2ts, WRITES);
	CHECK_EQ(done, WRITES);
	close(cfd);
	loopback_close(lb);
	free(p);
	test_end();
	return test_summary();
}
