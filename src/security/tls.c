/* SPDX-License-Identifier: MIT */
/*
 * TLS 1.3 with pre-shared keys for NVMe/TCP (TP 8011, TP 8018): the PSK
 * interchange format, the retained/TLS PSK derivations and identities, and
 * a session on a TCP socket for either role (OpenSSL 3).
 *
 * Threading: the transport runs one receiving and one sending thread per
 * socket.  OpenSSL's SSL object is not safe for concurrent use, so every
 * call into it holds the session lock; the socket is non-blocking and a
 * caller that wants to block waits in poll(2) without the lock, so a
 * sleeping reader never holds up the writer.
 *
 * SIGPIPE: OpenSSL writes to the socket with write(2), which raises SIGPIPE
 * when the peer is gone.  A library must not kill its process for that, so
 * SIGPIPE is blocked in the calling thread around OpenSSL calls and a
 * resulting one is discarded.  kTLS data goes out with MSG_NOSIGNAL.
 */
#include "security/tls_session.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/tls.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include "nvmf/spec_tcp.h"
#include "security/secret.h"
#include "util/lock.h"
#include "util/log.h"

#define TLS_RECORD_MAX 16384          /* TLS 1.3 plaintext per record */
#define TLS_CONTENT_ALERT 21
#define TLS_CONTENT_HANDSHAKE 22
#define TLS_CONTENT_APPDATA 23
#define TLS_HKDF_INFO_MAX (2 + 1 + 255 + 1 + 255)
#define TLS_SEND_IOVS 64               /* iovecs per kTLS sendmsg */
#define PSK_SEED "NVMe-over-Fabrics"

static const char *const suite_name[] = {
	[NVMF_TLS_HASH_SHA256] = "TLS_AES_128_GCM_SHA256",
	[NVMF_TLS_HASH_SHA384] = "TLS_AES_256_GCM_SHA384",
};
/* IANA cipher suite ids (RFC 8446 B.4). */
static const unsigned char suite_id[][2] = {
	[NVMF_TLS_HASH_SHA256] = {0x13, 0x01},
	[NVMF_TLS_HASH_SHA384] = {0x13, 0x02},
};

static size_t hash_len(uint8_t hash)
{
	return hash == NVMF_TLS_HASH_SHA256 ? 32 : hash == NVMF_TLS_HASH_SHA384 ? 48 : 0;
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */
/* ------------------------------------------------------------------ */

static int key_parse(const char *text, struct nvmf_tls_key *key, char *err, size_t errlen)
{
	uint8_t hh;
	size_t len;

	if (sec_interchange_parse("NVMeTLSkey-1", text, &hh, key->key, sizeof(key->key), &len,
				  err, errlen) != 0)
		return -1;
	if (hh > NVMF_TLS_HASH_SHA384) {
		OPENSSL_cleanse(key, sizeof(*key));
		return sec_fail(err, errlen, "TLS key: unknown hash %02x (00 none, 01 SHA-256, "
				"02 SHA-384)", hh);
	}
	if ((len != 32 && len != 48) || (hh != 0 && len != hash_len(hh))) {
		OPENSSL_cleanse(key, sizeof(*key));
		if (hh != 0)
			return sec_fail(err, errlen, "TLS key: a %02x PSK must be %zu bytes, "
					"this one has %zu", hh, hash_len(hh), len);
		return sec_fail(err, errlen, "TLS key: PSK length %zu, must be 32 or 48", len);
	}
	key->hmac = hh;
	key->len = (uint8_t)len;
	return 0;
}

int nvmf_tls_key_parse(const char *text, struct nvmf_tls_key *key, struct nvmf_error *err)
{
	char msg[sizeof(err->msg)] = "";

	return sec_public_result(key_parse(text, key, msg, sizeof(msg)), msg, err);
}

int nvmf_tls_key_format(const struct nvmf_tls_key *key, char *out, size_t outlen)
{
	if ((key->len != 32 && key->len != 48) || key->hmac > NVMF_TLS_HASH_SHA384 ||
	    (key->hmac != 0 && key->len != hash_len(key->hmac)))
		return -EINVAL;
	return sec_interchange_format("NVMeTLSkey-1", key->hmac, key->key, key->len, out,
				      outlen) < 0
		       ? -EINVAL
		       : (int)strlen(out);
}

static int key_generate(int hmac, const char *secret_hex, char *out, size_t outlen, char *err,
			size_t errlen)
{
	struct nvmf_tls_key key = {.hmac = (uint8_t)hmac};
	size_t want;
	int n, ret;

	if (hmac < 0 || hmac > NVMF_TLS_HASH_SHA384)
		return sec_fail(err, errlen, "--hmac must be 1 (SHA-256) or 2 (SHA-384), "
				"or 0 for a key used as is");
	want = hmac ? hash_len((uint8_t)hmac) : 0;
	if (secret_hex) {
		n = sec_hex_decode(secret_hex, key.key, sizeof(key.key));
		if (n < 0 || (n != 32 && n != 48) || (want && (size_t)n != want)) {
			OPENSSL_cleanse(&key, sizeof(key));
			return sec_fail(err, errlen, "secret must be %s bytes in hexadecimal",
					want == 48 ? "48" : want == 32 ? "32" : "32 or 48");
		}
		key.len = (uint8_t)n;
	} else {
		key.len = (uint8_t)(want ? want : 32);
		if (sec_random(key.key, key.len) != 0)
			return sec_fail(err, errlen, "no random bytes from OpenSSL");
	}
	ret = nvmf_tls_key_format(&key, out, outlen);
	OPENSSL_cleanse(&key, sizeof(key));
	if (ret < 0)
		return sec_fail(err, errlen, "output buffer too small");
	return ret;
}

int nvmf_tls_key_generate(int hmac, const char *secret_hex, char *out, size_t outlen,
			  struct nvmf_error *err)
{
	char msg[sizeof(err->msg)] = "";

	return sec_public_result(key_generate(hmac, secret_hex, out, outlen, msg, sizeof(msg)),
				 msg, err);
}

uint8_t nvmf_tls_key_hash(const struct nvmf_tls_key *key)
{
	if (key->hmac)
		return key->hmac;
	return key->len == 48 ? NVMF_TLS_HASH_SHA384 : NVMF_TLS_HASH_SHA256;
}

/* ------------------------------------------------------------------ */
/* Derivations                                                         */
/* ------------------------------------------------------------------ */

/*
 * The HKDF info for HKDF-Expand-Label(secret, label, context, len).
 * RFC 8446 §7.1: uint16 length (big-endian) || opaque label<7..255> =
 * "tls13 " + label || opaque context<0..255>.  libnvme before #1040:
 * length little-endian, label and context without their length bytes.
 */
static int hkdf_label(enum nvmf_tls_kdf kdf, uint16_t len, const char *label,
		      const void *context, size_t ctxlen, uint8_t *info)
{
	size_t llen = strlen("tls13 ") + strlen(label), n = 0;

	if (kdf == NVMF_TLS_KDF_RFC8446) {
		if (llen > 255 || ctxlen > 255)
			return -1;
		info[n++] = (uint8_t)(len >> 8);
		info[n++] = (uint8_t)len;
		info[n++] = (uint8_t)llen;
	} else {
		if (2 + llen + ctxlen > TLS_HKDF_INFO_MAX)
			return -1;
		info[n++] = (uint8_t)len;
		info[n++] = (uint8_t)(len >> 8);
	}
	memcpy(info + n, "tls13 ", 6);
	memcpy(info + n + 6, label, llen - 6);
	n += llen;
	if (kdf == NVMF_TLS_KDF_RFC8446)
		info[n++] = (uint8_t)ctxlen;
	memcpy(info + n, context, ctxlen);
	return (int)(n + ctxlen);
}

/* HKDF-Extract with a zero salt, then HKDF-Expand (RFC 5869), by OpenSSL. */
static int hkdf(uint8_t hash, const uint8_t *ikm, size_t ikmlen, const uint8_t *info,
		size_t infolen, uint8_t *out, size_t outlen)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						 (char *)sec_sha_name(hash_len(hash)), 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen),
		OSSL_PARAM_construct_end(),
	};
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	int ok = ctx && EVP_KDF_derive(ctx, out, outlen, params) == 1;

	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return ok ? 0 : -1;
}

