/* SPDX-License-Identifier: MIT */
/*
 * Host secure channels: TLS 1.3 with a pre-shared key before each queue's
 * ICReq (NVMe/TCP 1.1 §3.6, TP 8011), and DH-HMAC-CHAP after each queue's
 * Connect when the controller sets AUTHREQ.ATR (TP 8006, NVMe Base 2.0
 * §8.13), as the Linux host authenticates every queue, admin and I/O.
 * Both run again on every reconnection, since they belong to the queue's
 * connection.  DH-HMAC-CHAP also runs again on a live controller when the
 * user asks (nvmf_ctrl_reauthenticate): on every queue, from the
 * controller's thread.  The secrets can be replaced meanwhile
 * (nvmf_ctrl_set_dhchap_secrets), so they are read under the lock.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/host_internal.h"
#include "util/lock.h"
#include "util/log.h"

#define HOST_AUTH_AL 4096   /* Authentication Receive length, as Linux */
#define AUTH_SPSP 0x01

int host_secrets_setup(struct nvmf_ctrl *c, const struct nvmf_host_opts *opts,
		       struct nvmf_error *err)
{
	struct nvmf_error why;

	if (opts->dhchap_secret != NULL) {
		if (nvmf_dhchap_key_parse(opts->dhchap_secret, &c->dhchap_key, &why) != 0) {
			host_set_error(err, EINVAL, 0, "invalid DH-HMAC-CHAP secret: %s", why.msg);
			return -EINVAL;
		}
		c->has_dhchap = true;
	}
	if (opts->dhchap_ctrl_secret != NULL) {
		if (!c->has_dhchap) {
			host_set_error(err, EINVAL, 0, "a DH-HMAC-CHAP controller secret needs "
				       "a host secret as well");
			return -EINVAL;
		}
		if (nvmf_dhchap_key_parse(opts->dhchap_ctrl_secret, &c->dhchap_ctrl_key,
					  &why) != 0) {
			host_set_error(err, EINVAL, 0, "invalid DH-HMAC-CHAP controller secret: %s",
				       why.msg);
			return -EINVAL;
		}
		c->has_dhchap_ctrl = true;
	}
	if (opts->tls_key != NULL &&
	    nvmf_tls_key_parse(opts->tls_key, &c->tls_key, &why) != 0) {
		host_set_error(err, EINVAL, 0, "invalid TLS PSK: %s", why.msg);
		return -EINVAL;
	}
	c->tls = opts->tls;
	if (opts->tls && opts->tls_key == NULL) {
		host_set_error(err, EINVAL, 0, "TLS needs a pre-shared key (--tls-key or "
			       "--tls-key-file)");
		return -EINVAL;
	}
	if (opts->tls_identity_version != 0 && opts->tls_identity_version != 1) {
		host_set_error(err, EINVAL, 0, "TLS PSK identity version %d: want 0 or 1",
			       opts->tls_identity_version);
		return -EINVAL;
	}
	/* Only the parsed copies stay: the caller's strings may go. */
	c->opts.dhchap_secret = NULL;
	c->opts.dhchap_ctrl_secret = NULL;
	c->opts.tls_key = NULL;
	return 0;
}

void host_secrets_clear(struct nvmf_ctrl *c)
{
	OPENSSL_cleanse(&c->dhchap_key, sizeof(c->dhchap_key));
	OPENSSL_cleanse(&c->dhchap_ctrl_key, sizeof(c->dhchap_ctrl_key));
	OPENSSL_cleanse(&c->tls_key, sizeof(c->tls_key));
}

/* One Authentication Send (TL = len) or Receive (AL = len). */
static int auth_cmd(struct nvmf_ctrl *c, struct host_queue *q, bool send, void *buf,
		    size_t len, struct nvmf_error *err)
{
	const struct nvmf_auth_cmd cmd = {
		.opc = NVME_ADMIN_FABRICS,
		.fctype = send ? NVMF_FCTYPE_AUTH_SEND : NVMF_FCTYPE_AUTH_RECV,
		.spsp0 = AUTH_SPSP,
		.spsp1 = AUTH_SPSP,
		.secp = NVMF_AUTH_SECP,
		.length = (uint32_t)len,
	};
	struct nvme_sqe sqe;
	struct nvmf_cpl cpl;
	char why[128];
	int ret;

	memcpy(&sqe, &cmd, sizeof(sqe));
	ret = ctrl_internal_cmd(c, q, &sqe, buf, len,
				send ? NVMF_DATA_TO_CTRL : NVMF_DATA_FROM_CTRL, &cpl);
	if (ret != 0)
		host_set_error(err, ret < 0 ? -ret : 0, ret > 0 ? (uint16_t)ret : 0,
			       "%s: queue %u: Authentication %s: %s", c->name, q->qid,
			       send ? "Send" : "Receive", nvmf_cpl_str(&cpl, why, sizeof(why)));
	return ret;
}

