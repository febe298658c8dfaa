/* SPDX-License-Identifier: MIT */
/*
 * TLS 1.3 with pre-shared keys for NVMe/TCP (TP 8011, NVMe/TCP Transport
 * Specification 1.1 §3.6; TP 8018 for the version 1 identity).
 *
 * Keys:
 *   - the PSK interchange format `nvme gen-tls-key` prints,
 *     "NVMeTLSkey-1:<hh>:<base64(PSK || CRC-32(PSK), little-endian)>:",
 *     where <hh> 00 means "use the configured PSK as the retained PSK" and
 *     01/02 "derive the retained PSK with SHA-256/384" (32/48-byte PSKs);
 *   - retained PSK = HKDF-Expand-Label(HKDF-Extract(0, configured PSK),
 *     "HostNQN", NQNh, L);
 *   - PSK identity "NVMe0R<hh> <NQNh> <NQNc>", or (TP 8018) "NVMe1R<hh>
 *     <NQNh> <NQNc> <PSK digest>" with digest = Base64(HMAC(retained PSK,
 *     NQNh || " " || NQNc || " " || "NVMe-over-Fabrics"));
 *   - TLS PSK = HKDF-Expand-Label(HKDF-Extract(0, retained PSK),
 *     "nvme-tls-psk", context, L), context = the identity (version 0) or
 *     "<hh> <PSK digest>" (version 1).
 * <hh> in an identity names the hash of the TLS cipher suite: 01 SHA-256
 * (TLS_AES_128_GCM_SHA256), 02 SHA-384 (TLS_AES_256_GCM_SHA384).
 *
 * HKDF-Expand-Label exists in two encodings in the field (libnvme#1040):
 * the RFC 8446 one that SPDK, the Linux kernel and libnvme after 2025 use
 * (NVMF_TLS_KDF_RFC8446), and the one libnvme/nvme-cli used before, which
 * leaves out the length bytes of the label and context and writes the
 * output length little-endian (NVMF_TLS_KDF_LIBNVME_COMPAT): keys inserted
 * into the kernel keyring by those nvme-cli versions need it.
 *
 * The sessions themselves run inside the library (nvmf_host_opts.tls_key,
 * struct nvmf_host_conf).
 *
 * Crypto and TLS come from OpenSSL 3.
 */
#ifndef NVMF_TLS_H
#define NVMF_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvmf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Keys                                                                */
/* ------------------------------------------------------------------ */

enum nvmf_tls_hash {
	NVMF_TLS_HASH_NONE = 0,    /* interchange <hh> only: no retained-PSK derivation */
	NVMF_TLS_HASH_SHA256 = 1,
	NVMF_TLS_HASH_SHA384 = 2,
};

enum nvmf_tls_kdf {
	NVMF_TLS_KDF_RFC8446 = 0,        /* SPDK, Linux kernel, libnvme >= 2025 */
	NVMF_TLS_KDF_LIBNVME_COMPAT = 1, /* nvme-cli/libnvme before libnvme#1040 */
};

#define NVMF_TLS_PSK_MAX 48
/* "NVMeTLSkey-1:02:" + base64 of 52 bytes + ":" + NUL */
#define NVMF_TLS_KEY_STRING_MAX 96
/* "NVMe1R02 " + 223 + " " + 223 + " " + 64-character digest + NUL */
#define NVMF_TLS_IDENTITY_MAX 528
#define NVMF_TLS_DIGEST_MAX 65           /* base64 of 48 bytes + NUL */

/* A configured PSK as the interchange format carries it.  Like struct
 * nvmf_tls_psk below it holds a secret: cleanse it when done. */
struct nvmf_tls_key {
	uint8_t hmac;                    /* <hh>: enum nvmf_tls_hash */
	uint8_t len;                     /* 32 or 48 */
	uint8_t key[NVMF_TLS_PSK_MAX];
};

/* Parse "NVMeTLSkey-1:<hh>:<base64>:": <hh> 00..02, 32 or 48 bytes (01 needs
 * 32, 02 needs 48), CRC checked; trailing white space ignored.  0, or
 * -EINVAL with err (may be NULL) saying why. */
int nvmf_tls_key_parse(const char *text, struct nvmf_tls_key *key, struct nvmf_error *err);
/* The interchange string; its length or -EINVAL (NVMF_TLS_KEY_STRING_MAX fits). */
int nvmf_tls_key_format(const struct nvmf_tls_key *key, char *out, size_t outlen);
/* What `nvme gen-tls-key --hmac=H [--secret=HEX]` prints: a configured PSK of
 * 32 (hmac 1) or 48 (hmac 2) bytes, random unless secret_hex is given.
 * hmac 0 writes <hh> 00 with a 32-byte key, or the secret's length.
 * Length of the string, or -EINVAL with err (may be NULL) saying why. */
int nvmf_tls_key_generate(int hmac, const char *secret_hex, char *out, size_t outlen,
			  struct nvmf_error *err);

#ifdef __cplusplus
}
#endif

#endif /* NVMF_TLS_H */
