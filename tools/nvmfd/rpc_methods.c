/* SPDX-License-Identifier: MIT */
/*
 * nvmfd's JSON-RPC 2.0 methods, with SPDK's names and parameter names
 * (rpc.py nvmf_*), and the request dispatcher.
 *
 * A method that changes something works on a copy of the running
 * configuration: it makes its change there, the whole result is applied
 * through nvmf_target_configure (the path SIGHUP reloads take: validated
 * as a whole, refused as a whole, namespace-attribute and discovery-log
 * events raised for what changed), and only then does the copy become the
 * running configuration.  Any error leaves everything as it was.
 * Secrets are parsed to be checked but never written to a response or a
 * log line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nvmf/auth.h"
#include "nvmf/log.h"
#include "rpc_internal.h"

int rpc_bad(struct call *c, const char *name, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	c->code = RPC_INVALID_PARAMS;
	snprintf(c->msg, sizeof(c->msg), "%s: %s", name, why);
	return -1;
}

int rpc_fail(struct call *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	c->code = code;
	return -1;
}

static void member_name(char *out, size_t size, const char *path, const char *key)
{
	snprintf(out, size, "%s%s%s", path, path[0] ? "." : "", key);
}

int rpc_known(struct call *c, json_t *obj, const char *path, const char *const *known)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		bool found = false;
		char name[128];

		for (const char *const *k = known; *k != NULL && !found; k++)
			found = strcmp(*k, key) == 0;
		if (!found) {
			member_name(name, sizeof(name), path, key);
			return rpc_bad(c, name, "unknown parameter");
		}
	}
	return 0;
}

/* obj.key, or 0 if absent (an error when required). */
static int member(struct call *c, json_t *obj, const char *path, const char *key, bool required,
		  json_t **v, char *name, size_t size)
{
	member_name(name, size, path, key);
	*v = json_object_get(obj, key);
	if (*v == NULL || json_is_null(*v))
		return required ? rpc_bad(c, name, "missing") : 0;
	return 1;
}

int rpc_string(struct call *c, json_t *obj, const char *path, const char *key, bool required,
	       char *dst, size_t size)
{
	char name[128];
	json_t *v;
	int rc = member(c, obj, path, key, required, &v, name, sizeof(name));

	if (rc <= 0)
		return rc;
	if (!json_is_string(v))
		return rpc_bad(c, name, "expected a string");
	if (json_string_length(v) >= size)
		return rpc_bad(c, name, "longer than %zu characters", size - 1);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return rpc_bad(c, name, "contains a NUL character");
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 1;
}

