/* SPDX-License-Identifier: MIT */
#include "host/wire_relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/crc32c.h"
#include "util/test_util.h"

#define RELAY_MAX_PDU (16u << 20)

struct rconn {
	struct relay *r;
	unsigned id;
	int host_fd, tgt_fd;
	pthread_t h2t, t2h;
	pthread_mutex_t lock;
	uint16_t qid;
	struct nvme_sqe *cmds; /* the last command sent with each CID */
	bool *ended;           /* by CID: ended with SUCCESS, its response dropped */
	struct rconn *next;
};

struct relay {
	int lfd;
	uint16_t port, target_port;
	struct relay_hooks hooks;
	pthread_t acceptor;
	pthread_mutex_t lock;
	bool stopping;
	struct rconn *conns;
	unsigned nconns;
	struct relay_cmd *log;
	size_t nlog, caplog;
};

/* One whole PDU into *buf (grown as needed); its length, or 0 at EOF/error. */
static size_t read_pdu(int fd, uint8_t **buf, size_t *cap)
{
	struct nvme_tcp_common_hdr ch;

	if (test_read_exact(fd, &ch, sizeof(ch), -1) != 0 || ch.plen < sizeof(ch) || ch.plen > RELAY_MAX_PDU)
		return 0;
	if (*cap < ch.plen) {
		uint8_t *p = realloc(*buf, ch.plen);

		if (p == NULL)
			return 0;
		*buf = p;
		*cap = ch.plen;
	}
	memcpy(*buf, &ch, sizeof(ch));
	if (test_read_exact(fd, *buf + sizeof(ch), ch.plen - sizeof(ch), -1) != 0)
		return 0;
	return ch.plen;
}

/* Recompute the header digest (and the data digest of [off, off + len)) if present. */
static void fix_digests(uint8_t *pdu, size_t plen, size_t data_off, size_t data_len)
{
	const struct nvme_tcp_common_hdr *ch = (const void *)pdu;

	if ((ch->flags & NVME_TCP_FLAG_HDGSTF) && ch->hlen + 4u <= plen) {
		uint32_t crc = nvmf_crc32c(pdu, ch->hlen);

		memcpy(pdu + ch->hlen, &crc, 4);
	}
	if ((ch->flags & NVME_TCP_FLAG_DDGSTF) && data_len > 0 && data_off + data_len + 4 <= plen) {
		uint32_t crc = nvmf_crc32c(pdu + data_off, data_len);

		memcpy(pdu + data_off + data_len, &crc, 4);
	}
}

static void record(struct relay *r, unsigned conn, uint16_t qid, const struct nvme_sqe *sqe)
{
	pthread_mutex_lock(&r->lock);
	if (r->nlog == r->caplog) {
		size_t cap = r->caplog != 0 ? r->caplog * 2 : 256;
		struct relay_cmd *p = realloc(r->log, cap * sizeof(*p));

		REQUIRE(p != NULL);
		r->log = p;
		r->caplog = cap;
	}
	r->log[r->nlog++] = (struct relay_cmd){.conn = conn, .qid = qid, .sqe = *sqe,
					       .when_us = test_now_us()};
	pthread_mutex_unlock(&r->lock);
}

/* The last command sent with cid on this connection, and the connection's queue. */
static uint16_t command_for(struct rconn *c, uint16_t cid, struct nvme_sqe *cmd)
{
	uint16_t qid;

	pthread_mutex_lock(&c->lock);
	*cmd = c->cmds[cid];
	qid = c->qid;
	pthread_mutex_unlock(&c->lock);
	return qid;
}

