/* SPDX-License-Identifier: MIT */
/*
 * DH-HMAC-CHAP (NVM Express Base Specification 2.0 §8.13; TP 8006): DHHC-1
 * secrets and the protocol engine for both roles.
 *
 * The computations follow the Linux kernel step for step
 * (drivers/nvme/common/auth.c, host/auth.c, target/auth.c and
 * target/fabrics-cmd-auth.c), so that either side interoperates with it:
 *   - the host key is transformed with the host NQN and the controller key
 *     with the subsystem NQN (nvme_auth_transform_key);
 *   - with a DH group the challenge is augmented: Ca = HMAC(H(g^xy), C);
 *   - R1 = HMAC(Kh, Ca1 || S1 || T_ID || SC_C || "HostHost" || NQNh || 0 ||
 *     NQNc), R2 = HMAC(Kc, Ca2 || S2 || T_ID || SC_C || "Controller" || NQNc
 *     || 0 || NQNh);
 *   - DH public values and the shared secret are the group's size, padded
 *     with leading zeros;
 *   - the Reply always carries the C2 slot (zeros when unidirectional);
 *   - S2 = 0 means "do not authenticate the controller".
 * Where Linux is lax this engine is strict: a host holding a controller key
 * refuses a Success1 without the controller's response, and every peer DH
 * value gets OpenSSL's full public-key check.
 */
#include "security/dhchap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "security/secret.h"

#define DHCHAP_SEED "NVMe-over-Fabrics"

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

static const struct {
	const char *name;
	const char *ossl;
	size_t len;
} hashes[] = {
	[NVMF_DHCHAP_HASH_SHA256] = {"sha256", OSSL_DIGEST_NAME_SHA2_256, 32},
	[NVMF_DHCHAP_HASH_SHA384] = {"sha384", OSSL_DIGEST_NAME_SHA2_384, 48},
	[NVMF_DHCHAP_HASH_SHA512] = {"sha512", OSSL_DIGEST_NAME_SHA2_512, 64},
};

static const struct {
	const char *name;
	size_t len;
} dhgroups[] = {
	[NVMF_DHCHAP_DHGROUP_NULL] = {"null", 0},
	[NVMF_DHCHAP_DHGROUP_FFDHE2048] = {"ffdhe2048", 256},
	[NVMF_DHCHAP_DHGROUP_FFDHE3072] = {"ffdhe3072", 384},
	[NVMF_DHCHAP_DHGROUP_FFDHE4096] = {"ffdhe4096", 512},
	[NVMF_DHCHAP_DHGROUP_FFDHE6144] = {"ffdhe6144", 768},
	[NVMF_DHCHAP_DHGROUP_FFDHE8192] = {"ffdhe8192", 1024},
};

#define NHASHES (sizeof(hashes) / sizeof(hashes[0]))
#define NDHGROUPS (sizeof(dhgroups) / sizeof(dhgroups[0]))

static bool hash_valid(uint8_t h)
{
	return h < NHASHES && hashes[h].name;
}

static bool dhgroup_valid(uint8_t g)
{
	return g < NDHGROUPS;
}

const char *nvmf_dhchap_hash_name(uint8_t hash)
{
	return hash_valid(hash) ? hashes[hash].name : NULL;
}

const char *nvmf_dhchap_dhgroup_name(uint8_t dhgroup)
{
	return dhgroup_valid(dhgroup) ? dhgroups[dhgroup].name : NULL;
}

size_t nvmf_dhchap_hash_len(uint8_t hash)
{
	return hash_valid(hash) ? hashes[hash].len : 0;
}

size_t nvmf_dhchap_dhgroup_len(uint8_t dhgroup)
{
	return dhgroup_valid(dhgroup) ? dhgroups[dhgroup].len : 0;
}

int nvmf_dhchap_hash_from_name(const char *name)
{
	char buf[16];
	size_t i, n = 0;

	if (!name)
		return -EINVAL;
	/* "hmac(sha256)" (the Linux target's attribute) and "SHA-256" too. */
	if (strncasecmp(name, "hmac(", 5) == 0)
		name += 5;
	for (; *name && *name != ')' && n + 1 < sizeof(buf); name++)
		if (*name != '-')
			buf[n++] = *name;
	buf[n] = '\0';
	for (i = 0; i < NHASHES; i++)
		if (hashes[i].name && strcasecmp(buf, hashes[i].name) == 0)
			return (int)i;
	return -EINVAL;
}

int nvmf_dhchap_dhgroup_from_name(const char *name)
{
	size_t i;

	for (i = 0; name && i < NDHGROUPS; i++)
		if (strcasecmp(name, dhgroups[i].name) == 0)
			return (int)i;
	return -EINVAL;
}

const char *nvmf_auth_failure_reason_str(uint8_t reason)
{
	switch (reason) {
	case NVMF_AUTH_FAIL_FAILED:
		return "authentication failed";
	case NVMF_AUTH_FAIL_PROTOCOL_UNUSABLE:
		return "authentication protocol not usable";
	case NVMF_AUTH_FAIL_CONCAT_MISMATCH:
		return "secure channel concatenation mismatch";
	case NVMF_AUTH_FAIL_HASH_UNUSABLE:
		return "hash function not usable";
	case NVMF_AUTH_FAIL_DHGROUP_UNUSABLE:
		return "DH group not usable";
	case NVMF_AUTH_FAIL_INCORRECT_PAYLOAD:
		return "incorrect payload";
	case NVMF_AUTH_FAIL_INCORRECT_MESSAGE:
		return "incorrect protocol message";
	default:
		return "unknown reason";
	}
}

/* ------------------------------------------------------------------ */
/* DHHC-1 secrets                                                      */
/* ------------------------------------------------------------------ */

static bool key_len_valid(size_t len)
{
	return len == 32 || len == 48 || len == 64;
}

