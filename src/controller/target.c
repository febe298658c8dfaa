/* SPDX-License-Identifier: MIT */
/*
 * The target: configuration (validation, first setup and reload as a
 * diff), listening ports, the reaper thread (connect timeouts, keep alive
 * expiry, freeing connections and controllers) and graceful shutdown.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "controller/ana.h"
#include "controller/conn.h"
#include "controller/listen.h"
#include "controller/reaper.h"
#include "transport/transport.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/opts.h"

#define MAX_INLINE_DATA (128 * 1024)
#define DRAIN_POLL_MS 10

void nvmf_target_params_init(struct nvmf_target_params *p)
{
	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	p->max_connections = 128;
	p->max_io_queues = 16;
	p->max_queue_depth = 128;
	p->max_io_size = 128 * 1024;
	p->inline_data_size = 16 * 1024;
	p->connect_timeout_ms = 10000;
	p->shutdown_timeout_ms = 10000;
	p->io_workers = 4;
	p->allow_digests = true;
}

/* ------------------------------------------------------------------ */
/* Stable identifiers                                                  */
/* ------------------------------------------------------------------ */

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull; /* FNV-1a */
	}
	return h;
}

static uint64_t mix64(uint64_t z)
{
	/* splitmix64 finalizer: spreads FNV's weak low bits. */
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Bytes that depend only on the configuration: kind, NQN, NSID, path. */
static void derive(const char *kind, const char *nqn, uint32_t nsid, const char *path,
		   uint8_t *out, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = hash_bytes(h, kind, strlen(kind) + 1);
	h = hash_bytes(h, nqn, strlen(nqn) + 1);
	h = hash_bytes(h, &nsid, sizeof(nsid));
	h = hash_bytes(h, path, strlen(path) + 1);
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = mix64(h + i * 0x9e3779b97f4a7c15ull);

		memcpy(out + i, &v, n - i < 8 ? n - i : 8);
	}
}

static void ns_identifiers(struct nvmf_ns *ns, const char *subnqn)
{
	const struct nvmf_ns_conf *c = &ns->conf;
	const char *identity = ns->bdev->identity;
	uint32_t nsid = c->nsid;

	/* Storage every gateway opens (RBD): the same namespace everywhere. */
	if (identity != NULL) {
		subnqn = "";
		nsid = 0;
	} else {
		identity = c->path;
	}

	if (c->has_uuid) {
		memcpy(ns->uuid, c->uuid, sizeof(ns->uuid));
	} else {
		derive("uuid", subnqn, nsid, identity, ns->uuid, sizeof(ns->uuid));
		ns->uuid[6] = (uint8_t)((ns->uuid[6] & 0x0f) | 0x80); /* RFC 9562 version 8 */
		ns->uuid[8] = (uint8_t)((ns->uuid[8] & 0x3f) | 0x80); /* variant 10b */
	}
	if (c->has_nguid)
		memcpy(ns->nguid, c->nguid, sizeof(ns->nguid));
	else
		derive("nguid", subnqn, nsid, identity, ns->nguid, sizeof(ns->nguid));
	if (c->has_eui64) {
		memcpy(ns->eui64, c->eui64, sizeof(ns->eui64));
	} else {
		derive("eui64", subnqn, nsid, identity, ns->eui64, sizeof(ns->eui64));
		ns->eui64[0] = (uint8_t)((ns->eui64[0] & 0xfc) | 0x02); /* locally administered */
	}
}

/* ------------------------------------------------------------------ */
/* Subsystems and namespaces                                           */
/* ------------------------------------------------------------------ */

static struct nvmf_subsys *subsys_alloc(struct nvmf_target *t, const char *nqn)
{
	struct nvmf_subsys *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->target = t;
	s->refs = 1;
	snprintf(s->nqn, sizeof(s->nqn), "%s", nqn);
	s->cntlid_min = 1;
	s->cntlid_max = NVMF_CNTLID_MAX;
	s->next_cntlid = 1;
	s->max_namespaces = NVMF_MAX_NSID;
	pthread_rwlock_init(&s->ns_lock, NULL);
	return s;
}

/* Serial number from the NQN: 16 hex digits, the same on every start. */
static void derive_serial(const char *nqn, char *serial, size_t size)
{
	uint8_t b[8];

	derive("serial", nqn, 0, "", b, sizeof(b));
	snprintf(serial, size, "%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
		 b[5], b[6], b[7]);
}

static void subsys_apply_attrs(struct nvmf_subsys *s, const struct nvmf_subsys_conf *c)
{
	if (c->serial[0] != '\0')
		snprintf(s->serial, sizeof(s->serial), "%s", c->serial);
	else
		derive_serial(c->nqn, s->serial, sizeof(s->serial));
	snprintf(s->model, sizeof(s->model), "%s", c->model[0] != '\0' ? c->model : "nvmfd");
	snprintf(s->firmware, sizeof(s->firmware), "%s",
		 c->firmware[0] != '\0' ? c->firmware : CTRL_FIRMWARE);
	s->allow_any_host = c->allow_any_host;
	s->max_io_queues = c->max_io_queues;
	s->vendor_id = c->vendor_id;
	s->subsys_vendor_id = c->subsys_vendor_id;
	s->ieee_oui = c->ieee_oui;
	s->dhchap_required = c->dhchap_required;
	s->max_namespaces = c->max_namespaces != 0 ? c->max_namespaces : NVMF_MAX_NSID;
	if (c->cntlid_min != 0) {
		s->cntlid_min = c->cntlid_min;
		s->cntlid_max = c->cntlid_max;
		if (s->next_cntlid < s->cntlid_min || s->next_cntlid > s->cntlid_max)
			s->next_cntlid = s->cntlid_min;
	}
}

