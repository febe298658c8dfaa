/* SPDX-License-Identifier: MIT */
/*
 * The running configuration written back as the nvmetcli JSON that
 * config.c reads (save_config), and deep copies of it (every JSON-RPC
 * change starts from one).  Values are written as nvmetcli writes them
 * (attributes as strings); what nvmfd derives itself (serial numbers,
 * namespace identifiers not configured, its own discovery port) is left
 * out, so that a daemon started from the file derives the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nvmf/auth.h"
#include "nvmfd.h"

static void *dup_array(const void *src, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p != NULL && n > 0)
		memcpy(p, src, n * size);
	return p;
}

int nvmfd_config_copy(struct nvmf_target_conf *dst, const struct nvmf_target_conf *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->hosts = dup_array(src->hosts, src->nhosts, sizeof(*src->hosts));
	dst->subsys = dup_array(src->subsys, src->nsubsys, sizeof(*src->subsys));
	dst->ports = dup_array(src->ports, src->nports, sizeof(*src->ports));
	if (dst->hosts == NULL || dst->subsys == NULL || dst->ports == NULL)
		goto nomem;
	dst->nhosts = src->nhosts;
	/* Counted as the arrays are copied: a failure frees only those. */
	for (unsigned i = 0; i < src->nsubsys; i++) {
		struct nvmf_subsys_conf *s = &dst->subsys[i];

		s->hosts = dup_array(src->subsys[i].hosts, s->nhosts, sizeof(*s->hosts));
		s->ns = dup_array(src->subsys[i].ns, s->nns, sizeof(*s->ns));
		dst->nsubsys++;
		if (s->hosts == NULL || s->ns == NULL)
			goto nomem;
	}
	for (unsigned i = 0; i < src->nports; i++) {
		struct nvmf_port_conf *p = &dst->ports[i];

		p->subsystems = dup_array(src->ports[i].subsystems, p->nsubsys, sizeof(*p->subsystems));
		p->ana = dup_array(src->ports[i].ana, p->nana, sizeof(*p->ana));
		dst->nports++;
		if (p->subsystems == NULL || p->ana == NULL)
			goto nomem;
	}
	return 0;
nomem:
	/* Entries not yet copied still point at src's arrays. */
	if (dst->subsys != NULL)
		memset(dst->subsys + dst->nsubsys, 0,
		       (src->nsubsys - dst->nsubsys) * sizeof(*dst->subsys));
	if (dst->ports != NULL)
		memset(dst->ports + dst->nports, 0, (src->nports - dst->nports) * sizeof(*dst->ports));
	nvmfd_config_free(dst);
	return -ENOMEM;
}

/* ------------------------------------------------------------------ */

static void set_new(json_t *obj, const char *key, json_t *v, bool *ok)
{
	if (v == NULL || json_object_set_new(obj, key, v) != 0)
		*ok = false;
}

static void append_new(json_t *arr, json_t *v, bool *ok)
{
	if (v == NULL || json_array_append_new(arr, v) != 0)
		*ok = false;
}

/* nvmetcli writes configfs attributes as the strings the files hold. */
static void set_uint_text(json_t *obj, const char *key, unsigned long long v, bool *ok)
{
	char text[24];

	snprintf(text, sizeof(text), "%llu", v);
	set_new(obj, key, json_string(text), ok);
}

static json_t *hex_id(const uint8_t *b, size_t n, bool uuid_form)
{
	char text[64];
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (uuid_form && (i == 4 || i == 6 || i == 8 || i == 10))
			text[o++] = '-';
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%02x", b[i]);
	}
	return json_string(text);
}

static json_t *namespace_json(const struct nvmf_ns_conf *ns, bool *ok)
{
	json_t *o = json_object(), *dev = json_object();

	if (o == NULL || dev == NULL) {
		json_decref(o);
		json_decref(dev);
		*ok = false;
		return NULL;
	}
	set_new(o, "nsid", json_integer(ns->nsid), ok);
	set_new(o, "enable", json_integer(ns->enabled ? 1 : 0), ok);
	set_new(dev, "path", json_string(ns->path), ok);
	if (ns->has_uuid)
		set_new(dev, "uuid", hex_id(ns->uuid, sizeof(ns->uuid), true), ok);
	if (ns->has_nguid)
		set_new(dev, "nguid", hex_id(ns->nguid, sizeof(ns->nguid), true), ok);
	if (ns->has_eui64)
		set_new(dev, "eui64", hex_id(ns->eui64, sizeof(ns->eui64), false), ok);
	if (ns->size != 0)
		set_new(dev, "size", json_integer((json_int_t)ns->size), ok);
	if (ns->block_size != 0)
		set_new(dev, "block_size", json_integer(ns->block_size), ok);
	if (ns->readonly)
		set_new(dev, "readonly", json_true(), ok);
	set_new(o, "device", dev, ok);
	if (ns->anagrpid != 0)
		set_new(o, "ana_grpid", json_integer(ns->anagrpid), ok);
	if (ns->resv_enable)
		set_new(o, "resv", json_pack("{s:i}", "enable", 1), ok);
	return o;
}