static void *host_to_target(void *arg)
{
	struct rconn *c = arg;
	struct relay *r = c->r;
	uint8_t *buf = NULL;
	size_t cap = 0, len;

	while ((len = read_pdu(c->host_fd, &buf, &cap)) != 0) {
		const struct nvme_tcp_common_hdr *ch = (const void *)buf;

		if (ch->pdu_type == NVME_TCP_PDU_CAPSULE_CMD && ch->hlen >= 72 && len >= 72) {
			struct nvme_sqe sqe;
			uint16_t qid;

			memcpy(&sqe, buf + 8, sizeof(sqe));
			pthread_mutex_lock(&c->lock);
			if (sqe.opc == NVME_ADMIN_FABRICS &&
			    ((struct nvmf_fabrics_cmd *)&sqe)->fctype == NVMF_FCTYPE_CONNECT)
				c->qid = ((struct nvmf_connect_cmd *)&sqe)->qid;
			qid = c->qid;
			pthread_mutex_unlock(&c->lock);
			if (r->hooks.command != NULL)
				r->hooks.command(r->hooks.arg, c->id, qid, &sqe);
			record(r, c->id, qid, &sqe);
			if (r->hooks.reset != NULL && r->hooks.reset(r->hooks.arg, c->id, qid, &sqe)) {
				/* connect(AF_UNSPEC) disconnects with an RST; the fd stays ours. */
				struct sockaddr unspec = {.sa_family = AF_UNSPEC};

				connect(c->host_fd, &unspec, sizeof(unspec));
				shutdown(c->tgt_fd, SHUT_RDWR);
				break;
			}
			pthread_mutex_lock(&c->lock);
			c->cmds[sqe.cid] = sqe;
			pthread_mutex_unlock(&c->lock);
			memcpy(buf + 8, &sqe, sizeof(sqe));
			fix_digests(buf, len, 0, 0);
		}
		if (test_write_all(c->tgt_fd, buf, len) != 0)
			break;
	}
	shutdown(c->tgt_fd, SHUT_WR);
	shutdown(c->host_fd, SHUT_RD);
	free(buf);
	return NULL;
}

/* The c2h_trim hook's cut of a one-PDU transfer; the PDU's new length. */
static size_t trim_c2h(struct rconn *c, uint8_t *buf, size_t len)
{
	struct nvme_tcp_c2h_data_hdr h;
	struct nvme_sqe cmd;
	uint32_t keep, dd;
	uint16_t qid;

	memcpy(&h, buf, sizeof(h));
	if (h.datao != 0 || !(h.ch.flags & NVME_TCP_FLAG_LAST_PDU) || h.ch.pdo == 0 ||
	    (size_t)h.ch.pdo + h.datal > len)
		return len;
	qid = command_for(c, h.cccid, &cmd);
	keep = c->r->hooks.c2h_trim(c->r->hooks.arg, c->id, qid, &cmd, buf + h.ch.pdo, h.datal);
	if (keep == 0 || keep >= h.datal)
		return len;
	dd = (h.ch.flags & NVME_TCP_FLAG_DDGSTF) ? 4 : 0;
	h.datal = keep;
	h.ch.plen = h.ch.pdo + keep + dd;
	h.ch.flags |= NVME_TCP_FLAG_SUCCESS;
	memcpy(buf, &h, sizeof(h));
	fix_digests(buf, h.ch.plen, h.ch.pdo, keep);
	pthread_mutex_lock(&c->lock);
	c->ended[h.cccid] = true;
	pthread_mutex_unlock(&c->lock);
	return h.ch.plen;
}

static void *target_to_host(void *arg)
{
	struct rconn *c = arg;
	struct relay *r = c->r;
	uint8_t *buf = NULL;
	size_t cap = 0, len;

	while ((len = read_pdu(c->tgt_fd, &buf, &cap)) != 0) {
		const struct nvme_tcp_common_hdr *ch = (const void *)buf;
		struct nvme_sqe cmd;
		uint16_t qid;

		if (ch->pdu_type == NVME_TCP_PDU_CAPSULE_RESP && len >= 24 &&
		    r->hooks.response != NULL) {
			struct nvme_cqe cqe;

			memcpy(&cqe, buf + 8, sizeof(cqe));
			qid = command_for(c, cqe.cid, &cmd);
			r->hooks.response(r->hooks.arg, c->id, qid, &cmd, &cqe);
			memcpy(buf + 8, &cqe, sizeof(cqe));
			fix_digests(buf, len, 0, 0);
		} else if (ch->pdu_type == NVME_TCP_PDU_CAPSULE_RESP && len >= 24) {
			struct nvme_cqe cqe;

			memcpy(&cqe, buf + 8, sizeof(cqe));
			pthread_mutex_lock(&c->lock);
			if (c->ended[cqe.cid]) {
				c->ended[cqe.cid] = false;
				pthread_mutex_unlock(&c->lock);
				continue; /* its C2HData carried SUCCESS */
			}
			pthread_mutex_unlock(&c->lock);
		}
		if (ch->pdu_type == NVME_TCP_PDU_C2H_DATA && len >= 24 && r->hooks.c2h_trim != NULL)
			len = trim_c2h(c, buf, len);
		if (ch->pdu_type == NVME_TCP_PDU_C2H_DATA && len >= 24 &&
			   r->hooks.c2h_data != NULL) {
			struct nvme_tcp_c2h_data_hdr h;

			memcpy(&h, buf, sizeof(h));
			if (h.ch.pdo != 0 && (size_t)h.ch.pdo + h.datal <= len) {
				qid = command_for(c, h.cccid, &cmd);
				r->hooks.c2h_data(r->hooks.arg, c->id, qid, &cmd, h.datao,
						  buf + h.ch.pdo, h.datal);
				fix_digests(buf, len, h.ch.pdo, h.datal);
			}
		}
		if (test_write_all(c->host_fd, buf, len) != 0)
			break;
	}
	shutdown(c->host_fd, SHUT_WR);
	shutdown(c->tgt_fd, SHUT_RD);
	free(buf);
	return NULL;
}

