/* SPDX-License-Identifier: MIT */
/*
 * Discovery (NVMe-oF 1.1 §5.3): reading the discovery log page consistently
 * and connecting to what it lists.
 *
 * The log may change while it is read in pieces, so, as libnvme does: read
 * the header, then the records, then the header again, and start over if
 * the generation counter moved or the controller answered Discovery
 * Restart.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/host_internal.h"
#include "util/log.h"

#define DISCOVERY_ATTEMPTS 10
#define STATUS_DISCOVERY_RESTART NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC, NVME_SC_DISCOVERY_RESTART)

int host_discovery_log(struct nvmf_ctrl *c, bool internal, struct nvmf_discovery_log **out,
		       size_t *nrec)
{
	struct nvmf_discovery_log hdr;
	struct nvmf_discovery_log *log = NULL;
	struct {
		uint64_t genctr;
		uint64_t numrec;
	} again;
	int ret = -EAGAIN;

	for (int attempt = 0; attempt < DISCOVERY_ATTEMPTS; attempt++) {
		size_t n;
		struct nvmf_discovery_log *grown;

		ret = ctrl_get_log(c, internal, NVME_LOG_DISCOVERY, 0, 0, &hdr, sizeof(hdr), true);
		if (ret == STATUS_DISCOVERY_RESTART)
			continue;
		if (ret != 0)
			break;
		n = hdr.numrec;
		if (n > NVMF_DISCOVERY_MAX_RECORDS) {
			NVMF_WARN("host: %s: discovery log has %llu records; reading the first %u",
				  c->name, (unsigned long long)hdr.numrec, NVMF_DISCOVERY_MAX_RECORDS);
			n = NVMF_DISCOVERY_MAX_RECORDS;
		}
		grown = realloc(log, sizeof(hdr) + n * sizeof(hdr.entries[0]));
		if (grown == NULL) {
			ret = -ENOMEM;
			break;
		}
		log = grown;
		memcpy(log, &hdr, sizeof(hdr));
		if (n > 0) {
			ret = ctrl_get_log(c, internal, NVME_LOG_DISCOVERY, 0, sizeof(hdr),
					   log->entries, n * sizeof(hdr.entries[0]), true);
			if (ret == STATUS_DISCOVERY_RESTART)
				continue;
			if (ret != 0)
				break;
		}
		ret = ctrl_get_log(c, internal, NVME_LOG_DISCOVERY, 0, 0, &again, sizeof(again),
				   false);
		if (ret == STATUS_DISCOVERY_RESTART)
			continue;
		if (ret != 0)
			break;
		if (again.genctr == hdr.genctr) {
			log->numrec = n;
			*out = log;
			*nrec = n;
			return 0;
		}
		NVMF_INFO("host: %s: discovery log changed while read (generation %llu -> %llu)",
			  c->name, (unsigned long long)hdr.genctr, (unsigned long long)again.genctr);
		ret = -EAGAIN;
	}
	free(log);
	return ret == STATUS_DISCOVERY_RESTART ? -EAGAIN : ret;
}

int nvmf_get_discovery_log(struct nvmf_ctrl *ctrl, struct nvmf_discovery_log **log,
			   size_t *nrec)
{
	return host_discovery_log(ctrl, false, log, nrec);
}

int nvmf_discover(const struct nvmf_host_opts *opts, struct nvmf_discovery_log **log,
		  size_t *nrec, struct nvmf_error *err)
{
	struct nvmf_host_opts o;
	struct nvmf_error local;
	struct nvmf_ctrl *c;
	int ret;

	if (err == NULL)
		err = &local;
	ret = host_opts_import(&o, opts, err);
	if (ret != 0)
		return ret;
	if (o.subnqn == NULL)
		o.subnqn = NVMF_DISCOVERY_NQN;
	if (o.trsvcid == NULL || o.trsvcid[0] == '\0')
		o.trsvcid = NVMF_DEFAULT_DISCOVERY_PORT;
	/* One-shot: no keep alive, no reconnection. */
	o.kato_s = 0;
	o.ctrl_loss_tmo_s = 0;
	o.nr_io_queues = 0;
	c = nvmf_connect(&o, err);
	if (c == NULL)
		return err->errnum != 0 ? -err->errnum : err->status;
	ret = host_discovery_log(c, false, log, nrec);
	if (ret != 0)
		host_set_error(err, ret < 0 ? -ret : 0, ret > 0 ? (uint16_t)ret : 0,
			       "reading the discovery log page of %s:%s failed: %s", o.traddr,
			       o.trsvcid,
			       ret == -EAGAIN ? "it kept changing"
			       : ret < 0      ? strerror(-ret)
					      : nvmf_status_str((uint16_t)ret));
	nvmf_disconnect(c);
	return ret;
}

