/* SPDX-License-Identifier: MIT */
/*
 * Secure channels end to end: the host library against a running nvmfd.
 *
 * DH-HMAC-CHAP (TP 8006): every hash with several DH groups, one and both
 * directions, on the admin and the I/O queues; wrong host and controller
 * secrets, missing secrets and a subsystem that requires authentication,
 * each refused with a clear reason on both sides; commands before
 * authentication (Authentication Required), the transaction timer,
 * protocol misuse, re-authentication on a live association
 * (nvmf_ctrl_reauthenticate) while I/O runs, switching directions, with a
 * secret nvmfd does not hold, and the calls it refuses.
 *
 * TLS 1.3 (TP 8011): both cipher suites with data verified, identity
 * versions 0 and 1, a wrong key, a plaintext host on a TLS port, a key
 * used for a subsystem it does not open, a Connect naming another host
 * than the PSK identity, a port where TLS is optional, TLS with
 * DH-HMAC-CHAP, the discovery log's TREQ/TSAS and connect-all choosing TLS.
 * A relay records a TLS session's TCP streams: they parse as TLS records,
 * with nothing but encrypted records after the handshake, and neither the
 * NVMe/TCP PDU headers nor the data written appear in them (the same
 * checks on a plaintext session find both, so the checks can fail).
 *
 * Last, reconnection redoes TLS and authentication after nvmfd restarts,
 * and a reload changes a host's secret: for new associations; a live one
 * re-authenticates with the old secret until the host rotates its own and
 * reconnects.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/nvmfd_proc.h"
#include "host/wire_relay.h"
#include "security/dhchap.h"
#include "nvmf/host.h"
#include "security/tls_session.h"
#include "util/host_io.h"
#include "util/raw_pdu.h"
#include "util/test_util.h"

#define SUB_AUTH "nqn.2024-01.io.example:sec-auth"
#define SUB_REQ "nqn.2024-01.io.example:sec-required"
#define SUB_TLS "nqn.2024-01.io.example:sec-tls"
#define HOST_PLAIN "nqn.2024-01.io.example:sec-host-plain"
#define HOST_TLS256 "nqn.2024-01.io.example:sec-host-tls256"
#define HOST_TLS384 "nqn.2024-01.io.example:sec-host-tls384"
#define HOST_TLS_AUTH "nqn.2024-01.io.example:sec-host-tls-auth"
#define HOST_RAW_KATO 1000        /* ms: the raw session's transaction timer */
#define RAW_BUF (RAW_PDU_SIZE + 8192)
#define IO_LEN (256 * 1024)       /* verified per I/O queue: several TLS records */
#define CANARY "NVMF-PLAINTEXT-CANARY:"

/* A DH-HMAC-CHAP host: its secrets and what nvmfd is told to use. */
struct auth_host {
	const char *nqn;
	int key_hmac;                 /* DHHC-1 <hh> of the host secret */
	bool ctrl_key;                /* nvmfd holds a controller secret */
	const char *hash;             /* as written in the configuration */
	const char *dhgroup;
	uint8_t hash_id, group_id;    /* what must be negotiated */
	char key[NVMF_DHCHAP_SECRET_MAX];
	char ckey[NVMF_DHCHAP_SECRET_MAX];
};

static struct auth_host auth_hosts[] = {
	{"nqn.2024-01.io.example:sec-host-sha256-null", 1, true, "hmac(sha256)", "null",
	 NVMF_DHCHAP_HASH_SHA256, NVMF_DHCHAP_DHGROUP_NULL, "", ""},
	{"nqn.2024-01.io.example:sec-host-sha384-ffdhe2048", 2, true, "hmac(sha384)", "ffdhe2048",
	 NVMF_DHCHAP_HASH_SHA384, NVMF_DHCHAP_DHGROUP_FFDHE2048, "", ""},
	{"nqn.2024-01.io.example:sec-host-sha512-ffdhe3072", 3, true, "sha512", "ffdhe3072",
	 NVMF_DHCHAP_HASH_SHA512, NVMF_DHCHAP_DHGROUP_FFDHE3072, "", ""},
	{"nqn.2024-01.io.example:sec-host-sha256-ffdhe4096", 0, false, "SHA-256", "ffdhe4096",
	 NVMF_DHCHAP_HASH_SHA256, NVMF_DHCHAP_DHGROUP_FFDHE4096, "", ""},
	{"nqn.2024-01.io.example:sec-host-sha384-ffdhe6144", 2, false, "hmac(sha384)", "ffdhe6144",
	 NVMF_DHCHAP_HASH_SHA384, NVMF_DHCHAP_DHGROUP_FFDHE6144, "", ""},
	{"nqn.2024-01.io.example:sec-host-sha512-ffdhe8192", 3, true, "hmac(sha512)", "ffdhe8192",
	 NVMF_DHCHAP_HASH_SHA512, NVMF_DHCHAP_DHGROUP_FFDHE8192, "", ""},
};
#define NAUTH (sizeof(auth_hosts) / sizeof(auth_hosts[0]))

static char tls256[NVMF_TLS_KEY_STRING_MAX], tls384[NVMF_TLS_KEY_STRING_MAX];
static char tls_auth_key[NVMF_TLS_KEY_STRING_MAX], tls_auth_secret[NVMF_DHCHAP_SECRET_MAX];
static char tls_auth_ctrl[NVMF_DHCHAP_SECRET_MAX];
static struct nvmfd_proc d;
static uint16_t port_plain, port_tls, port_tls_opt;
static char text_plain[8], text_tls[8], text_tls_opt[8];
static char conf_path[256];

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

static void gen_dhchap(char *out, int hmac, const char *nqn)
{
	struct nvmf_error err;

	REQUIRE(nvmf_dhchap_key_generate(hmac, nqn, NULL, 0, out, NVMF_DHCHAP_SECRET_MAX, &err) > 0);
}

static void gen_tls(char *out, int hmac)
{
	struct nvmf_error err;

	REQUIRE(nvmf_tls_key_generate(hmac, NULL, out, NVMF_TLS_KEY_STRING_MAX, &err) > 0);
}

static size_t append(char *buf, size_t cap, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static size_t append(char *buf, size_t cap, size_t at, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + at, cap - at, fmt, ap);
	va_end(ap);
	REQUIRE(n >= 0 && (size_t)n < cap - at);
	return at + (size_t)n;
}

/* The nvmetcli configuration: three subsystems, a plaintext port, a port
 * that requires TLS and one where it is optional. */