static int key_parse(const char *secret, struct nvmf_dhchap_key *key, char *err, size_t errlen)
{
	uint8_t hh;
	size_t len;

	if (sec_interchange_parse("DHHC-1", secret, &hh, key->key, sizeof(key->key),
				  &len, err, errlen) != 0)
		return -1;
	if (hh > NVMF_DHCHAP_HASH_SHA512) {
		OPENSSL_cleanse(key, sizeof(*key));
		return sec_fail(err, errlen, "DHHC-1 secret: unknown transform hash %02x "
				"(00 none, 01 SHA-256, 02 SHA-384, 03 SHA-512)", hh);
	}
	if (!key_len_valid(len) || (hh != 0 && len != hashes[hh].len)) {
		OPENSSL_cleanse(key, sizeof(*key));
		if (hh != 0)
			return sec_fail(err, errlen, "DHHC-1 secret: a %02x key must be %zu "
					"bytes, this one has %zu", hh, hashes[hh].len, len);
		return sec_fail(err, errlen, "DHHC-1 secret: key length %zu, must be "
				"32, 48 or 64 bytes", len);
	}
	key->hmac = hh;
	key->len = (uint8_t)len;
	return 0;
}

int nvmf_dhchap_key_parse(const char *secret, struct nvmf_dhchap_key *key,
			  struct nvmf_error *err)
{
	char msg[sizeof(err->msg)] = "";

	return sec_public_result(key_parse(secret, key, msg, sizeof(msg)), msg, err);
}

int nvmf_dhchap_key_format(const struct nvmf_dhchap_key *key, char *out, size_t outlen)
{
	if (!key_len_valid(key->len) || key->hmac > NVMF_DHCHAP_HASH_SHA512)
		return -EINVAL;
	return sec_interchange_format("DHHC-1", key->hmac, key->key, key->len, out, outlen) < 0
		       ? -EINVAL
		       : (int)strlen(out);
}

static int transform(uint8_t hmac, const uint8_t *key, size_t len, const char *nqn,
		     uint8_t *out)
{
	struct sec_buf parts[] = {{nqn, strlen(nqn)}, {DHCHAP_SEED, strlen(DHCHAP_SEED)}};

	if (sec_hmac(hashes[hmac].ossl, key, len, parts, 2, out) != 0)
		return -1;
	return (int)hashes[hmac].len;
}

static int key_generate(int hmac, const char *nqn, const char *secret_hex, size_t key_len,
			char *out, size_t outlen, char *err, size_t errlen)
{
	struct nvmf_dhchap_key key = {.hmac = (uint8_t)hmac};
	uint8_t raw[NVMF_DHCHAP_KEY_MAX];
	int n, ret = -1;

	if (hmac < 0 || hmac > NVMF_DHCHAP_HASH_SHA512)
		return sec_fail(err, errlen, "--hmac must be 0 (none), 1 (SHA-256), "
				"2 (SHA-384) or 3 (SHA-512)");
	if (hmac != 0 && key_len != 0 && key_len != hashes[hmac].len)
		return sec_fail(err, errlen, "key length %zu does not fit HMAC %d "
				"(needs %zu)", key_len, hmac, hashes[hmac].len);
	if (key_len == 0 && hmac != 0)
		key_len = hashes[hmac].len;
	if (secret_hex) {
		n = sec_hex_decode(secret_hex, raw, sizeof(raw));
		if (n < 0)
			return sec_fail(err, errlen, "secret must be 32, 48 or 64 bytes "
					"in hexadecimal");
		if (key_len == 0)
			key_len = (size_t)n;
		if ((size_t)n != key_len) {
			OPENSSL_cleanse(raw, sizeof(raw));
			return sec_fail(err, errlen, "secret has %d bytes, the key needs %zu",
					n, key_len);
		}
	} else {
		if (key_len == 0)
			key_len = 32;
		if (key_len_valid(key_len) && sec_random(raw, key_len) != 0)
			return sec_fail(err, errlen, "no random bytes from OpenSSL");
	}
	if (!key_len_valid(key_len)) {
		sec_fail(err, errlen, "key length %zu, must be 32, 48 or 64", key_len);
		goto out;
	}
	if (hmac != 0) {
		if (!nqn || !*nqn) {
			sec_fail(err, errlen, "HMAC %d transforms the secret with an NQN: "
				 "give one (--nqn)", hmac);
			goto out;
		}
		if (transform((uint8_t)hmac, raw, key_len, nqn, key.key) < 0) {
			sec_fail(err, errlen, "HMAC failed");
			goto out;
		}
	} else {
		memcpy(key.key, raw, key_len);
	}
	key.len = (uint8_t)key_len;
	ret = nvmf_dhchap_key_format(&key, out, outlen);
	if (ret < 0)
		sec_fail(err, errlen, "output buffer too small");
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(&key, sizeof(key));
	return ret;
}

int nvmf_dhchap_key_generate(int hmac, const char *nqn, const char *secret_hex,
			     size_t key_len, char *out, size_t outlen, struct nvmf_error *err)
{
	char msg[sizeof(err->msg)] = "";
	int ret = key_generate(hmac, nqn, secret_hex, key_len, out, outlen, msg, sizeof(msg));

	return sec_public_result(ret, msg, err);
}

int nvmf_dhchap_key_transform(const struct nvmf_dhchap_key *key, const char *nqn,
			      uint8_t out[NVMF_DHCHAP_KEY_MAX])
{
	if (!key || !nqn || !key_len_valid(key->len) || key->hmac > NVMF_DHCHAP_HASH_SHA512)
		return -1;
	if (key->hmac == NVMF_DHCHAP_HASH_NONE) {
		memcpy(out, key->key, key->len);
		return key->len;
	}
	/* Linux refuses a key whose length differs from its transform hash. */
	if (key->len != hashes[key->hmac].len)
		return -1;
	return transform(key->hmac, key->key, key->len, nqn, out);
}

/* ------------------------------------------------------------------ */
/* Computation steps                                                   */
/* ------------------------------------------------------------------ */

