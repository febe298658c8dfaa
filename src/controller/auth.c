/* SPDX-License-Identifier: MIT */
/*
 * DH-HMAC-CHAP in-band authentication on the controller's queues (TP 8006,
 * NVMe Base 2.0 §8.13; NVMe-oF 1.1 §3.6 Authentication Send / Receive).
 *
 * A host with a secret in the target's host entries, or any host of a
 * subsystem that requires authentication, gets AUTHREQ.ATR in every queue's
 * Connect response.  Until the queue is authenticated, commands other than
 * Authentication Send and Receive get Authentication Required.  Each queue
 * has its own protocol engine (src/security/dhchap.c): Authentication Send
 * feeds it a message (on the worker pool: a Diffie-Hellman step with
 * ffdhe8192 takes milliseconds), Authentication Receive fetches the answer
 * it kept.  A failure ends the association once the host has fetched the
 * AUTH_Failure1 (as the Linux target does), and a transaction that stalls
 * longer than KATO (120 s without one) ends it too.  An authenticated
 * queue stays usable while the host re-authenticates on it.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/auth.h"
#include "security/dhchap.h"
#include "util/lock.h"
#include "util/log.h"

#define AUTH_DEFAULT_TIMEOUT_MS 120000  /* no KATO: Linux nvmet's 120 s */
#define AUTH_RECV_MAX (64 * 1024)       /* AL bound; hosts use 4 KiB or less */
#define AUTH_SPSP 0x01                  /* SPSP0 and SPSP1 of DH-HMAC-CHAP */

struct conn_auth {
	pthread_mutex_t lock;
	struct nvmf_dhchap *engine;   /* NULL: the host has no secret; every try fails */
	uint32_t timeout_ms;          /* transaction timer */
	bool busy;                    /* an Authentication Send is being worked on */
	bool failed;                  /* end the association once msg is fetched */
	bool succeeded_once;          /* later successes are re-authentications */
	size_t msg_len;               /* kept for Authentication Receive; 0: none */
	uint8_t msg[NVMF_DHCHAP_MSG_MAX];
};

/* ------------------------------------------------------------------ */
/* Host entries                                                        */
/* ------------------------------------------------------------------ */

static bool host_nqn_valid(const char *nqn)
{
	size_t n = strnlen(nqn, NVMF_NQN_SIZE);

	return n > 4 && n <= NVMF_NQN_MAX_LEN && strncmp(nqn, "nqn.", 4) == 0;
}

static int parse_host(const struct nvmf_host_conf *h, struct host_cred *c, char *err,
		      size_t errlen)
{
	struct nvmf_error why;

	snprintf(c->nqn, sizeof(c->nqn), "%s", h->nqn);
	if (h->dhchap_key[0] != '\0') {
		if (nvmf_dhchap_key_parse(h->dhchap_key, &c->dhchap_key, &why) != 0) {
			snprintf(err, errlen, "host %s: dhchap_key: %s", h->nqn, why.msg);
			return EINVAL;
		}
		c->has_dhchap = true;
	}
	if (h->dhchap_ctrl_key[0] != '\0') {
		if (!c->has_dhchap) {
			snprintf(err, errlen, "host %s: a dhchap_ctrl_key needs a dhchap_key",
				 h->nqn);
			return EINVAL;
		}
		if (nvmf_dhchap_key_parse(h->dhchap_ctrl_key, &c->ctrl_key, &why) != 0) {
			snprintf(err, errlen, "host %s: dhchap_ctrl_key: %s", h->nqn, why.msg);
			return EINVAL;
		}
		c->has_ctrl_key = true;
	}
	c->hash = h->dhchap_hash != 0 ? h->dhchap_hash : NVMF_DHCHAP_HASH_SHA256;
	if (nvmf_dhchap_hash_len(c->hash) == 0) {
		snprintf(err, errlen, "host %s: dhchap_hash %u: want SHA-256, SHA-384 or SHA-512",
			 h->nqn, h->dhchap_hash);
		return EINVAL;
	}
	c->dhgroup = h->dhchap_dhgroup;
	if (nvmf_dhchap_dhgroup_name(c->dhgroup) == NULL) {
		snprintf(err, errlen, "host %s: dhchap_dhgroup %u: want null or ffdhe2048 .. ffdhe8192",
			 h->nqn, h->dhchap_dhgroup);
		return EINVAL;
	}
	if (h->tls_key[0] != '\0') {
		if (nvmf_tls_key_parse(h->tls_key, &c->tls_key, &why) != 0) {
			snprintf(err, errlen, "host %s: tls_key: %s", h->nqn, why.msg);
			return EINVAL;
		}
		c->has_tls = true;
	}
	return 0;
}

