/* SPDX-License-Identifier: MIT */
/*
 * A loopback relay between an NVMe/TCP host and a target (nvmfd), for host
 * tests that must see or bend what crosses the wire: it records every
 * command capsule the host sends (with the queue it was sent on), and hooks
 * may change a command on its way to the target (or hold it there), a
 * response, or C2H data on their way back.  Digests are recomputed when a
 * PDU carries them, so hooks may change any byte.
 */
#ifndef TESTS_HOST_WIRE_RELAY_H
#define TESTS_HOST_WIRE_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvmf/spec_tcp.h"

struct relay;

/* Per relayed connection; conn is its number (0, 1, ... in accept order). */
struct relay_hooks {
	/* A command capsule about to go to the target; may block, may change sqe. */
	void (*command)(void *arg, unsigned conn, uint16_t qid, struct nvme_sqe *sqe);
	/* True: instead of passing the command on, reset the host's connection
	 * (RST, as a target closing with unread data does) and drop the target's. */
	bool (*reset)(void *arg, unsigned conn, uint16_t qid, const struct nvme_sqe *sqe);
	/* A response on its way to the host; cmd is the command it answers. */
	void (*response)(void *arg, unsigned conn, uint16_t qid, const struct nvme_sqe *cmd,
			 struct nvme_cqe *cqe);
	/* C2H data on its way to the host: len bytes at datao of cmd's data. */
	void (*c2h_data)(void *arg, unsigned conn, uint16_t qid, const struct nvme_sqe *cmd,
			 uint32_t datao, uint8_t *data, uint32_t len);
	/*
	 * A one-PDU C2H transfer (datao 0, LAST_PDU): a length below len makes
	 * the relay send only that much, ending the command with SUCCESS
	 * instead of its response, as SPDK's target answers Authentication
	 * Receive; 0 (or len) leaves it alone.  The response is then dropped.
	 */
	uint32_t (*c2h_trim)(void *arg, unsigned conn, uint16_t qid, const struct nvme_sqe *cmd,
			     const uint8_t *data, uint32_t len);
	void *arg;
};

struct relay_cmd {
	unsigned conn;
	uint16_t qid;     /* as the connection's Connect named it */
	struct nvme_sqe sqe;
	uint64_t when_us; /* test_now_us() when it reached the relay */
};

/*
 * Listen on listen_addr (NULL: 127.0.0.1) at listen_port (0: any free port),
 * forward each connection to 127.0.0.1:target_port.  hooks may be NULL.
 */
struct relay *relay_start(const char *listen_addr, uint16_t listen_port, uint16_t target_port,
			  const struct relay_hooks *hooks);
uint16_t relay_port(const struct relay *r);
/* Commands recorded so far (in the order they reached the relay). */
size_t relay_ncmds(struct relay *r);
bool relay_get_cmd(struct relay *r, size_t i, struct relay_cmd *out);
/* Connections accepted so far. */
unsigned relay_nconns(struct relay *r);
/* Close the listener and every connection, join every thread. */
void relay_stop(struct relay *r);

#endif