static void write_config(void)
{
	size_t cap = 64 * 1024, n = 0;
	char *j = malloc(cap);

	REQUIRE(j != NULL);
	n = append(j, cap, n, "{\"hosts\": [");
	for (size_t i = 0; i < NAUTH; i++) {
		const struct auth_host *h = &auth_hosts[i];

		n = append(j, cap, n, "{\"nqn\": \"%s\", \"dhchap_key\": \"%s\", ", h->nqn, h->key);
		if (h->ctrl_key)
			n = append(j, cap, n, "\"dhchap_ctrl_key\": \"%s\", ", h->ckey);
		n = append(j, cap, n, "\"dhchap_hash\": \"%s\", \"dhchap_dhgroup\": \"%s\"}, ",
			   h->hash, h->dhgroup);
	}
	n = append(j, cap, n,
		   "{\"nqn\": \"%s\"}, {\"nqn\": \"%s\", \"tls_key\": \"%s\"}, "
		   "{\"nqn\": \"%s\", \"tls_key\": \"%s\"}, "
		   "{\"nqn\": \"%s\", \"tls_key\": \"%s\", \"dhchap_key\": \"%s\", "
		   "\"dhchap_ctrl_key\": \"%s\", \"dhchap_dhgroup\": \"ffdhe2048\"}], ",
		   HOST_PLAIN, HOST_TLS256, tls256, HOST_TLS384, tls384, HOST_TLS_AUTH, tls_auth_key,
		   tls_auth_secret, tls_auth_ctrl);
	n = append(j, cap, n, "\"subsystems\": [{\"nqn\": \"%s\", \"allowed_hosts\": [", SUB_AUTH);
	for (size_t i = 0; i < NAUTH; i++)
		n = append(j, cap, n, "\"%s\", ", auth_hosts[i].nqn);
	n = append(j, cap, n,
		   "\"%s\"], \"namespaces\": [{\"nsid\": 1, \"device\": {\"path\": \"ramdisk:8M\"}}]}, "
		   "{\"nqn\": \"%s\", \"attr\": {\"dhchap_required\": true}, \"allowed_hosts\": "
		   "[\"%s\", \"%s\"], \"namespaces\": [{\"nsid\": 1, \"device\": {\"path\": "
		   "\"ramdisk:8M\"}}]}, "
		   "{\"nqn\": \"%s\", \"allowed_hosts\": [\"%s\", \"%s\", \"%s\"], \"namespaces\": "
		   "[{\"nsid\": 1, \"device\": {\"path\": \"ramdisk:8M\"}}]}], ",
		   HOST_PLAIN, SUB_REQ, HOST_PLAIN, auth_hosts[0].nqn, SUB_TLS, HOST_TLS256,
		   HOST_TLS384, HOST_TLS_AUTH);
	n = append(j, cap, n,
		   "\"ports\": [{\"portid\": 1, \"addr\": {\"trtype\": \"tcp\", \"adrfam\": \"ipv4\", "
		   "\"traddr\": \"127.0.0.1\", \"trsvcid\": \"%u\"}, \"subsystems\": [\"%s\", \"%s\"]}, "
		   "{\"portid\": 2, \"addr\": {\"trtype\": \"tcp\", \"adrfam\": \"ipv4\", "
		   "\"traddr\": \"127.0.0.1\", \"trsvcid\": \"%u\", \"treq\": \"required\", "
		   "\"tsas\": \"tls1.3\"}, \"subsystems\": [\"%s\"]}, "
		   "{\"portid\": 3, \"addr\": {\"trtype\": \"tcp\", \"adrfam\": \"ipv4\", "
		   "\"traddr\": \"127.0.0.1\", \"trsvcid\": \"%u\", \"treq\": \"not required\", "
		   "\"tsas\": \"tls1.3\"}, \"subsystems\": [\"%s\"]}]}\n",
		   port_plain, SUB_AUTH, SUB_REQ, port_tls, SUB_TLS, port_tls_opt, SUB_TLS);
	nvmfd_write_file(conf_path, j);
	free(j);
}

static void setup(void)
{
	static const char *extra[] = {"-c", NULL, "-v", NULL};

	for (size_t i = 0; i < NAUTH; i++) {
		gen_dhchap(auth_hosts[i].key, auth_hosts[i].key_hmac, auth_hosts[i].nqn);
		gen_dhchap(auth_hosts[i].ckey, 0, NULL);
	}
	gen_tls(tls256, 1);
	gen_tls(tls384, 2);
	gen_tls(tls_auth_key, 1);
	gen_dhchap(tls_auth_secret, 1, HOST_TLS_AUTH);
	gen_dhchap(tls_auth_ctrl, 2, SUB_TLS);
	port_plain = nvmfd_free_port();
	port_tls = nvmfd_free_port();
	port_tls_opt = nvmfd_free_port();
	snprintf(text_plain, sizeof(text_plain), "%u", port_plain);
	snprintf(text_tls, sizeof(text_tls), "%u", port_tls);
	snprintf(text_tls_opt, sizeof(text_tls_opt), "%u", port_tls_opt);
	snprintf(conf_path, sizeof(conf_path), "%s/secure.json", nvmfd_dir());
	write_config();
	extra[1] = conf_path;
	REQUIRE(nvmfd_start(&d, NULL, extra));
}