int nvmf_dhchap_augmented_challenge(uint8_t hash, const uint8_t *sess_key,
				    size_t sess_key_len, const uint8_t *challenge,
				    uint8_t *out)
{
	uint8_t hashed[NVMF_DHCHAP_HASH_MAX_LEN];
	struct sec_buf part;
	int ret;

	if (!hash_valid(hash))
		return -1;
	if (sec_digest(hashes[hash].ossl, sess_key, sess_key_len, hashed) != 0)
		return -1;
	part = (struct sec_buf){challenge, hashes[hash].len};
	ret = sec_hmac(hashes[hash].ossl, hashed, hashes[hash].len, &part, 1, out);
	OPENSSL_cleanse(hashed, sizeof(hashed));
	return ret;
}

int nvmf_dhchap_response(uint8_t hash, const uint8_t *key, size_t key_len,
			 const uint8_t *challenge, uint32_t seqnum, uint16_t t_id,
			 uint8_t sc_c, bool controller, const char *hostnqn,
			 const char *subnqn, uint8_t *out)
{
	const uint8_t seq[4] = {(uint8_t)seqnum, (uint8_t)(seqnum >> 8),
				(uint8_t)(seqnum >> 16), (uint8_t)(seqnum >> 24)};
	const uint8_t tid[2] = {(uint8_t)t_id, (uint8_t)(t_id >> 8)};
	const uint8_t zero = 0;
	const char *first = controller ? subnqn : hostnqn;
	const char *second = controller ? hostnqn : subnqn;
	const char *tag = controller ? "Controller" : "HostHost";
	struct sec_buf parts[] = {
		{challenge, nvmf_dhchap_hash_len(hash)},
		{seq, 4},
		{tid, 2},
		{&sc_c, 1},
		{tag, strlen(tag)},
		{first, strlen(first)},
		{&zero, 1},
		{second, strlen(second)},
	};

	if (!hash_valid(hash))
		return -1;
	return sec_hmac(hashes[hash].ossl, key, key_len, parts, 8, out);
}

/* ------------------------------------------------------------------ */
/* Diffie-Hellman (RFC 7919 groups through OpenSSL)                    */
/* ------------------------------------------------------------------ */

static EVP_PKEY *dh_generate(uint8_t group)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						 (char *)dhgroups[group].name, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	EVP_PKEY *key = NULL;

	if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_CTX_set_params(ctx, params) <= 0 ||
	    EVP_PKEY_generate(ctx, &key) <= 0)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	return key;
}

/* The public value, big-endian, padded to the group size. */
static int dh_public(EVP_PKEY *key, uint8_t *out, size_t len)
{
	BIGNUM *pub = NULL;
	int ok = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PUB_KEY, &pub) &&
		 BN_bn2binpad(pub, out, (int)len) == (int)len;

	BN_free(pub);
	return ok ? 0 : -1;
}

/* The shared secret with the peer's public value, padded to the group size.
 * The peer value gets OpenSSL's full check (1 < y < p - 1 and y^q = 1). */
static int dh_shared(EVP_PKEY *own, uint8_t group, const uint8_t *peer, size_t len,
		     uint8_t *out)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *y = BN_bin2bn(peer, (int)len, NULL);
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	EVP_PKEY_CTX *cctx = NULL, *dctx = NULL;
	EVP_PKEY *peerkey = NULL;
	size_t outlen = len;
	int ret = -1;

	if (!bld || !y || !pctx ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					     dhgroups[group].name, 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, y))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	if (!params || EVP_PKEY_fromdata_init(pctx) <= 0 ||
	    EVP_PKEY_fromdata(pctx, &peerkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	cctx = EVP_PKEY_CTX_new_from_pkey(NULL, peerkey, NULL);
	if (!cctx || EVP_PKEY_public_check(cctx) != 1)
		goto out;
	dctx = EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL);
	if (!dctx || EVP_PKEY_derive_init(dctx) <= 0 || EVP_PKEY_CTX_set_dh_pad(dctx, 1) <= 0 ||
	    EVP_PKEY_derive_set_peer_ex(dctx, peerkey, 0) <= 0 ||
	    EVP_PKEY_derive(dctx, out, &outlen) <= 0 || outlen != len)
		goto out;
	ret = 0;
out:
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_CTX_free(cctx);
	EVP_PKEY_free(peerkey);
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(pctx);
	BN_free(y);
	OSSL_PARAM_BLD_free(bld);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Engine                                                              */
/* ------------------------------------------------------------------ */

enum state {
	ST_IDLE,             /* host: not started; controller: awaiting Negotiate */
	ST_WAIT_CHALLENGE,   /* host */
	ST_WAIT_SUCCESS1,    /* host */
	ST_WAIT_REPLY,       /* controller */
	ST_WAIT_SUCCESS2,    /* controller */
	ST_DONE,
	ST_FAILED,
};

struct nvmf_dhchap {
	bool controller;
	enum state state;
	char hostnqn[NVMF_NQN_FIELD_SIZE];
	char subnqn[NVMF_NQN_FIELD_SIZE];
	uint8_t host_key[NVMF_DHCHAP_KEY_MAX];  /* transformed with the host NQN */
	size_t host_key_len;
	uint8_t ctrl_key[NVMF_DHCHAP_KEY_MAX];  /* transformed with the subsystem NQN */
	size_t ctrl_key_len;                    /* 0: none */
	unsigned hash_mask;
	unsigned dhgroup_mask;
	uint8_t pref_hash;
	uint8_t pref_dhgroup;
	uint32_t cfg_seqnum;

	/* The transaction. */
	uint16_t t_id;
	uint8_t sc_c;
	uint8_t hash;
	uint8_t dhgroup;
	size_t hl;
	uint32_t s1;
	uint32_t s2;
	bool bidirectional;
	uint8_t c1[NVMF_DHCHAP_HASH_MAX_LEN];
	uint8_t c2[NVMF_DHCHAP_HASH_MAX_LEN];
	EVP_PKEY *dh;
	uint8_t sess_key[NVMF_DHCHAP_DH_MAX_LEN];
	size_t sess_key_len;

	uint8_t reason;
	char error[200];
};

static bool nqn_valid(const char *nqn)
{
	return nqn && *nqn && strnlen(nqn, NVMF_NQN_MAX_LEN + 1) <= NVMF_NQN_MAX_LEN;
}

static struct nvmf_dhchap *engine_new(bool controller, const char *hostnqn,
				      const char *subnqn,
				      const struct nvmf_dhchap_key *host_key,
				      const struct nvmf_dhchap_key *ctrl_key)
{
	struct nvmf_dhchap *e;
	int n;

	if (!nqn_valid(hostnqn) || !nqn_valid(subnqn) || !host_key) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		errno = ENOMEM;
		return NULL;
	}
	e->controller = controller;
	strcpy(e->hostnqn, hostnqn);
	strcpy(e->subnqn, subnqn);
	n = nvmf_dhchap_key_transform(host_key, hostnqn, e->host_key);
	if (n < 0)
		goto invalid;
	e->host_key_len = (size_t)n;
	if (ctrl_key) {
		n = nvmf_dhchap_key_transform(ctrl_key, subnqn, e->ctrl_key);
		if (n < 0)
			goto invalid;
		e->ctrl_key_len = (size_t)n;
	}
	return e;
invalid:
	nvmf_dhchap_free(e);
	errno = EINVAL;
	return NULL;
}