int rpc_uint(struct call *c, json_t *obj, const char *path, const char *key, bool required,
	     uint64_t max, uint64_t *out)
{
	char name[128];
	json_t *v;
	int rc = member(c, obj, path, key, required, &v, name, sizeof(name));

	if (rc <= 0)
		return rc;
	if (!json_is_integer(v))
		return rpc_bad(c, name, "expected an integer");
	if (json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
		return rpc_bad(c, name, "%lld is outside 0..%llu", (long long)json_integer_value(v),
			       (unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return 1;
}

int rpc_bool(struct call *c, json_t *obj, const char *path, const char *key, bool required,
	     bool *out)
{
	char name[128];
	json_t *v;
	int rc = member(c, obj, path, key, required, &v, name, sizeof(name));

	if (rc <= 0)
		return rc;
	if (!json_is_boolean(v))
		return rpc_bad(c, name, "expected true or false");
	*out = json_is_true(v);
	return 1;
}

struct nvmf_subsys_conf *rpc_find_subsys(struct nvmf_target_conf *conf, const char *nqn)
{
	for (unsigned i = 0; i < conf->nsubsys; i++)
		if (strcmp(conf->subsys[i].nqn, nqn) == 0)
			return &conf->subsys[i];
	return NULL;
}

struct nvmf_subsys_conf *rpc_subsys_param(struct call *c, struct nvmf_target_conf *conf)
{
	char nqn[NVMF_NQN_SIZE];
	struct nvmf_subsys_conf *s;

	if (rpc_string(c, c->params, "", "nqn", true, nqn, sizeof(nqn)) < 0)
		return NULL;
	s = rpc_find_subsys(conf, nqn);
	if (s == NULL)
		rpc_bad(c, "nqn", "no subsystem %s", nqn);
	return s;
}

static bool nqn_form(const char *nqn)
{
	return strncmp(nqn, "nqn.", 4) == 0 && strlen(nqn) > 4;
}

/* Identify strings: printable ASCII (Base spec: SN, MN). */
static bool printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* Subsystems                                                          */
/* ------------------------------------------------------------------ */

static int create_subsystem(struct call *c, struct nvmf_target_conf *next)
{
	static const char *const keys[] = {"nqn", "serial_number", "model_number", "allow_any_host",
					   "max_namespaces", "min_cntlid", "max_cntlid", NULL};
	struct nvmf_subsys_conf s = {0}, *added;
	uint64_t n;
	int rc;

	if (rpc_known(c, c->params, "", keys) ||
	    rpc_string(c, c->params, "", "nqn", true, s.nqn, sizeof(s.nqn)) < 0)
		return -1;
	if (!nqn_form(s.nqn) || strcmp(s.nqn, NVMF_DISCOVERY_NQN) == 0)
		return rpc_bad(c, "nqn", "\"%s\" is not a subsystem NQN (\"nqn.\"...)", s.nqn);
	if (rpc_find_subsys(next, s.nqn) != NULL)
		return rpc_bad(c, "nqn", "subsystem %s exists", s.nqn);
	if (rpc_string(c, c->params, "", "serial_number", false, s.serial, sizeof(s.serial)) < 0 ||
	    rpc_string(c, c->params, "", "model_number", false, s.model, sizeof(s.model)) < 0 ||
	    rpc_bool(c, c->params, "", "allow_any_host", false, &s.allow_any_host) < 0)
		return -1;
	if (!printable(s.serial))
		return rpc_bad(c, "serial_number", "printable ASCII only");
	if (!printable(s.model))
		return rpc_bad(c, "model_number", "printable ASCII only");
	if ((rc = rpc_uint(c, c->params, "", "max_namespaces", false, NVMF_MAX_NSID, &n)) < 0)
		return -1;
	s.max_namespaces = rc > 0 ? (uint16_t)n : 0;
	if ((rc = rpc_uint(c, c->params, "", "min_cntlid", false, NVMF_CNTLID_MAX, &n)) < 0)
		return -1;
	if (rc > 0 && n == 0)
		return rpc_bad(c, "min_cntlid", "controller IDs start at 1");
	s.cntlid_min = rc > 0 ? (uint16_t)n : 0;
	if ((rc = rpc_uint(c, c->params, "", "max_cntlid", false, NVMF_CNTLID_MAX, &n)) < 0)
		return -1;
	if (rc > 0 || s.cntlid_min != 0) {
		s.cntlid_max = rc > 0 ? (uint16_t)n : NVMF_CNTLID_MAX;
		if (s.cntlid_min == 0)
			s.cntlid_min = 1;
		if (s.cntlid_max < s.cntlid_min)
			return rpc_bad(c, "max_cntlid", "below min_cntlid (%u)", s.cntlid_min);
	}
	s.hosts = calloc(1, sizeof(*s.hosts));
	s.ns = calloc(1, sizeof(*s.ns));
	added = s.hosts != NULL && s.ns != NULL ? nvmfd_conf_add_subsys(next) : NULL;
	if (added == NULL) {
		free(s.hosts);
		free(s.ns);
		return rpc_fail(c, RPC_INTERNAL_ERROR, "out of memory");
	}
	*added = s;
	c->blame = "nqn";
	snprintf(c->what, sizeof(c->what), "subsystem %s", s.nqn);
	return 0;
}

/* Take subsystem k off port i; a port left without subsystems goes (ports
 * that never had any, discovery-only ones, stay).  True if it went. */
static bool port_drop_subsys(struct nvmf_target_conf *conf, unsigned i, unsigned k)
{
	struct nvmf_port_conf *p = &conf->ports[i];

	memmove(&p->subsystems[k], &p->subsystems[k + 1],
		(p->nsubsys - k - 1) * sizeof(*p->subsystems));
	if (--p->nsubsys > 0)
		return false;
	free(p->subsystems);
	free(p->ana);
	memmove(p, p + 1, (conf->nports - i - 1) * sizeof(*p));
	conf->nports--;
	return true;
}

static int port_subsys_index(const struct nvmf_port_conf *p, const char *nqn)
{
	for (unsigned k = 0; k < p->nsubsys; k++)
		if (strcmp(p->subsystems[k], nqn) == 0)
			return (int)k;
	return -1;
}

static void unlisten_everywhere(struct nvmf_target_conf *conf, const char *nqn)
{
	for (unsigned i = 0; i < conf->nports;) {
		int k = port_subsys_index(&conf->ports[i], nqn);

		if (k < 0 || !port_drop_subsys(conf, i, (unsigned)k))
			i++;
	}
}

static void drop_orphan_credentials(struct nvmf_target_conf *conf, const char *nqn);

static int delete_subsystem(struct call *c, struct nvmf_target_conf *next)
{
	static const char *const keys[] = {"nqn", NULL};
	struct nvmf_subsys_conf *s;
	char (*hosts)[NVMF_NQN_SIZE];
	unsigned nhosts;
	size_t i;

	if (rpc_known(c, c->params, "", keys) || (s = rpc_subsys_param(c, next)) == NULL)
		return -1;
	snprintf(c->what, sizeof(c->what), "subsystem %s", s->nqn);
	unlisten_everywhere(next, s->nqn);
	hosts = s->hosts;
	nhosts = s->nhosts;
	free(s->ns);
	i = (size_t)(s - next->subsys);
	memmove(s, s + 1, (next->nsubsys - i - 1) * sizeof(*s));
	next->nsubsys--;
	/* Keys go with a host's last subsystem, as with remove_host. */
	for (unsigned h = 0; h < nhosts; h++)
		drop_orphan_credentials(next, hosts[h]);
	free(hosts);
	return 0;
}

static int allow_any_host(struct call *c, struct nvmf_target_conf *next)
{
	static const char *const keys[] = {"nqn", "allow_any_host", NULL};
	struct nvmf_subsys_conf *s;
	bool any;

	if (rpc_known(c, c->params, "", keys) || (s = rpc_subsys_param(c, next)) == NULL ||
	    rpc_bool(c, c->params, "", "allow_any_host", true, &any) < 0)
		return -1;
	s->allow_any_host = any;
	snprintf(c->what, sizeof(c->what), "subsystem %s allow_any_host %s", s->nqn,
		 any ? "true" : "false");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Namespaces                                                          */
/* ------------------------------------------------------------------ */

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* n bytes of hex, '-' separators allowed (UUID and NGUID forms). */
static int ns_hex_id(struct call *c, json_t *ns, const char *key, uint8_t *out, size_t n,
		     bool *present)
{
	char text[80], name[64];
	size_t got = 0;
	int rc = rpc_string(c, ns, "namespace", key, false, text, sizeof(text));

	if (rc <= 0)
		return rc;
	snprintf(name, sizeof(name), "namespace.%s", key);
	for (const char *s = text; *s != '\0'; s++) {
		int hi, lo;

		if (*s == '-')
			continue;
		hi = hexval((unsigned char)s[0]);
		lo = s[1] != '\0' ? hexval((unsigned char)s[1]) : -1;
		if (hi < 0 || lo < 0 || got == n)
			return rpc_bad(c, name, "\"%s\" is not %zu hex bytes", text, n);
		out[got++] = (uint8_t)(hi << 4 | lo);
		s++;
	}
	if (got != n)
		return rpc_bad(c, name, "\"%s\" is not %zu hex bytes", text, n);
	*present = true;
	return 1;
}

/* "size": bytes, or a string like "1G"; a missing file is created so large. */
static int ns_size(struct call *c, json_t *ns, uint64_t *size)
{
	json_t *v = json_object_get(ns, "size");

	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		if (nvmf_parse_size(json_string_value(v), size) != 0 || *size == 0)
			return rpc_bad(c, "namespace.size", "\"%.64s\" is not a size (like 512M or 4G)",
				       json_string_value(v));
		return 0;
	}
	return rpc_uint(c, ns, "namespace", "size", false, UINT64_MAX, size) < 0 ? -1 : 0;
}

static int parse_namespace(struct call *c, json_t *ns, struct nvmf_ns_conf *out)
{
	static const char *const keys[] = {"nsid", "path", "uuid", "nguid", "eui64", "ana_grpid",
					   "size", "block_size", "readonly", NULL};
	uint64_t n;
	int rc;

	if (!json_is_object(ns))
		return rpc_bad(c, "namespace", ns == NULL ? "missing" : "expected an object");
	if (rpc_known(c, ns, "namespace", keys) != 0)
		return -1;
	memset(out, 0, sizeof(*out));
	out->enabled = true;
	if ((rc = rpc_uint(c, ns, "namespace", "nsid", false, NVMF_MAX_NSID, &n)) < 0)
		return -1;
	if (rc > 0 && n == 0)
		return rpc_bad(c, "namespace.nsid", "namespace IDs start at 1 (leave it out to get the lowest free one)");
	out->nsid = rc > 0 ? (uint32_t)n : 0;
	if (rpc_string(c, ns, "namespace", "path", true, out->path, sizeof(out->path)) < 0)
		return -1;
	if (out->path[0] == '\0')
		return rpc_bad(c, "namespace.path", "empty");
	if (ns_hex_id(c, ns, "uuid", out->uuid, sizeof(out->uuid), &out->has_uuid) < 0 ||
	    ns_hex_id(c, ns, "nguid", out->nguid, sizeof(out->nguid), &out->has_nguid) < 0 ||
	    ns_hex_id(c, ns, "eui64", out->eui64, sizeof(out->eui64), &out->has_eui64) < 0 ||
	    ns_size(c, ns, &out->size) < 0 ||
	    rpc_bool(c, ns, "namespace", "readonly", false, &out->readonly) < 0)
		return -1;
	if ((rc = rpc_uint(c, ns, "namespace", "ana_grpid", false, NVMF_ANA_GRPMAX, &n)) < 0)
		return -1;
	if (rc > 0 && n == 0)
		return rpc_bad(c, "namespace.ana_grpid", "ANA group IDs start at 1");
	if (rc > 0)
		out->anagrpid = (uint32_t)n;
	if ((rc = rpc_uint(c, ns, "namespace", "block_size", false, 4096, &n)) < 0)
		return -1;
	if (rc > 0 && n != 512 && n != 4096)
		return rpc_bad(c, "namespace.block_size", "%llu: want 512 or 4096",
			       (unsigned long long)n);
	out->block_size = rc > 0 ? (uint32_t)n : 0;
	return 0;
}

static const struct nvmf_ns_conf *find_ns(const struct nvmf_subsys_conf *s, uint32_t nsid)
{
	for (unsigned i = 0; i < s->nns; i++)
		if (s->ns[i].nsid == nsid)
			return &s->ns[i];
	return NULL;
}

static int add_ns(struct call *c, struct nvmf_target_conf *next)
{
	static const char *const keys[] = {"nqn", "namespace", NULL};
	unsigned max;
	struct nvmf_subsys_conf *s;
	struct nvmf_ns_conf ns, *grown;

	if (rpc_known(c, c->params, "", keys) || (s = rpc_subsys_param(c, next)) == NULL ||
	    parse_namespace(c, json_object_get(c->params, "namespace"), &ns) != 0)
		return -1;
	max = s->max_namespaces != 0 ? s->max_namespaces : NVMF_MAX_NSID;
	if (ns.nsid == 0) {
		for (uint32_t id = 1; id <= max && ns.nsid == 0; id++)
			if (find_ns(s, id) == NULL)
				ns.nsid = id;
		if (ns.nsid == 0)
			return rpc_bad(c, "nqn", "subsystem %s has all of its %u namespaces", s->nqn,
				       max);
	} else if (ns.nsid > max) {
		return rpc_bad(c, "namespace.nsid", "%u is above the subsystem's max_namespaces (%u)",
			       ns.nsid, max);
	} else if (find_ns(s, ns.nsid) != NULL) {
		return rpc_bad(c, "namespace.nsid", "%u is in use in %s", ns.nsid, s->nqn);
	}
	grown = realloc(s->ns, (s->nns + 1) * sizeof(*s->ns));
	if (grown == NULL)
		return rpc_fail(c, RPC_INTERNAL_ERROR, "out of memory");
	s->ns = grown;
	s->ns[s->nns++] = ns;
	c->result = json_integer(ns.nsid);
	c->blame = "namespace.path";
	snprintf(c->what, sizeof(c->what), "subsystem %s namespace %u: %.100s", s->nqn, ns.nsid,
		 ns.path);
	return 0;
}

static int remove_ns(struct call *c, struct nvmf_target_conf *next)
{
	static const char *const keys[] = {"nqn", "nsid", NULL};
	struct nvmf_subsys_conf *s;
	const struct nvmf_ns_conf *ns;
	uint64_t nsid;
	size_t i;

	if (rpc_known(c, c->params, "", keys) || (s = rpc_subsys_param(c, next)) == NULL ||
	    rpc_uint(c, c->params, "", "nsid", true, UINT32_MAX, &nsid) < 0)
		return -1;
	ns = find_ns(s, (uint32_t)nsid);
	if (nsid == 0 || ns == NULL)
		return rpc_bad(c, "nsid", "%s has no namespace %llu", s->nqn, (unsigned long long)nsid);
	i = (size_t)(ns - s->ns);
	memmove(&s->ns[i], &s->ns[i + 1], (s->nns - i - 1) * sizeof(*s->ns));
	s->nns--;
	snprintf(c->what, sizeof(c->what), "subsystem %s namespace %llu", s->nqn,
		 (unsigned long long)nsid);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Hosts                                                               */
/* ------------------------------------------------------------------ */

static struct nvmf_host_conf *find_host(struct nvmf_target_conf *conf, const char *nqn)
{
	for (unsigned i = 0; i < conf->nhosts; i++)
		if (strcmp(conf->hosts[i].nqn, nqn) == 0)
			return &conf->hosts[i];
	return NULL;
}

static int subsys_host_index(const struct nvmf_subsys_conf *s, const char *nqn)
{
	for (unsigned i = 0; i < s->nhosts; i++)
		if (strcmp(s->hosts[i], nqn) == 0)
			return (int)i;
	return -1;
}

/* A key parameter: checked, copied, never echoed. 0 absent, 1 given, -1. */
static int key_param(struct call *c, const char *key, char *dst, size_t size, bool tls)
{
	struct nvmf_dhchap_key dk;
	struct nvmf_tls_key tk;
	struct nvmf_error why;
	int rc = rpc_string(c, c->params, "", key, false, dst, size);

	if (rc <= 0)
		return rc;
	rc = tls ? nvmf_tls_key_parse(dst, &tk, &why) : nvmf_dhchap_key_parse(dst, &dk, &why);
	explicit_bzero(&dk, sizeof(dk));
	explicit_bzero(&tk, sizeof(tk));
	if (rc != 0) {
		explicit_bzero(dst, size);
		return rpc_bad(c, key, "not a usable key: %s", why.msg);
	}
	return 1;
}

/* The credentials given with add_host, in h (h->nqn set). */
static int host_credentials(struct call *c, struct nvmf_host_conf *h, bool *any)
{
	char text[32];
	int got[3], rc;

	got[0] = key_param(c, "dhchap_key", h->dhchap_key, sizeof(h->dhchap_key), false);
	got[1] = got[0] < 0 ? -1
			    : key_param(c, "dhchap_ctrlr_key", h->dhchap_ctrl_key,
					sizeof(h->dhchap_ctrl_key), false);
	got[2] = got[1] < 0 ? -1 : key_param(c, "psk", h->tls_key, sizeof(h->tls_key), true);
	if (got[2] < 0)
		return -1;
	if (got[1] > 0 && got[0] == 0)
		return rpc_bad(c, "dhchap_ctrlr_key", "needs a dhchap_key (bidirectional authentication)");
	if ((rc = rpc_string(c, c->params, "", "dhchap_hash", false, text, sizeof(text))) < 0)
		return -1;
	if (rc > 0) {
		int id = nvmf_dhchap_hash_from_name(text);

		if (id <= 0 || got[0] == 0)
			return rpc_bad(c, "dhchap_hash", got[0] == 0 ? "needs a dhchap_key"
						  : "want sha256, sha384 or sha512");
		h->dhchap_hash = (uint8_t)id;
	}
	if ((rc = rpc_string(c, c->params, "", "dhchap_dhgroup", false, text, sizeof(text))) < 0)
		return -1;
	if (rc > 0) {
		int id = nvmf_dhchap_dhgroup_from_name(text);

		if (id < 0 || got[0] == 0)
			return rpc_bad(c, "dhchap_dhgroup", got[0] == 0 ? "needs a dhchap_key"
						     : "want null or ffdhe2048 .. ffdhe8192");
		h->dhchap_dhgroup = (uint8_t)id;
	}
	*any = got[0] > 0 || got[2] > 0;
	return 0;
}

static int add_host(struct call *c, struct nvmf_target_conf *next)
{
	static const char *const keys[] = {"nqn", "host", "dhchap_key", "dhchap_ctrlr_key", "psk",
					   "dhchap_hash", "dhchap_dhgroup", NULL};
	struct nvmf_host_conf h = {0}, *entry;
	struct nvmf_subsys_conf *s;
	char (*hosts)[NVMF_NQN_SIZE];
	bool keys_given = false;
	int rc = -1;

	if (rpc_known(c, c->params, "", keys) || (s = rpc_subsys_param(c, next)) == NULL ||
	    rpc_string(c, c->params, "", "host", true, h.nqn, sizeof(h.nqn)) < 0)
		return -1;
	if (!nqn_form(h.nqn))
		return rpc_bad(c, "host", "\"%s\" is not an NQN", h.nqn);
	if (subsys_host_index(s, h.nqn) >= 0)
		return rpc_bad(c, "host", "%s is already allowed on %s", h.nqn, s->nqn);
	if (host_credentials(c, &h, &keys_given) != 0)
		goto out;
	hosts = realloc(s->hosts, (s->nhosts + 1) * sizeof(*s->hosts));
	if (hosts == NULL) {
		rpc_fail(c, RPC_INTERNAL_ERROR, "out of memory");
		goto out;
	}
	s->hosts = hosts;
	memcpy(s->hosts[s->nhosts++], h.nqn, sizeof(h.nqn));
	/* Credentials are the host's, as on Linux: given ones replace its old. */
	entry = find_host(next, h.nqn);
	if (entry == NULL && keys_given) {
		struct nvmf_host_conf *grown = realloc(next->hosts, (next->nhosts + 1) * sizeof(h));

		if (grown == NULL) {
			rpc_fail(c, RPC_INTERNAL_ERROR, "out of memory");
			goto out;
		}
		next->hosts = grown;
		entry = &next->hosts[next->nhosts++];
	}
	if (keys_given)
		*entry = h;
	c->blame = "host";
	snprintf(c->what, sizeof(c->what), "subsystem %s host %s%s", s->nqn, h.nqn,
		 keys_given ? " (with keys)" : "");
	rc = 0;
out:
	explicit_bzero(&h, sizeof(h));
	return rc;
}

static bool host_allowed_anywhere(const struct nvmf_target_conf *conf, const char *nqn)
{
	for (unsigned i = 0; i < conf->nsubsys; i++)
		if (subsys_host_index(&conf->subsys[i], nqn) >= 0)
			return true;
	return false;
}

/* A host's keys go with the last subsystem it is allowed on. */
static void drop_orphan_credentials(struct nvmf_target_conf *conf, const char *nqn)
{
	struct nvmf_host_conf *h = find_host(conf, nqn);

	if (h == NULL || host_allowed_anywhere(conf, nqn))
		return;
	explicit_bzero(h, sizeof(*h));
	memmove(h, h + 1, (size_t)(conf->hosts + conf->nhosts - h - 1) * sizeof(*h));
	conf->nhosts--;
}

static int remove_host(struct call *c, struct nvmf_target_conf *next)
{
	static const char *const keys[] = {"nqn", "host", NULL};
	char nqn[NVMF_NQN_SIZE];
	struct nvmf_subsys_conf *s;
	int i;

	if (rpc_known(c, c->params, "", keys) || (s = rpc_subsys_param(c, next)) == NULL ||
	    rpc_string(c, c->params, "", "host", true, nqn, sizeof(nqn)) < 0)
		return -1;
	i = subsys_host_index(s, nqn);
	if (i < 0)
		return rpc_bad(c, "host", "%s is not allowed on %s", nqn, s->nqn);
	memmove(&s->hosts[i], &s->hosts[i + 1], (s->nhosts - (unsigned)i - 1) * sizeof(*s->hosts));
	s->nhosts--;
	drop_orphan_credentials(next, nqn);
	snprintf(c->what, sizeof(c->what), "subsystem %s host %s", s->nqn, nqn);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Listeners                                                           */
/* ------------------------------------------------------------------ */

static int parse_listen_address(struct call *c, struct nvmf_port_conf *p)
{
	static const char *const keys[] = {"trtype", "adrfam", "traddr", "trsvcid", NULL};
	json_t *la = json_object_get(c->params, "listen_address");
	char text[16];
	int rc;

	if (!json_is_object(la))
		return rpc_bad(c, "listen_address", la == NULL ? "missing" : "expected an object");
	if (rpc_known(c, la, "listen_address", keys) != 0 ||
	    rpc_string(c, la, "listen_address", "trtype", true, text, sizeof(text)) < 0)
		return -1;
	if (strcasecmp(text, "tcp") != 0)
		return rpc_bad(c, "listen_address.trtype", "\"%s\": nvmfd serves tcp", text);
	if (rpc_string(c, la, "listen_address", "traddr", true, p->traddr, sizeof(p->traddr)) < 0 ||
	    rpc_string(c, la, "listen_address", "trsvcid", true, p->trsvcid, sizeof(p->trsvcid)) < 0)
		return -1;
	p->adrfam = strchr(p->traddr, ':') != NULL ? NVMF_ADRFAM_IPV6 : NVMF_ADRFAM_IPV4;
	if ((rc = rpc_string(c, la, "listen_address", "adrfam", false, text, sizeof(text))) < 0)
		return -1;
	if (rc > 0 && strcasecmp(text, "ipv4") != 0 && strcasecmp(text, "ipv6") != 0)
		return rpc_bad(c, "listen_address.adrfam", "\"%s\": want IPv4 or IPv6", text);
	if (rc > 0)
		p->adrfam = strcasecmp(text, "ipv6") == 0 ? NVMF_ADRFAM_IPV6 : NVMF_ADRFAM_IPV4;
	return 0;
}

static struct nvmf_port_conf *find_port(struct nvmf_target_conf *conf,
					const struct nvmf_port_conf *addr)
{
	for (unsigned i = 0; i < conf->nports; i++) {
		struct nvmf_port_conf *p = &conf->ports[i];

		if (p->adrfam == addr->adrfam && strcmp(p->traddr, addr->traddr) == 0 &&
		    strcmp(p->trsvcid, addr->trsvcid) == 0)
			return p;
	}
	return NULL;
}

/* The lowest port ID not in use (nvmetcli numbers from 1). */
static uint16_t free_portid(const struct nvmf_target_conf *conf)
{
	for (uint16_t id = 1; id < NVMFD_DISCOVERY_PORTID; id++) {
		bool used = false;

		for (unsigned i = 0; i < conf->nports && !used; i++)
			used = conf->ports[i].portid == id;
		if (!used)
			return id;
	}
	return 0;
}

static int add_listener(struct call *c, struct nvmf_target_conf *next)
{
	static const char *const keys[] = {"nqn", "listen_address", "secure_channel", NULL};
	struct nvmf_port_conf addr = {0}, *p;
	struct nvmf_subsys_conf *s;
	char (*subs)[NVMF_NQN_SIZE];
	bool tls = false;

	if (rpc_known(c, c->params, "", keys) || (s = rpc_subsys_param(c, next)) == NULL ||
	    parse_listen_address(c, &addr) != 0 ||
	    rpc_bool(c, c->params, "", "secure_channel", false, &tls) < 0)
		return -1;
	p = find_port(next, &addr);
	if (p != NULL && port_subsys_index(p, s->nqn) >= 0)
		return rpc_bad(c, "listen_address", "%s already listens on %s port %s", s->nqn,
			       addr.traddr, addr.trsvcid);
	if (p != NULL && (p->tls == NVMF_PORT_TLS_REQUIRED) != tls)
		return rpc_bad(c, "secure_channel", "port %u on %s port %s is %s", p->portid,
			       addr.traddr, addr.trsvcid, tls ? "not TLS-only" : "TLS-only");
	if (p == NULL) {
		uint16_t id = free_portid(next);

		if (id == 0)
			return rpc_bad(c, "listen_address", "no port ID left");
		p = nvmfd_conf_add_port(next);
		if (p == NULL)
			return rpc_fail(c, RPC_INTERNAL_ERROR, "out of memory");
		addr.portid = id;
		addr.inline_data_size = UINT32_MAX;
		addr.tls = tls ? NVMF_PORT_TLS_REQUIRED : NVMF_PORT_TLS_NONE;
		addr.fatal_close = c->st->fatal_close;
		*p = addr;
	}
	subs = realloc(p->subsystems, (p->nsubsys + 1) * sizeof(*subs));
	if (subs == NULL)
		return rpc_fail(c, RPC_INTERNAL_ERROR, "out of memory");
	p->subsystems = subs;
	memcpy(p->subsystems[p->nsubsys++], s->nqn, sizeof(s->nqn));
	c->blame = "listen_address";
	snprintf(c->what, sizeof(c->what), "subsystem %s on %s port %s (port %u)", s->nqn,
		 p->traddr, p->trsvcid, p->portid);
	return 0;
}

static int remove_listener(struct call *c, struct nvmf_target_conf *next)
{
	static const char *const keys[] = {"nqn", "listen_address", NULL};
	struct nvmf_port_conf addr = {0}, *p;
	struct nvmf_subsys_conf *s;
	int k;

	if (rpc_known(c, c->params, "", keys) || (s = rpc_subsys_param(c, next)) == NULL ||
	    parse_listen_address(c, &addr) != 0)
		return -1;
	p = find_port(next, &addr);
	k = p != NULL ? port_subsys_index(p, s->nqn) : -1;
	if (k < 0)
		return rpc_bad(c, "listen_address", "%s does not listen on %s port %s", s->nqn,
			       addr.traddr, addr.trsvcid);
	snprintf(c->what, sizeof(c->what), "subsystem %s from %s port %s", s->nqn, p->traddr,
		 p->trsvcid);
	port_drop_subsys(next, (unsigned)(p - next->ports), (unsigned)k);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Configuration file and logging                                      */
/* ------------------------------------------------------------------ */

static int save_config(struct call *c)
{
	static const char *const keys[] = {"path", NULL};
	char path[NVMF_PATH_SIZE], err[600];
	int rc;

	if (rpc_known(c, c->params, "", keys) ||
	    (rc = rpc_string(c, c->params, "", "path", false, path, sizeof(path))) < 0)
		return -1;
	if (rc == 0 && c->st->config_path == NULL)
		return rpc_bad(c, "path", "nvmfd runs without --config: name the file to write");
	if (rc == 0)
		snprintf(path, sizeof(path), "%s", c->st->config_path);
	if (path[0] == '\0')
		return rpc_bad(c, "path", "empty");
	if (!c->st->dry_run && nvmfd_config_save(&c->st->conf, path, err, sizeof(err)) != 0)
		return rpc_fail(c, RPC_INTERNAL_ERROR, "save_config: %s", err);
	c->result = json_pack("{s:s}", "path", path);
	snprintf(c->what, sizeof(c->what), "to %.200s", path);
	return 0;
}

static int log_set_level(struct call *c)
{
	static const char *const keys[] = {"level", NULL};
	static const struct {
		const char *name;
		enum nvmf_log_level level;
	} levels[] = {
		{"error", NVMF_LOG_ERR}, {"warning", NVMF_LOG_WARN}, {"warn", NVMF_LOG_WARN},
		{"notice", NVMF_LOG_INFO}, {"info", NVMF_LOG_INFO}, {"debug", NVMF_LOG_DEBUG},
	};
	char name[16];

	if (rpc_known(c, c->params, "", keys) ||
	    rpc_string(c, c->params, "", "level", true, name, sizeof(name)) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(levels[i].name, name) == 0) {
			if (!c->st->dry_run)
				nvmf_log_set_level(levels[i].level);
			snprintf(c->what, sizeof(c->what), "%s", levels[i].name);
			return 0;
		}
	return rpc_bad(c, "level", "\"%s\": want error, warning, notice, info or debug", name);
}

/* Set (or add) one group's state on a port. */
static int port_set_ana(struct nvmf_port_conf *p, uint32_t grpid, enum nvme_ana_state state)
{
	struct nvmf_port_ana *ana;

	for (unsigned i = 0; i < p->nana; i++)
		if (p->ana[i].grpid == grpid) {
			p->ana[i].state = state;
			return 0;
		}
	ana = realloc(p->ana, (p->nana + 1) * sizeof(*ana));
	if (ana == NULL)
		return -1;
	p->ana = ana;
	p->ana[p->nana++] = (struct nvmf_port_ana){.grpid = grpid, .state = state};
	return 0;
}

/*
 * SPDK's parameters: the listener's group (anagrpid) or, without one,
 * every group of the subsystem's namespaces.  States are the port's (as
 * on the Linux target), so every subsystem on that port sees the change.
 */
static int set_ana_state(struct call *c, struct nvmf_target_conf *next)
{
	static const char *const keys[] = {"nqn", "listen_address", "ana_state", "anagrpid", NULL};
	struct nvmf_port_conf addr = {0}, *p;
	struct nvmf_subsys_conf *s;
	enum nvme_ana_state state;
	char name[32];
	uint64_t grpid = 0;
	int rc;

	if (rpc_known(c, c->params, "", keys) || (s = rpc_subsys_param(c, next)) == NULL ||
	    parse_listen_address(c, &addr) != 0 ||
	    rpc_string(c, c->params, "", "ana_state", true, name, sizeof(name)) < 0 ||
	    (rc = rpc_uint(c, c->params, "", "anagrpid", false, NVMF_ANA_GRPMAX, &grpid)) < 0)
		return -1;
	if (nvmf_ana_state_parse(name, &state) != 0)
		return rpc_bad(c, "ana_state", "%s: not optimized, non_optimized, inaccessible, "
			       "persistent_loss or change", name);
	if (rc > 0 && grpid == 0)
		return rpc_bad(c, "anagrpid", "ANA group IDs start at 1");
	p = find_port(next, &addr);
	if (p == NULL || port_subsys_index(p, s->nqn) < 0)
		return rpc_bad(c, "listen_address", "%s does not listen on %s port %s", s->nqn,
			       addr.traddr, addr.trsvcid);
	if (grpid != 0 && port_set_ana(p, (uint32_t)grpid, state) != 0)
		return rpc_fail(c, RPC_INTERNAL_ERROR, "out of memory");
	for (unsigned i = 0; grpid == 0 && i < s->nns; i++)
		if (port_set_ana(p, s->ns[i].anagrpid != 0 ? s->ns[i].anagrpid : 1, state) != 0)
			return rpc_fail(c, RPC_INTERNAL_ERROR, "out of memory");
	snprintf(c->what, sizeof(c->what), "%s on %s port %s (port %u, %s)",
		 nvmf_ana_state_name(state), p->traddr, p->trsvcid, p->portid,
		 grpid != 0 ? "one group" : "the subsystem's groups");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */
/* ------------------------------------------------------------------ */

struct method {
	const char *name;
	int (*read)(struct call *c);                               /* or: */
	int (*change)(struct call *c, struct nvmf_target_conf *next);
};

static const struct method methods[] = {
	{"nvmf_get_subsystems", rpc_get_subsystems, NULL},
	{"nvmf_create_subsystem", NULL, create_subsystem},
	{"nvmf_delete_subsystem", NULL, delete_subsystem},
	{"nvmf_subsystem_add_ns", NULL, add_ns},
	{"nvmf_subsystem_remove_ns", NULL, remove_ns},
	{"nvmf_subsystem_add_host", NULL, add_host},
	{"nvmf_subsystem_remove_host", NULL, remove_host},
	{"nvmf_subsystem_allow_any_host", NULL, allow_any_host},
	{"nvmf_subsystem_add_listener", NULL, add_listener},
	{"nvmf_subsystem_remove_listener", NULL, remove_listener},
	{"nvmf_subsystem_listener_set_ana_state", NULL, set_ana_state},
	{"nvmf_subsystem_get_controllers", rpc_get_controllers, NULL},
	{"nvmf_subsystem_get_qpairs", rpc_get_qpairs, NULL},
	{"nvmf_get_stats", rpc_get_stats, NULL},
	{"save_config", save_config, NULL},
	{"log_set_level", log_set_level, NULL},
	{"rpc_get_methods", NULL, NULL},
};

static int get_methods(struct call *c)
{
	c->result = json_array();
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]) && c->result != NULL; i++)
		json_array_append_new(c->result, json_string(methods[i].name));
	return c->result != NULL ? 0 : rpc_fail(c, RPC_INTERNAL_ERROR, "out of memory");
}

/* The change on a copy of the running configuration, applied as a whole. */
static int run_change(struct call *c, const struct method *m)
{
	struct nvmfd_state *st = c->st;
	struct nvmf_target_conf next;
	struct nvmf_error err = {0};
	int rc;

	if (nvmfd_config_copy(&next, &st->conf) != 0)
		return rpc_fail(c, RPC_INTERNAL_ERROR, "out of memory");
	rc = m->change(c, &next);
	if (rc == 0) {
		rc = st->dry_run ? nvmf_target_conf_validate(&next, &err)
				 : nvmf_target_configure(st->target, &next, &err);
		if (rc != 0 && c->blame != NULL)
			rpc_bad(c, c->blame, "%s", err.msg);
		else if (rc != 0)
			rpc_fail(c, RPC_INVALID_PARAMS, "%s", err.msg);
	}
	if (rc == 0 && !st->dry_run) {
		nvmfd_config_free(&st->conf);
		st->conf = next;
	} else {
		nvmfd_config_free(&next);
	}
	return rc;
}

static void run(struct call *c)
{
	const struct method *m = NULL;
	int rc;

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]) && m == NULL; i++)
		if (strcmp(methods[i].name, c->method) == 0)
			m = &methods[i];
	if (m == NULL) {
		rpc_fail(c, RPC_METHOD_NOT_FOUND, "method \"%.100s\" not found (rpc_get_methods lists them)",
			 c->method);
		return;
	}
	pthread_mutex_lock(&c->st->lock);
	if (m->change != NULL)
		rc = run_change(c, m);
	else if (m->read != NULL)
		rc = m->read(c);
	else
		rc = get_methods(c);
	pthread_mutex_unlock(&c->st->lock);
	if (!c->st->dry_run &&
	    (m->change != NULL || m->read == save_config || m->read == log_set_level)) {
		if (rc == 0)
			fprintf(stderr, "nvmfd: rpc %s: %s\n", c->method, c->what);
		else
			fprintf(stderr, "nvmfd: rpc %s refused: %s\n", c->method, c->msg);
	}
}

/* A message as a JSON string: one quoting bytes that are not UTF-8 (a
 * parser's error near a bad byte, a name cut short) has them as '?'. */
static json_t *message_string(const char *msg)
{
	char ascii[sizeof(((struct call *)0)->msg)];
	json_t *s = json_string(msg);
	size_t i;

	if (s != NULL)
		return s;
	for (i = 0; msg[i] != '\0' && i < sizeof(ascii) - 1; i++)
		ascii[i] = (unsigned char)msg[i] < 0x80 ? msg[i] : '?';
	ascii[i] = '\0';
	return json_string(ascii);
}

static char *respond(json_t *id, json_t *result, int code, const char *msg)
{
	json_t *r = json_pack("{s:s, s:O}", "jsonrpc", "2.0", "id", id != NULL ? id : json_null());
	char *text;
	int rc;

	if (r == NULL) {
		json_decref(result);
		return NULL;
	}
	if (code == 0)
		rc = json_object_set_new(r, "result", result != NULL ? result : json_true());
	else
		rc = json_object_set_new(r, "error", json_pack("{s:i, s:o}", "code", code, "message",
							       message_string(msg)));
	text = rc == 0 ? json_dumps(r, JSON_COMPACT) : NULL;
	json_decref(r);
	return text;
}

/* The envelope: {"jsonrpc": "2.0", "method", "params"?, "id"?}. */
static int check_envelope(json_t *req, struct call *c, json_t **id)
{
	const char *key;
	json_t *v;

	*id = NULL;
	if (!json_is_object(req))
		return rpc_fail(c, RPC_INVALID_REQUEST, "a request is one JSON object (no batches)");
	*id = json_object_get(req, "id");
	if (*id != NULL && !json_is_string(*id) && !json_is_integer(*id) && !json_is_null(*id)) {
		*id = NULL;
		return rpc_fail(c, RPC_INVALID_REQUEST, "id: a string, an integer or null");
	}
	json_object_foreach(req, key, v)
		if (strcmp(key, "jsonrpc") != 0 && strcmp(key, "method") != 0 &&
		    strcmp(key, "params") != 0 && strcmp(key, "id") != 0)
			return rpc_fail(c, RPC_INVALID_REQUEST, "%.64s: not a request member", key);
	v = json_object_get(req, "jsonrpc");
	if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0)
		return rpc_fail(c, RPC_INVALID_REQUEST, "jsonrpc: must be \"2.0\"");
	v = json_object_get(req, "method");
	if (!json_is_string(v))
		return rpc_fail(c, RPC_INVALID_REQUEST, "method: missing, or not a string");
	c->method = json_string_value(v);
	v = json_object_get(req, "params");
	if (v != NULL && !json_is_object(v) && !json_is_null(v))
		return rpc_fail(c, RPC_INVALID_PARAMS, "params: by name only (an object)");
	c->params = json_is_object(v) ? json_incref(v) : json_object();
	return c->params != NULL ? 0 : rpc_fail(c, RPC_INTERNAL_ERROR, "out of memory");
}

char *nvmfd_rpc_handle(struct nvmfd_state *st, const char *text, size_t len)
{
	struct call c = {.st = st};
	json_error_t jerr;
	json_t *req, *id = NULL, *result;
	char *out;

	req = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (req == NULL) {
		rpc_fail(&c, RPC_PARSE_ERROR, "parse error at byte %d: %s", jerr.position, jerr.text);
		return respond(NULL, NULL, c.code, c.msg);
	}
	if (check_envelope(req, &c, &id) == 0)
		run(&c);
	result = c.code == 0 ? c.result : NULL;
	if (c.code != 0)
		json_decref(c.result);
	/* A notification (no id) gets no answer unless the request was bad. */
	if (json_object_get(req, "id") == NULL && c.code != RPC_INVALID_REQUEST) {
		json_decref(result);
		out = NULL;
	} else {
		out = respond(id, result, c.code, c.msg);
	}
	json_decref(c.params);
	json_decref(req);
	return out;
}