static int expand_label(uint8_t hash, const uint8_t *secret, size_t len, const char *label,
			const char *context, enum nvmf_tls_kdf kdf, uint8_t *out)
{
	uint8_t info[TLS_HKDF_INFO_MAX];
	int n = hkdf_label(kdf, (uint16_t)len, label, context, strlen(context), info);

	if (n < 0)
		return -1;
	return hkdf(hash, secret, len, info, (size_t)n, out, len);
}

int nvmf_tls_retained_psk(const struct nvmf_tls_key *key, const char *hostnqn,
			  enum nvmf_tls_kdf kdf, uint8_t out[NVMF_TLS_PSK_MAX])
{
	if (!hostnqn || (key->len != 32 && key->len != 48) || key->hmac > NVMF_TLS_HASH_SHA384)
		return -1;
	if (key->hmac == NVMF_TLS_HASH_NONE) {
		memcpy(out, key->key, key->len);
		return key->len;
	}
	if (key->len != hash_len(key->hmac) ||
	    expand_label(key->hmac, key->key, key->len, "HostNQN", hostnqn, kdf, out) != 0)
		return -1;
	return key->len;
}

int nvmf_tls_psk_digest(uint8_t hash, const uint8_t *retained, size_t len,
			const char *hostnqn, const char *subnqn, char out[NVMF_TLS_DIGEST_MAX])
{
	uint8_t mac[NVMF_TLS_PSK_MAX];
	struct sec_buf parts[] = {
		{hostnqn, strlen(hostnqn)}, {" ", 1}, {subnqn, strlen(subnqn)}, {" ", 1},
		{PSK_SEED, strlen(PSK_SEED)},
	};
	int n;

	if (!hash_len(hash) ||
	    sec_hmac(sec_sha_name(hash_len(hash)), retained, len, parts, 5, mac) != 0)
		return -1;
	n = sec_b64_encode(mac, hash_len(hash), out, NVMF_TLS_DIGEST_MAX);
	OPENSSL_cleanse(mac, sizeof(mac));
	return n;
}

int nvmf_tls_derive_psk(uint8_t hash, const uint8_t *retained, size_t len,
			const char *context, enum nvmf_tls_kdf kdf,
			uint8_t out[NVMF_TLS_PSK_MAX])
{
	/* The identity's hash fixes L; a retained PSK of another length
	 * cannot come from a valid key. */
	if (!hash_len(hash) || len != hash_len(hash))
		return -1;
	return expand_label(hash, retained, len, "nvme-tls-psk", context, kdf, out);
}

