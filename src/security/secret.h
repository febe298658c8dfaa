/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the DH-HMAC-CHAP and TLS modules: the key interchange
 * text format both use ("<prefix>:<hh>:<base64(key || CRC-32)>:"), hex and
 * base64 codecs (OpenSSL's), HMAC through EVP_MAC, and error strings.
 */
#ifndef NVMF_SECURITY_SECRET_H
#define NVMF_SECURITY_SECRET_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* printf into err (if not NULL); always returns -1 for "return fail(...)". */
int sec_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A result of the kind above (-1 and a message) in the public convention
 * (nvmf/nvmf.h): -EINVAL with err (may be NULL) saying why; others as is. */
struct nvmf_error;
int sec_public_result(int ret, const char *msg, struct nvmf_error *err);

/* Base64 (RFC 4648, with padding).  encode: string length (out needs
 * 4 * ceil(len / 3) + 1 bytes), -1 if out is too small.  decode (keys only,
 * at most 96 bytes): strict alphabet and padding; bytes written, -1 on bad
 * input or small out. */
int sec_b64_encode(const uint8_t *in, size_t len, char *out, size_t outlen);
int sec_b64_decode(const char *in, size_t len, uint8_t *out, size_t outlen);

/* Hexadecimal string (even length, no prefix) to bytes; bytes or -1. */
int sec_hex_decode(const char *hex, uint8_t *out, size_t outlen);

/* CRC-32/ISO-HDLC (zlib's crc32), as the interchange formats use. */
uint32_t sec_crc32(const uint8_t *buf, size_t len);

/*
 * Parse "<prefix>:<hh>:<base64(key || CRC-32(key) LE)>:" (the final ':' may
 * be missing; trailing white space is ignored).  hh is two hex digits.  The
 * key (without its CRC) goes to key (up to keymax bytes) and its length to
 * *keylen; the CRC is checked.  0, or -1 with a message in err.
 */
int sec_interchange_parse(const char *prefix, const char *text, uint8_t *hh,
			  uint8_t *key, size_t keymax, size_t *keylen,
			  char *err, size_t errlen);
/* Format the same; string length or -1 when out is too small. */
int sec_interchange_format(const char *prefix, uint8_t hh, const uint8_t *key,
			   size_t keylen, char *out, size_t outlen);

/* OpenSSL digest name for SHA-256/384/512 by output length (32/48/64). */
const char *sec_sha_name(size_t len);

/* HMAC over the concatenation of nparts buffers; out gets the digest's
 * length.  0 or -1. */
struct sec_buf {
	const void *p;
	size_t len;
};
int sec_hmac(const char *digest, const uint8_t *key, size_t keylen,
	     const struct sec_buf *parts, int nparts, uint8_t *out);

/* Plain digest; 0 or -1. */
int sec_digest(const char *digest, const uint8_t *in, size_t len, uint8_t *out);

/* Random bytes from OpenSSL's DRBG; 0 or -1. */
int sec_random(uint8_t *out, size_t len);

/* One line describing the first error on OpenSSL's error queue (which is
 * then cleared), or "unknown error". */
const char *sec_ssl_error(char *buf, size_t len);

#endif