/* The daemon's log so far. */
static char *daemon_log(void)
{
	static char buf[1 << 20];
	FILE *f = fopen(d.log, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* The log must say this within a few seconds (it is written by threads). */
static bool log_has(const char *what)
{
	for (int i = 0; i < 300; i++) {
		if (strstr(daemon_log(), what) != NULL)
			return true;
		usleep(10000);
	}
	fprintf(stderr, "nvmfd's log does not say \"%s\"\n", what);
	return false;
}

static struct nvmf_host_opts opts_for(const char *port, const char *subnqn, const char *hostnqn)
{
	struct nvmf_host_opts o;

	nvmf_host_opts_init(&o);
	o.traddr = "127.0.0.1";
	o.trsvcid = port;
	o.subnqn = subnqn;
	o.hostnqn = hostnqn;
	o.nr_io_queues = 2;
	o.ctrl_loss_tmo_s = 0;
	o.connect_timeout_ms = 8000;
	return o;
}

/* Connect, or report why not; NULL then. */
static struct nvmf_ctrl *connect_ok(const struct nvmf_host_opts *o)
{
	struct nvmf_error err;
	struct nvmf_ctrl *c = nvmf_connect(o, &err);

	if (c == NULL)
		fprintf(stderr, "connect to %s as %s failed: %s\n", o->subnqn, o->hostnqn, err.msg);
	return c;
}

/* Connect must fail with a message containing why. */
static void connect_refused(const struct nvmf_host_opts *o, const char *why, bool dnr)
{
	struct nvmf_error err;
	struct nvmf_ctrl *c = nvmf_connect(o, &err);

	CHECK(c == NULL);
	if (c != NULL) {
		nvmf_disconnect(c);
		return;
	}
	if (strstr(err.msg, why) == NULL) {
		fprintf(stderr, "want \"%s\" in the error, got \"%s\"\n", why, err.msg);
		CHECK(0);
	}
	if (dnr)
		CHECK(err.dnr);
}

/* ------------------------------------------------------------------ */
/* DH-HMAC-CHAP                                                        */
/* ------------------------------------------------------------------ */

static void test_auth_matrix(void)
{
	test_begin("DH-HMAC-CHAP: every hash, DH groups null to ffdhe8192, both directions");
	for (size_t i = 0; i < NAUTH; i++) {
		const struct auth_host *h = &auth_hosts[i];

		for (int bidir = 0; bidir <= (h->ctrl_key ? 1 : 0); bidir++) {
			struct nvmf_host_opts o = opts_for(text_plain, SUB_AUTH, h->nqn);
			struct nvmf_ctrl *c;
			uint8_t hash = 0, group = 0xff;
			bool both = !bidir;
			char line[300];

			o.dhchap_secret = h->key;
			o.dhchap_ctrl_secret = bidir ? h->ckey : NULL;
			c = connect_ok(&o);
			CHECK(c != NULL);
			if (c == NULL)
				continue;
			CHECK(nvmf_ctrl_auth_info(c, &hash, &group, &both));
			CHECK_EQ(hash, h->hash_id);
			CHECK_EQ(group, h->group_id);
			CHECK_EQ(both, bidir);
			CHECK(test_verify_io(c, (uint32_t)i));
			CHECK_EQ(nvmf_disconnect(c), 0);
			snprintf(line, sizeof(line), "host %s authenticated on %s (DH-HMAC-CHAP %s, %s, %s)",
				 h->nqn, SUB_AUTH, nvmf_dhchap_hash_name(h->hash_id),
				 nvmf_dhchap_dhgroup_name(h->group_id),
				 bidir ? "bidirectional" : "unidirectional");
			CHECK(log_has(line));
			printf("  %s %s %s: ok\n", nvmf_dhchap_hash_name(h->hash_id),
			       nvmf_dhchap_dhgroup_name(h->group_id),
			       bidir ? "bidirectional" : "unidirectional");
		}
	}
	test_end();
}

/* The relay resets the admin queue's second Authentication Receive, the
 * one that would bring Success1 or Failure1. */
static bool reset_at_result(void *arg, unsigned conn, uint16_t qid, const struct nvme_sqe *sqe)
{
	const struct nvmf_fabrics_cmd *f = (const struct nvmf_fabrics_cmd *)sqe;
	_Atomic unsigned *receives = arg;

	return conn == 0 && qid == 0 && sqe->opc == NVME_ADMIN_FABRICS &&
	       f->fctype == NVMF_FCTYPE_AUTH_RECV && atomic_fetch_add(receives, 1) == 1;
}

/*
 * A controller that refuses the response by closing at once (Linux nvmet
 * 6.12 sometimes does, its reset discarding the Failure1 it had queued):
 * the host says authentication was refused, however it learns of it.
 */
static void test_auth_refused_by_reset(void)
{
	_Atomic unsigned receives = 0;
	const struct relay_hooks hooks = {.reset = reset_at_result, .arg = &receives};
	const struct auth_host *h = &auth_hosts[1];
	struct relay *r = relay_start(NULL, 0, port_plain, &hooks);
	char port[8];
	struct nvmf_host_opts o;

	test_begin("DH-HMAC-CHAP: a controller that resets instead of answering Failure1");
	REQUIRE(r != NULL);
	snprintf(port, sizeof(port), "%u", relay_port(r));
	o = opts_for(port, SUB_AUTH, h->nqn);
	o.dhchap_secret = h->key;
	connect_refused(&o, "DH-HMAC-CHAP on queue 0 failed: controller refused authentication: "
			"it closed after our reply", false);
	CHECK_EQ(atomic_load(&receives), 2);
	relay_stop(r);
	test_end();
}

/* The same on re-authentication: -EACCES, as a Failure1 would give. */
static void test_reauth_refused_by_reset(void)
{
	_Atomic unsigned receives = 2; /* the connect's two pass */
	const struct relay_hooks hooks = {.reset = reset_at_result, .arg = &receives};
	const struct auth_host *h = &auth_hosts[1];
	struct relay *r = relay_start(NULL, 0, port_plain, &hooks);
	struct nvmf_error err;
	struct nvmf_ctrl *c;
	char port[8];
	struct nvmf_host_opts o;

	test_begin("DH-HMAC-CHAP: a controller that resets on re-authentication");
	REQUIRE(r != NULL);
	snprintf(port, sizeof(port), "%u", relay_port(r));
	o = opts_for(port, SUB_AUTH, h->nqn);
	o.dhchap_secret = h->key;
	c = nvmf_connect(&o, &err);
	CHECK(c != NULL);
	if (c != NULL) {
		atomic_store(&receives, 0);
		CHECK_EQ(nvmf_ctrl_reauthenticate(c, &err), -EACCES);
		CHECK_EQ(err.errnum, EACCES);
		CHECK(strstr(err.msg, "re-authentication on queue 0 failed: controller refused "
				      "authentication: it closed after our reply") != NULL);
		CHECK(strstr(err.msg, h->nqn) != NULL);
		nvmf_disconnect(c);
	}
	relay_stop(r);
	test_end();
}

/*
 * The length of the DH-HMAC-CHAP message in an Authentication Receive
 * buffer, which is all SPDK's target sends (with LAST_PDU and SUCCESS),
 * where nvmfd and Linux send the whole allocation length.
 */
static uint32_t spdk_auth_trim(void *arg, unsigned conn, uint16_t qid, const struct nvme_sqe *cmd,
			       const uint8_t *data, uint32_t len)
{
	const struct nvmf_fabrics_cmd *f = (const struct nvmf_fabrics_cmd *)cmd;
	_Atomic unsigned *trimmed = arg;
	uint32_t n = 0;

	if (cmd->opc != NVME_ADMIN_FABRICS || f->fctype != NVMF_FCTYPE_AUTH_RECV || len < 16)
		return 0;
	if (data[1] == NVMF_AUTH_ID_CHALLENGE) {
		const struct nvmf_dhchap_challenge *c = (const void *)data;

		n = 16u + c->hl + c->dhvlen;
	} else if (data[1] == NVMF_AUTH_ID_SUCCESS1) {
		const struct nvmf_dhchap_success1 *s = (const void *)data;

		n = 16u + ((s->rvalid & NVMF_DHCHAP_RVALID) ? s->hl : 0u);
	} else if (data[1] == NVMF_AUTH_ID_FAILURE1) {
		n = sizeof(struct nvmf_auth_failure);
	}
	if (n > 0 && n < len)
		atomic_fetch_add(trimmed, 1);
	return n;
}

/* SPDK's Authentication Receive answers: every group up to ffdhe8192 (a
 * 1104-byte challenge with SHA-512), both directions, on every queue. */
static void test_auth_spdk_style(void)
{
	_Atomic unsigned trimmed = 0;
	const struct relay_hooks hooks = {.c2h_trim = spdk_auth_trim, .arg = &trimmed};
	struct relay *r = relay_start(NULL, 0, port_plain, &hooks);
	char port[8];

	test_begin("DH-HMAC-CHAP: Authentication Receive answered as SPDK does (the message "
		   "alone, with LAST_PDU and SUCCESS)");
	REQUIRE(r != NULL);
	snprintf(port, sizeof(port), "%u", relay_port(r));
	for (size_t i = 0; i < NAUTH; i++) {
		const struct auth_host *h = &auth_hosts[i];

		for (int bidir = 0; bidir <= (h->ctrl_key ? 1 : 0); bidir++) {
			struct nvmf_host_opts o = opts_for(port, SUB_AUTH, h->nqn);
			struct nvmf_ctrl *c;
			unsigned before = atomic_load(&trimmed);

			o.dhchap_secret = h->key;
			o.dhchap_ctrl_secret = bidir ? h->ckey : NULL;
			c = connect_ok(&o);
			CHECK(c != NULL);
			if (c == NULL)
				continue;
			CHECK(test_verify_io(c, (uint32_t)i));
			CHECK_EQ(nvmf_disconnect(c), 0);
			/* Challenge and Success1 on the admin and the I/O queue. */
			CHECK(atomic_load(&trimmed) - before >= 4);
			printf("  %s %s %s: ok\n", nvmf_dhchap_hash_name(h->hash_id),
			       nvmf_dhchap_dhgroup_name(h->group_id),
			       bidir ? "bidirectional" : "unidirectional");
		}
	}
	relay_stop(r);
	test_end();
}

static void test_auth_refusals(void)
{
	const struct auth_host *h = &auth_hosts[1];
	struct nvmf_host_opts o = opts_for(text_plain, SUB_AUTH, h->nqn);
	char wrong[NVMF_DHCHAP_SECRET_MAX];
	struct nvmf_ctrl *c;

	test_begin("DH-HMAC-CHAP refusals: wrong secrets, missing secrets, required authentication");
	gen_dhchap(wrong, 2, h->nqn);
	o.dhchap_secret = wrong;
	connect_refused(&o, "wrong secret for host", true);
	CHECK(log_has("host response mismatch: wrong host key?"));

	o.dhchap_secret = h->key;
	o.dhchap_ctrl_secret = auth_hosts[0].ckey;
	connect_refused(&o, "controller response mismatch: wrong controller key?", true);
	CHECK(log_has("host aborted authentication"));

	/* nvmfd holds no controller secret for this host: it cannot prove one. */
	o = opts_for(text_plain, SUB_AUTH, auth_hosts[3].nqn);
	o.dhchap_secret = auth_hosts[3].key;
	o.dhchap_ctrl_secret = auth_hosts[0].ckey;
	connect_refused(&o, "or no controller secret there?", true);
	CHECK(log_has("no controller key is configured"));

	o = opts_for(text_plain, SUB_AUTH, h->nqn);
	connect_refused(&o, "requires in-band authentication (DH-HMAC-CHAP)", true);

	/* A controller secret means the controller must authenticate. */
	o = opts_for(text_plain, SUB_AUTH, HOST_PLAIN);
	o.dhchap_secret = h->key;
	o.dhchap_ctrl_secret = h->ckey;
	connect_refused(&o, "did not ask for DH-HMAC-CHAP", true);
	/* A host without a secret on a subsystem that does not require one. */
	o.dhchap_secret = NULL;
	o.dhchap_ctrl_secret = NULL;
	c = connect_ok(&o);
	CHECK(c != NULL);
	if (c != NULL)
		CHECK_EQ(nvmf_disconnect(c), 0);

	/* The subsystem requires authentication: a host without a secret there
	 * is told so, and one that tries anyway is refused by nvmfd. */
	o = opts_for(text_plain, SUB_REQ, HOST_PLAIN);
	connect_refused(&o, "requires in-band authentication", true);
	o.dhchap_secret = h->key;
	connect_refused(&o, "controller refused authentication", true);
	CHECK(log_has("host " HOST_PLAIN " has no DH-HMAC-CHAP secret, but " SUB_REQ
		      " requires authentication: refused"));
	o = opts_for(text_plain, SUB_REQ, auth_hosts[0].nqn);
	o.dhchap_secret = auth_hosts[0].key;
	c = connect_ok(&o);
	CHECK(c != NULL);
	if (c != NULL)
		CHECK_EQ(nvmf_disconnect(c), 0);
	test_end();
}

/* A raw session: ICReq, then capsules one at a time. */
struct rs {
	struct raw r;
	uint16_t cid;
};

static bool rs_open(struct rs *s, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	s->cid = 1;
	s->r.fd = test_connect(port);
	return s->r.fd >= 0 && raw_handshake(&s->r, 0);
}

/* A command with wlen bytes in the capsule or rlen bytes to read; its
 * status, -1 if nothing came. */
static int rs_cmd(struct rs *s, struct nvme_sqe *sqe, const void *wdata, uint32_t wlen,
		  void *rbuf, uint32_t rlen, uint32_t *dw0)
{
	struct raw_pdu *p = malloc(sizeof(*p));
	uint8_t *buf = malloc(RAW_BUF);
	int st = -1;
	size_t len;

	REQUIRE(p != NULL && buf != NULL);
	sqe->flags = NVME_SQE_PSDT_SGL;
	sqe->cid = s->cid++;
	sqe->sgl1.type = wlen > 0 ? NVME_SGL_ID_ICD : NVME_SGL_ID_TRANSPORT;
	sqe->sgl1.length = wlen > 0 ? wlen : rlen;
	raw_capsule(p, &s->r, sqe, wdata, wlen);
	if (raw_send(&s->r, p) == 0) {
		while (raw_read_pdu(s->r.fd, buf, RAW_BUF, &len, RAW_WAIT_MS) == 0) {
			if (buf[0] == NVME_TCP_PDU_C2H_DATA) {
				const struct nvme_tcp_c2h_data_hdr *c2h = (const void *)buf;

				if (rbuf != NULL && c2h->datao + c2h->datal <= rlen)
					memcpy((uint8_t *)rbuf + c2h->datao, buf + c2h->ch.pdo,
					       c2h->datal);
				if (c2h->ch.flags & NVME_TCP_FLAG_SUCCESS) {
					st = 0;
					break;
				}
				continue;
			}
			if (buf[0] == NVME_TCP_PDU_CAPSULE_RESP) {
				const struct nvme_tcp_rsp *rsp = (const void *)buf;

				if (dw0 != NULL)
					*dw0 = rsp->cqe.cdw0;
				st = NVME_CQE_TO_STATUS(rsp->cqe.status);
			}
			break;
		}
	}
	free(p);
	free(buf);
	return st;
}

/* Admin Connect as a host nvmfd holds a secret for; the AUTHREQ bits. */
static bool rs_connect(struct rs *s, const char *hostnqn, uint32_t kato, uint32_t *dw0)
{
	struct nvmf_connect_cmd c = {.opc = NVME_ADMIN_FABRICS, .fctype = NVMF_FCTYPE_CONNECT,
				     .sqsize = 31, .kato = kato};
	struct nvmf_connect_data data;

	memset(&data, 0, sizeof(data));
	test_fill(data.hostid, sizeof(data.hostid), 7);
	data.cntlid = NVMF_CNTLID_DYNAMIC;
	snprintf(data.subnqn, sizeof(data.subnqn), "%s", SUB_AUTH);
	snprintf(data.hostnqn, sizeof(data.hostnqn), "%s", hostnqn);
	return rs_cmd(s, (struct nvme_sqe *)&c, &data, sizeof(data), NULL, 0, dw0) == 0;
}

static int rs_auth(struct rs *s, bool send, uint8_t secp, void *buf, uint32_t len)
{
	struct nvmf_auth_cmd c = {.opc = NVME_ADMIN_FABRICS,
				  .fctype = send ? NVMF_FCTYPE_AUTH_SEND : NVMF_FCTYPE_AUTH_RECV,
				  .spsp0 = 1, .spsp1 = 1, .secp = secp, .length = len};

	return rs_cmd(s, (struct nvme_sqe *)&c, send ? buf : NULL, send ? len : 0,
		      send ? NULL : buf, send ? 0 : len, NULL);
}

static void test_auth_raw(void)
{
	const uint16_t auth_required = NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC,
						   NVME_SC_AUTHENTICATION_REQUIRED);
	const uint16_t invalid_field = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
	struct nvmf_property_get_cmd pg = {.opc = NVME_ADMIN_FABRICS,
					   .fctype = NVMF_FCTYPE_PROPERTY_GET,
					   .attrib = NVMF_PROP_SIZE_8, .ofst = NVME_PROP_CAP};
	struct nvme_sqe id = {.opc = NVME_ADMIN_IDENTIFY, .cdw10 = NVME_CNS_CONTROLLER};
	uint8_t msg[4096], idbuf[4096];
	struct nvmf_auth_failure f;
	uint32_t dw0 = 0;
	struct rs s;
	uint64_t t0;

	test_begin("DH-HMAC-CHAP on the wire: ATR, Authentication Required, misuse, the timer");
	REQUIRE(rs_open(&s, port_plain));
	CHECK(rs_connect(&s, auth_hosts[0].nqn, 5000, &dw0));
	CHECK((dw0 & NVMF_CONNECT_RSP_ATR) != 0);
	CHECK_EQ(rs_cmd(&s, (struct nvme_sqe *)&pg, NULL, 0, NULL, 0, NULL), auth_required);
	CHECK_EQ(rs_cmd(&s, &id, NULL, 0, idbuf, sizeof(idbuf), NULL), auth_required);
	/* Not DH-HMAC-CHAP, no message, or longer than any message. */
	memset(msg, 0, sizeof(msg));
	CHECK_EQ(rs_auth(&s, true, 0xea, msg, 16), invalid_field);
	CHECK_EQ(rs_auth(&s, true, NVMF_AUTH_SECP, msg, (uint32_t)NVMF_DHCHAP_MSG_MAX + 1),
		 invalid_field);
	CHECK_EQ(rs_auth(&s, false, NVMF_AUTH_SECP, msg, 0), invalid_field);
	/* Receive before any Send: AUTH_Failure1 (incorrect message), then the
	 * association ends. */
	CHECK_EQ(rs_auth(&s, false, NVMF_AUTH_SECP, msg, sizeof(msg)), 0);
	memcpy(&f, msg, sizeof(f));
	CHECK_EQ(f.auth_id, NVMF_AUTH_ID_FAILURE1);
	CHECK_EQ(f.rescode, NVMF_AUTH_RC_FAILURE);
	CHECK_EQ(f.rescode_exp, NVMF_AUTH_FAIL_INCORRECT_MESSAGE);
	CHECK_EQ(test_wait_eof(s.r.fd, 5000), 0);
	close(s.r.fd);

	/* The transaction timer: nothing after Connect, KATO 1 s. */
	REQUIRE(rs_open(&s, port_plain));
	CHECK(rs_connect(&s, auth_hosts[0].nqn, HOST_RAW_KATO, &dw0));
	t0 = test_now_us();
	CHECK_EQ(test_wait_eof(s.r.fd, 5000), 0);
	CHECK(test_now_us() - t0 >= (HOST_RAW_KATO - 100) * 1000ull);
	CHECK(log_has("authentication not completed in time"));
	close(s.r.fd);

	/* A host nvmfd holds no secret for needs no authentication. */
	REQUIRE(rs_open(&s, port_plain));
	CHECK(rs_connect(&s, HOST_PLAIN, 0, &dw0));
	CHECK_EQ(dw0 & (NVMF_CONNECT_RSP_ATR | NVMF_CONNECT_RSP_ASCR), 0);
	CHECK_EQ(rs_cmd(&s, (struct nvme_sqe *)&pg, NULL, 0, NULL, 0, NULL), 0);
	CHECK_EQ(rs_auth(&s, true, NVMF_AUTH_SECP, msg, 16),
		 NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR));
	close(s.r.fd);
	test_end();
}