static json_t *subsys_attrs(const struct nvmf_subsys_conf *s, bool *ok)
{
	json_t *a = json_object();

	if (a == NULL) {
		*ok = false;
		return NULL;
	}
	set_uint_text(a, "allow_any_host", s->allow_any_host, ok);
	if (s->serial[0] != '\0')
		set_new(a, "serial", json_string(s->serial), ok);
	if (s->model[0] != '\0')
		set_new(a, "model", json_string(s->model), ok);
	if (s->firmware[0] != '\0')
		set_new(a, "firmware", json_string(s->firmware), ok);
	if (s->cntlid_min != 0) {
		set_uint_text(a, "cntlid_min", s->cntlid_min, ok);
		set_uint_text(a, "cntlid_max", s->cntlid_max, ok);
	}
	if (s->max_io_queues != 0)
		set_uint_text(a, "qid_max", s->max_io_queues, ok);
	if (s->vendor_id != 0)
		set_uint_text(a, "vendor_id", s->vendor_id, ok);
	if (s->subsys_vendor_id != 0)
		set_uint_text(a, "subsys_vendor_id", s->subsys_vendor_id, ok);
	if (s->ieee_oui != 0)
		set_uint_text(a, "ieee_oui", s->ieee_oui, ok);
	if (s->dhchap_required)
		set_uint_text(a, "dhchap_required", 1, ok);
	if (s->max_namespaces != 0)
		set_uint_text(a, "max_namespaces", s->max_namespaces, ok);
	return a;
}

static json_t *subsys_json(const struct nvmf_subsys_conf *s, bool *ok)
{
	json_t *o = json_object(), *hosts = json_array(), *ns = json_array();

	if (o == NULL || hosts == NULL || ns == NULL) {
		json_decref(o);
		json_decref(hosts);
		json_decref(ns);
		*ok = false;
		return NULL;
	}
	set_new(o, "nqn", json_string(s->nqn), ok);
	set_new(o, "attr", subsys_attrs(s, ok), ok);
	for (unsigned i = 0; i < s->nhosts; i++)
		append_new(hosts, json_string(s->hosts[i]), ok);
	set_new(o, "allowed_hosts", hosts, ok);
	for (unsigned i = 0; i < s->nns; i++)
		append_new(ns, namespace_json(&s->ns[i], ok), ok);
	set_new(o, "namespaces", ns, ok);
	return o;
}

/* ports[].ana_groups as nvmetcli writes them: {"grpid", "ana": {"state"}}. */
static json_t *ana_groups_json(const struct nvmf_port_conf *p, bool *ok)
{
	json_t *arr = json_array();

	if (arr == NULL) {
		*ok = false;
		return NULL;
	}
	for (unsigned i = 0; i < p->nana; i++)
		append_new(arr, json_pack("{s:I, s:{s:s}}", "grpid", (json_int_t)p->ana[i].grpid,
					  "ana", "state", nvmf_ana_state_name(p->ana[i].state)),
			   ok);
	return arr;
}

static json_t *port_json(const struct nvmf_port_conf *p, bool *ok)
{
	json_t *o = json_object(), *addr = json_object(), *param = json_object(),
	       *subs = json_array();

	if (o == NULL || addr == NULL || param == NULL || subs == NULL) {
		json_decref(o);
		json_decref(addr);
		json_decref(param);
		json_decref(subs);
		*ok = false;
		return NULL;
	}
	set_new(o, "portid", json_integer(p->portid), ok);
	set_new(addr, "trtype", json_string("tcp"), ok);
	set_new(addr, "adrfam", json_string(p->adrfam == NVMF_ADRFAM_IPV6 ? "ipv6" : "ipv4"), ok);
	set_new(addr, "traddr", json_string(p->traddr), ok);
	set_new(addr, "trsvcid", json_string(p->trsvcid), ok);
	set_new(addr, "treq", json_string(p->tls == NVMF_PORT_TLS_OPTIONAL ? "not required"
					  : p->tls == NVMF_PORT_TLS_REQUIRED ? "required"
									     : "not specified"),
		ok);
	set_new(addr, "tsas", json_string(p->tls != NVMF_PORT_TLS_NONE ? "tls1.3" : "none"), ok);
	set_new(o, "addr", addr, ok);
	if (p->inline_data_size != UINT32_MAX)
		set_uint_text(param, "inline_data_size", p->inline_data_size, ok);
	if (p->fatal_close)
		set_new(param, "fatal_error", json_string("close"), ok);
	set_new(o, "param", param, ok);
	for (unsigned i = 0; i < p->nsubsys; i++)
		append_new(subs, json_string(p->subsystems[i]), ok);
	set_new(o, "subsystems", subs, ok);
	if (p->nana > 0)
		set_new(o, "ana_groups", ana_groups_json(p, ok), ok);
	set_new(o, "referrals", json_array(), ok);
	return o;
}