static bool ns_conf_equal(const struct nvmf_ns_conf *a, const struct nvmf_ns_conf *b)
{
	return a->nsid == b->nsid && strcmp(a->path, b->path) == 0 && a->size == b->size &&
	       a->block_size == b->block_size && a->enabled == b->enabled &&
	       a->readonly == b->readonly && a->resv_enable == b->resv_enable &&
	       a->anagrpid == b->anagrpid &&
	       a->has_uuid == b->has_uuid &&
	       a->has_nguid == b->has_nguid && a->has_eui64 == b->has_eui64 &&
	       (!a->has_uuid || memcmp(a->uuid, b->uuid, sizeof(a->uuid)) == 0) &&
	       (!a->has_nguid || memcmp(a->nguid, b->nguid, sizeof(a->nguid)) == 0) &&
	       (!a->has_eui64 || memcmp(a->eui64, b->eui64, sizeof(a->eui64)) == 0);
}

/* The reason a namespace cannot be served; a long one is cut (the return
 * value is used, so that gcc takes the cut as intended). */
static void ns_error(char *err, size_t errlen, const char *subnqn, uint32_t nsid, const char *why)
{
	if (snprintf(err, errlen, "subsystem %s namespace %u: %s", subnqn, nsid, why) >= (int)errlen)
		NVMF_DEBUG("nvmfd: namespace error message cut to %zu bytes", errlen);
}

static int ns_open(const char *subnqn, const struct nvmf_ns_conf *c, const char *state_dir,
		   struct nvmf_ns **out, char *err, size_t errlen)
{
	struct nvmf_ns *ns = calloc(1, sizeof(*ns));
	char why[NVMF_PATH_SIZE + 256];
	int rc;