/* How often the daemon's log says this so far. */
static unsigned log_count(const char *what)
{
	const char *p = daemon_log();
	unsigned n = 0;

	while ((p = strstr(p, what)) != NULL) {
		n++;
		p += strlen(what);
	}
	return n;
}

/* Wait until the log says this n times (the log is written by threads). */
static bool log_count_is(const char *what, unsigned n)
{
	for (int i = 0; i < 300; i++) {
		if (log_count(what) == n)
			return true;
		usleep(10000);
	}
	fprintf(stderr, "nvmfd's log says \"%s\" %u times, want %u\n", what, log_count(what), n);
	return false;
}

static bool auth_is(struct nvmf_ctrl *c, uint8_t hash, uint8_t group, bool bidir)
{
	uint8_t h, g;
	bool b;

	if (!nvmf_ctrl_auth_info(c, &h, &g, &b) || h != hash || g != group || b != bidir) {
		fprintf(stderr, "authenticated with hash %u group %u bidirectional %d, want %u %u %d\n",
			h, g, b, hash, group, bidir);
		return false;
	}
	return true;
}

/* A call that must fail with ret and a message containing why. */
static void refused_with(int got, const struct nvmf_error *err, int ret, const char *why)
{
	CHECK_EQ(got, ret);
	if (strstr(err->msg, why) == NULL) {
		fprintf(stderr, "want \"%s\" in the error, got \"%s\"\n", why, err->msg);
		CHECK(0);
	}
}