struct nvmf_dhchap *nvmf_dhchap_host_new(const struct nvmf_dhchap_host_params *p)
{
	struct nvmf_dhchap *e = engine_new(false, p->hostnqn, p->subnqn, p->host_key,
					   p->ctrl_key);

	if (!e)
		return NULL;
	e->hash_mask = (p->hash_mask ? p->hash_mask : NVMF_DHCHAP_HASHES_ALL) &
		       NVMF_DHCHAP_HASHES_ALL;
	e->dhgroup_mask = (p->dhgroup_mask ? p->dhgroup_mask : NVMF_DHCHAP_DHGROUPS_ALL) &
			  NVMF_DHCHAP_DHGROUPS_ALL;
	e->t_id = p->t_id;
	e->cfg_seqnum = p->seqnum;
	if (!e->hash_mask || !e->dhgroup_mask) {
		nvmf_dhchap_free(e);
		errno = EINVAL;
		return NULL;
	}
	return e;
}

struct nvmf_dhchap *nvmf_dhchap_ctrl_new(const struct nvmf_dhchap_ctrl_params *p)
{
	struct nvmf_dhchap *e = engine_new(true, p->hostnqn, p->subnqn, p->host_key,
					   p->ctrl_key);

	if (!e)
		return NULL;
	e->pref_hash = p->hash ? p->hash : NVMF_DHCHAP_HASH_SHA256;
	e->pref_dhgroup = p->dhgroup;
	e->hash_mask = (p->hash_mask ? p->hash_mask : NVMF_DHCHAP_HASHES_ALL) &
		       NVMF_DHCHAP_HASHES_ALL;
	e->dhgroup_mask = (p->dhgroup_mask ? p->dhgroup_mask : NVMF_DHCHAP_DHGROUPS_ALL) &
			  NVMF_DHCHAP_DHGROUPS_ALL;
	e->cfg_seqnum = p->seqnum;
	if (!hash_valid(e->pref_hash) || !dhgroup_valid(e->pref_dhgroup) ||
	    !e->hash_mask || !e->dhgroup_mask) {
		nvmf_dhchap_free(e);
		errno = EINVAL;
		return NULL;
	}
	return e;
}

/* Forget the transaction's secrets (keys stay). */
static void transaction_reset(struct nvmf_dhchap *e)
{
	EVP_PKEY_free(e->dh);
	e->dh = NULL;
	OPENSSL_cleanse(e->c1, sizeof(e->c1));
	OPENSSL_cleanse(e->c2, sizeof(e->c2));
	OPENSSL_cleanse(e->sess_key, sizeof(e->sess_key));
	e->sess_key_len = 0;
	e->bidirectional = false;
	e->s1 = e->s2 = 0;
}

void nvmf_dhchap_free(struct nvmf_dhchap *e)
{
	if (!e)
		return;
	transaction_reset(e);
	OPENSSL_clear_free(e, sizeof(*e));
}

uint8_t nvmf_dhchap_failure_reason(const struct nvmf_dhchap *e)
{
	return e->reason;
}

const char *nvmf_dhchap_error(const struct nvmf_dhchap *e)
{
	return e->error;
}

uint8_t nvmf_dhchap_hash(const struct nvmf_dhchap *e)
{
	return e->hash;
}

uint8_t nvmf_dhchap_dhgroup(const struct nvmf_dhchap *e)
{
	return e->dhgroup;
}

bool nvmf_dhchap_bidirectional(const struct nvmf_dhchap *e)
{
	return e->bidirectional;
}

size_t nvmf_auth_failure_build(uint8_t auth_id, uint16_t t_id, uint8_t reason,
			       uint8_t *out, size_t outlen)
{
	struct nvmf_auth_failure f = {
		.auth_type = NVMF_AUTH_TYPE_COMMON,
		.auth_id = auth_id,
		.t_id = t_id,
		.rescode = NVMF_AUTH_RC_FAILURE,
		.rescode_exp = reason,
	};

	if (outlen < sizeof(f))
		return 0;
	memcpy(out, &f, sizeof(f));
	return sizeof(f);
}

static uint32_t new_seqnum(uint32_t configured)
{
	uint32_t s = configured;

	while (s == 0)
		if (sec_random((uint8_t *)&s, sizeof(s)) != 0)
			return 1;
	return s;
}

/*
 * End the transaction with a failure; when send_id is non-zero (Failure1 or
 * Failure2) the failure message goes to out.  The error text is kept.
 */
static int fail(struct nvmf_dhchap *e, uint8_t reason, uint8_t send_id, uint8_t *out,
		size_t outlen, size_t *outn, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static int fail(struct nvmf_dhchap *e, uint8_t reason, uint8_t send_id, uint8_t *out,
		size_t outlen, size_t *outn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->error, sizeof(e->error), fmt, ap);
	va_end(ap);
	e->reason = reason;
	e->state = ST_FAILED;
	transaction_reset(e);
	*outn = 0;
	if (send_id) {
		*outn = nvmf_auth_failure_build(send_id, e->t_id, reason, out, outlen);
		if (*outn == 0)
			return -ENOBUFS;
	}
	return NVMF_DHCHAP_FAILED;
}