	if (ns == NULL) {
		snprintf(err, errlen, "out of memory");
		return ENOMEM;
	}
	rc = nvmf_bdev_open(c->path, c->size, c->block_size, c->readonly, &ns->bdev, why,
			    sizeof(why));
	if (rc != 0) {
		ns_error(err, errlen, subnqn, c->nsid, why);
		free(ns);
		return -rc;
	}
	atomic_init(&ns->refs, 1);
	ns->nsid = c->nsid;
	ns->conf = *c;
	ns->lbads = ns->bdev->block_size == 4096 ? 12 : 9;
	atomic_init(&ns->nsze, ns->bdev->size >> ns->lbads);
	ns_identifiers(ns, subnqn);
	if (c->resv_enable) {
		rc = resv_ns_init(ns, state_dir, why, sizeof(why));
		if (rc != 0) {
			ns_error(err, errlen, subnqn, c->nsid, why);
			nvmf_bdev_close(ns->bdev);
			free(ns);
			return rc;
		}
	}
	NVMF_INFO("nvmfd: %s namespace %u: %s (%s, %llu blocks of %u bytes%s%s)", subnqn, c->nsid,
		  c->path, ns->bdev->ops->name, (unsigned long long)atomic_load(&ns->nsze), ns->bdev->block_size,
		  c->readonly ? ", read-only" : "", c->resv_enable ? ", reservations" : "");
	*out = ns;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Validation                                                          */
/* ------------------------------------------------------------------ */

static bool nqn_valid(const char *nqn)
{
	size_t n = strnlen(nqn, NVMF_NQN_SIZE);

	return n > 4 && n <= NVMF_NQN_MAX_LEN && strncmp(nqn, "nqn.", 4) == 0;
}

static bool port_number(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* Host entries parse, and a port requiring TLS has hosts with keys. */
/* TCP: numeric address and port; other transports: any name, no TLS. */
static int validate_port_address(const struct nvmf_port_conf *p, char *err, size_t errlen)
{
	uint8_t addr[sizeof(struct in6_addr)];
	uint16_t port;

	if (port_trtype(p) != NVMF_TRTYPE_TCP) {
		if (nvmf_transport_find(port_trtype(p)) == NULL) {
			snprintf(err, errlen, "port %u: no transport of type %d is built in",
				 p->portid, (int)p->trtype);
			return EINVAL;
		}
		if (p->traddr[0] == '\0' || p->tls != NVMF_PORT_TLS_NONE) {
			snprintf(err, errlen, "port %u: %s", p->portid,
				 p->traddr[0] == '\0' ? "an address (traddr) is required"
						       : "TLS is a TCP transport feature");
			return EINVAL;
		}
		return 0;
	}
	if ((p->adrfam != NVMF_ADRFAM_IPV4 && p->adrfam != NVMF_ADRFAM_IPV6) ||
	    inet_pton(p->adrfam == NVMF_ADRFAM_IPV4 ? AF_INET : AF_INET6, p->traddr, addr) != 1) {
		snprintf(err, errlen, "port %u: \"%.200s\" is not a numeric %s address", p->portid,
			 p->traddr, p->adrfam == NVMF_ADRFAM_IPV6 ? "IPv6" : "IPv4");
		return EINVAL;
	}
	if (!port_number(p->trsvcid, &port)) {
		snprintf(err, errlen, "port %u: trsvcid \"%.31s\" is not a TCP port number",
			 p->portid, p->trsvcid);
		return EINVAL;
	}
	return 0;
}

static int validate_hosts(const struct nvmf_target_conf *conf, char *err, size_t errlen)
{
	struct host_cred *creds;
	int rc = auth_hosts_parse(conf, &creds, err, errlen);

	auth_hosts_free(creds, conf->nhosts);
	return rc;
}

static int validate_port_ana(const struct nvmf_port_conf *p, char *err, size_t errlen)
{
	for (unsigned i = 0; i < p->nana; i++) {
		const struct nvmf_port_ana *a = &p->ana[i];

		if (a->grpid == 0 || a->grpid > NVMF_ANA_GRPMAX) {
			snprintf(err, errlen, "port %u: ANA group %u outside 1..%u", p->portid,
				 a->grpid, NVMF_ANA_GRPMAX);
			return EINVAL;
		}
		if (!ana_state_valid(a->state)) {
			snprintf(err, errlen, "port %u: ANA group %u: unknown state %d", p->portid,
				 a->grpid, (int)a->state);
			return EINVAL;
		}
		for (unsigned j = 0; j < i; j++)
			if (p->ana[j].grpid == a->grpid) {
				snprintf(err, errlen, "port %u: ANA group %u given twice", p->portid,
					 a->grpid);
				return EINVAL;
			}
	}
	return 0;
}

static int conf_validate(const struct nvmf_target_conf *conf, char *err, size_t errlen)
{
	for (unsigned i = 0; i < conf->nsubsys; i++) {
		const struct nvmf_subsys_conf *s = &conf->subsys[i];
		unsigned max_nsid = s->max_namespaces != 0 ? s->max_namespaces : NVMF_MAX_NSID;

		if (!nqn_valid(s->nqn)) {
			snprintf(err, errlen, "subsystem \"%.240s\": not an NQN (\"nqn.\", at most %d bytes)",
				 s->nqn, NVMF_NQN_MAX_LEN);
			return EINVAL;
		}
		if (strcmp(s->nqn, NVMF_DISCOVERY_NQN) == 0) {
			snprintf(err, errlen, "subsystem %s: the discovery NQN is served already", s->nqn);
			return EINVAL;
		}
		for (unsigned j = 0; j < i; j++)
			if (strcmp(conf->subsys[j].nqn, s->nqn) == 0) {
				snprintf(err, errlen, "subsystem %s: defined twice", s->nqn);
				return EINVAL;
			}
		for (unsigned h = 0; h < s->nhosts; h++)
			if (!nqn_valid(s->hosts[h])) {
				snprintf(err, errlen, "subsystem %s: allowed host \"%.240s\" is not an NQN",
					 s->nqn, s->hosts[h]);
				return EINVAL;
			}
		if (max_nsid > NVMF_MAX_NSID) {
			snprintf(err, errlen, "subsystem %s: at most %u namespaces, not %u", s->nqn,
				 NVMF_MAX_NSID, max_nsid);
			return EINVAL;
		}
		if (s->cntlid_min != 0 &&
		    (s->cntlid_min > s->cntlid_max || s->cntlid_max > NVMF_CNTLID_MAX)) {
			snprintf(err, errlen, "subsystem %s: controller IDs %u..%u outside 1..%u", s->nqn,
				 s->cntlid_min, s->cntlid_max, NVMF_CNTLID_MAX);
			return EINVAL;
		}
		for (unsigned n = 0; n < s->nns; n++) {
			const struct nvmf_ns_conf *ns = &s->ns[n];

			if (ns->nsid == 0 || ns->nsid > max_nsid) {
				snprintf(err, errlen, "subsystem %s: namespace ID %u outside 1..%u", s->nqn,
					 ns->nsid, max_nsid);
				return EINVAL;
			}
			for (unsigned m = 0; m < n; m++)
				if (s->ns[m].nsid == ns->nsid) {
					snprintf(err, errlen, "subsystem %s: namespace %u defined twice",
						 s->nqn, ns->nsid);
					return EINVAL;
				}
			if (ns->enabled && ns->path[0] == '\0') {
				snprintf(err, errlen, "subsystem %s: namespace %u has no device path",
					 s->nqn, ns->nsid);
				return EINVAL;
			}
			if (ns->anagrpid > NVMF_ANA_GRPMAX) {
				snprintf(err, errlen, "subsystem %s: namespace %u: ANA group %u outside 1..%u",
					 s->nqn, ns->nsid, ns->anagrpid, NVMF_ANA_GRPMAX);
				return EINVAL;
			}
			if (ns->block_size != 0 && ns->block_size != 512 && ns->block_size != 4096) {
				snprintf(err, errlen, "subsystem %s: namespace %u: block size %u is not 512 or 4096",
					 s->nqn, ns->nsid, ns->block_size);
				return EINVAL;
			}
		}
	}
	for (unsigned i = 0; i < conf->nports; i++) {
		const struct nvmf_port_conf *p = &conf->ports[i];

		for (unsigned j = 0; j < i; j++)
			if (conf->ports[j].portid == p->portid) {
				snprintf(err, errlen, "port %u: defined twice", p->portid);
				return EINVAL;
			}
		if (validate_port_address(p, err, errlen) != 0)
			return EINVAL;
		if (p->tls != NVMF_PORT_TLS_NONE && p->tls != NVMF_PORT_TLS_REQUIRED &&
		    p->tls != NVMF_PORT_TLS_OPTIONAL) {
			snprintf(err, errlen, "port %u: unknown TLS mode %d", p->portid, (int)p->tls);
			return EINVAL;
		}
		if (p->inline_data_size != UINT32_MAX &&
		    (p->inline_data_size > MAX_INLINE_DATA || p->inline_data_size % 16 != 0)) {
			snprintf(err, errlen, "port %u: inline data size %u: want a multiple of 16 up to %u",
				 p->portid, p->inline_data_size, MAX_INLINE_DATA);
			return EINVAL;
		}
		if (validate_port_ana(p, err, errlen) != 0)
			return EINVAL;
		for (unsigned k = 0; k < p->nsubsys; k++) {
			bool found = false;

			for (unsigned s = 0; s < conf->nsubsys && !found; s++)
				found = strcmp(conf->subsys[s].nqn, p->subsystems[k]) == 0;
			if (!found) {
				snprintf(err, errlen, "port %u: subsystem \"%.240s\" is not defined",
					 p->portid, p->subsystems[k]);
				return EINVAL;
			}
		}
	}
	return validate_hosts(conf, err, errlen);
}

/* ------------------------------------------------------------------ */
/* Ports                                                               */
/* ------------------------------------------------------------------ */

/* Not under the target lock: stopping the listener waits for its handshakes. */
static void port_free(struct nvmf_port *port)
{
	port_stop(port);
	free(port->conf.subsystems);
	free(port);
}

static void free_ports(struct nvmf_port *list)
{
	while (list != NULL) {
		struct nvmf_port *p = list;

		list = p->next;
		port_free(p);
	}
}

static bool port_same_address(const struct nvmf_port_conf *a, const struct nvmf_port_conf *b)
{
	return port_trtype(a) == port_trtype(b) && a->adrfam == b->adrfam &&
	       strcmp(a->traddr, b->traddr) == 0 &&
	       strcmp(a->trsvcid, b->trsvcid) == 0;
}

/* Reachable from this machine only (any non-TCP transport here is). */
static bool traddr_loopback(const struct nvmf_port_conf *c)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (port_trtype(c) != NVMF_TRTYPE_TCP)
		return true;
	if (c->adrfam == NVMF_ADRFAM_IPV4)
		return inet_pton(AF_INET, c->traddr, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, c->traddr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* ------------------------------------------------------------------ */
/* Target                                                              */
/* ------------------------------------------------------------------ */

struct nvmf_target *nvmf_target_create(const struct nvmf_target_params *params)
{
	struct nvmf_target *t = calloc(1, sizeof(*t));
	int rc;

	if (t == NULL)
		return NULL;
	nvmf_target_params_init(&t->params);
	if (nvmf_opts_import(&t->params, sizeof(t->params), params) != 0 ||
	    t->params.max_queue_depth < CTRL_ADMIN_QSIZE || t->params.max_io_size < 4096 ||
	    (t->params.max_io_size & (t->params.max_io_size - 1)) != 0 ||
	    t->params.inline_data_size > MAX_INLINE_DATA || t->params.max_connections == 0) {
		free(t);
		errno = EINVAL;
		return NULL;
	}
	nvmf_mutex_init(&t->lock);
	nvmf_mutex_init(&t->stats_lock);
	pthread_cond_init(&t->cond, NULL);
	t->discovery = subsys_alloc(t, NVMF_DISCOVERY_NQN);
	t->wq = nvmf_workq_create(t->params.io_workers);
	if (t->discovery == NULL || t->wq == NULL)
		goto fail;
	t->discovery->discovery = true;
	t->discovery->allow_any_host = true;
	snprintf(t->discovery->model, sizeof(t->discovery->model), "nvmfd");
	snprintf(t->discovery->firmware, sizeof(t->discovery->firmware), "%s", CTRL_FIRMWARE);
	derive_serial(NVMF_DISCOVERY_NQN, t->discovery->serial, sizeof(t->discovery->serial));
	t->genctr = 1;
	rc = reaper_start(t);
	if (rc != 0) {
		errno = rc;
		goto fail;
	}
	return t;

fail:
	rc = errno;
	if (t->discovery != NULL)
		subsys_free(t->discovery);
	nvmf_workq_destroy(t->wq);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->stats_lock);
	pthread_mutex_destroy(&t->lock);
	free(t);
	errno = rc != 0 ? rc : ENOMEM;
	return NULL;
}

int nvmf_target_listen_port(struct nvmf_target *t, uint16_t portid)
{
	struct nvmf_port *p;
	int port = -ENOENT;

	nvmf_mutex_lock(&t->lock);
	p = target_find_port(t, portid);
	if (p != NULL)
		port = port_trtype(&p->conf) == NVMF_TRTYPE_TCP ? atoi(p->bound_trsvcid) : -ENOENT;
	nvmf_mutex_unlock(&t->lock);
	return port;
}

/* ------------------------------------------------------------------ */
/* Configure and reload                                                */
/* ------------------------------------------------------------------ */

struct subsys_plan {
	const struct nvmf_subsys_conf *conf;
	struct nvmf_subsys *subsys;    /* existing, or new */
	bool created;
	struct nvmf_ns **table;        /* [NVMF_MAX_NSID + 1], one reference each */
	char (*hosts)[NVMF_NQN_SIZE];
};

static void plan_release(struct subsys_plan *plans, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (plans[i].table != NULL)
			for (unsigned id = 0; id <= NVMF_MAX_NSID; id++)
				if (plans[i].table[id] != NULL)
					ns_put(plans[i].table[id]);
		free(plans[i].table);
		free(plans[i].hosts);
		if (plans[i].created)
			subsys_free(plans[i].subsys);
	}
	free(plans);
}

static int plan_subsystem(struct nvmf_target *t, struct subsys_plan *plan,
			  const struct nvmf_subsys_conf *c, char *err, size_t errlen)
{
	plan->conf = c;
	nvmf_mutex_lock(&t->lock);
	plan->subsys = target_find_subsys(t, c->nqn);
	nvmf_mutex_unlock(&t->lock);
	if (plan->subsys == NULL) {
		plan->subsys = subsys_alloc(t, c->nqn);
		if (plan->subsys == NULL)
			goto nomem;
		plan->created = true;
	}
	plan->table = calloc(NVMF_MAX_NSID + 1, sizeof(*plan->table));
	plan->hosts = calloc(c->nhosts ? c->nhosts : 1, sizeof(*plan->hosts));
	if (plan->table == NULL || plan->hosts == NULL)
		goto nomem;
	if (c->nhosts > 0)
		memcpy(plan->hosts, c->hosts, c->nhosts * sizeof(*plan->hosts));
	for (unsigned i = 0; i < c->nns; i++) {
		const struct nvmf_ns_conf *nc = &c->ns[i];
		struct nvmf_ns *old;
		int rc;

		if (!nc->enabled)
			continue;
		/* An unchanged namespace keeps its open backing. */
		old = plan->created ? NULL : subsys_get_ns(plan->subsys, nc->nsid);
		if (old != NULL && ns_conf_equal(&old->conf, nc)) {
			plan->table[nc->nsid] = old;
			continue;
		}
		if (old != NULL)
			ns_put(old);
		rc = ns_open(c->nqn, nc, t->params.state_dir, &plan->table[nc->nsid], err, errlen);
		if (rc == EHOSTUNREACH) {
			/* Its storage is out of reach: the others are served, a reload retries. */
			NVMF_ERR("nvmfd: %s; not served", err);
			continue;
		}
		if (rc != 0)
			return rc;
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return ENOMEM;
}

/* Swap in a planned namespace table; tell the controllers what changed. */
static void commit_namespaces(struct nvmf_target *t, struct subsys_plan *plan)
{
	struct nvmf_subsys *s = plan->subsys;
	uint32_t *changed = calloc(NVMF_MAX_NSID, sizeof(*changed));
	unsigned nchanged = 0;
	bool regrouped = false;

	pthread_rwlock_wrlock(&s->ns_lock);
	for (uint32_t id = 1; id <= NVMF_MAX_NSID; id++) {
		struct nvmf_ns *old = s->ns[id];

		if (old == plan->table[id]) {
			if (old != NULL)
				ns_put(old); /* the plan's extra reference */
			continue;
		}
		s->ns[id] = plan->table[id];
		/* A namespace that moves to another group changes the ANA log. */
		if (old != NULL && plan->table[id] != NULL &&
		    ana_ns_grpid(old) != ana_ns_grpid(plan->table[id]))
			regrouped = true;
		if (old != NULL)
			ns_put(old);
		if (changed != NULL)
			changed[nchanged++] = id;
		if (!plan->created)
			NVMF_INFO("nvmfd: %s namespace %u %s", s->nqn, id,
				  plan->table[id] == NULL ? "removed"
				  : old == NULL		  ? "added"
							  : "replaced");
	}
	pthread_rwlock_unlock(&s->ns_lock);
	memset(plan->table, 0, (NVMF_MAX_NSID + 1) * sizeof(*plan->table));
	if (regrouped)
		atomic_fetch_add(&t->ana_chgcnt, 1);
	if (nchanged > 0) {
		nvmf_mutex_lock(&t->lock);
		for (struct nvmf_ctrl *ctrl = s->ctrls; ctrl != NULL; ctrl = ctrl->next) {
			for (unsigned i = 0; i < nchanged; i++)
				ctrl_ns_changed(ctrl, changed[i]);
			if (regrouped)
				ctrl_ana_changed(ctrl);
		}
		nvmf_mutex_unlock(&t->lock);
	}
	free(changed);
}

static int plan_ports(struct nvmf_target *t, const struct nvmf_target_conf *conf,
		      struct nvmf_port **out, char *err, size_t errlen)
{
	struct nvmf_port *head = NULL, **tail = &head;
	int rc = 0;

	for (unsigned i = 0; i < conf->nports && rc == 0; i++) {
		const struct nvmf_port_conf *c = &conf->ports[i];
		struct nvmf_port *p = calloc(1, sizeof(*p)), *old;

		if (p == NULL || (p->conf = *c, p->conf.subsystems = calloc(c->nsubsys ? c->nsubsys : 1,
									 sizeof(*c->subsystems))) == NULL) {
			free(p);
			snprintf(err, errlen, "out of memory");
			rc = ENOMEM;
			break;
		}
		if (c->nsubsys > 0)
			memcpy(p->conf.subsystems, c->subsystems, c->nsubsys * sizeof(*c->subsystems));
		/* The caller's: the states live in the port's ana_port. */
		p->conf.ana = NULL;
		p->conf.nana = 0;
		p->inline_data_size =
			c->inline_data_size == UINT32_MAX ? t->params.inline_data_size : c->inline_data_size;
		nvmf_mutex_lock(&t->lock);
		old = target_find_port(t, c->portid);
		if (old != NULL && old->listener != NULL && port_same_address(&old->conf, c))
			port_listener_move(p, old); /* the listener carries over */
		/* Its ANA states exist before anything is changed. */
		if (ana_port_get(t, c->portid) == NULL) {
			snprintf(err, errlen, "out of memory");
			rc = ENOMEM;
		}
		nvmf_mutex_unlock(&t->lock);
		if (rc != 0) {
			port_free(p);
			break;
		}
		if (p->listener == NULL)
			rc = port_listen(t, p, err, errlen);
		if (rc == EADDRINUSE && c->optional) {
			NVMF_WARN("nvmfd: %s: optional port left out", err);
			port_free(p);
			rc = 0;
			continue;
		}
		*tail = p;
		tail = &p->next;
	}
	*out = head;
	return rc;
}

/* Put listeners that plan_ports took back where they came from. */
static void unplan_ports(struct nvmf_target *t, struct nvmf_port *planned)
{
	while (planned != NULL) {
		struct nvmf_port *p = planned, *old;

		planned = p->next;
		nvmf_mutex_lock(&t->lock);
		old = target_find_port(t, p->conf.portid);
		if (old != NULL && old->listener == NULL && p->listener != NULL &&
		    !atomic_load(&t->stopping) &&
		    port_same_address(&old->conf, &p->conf))
			port_listener_move(old, p);
		nvmf_mutex_unlock(&t->lock);
		port_free(p);
	}
}

static void warn_exposure(const struct nvmf_target_conf *conf)
{
	for (unsigned i = 0; i < conf->nports; i++) {
		const struct nvmf_port_conf *p = &conf->ports[i];

		if (traddr_loopback(p))
			continue;
		for (unsigned k = 0; k < p->nsubsys; k++)
			for (unsigned s = 0; s < conf->nsubsys; s++)
				if (conf->subsys[s].allow_any_host &&
				    strcmp(conf->subsys[s].nqn, p->subsystems[k]) == 0)
					NVMF_WARN("nvmfd: subsystem %s allows any host on %s port %s, which is not a loopback address: anyone who can reach it may read and write its namespaces",
						  p->subsystems[k], p->traddr, p->trsvcid);
	}
}

/* Target lock held: the ANA change event to every controller on port p
 * whose subsystem has a namespace in one of the groups. */
static void ana_raise(struct nvmf_target *t, struct ana_port *p, const struct ana_groups *g)
{
	for (struct nvmf_subsys *s = t->subsystems; s != NULL; s = s->next) {
		if (!ana_subsys_in_groups(s, g))
			continue;
		for (struct nvmf_ctrl *ctrl = s->ctrls; ctrl != NULL; ctrl = ctrl->next)
			if (ctrl->ana == p)
				ctrl_ana_changed(ctrl);
	}
}

static void ana_log_changes(const struct nvmf_port_conf *c, struct ana_port *p,
			    const struct ana_groups *g)
{
	for (uint32_t grp = 1; grp <= NVMF_ANA_GRPMAX; grp++)
		if (ana_groups_has(g, grp))
			NVMF_INFO("nvmfd: port %u: ANA group %u %s", c->portid, grp,
				  nvmf_ana_state_name(atomic_load(&p->state[grp])));
}

/* The configured ports' ANA states (their ana_port exists: plan_ports). */
static void ana_apply(struct nvmf_target *t, const struct nvmf_target_conf *conf)
{
	nvmf_mutex_lock(&t->lock);
	for (unsigned i = 0; i < conf->nports; i++) {
		const struct nvmf_port_conf *c = &conf->ports[i];
		struct ana_groups changed = {{0}};
		struct ana_port *p = ana_port_get(t, c->portid);

		ana_port_configure(t, c, &changed);
		if (t->configured)
			ana_log_changes(c, p, &changed);
		ana_raise(t, p, &changed);
	}
	nvmf_mutex_unlock(&t->lock);
}

int nvmf_target_set_ana_state(struct nvmf_target *t, uint16_t portid, uint32_t grpid,
			      enum nvme_ana_state state)
{
	struct ana_groups changed = {{0}};
	struct nvmf_port *port;
	struct ana_port *p;
	int rc = 0;

	if (grpid == 0 || grpid > NVMF_ANA_GRPMAX || !ana_state_valid(state))
		return -EINVAL;
	nvmf_mutex_lock(&t->lock);
	port = target_find_port(t, portid);
	p = port != NULL ? ana_port_get(t, portid) : NULL;
	if (port == NULL) {
		rc = -ENOENT;
	} else if (p == NULL) {
		rc = -ENOMEM;
	} else if (ana_port_set(t, p, grpid, (uint8_t)state)) {
		ana_groups_add(&changed, grpid);
		ana_log_changes(&port->conf, p, &changed);
		ana_raise(t, p, &changed);
	}
	nvmf_mutex_unlock(&t->lock);
	return rc;
}

static int target_apply(struct nvmf_target *t, const struct nvmf_target_conf *conf, char *err,
			size_t errlen)
{
	struct subsys_plan *plans;
	struct nvmf_port *ports = NULL, *old_ports;
	struct nvmf_subsys *removed = NULL;
	struct host_cred *creds, *old_creds;
	unsigned old_ncreds;
	uint64_t sig;
	int rc;

	rc = conf_validate(conf, err, errlen);
	if (rc != 0)
		return rc;
	if (atomic_load(&t->stopping)) {
		snprintf(err, errlen, "the target is shutting down");
		return ESHUTDOWN;
	}
	rc = auth_hosts_parse(conf, &creds, err, errlen);
	if (rc != 0)
		return rc;
	plans = calloc(conf->nsubsys ? conf->nsubsys : 1, sizeof(*plans));
	if (plans == NULL) {
		auth_hosts_free(creds, conf->nhosts);
		snprintf(err, errlen, "out of memory");
		return ENOMEM;
	}
	for (unsigned i = 0; i < conf->nsubsys && rc == 0; i++)
		rc = plan_subsystem(t, &plans[i], &conf->subsys[i], err, errlen);
	if (rc != 0) {
		plan_release(plans, conf->nsubsys);
		auth_hosts_free(creds, conf->nhosts);
		return rc;
	}
	rc = plan_ports(t, conf, &ports, err, errlen);
	if (rc != 0) {
		unplan_ports(t, ports);
		plan_release(plans, conf->nsubsys);
		auth_hosts_free(creds, conf->nhosts);
		return rc;
	}
	nvmf_mutex_lock(&t->lock);
	if (atomic_load(&t->stopping)) {
		/* The shutdown took the listeners it saw; these are ours. */
		nvmf_mutex_unlock(&t->lock);
		free_ports(ports);
		plan_release(plans, conf->nsubsys);
		auth_hosts_free(creds, conf->nhosts);
		snprintf(err, errlen, "the target is shutting down");
		return ESHUTDOWN;
	}
	/* Subsystems no longer configured go, with their controllers. */
	for (struct nvmf_subsys **pp = &t->subsystems; *pp != NULL;) {
		struct nvmf_subsys *s = *pp;
		bool keep = false;

		for (unsigned i = 0; i < conf->nsubsys && !keep; i++)
			keep = plans[i].subsys == s;
		if (keep) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		s->removed = true;
		for (struct nvmf_ctrl *ctrl = s->ctrls; ctrl != NULL; ctrl = ctrl->next)
			ctrl_kill_locked(ctrl);
		s->next = removed;
		removed = s;
		NVMF_INFO("nvmfd: subsystem %s removed", s->nqn);
	}
	for (unsigned i = 0; i < conf->nsubsys; i++) {
		struct subsys_plan *p = &plans[i];
		char (*old_hosts)[NVMF_NQN_SIZE] = p->subsys->hosts;

		subsys_apply_attrs(p->subsys, p->conf);
		p->subsys->hosts = p->hosts;
		p->subsys->nhosts = p->conf->nhosts;
		p->hosts = old_hosts;
		if (p->created) {
			p->subsys->next = t->subsystems;
			t->subsystems = p->subsys;
		}
	}
	old_ports = t->ports;
	t->ports = ports;
	/* Credentials: new Connects and handshakes use these; associations
	 * keep what they authenticated with. */
	old_creds = t->hosts;
	old_ncreds = t->nhosts;
	t->hosts = creds;
	t->nhosts = conf->nhosts;
	sig = discovery_signature(t);
	if (t->configured && sig != t->disc_signature) {
		t->genctr++;
		for (struct nvmf_ctrl *ctrl = t->discovery->ctrls; ctrl != NULL; ctrl = ctrl->next)
			ctrl_discovery_changed(ctrl);
	}
	t->disc_signature = sig;
	t->stats.discovery_genctr = t->genctr;
	nvmf_mutex_unlock(&t->lock);

	/* Namespace tables: each swap raises the changed-namespace events. */
	for (unsigned i = 0; i < conf->nsubsys; i++) {
		commit_namespaces(t, &plans[i]);
		plans[i].created = false; /* now owned by the target */
	}
	plan_release(plans, conf->nsubsys);
	ana_apply(t, conf);
	auth_hosts_free(old_creds, old_ncreds);
	free_ports(old_ports);
	while (removed != NULL) {
		struct nvmf_subsys *s = removed;

		removed = s->next;
		subsys_put(s);
	}
	warn_exposure(conf);
	for (struct nvmf_port *p = ports; p != NULL; p = p->next)
		NVMF_INFO("nvmfd: port %u listening on %s port %s (%u subsystem(s)%s)", p->conf.portid,
			  p->conf.traddr, p->bound_trsvcid, p->conf.nsubsys,
			  p->conf.tls == NVMF_PORT_TLS_REQUIRED   ? ", TLS 1.3 required"
			  : p->conf.tls == NVMF_PORT_TLS_OPTIONAL ? ", TLS 1.3 or plaintext"
								  : "");
	t->configured = true;
	target_wake_reaper(t);
	return 0;
}

/* The positive errno and message of the above in the public convention (nvmf/nvmf.h). */
static int public_result(int rc, const char *msg, struct nvmf_error *err)
{
	if (rc != 0 && err != NULL) {
		*err = (struct nvmf_error){.errnum = rc};
		snprintf(err->msg, sizeof(err->msg), "%s", msg);
	}
	return -rc;
}

int nvmf_target_configure(struct nvmf_target *t, const struct nvmf_target_conf *conf,
			  struct nvmf_error *err)
{
	char msg[512] = ""; /* err->msg keeps what fits */

	return public_result(target_apply(t, conf, msg, sizeof(msg)), msg, err);
}

int nvmf_target_conf_validate(const struct nvmf_target_conf *conf, struct nvmf_error *err)
{
	char msg[512] = ""; /* err->msg keeps what fits */

	return public_result(conf_validate(conf, msg, sizeof(msg)), msg, err);
}

/* ------------------------------------------------------------------ */
/* Shutdown                                                            */
/* ------------------------------------------------------------------ */

/* Commands still running (held AERs do not count). */
static unsigned busy_commands(struct nvmf_target *t)
{
	unsigned busy = 0;

	nvmf_mutex_lock(&t->lock);
	for (struct nvmf_conn *c = t->conns; c != NULL; c = c->next) {
		unsigned n;

		nvmf_mutex_lock(&c->lock);
		n = c->inflight;
		nvmf_mutex_unlock(&c->lock);
		if (c->ctrl != NULL && c->qid == 0 && atomic_load(&c->connected)) {
			nvmf_mutex_lock(&c->ctrl->lock);
			n -= n >= c->ctrl->naers ? c->ctrl->naers : n;
			nvmf_mutex_unlock(&c->ctrl->lock);
		}
		busy += n;
	}
	nvmf_mutex_unlock(&t->lock);
	return busy;
}

int nvmf_target_shutdown(struct nvmf_target *t)
{
	uint64_t deadline = ctrl_now_ms() + t->params.shutdown_timeout_ms;
	struct nvmf_subsys *s;
	unsigned busy;
	int rc = 0;

	if (atomic_exchange(&t->stopping, true))
		return 0;
	NVMF_INFO("nvmfd: shutting down: no new connections, finishing commands in flight");
	port_stop_all(t);

	while ((busy = busy_commands(t)) > 0 && ctrl_now_ms() < deadline)
		usleep(DRAIN_POLL_MS * 1000);
	if (busy > 0) {
		NVMF_WARN("nvmfd: %u command(s) still in flight after %u ms", busy,
			  t->params.shutdown_timeout_ms);
		rc = -ETIMEDOUT;
	}
	/* Subsystems stay put: configure refuses to run once stopping is set. */
	for (s = t->subsystems; s != NULL; s = s->next) {
		int frc = subsys_flush_all(s);

		if (frc != 0) {
			NVMF_ERR("nvmfd: %s: flush failed: %s", s->nqn, strerror(-frc));
			rc = -EIO;
		}
	}
	nvmf_mutex_lock(&t->lock);
	for (struct nvmf_conn *c = t->conns; c != NULL; c = c->next)
		atomic_store(&c->closing, true);
	target_wake_reaper(t);
	while (t->nconns > 0)
		pthread_cond_wait(&t->cond, &t->lock);
	nvmf_mutex_unlock(&t->lock);
	NVMF_INFO("nvmfd: every namespace flushed, every connection closed");
	return rc;
}

void nvmf_target_destroy(struct nvmf_target *t)
{
	if (t == NULL)
		return;
	nvmf_target_shutdown(t);
	reaper_stop(t);
	nvmf_workq_destroy(t->wq);
	free_ports(t->ports);
	t->ports = NULL;
	while (t->subsystems != NULL) {
		struct nvmf_subsys *s = t->subsystems;

		t->subsystems = s->next;
		subsys_put(s);
	}
	subsys_put(t->discovery);
	ana_ports_free(t);
	auth_hosts_free(t->hosts, t->nhosts);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->stats_lock);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void nvmf_target_get_stats(struct nvmf_target *t, struct nvmf_target_stats *stats)
{
	nvmf_mutex_lock(&t->lock);
	*stats = t->stats;
	stats->connections = t->nconns;
	stats->controllers = t->nctrls;
	stats->discovery_genctr = t->genctr;
	nvmf_mutex_unlock(&t->lock);
}