static void test_reauth(void)
{
	const struct auth_host *h = &auth_hosts[2]; /* SHA-512, ffdhe3072, controller secret */
	struct nvmf_host_opts o = opts_for(text_plain, SUB_AUTH, h->nqn);
	char line_bi[512], line_uni[512], line_io[160], wrong[NVMF_DHCHAP_SECRET_MAX], want[512];
	struct test_io_load load = {.base_seed = 500, .stop = false};
	unsigned n_bi, n_uni, n_io;
	struct nvmf_error err;
	struct nvmf_ctrl *c;
	pthread_t th;

	test_begin("DH-HMAC-CHAP re-authentication on a live association (nvmf_ctrl_reauthenticate)");
	snprintf(line_bi, sizeof(line_bi), "host %s re-authenticated on %s (DH-HMAC-CHAP sha512, "
		 "ffdhe3072, bidirectional)", h->nqn, SUB_AUTH);
	snprintf(line_uni, sizeof(line_uni), "host %s re-authenticated on %s (DH-HMAC-CHAP sha512, "
		 "ffdhe3072, unidirectional)", h->nqn, SUB_AUTH);
	o.dhchap_secret = h->key;
	o.dhchap_ctrl_secret = h->ckey;
	c = connect_ok(&o);
	REQUIRE(c != NULL);
	REQUIRE(nvmf_ctrl_nr_io_queues(c) == 2);
	/* nvmfd runs with -v: it logs each I/O queue's re-authentication too. */
	snprintf(line_io, sizeof(line_io), "of controller %u re-authenticated", nvmf_ctrl_cntlid(c));
	n_bi = log_count(line_bi);
	n_uni = log_count(line_uni);
	n_io = log_count(line_io);

	/* Every queue, twice, while verified I/O runs on every I/O queue. */
	load.c = c;
	REQUIRE(pthread_create(&th, NULL, test_io_load_run, &load) == 0);
	usleep(20000);
	CHECK_EQ(nvmf_ctrl_reauthenticate(c, &err), 0);
	CHECK_EQ(nvmf_ctrl_reauthenticate(c, NULL), 0);
	atomic_store(&load.stop, true);
	pthread_join(th, NULL);
	CHECK(load.ok);
	CHECK(load.rounds > 0);
	fprintf(stderr, "  %u rounds of verified I/O on every queue across two "
		"re-authentications\n", load.rounds);
	CHECK(log_count_is(line_bi, n_bi + 2));
	CHECK(log_count_is(line_io, n_io + 4));
	CHECK(auth_is(c, NVMF_DHCHAP_HASH_SHA512, NVMF_DHCHAP_DHGROUP_FFDHE3072, true));
	CHECK_EQ(nvmf_ctrl_state(c), NVMF_CTRL_LIVE);
	CHECK_EQ(nvmf_ctrl_reconnects(c), 0);

	/* Without the controller secret: unidirectional, then both ways again. */
	CHECK_EQ(nvmf_ctrl_set_dhchap_secrets(c, h->key, NULL, &err), 0);
	CHECK_EQ(nvmf_ctrl_reauthenticate(c, &err), 0);
	CHECK(auth_is(c, NVMF_DHCHAP_HASH_SHA512, NVMF_DHCHAP_DHGROUP_FFDHE3072, false));
	CHECK(log_count_is(line_uni, n_uni + 1));
	CHECK_EQ(nvmf_ctrl_set_dhchap_secrets(c, h->key, h->ckey, &err), 0);
	CHECK_EQ(nvmf_ctrl_reauthenticate(c, &err), 0);
	CHECK(auth_is(c, NVMF_DHCHAP_HASH_SHA512, NVMF_DHCHAP_DHGROUP_FFDHE3072, true));
	CHECK(log_count_is(line_bi, n_bi + 3));

	/* Secrets that do not parse change nothing. */
	refused_with(nvmf_ctrl_set_dhchap_secrets(c, NULL, h->ckey, &err), &err, -EINVAL,
		     "a DH-HMAC-CHAP host secret is needed with a controller secret");
	refused_with(nvmf_ctrl_set_dhchap_secrets(c, "DHHC-1:00:bm90IGEga2V5:", NULL, &err), &err,
		     -EINVAL, "invalid DH-HMAC-CHAP secret");
	refused_with(nvmf_ctrl_set_dhchap_secrets(c, h->key, "NVMeTLSkey-1:01:x:", &err), &err,
		     -EINVAL, "invalid DH-HMAC-CHAP controller secret");
	CHECK_EQ(nvmf_ctrl_reauthenticate(c, &err), 0);
	CHECK(log_count_is(line_bi, n_bi + 4));
	CHECK(test_verify_io(c, 99));

	/* A secret nvmfd does not hold: refused, and the association ends. */
	gen_dhchap(wrong, 3, h->nqn);
	CHECK_EQ(nvmf_ctrl_set_dhchap_secrets(c, wrong, NULL, &err), 0);
	snprintf(want, sizeof(want), "DH-HMAC-CHAP re-authentication on queue 0 failed: "
		 "controller refused authentication: authentication failed (wrong secret for "
		 "host %s?)", h->nqn);
	refused_with(nvmf_ctrl_reauthenticate(c, &err), &err, -EACCES, want);
	CHECK_EQ(err.errnum, EACCES);
	snprintf(want, sizeof(want), "admin queue 0: DH-HMAC-CHAP with host %s on %s failed: "
		 "host response mismatch: wrong host key?; ending the association", h->nqn, SUB_AUTH);
	CHECK(log_has(want));
	/* ctrl-loss-tmo 0: no reconnection, the controller is lost. */
	for (int i = 0; i < 500 && nvmf_ctrl_state(c) != NVMF_CTRL_FAILED; i++)
		usleep(10000);
	CHECK_EQ(nvmf_ctrl_state(c), NVMF_CTRL_FAILED);
	refused_with(nvmf_ctrl_reauthenticate(c, &err), &err, -ENODEV,
		     "cannot re-authenticate: the controller is lost");
	nvmf_disconnect(c);

	/* Misuse: a controller that never asked, and a discovery controller. */
	o = opts_for(text_plain, SUB_AUTH, HOST_PLAIN);
	c = connect_ok(&o);
	REQUIRE(c != NULL);
	refused_with(nvmf_ctrl_reauthenticate(c, &err), &err, -EINVAL,
		     "cannot re-authenticate: no DH-HMAC-CHAP secret");
	CHECK_EQ(nvmf_ctrl_set_dhchap_secrets(c, h->key, NULL, &err), 0);
	refused_with(nvmf_ctrl_reauthenticate(c, &err), &err, -EOPNOTSUPP,
		     "the controller did not ask for DH-HMAC-CHAP");
	CHECK(test_verify_io(c, 98));
	CHECK_EQ(nvmf_disconnect(c), 0);
	o = opts_for(d.disc_text, NULL, h->nqn);
	o.dhchap_secret = h->key;
	c = connect_ok(&o);
	REQUIRE(c != NULL);
	refused_with(nvmf_ctrl_reauthenticate(c, &err), &err, -EOPNOTSUPP,
		     "discovery controllers do not authenticate");
	CHECK_EQ(nvmf_disconnect(c), 0);
	test_end();
}

/* ------------------------------------------------------------------ */
/* TLS                                                                 */
/* ------------------------------------------------------------------ */

static bool queues_use(struct nvmf_ctrl *c, const char *cipher)
{
	for (unsigned q = 0; q <= nvmf_ctrl_nr_io_queues(c); q++) {
		struct nvmf_qpair_info info;

		if (nvmf_ctrl_queue_info(c, q, &info) != 0)
			return false;
		if ((cipher == NULL) != (info.tls_cipher == NULL) ||
		    (cipher != NULL && strcmp(cipher, info.tls_cipher) != 0)) {
			fprintf(stderr, "queue %u: cipher %s, want %s\n", q,
				info.tls_cipher ? info.tls_cipher : "none", cipher ? cipher : "none");
			return false;
		}
	}
	return true;
}