int nvmf_tls_psk_for(const struct nvmf_tls_key *key, int version, const char *hostnqn,
		     const char *subnqn, enum nvmf_tls_kdf kdf, struct nvmf_tls_psk *out,
		     char *err, size_t errlen)
{
	uint8_t retained[NVMF_TLS_PSK_MAX];
	char digest[NVMF_TLS_DIGEST_MAX], context[4 + NVMF_TLS_DIGEST_MAX];
	const char *ctx = out->identity;
	int len, n, ret = -1;

	memset(out, 0, sizeof(*out));
	if (!hostnqn || !subnqn || strlen(hostnqn) > NVMF_NQN_MAX_LEN ||
	    strlen(subnqn) > NVMF_NQN_MAX_LEN || strchr(hostnqn, ' ') || strchr(subnqn, ' '))
		return sec_fail(err, errlen, "TLS identity: NQNs must be 1..%d characters "
				"without spaces", NVMF_NQN_MAX_LEN);
	if (version != 0 && version != 1)
		return sec_fail(err, errlen, "TLS identity version %d (0 or 1)", version);
	out->hash = nvmf_tls_key_hash(key);
	len = nvmf_tls_retained_psk(key, hostnqn, kdf, retained);
	if (len < 0)
		return sec_fail(err, errlen, "TLS key: cannot derive the retained PSK");
	if (version == 1) {
		if (nvmf_tls_psk_digest(out->hash, retained, (size_t)len, hostnqn, subnqn,
					digest) < 0) {
			sec_fail(err, errlen, "TLS key: PSK digest failed");
			goto out;
		}
		n = snprintf(out->identity, sizeof(out->identity), "NVMe1R%02u %s %s %s",
			     out->hash, hostnqn, subnqn, digest);
		snprintf(context, sizeof(context), "%02u %s", out->hash, digest);
		ctx = context;
	} else {
		n = snprintf(out->identity, sizeof(out->identity), "NVMe0R%02u %s %s",
			     out->hash, hostnqn, subnqn);
	}
	if (n < 0 || (size_t)n >= sizeof(out->identity)) {
		sec_fail(err, errlen, "TLS identity too long");
		goto out;
	}
	if (nvmf_tls_derive_psk(out->hash, retained, (size_t)len, ctx, kdf, out->psk) != 0) {
		/* RFC 8446 limits the HKDF context (a version 0 identity) to 255. */
		sec_fail(err, errlen, "TLS PSK derivation failed (identity of %d bytes; "
			 "RFC 8446 allows 255: use identity version 1)", n);
		goto out;
	}
	out->len = (uint8_t)len;
	ret = 0;
out:
	OPENSSL_cleanse(retained, sizeof(retained));
	OPENSSL_cleanse(context, sizeof(context));
	if (ret)
		OPENSSL_cleanse(out, sizeof(*out));
	return ret;
}

/* ------------------------------------------------------------------ */
/* Sessions                                                            */
/* ------------------------------------------------------------------ */

struct nvmf_tls_session {
	int fd;
	int saved_flags;
	bool server;
	SSL_CTX *ctx;
	SSL *ssl;
	pthread_mutex_t lock;
	bool ktls_tx, ktls_rx;
	bool handshaken;
	atomic_int dead;                 /* errno of a fatal error, sticky */

	/* Plaintext of the record being written (see nvmf_tls_sendv). */
	size_t tx_len;
	uint8_t tx_buf[TLS_RECORD_MAX];

	/* Handshake. */
	struct nvmf_tls_psk psk;         /* client: what it offers */
	const struct nvmf_tls_server_params *srv;
	int alert;                       /* alert received, -1: none */
	int refusal;                     /* errno a callback decided on, 0: none */
	char why[600];                   /* what a callback found wrong */

	char identity[NVMF_TLS_IDENTITY_MAX];
	char hostnqn[NVMF_NQN_FIELD_SIZE];
	char subnqn[NVMF_NQN_FIELD_SIZE];
	char cipher[32];
};

struct pipe_guard {
	sigset_t old;
	bool on;
};

static void guard_on(struct pipe_guard *g)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	g->on = pthread_sigmask(SIG_BLOCK, &set, &g->old) == 0;
}