/* A controller refusal: Failure1 on the next Authentication Receive. */
#define FAIL1(e, reason, ...) fail(e, reason, NVMF_AUTH_ID_FAILURE1, out, outlen, outn, __VA_ARGS__)
/* A host refusal: Failure2 sent by Authentication Send. */
#define FAIL2(e, reason, ...) fail(e, reason, NVMF_AUTH_ID_FAILURE2, out, outlen, outn, __VA_ARGS__)

static const char *state_expects(const struct nvmf_dhchap *e)
{
	switch (e->state) {
	case ST_WAIT_CHALLENGE:
		return "DH-HMAC-CHAP_Challenge";
	case ST_WAIT_SUCCESS1:
		return "DH-HMAC-CHAP_Success1";
	case ST_WAIT_REPLY:
		return "DH-HMAC-CHAP_Reply";
	case ST_WAIT_SUCCESS2:
		return "DH-HMAC-CHAP_Success2";
	default:
		return "AUTH_Negotiate";
	}
}

/* The (augmented) challenge a response is computed over. */
static int effective_challenge(struct nvmf_dhchap *e, const uint8_t *c, uint8_t *out)
{
	if (e->dhgroup == NVMF_DHCHAP_DHGROUP_NULL) {
		memcpy(out, c, e->hl);
		return 0;
	}
	return nvmf_dhchap_augmented_challenge(e->hash, e->sess_key, e->sess_key_len, c, out);
}

static int compute_response(struct nvmf_dhchap *e, bool controller, uint8_t *out)
{
	uint8_t ch[NVMF_DHCHAP_HASH_MAX_LEN];
	int ret;

	ret = effective_challenge(e, controller ? e->c2 : e->c1, ch);
	if (ret == 0)
		ret = nvmf_dhchap_response(e->hash,
					   controller ? e->ctrl_key : e->host_key,
					   controller ? e->ctrl_key_len : e->host_key_len,
					   ch, controller ? e->s2 : e->s1, e->t_id, e->sc_c,
					   controller, e->hostnqn, e->subnqn, out);
	OPENSSL_cleanse(ch, sizeof(ch));
	return ret;
}

static size_t put_hash_ids(unsigned mask, uint8_t *ids)
{
	size_t n = 0;
	uint8_t h;

	for (h = NVMF_DHCHAP_HASH_SHA256; h <= NVMF_DHCHAP_HASH_SHA512; h++)
		if (mask & (1u << h))
			ids[n++] = h;
	return n;
}

static size_t put_dhgroup_ids(unsigned mask, uint8_t *ids)
{
	size_t n = 0;
	uint8_t g;

	for (g = NVMF_DHCHAP_DHGROUP_NULL; g <= NVMF_DHCHAP_DHGROUP_FFDHE8192; g++)
		if (mask & (1u << g))
			ids[n++] = g;
	return n;
}

ssize_t nvmf_dhchap_host_start(struct nvmf_dhchap *e, uint8_t *out, size_t outlen)
{
	struct nvmf_auth_negotiate neg = {
		.auth_type = NVMF_AUTH_TYPE_COMMON,
		.auth_id = NVMF_AUTH_ID_NEGOTIATE,
		.sc_c = NVMF_AUTH_SCC_NONE,
		.napd = 1,
	};
	struct nvmf_auth_dhchap_desc desc = {.authid = NVMF_AUTH_PROTOCOL_DHCHAP};

	if (e->controller || e->state != ST_IDLE)
		return -EINVAL;
	if (outlen < sizeof(neg) + sizeof(desc))
		return -ENOBUFS;
	neg.t_id = e->t_id;
	desc.halen = (uint8_t)put_hash_ids(e->hash_mask, desc.hash_ids);
	desc.dhlen = (uint8_t)put_dhgroup_ids(e->dhgroup_mask, desc.dhgroup_ids);
	memcpy(out, &neg, sizeof(neg));
	memcpy(out + sizeof(neg), &desc, sizeof(desc));
	e->state = ST_WAIT_CHALLENGE;
	return (ssize_t)(sizeof(neg) + sizeof(desc));
}