int auth_hosts_parse(const struct nvmf_target_conf *conf, struct host_cred **out, char *err,
		     size_t errlen)
{
	struct host_cred *creds = calloc(conf->nhosts ? conf->nhosts : 1, sizeof(*creds));

	*out = NULL;
	if (creds == NULL) {
		snprintf(err, errlen, "out of memory");
		return ENOMEM;
	}
	for (unsigned i = 0; i < conf->nhosts; i++) {
		const struct nvmf_host_conf *h = &conf->hosts[i];
		int rc;

		if (!host_nqn_valid(h->nqn)) {
			snprintf(err, errlen, "host \"%.240s\" is not an NQN", h->nqn);
			auth_hosts_free(creds, conf->nhosts);
			return EINVAL;
		}
		for (unsigned j = 0; j < i; j++)
			if (strcmp(conf->hosts[j].nqn, h->nqn) == 0) {
				snprintf(err, errlen, "host %s: defined twice", h->nqn);
				auth_hosts_free(creds, conf->nhosts);
				return EINVAL;
			}
		rc = parse_host(h, &creds[i], err, errlen);
		if (rc != 0) {
			auth_hosts_free(creds, conf->nhosts);
			return rc;
		}
	}
	*out = creds;
	return 0;
}

void auth_hosts_free(struct host_cred *hosts, unsigned n)
{
	if (hosts == NULL)
		return;
	OPENSSL_cleanse(hosts, (n ? n : 1) * sizeof(*hosts));
	free(hosts);
}

const struct host_cred *auth_find_host(const struct nvmf_target *t, const char *hostnqn)
{
	for (unsigned i = 0; i < t->nhosts; i++)
		if (strcmp(t->hosts[i].nqn, hostnqn) == 0)
			return &t->hosts[i];
	return NULL;
}

void auth_ctrl_creds(const struct nvmf_target *t, const struct nvmf_subsys *subsys,
		     const char *hostnqn, struct ctrl_auth *out)
{
	const struct host_cred *h;

	memset(out, 0, sizeof(*out));
	/* Discovery controllers do not authenticate (as Linux nvmet). */
	if (subsys->discovery)
		return;
	h = auth_find_host(t, hostnqn);
	if (h != NULL && h->has_dhchap) {
		out->required = true;
		out->has_key = true;
		out->host_key = h->dhchap_key;
		out->has_ctrl_key = h->has_ctrl_key;
		out->ctrl_key = h->ctrl_key;
		out->hash = h->hash;
		out->dhgroup = h->dhgroup;
	} else if (subsys->dhchap_required) {
		out->required = true;
	}
}

void auth_creds_clear(struct ctrl_auth *creds)
{
	OPENSSL_cleanse(creds, sizeof(*creds));
}

/* ------------------------------------------------------------------ */
/* Queues                                                              */
/* ------------------------------------------------------------------ */

int auth_queue_setup(struct nvmf_conn *conn, const struct ctrl_auth *creds,
		     const char *hostnqn, const char *subnqn, uint32_t kato_ms)
{
	struct conn_auth *a;

	auth_queue_free(conn); /* from a refused Connect on this queue */
	atomic_store(&conn->auth_deadline_ms, 0);
	if (!creds->required) {
		atomic_store(&conn->authenticated, true);
		return 0;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	if (creds->has_key) {
		/* Only the configured hash and group: no downgrade to what a
		 * host offers instead (the Linux target insists on its hash). */
		const struct nvmf_dhchap_ctrl_params p = {
			.hostnqn = hostnqn,
			.subnqn = subnqn,
			.host_key = &creds->host_key,
			.ctrl_key = creds->has_ctrl_key ? &creds->ctrl_key : NULL,
			.hash = creds->hash,
			.dhgroup = creds->dhgroup,
			.hash_mask = 1u << creds->hash,
			.dhgroup_mask = 1u << creds->dhgroup,
		};

		a->engine = nvmf_dhchap_ctrl_new(&p);
		if (a->engine == NULL) {
			free(a);
			return -ENOMEM;
		}
	}
	nvmf_mutex_init(&a->lock);
	a->timeout_ms = kato_ms != 0 ? kato_ms : AUTH_DEFAULT_TIMEOUT_MS;
	atomic_store(&conn->authenticated, false);
	/* The host must start before the timer runs out, too. */
	atomic_store(&conn->auth_deadline_ms, ctrl_now_ms() + a->timeout_ms);
	conn->auth = a;
	return NVMF_CONNECT_RSP_ATR;
}

void auth_queue_free(struct nvmf_conn *conn)
{
	struct conn_auth *a = conn->auth;

	if (a == NULL)
		return;
	nvmf_dhchap_free(a->engine);
	pthread_mutex_destroy(&a->lock);
	free(a);
	conn->auth = NULL;
}

/* ------------------------------------------------------------------ */
/* Authentication Send / Receive                                       */
/* ------------------------------------------------------------------ */

static void auth_count_failure(struct nvmf_target *t)
{
	nvmf_mutex_lock(&t->lock);
	t->stats.auth_failures++;
	nvmf_mutex_unlock(&t->lock);
}

/* SECP E9h with SPSP0 = SPSP1 = 01h: the only protocol served (TP 8006). */
static uint16_t auth_check_cmd(struct nvmf_cmd *cmd, const struct nvmf_auth_cmd *c)
{
	struct nvmf_conn *conn = cmd->conn;

	if (c->secp != NVMF_AUTH_SECP || c->spsp0 != AUTH_SPSP || c->spsp1 != AUTH_SPSP) {
		NVMF_WARN("nvmfd: %s: queue %u: Authentication %s for SECP %#x SPSP %#x/%#x: only DH-HMAC-CHAP (E9h, 01h/01h) is served",
			  conn->peer, conn->qid, c->fctype == NVMF_FCTYPE_AUTH_SEND ? "Send" : "Receive",
			  c->secp, c->spsp0, c->spsp1);
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	}
	if (conn->auth == NULL) {
		NVMF_WARN("nvmfd: %s: queue %u: Authentication %s, but this queue needs no authentication",
			  conn->peer, conn->qid, c->fctype == NVMF_FCTYPE_AUTH_SEND ? "Send" : "Receive");
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR);
	}
	return 0;
}