static void tls_session(const char *port, const char *hostnqn, const char *key, int identity,
			const char *cipher, uint32_t seed)
{
	struct nvmf_host_opts o = opts_for(port, SUB_TLS, hostnqn);
	struct nvmf_ctrl *c;

	o.tls = true;
	o.tls_key = key;
	o.tls_identity_version = identity;
	c = connect_ok(&o);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK(queues_use(c, cipher));
	CHECK(test_verify_io(c, seed));
	CHECK_EQ(nvmf_disconnect(c), 0);
}

static void test_tls(void)
{
	struct nvmf_host_opts o;
	char wrong[NVMF_TLS_KEY_STRING_MAX];
	struct nvmf_ctrl *c;
	uint8_t hash, group;
	bool bidir;

	test_begin("TLS 1.3: both cipher suites, identities v0/v1, data verified, refusals");
	tls_session(text_tls, HOST_TLS256, tls256, 0, "TLS_AES_128_GCM_SHA256", 1);
	tls_session(text_tls, HOST_TLS384, tls384, 0, "TLS_AES_256_GCM_SHA384", 2);
	tls_session(text_tls, HOST_TLS256, tls256, 1, "TLS_AES_128_GCM_SHA256", 3);
	tls_session(text_tls, HOST_TLS384, tls384, 1, "TLS_AES_256_GCM_SHA384", 4);
	/* TLS optional: either works. */
	tls_session(text_tls_opt, HOST_TLS256, tls256, 0, "TLS_AES_128_GCM_SHA256", 5);
	o = opts_for(text_tls_opt, SUB_TLS, HOST_TLS256);
	c = connect_ok(&o);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK(queues_use(c, NULL));
		CHECK_EQ(nvmf_disconnect(c), 0);
	}

	/* A wrong key: the host is told, nvmfd says why. */
	gen_tls(wrong, 1);
	o = opts_for(text_tls, SUB_TLS, HOST_TLS256);
	o.tls = true;
	o.tls_key = wrong;
	connect_refused(&o, "refused the PSK", true);
	CHECK(log_has("the PSK binder does not verify: the host holds a different key for identity "
		      "'NVMe0R01 " HOST_TLS256 " " SUB_TLS "'"));
	/* A key is for its host's subsystems only. */
	o = opts_for(text_tls, SUB_AUTH, HOST_TLS256);
	o.tls = true;
	o.tls_key = tls256;
	connect_refused(&o, "TLS handshake", false);
	CHECK(log_has("no PSK for host " HOST_TLS256 " on " SUB_AUTH));
	/* A plaintext host on a TLS port. */
	o = opts_for(text_tls, SUB_TLS, HOST_TLS256);
	connect_refused(&o, "does the port require TLS", false);
	CHECK(log_has("the host sent a plaintext NVMe/TCP PDU (type 00, ICReq) on a port that "
		      "requires TLS; connection closed"));

	/* TLS and DH-HMAC-CHAP together. */
	o = opts_for(text_tls, SUB_TLS, HOST_TLS_AUTH);
	o.tls = true;
	o.tls_key = tls_auth_key;
	o.dhchap_secret = tls_auth_secret;
	o.dhchap_ctrl_secret = tls_auth_ctrl;
	c = connect_ok(&o);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK(queues_use(c, "TLS_AES_128_GCM_SHA256"));
		CHECK(nvmf_ctrl_auth_info(c, &hash, &group, &bidir));
		CHECK_EQ(group, NVMF_DHCHAP_DHGROUP_FFDHE2048);
		CHECK(bidir);
		CHECK(test_verify_io(c, 6));
		CHECK_EQ(nvmf_disconnect(c), 0);
	}
	test_end();
}

struct cmd_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	uint16_t status;
};

static void wait_receive(void *arg, struct nvmf_capsule *nc)
{
	struct cmd_wait *w = arg;

	pthread_mutex_lock(&w->lock);
	w->status = NVME_CQE_TO_STATUS(nvmf_capsule_cqe(nc)->status);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	nvmf_capsule_free(nc);
}

static void ignore_error(void *arg, int error)
{
}

static void ignore_io(void *arg, size_t xfered, int error)
{
}

/* A TLS session as one host, then a Connect naming another. */
static void test_tls_identity_binding(void)
{
	struct cmd_wait w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	struct nvmf_tls_key key;
	struct nvmf_connect_data data;
	struct iovec iov = {.iov_base = &data, .iov_len = sizeof(data)};
	struct nvmf_iov dio = {.iov = &iov, .iovcnt = 1, .len = sizeof(data)};
	struct nvmf_connect_cmd cmd = {.opc = NVME_ADMIN_FABRICS, .fctype = NVMF_FCTYPE_CONNECT,
				       .sqsize = 31};
	struct nvmf_tls_session *tls;
	struct nvmf_capsule *nc;
	struct nvmf_qpair *qp;
	char err[320];
	int fd;

	test_begin("TLS: Connect must name the host and subsystem of the PSK identity");
	REQUIRE(nvmf_tls_key_parse(tls256, &key, NULL) == 0);
	fd = test_connect(port_tls);
	REQUIRE(fd >= 0);
	const struct nvmf_tls_client_params tp = {.hostnqn = HOST_TLS256, .subnqn = SUB_TLS,
						  .key = &key};
	tls = nvmf_tls_client_handshake(fd, &tp, err, sizeof(err));
	REQUIRE(tls != NULL);
	const struct nvmf_qpair_params qpp = {
		.trtype = NVMF_TRTYPE_TCP, .admin = true, .sq_flow_control = true, .qsize = 32,
		.error_cb = ignore_error, .receive_cb = wait_receive, .cb_arg = &w,
		.tcp = {.fd = fd, .max_io_size = 8192, .connect_timeout_ms = 5000, .tls = tls},
	};
	qp = nvmf_qpair_create(&qpp);
	REQUIRE(qp != NULL);
	memset(&data, 0, sizeof(data));
	data.cntlid = NVMF_CNTLID_DYNAMIC;
	snprintf(data.subnqn, sizeof(data.subnqn), "%s", SUB_TLS);
	snprintf(data.hostnqn, sizeof(data.hostnqn), "%s", HOST_TLS384);
	nc = nvmf_capsule_command(qp, (struct nvme_sqe *)&cmd);
	REQUIRE(nc != NULL);
	CHECK_EQ(nvmf_capsule_append_data(nc, &dio, true, ignore_io, NULL), 0);
	CHECK_EQ(nvmf_capsule_transmit(nc), 0);
	nvmf_capsule_free(nc);
	pthread_mutex_lock(&w.lock);
	for (int i = 0; i < 500 && !w.done; i++) {
		pthread_mutex_unlock(&w.lock);
		usleep(10000);
		pthread_mutex_lock(&w.lock);
	}
	pthread_mutex_unlock(&w.lock);
	CHECK(w.done);
	CHECK_EQ(w.status, NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST));
	CHECK(log_has("Connect as host \"" HOST_TLS384 "\", but the TLS PSK identity is host "
		      HOST_TLS256 ": refused"));
	nvmf_qpair_free(qp);
	memset(&key, 0, sizeof(key));
	test_end();
}