/*
 * The host side of one DH-HMAC-CHAP transaction (TP 8006 §8.13.5); again:
 * a re-authentication of a live queue.
 */
static int run_dhchap(struct nvmf_ctrl *c, struct host_queue *q, bool again,
		      struct nvmf_error *err)
{
	struct nvmf_dhchap_host_params p = {
		.hostnqn = c->hostnqn,
		.subnqn = c->subnqn,
		.t_id = atomic_fetch_add(&c->auth_tid, 1),
	};
	const char *what = again ? "DH-HMAC-CHAP re-authentication" : "DH-HMAC-CHAP";
	uint8_t *out = malloc(NVMF_DHCHAP_MSG_MAX), *in = malloc(HOST_AUTH_AL);
	int r = NVMF_DHCHAP_CONTINUE, ret = 0;
	unsigned sent = 0;             /* messages of ours delivered: Negotiate, Reply */
	struct nvmf_dhchap *e;
	bool has_ctrl_key;
	ssize_t start;
	size_t n;

	/* The engine keeps its own (transformed) copies of the keys. */
	nvmf_mutex_lock(&c->lock);
	has_ctrl_key = c->has_dhchap_ctrl;
	p.host_key = &c->dhchap_key;
	p.ctrl_key = has_ctrl_key ? &c->dhchap_ctrl_key : NULL;
	e = nvmf_dhchap_host_new(&p);
	nvmf_mutex_unlock(&c->lock);