static const char *queue_kind(const struct nvmf_conn *conn)
{
	return conn->qid == 0 ? "admin" : "I/O";
}

static void auth_send_work(struct nvmf_work *work)
{
	struct nvmf_cmd *cmd = cmd_of_work(work);
	struct nvmf_conn *conn = cmd->conn;
	struct nvmf_ctrl *ctrl = conn->ctrl;
	struct conn_auth *a = conn->auth;
	const uint8_t *in = cmd->buf;
	bool negotiate = cmd->len >= 2 && in[0] == NVMF_AUTH_TYPE_COMMON &&
			 in[1] == NVMF_AUTH_ID_NEGOTIATE;
	bool end_now = false, again, bidir = false, keyless = a->engine == NULL;
	uint8_t hash = 0, group = 0;
	char why[200] = "";
	uint16_t st = 0;
	size_t n = 0;
	int r;

	nvmf_mutex_lock(&a->lock);
	if (keyless) {
		/* A host without a secret where the subsystem requires one. */
		uint16_t t_id = 0;

		if (cmd->len >= offsetof(struct nvmf_auth_failure, rescode))
			memcpy(&t_id, in + offsetof(struct nvmf_auth_failure, t_id), sizeof(t_id));
		n = nvmf_auth_failure_build(NVMF_AUTH_ID_FAILURE1, t_id, NVMF_AUTH_FAIL_FAILED,
					    a->msg, sizeof(a->msg));
		r = NVMF_DHCHAP_FAILED;
	} else {
		r = nvmf_dhchap_step(a->engine, in, cmd->len, a->msg, sizeof(a->msg), &n);
		hash = nvmf_dhchap_hash(a->engine);
		group = nvmf_dhchap_dhgroup(a->engine);
		bidir = nvmf_dhchap_bidirectional(a->engine);
		snprintf(why, sizeof(why), "%s", nvmf_dhchap_error(a->engine));
	}
	a->msg_len = r >= 0 ? n : 0;
	again = a->succeeded_once;
	if (r == NVMF_DHCHAP_CONTINUE && negotiate)
		atomic_store(&conn->auth_deadline_ms, ctrl_now_ms() + a->timeout_ms);
	if (r == NVMF_DHCHAP_SUCCESS) {
		a->succeeded_once = true;
		atomic_store(&conn->auth_deadline_ms, 0);
		atomic_store(&conn->authenticated, true);
	}
	if (r == NVMF_DHCHAP_FAILED || r < 0) {
		a->failed = true;
		end_now = a->msg_len == 0;
	}
	a->busy = false;
	nvmf_mutex_unlock(&a->lock);

	if (r == NVMF_DHCHAP_SUCCESS && conn->qid == 0) {
		NVMF_INFO("nvmfd: %s: host %s %s on %s (DH-HMAC-CHAP %s, %s, %s)", conn->peer,
			  ctrl->hostnqn, again ? "re-authenticated" : "authenticated",
			  ctrl->subsys->nqn, nvmf_dhchap_hash_name(hash),
			  nvmf_dhchap_dhgroup_name(group), bidir ? "bidirectional" : "unidirectional");
	} else if (r == NVMF_DHCHAP_SUCCESS) {
		NVMF_DEBUG("nvmfd: %s: I/O queue %u of controller %u %s", conn->peer, conn->qid,
			   ctrl->cntlid, again ? "re-authenticated" : "authenticated");
	} else if (r == NVMF_DHCHAP_FAILED && keyless) {
		auth_count_failure(conn->target);
		NVMF_WARN("nvmfd: %s: host %s has no DH-HMAC-CHAP secret, but %s requires authentication: refused",
			  conn->peer, ctrl->hostnqn, ctrl->subsys->nqn);
	} else if (r == NVMF_DHCHAP_FAILED) {
		auth_count_failure(conn->target);
		NVMF_WARN("nvmfd: %s: %s queue %u: DH-HMAC-CHAP with host %s on %s failed: %s; ending the association",
			  conn->peer, queue_kind(conn), conn->qid, ctrl->hostnqn, ctrl->subsys->nqn,
			  why);
	} else if (r < 0) {
		auth_count_failure(conn->target);
		NVMF_ERR("nvmfd: %s: queue %u: DH-HMAC-CHAP step failed: %s; ending the association",
			 conn->peer, conn->qid, strerror(-r));
		st = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
	}
	/* Held across the response: the queue, and so the controller, cannot
	 * be freed before the association is ended. */
	atomic_fetch_add(&cmd->refs, 1);
	cmd_complete(cmd, st, 0, 0);
	if (end_now)
		ctrl_kill(ctrl);
	cmd_put(cmd);
}

