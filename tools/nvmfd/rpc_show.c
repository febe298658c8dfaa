/* SPDX-License-Identifier: MIT */
/*
 * The JSON-RPC methods that only read: subsystems (the running
 * configuration, with what the target serves: serial numbers and
 * namespace identifiers as derived, sizes), controllers, queue pairs and
 * the target's counters.  Output follows SPDK's field names where there
 * is one.  Keys are never shown, only whether a host has them.
 */
#include <stdio.h>
#include <string.h>

#include "rpc_internal.h"

json_t *rpc_listen_address(const struct nvmf_port_conf *p)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "trtype", "TCP", "adrfam",
			 p->adrfam == NVMF_ADRFAM_IPV6 ? "IPv6" : "IPv4", "traddr", p->traddr,
			 "trsvcid", p->trsvcid);
}

static void hex(char *out, const uint8_t *b, size_t n, bool uuid_form)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (uuid_form && (i == 4 || i == 6 || i == 8 || i == 10))
			out[o++] = '-';
		o += (size_t)sprintf(out + o, "%02x", b[i]);
	}
}

static const struct nvmf_target_ns_info *live_ns(const struct nvmf_target_subsys_info *info,
						 uint32_t nsid)
{
	for (unsigned i = 0; info != NULL && i < info->nns; i++)
		if (info->ns[i].nsid == nsid)
			return &info->ns[i];
	return NULL;
}

static json_t *namespace_json(const struct nvmf_ns_conf *c, const struct nvmf_target_ns_info *ns)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:b, s:b}", "nsid", (json_int_t)c->nsid, "bdev_name",
			      c->path, "name", c->path, "enabled", c->enabled, "readonly",
			      c->readonly);
	char text[64];

	if (o == NULL || ns == NULL)
		return o;
	hex(text, ns->uuid, sizeof(ns->uuid), true);
	json_object_set_new(o, "uuid", json_string(text));
	hex(text, ns->nguid, sizeof(ns->nguid), false);
	json_object_set_new(o, "nguid", json_string(text));
	hex(text, ns->eui64, sizeof(ns->eui64), false);
	json_object_set_new(o, "eui64", json_string(text));
	json_object_set_new(o, "block_size", json_integer(ns->block_size));
	json_object_set_new(o, "size", json_integer((json_int_t)ns->size));
	json_object_set_new(o, "backend", json_string(ns->backend));
	return o;
}

static json_t *hosts_json(const struct nvmfd_state *st, const struct nvmf_subsys_conf *s)
{
	json_t *arr = json_array();

	for (unsigned i = 0; arr != NULL && i < s->nhosts; i++) {
		const struct nvmf_host_conf *h = NULL;

		for (unsigned k = 0; k < st->conf.nhosts && h == NULL; k++)
			if (strcmp(st->conf.hosts[k].nqn, s->hosts[i]) == 0)
				h = &st->conf.hosts[k];
		json_array_append_new(arr, json_pack("{s:s, s:b, s:b, s:b}", "nqn", s->hosts[i],
						     "dhchap", h != NULL && h->dhchap_key[0],
						     "dhchap_ctrlr", h != NULL && h->dhchap_ctrl_key[0],
						     "psk", h != NULL && h->tls_key[0]));
	}
	return arr;
}

static json_t *listeners_json(const struct nvmf_target_conf *conf, const char *nqn)
{
	json_t *arr = json_array();

	for (unsigned i = 0; arr != NULL && i < conf->nports; i++) {
		const struct nvmf_port_conf *p = &conf->ports[i];
		bool here = nqn == NULL; /* discovery: every port */

		for (unsigned k = 0; k < p->nsubsys && !here; k++)
			here = strcmp(p->subsystems[k], nqn) == 0;
		if (here)
			json_array_append_new(arr, rpc_listen_address(p));
	}
	return arr;
}

static json_t *subsys_json(struct call *c, const struct nvmf_subsys_conf *s)
{
	struct nvmf_target_subsys_info *info = NULL;
	json_t *o, *ns;

	if (c->st->target != NULL)
		nvmf_target_subsys_info(c->st->target, s->nqn, &info);
	o = json_pack("{s:s, s:s, s:o, s:b, s:o, s:s, s:s, s:I, s:I, s:I}", "nqn", s->nqn,
		      "subtype", "NVMe", "listen_addresses", listeners_json(&c->st->conf, s->nqn),
		      "allow_any_host", s->allow_any_host, "hosts", hosts_json(c->st, s),
		      "serial_number", info != NULL ? info->serial : s->serial, "model_number",
		      info != NULL ? info->model : s->model, "max_namespaces",
		      (json_int_t)(s->max_namespaces != 0 ? s->max_namespaces : NVMF_MAX_NSID),
		      "min_cntlid", (json_int_t)(s->cntlid_min != 0 ? s->cntlid_min : 1),
		      "max_cntlid",
		      (json_int_t)(s->cntlid_min != 0 ? s->cntlid_max : NVMF_CNTLID_MAX));
	ns = json_array();
	for (unsigned i = 0; ns != NULL && i < s->nns; i++)
		json_array_append_new(ns, namespace_json(&s->ns[i], live_ns(info, s->ns[i].nsid)));
	if (o != NULL)
		json_object_set_new(o, "namespaces", ns);
	else
		json_decref(ns);
	nvmf_target_subsys_info_free(info);
	return o;
}

