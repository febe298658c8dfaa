/* SPDX-License-Identifier: MIT */
/*
 * The nvmetcli JSON configuration (what `nvmetcli save` writes to
 * /etc/nvmet/config.json).  The structure is read strictly: an unknown
 * object key, a wrong type or a value nvmfd cannot serve is an error naming
 * the field's path.  The attribute groups nvmetcli copies from the kernel's
 * configfs files ("attr", "addr", "param", "device", "ana", "resv",
 * "dhchap") grow with each kernel: a name nvmfd does not know there is
 * reported in one warning and ignored.  Values nvmetcli writes as strings
 * ("1", "16384") are accepted as strings or numbers.
 *
 * nvmfd extensions, under a namespace's "device": "size" (create a missing
 * file this size, e.g. "1G"), "block_size" (512 or 4096), "readonly", and
 * "path": "ramdisk:SIZE"; under a subsystem's "attr": "dhchap_required",
 * "max_namespaces" (namespace IDs 1..N, Identify NN; JSON-RPC's).
 *
 * Secure channels: a host entry carries the Linux target's per-host
 * DH-HMAC-CHAP attributes, flat ("dhchap_key", "dhchap_ctrl_key",
 * "dhchap_hash", "dhchap_dhgroup") or as nvmetcli 2026 saves them, a
 * "dhchap" group ("key", "ctrl_key", "hash", "dhgroup"; a key "" is none),
 * and a TLS PSK ("tls_key"); a port's "addr" asks for TLS with "tsas":
 * "tls1.3" ("treq": "not required" makes it optional).
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmfd.h"

#define PATH_MAX_TEXT 256

struct loader {
	char *err;
	size_t errlen;
	nvmfd_config_warn *warn;             /* may be NULL */
	void *warn_arg;
	json_t *hosts;                       /* the "hosts" array, or NULL */
	const struct nvmf_target_conf *conf; /* subsystems loaded so far */
};

/* nvmetcli links allowed hosts to entries of "hosts": they must be there. */
static bool host_defined(const struct loader *l, const char *nqn)
{
	size_t i;
	json_t *h;

	json_array_foreach(l->hosts, i, h)
		if (strcmp(json_string_value(json_object_get(h, "nqn")), nqn) == 0)
			return true;
	return false;
}

static bool subsys_defined(const struct loader *l, const char *nqn)
{
	for (unsigned i = 0; i < l->conf->nsubsys; i++)
		if (strcmp(l->conf->subsys[i].nqn, nqn) == 0)
			return true;
	return false;
}

static int fail(struct loader *l, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct loader *l, const char *path, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(l->err, l->errlen, "%s: %s", path, why);
	return -1;
}