static void auth_send_data_in(struct nvmf_cmd *cmd)
{
	struct conn_auth *a = cmd->conn->auth;
	bool busy;

	nvmf_mutex_lock(&a->lock);
	busy = a->busy;
	a->busy = true;
	nvmf_mutex_unlock(&a->lock);
	if (busy) {
		/* One message at a time: the host must wait for the answer. */
		cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR), 0, 0);
		return;
	}
	cmd_execute(cmd, auth_send_work, false);
}

void auth_send(struct nvmf_cmd *cmd)
{
	const struct nvmf_auth_cmd *c = (const struct nvmf_auth_cmd *)cmd_sqe(cmd);
	uint16_t st = auth_check_cmd(cmd, c);

	/* TL: a message, and no longer than the longest one (a Reply with
	 * SHA-512 and ffdhe8192). */
	if (st == 0 && (c->length == 0 || c->length > NVMF_DHCHAP_MSG_MAX)) {
		NVMF_WARN("nvmfd: %s: queue %u: Authentication Send of %u bytes refused (1 to %zu)",
			  cmd->conn->peer, cmd->conn->qid, c->length, (size_t)NVMF_DHCHAP_MSG_MAX);
		st = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	}
	if (st == 0)
		st = cmd_check_data(cmd, c->length, false);
	if (st != 0) {
		cmd_complete(cmd, st, 0, 0);
		return;
	}
	cmd_receive_data(cmd, c->length, auth_send_data_in);
}

void auth_receive(struct nvmf_cmd *cmd)
{
	const struct nvmf_auth_cmd *c = (const struct nvmf_auth_cmd *)cmd_sqe(cmd);
	struct nvmf_conn *conn = cmd->conn;
	struct conn_auth *a = conn->auth;
	uint16_t st = auth_check_cmd(cmd, c);
	uint32_t al = c->length;
	bool end = false, unexpected = false;

	if (st == 0 && (al == 0 || al > AUTH_RECV_MAX))
		st = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	if (st == 0)
		st = cmd_check_data(cmd, al, true);
	if (st == 0 && !cmd_buf(cmd, al))
		st = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
	if (st != 0) {
		cmd_complete(cmd, st, 0, 0);
		return;
	}
	nvmf_mutex_lock(&a->lock);
	if (a->busy) {
		st = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR);
	} else {
		if (a->msg_len == 0) {
			/* Nothing to fetch: an unexpected message, as Linux answers. */
			a->msg_len = nvmf_auth_failure_build(NVMF_AUTH_ID_FAILURE1, 0,
							     NVMF_AUTH_FAIL_INCORRECT_MESSAGE,
							     a->msg, sizeof(a->msg));
			a->failed = unexpected = true;
		}
		if (al < a->msg_len) {
			st = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
		} else {
			memset(cmd->buf, 0, al);
			memcpy(cmd->buf, a->msg, a->msg_len);
			a->msg_len = 0;
			end = a->failed;
		}
	}
	nvmf_mutex_unlock(&a->lock);
	if (st != 0) {
		cmd_complete(cmd, st, 0, 0);
		return;
	}
	if (unexpected) {
		auth_count_failure(conn->target);
		NVMF_WARN("nvmfd: %s: queue %u: Authentication Receive with no message to fetch: AUTH_Failure1 (incorrect message); ending the association",
			  conn->peer, conn->qid);
	}
	atomic_fetch_add(&cmd->refs, 1); /* as in auth_send_work */
	cmd_reply_data(cmd, al);
	if (end)
		ctrl_kill(conn->ctrl);
	cmd_put(cmd);
}