/* Host: DH-HMAC-CHAP_Challenge in, DH-HMAC-CHAP_Reply out. */
static int host_challenge(struct nvmf_dhchap *e, const uint8_t *in, size_t inlen,
			  uint8_t *out, size_t outlen, size_t *outn)
{
	struct nvmf_dhchap_challenge ch;
	struct nvmf_dhchap_reply rep = {
		.auth_type = NVMF_AUTH_TYPE_DHCHAP,
		.auth_id = NVMF_AUTH_ID_REPLY,
	};
	size_t dhlen, need;
	uint8_t *p;

	memcpy(&ch, in, sizeof(ch));
	if (ch.t_id != e->t_id)
		return FAIL2(e, NVMF_AUTH_FAIL_INCORRECT_MESSAGE,
			     "challenge for transaction %u, expected %u", ch.t_id, e->t_id);
	if (!hash_valid(ch.hashid) || !(e->hash_mask & (1u << ch.hashid)))
		return FAIL2(e, NVMF_AUTH_FAIL_HASH_UNUSABLE,
			     "controller chose hash %u, which the host did not offer",
			     ch.hashid);
	if (ch.hl != hashes[ch.hashid].len)
		return FAIL2(e, NVMF_AUTH_FAIL_HASH_UNUSABLE,
			     "challenge length %u does not fit %s", ch.hl,
			     hashes[ch.hashid].name);
	if (!dhgroup_valid(ch.dhgid) || !(e->dhgroup_mask & (1u << ch.dhgid)))
		return FAIL2(e, NVMF_AUTH_FAIL_DHGROUP_UNUSABLE,
			     "controller chose DH group %u, which the host did not offer",
			     ch.dhgid);
	dhlen = dhgroups[ch.dhgid].len;
	if (ch.dhvlen != dhlen)
		return FAIL2(e, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD,
			     "challenge DH value of %u bytes, %s needs %zu", ch.dhvlen,
			     dhgroups[ch.dhgid].name, dhlen);
	if (sizeof(ch) + ch.hl + dhlen > inlen)
		return FAIL2(e, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD,
			     "challenge truncated: %zu bytes, needs %zu", inlen,
			     sizeof(ch) + ch.hl + dhlen);
	need = sizeof(rep) + 2 * (size_t)ch.hl + dhlen;
	if (outlen < need)
		return -ENOBUFS;

	e->hash = ch.hashid;
	e->dhgroup = ch.dhgid;
	e->hl = ch.hl;
	e->s1 = ch.seqnum;
	memcpy(e->c1, in + sizeof(ch), e->hl);
	p = out + sizeof(rep);
	if (dhlen) {
		e->dh = dh_generate(e->dhgroup);
		if (!e->dh || dh_public(e->dh, p + 2 * e->hl, dhlen) != 0)
			return FAIL2(e, NVMF_AUTH_FAIL_FAILED, "DH key generation failed");
		if (dh_shared(e->dh, e->dhgroup, in + sizeof(ch) + e->hl, dhlen,
			      e->sess_key) != 0)
			return FAIL2(e, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD,
				     "controller DH value refused (not a valid %s public key)",
				     dhgroups[e->dhgroup].name);
		e->sess_key_len = dhlen;
	}
	if (compute_response(e, false, p) != 0)
		return FAIL2(e, NVMF_AUTH_FAIL_FAILED, "HMAC failed");
	if (e->ctrl_key_len) {
		if (sec_random(e->c2, e->hl) != 0)
			return FAIL2(e, NVMF_AUTH_FAIL_FAILED, "no random bytes");
		e->s2 = new_seqnum(e->cfg_seqnum);
		e->bidirectional = true;
		rep.cvalid = NVMF_DHCHAP_CVALID;
	}
	memcpy(p + e->hl, e->c2, e->hl); /* zeros when unidirectional */
	rep.t_id = e->t_id;
	rep.hl = (uint8_t)e->hl;
	rep.dhvlen = (uint16_t)dhlen;
	rep.seqnum = e->s2;
	memcpy(out, &rep, sizeof(rep));
	*outn = need;
	e->state = ST_WAIT_SUCCESS1;
	return NVMF_DHCHAP_CONTINUE;
}

/* Host: DH-HMAC-CHAP_Success1 in, Success2 out when bidirectional. */
static int host_success1(struct nvmf_dhchap *e, const uint8_t *in, size_t inlen,
			 uint8_t *out, size_t outlen, size_t *outn)
{
	struct nvmf_dhchap_success1 s1;
	struct nvmf_dhchap_success2 s2 = {
		.auth_type = NVMF_AUTH_TYPE_DHCHAP,
		.auth_id = NVMF_AUTH_ID_SUCCESS2,
	};
	uint8_t expect[NVMF_DHCHAP_HASH_MAX_LEN];
	int diff;

	memcpy(&s1, in, sizeof(s1));
	if (s1.t_id != e->t_id)
		return FAIL2(e, NVMF_AUTH_FAIL_INCORRECT_MESSAGE,
			     "success1 for transaction %u, expected %u", s1.t_id, e->t_id);
	if (s1.hl != e->hl)
		return FAIL2(e, NVMF_AUTH_FAIL_HASH_UNUSABLE,
			     "success1 hash length %u, expected %zu", s1.hl, e->hl);
	if (!e->bidirectional) {
		e->state = ST_DONE;
		transaction_reset(e);
		*outn = 0;
		return NVMF_DHCHAP_SUCCESS;
	}
	/* Linux accepts a Success1 without R2 here; a host that asked the
	 * controller to prove itself must not. */
	if (!(s1.rvalid & NVMF_DHCHAP_RVALID))
		return FAIL2(e, NVMF_AUTH_FAIL_FAILED,
			     "controller did not answer the host's challenge "
			     "(no controller key configured on the target?)");
	if (sizeof(s1) + e->hl > inlen)
		return FAIL2(e, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD,
			     "success1 truncated: %zu bytes", inlen);
	if (outlen < sizeof(s2))
		return -ENOBUFS;
	if (compute_response(e, true, expect) != 0)
		return FAIL2(e, NVMF_AUTH_FAIL_FAILED, "HMAC failed");
	diff = CRYPTO_memcmp(expect, in + sizeof(s1), e->hl);
	OPENSSL_cleanse(expect, sizeof(expect));
	if (diff)
		return FAIL2(e, NVMF_AUTH_FAIL_FAILED,
			     "controller response mismatch: wrong controller key?");
	s2.t_id = e->t_id;
	memcpy(out, &s2, sizeof(s2));
	*outn = sizeof(s2);
	e->state = ST_DONE;
	transaction_reset(e);
	e->bidirectional = true;
	return NVMF_DHCHAP_SUCCESS;
}

static int host_step(struct nvmf_dhchap *e, const uint8_t *in, size_t inlen,
		     uint8_t *out, size_t outlen, size_t *outn)
{
	uint8_t type = in[0], id = in[1];

	if (e->state != ST_WAIT_CHALLENGE && e->state != ST_WAIT_SUCCESS1)
		return -EINVAL;
	if (type == NVMF_AUTH_TYPE_COMMON && id == NVMF_AUTH_ID_FAILURE1) {
		uint8_t reason = inlen >= sizeof(struct nvmf_auth_failure) ?
				 in[offsetof(struct nvmf_auth_failure, rescode_exp)] : 0;

		return fail(e, reason, 0, out, outlen, outn,
			    "controller refused authentication: %s",
			    nvmf_auth_failure_reason_str(reason));
	}
	if (type != NVMF_AUTH_TYPE_DHCHAP || inlen < sizeof(struct nvmf_dhchap_challenge) ||
	    id != (e->state == ST_WAIT_CHALLENGE ? NVMF_AUTH_ID_CHALLENGE : NVMF_AUTH_ID_SUCCESS1))
		return FAIL2(e, NVMF_AUTH_FAIL_INCORRECT_MESSAGE,
			     "received message %02x/%02x (%zu bytes), expected %s", type, id,
			     inlen, state_expects(e));
	if (e->state == ST_WAIT_CHALLENGE)
		return host_challenge(e, in, inlen, out, outlen, outn);
	return host_success1(e, in, inlen, out, outlen, outn);
}