static void test_discovery(void)
{
	struct nvmf_host_opts o = opts_for(d.disc_text, NULL, HOST_TLS256);
	struct nvmf_connect_all_result *res;
	struct nvmf_discovery_log *log;
	struct nvmf_error err;
	int seen = 0, connected;
	size_t nrec;

	test_begin("discovery: TREQ and TSAS; connect-all uses TLS where a PSK is held");
	REQUIRE(nvmf_discover(&o, &log, &nrec, &err) == 0);
	for (size_t i = 0; i < nrec; i++) {
		const struct nvmf_discovery_log_entry *e = &log->entries[i];
		char port[33];

		if (e->subtype != NVMF_SUBTYPE_NVME)
			continue;
		nvmf_discovery_entry_str(e, NULL, 0, port, sizeof(port), NULL, 0);
		if (strcmp(port, text_tls) == 0) {
			CHECK_EQ(e->treq & 3, NVMF_TREQ_SECURE_REQUIRED);
			CHECK_EQ(e->tsas.tcp.sectype, NVMF_TCP_SECTYPE_TLS13);
			seen |= 1;
		} else if (strcmp(port, text_tls_opt) == 0) {
			CHECK_EQ(e->treq & 3, NVMF_TREQ_SECURE_NOT_REQUIRED);
			CHECK_EQ(e->tsas.tcp.sectype, NVMF_TCP_SECTYPE_TLS13);
			seen |= 2;
		} else {
			CHECK(0); /* HOST_TLS256 may use nothing on the plaintext port */
		}
	}
	CHECK_EQ(seen, 3);

	/* Without a PSK: the required port is refused with the reason, the
	 * optional one connects in plaintext. */
	o.trsvcid = NULL;
	connected = nvmf_connect_all(&o, log, nrec, NULL, &res);
	CHECK_EQ(connected, 1);
	for (size_t i = 0; i < nrec; i++) {
		if (res[i].ctrl != NULL) {
			CHECK(queues_use(res[i].ctrl, NULL));
			nvmf_disconnect(res[i].ctrl);
		} else if (!res[i].skipped) {
			CHECK(strstr(res[i].err.msg, "requires a secure channel (TLS 1.3)") != NULL);
		}
	}
	free(res);
	/* With one, TLS to both. */
	o.tls_key = tls256;
	connected = nvmf_connect_all(&o, log, nrec, NULL, &res);
	CHECK_EQ(connected, 2);
	for (size_t i = 0; i < nrec; i++)
		if (res[i].ctrl != NULL) {
			CHECK(queues_use(res[i].ctrl, "TLS_AES_128_GCM_SHA256"));
			nvmf_disconnect(res[i].ctrl);
		}
	free(res);
	free(log);
	test_end();
}

/* ------------------------------------------------------------------ */
/* What the wire carries: a relay records the TCP streams              */
/* ------------------------------------------------------------------ */

struct stream {
	uint8_t *b;
	size_t len, cap;
};

#define RELAY_MAX 8

struct capture {
	int listen_fd;
	uint16_t port, target;
	int wake[2];
	pthread_t thread;
	unsigned n;
	int fd[RELAY_MAX][2];            /* [0] the host's side, [1] nvmfd's */
	struct stream s[RELAY_MAX][2];   /* [0] host to nvmfd, [1] back */
};

static void stream_add(struct stream *s, const uint8_t *b, size_t n)
{
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->b = realloc(s->b, s->cap);
		REQUIRE(s->b != NULL);
	}
	memcpy(s->b + s->len, b, n);
	s->len += n;
}

static void *capture_main(void *arg)
{
	struct capture *r = arg;
	uint8_t buf[65536];

	for (;;) {
		struct pollfd pfd[2 + 2 * RELAY_MAX];
		unsigned n = 0;

		pfd[n++] = (struct pollfd){.fd = r->wake[0], .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = r->listen_fd, .events = POLLIN};
		for (unsigned i = 0; i < r->n; i++)
			for (int side = 0; side < 2; side++)
				pfd[n++] = (struct pollfd){.fd = r->fd[i][side], .events = POLLIN};
		if (poll(pfd, n, -1) < 0)
			continue;
		if (pfd[0].revents)
			return NULL;
		if ((pfd[1].revents & POLLIN) && r->n < RELAY_MAX) {
			int h = accept(r->listen_fd, NULL, NULL);

			if (h >= 0) {
				r->fd[r->n][0] = h;
				r->fd[r->n][1] = test_connect(r->target);
				REQUIRE(r->fd[r->n][1] >= 0);
				r->n++;
			}
			continue;
		}
		for (unsigned i = 0; i < r->n; i++)
			for (int side = 0; side < 2; side++) {
				struct pollfd *p = &pfd[2 + 2 * i + side];
				ssize_t got;

				if (p->fd < 0 || !(p->revents & (POLLIN | POLLHUP | POLLERR)))
					continue;
				got = recv(p->fd, buf, sizeof(buf), 0);
				if (got <= 0) {
					/* Pass the end on, once. */
					shutdown(r->fd[i][!side], SHUT_WR);
					r->fd[i][side] = -1;
					continue;
				}
				stream_add(&r->s[i][side], buf, (size_t)got);
				if (test_write_all(r->fd[i][!side], buf, (size_t)got) != 0)
					r->fd[i][side] = -1;
			}
	}
}

static void capture_start(struct capture *r, uint16_t target)
{
	memset(r, 0, sizeof(*r));
	r->target = target;
	r->listen_fd = test_listen(&r->port);
	REQUIRE(r->listen_fd >= 0 && pipe(r->wake) == 0);
	REQUIRE(pthread_create(&r->thread, NULL, capture_main, r) == 0);
}

static void capture_stop(struct capture *r)
{
	REQUIRE(write(r->wake[1], "x", 1) == 1);
	pthread_join(r->thread, NULL);
	close(r->listen_fd);
	close(r->wake[0]);
	close(r->wake[1]);
}

static void capture_free(struct capture *r)
{
	for (unsigned i = 0; i < r->n; i++)
		for (int side = 0; side < 2; side++)
			free(r->s[i][side].b);
}

/* What a stream holds, seen as TLS records. */
struct tls_view {
	bool records;            /* parses as whole TLS records, end to end */
	unsigned handshake;      /* records before the first encrypted one */
	unsigned cleartext_after;/* handshake/CCS records after an encrypted one */
	size_t appdata;          /* bytes of encrypted records */
	size_t handshake_end;    /* offset of the first encrypted record */
};

static struct tls_view tls_parse(const struct stream *s)
{
	struct tls_view v = {.records = true, .handshake_end = s->len};
	bool encrypted = false;
	size_t off = 0;

	while (off + 5 <= s->len) {
		uint8_t type = s->b[off];
		uint16_t version = (uint16_t)(s->b[off + 1] << 8 | s->b[off + 2]);
		size_t len = (size_t)(s->b[off + 3] << 8 | s->b[off + 4]);

		/* RFC 8446 §5.1: types 20-23, legacy version 0x0303 (0x0301 in the
		 * first ClientHello), at most 2^14 + 256 bytes of ciphertext. */
		if (type < 20 || type > 23 || (version != 0x0303 && version != 0x0301) ||
		    len > 16384 + 256) {
			v.records = false;
			return v;
		}
		if (type == 23) {
			if (!encrypted)
				v.handshake_end = off;
			encrypted = true;
			v.appdata += len;
		} else if (encrypted) {
			v.cleartext_after++;
		} else {
			v.handshake++;
		}
		off += 5 + len;
	}
	v.records = v.records && off == s->len;
	return v;
}

static bool contains(const uint8_t *b, size_t n, const void *what, size_t len)
{
	return n >= len && memmem(b, n, what, len) != NULL;
}

/* Plaintext NVMe/TCP in a stream: an ICReq/ICResp or a CapsuleCmd/Resp
 * header of the usual shape, the canary, or the NQNs of a Connect. */
static bool shows_nvme(const uint8_t *b, size_t n)
{
	static const uint8_t icreq[8] = {NVME_TCP_PDU_ICREQ, 0, 128, 0, 128, 0, 0, 0};
	static const uint8_t icresp[8] = {NVME_TCP_PDU_ICRESP, 0, 128, 0, 128, 0, 0, 0};
	static const uint8_t capsule_resp[8] = {NVME_TCP_PDU_CAPSULE_RESP, 0, 24, 0, 24, 0, 0, 0};

	return contains(b, n, icreq, sizeof(icreq)) || contains(b, n, icresp, sizeof(icresp)) ||
	       contains(b, n, capsule_resp, sizeof(capsule_resp)) ||
	       contains(b, n, CANARY, strlen(CANARY)) || contains(b, n, SUB_TLS, strlen(SUB_TLS)) ||
	       contains(b, n, SUB_AUTH, strlen(SUB_AUTH));
}