/* Restore the mask; a SIGPIPE the call raised (errno EPIPE) is dropped. */
static void guard_off(struct pipe_guard *g)
{
	int saved = errno;

	if (!g->on)
		return;
	if (saved == EPIPE && !sigismember(&g->old, SIGPIPE)) {
		struct timespec zero = {0, 0};
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		sigtimedwait(&set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
	errno = saved;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline (ms, -1: forever): 1 ready, 0 timed
 * out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};

	for (;;) {
		int timeout = deadline < 0 ? -1 : (int)(deadline - now_ms());
		int r;

		if (deadline >= 0 && timeout <= 0)
			return 0;
		r = poll(&p, 1, timeout);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static void info_callback(const SSL *ssl, int where, int ret)
{
	struct nvmf_tls_session *s = SSL_get_app_data(ssl);

	if ((where & SSL_CB_ALERT) && (where & SSL_CB_READ))
		s->alert = ret & 0xff;
}

static SSL_SESSION *psk_session(SSL *ssl, uint8_t hash, const uint8_t *psk, size_t len)
{
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, suite_id[hash]);
	SSL_SESSION *sess = SSL_SESSION_new();

	if (!sess || !cipher || !SSL_SESSION_set1_master_key(sess, psk, len) ||
	    !SSL_SESSION_set_cipher(sess, cipher) ||
	    !SSL_SESSION_set_protocol_version(sess, TLS1_3_VERSION)) {
		SSL_SESSION_free(sess);
		return NULL;
	}
	return sess;
}

/* Client: offer the one PSK the host has. */
static int psk_use_session_cb(SSL *ssl, const EVP_MD *md, const unsigned char **id,
			      size_t *idlen, SSL_SESSION **sess)
{
	struct nvmf_tls_session *s = SSL_get_app_data(ssl);

	*sess = NULL;
	/* After a HelloRetryRequest md is the chosen suite's hash. */
	if (md && EVP_MD_get_size(md) != (int)hash_len(s->psk.hash))
		return 1;
	*sess = psk_session(ssl, s->psk.hash, s->psk.psk, s->psk.len);
	if (!*sess)
		return 0;
	*id = (const unsigned char *)s->psk.identity;
	*idlen = strlen(s->psk.identity);
	return 1;
}

/*
 * "NVMe<v>R<hh> <hostnqn> <subnqn>[ <digest>]": version 0 or 1, hash 01 or
 * 02, NQNs of at most 223 bytes.  0, or -1 with s->why set.
 */
static int parse_identity(struct nvmf_tls_session *s, const char *id, int *version,
			  uint8_t *hash, char *digest)
{
	const char *p = id + 9, *sp;
	size_t n;

	if (strncmp(id, "NVMe", 4) != 0 || (id[4] != '0' && id[4] != '1') ||
	    (id[5] != 'R' && id[5] != 'G') || id[6] != '0' || (id[7] != '1' && id[7] != '2') ||
	    id[8] != ' ') {
		snprintf(s->why, sizeof(s->why), "PSK identity '%.80s' is not an NVMe one", id);
		return -1;
	}
	if (id[5] == 'G') {
		snprintf(s->why, sizeof(s->why), "PSK identity '%.80s' names a generated PSK "
			 "(secure channel concatenation), which is not supported", id);
		return -1;
	}
	*version = id[4] - '0';
	*hash = (uint8_t)(id[7] - '0');
	sp = strchr(p, ' ');
	n = sp ? (size_t)(sp - p) : 0;
	if (n == 0 || n > NVMF_NQN_MAX_LEN)
		goto bad;
	memcpy(s->hostnqn, p, n);
	s->hostnqn[n] = '\0';
	p = sp + 1;
	sp = strchr(p, ' ');
	n = sp ? (size_t)(sp - p) : strlen(p);
	if (n == 0 || n > NVMF_NQN_MAX_LEN || (*version == 1) != (sp != NULL))
		goto bad;
	memcpy(s->subnqn, p, n);
	s->subnqn[n] = '\0';
	digest[0] = '\0';
	if (*version == 1) {
		p = sp + 1;
		n = strlen(p);
		if (n == 0 || n >= NVMF_TLS_DIGEST_MAX || strchr(p, ' '))
			goto bad;
		memcpy(digest, p, n + 1);
	}
	return 0;
bad:
	snprintf(s->why, sizeof(s->why), "malformed PSK identity '%.120s'", id);
	return -1;
}

/* Server: find the host's key from the identity the client offers. */
static int psk_find_session_cb(SSL *ssl, const unsigned char *id, size_t idlen,
			       SSL_SESSION **sess)
{
	struct nvmf_tls_session *s = SSL_get_app_data(ssl);
	struct nvmf_tls_key key;
	uint8_t retained[NVMF_TLS_PSK_MAX], psk[NVMF_TLS_PSK_MAX];
	char digest[NVMF_TLS_DIGEST_MAX], want[NVMF_TLS_DIGEST_MAX];
	char context[4 + NVMF_TLS_DIGEST_MAX];
	int version, len;
	uint8_t hash;

	/* Returning 1 with no session lets the handshake fail as "no PSK". */
	*sess = NULL;
	s->refusal = EACCES;
	if (idlen == 0 || idlen >= sizeof(s->identity) || memchr(id, '\0', idlen)) {
		snprintf(s->why, sizeof(s->why), "PSK identity of %zu bytes", idlen);
		return 1;
	}
	memcpy(s->identity, id, idlen);
	s->identity[idlen] = '\0';
	if (parse_identity(s, s->identity, &version, &hash, digest) != 0)
		return 1;
	if (s->srv->lookup(s->srv->lookup_arg, s->hostnqn, s->subnqn, &key) != 0) {
		snprintf(s->why, sizeof(s->why), "no PSK for host %.223s on %.223s",
			 s->hostnqn, s->subnqn);
		return 1;
	}
	if (nvmf_tls_key_hash(&key) != hash) {
		snprintf(s->why, sizeof(s->why), "identity '%.200s' asks for SHA-%s, but the "
			 "host's key is a SHA-%s one", s->identity, hash == 1 ? "256" : "384",
			 nvmf_tls_key_hash(&key) == 1 ? "256" : "384");
		goto out;
	}
	len = nvmf_tls_retained_psk(&key, s->hostnqn, s->srv->kdf, retained);
	if (len < 0) {
		snprintf(s->why, sizeof(s->why), "cannot derive the retained PSK of %.223s",
			 s->hostnqn);
		goto out;
	}
	if (version == 1) {
		if (nvmf_tls_psk_digest(hash, retained, (size_t)len, s->hostnqn, s->subnqn,
					want) < 0 ||
		    strlen(digest) != strlen(want) || CRYPTO_memcmp(digest, want, strlen(want))) {
			snprintf(s->why, sizeof(s->why), "PSK digest in identity '%.200s' does not "
				 "match the host's key", s->identity);
			goto out;
		}
		snprintf(context, sizeof(context), "%02u %s", hash, digest);
	}
	if (nvmf_tls_derive_psk(hash, retained, (size_t)len,
				version == 1 ? context : s->identity, s->srv->kdf, psk) != 0) {
		snprintf(s->why, sizeof(s->why), "TLS PSK derivation failed for '%.200s'",
			 s->identity);
		goto out;
	}
	*sess = psk_session(ssl, hash, psk, (size_t)len);
	if (*sess) {
		s->refusal = 0;
		s->why[0] = '\0';
	}
out:
	OPENSSL_cleanse(&key, sizeof(key));
	OPENSSL_cleanse(retained, sizeof(retained));
	OPENSSL_cleanse(psk, sizeof(psk));
	return 1;
}

/*
 * Server: OpenSSL picks the cipher suite before it looks at the PSK and
 * drops a PSK whose hash differs, so a client offering both suites with a
 * SHA-384 PSK would fail.  Read the hash from the first offered identity
 * (pre_shared_key extension, RFC 8446 §4.2.11) and allow only its suite.
 */
static int client_hello_cb(SSL *ssl, int *alert, void *arg)
{
	const unsigned char *ext;
	size_t len, idlen;

	(void)alert;
	(void)arg;
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk, &ext, &len) != 1 || len < 4 + 8)
		return SSL_CLIENT_HELLO_SUCCESS;
	/* identities<7..2^16-1>: uint16 length, then uint16 length + identity. */
	idlen = (size_t)ext[2] << 8 | ext[3];
	if (idlen < 8 || 4 + idlen > len || memcmp(ext + 4, "NVMe", 4) != 0 || ext[10] != '0')
		return SSL_CLIENT_HELLO_SUCCESS;
	if (ext[11] == '1' || ext[11] == '2')
		SSL_set_ciphersuites(ssl, suite_name[ext[11] - '0']);
	return SSL_CLIENT_HELLO_SUCCESS;
}