/* Pick the preferred id if the host offers it and it is allowed, else the
 * first offered and allowed one (the Linux target's fallback); -1: none. */
static int choose(const uint8_t *ids, size_t n, uint8_t preferred, unsigned allowed,
		  bool (*known)(uint8_t))
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ids[i] == preferred && known(ids[i]) && (allowed & (1u << ids[i])))
			return preferred;
	for (i = 0; i < n; i++)
		if (known(ids[i]) && (allowed & (1u << ids[i])))
			return ids[i];
	return -1;
}

/* Controller: AUTH_Negotiate in, DH-HMAC-CHAP_Challenge out. */
static int ctrl_negotiate(struct nvmf_dhchap *e, const uint8_t *in, size_t inlen,
			  uint8_t *out, size_t outlen, size_t *outn)
{
	struct nvmf_auth_negotiate neg;
	struct nvmf_auth_dhchap_desc desc;
	struct nvmf_dhchap_challenge ch = {
		.auth_type = NVMF_AUTH_TYPE_DHCHAP,
		.auth_id = NVMF_AUTH_ID_CHALLENGE,
	};
	size_t i, dhlen, need;
	int hash, group;
	bool found = false;

	transaction_reset(e);
	memcpy(&neg, in, sizeof(neg));
	e->t_id = neg.t_id;
	e->hash = e->dhgroup = 0;
	e->reason = 0;
	e->error[0] = '\0';
	if (neg.sc_c != NVMF_AUTH_SCC_NONE)
		return FAIL1(e, NVMF_AUTH_FAIL_CONCAT_MISMATCH,
			     "host asked for secure channel concatenation (SC_C %u), "
			     "which this controller does not support", neg.sc_c);
	if (neg.napd == 0 || sizeof(neg) + (size_t)neg.napd * sizeof(desc) > inlen)
		return FAIL1(e, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD,
			     "negotiate with %u descriptors in %zu bytes", neg.napd, inlen);
	for (i = 0; i < neg.napd && !found; i++) {
		memcpy(&desc, in + sizeof(neg) + i * sizeof(desc), sizeof(desc));
		found = desc.authid == NVMF_AUTH_PROTOCOL_DHCHAP;
	}
	if (!found)
		return FAIL1(e, NVMF_AUTH_FAIL_PROTOCOL_UNUSABLE,
			     "host offers no DH-HMAC-CHAP descriptor");
	if (desc.halen > NVMF_DHCHAP_ID_LIST_LEN || desc.dhlen > NVMF_DHCHAP_ID_LIST_LEN)
		return FAIL1(e, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD,
			     "negotiate lists %u hashes and %u DH groups (30 at most)",
			     desc.halen, desc.dhlen);
	hash = choose(desc.hash_ids, desc.halen, e->pref_hash, e->hash_mask, hash_valid);
	if (hash < 0)
		return FAIL1(e, NVMF_AUTH_FAIL_HASH_UNUSABLE,
			     "host offers no hash this controller allows");
	group = choose(desc.dhgroup_ids, desc.dhlen, e->pref_dhgroup, e->dhgroup_mask,
		       dhgroup_valid);
	if (group < 0)
		return FAIL1(e, NVMF_AUTH_FAIL_DHGROUP_UNUSABLE,
			     "host offers no DH group this controller allows");
	e->hash = (uint8_t)hash;
	e->dhgroup = (uint8_t)group;
	e->hl = hashes[hash].len;
	e->sc_c = neg.sc_c;
	dhlen = dhgroups[group].len;
	need = sizeof(ch) + e->hl + dhlen;
	if (outlen < need)
		return -ENOBUFS;
	e->s1 = new_seqnum(e->cfg_seqnum);
	if (sec_random(e->c1, e->hl) != 0)
		return FAIL1(e, NVMF_AUTH_FAIL_FAILED, "no random bytes");
	if (dhlen) {
		e->dh = dh_generate(e->dhgroup);
		if (!e->dh || dh_public(e->dh, out + sizeof(ch) + e->hl, dhlen) != 0)
			return FAIL1(e, NVMF_AUTH_FAIL_FAILED, "DH key generation failed");
	}
	ch.t_id = e->t_id;
	ch.hl = (uint8_t)e->hl;
	ch.hashid = e->hash;
	ch.dhgid = e->dhgroup;
	ch.dhvlen = (uint16_t)dhlen;
	ch.seqnum = e->s1;
	memcpy(out, &ch, sizeof(ch));
	memcpy(out + sizeof(ch), e->c1, e->hl);
	*outn = need;
	e->state = ST_WAIT_REPLY;
	return NVMF_DHCHAP_CONTINUE;
}

