/* SPDX-License-Identifier: MIT */
/*
 * A host-role and a controller-role queue pair joined by a real loopback TCP
 * connection, for transport tests.  The controller side is a tiny
 * "store" device: Write (01h) stores the command's data at byte offset CDW10
 * of a buffer, Read (02h) returns it, anything else completes empty.
 */
#ifndef NVMF_TEST_LOOPBACK_H
#define NVMF_TEST_LOOPBACK_H

#include <pthread.h>

#include "nvmf/transport.h"

struct loopback_config {
	bool hdgst, ddgst;
	uint8_t host_pda, ctrl_pda;
	uint32_t maxr2t;          /* host's MAXR2T, 0's based */
	uint32_t maxh2cdata;
	uint32_t max_icd;         /* in-capsule data on the I/O queue */
	uint32_t max_c2h_data;    /* controller splits reads at this size */
	uint32_t read_pieces;     /* send_controller_data calls per read */
	bool sq_flow_control;     /* false: reads may end with SUCCESS */
	uint16_t qsize;
	size_t store_size;
	struct nvmf_engine *engine;
	const char *tls_key;      /* NVMeTLSkey-1 PSK: TLS 1.3 under the PDUs */
	/* Buffers are unmapped the moment the transport says it let go of
	 * them, so a later touch faults: the controller's (bounce buffers of
	 * its own) and the host's (the test mmaps one per command). */
	bool unmap_on_done;
	/* Commands with a CID this high or higher are held, never answered
	 * (their transfers stay outstanding until teardown); 0: none. */
	uint16_t hold_from_cid;
	bool close_on_fatal;      /* the controller ends a connection without TermReq */
};

struct loopback_req {
	bool response_seen;
	bool data_done;
	bool wants_data;
	bool wants_read;
	struct nvme_cqe cqe;
	bool sqhd_valid;
	size_t xfered;
	int data_error;
	void *unmap;               /* the test's mmap'd buffer, unmapped at data_done */
	size_t unmap_len;
};

struct loopback {
	struct loopback_config cfg;
	struct nvmf_qpair *host;
	struct nvmf_qpair *ctrl;
	uint8_t *store;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct loopback_req *reqs; /* by CID, qsize entries */
	int host_error;            /* -1 until the host qpair reports */
	int ctrl_error;
	unsigned ctrl_success_sent;
	unsigned ctrl_digest_errors;
	struct nvmf_capsule **held; /* hold_from_cid: by CID, freed at close */
};

struct loopback_config loopback_defaults(void);
/* The engine every later loopback uses: from argv[1] ("threads", "epoll", ...). */
void loopback_use_engine(int argc, char **argv);
/* Connects both sides; the test fails and exits if that does not work. */
struct loopback *loopback_open(const struct loopback_config *cfg);
/* Bookkeeping only, for a host qpair the test creates itself. */
struct loopback *loopback_new(const struct loopback_config *cfg);
void loopback_host_receive(void *arg, struct nvmf_capsule *rsp);
void loopback_host_error(void *arg, int error);
/* Only the controller side, on an accepted socket (for raw-socket peers). */
struct loopback *loopback_open_controller(const struct loopback_config *cfg, int fd);
/* Wait until the controller qpair reports an error; it, or -1 on timeout. */
int loopback_wait_ctrl_error(struct loopback *lb, int timeout_ms);
void loopback_close(struct loopback *lb);

/* Submit a command with an optional buffer; returns 0 or -errno. */
int loopback_submit(struct loopback *lb, uint16_t cid, uint8_t opc, uint32_t offset,
		    const struct nvmf_iov *data, bool write);
/* Wait for command cid to finish (response and data); false on timeout. */
bool loopback_wait(struct loopback *lb, uint16_t cid, int timeout_ms);
/* Wait until the host qpair reports an error; returns it, or -1 on timeout. */
int loopback_wait_host_error(struct loopback *lb, int timeout_ms);

/* Synchronous helpers: status word of the CQE, or -errno. */
int loopback_write(struct loopback *lb, uint16_t cid, uint32_t offset, const void *buf,
		   size_t len);
int loopback_read(struct loopback *lb, uint16_t cid, uint32_t offset, void *buf, size_t len);

#endif