static void session_destroy(struct nvmf_tls_session *s)
{
	SSL_free(s->ssl);
	SSL_CTX_free(s->ctx);
	if (s->saved_flags >= 0)
		fcntl(s->fd, F_SETFL, s->saved_flags);
	pthread_mutex_destroy(&s->lock);
	OPENSSL_clear_free(s, sizeof(*s));
}

static struct nvmf_tls_session *session_new(int fd, bool server, bool ktls, uint8_t client_hash,
					    char *err, size_t errlen)
{
	struct nvmf_tls_session *s = OPENSSL_zalloc(sizeof(*s));
	uint64_t opts = SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF;
	char ebuf[160];

	if (!s) {
		errno = ENOMEM;
		sec_fail(err, errlen, "out of memory");
		return NULL;
	}
	s->fd = fd;
	s->server = server;
	s->alert = -1;
	nvmf_mutex_init(&s->lock);
	s->saved_flags = fcntl(fd, F_GETFL);
	if (s->saved_flags < 0 || fcntl(fd, F_SETFL, s->saved_flags | O_NONBLOCK) < 0) {
		sec_fail(err, errlen, "socket: %s", strerror(errno));
		s->saved_flags = -1;
		goto fail_errno;
	}
	if (ktls)
		opts |= SSL_OP_ENABLE_KTLS;
	if (server)
		opts |= SSL_OP_ALLOW_NO_DHE_KEX; /* a psk_ke-only client too; DHE preferred */
	s->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!s->ctx || !SSL_CTX_set_min_proto_version(s->ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(s->ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(s->ctx, server ? "TLS_AES_128_GCM_SHA256:"
							"TLS_AES_256_GCM_SHA384"
						      : suite_name[client_hash]))
		goto fail_ssl;
	SSL_CTX_set_options(s->ctx, opts);
	if (server) {
		SSL_CTX_set_num_tickets(s->ctx, 0);
		SSL_CTX_set_psk_find_session_callback(s->ctx, psk_find_session_cb);
		SSL_CTX_set_client_hello_cb(s->ctx, client_hello_cb, NULL);
	} else {
		SSL_CTX_set_psk_use_session_callback(s->ctx, psk_use_session_cb);
	}
	SSL_CTX_set_info_callback(s->ctx, info_callback);
	s->ssl = SSL_new(s->ctx);
	if (!s->ssl || !SSL_set_app_data(s->ssl, s) || !SSL_set_fd(s->ssl, fd))
		goto fail_ssl;
	if (server)
		SSL_set_accept_state(s->ssl);
	else
		SSL_set_connect_state(s->ssl);
	return s;
fail_ssl:
	sec_fail(err, errlen, "OpenSSL setup failed: %s", sec_ssl_error(ebuf, sizeof(ebuf)));
	errno = ENOMEM;
fail_errno:
	{
		int saved = errno;

		session_destroy(s);
		errno = saved;
	}
	return NULL;
}

/* After a failed SSL_do_handshake: a sentence and an errno. */
static int handshake_error(struct nvmf_tls_session *s, int ssl_err, int sys_errno,
			   unsigned long lib_err, char *err, size_t errlen)
{
	const char *who = s->server ? "host" : "controller";
	char ebuf[160];

	if (s->why[0]) {
		sec_fail(err, errlen, "TLS handshake refused: %s", s->why);
		return s->refusal ? s->refusal : EACCES;
	}
	if (s->alert >= 0) {
		int desc = s->alert;
		const char *hint = NULL;

		if (desc == SSL_AD_DECRYPT_ERROR || desc == SSL_AD_BAD_RECORD_MAC)
			hint = "wrong key?";
		else if (desc == SSL_AD_HANDSHAKE_FAILURE || desc == SSL_AD_UNKNOWN_PSK_IDENTITY)
			hint = "identity unknown there, or wrong key";
		else if (desc == SSL_AD_ILLEGAL_PARAMETER)
			hint = "OpenSSL answers a PSK binder that does not verify so: wrong key?";
		sec_fail(err, errlen, "TLS handshake failed: the %s sent alert '%s'%s%s%s", who,
			 SSL_alert_desc_string_long(desc), hint ? ": it refused the PSK (" : "",
			 hint ? hint : "", hint ? ")" : "");
		return hint ? EACCES : EPROTO;
	}
	if (ssl_err == SSL_ERROR_SYSCALL || ssl_err == SSL_ERROR_ZERO_RETURN) {
		sec_fail(err, errlen, "TLS handshake failed: the %s closed the connection%s%s",
			 who, sys_errno ? ": " : "", sys_errno ? strerror(sys_errno) : "");
		return sys_errno && sys_errno != EPIPE ? sys_errno : ECONNRESET;
	}
	if (ERR_GET_REASON(lib_err) == SSL_R_BINDER_DOES_NOT_VERIFY) {
		sec_fail(err, errlen, "TLS handshake refused: the PSK binder does not verify: "
			 "the %s holds a different key for identity '%s'", who, s->identity);
		return EACCES;
	}
	ERR_error_string_n(lib_err, ebuf, sizeof(ebuf));
	sec_fail(err, errlen, "TLS handshake failed: %s", lib_err ? ebuf : "unknown error");
	return EPROTO;
}

static int run_handshake(struct nvmf_tls_session *s, int timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : NVMF_TLS_HANDSHAKE_TIMEOUT_MS);

	for (;;) {
		struct pipe_guard g;
		unsigned long lib_err;
		int r, e, sys_errno;

		ERR_clear_error();
		guard_on(&g);
		errno = 0;
		r = SSL_do_handshake(s->ssl);
		sys_errno = errno;
		guard_off(&g);
		if (r == 1)
			break;
		e = SSL_get_error(s->ssl, r);
		lib_err = ERR_peek_error();
		ERR_clear_error();
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			r = wait_fd(s->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
			if (r > 0)
				continue;
			sec_fail(err, errlen, "TLS handshake %s after %d ms",
				 r == 0 ? "timed out" : "poll failed",
				 timeout_ms > 0 ? timeout_ms : NVMF_TLS_HANDSHAKE_TIMEOUT_MS);
			return r == 0 ? ETIMEDOUT : errno;
		}
		return handshake_error(s, e, sys_errno, lib_err, err, errlen);
	}
	s->handshaken = true;
	snprintf(s->cipher, sizeof(s->cipher), "%s", SSL_get_cipher_name(s->ssl));
	s->ktls_tx = BIO_get_ktls_send(SSL_get_wbio(s->ssl));
	s->ktls_rx = BIO_get_ktls_recv(SSL_get_rbio(s->ssl));
	NVMF_DEBUG("tls: %s handshake done: %s, identity '%s', kTLS tx %d rx %d",
		   s->server ? "server" : "client", s->cipher, s->identity, s->ktls_tx, s->ktls_rx);
	return 0;
}