static void *acceptor(void *arg)
{
	struct relay *r = arg;

	for (;;) {
		int hfd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC), tfd;
		struct rconn *c;

		if (hfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;
		}
		pthread_mutex_lock(&r->lock);
		if (r->stopping) {
			pthread_mutex_unlock(&r->lock);
			close(hfd);
			break;
		}
		pthread_mutex_unlock(&r->lock);
		tfd = test_connect(r->target_port);
		if (tfd < 0) {
			close(hfd); /* the target is down: so is the relay */
			continue;
		}
		c = calloc(1, sizeof(*c));
		REQUIRE(c != NULL);
		c->cmds = calloc(65536, sizeof(*c->cmds));
		c->ended = calloc(65536, sizeof(*c->ended));
		REQUIRE(c->cmds != NULL && c->ended != NULL);
		c->r = r;
		c->host_fd = hfd;
		c->tgt_fd = tfd;
		pthread_mutex_init(&c->lock, NULL);
		pthread_mutex_lock(&r->lock);
		c->id = r->nconns++;
		c->next = r->conns;
		r->conns = c;
		pthread_mutex_unlock(&r->lock);
		REQUIRE(pthread_create(&c->h2t, NULL, host_to_target, c) == 0);
		REQUIRE(pthread_create(&c->t2h, NULL, target_to_host, c) == 0);
	}
	return NULL;
}

struct relay *relay_start(const char *listen_addr, uint16_t listen_port, uint16_t target_port,
			  const struct relay_hooks *hooks)
{
	struct relay *r = calloc(1, sizeof(*r));
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(listen_port)};
	socklen_t slen = sizeof(sin);
	int one = 1;

	REQUIRE(r != NULL);
	REQUIRE(inet_pton(AF_INET, listen_addr != NULL ? listen_addr : "127.0.0.1",
			  &sin.sin_addr) == 1);
	r->target_port = target_port;
	if (hooks != NULL)
		r->hooks = *hooks;
	pthread_mutex_init(&r->lock, NULL);
	r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	REQUIRE(r->lfd >= 0);
	setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(r->lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		fprintf(stderr, "relay: bind %s:%u: %s\n", listen_addr != NULL ? listen_addr : "127.0.0.1",
			listen_port, strerror(errno));
		REQUIRE(0);
	}
	REQUIRE(listen(r->lfd, 64) == 0);
	REQUIRE(getsockname(r->lfd, (struct sockaddr *)&sin, &slen) == 0);
	r->port = ntohs(sin.sin_port);
	REQUIRE(pthread_create(&r->acceptor, NULL, acceptor, r) == 0);
	return r;
}

uint16_t relay_port(const struct relay *r)
{
	return r->port;
}

size_t relay_ncmds(struct relay *r)
{
	size_t n;

	pthread_mutex_lock(&r->lock);
	n = r->nlog;
	pthread_mutex_unlock(&r->lock);
	return n;
}

bool relay_get_cmd(struct relay *r, size_t i, struct relay_cmd *out)
{
	bool ok;

	pthread_mutex_lock(&r->lock);
	ok = i < r->nlog;
	if (ok)
		*out = r->log[i];
	pthread_mutex_unlock(&r->lock);
	return ok;
}

unsigned relay_nconns(struct relay *r)
{
	unsigned n;

	pthread_mutex_lock(&r->lock);
	n = r->nconns;
	pthread_mutex_unlock(&r->lock);
	return n;
}

void relay_stop(struct relay *r)
{
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_mutex_unlock(&r->lock);
	shutdown(r->lfd, SHUT_RDWR);
	pthread_join(r->acceptor, NULL);
	close(r->lfd);
	while (r->conns != NULL) {
		struct rconn *c = r->conns;

		r->conns = c->next;
		shutdown(c->host_fd, SHUT_RDWR);
		shutdown(c->tgt_fd, SHUT_RDWR);
		pthread_join(c->h2t, NULL);
		pthread_join(c->t2h, NULL);
		close(c->host_fd);
		close(c->tgt_fd);
		free(c->cmds);
		free(c->ended);
		free(c);
	}
	free(r->log);
	free(r);
}