	if (e == NULL || out == NULL || in == NULL) {
		host_set_error(err, ENOMEM, 0, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	start = nvmf_dhchap_host_start(e, out, NVMF_DHCHAP_MSG_MAX);
	if (start < 0) {
		host_set_error(err, (int)-start, 0, "%s: %s", what, strerror((int)-start));
		ret = (int)start;
		goto out;
	}
	n = (size_t)start;
	for (;;) {
		/* Our message first (Negotiate, Reply, Success2 or Failure2). */
		if (n > 0) {
			ret = auth_cmd(c, q, true, out, n, err);
			/* A Failure2 that does not arrive changes nothing. */
			if (ret != 0 && r != NVMF_DHCHAP_FAILED)
				goto lost;
			sent++;
		}
		if (r != NVMF_DHCHAP_CONTINUE)
			break;
		if ((ret = auth_cmd(c, q, false, in, HOST_AUTH_AL, err)) != 0)
			goto lost;
		r = nvmf_dhchap_step(e, in, HOST_AUTH_AL, out, NVMF_DHCHAP_MSG_MAX, &n);
		if (r < 0) {
			host_set_error(err, -r, 0, "%s: %s", what, strerror(-r));
			ret = r;
			goto out;
		}
	}
	if (r == NVMF_DHCHAP_FAILED) {
		const char *why = nvmf_dhchap_error(e);
		/* The controller says only "failed": the usual cause is a secret
		 * that is not the one it holds for this host. */
		bool refused = nvmf_dhchap_failure_reason(e) == NVMF_AUTH_FAIL_FAILED &&
			       strncmp(why, "controller refused", 18) == 0;

		host_set_error(err, EACCES, 0, "%s: %s on queue %u failed: %s%s%s%s", c->name,
			       what, q->qid, why, refused ? " (wrong secret for host " : "",
			       refused ? c->hostnqn : "",
			       !refused	       ? ""
			       : has_ctrl_key ? ", or no controller secret there?)"
					      : "?)");
		err->dnr = true;
		ret = -EACCES;
		goto out;
	}
	ret = 0;
	if (q->qid == 0) {
		nvmf_mutex_lock(&c->lock);
		c->authenticated = true;
		c->auth_hash = nvmf_dhchap_hash(e);
		c->auth_dhgroup = nvmf_dhchap_dhgroup(e);
		c->auth_bidirectional = nvmf_dhchap_bidirectional(e);
		nvmf_mutex_unlock(&c->lock);
	}
	if (q->qid == 0)
		NVMF_INFO("host: %s: %s (DH-HMAC-CHAP %s, %s, %s)", c->name,
			  again ? "re-authenticated" : "authenticated",
			  nvmf_dhchap_hash_name(nvmf_dhchap_hash(e)),
			  nvmf_dhchap_dhgroup_name(nvmf_dhchap_dhgroup(e)),
			  nvmf_dhchap_bidirectional(e) ? "controller authenticated too"
						       : "unidirectional");
	goto out;
lost:
	/*
	 * The connection ended once our Reply was out: a controller refusing
	 * the response may close at once rather than answer with Failure1
	 * (Linux nvmet does, and its reset can discard the Failure1 it had
	 * queued).  Say what it most likely means; a retry may still be made.
	 */
	if (ret == -ECONNRESET && sent >= 2) {
		/* Same errno as a Failure1 gives, without DNR: reconnecting may work. */
		host_set_error(err, EACCES, 0, "%s: %s on queue %u failed: controller refused "
			       "authentication: it closed after our reply (wrong secret for host "
			       "%s?)", c->name, what, q->qid, c->hostnqn);
		ret = -EACCES;
	}
out:
	nvmf_dhchap_free(e);
	free(out);
	free(in);
	return ret;
}

bool nvmf_ctrl_auth_info(const struct nvmf_ctrl *ctrl, uint8_t *hash, uint8_t *dhgroup,
			 bool *bidirectional)
{
	struct nvmf_ctrl *c = (struct nvmf_ctrl *)ctrl;
	bool done;

	nvmf_mutex_lock(&c->lock);
	done = c->authenticated;
	*hash = c->auth_hash;
	*dhgroup = c->auth_dhgroup;
	*bidirectional = c->auth_bidirectional;
	nvmf_mutex_unlock(&c->lock);
	return done;
}

int host_authenticate(struct nvmf_ctrl *c, struct host_queue *q, uint32_t authreq,
		      struct nvmf_error *err)
{
	bool has_key, has_ctrl_key;

	nvmf_mutex_lock(&c->lock);
	has_key = c->has_dhchap;
	has_ctrl_key = c->has_dhchap_ctrl;
	if (authreq == 0 && q->qid == 0)
		c->authenticated = false;
	nvmf_mutex_unlock(&c->lock);
	if (authreq == 0) {
		/* A controller that does not ask cannot prove the controller
		 * secret: connecting anyway would defeat asking for it.
		 * Discovery controllers never authenticate (Linux nvmet, nvmfd). */
		if (has_ctrl_key && !c->discovery) {
			host_set_error(err, EACCES, 0, "%s did not ask for DH-HMAC-CHAP on queue "
				       "%u, so it cannot prove the controller secret: refusing it",
				       c->name, q->qid);
			err->dnr = true;
			return -EACCES;
		}
		if (has_key && q->qid == 0)
			NVMF_INFO("host: %s: the controller does not ask for authentication",
				  c->name);
		return 0;
	}
	if ((authreq & NVMF_CONNECT_RSP_ATR) == 0) {
		host_set_error(err, EOPNOTSUPP, 0, "%s asks for secure channel concatenation "
			       "(AUTHREQ.ASCR), which this host does not support", c->name);
		err->dnr = true;
		return -EOPNOTSUPP;
	}
	if (!has_key) {
		host_set_error(err, EACCES, 0, "%s requires in-band authentication "
			       "(DH-HMAC-CHAP): give this host's secret (--dhchap-secret)", c->name);
		err->dnr = true;
		return -EACCES;
	}
	return run_dhchap(c, q, false, err);
}

int host_reauthenticate(struct nvmf_ctrl *c, struct nvmf_error *err)
{
	int state = atomic_load(&c->state);
	bool asked, has_key;
	int ret = 0;

	memset(err, 0, sizeof(*err));
	if (state != NVMF_CTRL_LIVE) {
		ret = state == NVMF_CTRL_FAILED	       ? -ENODEV
		      : state == NVMF_CTRL_DISCONNECTING ? -ESHUTDOWN
							 : -ENOTCONN;
		host_set_error(err, -ret, 0, "%s: cannot re-authenticate: the controller is %s",
			       c->name, state == NVMF_CTRL_FAILED ? "lost (ctrl-loss-tmo expired)"
			       : state == NVMF_CTRL_DISCONNECTING ? "disconnecting"
								  : "reconnecting");
		return ret;
	}
	nvmf_mutex_lock(&c->lock);
	asked = c->authenticated;
	has_key = c->has_dhchap;
	nvmf_mutex_unlock(&c->lock);
	if (!has_key) {
		host_set_error(err, EINVAL, 0, "%s: cannot re-authenticate: no DH-HMAC-CHAP secret "
			       "(give one at connect or with nvmf_ctrl_set_dhchap_secrets)", c->name);
		return -EINVAL;
	}
	if (!asked) {
		host_set_error(err, EOPNOTSUPP, 0, "%s: cannot re-authenticate: the controller did "
			       "not ask for DH-HMAC-CHAP when this association was made", c->name);
		return -EOPNOTSUPP;
	}
	/* Admin queue first, as the Linux host does; the queues stay usable. */
	for (unsigned qid = 0; qid <= c->nr_io_queues && ret == 0; qid++) {
		struct host_queue *q = ctrl_queue(c, qid);

		ret = run_dhchap(c, q, true, err);
		if (ret != 0) {
			/*
			 * The controller ends an association whose authentication
			 * failed (nvmfd, Linux nvmet), and a half-done transaction
			 * leaves no queue to trust: reconnect, with the current
			 * secrets.  (A lost connection is marked already.)
			 */
			NVMF_WARN("host: %s; ending the association", err->msg);
			ctrl_mark_lost(c, q->qid, ret < 0 ? -ret : EACCES);
		}
	}
	if (ret == 0)
		NVMF_DEBUG("host: %s: every queue re-authenticated (%u)", c->name,
			   c->nr_io_queues + 1);
	/* A refused Authentication Send/Receive: its status is in err (nvmf/nvmf.h). */
	return ret > 0 ? -EIO : ret;
}

int nvmf_ctrl_set_dhchap_secrets(struct nvmf_ctrl *ctrl, const char *secret,
				 const char *ctrl_secret, struct nvmf_error *err)
{
	struct nvmf_dhchap_key key, ckey;
	struct nvmf_error local;
	struct nvmf_error why;
	int ret = 0;

	if (err == NULL)
		err = &local;
	memset(err, 0, sizeof(*err));
	memset(&ckey, 0, sizeof(ckey));
	if (secret == NULL) {
		host_set_error(err, EINVAL, 0, "a DH-HMAC-CHAP host secret is needed%s",
			       ctrl_secret != NULL ? " with a controller secret" : "");
		return -EINVAL;
	}
	if (nvmf_dhchap_key_parse(secret, &key, &why) != 0) {
		host_set_error(err, EINVAL, 0, "invalid DH-HMAC-CHAP secret: %s", why.msg);
		ret = -EINVAL;
	} else if (ctrl_secret != NULL &&
		   nvmf_dhchap_key_parse(ctrl_secret, &ckey, &why) != 0) {
		host_set_error(err, EINVAL, 0, "invalid DH-HMAC-CHAP controller secret: %s", why.msg);
		ret = -EINVAL;
	}
	if (ret == 0) {
		nvmf_mutex_lock(&ctrl->lock);
		ctrl->dhchap_key = key;
		ctrl->has_dhchap = true;
		ctrl->dhchap_ctrl_key = ckey;
		ctrl->has_dhchap_ctrl = ctrl_secret != NULL;
		nvmf_mutex_unlock(&ctrl->lock);
		NVMF_INFO("host: %s: new DH-HMAC-CHAP secrets (%s)", ctrl->name,
			  ctrl_secret != NULL ? "bidirectional" : "unidirectional");
	}
	OPENSSL_cleanse(&key, sizeof(key));
	OPENSSL_cleanse(&ckey, sizeof(ckey));
	return ret;
}