static json_t *host_json(const struct nvmf_host_conf *h, bool *ok)
{
	json_t *o = json_object();

	if (o == NULL) {
		*ok = false;
		return NULL;
	}
	set_new(o, "nqn", json_string(h->nqn), ok);
	if (h->dhchap_key[0] != '\0')
		set_new(o, "dhchap_key", json_string(h->dhchap_key), ok);
	if (h->dhchap_ctrl_key[0] != '\0')
		set_new(o, "dhchap_ctrl_key", json_string(h->dhchap_ctrl_key), ok);
	if (h->dhchap_hash != 0)
		set_new(o, "dhchap_hash", json_string(nvmf_dhchap_hash_name(h->dhchap_hash)), ok);
	if (h->dhchap_dhgroup != 0)
		set_new(o, "dhchap_dhgroup",
			json_string(nvmf_dhchap_dhgroup_name(h->dhchap_dhgroup)), ok);
	if (h->tls_key[0] != '\0')
		set_new(o, "tls_key", json_string(h->tls_key), ok);
	return o;
}

static bool host_listed(const json_t *hosts, const char *nqn)
{
	size_t i;
	json_t *h;

	json_array_foreach(hosts, i, h)
		if (strcmp(json_string_value(json_object_get(h, "nqn")), nqn) == 0)
			return true;
	return false;
}

json_t *nvmfd_config_to_json(const struct nvmf_target_conf *conf)
{
	json_t *root = json_object(), *hosts = json_array(), *ports = json_array(),
	       *subs = json_array();
	bool ok = root != NULL && hosts != NULL && ports != NULL && subs != NULL;

	for (unsigned i = 0; i < conf->nhosts && ok; i++)
		append_new(hosts, host_json(&conf->hosts[i], &ok), &ok);
	/* nvmetcli lists every allowed host under "hosts", keys or not. */
	for (unsigned i = 0; i < conf->nsubsys && ok; i++)
		for (unsigned h = 0; h < conf->subsys[i].nhosts && ok; h++) {
			const char *nqn = conf->subsys[i].hosts[h];
			json_t *entry = json_object();

			if (host_listed(hosts, nqn)) {
				json_decref(entry);
				continue;
			}
			set_new(entry, "nqn", json_string(nqn), &ok);
			append_new(hosts, entry, &ok);
		}
	for (unsigned i = 0; i < conf->nports && ok; i++)
		if (conf->ports[i].portid != NVMFD_DISCOVERY_PORTID)
			append_new(ports, port_json(&conf->ports[i], &ok), &ok);
	for (unsigned i = 0; i < conf->nsubsys && ok; i++)
		append_new(subs, subsys_json(&conf->subsys[i], &ok), &ok);
	if (ok) {
		set_new(root, "hosts", hosts, &ok);
		set_new(root, "ports", ports, &ok);
		set_new(root, "subsystems", subs, &ok);
		if (ok)
			return root;
		json_decref(root);
		return NULL;
	}
	json_decref(root);
	json_decref(hosts);
	json_decref(ports);
	json_decref(subs);
	return NULL;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The directory holding path, fsynced so that the rename is durable. */
static int sync_dir_of(const char *path)
{
	char copy[NVMF_PATH_SIZE];
	int fd, rc;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int nvmfd_config_save(const struct nvmf_target_conf *conf, const char *path, char *err,
		      size_t errlen)
{
	char tmp[NVMF_PATH_SIZE + 16];
	json_t *root = nvmfd_config_to_json(conf);
	char *text = root != NULL ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	int fd = -1;

	json_decref(root);
	if (text == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (strlen(path) >= NVMF_PATH_SIZE) {
		snprintf(err, errlen, "path longer than %d bytes", NVMF_PATH_SIZE - 1);
		goto fail;
	}
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC); /* 0600: the file holds the hosts' keys */
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (write_all(fd, text, strlen(text)) != 0 || write_all(fd, "\n", 1) != 0 ||
	    fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto fail_unlink;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto fail_unlink;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail_unlink;
	}
	if (sync_dir_of(path) != 0) {
		snprintf(err, errlen, "%s: written, but its directory not synced: %s", path,
			 strerror(errno));
		free(text);
		return -1;
	}
	free(text);
	return 0;
fail_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
fail:
	free(text);
	return -1;
}