struct nvmf_tls_session *nvmf_tls_client_handshake(int fd, const struct nvmf_tls_client_params *p,
						   char *err, size_t errlen)
{
	struct nvmf_tls_psk psk;
	struct nvmf_tls_session *s;
	int e;

	if (!p || !p->key || fd < 0) {
		errno = EINVAL;
		sec_fail(err, errlen, "TLS client: missing key or socket");
		return NULL;
	}
	if (nvmf_tls_psk_for(p->key, p->identity_version, p->hostnqn, p->subnqn, p->kdf, &psk,
			     err, errlen) != 0) {
		errno = EINVAL;
		return NULL;
	}
	s = session_new(fd, false, !p->disable_ktls, psk.hash, err, errlen);
	if (!s) {
		OPENSSL_cleanse(&psk, sizeof(psk));
		return NULL;
	}
	s->psk = psk;
	OPENSSL_cleanse(&psk, sizeof(psk));
	snprintf(s->identity, sizeof(s->identity), "%s", s->psk.identity);
	snprintf(s->hostnqn, sizeof(s->hostnqn), "%s", p->hostnqn);
	snprintf(s->subnqn, sizeof(s->subnqn), "%s", p->subnqn);
	e = run_handshake(s, p->timeout_ms, err, errlen);
	OPENSSL_cleanse(&s->psk, sizeof(s->psk));
	if (e) {
		session_destroy(s);
		errno = e;
		return NULL;
	}
	return s;
}

/* Before any TLS: a TLS client starts with a handshake record (16h); an
 * NVMe/TCP host starts with an ICReq PDU (type 00h). */
static int check_first_byte(int fd, int timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : NVMF_TLS_HANDSHAKE_TIMEOUT_MS);
	uint8_t b;
	ssize_t n;
	int r;

	for (;;) {
		r = wait_fd(fd, POLLIN, deadline);
		if (r <= 0) {
			sec_fail(err, errlen, "TLS handshake timed out waiting for the ClientHello");
			return r == 0 ? ETIMEDOUT : errno;
		}
		n = recv(fd, &b, 1, MSG_PEEK);
		if (n == 1)
			break;
		if (n == 0) {
			sec_fail(err, errlen, "the host closed the connection before the TLS handshake");
			return ECONNRESET;
		}
		if (errno != EINTR && errno != EAGAIN) {
			sec_fail(err, errlen, "socket: %s", strerror(errno));
			return errno;
		}
	}
	if (b == TLS_CONTENT_HANDSHAKE)
		return 0;
	if (b <= NVME_TCP_PDU_R2T)
		sec_fail(err, errlen, "the host sent a plaintext NVMe/TCP PDU (type %02x%s) on a "
			 "port that requires TLS", b, b == 0 ? ", ICReq" : "");
	else
		sec_fail(err, errlen, "the host did not start a TLS handshake (first byte %02x)", b);
	return EPROTO;
}

