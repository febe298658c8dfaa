/* SPDX-License-Identifier: MIT */
/*
 * NVMe in-band authentication: DH-HMAC-CHAP (TP 8006, NVM Express Base
 * Specification 2.0 §8.13), the part a user of libnvmf configures: hash
 * and group identifiers and their names, and DHHC-1 secrets, the text form
 * `nvme gen-dhchap-key` prints:
 *   "DHHC-1:<hh>:<base64(key || CRC-32(key), little-endian)>:".
 * The protocol itself runs inside the library (nvmf_host_opts.dhchap_secret,
 * struct nvmf_host_conf).  Secrets come from OpenSSL 3's RAND_bytes and are
 * cleansed by the library when freed.
 */
#ifndef NVMF_AUTH_H
#define NVMF_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nvmf/error.h"
#include "nvmf/spec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Identifiers (Base 2.0 §8.13.5)                                      */
/* ------------------------------------------------------------------ */

/* Hash functions (HashID).  Also the <hh> of a DHHC-1 secret, where 0 means
 * "the key is used as is". */
enum nvmf_dhchap_hash {
	NVMF_DHCHAP_HASH_NONE = 0x00,   /* DHHC-1 <hh> only: no transform */
	NVMF_DHCHAP_HASH_SHA256 = 0x01,
	NVMF_DHCHAP_HASH_SHA384 = 0x02,
	NVMF_DHCHAP_HASH_SHA512 = 0x03,
};

/* Diffie-Hellman groups (DHGroupID); the ffdhe groups are RFC 7919's. */
enum nvmf_dhchap_dhgroup {
	NVMF_DHCHAP_DHGROUP_NULL = 0x00,
	NVMF_DHCHAP_DHGROUP_FFDHE2048 = 0x01,
	NVMF_DHCHAP_DHGROUP_FFDHE3072 = 0x02,
	NVMF_DHCHAP_DHGROUP_FFDHE4096 = 0x03,
	NVMF_DHCHAP_DHGROUP_FFDHE6144 = 0x04,
	NVMF_DHCHAP_DHGROUP_FFDHE8192 = 0x05,
};

#define NVMF_DHCHAP_HASH_MAX_LEN 64      /* SHA-512 */
#define NVMF_DHCHAP_DH_MAX_LEN 1024      /* ffdhe8192 public value, bytes */

/* Names as Linux prints and nvmetcli stores them: "sha256" ... and "null",
 * "ffdhe2048" ...  Unknown ids give NULL. */
const char *nvmf_dhchap_hash_name(uint8_t hash);
const char *nvmf_dhchap_dhgroup_name(uint8_t dhgroup);
/* Parse a name: "sha256", "hmac(sha256)" (the Linux target's dhchap_hash),
 * "SHA-256" ...; "null", "ffdhe2048" ...  -EINVAL when unknown. */
int nvmf_dhchap_hash_from_name(const char *name);
int nvmf_dhchap_dhgroup_from_name(const char *name);
/* Digest length of a hash (32, 48, 64), 0 for an unknown one. */
size_t nvmf_dhchap_hash_len(uint8_t hash);
/* Size of a group's public value and shared secret (256 ... 1024), 0 for
 * the null group and unknown ones. */
size_t nvmf_dhchap_dhgroup_len(uint8_t dhgroup);

/* ------------------------------------------------------------------ */
/* DHHC-1 secrets                                                      */
/* ------------------------------------------------------------------ */

#define NVMF_DHCHAP_KEY_MAX 64
/* Longest secret string: "DHHC-1:00:" + base64 of 68 bytes + ":" + NUL. */
#define NVMF_DHCHAP_SECRET_MAX 104

/* Holds a secret: cleanse it (OPENSSL_cleanse, explicit_bzero) when done. */
struct nvmf_dhchap_key {
	uint8_t hmac;                      /* <hh>: enum nvmf_dhchap_hash */
	uint8_t len;                       /* 32, 48 or 64 */
	uint8_t key[NVMF_DHCHAP_KEY_MAX];
};

/*
 * Parse a DHHC-1 secret.  Checks the prefix, <hh> (00..03), the base64, the
 * key length (32/48/64; with <hh> 01/02/03 exactly 32/48/64, as nvme-cli
 * writes them and the Linux kernel requires) and the CRC.  Trailing white
 * space is ignored.  0, or -EINVAL with err (may be NULL) saying why.
 */
int nvmf_dhchap_key_parse(const char *secret, struct nvmf_dhchap_key *key,
			  struct nvmf_error *err);
/* Format a key as a DHHC-1 secret.  Length of the string, or -EINVAL if out
 * is too small (NVMF_DHCHAP_SECRET_MAX is always enough) or the key invalid. */
int nvmf_dhchap_key_format(const struct nvmf_dhchap_key *key, char *out, size_t outlen);

/*
 * What `nvme gen-dhchap-key` does: key = the secret (secret_hex, hexadecimal,
 * or key_len random bytes when NULL); with hmac 1/2/3 the key becomes
 * HMAC-SHA-256/384/512(key, nqn || "NVMe-over-Fabrics") and nqn is required.
 * key_len 0 means 32/48/64 for hmac 1/2/3 and, with hmac 0, the secret's
 * length (32 for a random one).  Writes the DHHC-1 string to out.
 * Length of the string, or -EINVAL with err (may be NULL) saying why.
 */
int nvmf_dhchap_key_generate(int hmac, const char *nqn, const char *secret_hex,
			     size_t key_len, char *out, size_t outlen,
			     struct nvmf_error *err);

#ifdef __cplusplus
}
#endif

#endif /* NVMF_AUTH_H */