static void warn(struct loader *l, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warn(struct loader *l, const char *path, const char *fmt, ...)
{
	char why[400], line[PATH_MAX_TEXT + sizeof(why) + 2];
	va_list ap;

	if (l->warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s: %s", path, why);
	l->warn(l->warn_arg, line);
}

/* "parent.key" or "parent[index]" */
static void mark_truncated(char *out)
{
	memcpy(out + PATH_MAX_TEXT - 4, "...", 4);
}

static void sub_path(char *out, const char *parent, const char *key)
{
	if (snprintf(out, PATH_MAX_TEXT, "%s%s%s", parent, parent[0] ? "." : "", key) >=
	    PATH_MAX_TEXT)
		mark_truncated(out);
}

static void index_path(char *out, const char *parent, size_t index)
{
	if (snprintf(out, PATH_MAX_TEXT, "%s[%zu]", parent, index) >= PATH_MAX_TEXT)
		mark_truncated(out);
}

/* Every key of obj must be one of the names listed. */
static int check_keys(struct loader *l, const char *path, json_t *obj, const char *const *known)
{
	const char *key;
	json_t *value;

	json_object_foreach(obj, key, value) {
		bool found = false;
		char p[PATH_MAX_TEXT];

		for (const char *const *k = known; *k != NULL && !found; k++)
			found = strcmp(*k, key) == 0;
		if (!found) {
			sub_path(p, path, key);
			return fail(l, p, "unknown field");
		}
	}
	return 0;
}

/* An attribute group: names not listed are a newer kernel's, ignored. */
static int check_attrs(struct loader *l, const char *path, json_t *obj, const char *const *known)
{
	const char *key;
	json_t *value;

	if (!json_is_object(obj))
		return fail(l, path, "expected an object");
	json_object_foreach(obj, key, value) {
		bool found = false;
		char p[PATH_MAX_TEXT];

		for (const char *const *k = known; *k != NULL && !found; k++)
			found = strcmp(*k, key) == 0;
		if (!found) {
			sub_path(p, path, key);
			warn(l, p, "attribute unknown to nvmfd, ignored");
		}
	}
	return 0;
}

static int want_object(struct loader *l, const char *path, json_t *v)
{
	return json_is_object(v) ? 0 : fail(l, path, "expected an object");
}

static int get_string(struct loader *l, const char *path, json_t *v, char *dst, size_t size)
{
	const char *s;

	if (!json_is_string(v))
		return fail(l, path, "expected a string");
	s = json_string_value(v);
	if (strlen(s) >= size)
		return fail(l, path, "longer than %zu characters", size - 1);
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

/* An integer written as a number or as a decimal string. */
static int get_uint(struct loader *l, const char *path, json_t *v, uint64_t max, uint64_t *out)
{
	uint64_t n;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return fail(l, path, "must not be negative");
		n = (uint64_t)json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;

		if (!isdigit((unsigned char)s[0]))
			return fail(l, path, "\"%s\" is not a number", s);
		errno = 0;
		n = strtoull(s, &end, 0);
		if (errno != 0 || *end != '\0')
			return fail(l, path, "\"%s\" is not a number", s);
	} else {
		return fail(l, path, "expected a number");
	}
	if (n > max)
		return fail(l, path, "%llu is above the maximum %llu", (unsigned long long)n,
			    (unsigned long long)max);
	*out = n;
	return 0;
}

static int get_bool(struct loader *l, const char *path, json_t *v, bool *out)
{
	uint64_t n;

	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	if (get_uint(l, path, v, 1, &n) != 0)
		return fail(l, path, "expected 0 or 1");
	*out = n != 0;
	return 0;
}

/* "pi_enable" in OBJ (a subsystem's attr, a port's param): only false is served. */
static int refuse_pi(struct loader *l, const char *path, json_t *obj)
{
	char q[PATH_MAX_TEXT];
	json_t *a = json_object_get(obj, "pi_enable");
	bool on;

	if (a == NULL)
		return 0;
	sub_path(q, path, "pi_enable");
	if (get_bool(l, q, a, &on) != 0)
		return -1;
	return on ? fail(l, q, "protection information is not supported") : 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Hex digits with optional '-' separators (UUID and NGUID forms). */
static int get_hex_id(struct loader *l, const char *path, json_t *v, uint8_t *out, size_t n,
		      bool *present)
{
	const char *s;
	size_t got = 0;

	if (!json_is_string(v))
		return fail(l, path, "expected a string of %zu hex bytes", n);
	s = json_string_value(v);
	for (; *s != '\0'; s++) {
		int hi, lo;

		if (*s == '-')
			continue;
		hi = hexval((unsigned char)s[0]);
		lo = s[1] != '\0' ? hexval((unsigned char)s[1]) : -1;
		if (hi < 0 || lo < 0 || got == n)
			return fail(l, path, "\"%s\" is not %zu hex bytes", json_string_value(v), n);
		out[got++] = (uint8_t)(hi << 4 | lo);
		s++;
	}
	if (got != n)
		return fail(l, path, "\"%s\" is not %zu hex bytes", json_string_value(v), n);
	/* nvmet writes an all-zero NGUID for "none": derive one instead. */
	*present = false;
	for (size_t i = 0; i < n; i++)
		*present |= out[i] != 0;
	return 0;
}

/* ------------------------------------------------------------------ */

static int get_ana_grpid(struct loader *l, const char *path, json_t *v, uint32_t *grpid)
{
	uint64_t n;

	if (get_uint(l, path, v, NVMF_ANA_GRPMAX, &n) != 0)
		return -1;
	if (n == 0)
		return fail(l, path, "ANA group IDs start at 1");
	*grpid = (uint32_t)n;
	return 0;
}

static int load_namespace(struct loader *l, const char *path, json_t *o, struct nvmf_ns_conf *ns)
{
	static const char *const keys[] = {"nsid", "enable", "device", "ana_grpid", "ana", "resv",
					   NULL};
	static const char *const dev_keys[] = {"path", "uuid", "nguid", "eui64", "size",
					       "block_size", "readonly", NULL};
	char p[PATH_MAX_TEXT], q[PATH_MAX_TEXT];
	json_t *v, *dev, *d;
	uint64_t n;

	if (want_object(l, path, o) || check_keys(l, path, o, keys))
		return -1;
	memset(ns, 0, sizeof(*ns));
	ns->enabled = true;
	sub_path(p, path, "nsid");
	v = json_object_get(o, "nsid");
	if (v == NULL)
		return fail(l, p, "missing");
	if (get_uint(l, p, v, NVMF_MAX_NSID, &n) != 0)
		return -1;
	if (n == 0)
		return fail(l, p, "namespace IDs start at 1");
	ns->nsid = (uint32_t)n;
	if ((v = json_object_get(o, "enable")) != NULL) {
		sub_path(p, path, "enable");
		if (get_bool(l, p, v, &ns->enabled) != 0)
			return -1;
	}
	/* nvmetcli writes "ana_grpid"; some layouts nest it as "ana": {"grpid"}. */
	if ((v = json_object_get(o, "ana_grpid")) != NULL) {
		sub_path(p, path, "ana_grpid");
		if (get_ana_grpid(l, p, v, &ns->anagrpid) != 0)
			return -1;
	}
	if ((v = json_object_get(o, "ana")) != NULL) {
		static const char *const ana_keys[] = {"grpid", NULL};

		sub_path(p, path, "ana");
		if (check_attrs(l, p, v, ana_keys))
			return -1;
		if ((d = json_object_get(v, "grpid")) != NULL) {
			sub_path(q, p, "grpid");
			if (get_ana_grpid(l, q, d, &ns->anagrpid) != 0)
				return -1;
		}
	}
	if ((v = json_object_get(o, "resv")) != NULL) {
		static const char *const resv_keys[] = {"enable", NULL};

		sub_path(p, path, "resv");
		if (check_attrs(l, p, v, resv_keys))
			return -1;
		if ((d = json_object_get(v, "enable")) != NULL) {
			sub_path(q, p, "enable");
			if (get_bool(l, q, d, &ns->resv_enable) != 0)
				return -1;
		}
	}
	sub_path(p, path, "device");
	dev = json_object_get(o, "device");
	if (dev == NULL)
		return ns->enabled ? fail(l, p, "missing (an enabled namespace needs a path)") : 0;
	if (check_attrs(l, p, dev, dev_keys))
		return -1;
	if ((d = json_object_get(dev, "path")) != NULL) {
		sub_path(q, p, "path");
		if (get_string(l, q, d, ns->path, sizeof(ns->path)) != 0)
			return -1;
	}
	if (ns->enabled && ns->path[0] == '\0') {
		sub_path(q, p, "path");
		return fail(l, q, "missing or empty (an enabled namespace needs one)");
	}
	if ((d = json_object_get(dev, "uuid")) != NULL) {
		sub_path(q, p, "uuid");
		if (get_hex_id(l, q, d, ns->uuid, sizeof(ns->uuid), &ns->has_uuid) != 0)
			return -1;
	}
	if ((d = json_object_get(dev, "nguid")) != NULL) {
		sub_path(q, p, "nguid");
		if (get_hex_id(l, q, d, ns->nguid, sizeof(ns->nguid), &ns->has_nguid) != 0)
			return -1;
	}
	if ((d = json_object_get(dev, "eui64")) != NULL) {
		sub_path(q, p, "eui64");
		if (get_hex_id(l, q, d, ns->eui64, sizeof(ns->eui64), &ns->has_eui64) != 0)
			return -1;
	}
	if ((d = json_object_get(dev, "size")) != NULL) {
		sub_path(q, p, "size");
		if (json_is_string(d)) {
			if (nvmf_parse_size(json_string_value(d), &ns->size) != 0)
				return fail(l, q, "\"%s\" is not a size (like 512M or 4G)",
					    json_string_value(d));
		} else if (get_uint(l, q, d, UINT64_MAX, &ns->size) != 0) {
			return -1;
		}
	}
	if ((d = json_object_get(dev, "block_size")) != NULL) {
		sub_path(q, p, "block_size");
		if (get_uint(l, q, d, 4096, &n) != 0)
			return -1;
		if (n != 512 && n != 4096)
			return fail(l, q, "%llu: must be 512 or 4096", (unsigned long long)n);
		ns->block_size = (uint32_t)n;
	}
	if ((d = json_object_get(dev, "readonly")) != NULL) {
		sub_path(q, p, "readonly");
		if (get_bool(l, q, d, &ns->readonly) != 0)
			return -1;
	}
	return 0;
}

/*
 * "attr": nvmfd serves NVMe 1.3 (NVMF_TARGET_VS) whatever version is asked
 * (Linux 6.12 writes 2.1): any version parses, and one other than that is
 * said, once, to be served as it.
 */
static int load_version(struct loader *l, const char *path, json_t *v)
{
	unsigned major, minor, tertiary = 0;
	char text[16], tail;
	int got;

	if (get_string(l, path, v, text, sizeof(text)) != 0)
		return -1;
	got = sscanf(text, "%u.%u%c", &major, &minor, &tail);
	if (got == 3 && tail == '.')
		got = sscanf(text, "%u.%u.%u%c", &major, &minor, &tertiary, &tail) == 3 ? 2 : 0;
	if (got != 2 || !isdigit((unsigned char)text[0]) || major == 0 || major > 0xffff ||
	    minor > 0xff || tertiary > 0xff)
		return fail(l, path, "\"%s\" is not an NVMe version (like 1.3 or 2.1)", text);
	if (NVME_VS(major, minor, tertiary) != NVMF_TARGET_VS)
		warn(l, path, "version %s is served as %u.%u, the version nvmfd implements (VS and Identify report it)",
		     text, NVMF_TARGET_VS >> 16, (NVMF_TARGET_VS >> 8) & 0xff);
	return 0;
}

/* A string attribute into a fixed-size field, if present. */
static int attr_string(struct loader *l, const char *path, json_t *attrs, const char *name,
		       char *dst, size_t size)
{
	char p[PATH_MAX_TEXT];
	json_t *a = json_object_get(attrs, name);

	sub_path(p, path, name);
	return a == NULL ? 0 : get_string(l, p, a, dst, size);
}

/* A numeric attribute, if present: 0, 1 if absent, -1 on error. */
static int attr_uint(struct loader *l, const char *path, json_t *attrs, const char *name,
		     uint64_t max, uint64_t *out)
{
	char p[PATH_MAX_TEXT];
	json_t *a = json_object_get(attrs, name);

	sub_path(p, path, name);
	if (a == NULL)
		return 1;
	return get_uint(l, p, a, max, out) != 0 ? -1 : 0;
}

static int load_cntlid_range(struct loader *l, const char *path, json_t *attrs,
			     struct nvmf_subsys_conf *s)
{
	char q[PATH_MAX_TEXT];
	uint64_t n;
	int rc;

	if ((rc = attr_uint(l, path, attrs, "cntlid_min", NVMF_CNTLID_MAX, &n)) < 0)
		return -1;
	if (rc == 0) {
		sub_path(q, path, "cntlid_min");
		if (n == 0)
			return fail(l, q, "controller IDs start at 1");
		s->cntlid_min = (uint16_t)n;
		s->cntlid_max = NVMF_CNTLID_MAX;
	}
	if ((rc = attr_uint(l, path, attrs, "cntlid_max", NVMF_CNTLID_MAX, &n)) < 0)
		return -1;
	if (rc == 0) {
		sub_path(q, path, "cntlid_max");
		if (n == 0)
			return fail(l, q, "controller IDs start at 1");
		s->cntlid_max = (uint16_t)n;
		if (s->cntlid_min == 0)
			s->cntlid_min = 1;
		if (s->cntlid_min > s->cntlid_max)
			return fail(l, q, "below cntlid_min (%u)", s->cntlid_min);
	}
	return 0;
}

/* The Linux target's writable subsystem attributes (configfs attr_*). */
static int load_subsys_attrs(struct loader *l, const char *path, json_t *attrs,
			     struct nvmf_subsys_conf *s)
{
	static const char *const names[] = {
		"allow_any_host", "serial", "model", "firmware", "version", "ieee_oui",
		"vendor_id", "subsys_vendor_id", "cntlid_min", "cntlid_max", "pi_enable",
		"qid_max", "dhchap_required", "max_namespaces", NULL};
	char q[PATH_MAX_TEXT];
	json_t *a;
	uint64_t n;
	int rc;

	if (check_attrs(l, path, attrs, names) != 0)
		return -1;
	if ((a = json_object_get(attrs, "allow_any_host")) != NULL) {
		sub_path(q, path, "allow_any_host");
		if (get_bool(l, q, a, &s->allow_any_host) != 0)
			return -1;
	}
	if ((a = json_object_get(attrs, "dhchap_required")) != NULL) {
		sub_path(q, path, "dhchap_required");
		if (get_bool(l, q, a, &s->dhchap_required) != 0)
			return -1;
	}
	if (attr_string(l, path, attrs, "serial", s->serial, sizeof(s->serial)) != 0 ||
	    attr_string(l, path, attrs, "model", s->model, sizeof(s->model)) != 0 ||
	    attr_string(l, path, attrs, "firmware", s->firmware, sizeof(s->firmware)) != 0)
		return -1;
	if ((a = json_object_get(attrs, "version")) != NULL) {
		sub_path(q, path, "version");
		if (load_version(l, q, a) != 0)
			return -1;
	}
	if ((rc = attr_uint(l, path, attrs, "ieee_oui", 0xffffff, &n)) < 0)
		return -1;
	if (rc == 0)
		s->ieee_oui = (uint32_t)n;
	if ((rc = attr_uint(l, path, attrs, "vendor_id", UINT16_MAX, &n)) < 0)
		return -1;
	if (rc == 0)
		s->vendor_id = (uint16_t)n;
	if ((rc = attr_uint(l, path, attrs, "subsys_vendor_id", UINT16_MAX, &n)) < 0)
		return -1;
	if (rc == 0)
		s->subsys_vendor_id = (uint16_t)n;
	if (refuse_pi(l, path, attrs) != 0)
		return -1;
	if (load_cntlid_range(l, path, attrs, s) != 0)
		return -1;
	if ((rc = attr_uint(l, path, attrs, "qid_max", UINT16_MAX, &n)) < 0)
		return -1;
	if (rc == 0) {
		sub_path(q, path, "qid_max");
		if (n == 0)
			return fail(l, q, "at least one I/O queue is needed");
		s->max_io_queues = (uint16_t)n;
	}
	if ((rc = attr_uint(l, path, attrs, "max_namespaces", NVMF_MAX_NSID, &n)) < 0)
		return -1;
	s->max_namespaces = rc == 0 ? (uint16_t)n : 0; /* 0: NVMF_MAX_NSID */
	return 0;
}

static int load_subsystem(struct loader *l, const char *path, json_t *o,
			  struct nvmf_subsys_conf *s)
{
	static const char *const keys[] = {"nqn", "attr", "namespaces", "allowed_hosts", "passthru",
					   NULL};
	char p[PATH_MAX_TEXT], q[PATH_MAX_TEXT];
	json_t *v, *a;
	size_t i;

	if (want_object(l, path, o) || check_keys(l, path, o, keys))
		return -1;
	sub_path(p, path, "nqn");
	if ((v = json_object_get(o, "nqn")) == NULL)
		return fail(l, p, "missing");
	if (get_string(l, p, v, s->nqn, sizeof(s->nqn)) != 0)
		return -1;
	if ((v = json_object_get(o, "attr")) != NULL) {
		sub_path(p, path, "attr");
		if (load_subsys_attrs(l, p, v, s) != 0)
			return -1;
	}
	if ((v = json_object_get(o, "passthru")) != NULL && json_array_size(v) > 0) {
		sub_path(p, path, "passthru");
		return fail(l, p, "passthru controllers are not supported");
	}
	if ((v = json_object_get(o, "allowed_hosts")) != NULL) {
		sub_path(p, path, "allowed_hosts");
		if (!json_is_array(v))
			return fail(l, p, "expected an array of host NQNs");
		s->nhosts = (unsigned)json_array_size(v);
		s->hosts = calloc(s->nhosts ? s->nhosts : 1, sizeof(*s->hosts));
		if (s->hosts == NULL)
			return fail(l, p, "out of memory");
		json_array_foreach(v, i, a) {
			index_path(q, p, i);
			if (get_string(l, q, a, s->hosts[i], sizeof(s->hosts[i])) != 0)
				return -1;
			if (!host_defined(l, s->hosts[i]))
				return fail(l, q, "host \"%s\" is not in \"hosts\"", s->hosts[i]);
		}
	}
	if ((v = json_object_get(o, "namespaces")) != NULL) {
		sub_path(p, path, "namespaces");
		if (!json_is_array(v))
			return fail(l, p, "expected an array");
		s->nns = (unsigned)json_array_size(v);
		s->ns = calloc(s->nns ? s->nns : 1, sizeof(*s->ns));
		if (s->ns == NULL)
			return fail(l, p, "out of memory");
		json_array_foreach(v, i, a) {
			index_path(q, p, i);
			if (load_namespace(l, q, a, &s->ns[i]) != 0)
				return -1;
			for (size_t j = 0; j < i; j++)
				if (s->ns[j].nsid == s->ns[i].nsid)
					return fail(l, q, "namespace %u defined twice", s->ns[i].nsid);
		}
	}
	return 0;
}

static int load_addr(struct loader *l, const char *path, json_t *o, struct nvmf_port_conf *port)
{
	static const char *const keys[] = {"adrfam", "traddr", "trsvcid", "trtype", "treq", "tsas",
					   NULL};
	char p[PATH_MAX_TEXT], text[64];
	bool tls = false, required = true;
	json_t *v;

	if (check_attrs(l, path, o, keys))
		return -1;
	sub_path(p, path, "trtype");
	if ((v = json_object_get(o, "trtype")) == NULL)
		return fail(l, p, "missing");
	if (get_string(l, p, v, text, sizeof(text)) != 0)
		return -1;
	if (strcmp(text, "tcp") != 0)
		return fail(l, p, "\"%s\": nvmfd serves only tcp", text);
	sub_path(p, path, "adrfam");
	if ((v = json_object_get(o, "adrfam")) == NULL)
		return fail(l, p, "missing");
	if (get_string(l, p, v, text, sizeof(text)) != 0)
		return -1;
	if (strcmp(text, "ipv4") == 0)
		port->adrfam = NVMF_ADRFAM_IPV4;
	else if (strcmp(text, "ipv6") == 0)
		port->adrfam = NVMF_ADRFAM_IPV6;
	else
		return fail(l, p, "\"%s\": want ipv4 or ipv6", text);
	sub_path(p, path, "traddr");
	if ((v = json_object_get(o, "traddr")) == NULL)
		return fail(l, p, "missing");
	if (get_string(l, p, v, port->traddr, sizeof(port->traddr)) != 0)
		return -1;
	sub_path(p, path, "trsvcid");
	if ((v = json_object_get(o, "trsvcid")) == NULL)
		return fail(l, p, "missing");
	if (json_is_integer(v))
		snprintf(port->trsvcid, sizeof(port->trsvcid), "%lld",
			 (long long)json_integer_value(v));
	else if (get_string(l, p, v, port->trsvcid, sizeof(port->trsvcid)) != 0)
		return -1;
	/* As Linux nvmet: tsas names the security type; with TLS, treq says
	 * whether plaintext hosts may still come ("not required"). */
	if ((v = json_object_get(o, "tsas")) != NULL) {
		sub_path(p, path, "tsas");
		if (get_string(l, p, v, text, sizeof(text)) != 0)
			return -1;
		if (strcmp(text, "tls1.3") == 0)
			tls = true;
		else if (strcmp(text, "none") != 0 && text[0] != '\0')
			return fail(l, p, "\"%s\": want \"none\" or \"tls1.3\"", text);
	}
	if ((v = json_object_get(o, "treq")) != NULL) {
		sub_path(p, path, "treq");
		if (get_string(l, p, v, text, sizeof(text)) != 0)
			return -1;
		if (strcmp(text, "required") == 0 && !tls)
			return fail(l, p, "a secure channel needs \"tsas\": \"tls1.3\"");
		if (strcmp(text, "not required") == 0)
			required = false;
		else if (strcmp(text, "required") != 0 && strcmp(text, "not specified") != 0)
			return fail(l, p, "\"%s\": want \"not specified\", \"required\" or \"not required\"",
				    text);
	}
	port->tls = !tls ? NVMF_PORT_TLS_NONE
		    : required ? NVMF_PORT_TLS_REQUIRED : NVMF_PORT_TLS_OPTIONAL;
	return 0;
}

/* One ports[].ana_groups[] entry: {"grpid": N, "ana": {"state": NAME}}. */
static int load_ana_group(struct loader *l, const char *path, json_t *o, struct nvmf_port_ana *a)
{
	static const char *const keys[] = {"grpid", "ana", NULL};
	static const char *const ana_keys[] = {"state", NULL};
	char p[PATH_MAX_TEXT], q[PATH_MAX_TEXT], name[32];
	json_t *v, *st;

	if (want_object(l, path, o) || check_keys(l, path, o, keys))
		return -1;
	sub_path(p, path, "grpid");
	if ((v = json_object_get(o, "grpid")) == NULL)
		return fail(l, p, "missing");
	if (get_ana_grpid(l, p, v, &a->grpid) != 0)
		return -1;
	/* No state: the Linux target's default for the group. */
	a->state = a->grpid == 1 ? NVME_ANA_OPTIMIZED : NVME_ANA_INACCESSIBLE;
	if ((v = json_object_get(o, "ana")) == NULL)
		return 0;
	sub_path(p, path, "ana");
	if (check_attrs(l, p, v, ana_keys))
		return -1;
	if ((st = json_object_get(v, "state")) == NULL)
		return 0;
	sub_path(q, p, "state");
	if (get_string(l, q, st, name, sizeof(name)) != 0)
		return -1;
	if (nvmf_ana_state_parse(name, &a->state) != 0)
		return fail(l, q, "\"%s\": want optimized, non_optimized, inaccessible, persistent_loss or change",
			    name);
	return 0;
}

static int load_ana_groups(struct loader *l, const char *path, json_t *v,
			   struct nvmf_port_conf *port)
{
	char q[PATH_MAX_TEXT];
	json_t *a;
	size_t i;

	if (!json_is_array(v))
		return fail(l, path, "expected an array");
	if (json_array_size(v) > NVMF_ANA_GRPMAX)
		return fail(l, path, "more than %u groups", NVMF_ANA_GRPMAX);
	port->ana = calloc(json_array_size(v) + 1, sizeof(*port->ana));
	if (port->ana == NULL)
		return fail(l, path, "out of memory");
	json_array_foreach(v, i, a) {
		index_path(q, path, i);
		if (load_ana_group(l, q, a, &port->ana[i]) != 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (port->ana[j].grpid == port->ana[i].grpid)
				return fail(l, q, "group %u given twice", port->ana[i].grpid);
		port->nana++;
	}
	return 0;
}

static int load_port(struct loader *l, const char *path, json_t *o, struct nvmf_port_conf *port)
{
	static const char *const keys[] = {"portid", "addr", "param", "subsystems", "referrals",
					   "ana_groups", NULL};
	static const char *const param_keys[] = {"inline_data_size", "pi_enable", "max_queue_size",
						 "fatal_error", NULL};
	char p[PATH_MAX_TEXT], q[PATH_MAX_TEXT];
	json_t *v, *a;
	uint64_t n;
	size_t i;

	if (want_object(l, path, o) || check_keys(l, path, o, keys))
		return -1;
	port->inline_data_size = UINT32_MAX;
	sub_path(p, path, "portid");
	if ((v = json_object_get(o, "portid")) == NULL)
		return fail(l, p, "missing");
	if (get_uint(l, p, v, UINT16_MAX - 1, &n) != 0)
		return -1;
	port->portid = (uint16_t)n;
	sub_path(p, path, "addr");
	if ((v = json_object_get(o, "addr")) == NULL)
		return fail(l, p, "missing");
	if (load_addr(l, p, v, port) != 0)
		return -1;
	if ((v = json_object_get(o, "param")) != NULL) {
		sub_path(p, path, "param");
		if (check_attrs(l, p, v, param_keys))
			return -1;
		if ((a = json_object_get(v, "inline_data_size")) != NULL) {
			sub_path(q, p, "inline_data_size");
			if (get_uint(l, q, a, 128 * 1024, &n) != 0)
				return -1;
			port->inline_data_size = (uint32_t)n;
		}
		if (refuse_pi(l, p, v) != 0)
			return -1;
		if ((a = json_object_get(v, "fatal_error")) != NULL) {
			char how[16];

			/* nvmfd's own: how a host's protocol error ends its connection. */
			sub_path(q, p, "fatal_error");
			if (get_string(l, q, a, how, sizeof(how)) != 0)
				return -1;
			if (strcmp(how, "close") != 0 && strcmp(how, "termreq") != 0)
				return fail(l, q, "want \"termreq\" (the default) or \"close\"");
			port->fatal_close = strcmp(how, "close") == 0;
		}
		if ((a = json_object_get(v, "max_queue_size")) != NULL) {
			sub_path(q, p, "max_queue_size");
			if (get_uint(l, q, a, UINT16_MAX, &n) != 0)
				return -1;
		}
	}
	if ((v = json_object_get(o, "referrals")) != NULL && json_array_size(v) > 0) {
		sub_path(p, path, "referrals");
		return fail(l, p, "discovery referrals are not supported");
	}
	if ((v = json_object_get(o, "ana_groups")) != NULL) {
		sub_path(p, path, "ana_groups");
		if (load_ana_groups(l, p, v, port) != 0)
			return -1;
	}
	if ((v = json_object_get(o, "subsystems")) != NULL) {
		sub_path(p, path, "subsystems");
		if (!json_is_array(v))
			return fail(l, p, "expected an array of subsystem NQNs");
		port->nsubsys = (unsigned)json_array_size(v);
		port->subsystems = calloc(port->nsubsys ? port->nsubsys : 1, sizeof(*port->subsystems));
		if (port->subsystems == NULL)
			return fail(l, p, "out of memory");
		json_array_foreach(v, i, a) {
			index_path(q, p, i);
			if (get_string(l, q, a, port->subsystems[i], sizeof(port->subsystems[i])) != 0)
				return -1;
			if (!subsys_defined(l, port->subsystems[i]))
				return fail(l, q, "subsystem \"%s\" is not in \"subsystems\"",
					    port->subsystems[i]);
		}
	}
	return 0;
}

/* A key string, checked here so that the error names the field; "" (what
 * Linux shows for no key) is none. */
static int get_key(struct loader *l, const char *path, json_t *v, char *dst, size_t size,
		   bool tls)
{
	struct nvmf_dhchap_key dk;
	struct nvmf_tls_key tk;
	struct nvmf_error why;
	int rc;

	if (get_string(l, path, v, dst, size) != 0)
		return -1;
	if (dst[0] == '\0')
		return 0;
	rc = tls ? nvmf_tls_key_parse(dst, &tk, &why) : nvmf_dhchap_key_parse(dst, &dk, &why);
	explicit_bzero(&dk, sizeof(dk));
	explicit_bzero(&tk, sizeof(tk));
	return rc == 0 ? 0 : fail(l, path, "%s", why.msg);
}

/*
 * One DH-HMAC-CHAP attribute of a host: flat ("dhchap_key") or in the
 * "dhchap" group ("key"), not both.  Sets *v (NULL if absent) and its path.
 */
static int host_dhchap_attr(struct loader *l, const char *path, json_t *host, json_t *group,
			    const char *name, json_t **v, char *p)
{
	char flat[32], q[PATH_MAX_TEXT], in_group[PATH_MAX_TEXT];
	json_t *a, *b;

	snprintf(flat, sizeof(flat), "dhchap_%s", name);
	a = json_object_get(host, flat);
	b = group != NULL ? json_object_get(group, name) : NULL;
	sub_path(q, path, "dhchap");
	sub_path(in_group, q, name);
	sub_path(q, path, flat);
	if (a != NULL && b != NULL)
		return fail(l, in_group, "also given as %s: one layout or the other", q);
	memcpy(p, b != NULL ? in_group : q, PATH_MAX_TEXT);
	*v = a != NULL ? a : b;
	return 0;
}

static int load_host_dhchap(struct loader *l, const char *path, json_t *o,
			    struct nvmf_host_conf *h)
{
	static const char *const group_names[] = {"key", "ctrl_key", "hash", "dhgroup", NULL};
	char p[PATH_MAX_TEXT], text[32];
	json_t *group = json_object_get(o, "dhchap"), *v;
	int id;

	if (group != NULL) {
		sub_path(p, path, "dhchap");
		if (check_attrs(l, p, group, group_names) != 0)
			return -1;
	}
	if (host_dhchap_attr(l, path, o, group, "key", &v, p) != 0 ||
	    (v != NULL && get_key(l, p, v, h->dhchap_key, sizeof(h->dhchap_key), false) != 0))
		return -1;
	if (host_dhchap_attr(l, path, o, group, "ctrl_key", &v, p) != 0 ||
	    (v != NULL &&
	     get_key(l, p, v, h->dhchap_ctrl_key, sizeof(h->dhchap_ctrl_key), false) != 0))
		return -1;
	if (host_dhchap_attr(l, path, o, group, "hash", &v, p) != 0)
		return -1;
	if (v != NULL) {
		if (get_string(l, p, v, text, sizeof(text)) != 0)
			return -1;
		id = nvmf_dhchap_hash_from_name(text);
		if (id <= 0)
			return fail(l, p, "\"%s\": want hmac(sha256), hmac(sha384) or hmac(sha512)",
				    text);
		h->dhchap_hash = (uint8_t)id;
	}
	if (host_dhchap_attr(l, path, o, group, "dhgroup", &v, p) != 0)
		return -1;
	if (v != NULL) {
		if (get_string(l, p, v, text, sizeof(text)) != 0)
			return -1;
		id = nvmf_dhchap_dhgroup_from_name(text);
		if (id < 0)
			return fail(l, p, "\"%s\": want null, ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144 or ffdhe8192",
				    text);
		h->dhchap_dhgroup = (uint8_t)id;
	}
	return 0;
}

/* A host entry: its NQN, and the credentials Linux keeps per host. */
static int load_host(struct loader *l, const char *path, json_t *o, struct nvmf_host_conf *h)
{
	static const char *const keys[] = {"nqn", "dhchap", "dhchap_key", "dhchap_ctrl_key",
					   "dhchap_hash", "dhchap_dhgroup", "tls_key", NULL};
	char p[PATH_MAX_TEXT];
	json_t *v;

	if (want_object(l, path, o) || check_keys(l, path, o, keys))
		return -1;
	sub_path(p, path, "nqn");
	if (!json_is_string(json_object_get(o, "nqn")))
		return fail(l, p, "missing, or not a string");
	if (get_string(l, p, json_object_get(o, "nqn"), h->nqn, sizeof(h->nqn)) != 0)
		return -1;
	if (load_host_dhchap(l, path, o, h) != 0)
		return -1;
	if ((v = json_object_get(o, "tls_key")) != NULL) {
		sub_path(p, path, "tls_key");
		if (get_key(l, p, v, h->tls_key, sizeof(h->tls_key), true) != 0)
			return -1;
	}
	return 0;
}

struct nvmf_subsys_conf *nvmfd_conf_add_subsys(struct nvmf_target_conf *conf)
{
	struct nvmf_subsys_conf *s = realloc(conf->subsys, (conf->nsubsys + 1) * sizeof(*s));

	if (s == NULL)
		return NULL;
	conf->subsys = s;
	s = &conf->subsys[conf->nsubsys++];
	memset(s, 0, sizeof(*s));
	return s;
}

struct nvmf_port_conf *nvmfd_conf_add_port(struct nvmf_target_conf *conf)
{
	struct nvmf_port_conf *p = realloc(conf->ports, (conf->nports + 1) * sizeof(*p));

	if (p == NULL)
		return NULL;
	conf->ports = p;
	p = &conf->ports[conf->nports++];
	memset(p, 0, sizeof(*p));
	p->inline_data_size = UINT32_MAX;
	return p;
}

void nvmfd_config_free(struct nvmf_target_conf *conf)
{
	if (conf->hosts != NULL)
		explicit_bzero(conf->hosts, conf->nhosts * sizeof(*conf->hosts)); /* secrets */
	free(conf->hosts);
	for (unsigned i = 0; i < conf->nsubsys; i++) {
		free(conf->subsys[i].hosts);
		free(conf->subsys[i].ns);
	}
	for (unsigned i = 0; i < conf->nports; i++) {
		free(conf->ports[i].subsystems);
		free(conf->ports[i].ana);
	}
	free(conf->subsys);
	free(conf->ports);
	memset(conf, 0, sizeof(*conf));
}

int nvmfd_config_load(const char *file, struct nvmf_target_conf *conf,
		      nvmfd_config_warn *on_warning, void *warn_arg, char *err, size_t errlen)
{
	static const char *const keys[] = {"hosts", "ports", "subsystems", NULL};
	struct loader l = {.err = err, .errlen = errlen, .warn = on_warning, .warn_arg = warn_arg,
			   .conf = conf};
	char p[PATH_MAX_TEXT];
	json_error_t jerr;
	json_t *root, *v, *a;
	size_t i;
	int rc = -1;

	memset(conf, 0, sizeof(*conf));
	root = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return -1;
	}
	if (want_object(&l, "(top level)", root) || check_keys(&l, "", root, keys))
		goto out;
	if ((v = json_object_get(root, "hosts")) != NULL) {
		if (!json_is_array(v)) {
			fail(&l, "hosts", "expected an array");
			goto out;
		}
		conf->hosts = calloc(json_array_size(v) ? json_array_size(v) : 1,
				     sizeof(*conf->hosts));
		if (conf->hosts == NULL) {
			fail(&l, "hosts", "out of memory");
			goto out;
		}
		json_array_foreach(v, i, a) {
			index_path(p, "hosts", i);
			if (load_host(&l, p, a, &conf->hosts[i]) != 0)
				goto out;
			conf->nhosts++;
		}
		l.hosts = v;
	}
	if ((v = json_object_get(root, "subsystems")) != NULL) {
		if (!json_is_array(v)) {
			fail(&l, "subsystems", "expected an array");
			goto out;
		}
		json_array_foreach(v, i, a) {
			struct nvmf_subsys_conf *s = nvmfd_conf_add_subsys(conf);

			index_path(p, "subsystems", i);
			if (s == NULL) {
				fail(&l, p, "out of memory");
				goto out;
			}
			if (load_subsystem(&l, p, a, s) != 0)
				goto out;
		}
	}
	if ((v = json_object_get(root, "ports")) != NULL) {
		if (!json_is_array(v)) {
			fail(&l, "ports", "expected an array");
			goto out;
		}
		json_array_foreach(v, i, a) {
			struct nvmf_port_conf *port = nvmfd_conf_add_port(conf);

			index_path(p, "ports", i);
			if (port == NULL) {
				fail(&l, p, "out of memory");
				goto out;
			}
			if (load_port(&l, p, a, port) != 0)
				goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	if (rc != 0)
		nvmfd_config_free(conf);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Command line namespaces                                             */
/* ------------------------------------------------------------------ */

int nvmfd_parse_backing(const char *spec, struct nvmf_ns_conf *ns, char *err, size_t errlen)
{
	char copy[NVMF_PATH_SIZE + 64];
	char *opt, *save = NULL;

	if (strlen(spec) >= sizeof(copy)) {
		snprintf(err, errlen, "%.64s...: too long", spec);
		return -1;
	}
	memset(ns, 0, sizeof(*ns));
	ns->enabled = true;
	memcpy(copy, spec, strlen(spec) + 1);
	opt = strtok_r(copy, ",", &save);
	if (opt == NULL || strlen(opt) >= sizeof(ns->path)) {
		snprintf(err, errlen, "\"%s\": no path", spec);
		return -1;
	}
	memcpy(ns->path, opt, strlen(opt) + 1);
	while ((opt = strtok_r(NULL, ",", &save)) != NULL) {
		if (strncmp(opt, "size=", 5) == 0) {
			if (nvmf_parse_size(opt + 5, &ns->size) != 0 || ns->size == 0) {
				snprintf(err, errlen, "%s: \"%s\" is not a size (like 512M or 4G)", spec,
					 opt + 5);
				return -1;
			}
		} else if (strncmp(opt, "bs=", 3) == 0) {
			if (strcmp(opt + 3, "512") == 0) {
				ns->block_size = 512;
			} else if (strcmp(opt + 3, "4096") == 0 || strcmp(opt + 3, "4K") == 0) {
				ns->block_size = 4096;
			} else {
				snprintf(err, errlen, "%s: block size must be 512 or 4096", spec);
				return -1;
			}
		} else if (strcmp(opt, "ro") == 0) {
			ns->readonly = true;
		} else {
			snprintf(err, errlen, "%s: unknown option \"%s\" (size=, bs=, ro)", spec, opt);
			return -1;
		}
	}
	return 0;
}