/* A fixed-size, space- or NUL-padded field as a C string. */
static void field_str(const char *field, size_t field_len, char *out, size_t out_len)
{
	size_t n = strnlen(field, field_len);

	while (n > 0 && field[n - 1] == ' ')
		n--;
	if (out_len == 0)
		return;
	if (n >= out_len)
		n = out_len - 1;
	memcpy(out, field, n);
	out[n] = '\0';
}

void nvmf_discovery_entry_str(const struct nvmf_discovery_log_entry *e, char *traddr,
			      size_t traddr_len, char *trsvcid, size_t trsvcid_len,
			      char *subnqn, size_t subnqn_len)
{
	if (traddr != NULL)
		field_str(e->traddr, sizeof(e->traddr), traddr, traddr_len);
	if (trsvcid != NULL)
		field_str(e->trsvcid, sizeof(e->trsvcid), trsvcid, trsvcid_len);
	if (subnqn != NULL)
		field_str(e->subnqn, sizeof(e->subnqn), subnqn, subnqn_len);
}

static bool same_target(const struct nvmf_discovery_log_entry *a,
			const struct nvmf_discovery_log_entry *b)
{
	return strncmp(a->subnqn, b->subnqn, sizeof(a->subnqn)) == 0 &&
	       strncmp(a->traddr, b->traddr, sizeof(a->traddr)) == 0 &&
	       strncmp(a->trsvcid, b->trsvcid, sizeof(a->trsvcid)) == 0;
}

int nvmf_connect_all(const struct nvmf_host_opts *base, const struct nvmf_discovery_log *log,
		     size_t nrec, const char *traddr_override,
		     struct nvmf_connect_all_result **results)
{
	struct nvmf_connect_all_result *res;
	struct nvmf_host_opts b;
	struct nvmf_error err;
	int connected = 0;

	if (host_opts_import(&b, base, &err) != 0)
		return -EINVAL;
	res = calloc(nrec != 0 ? nrec : 1, sizeof(*res));
	if (res == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < nrec; i++) {
		const struct nvmf_discovery_log_entry *e = &log->entries[i];
		struct nvmf_connect_all_result *r = &res[i];
		char traddr[256], trsvcid[33], subnqn[NVMF_HOST_NQN_SIZE];
		struct nvmf_host_opts o = b;
		bool auto_sqflow, dup = false;

		r->entry = e;
		if (e->trtype != NVMF_TRTYPE_TCP || e->subtype != NVMF_SUBTYPE_NVME) {
			r->skipped = true;
			continue;
		}
		for (size_t j = 0; j < i && !dup; j++)
			dup = same_target(e, &log->entries[j]);
		if (dup) {
			r->skipped = true;
			continue;
		}
		/* The entry says how to reach it (TREQ, TSAS: NVMe-oF 1.1 §5.3):
		 * TLS wherever it is offered and we hold a PSK. */
		if (e->tsas.tcp.sectype == NVMF_TCP_SECTYPE_TLS13 && b.tls_key != NULL) {
			o.tls = true;
		} else if (e->tsas.tcp.sectype == NVMF_TCP_SECTYPE_TLS12) {
			host_set_error(&r->err, EOPNOTSUPP, 0, "entry %zu asks for TLS 1.2, "
				       "which is not supported (TLS 1.3 only)", i);
			continue;
		} else if ((e->treq & 0x3) == NVMF_TREQ_SECURE_REQUIRED) {
			host_set_error(&r->err, EACCES, 0, "entry %zu requires a secure channel "
				       "(TLS 1.3): give a TLS PSK (--tls-key)", i);
			continue;
		} else if (e->tsas.tcp.sectype == NVMF_TCP_SECTYPE_NONE) {
			o.tls = false; /* a plaintext port: a PSK would not help */
			o.tls_key = NULL;
		}
		nvmf_discovery_entry_str(e, traddr, sizeof(traddr), trsvcid, sizeof(trsvcid),
					 subnqn, sizeof(subnqn));
		o.traddr = traddr_override != NULL ? traddr_override : traddr;
		o.trsvcid = trsvcid;
		o.subnqn = subnqn;
		/* As libnvme: disable SQ flow control where the target allows it. */
		auto_sqflow = !b.disable_sqflow && (e->treq & NVMF_TREQ_DISABLE_SQFLOW) != 0;
		o.disable_sqflow = b.disable_sqflow || auto_sqflow;
		r->ctrl = nvmf_connect(&o, &r->err);
		if (r->ctrl == NULL && auto_sqflow && r->err.status != 0) {
			o.disable_sqflow = false;
			r->ctrl = nvmf_connect(&o, &r->err);
		}
		if (r->ctrl != NULL)
			connected++;
	}
	*results = res;
	return connected;
}