int rpc_get_subsystems(struct call *c)
{
	static const char *const keys[] = {"nqn", NULL};
	char nqn[NVMF_NQN_SIZE] = "";
	int rc;

	if (rpc_known(c, c->params, "", keys) ||
	    (rc = rpc_string(c, c->params, "", "nqn", false, nqn, sizeof(nqn))) < 0)
		return -1;
	if (rc > 0 && strcmp(nqn, NVMF_DISCOVERY_NQN) != 0 &&
	    rpc_find_subsys(&c->st->conf, nqn) == NULL)
		return rpc_bad(c, "nqn", "no subsystem %s", nqn);
	c->result = json_array();
	if (c->result == NULL)
		return rpc_fail(c, RPC_INTERNAL_ERROR, "out of memory");
	if (rc == 0 || strcmp(nqn, NVMF_DISCOVERY_NQN) == 0)
		json_array_append_new(c->result,
				      json_pack("{s:s, s:s, s:o, s:b, s:[]}", "nqn", NVMF_DISCOVERY_NQN,
						"subtype", "Discovery", "listen_addresses",
						listeners_json(&c->st->conf, NULL), "allow_any_host",
						true, "hosts"));
	for (unsigned i = 0; i < c->st->conf.nsubsys; i++)
		if (rc == 0 || strcmp(c->st->conf.subsys[i].nqn, nqn) == 0)
			json_array_append_new(c->result, subsys_json(c, &c->st->conf.subsys[i]));
	return 0;
}

/* nqn's snapshot; -1 with the error set. */
static int snapshot(struct call *c, struct nvmf_target_subsys_info **info)
{
	static const char *const keys[] = {"nqn", NULL};
	struct nvmf_subsys_conf *s;

	*info = NULL;
	if (rpc_known(c, c->params, "", keys) || (s = rpc_subsys_param(c, &c->st->conf)) == NULL)
		return -1;
	if (c->st->target == NULL)
		return 0; /* validation only: none connected */
	if (nvmf_target_subsys_info(c->st->target, s->nqn, info) != 0)
		return rpc_fail(c, RPC_INTERNAL_ERROR, "%s: no snapshot", s->nqn);
	return 0;
}

int rpc_get_controllers(struct call *c)
{
	struct nvmf_target_subsys_info *info;
	char hostid[40];

	if (snapshot(c, &info) != 0)
		return -1;
	c->result = json_array();
	for (unsigned i = 0; info != NULL && c->result != NULL && i < info->nctrls; i++) {
		const struct nvmf_target_ctrl_info *ci = &info->ctrls[i];

		hex(hostid, ci->hostid, sizeof(ci->hostid), true);
		json_array_append_new(c->result,
				      json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:s}",
						"cntlid", (json_int_t)ci->cntlid, "hostnqn",
						ci->hostnqn, "hostid", hostid, "portid",
						(json_int_t)ci->portid, "num_io_qpairs",
						(json_int_t)ci->io_queues, "nr_io_queues",
						(json_int_t)ci->nr_io_queues, "kato_ms",
						(json_int_t)ci->kato_ms, "authenticated",
						ci->authenticated, "state",
						ci->dead ? "deleting" : "active"));
	}
	nvmf_target_subsys_info_free(info);
	return c->result != NULL ? 0 : rpc_fail(c, RPC_INTERNAL_ERROR, "out of memory");
}

/* "addr:port" or "[addr]:port" as the transport names peers. */
static json_t *peer_address(const char *peer)
{
	char addr[64];
	const char *colon = strrchr(peer, ':');
	size_t n = colon != NULL ? (size_t)(colon - peer) : strlen(peer);

	if (n > 0 && peer[0] == '[' && peer[n - 1] == ']')
		snprintf(addr, sizeof(addr), "%.*s", (int)(n - 2), peer + 1);
	else
		snprintf(addr, sizeof(addr), "%.*s", (int)n, peer);
	return json_pack("{s:s, s:s}", "traddr", addr, "trsvcid", colon != NULL ? colon + 1 : "");
}

int rpc_get_qpairs(struct call *c)
{
	struct nvmf_target_subsys_info *info;

	if (snapshot(c, &info) != 0)
		return -1;
	c->result = json_array();
	for (unsigned i = 0; info != NULL && c->result != NULL && i < info->nqpairs; i++) {
		const struct nvmf_target_qpair_info *q = &info->qpairs[i];
		json_t *o = json_pack("{s:I, s:I, s:s, s:o}", "cntlid", (json_int_t)q->cntlid, "qid",
				      (json_int_t)q->qid, "state", q->closing ? "deleting" : "active",
				      "peer_address", peer_address(q->peer));

		for (unsigned p = 0; o != NULL && p < c->st->conf.nports; p++)
			if (c->st->conf.ports[p].portid == q->portid)
				json_object_set_new(o, "listen_address",
						    rpc_listen_address(&c->st->conf.ports[p]));
		json_array_append_new(c->result, o);
	}
	nvmf_target_subsys_info_free(info);
	return c->result != NULL ? 0 : rpc_fail(c, RPC_INTERNAL_ERROR, "out of memory");
}

int rpc_get_stats(struct call *c)
{
	static const char *const keys[] = {NULL};
	struct nvmf_target_stats s = {0};

	if (rpc_known(c, c->params, "", keys))
		return -1;
	if (c->st->target != NULL)
		nvmf_target_get_stats(c->st->target, &s);
	c->result = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "connections",
			      (json_int_t)s.connections, "controllers", (json_int_t)s.controllers,
			      "discovery_genctr", (json_int_t)s.discovery_genctr, "kato_expired",
			      (json_int_t)s.kato_expired, "connect_timeouts",
			      (json_int_t)s.connect_timeouts, "refused_connections",
			      (json_int_t)s.refused_connections, "tls_refused",
			      (json_int_t)s.tls_refused, "auth_failures", (json_int_t)s.auth_failures);
	return c->result != NULL ? 0 : rpc_fail(c, RPC_INTERNAL_ERROR, "out of memory");
}