/* Controller: DH-HMAC-CHAP_Reply in, Success1 out. */
static int ctrl_reply(struct nvmf_dhchap *e, const uint8_t *in, size_t inlen,
		      uint8_t *out, size_t outlen, size_t *outn)
{
	struct nvmf_dhchap_reply rep;
	struct nvmf_dhchap_success1 s1 = {
		.auth_type = NVMF_AUTH_TYPE_DHCHAP,
		.auth_id = NVMF_AUTH_ID_SUCCESS1,
	};
	uint8_t expect[NVMF_DHCHAP_HASH_MAX_LEN];
	size_t dhlen = dhgroups[e->dhgroup].len, need;
	bool bidir;
	int diff;

	memcpy(&rep, in, sizeof(rep));
	if (rep.t_id != e->t_id)
		return FAIL1(e, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD,
			     "reply for transaction %u, expected %u", rep.t_id, e->t_id);
	if (rep.hl != e->hl)
		return FAIL1(e, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD,
			     "reply hash length %u, expected %zu", rep.hl, e->hl);
	if (rep.dhvlen != dhlen)
		return FAIL1(e, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD,
			     "reply DH value of %u bytes, %s needs %zu", rep.dhvlen,
			     dhgroups[e->dhgroup].name, dhlen);
	if (sizeof(rep) + 2 * e->hl + dhlen > inlen)
		return FAIL1(e, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD,
			     "reply truncated: %zu bytes, needs %zu", inlen,
			     sizeof(rep) + 2 * e->hl + dhlen);
	if (dhlen) {
		if (dh_shared(e->dh, e->dhgroup, in + sizeof(rep) + 2 * e->hl, dhlen,
			      e->sess_key) != 0)
			return FAIL1(e, NVMF_AUTH_FAIL_DHGROUP_UNUSABLE,
				     "host DH value refused (not a valid %s public key)",
				     dhgroups[e->dhgroup].name);
		e->sess_key_len = dhlen;
	}
	if (compute_response(e, false, expect) != 0)
		return FAIL1(e, NVMF_AUTH_FAIL_FAILED, "HMAC failed");
	diff = CRYPTO_memcmp(expect, in + sizeof(rep), e->hl);
	OPENSSL_cleanse(expect, sizeof(expect));
	if (diff)
		return FAIL1(e, NVMF_AUTH_FAIL_FAILED,
			     "host response mismatch: wrong host key?");
	/* S2 = 0 carries a C2 only for a generated PSK (TP 8018): no
	 * controller authentication then. */
	bidir = (rep.cvalid & NVMF_DHCHAP_CVALID) && rep.seqnum != 0;
	if (bidir && !e->ctrl_key_len)
		return FAIL1(e, NVMF_AUTH_FAIL_FAILED,
			     "host asks the controller to authenticate, but no "
			     "controller key is configured");
	need = sizeof(s1) + (bidir ? e->hl : 0);
	if (outlen < need)
		return -ENOBUFS;
	s1.t_id = e->t_id;
	s1.hl = (uint8_t)e->hl;
	if (bidir) {
		e->s2 = rep.seqnum;
		memcpy(e->c2, in + sizeof(rep) + e->hl, e->hl);
		if (compute_response(e, true, out + sizeof(s1)) != 0)
			return FAIL1(e, NVMF_AUTH_FAIL_FAILED, "HMAC failed");
		s1.rvalid = NVMF_DHCHAP_RVALID;
	}
	memcpy(out, &s1, sizeof(s1));
	*outn = need;
	e->bidirectional = bidir;
	if (bidir) {
		e->state = ST_WAIT_SUCCESS2;
		return NVMF_DHCHAP_CONTINUE;
	}
	e->state = ST_DONE;
	transaction_reset(e);
	return NVMF_DHCHAP_SUCCESS;
}

static int ctrl_step(struct nvmf_dhchap *e, const uint8_t *in, size_t inlen,
		     uint8_t *out, size_t outlen, size_t *outn)
{
	uint8_t type = in[0], id = in[1];

	if (id == NVMF_AUTH_ID_FAILURE2) {
		uint8_t reason = inlen >= sizeof(struct nvmf_auth_failure) ?
				 in[offsetof(struct nvmf_auth_failure, rescode_exp)] : 0;

		return fail(e, reason, 0, out, outlen, outn,
			    "host aborted authentication: %s",
			    nvmf_auth_failure_reason_str(reason));
	}
	if (e->state == ST_FAILED) {
		/* The association is over: repeat the refusal. */
		*outn = nvmf_auth_failure_build(NVMF_AUTH_ID_FAILURE1, e->t_id, e->reason,
						out, outlen);
		return *outn ? NVMF_DHCHAP_FAILED : -ENOBUFS;
	}
	if (type == NVMF_AUTH_TYPE_COMMON && id == NVMF_AUTH_ID_NEGOTIATE &&
	    inlen >= sizeof(struct nvmf_auth_negotiate))
		return ctrl_negotiate(e, in, inlen, out, outlen, outn);
	if (type == NVMF_AUTH_TYPE_DHCHAP && inlen >= sizeof(struct nvmf_dhchap_reply)) {
		if (e->state == ST_WAIT_REPLY && id == NVMF_AUTH_ID_REPLY)
			return ctrl_reply(e, in, inlen, out, outlen, outn);
		if (e->state == ST_WAIT_SUCCESS2 && id == NVMF_AUTH_ID_SUCCESS2) {
			struct nvmf_dhchap_success2 s2;

			memcpy(&s2, in, sizeof(s2));
			if (s2.t_id != e->t_id)
				return FAIL1(e, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD,
					     "success2 for transaction %u, expected %u",
					     s2.t_id, e->t_id);
			e->state = ST_DONE;
			transaction_reset(e);
			e->bidirectional = true;
			*outn = 0;
			return NVMF_DHCHAP_SUCCESS;
		}
	}
	return FAIL1(e, NVMF_AUTH_FAIL_INCORRECT_MESSAGE,
		     "received message %02x/%02x (%zu bytes), expected %s", type, id, inlen,
		     state_expects(e));
}

int nvmf_dhchap_step(struct nvmf_dhchap *e, const uint8_t *in, size_t inlen,
		     uint8_t *out, size_t outlen, size_t *outn)
{
	*outn = 0;
	if (!e || !in || !out)
		return -EINVAL;
	/* Every message starts with AUTH_Type and AUTH_ID and is at least a
	 * failure message long. */
	if (inlen < sizeof(struct nvmf_auth_failure)) {
		if (e->controller)
			return FAIL1(e, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD,
				     "message of %zu bytes", inlen);
		return FAIL2(e, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD, "message of %zu bytes",
			     inlen);
	}
	return e->controller ? ctrl_step(e, in, inlen, out, outlen, outn)
			     : host_step(e, in, inlen, out, outlen, outn);
}