/* One session through the relay: connect, write the canary, read it back. */
static void capture_session(struct capture *r, const char *subnqn, const char *hostnqn,
			  const char *key)
{
	char port[8];
	struct nvmf_host_opts o;
	struct nvmf_ctrl *c;
	uint8_t *buf = malloc(IO_LEN), *back = malloc(IO_LEN);

	REQUIRE(buf != NULL && back != NULL);
	snprintf(port, sizeof(port), "%u", r->port);
	o = opts_for(port, subnqn, hostnqn);
	o.nr_io_queues = 1;
	o.tls = key != NULL;
	o.tls_key = key;
	for (size_t i = 0; i < IO_LEN; i += strlen(CANARY))
		memcpy(buf + i, CANARY, IO_LEN - i < strlen(CANARY) ? IO_LEN - i : strlen(CANARY));
	c = connect_ok(&o);
	REQUIRE(c != NULL);
	CHECK_EQ(nvmf_ns_write_sync(nvmf_ctrl_ns(c, 1), 0, buf, IO_LEN, 0), 0);
	CHECK_EQ(nvmf_ns_read_sync(nvmf_ctrl_ns(c, 1), 0, back, IO_LEN), 0);
	CHECK(memcmp(buf, back, IO_LEN) == 0);
	CHECK_EQ(nvmf_disconnect(c), 0);
	free(buf);
	free(back);
}

static void test_capture(void)
{
	struct capture r;

	test_begin("capture: a TLS session carries TLS records only, no NVMe/TCP in clear");
	capture_start(&r, port_tls);
	capture_session(&r, SUB_TLS, HOST_TLS384, tls384);
	usleep(200000); /* the last bytes of the close */
	capture_stop(&r);
	CHECK_EQ(r.n, 2); /* admin and one I/O queue */
	for (unsigned i = 0; i < r.n; i++)
		for (int side = 0; side < 2; side++) {
			const struct stream *s = &r.s[i][side];
			struct tls_view v = tls_parse(s);

			printf("  connection %u %s: %zu bytes, %u handshake record(s), %zu bytes encrypted\n",
			       i, side == 0 ? "host->nvmfd" : "nvmfd->host", s->len, v.handshake,
			       v.appdata);
			CHECK(v.records);
			CHECK(v.handshake >= 1 && v.handshake <= 2); /* Hello, ChangeCipherSpec */
			CHECK_EQ(v.cleartext_after, 0);
			CHECK(s->b[0] == 22);                        /* a handshake record first */
			/* Past the Hellos (which name the NQNs in the PSK identity):
			 * nothing of NVMe/TCP, and no written data anywhere. */
			CHECK(!shows_nvme(s->b + v.handshake_end, s->len - v.handshake_end));
			CHECK(!contains(s->b, s->len, CANARY, strlen(CANARY)));
		}
	/* The I/O queue moved the canary both ways: it must be in there,
	 * encrypted. */
	CHECK(r.n >= 2 && tls_parse(&r.s[1][0]).appdata > IO_LEN &&
	      tls_parse(&r.s[1][1]).appdata > IO_LEN);
	capture_free(&r);

	/* The same checks on a plaintext session find what they look for. */
	capture_start(&r, port_plain);
	capture_session(&r, SUB_AUTH, HOST_PLAIN, NULL);
	usleep(200000);
	capture_stop(&r);
	CHECK(r.n >= 1 && !tls_parse(&r.s[0][0]).records);
	CHECK(r.n >= 1 && shows_nvme(r.s[0][0].b, r.s[0][0].len));
	CHECK(r.n >= 1 && shows_nvme(r.s[0][1].b, r.s[0][1].len));
	CHECK(r.n >= 2 && contains(r.s[1][0].b, r.s[1][0].len, CANARY, strlen(CANARY)));
	capture_free(&r);
	test_end();
}

/* ------------------------------------------------------------------ */
/* Reconnection and reload                                             */
/* ------------------------------------------------------------------ */

static void test_reconnect(void)
{
	struct nvmf_host_opts o = opts_for(text_tls, SUB_TLS, HOST_TLS_AUTH);
	struct nvmf_ctrl *c;

	test_begin("reconnection redoes TLS and DH-HMAC-CHAP on every queue");
	o.tls = true;
	o.tls_key = tls_auth_key;
	o.dhchap_secret = tls_auth_secret;
	o.dhchap_ctrl_secret = tls_auth_ctrl;
	o.reconnect_delay_s = 1;
	o.ctrl_loss_tmo_s = 30;
	c = connect_ok(&o);
	REQUIRE(c != NULL);
	CHECK(test_verify_io(c, 11));
	nvmfd_stop(&d, false);
	REQUIRE(nvmfd_restart(&d));
	for (int i = 0; i < 1500 && nvmf_ctrl_reconnects(c) == 0; i++)
		usleep(10000);
	CHECK_EQ(nvmf_ctrl_reconnects(c), 1);
	CHECK(queues_use(c, "TLS_AES_128_GCM_SHA256"));
	CHECK(test_verify_io(c, 12));
	CHECK(log_has("host " HOST_TLS_AUTH " authenticated on " SUB_TLS
		      " (DH-HMAC-CHAP sha256, ffdhe2048, bidirectional)"));
	CHECK_EQ(nvmf_disconnect(c), 0);
	test_end();
}

static void test_reload(void)
{
	struct auth_host *h = &auth_hosts[0];
	struct nvmf_host_opts o = opts_for(text_plain, SUB_AUTH, h->nqn);
	char old[NVMF_DHCHAP_SECRET_MAX], again[512];
	struct nvmf_ctrl *c, *live;
	struct nvmf_error err;
	unsigned n;

	test_begin("reload: a host's new secret replaces the old one");
	/* An association made with the old secret, live across the reload. */
	o.dhchap_secret = h->key;
	o.reconnect_delay_s = 1;
	o.ctrl_loss_tmo_s = 30;
	live = connect_ok(&o);
	REQUIRE(live != NULL);
	snprintf(again, sizeof(again), "host %s re-authenticated on %s", h->nqn, SUB_AUTH);
	n = log_count(again);

	memcpy(old, h->key, sizeof(old));
	gen_dhchap(h->key, 1, h->nqn);
	write_config();
	nvmfd_signal(&d, SIGHUP);
	CHECK(log_has("configuration reloaded"));
	o = opts_for(text_plain, SUB_AUTH, h->nqn);
	o.dhchap_secret = old;
	connect_refused(&o, "wrong secret", true);
	o.dhchap_secret = h->key;
	c = connect_ok(&o);
	CHECK(c != NULL);
	if (c != NULL)
		CHECK_EQ(nvmf_disconnect(c), 0);

	/*
	 * nvmfd applies new secrets to new associations only (docs/nvmfd.md):
	 * the live one still re-authenticates with the old secret, and not
	 * with the new one.  (Linux nvmet reads the host's key again when
	 * the admin queue re-authenticates.)  The host rotating its secret
	 * therefore ends the association, and the reconnection, with the new
	 * secret, is accepted.
	 */
	CHECK_EQ(nvmf_ctrl_reauthenticate(live, &err), 0);
	CHECK(log_count_is(again, n + 1));
	CHECK_EQ(nvmf_ctrl_set_dhchap_secrets(live, h->key, NULL, &err), 0);
	refused_with(nvmf_ctrl_reauthenticate(live, &err), &err, -EACCES,
		     "re-authentication on queue 0 failed: controller refused authentication");
	for (int i = 0; i < 1000 && nvmf_ctrl_reconnects(live) == 0; i++)
		usleep(10000);
	CHECK_EQ(nvmf_ctrl_reconnects(live), 1);
	CHECK_EQ(nvmf_ctrl_state(live), NVMF_CTRL_LIVE);
	CHECK(test_verify_io(live, 31));
	CHECK_EQ(nvmf_ctrl_reauthenticate(live, &err), 0);
	CHECK(log_count_is(again, n + 2));
	CHECK_EQ(nvmf_disconnect(live), 0);
	test_end();
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	setup();
	test_auth_matrix();
	test_auth_refusals();
	test_auth_refused_by_reset();
	test_reauth_refused_by_reset();
	test_auth_spdk_style();
	test_auth_raw();
	test_reauth();
	test_tls();
	test_tls_identity_binding();
	test_discovery();
	test_capture();
	test_reconnect();
	test_reload();
	test_begin("nvmfd stops cleanly, sanitizers silent");
	nvmfd_stop(&d, true);
	CHECK(strstr(daemon_log(), "nvmfd: stopped\n") != NULL);
	CHECK(strstr(daemon_log(), "Sanitizer") == NULL);
	CHECK(strstr(daemon_log(), "runtime error") == NULL);
	test_end();
	return test_summary();
}