struct nvmf_tls_session *nvmf_tls_server_handshake(int fd, const struct nvmf_tls_server_params *p,
						   char *err, size_t errlen)
{
	struct nvmf_tls_session *s;
	int e;

	if (!p || !p->lookup || fd < 0) {
		errno = EINVAL;
		sec_fail(err, errlen, "TLS server: missing key lookup or socket");
		return NULL;
	}
	e = check_first_byte(fd, p->timeout_ms, err, errlen);
	if (e) {
		errno = e;
		return NULL;
	}
	s = session_new(fd, true, !p->disable_ktls, 0, err, errlen);
	if (!s)
		return NULL;
	s->srv = p;
	e = run_handshake(s, p->timeout_ms, err, errlen);
	s->srv = NULL;
	if (e) {
		session_destroy(s);
		errno = e;
		return NULL;
	}
	return s;
}

/* ------------------------------------------------------------------ */
/* Data                                                                */
/* ------------------------------------------------------------------ */

/* After an OpenSSL I/O call failed: the errno to report, and whether it is
 * final (the session is then dead). */
static int io_error(struct nvmf_tls_session *s, int ssl_err, int sys_errno, bool *fatal)
{
	unsigned long e = ERR_peek_error();
	char buf[160];

	*fatal = true;
	switch (ssl_err) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		*fatal = false;
		return EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return sys_errno && sys_errno != EAGAIN ? sys_errno : ECONNRESET;
	default:
		NVMF_WARN("tls: %s", e ? ERR_error_string(e, buf) : "protocol error");
		ERR_clear_error();
		if (ERR_GET_REASON(e) == SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC)
			return EBADMSG;
		return EPROTO;
	}
}

/* Position in an iovec list. */
struct iov_cursor {
	const struct iovec *iov;
	int cnt;
	int idx;
	size_t off;
};

static void cursor_skip_empty(struct iov_cursor *c)
{
	while (c->idx < c->cnt && c->off >= c->iov[c->idx].iov_len) {
		c->idx++;
		c->off = 0;
	}
}

static void cursor_advance(struct iov_cursor *c, size_t n)
{
	while (n > 0 && c->idx < c->cnt) {
		size_t left = c->iov[c->idx].iov_len - c->off;
		size_t k = n < left ? n : left;

		c->off += k;
		n -= k;
		cursor_skip_empty(c);
	}
	cursor_skip_empty(c);
}

/* Copy up to max bytes out of the iovecs at the cursor (not advancing). */
static size_t cursor_copy(const struct iov_cursor *c0, uint8_t *dst, size_t max)
{
	struct iov_cursor c = *c0;
	size_t n = 0;

	while (n < max && c.idx < c.cnt) {
		size_t left = c.iov[c.idx].iov_len - c.off;
		size_t k = max - n < left ? max - n : left;

		memcpy(dst + n, (const uint8_t *)c.iov[c.idx].iov_base + c.off, k);
		n += k;
		cursor_advance(&c, k);
	}
	return n;
}

static ssize_t ktls_recvv(struct nvmf_tls_session *s, const struct iovec *iov, int iovcnt,
			  bool block)
{
	char cbuf[CMSG_SPACE(sizeof(unsigned char))];

	for (;;) {
		struct msghdr msg = {
			.msg_iov = (struct iovec *)iov,
			.msg_iovlen = (size_t)iovcnt,
			.msg_control = cbuf,
			.msg_controllen = sizeof(cbuf),
		};
		struct cmsghdr *cm;
		ssize_t n = recvmsg(s->fd, &msg, 0);

		if (n < 0) {
			if (errno == EINTR || (errno == EAGAIN && block && wait_fd(s->fd, POLLIN, -1) > 0))
				continue;
			return -1;
		}
		cm = CMSG_FIRSTHDR(&msg);
		if (n == 0 || !cm || cm->cmsg_level != SOL_TLS || cm->cmsg_type != TLS_GET_RECORD_TYPE ||
		    *CMSG_DATA(cm) == TLS_CONTENT_APPDATA)
			return n;
		/* A control record, read into the caller's buffer: close_notify
		 * (warning alert 0) ends the stream; nothing else is expected. */
		if (*CMSG_DATA(cm) == TLS_CONTENT_ALERT && n >= 2 && iov[0].iov_len >= 2 &&
		    ((const uint8_t *)iov[0].iov_base)[1] == SSL_AD_CLOSE_NOTIFY)
			return 0;
		NVMF_WARN("tls: unexpected kTLS record of type %u", *CMSG_DATA(cm));
		errno = EPROTO;
		return -1;
	}
}

ssize_t nvmf_tls_recvv(struct nvmf_tls_session *s, const struct iovec *iov, int iovcnt,
		       bool block)
{
	struct iov_cursor c = {iov, iovcnt, 0, 0};
	size_t total = 0;

	if (s->dead) {
		errno = s->dead;
		return -1;
	}
	if (s->ktls_rx && nvmf_tls_pending(s) == 0)
		return ktls_recvv(s, iov, iovcnt, block);
	cursor_skip_empty(&c);
	while (c.idx < c.cnt) {
		struct pipe_guard g;
		size_t got = 0;
		int r, e = 0, sys_errno;
		short ev;
		bool fatal;

		nvmf_mutex_lock(&s->lock);
		guard_on(&g);
		errno = 0;
		r = SSL_read_ex(s->ssl, (uint8_t *)c.iov[c.idx].iov_base + c.off,
				c.iov[c.idx].iov_len - c.off, &got);
		sys_errno = errno;
		guard_off(&g);
		if (r != 1)
			e = SSL_get_error(s->ssl, r);
		nvmf_mutex_unlock(&s->lock);
		if (r == 1) {
			total += got;
			cursor_advance(&c, got);
			continue;
		}
		ev = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
		e = io_error(s, e, sys_errno, &fatal);
		if (total > 0) {
			if (fatal && e)
				s->dead = e;
			break;
		}
		if (!fatal) {
			if (block && wait_fd(s->fd, ev, -1) > 0)
				continue;
			errno = EAGAIN;
			return -1;
		}
		if (e == 0)
			return 0; /* end of stream */
		s->dead = e;
		errno = e;
		return -1;
	}
	return (ssize_t)total;
}

static ssize_t ktls_sendv(struct nvmf_tls_session *s, const struct iovec *iov, int iovcnt,
			  bool block)
{
	struct iov_cursor c = {iov, iovcnt, 0, 0};
	size_t total = 0;

	cursor_skip_empty(&c);
	while (c.idx < c.cnt) {
		struct iovec v[TLS_SEND_IOVS];
		struct msghdr msg = {.msg_iov = v};
		ssize_t n;
		int i;

		for (i = c.idx; i < c.cnt && msg.msg_iovlen < TLS_SEND_IOVS; i++) {
			size_t off = i == c.idx ? c.off : 0;

			v[msg.msg_iovlen].iov_base = (uint8_t *)iov[i].iov_base + off;
			v[msg.msg_iovlen++].iov_len = iov[i].iov_len - off;
		}
		n = sendmsg(s->fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR || (errno == EAGAIN && block &&
					       wait_fd(s->fd, POLLOUT, -1) > 0))
				continue;
			return total > 0 ? (ssize_t)total : -1;
		}
		total += (size_t)n;
		cursor_advance(&c, (size_t)n);
		if (!block)
			break;
	}
	return (ssize_t)total;
}

/* Whether the iovecs start with the staged record's bytes. */
static bool starts_with_staged(const struct nvmf_tls_session *s, const struct iovec *iov,
			       int iovcnt)
{
	struct iov_cursor c = {iov, iovcnt, 0, 0};
	size_t n = 0;

	cursor_skip_empty(&c);
	while (n < s->tx_len && c.idx < c.cnt) {
		size_t left = c.iov[c.idx].iov_len - c.off;
		size_t k = s->tx_len - n < left ? s->tx_len - n : left;

		if (memcmp(s->tx_buf + n, (const uint8_t *)c.iov[c.idx].iov_base + c.off, k))
			return false;
		n += k;
		cursor_advance(&c, k);
	}
	return n == s->tx_len;
}

ssize_t nvmf_tls_sendv(struct nvmf_tls_session *s, const struct iovec *iov, int iovcnt,
		       bool block)
{
	struct iov_cursor c = {iov, iovcnt, 0, 0};
	size_t total = 0;

	if (s->dead) {
		errno = s->dead;
		return -1;
	}
	if (s->ktls_tx)
		return ktls_sendv(s, iov, iovcnt, block);
	/* tx_buf and tx_len belong to the one sending thread: no lock. */
	if (s->tx_len > 0 && !starts_with_staged(s, iov, iovcnt)) {
		errno = EINVAL;
		return -1;
	}
	cursor_skip_empty(&c);
	for (;;) {
		struct pipe_guard g;
		size_t written = 0;
		int r, e = 0, sys_errno;
		short ev = POLLOUT;
		bool fatal;

		if (s->tx_len == 0) {
			/* Coalesce the next 16 KiB into one record. */
			s->tx_len = cursor_copy(&c, s->tx_buf, sizeof(s->tx_buf));
			if (s->tx_len == 0)
				break;
		}
		nvmf_mutex_lock(&s->lock);
		guard_on(&g);
		errno = 0;
		r = SSL_write_ex(s->ssl, s->tx_buf, s->tx_len, &written);
		sys_errno = errno;
		guard_off(&g);
		if (r != 1) {
			e = SSL_get_error(s->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				ev = POLLIN;
		}
		nvmf_mutex_unlock(&s->lock);
		if (r == 1) {
			total += s->tx_len;
			cursor_advance(&c, s->tx_len);
			s->tx_len = 0;
			continue;
		}
		e = io_error(s, e, sys_errno, &fatal);
		if (!fatal && block) {
			if (wait_fd(s->fd, ev, -1) > 0)
				continue;
			e = errno;
			fatal = true;
		}
		if (fatal) {
			s->tx_len = 0;
			s->dead = e ? e : EPIPE;
		}
		if (total > 0)
			return (ssize_t)total;
		errno = fatal ? s->dead : EAGAIN;
		return -1;
	}
	return (ssize_t)total;
}

size_t nvmf_tls_pending(struct nvmf_tls_session *s)
{
	int n;

	nvmf_mutex_lock(&s->lock);
	n = SSL_pending(s->ssl);
	nvmf_mutex_unlock(&s->lock);
	return n > 0 ? (size_t)n : 0;
}

void nvmf_tls_session_free(struct nvmf_tls_session *s)
{
	if (!s)
		return;
	if (s->handshaken && !s->dead) {
		struct pipe_guard g;

		guard_on(&g);
		SSL_shutdown(s->ssl); /* close_notify, if the socket takes it now */
		guard_off(&g);
		ERR_clear_error();
	}
	session_destroy(s);
}

const char *nvmf_tls_cipher(const struct nvmf_tls_session *s)
{
	return s->cipher;
}

const char *nvmf_tls_identity(const struct nvmf_tls_session *s)
{
	return s->identity;
}

const char *nvmf_tls_hostnqn(const struct nvmf_tls_session *s)
{
	return s->hostnqn;
}

const char *nvmf_tls_subnqn(const struct nvmf_tls_session *s)
{
	return s->subnqn;
}

bool nvmf_tls_ktls_tx(const struct nvmf_tls_session *s)
{
	return s->ktls_tx;
}

bool nvmf_tls_ktls_rx(const struct nvmf_tls_session *s)
{
	return s->ktls_rx;
}
