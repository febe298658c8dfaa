/* SPDX-License-Identifier: MIT */
#include "security/secret.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <zlib.h>

#include "nvmf/error.h"

#define INTERCHANGE_KEY_MAX 64
#define INTERCHANGE_CRC_LEN 4

int sec_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int sec_public_result(int ret, const char *msg, struct nvmf_error *err)
{
	if (ret >= 0)
		return ret;
	if (err != NULL) {
		*err = (struct nvmf_error){.errnum = EINVAL};
		snprintf(err->msg, sizeof(err->msg), "%s", msg);
	}
	return -EINVAL;
}

int sec_b64_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	size_t need = 4 * ((len + 2) / 3) + 1;

	if (outlen < need || len > INT32_MAX / 2)
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

static bool b64_char(char c)
{
	return isalnum((unsigned char)c) || c == '+' || c == '/';
}

int sec_b64_decode(const char *in, size_t len, uint8_t *out, size_t outlen)
{
	size_t pad = 0, i;
	uint8_t tmp[3 * 32];
	int n;

	/* EVP_DecodeBlock skips white space and miscounts padding: check the
	 * text here so only canonical base64 gets through. */
	if (len == 0 || len % 4 != 0 || len / 4 * 3 > sizeof(tmp))
		return -1;
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len - pad; i++)
		if (!b64_char(in[i]))
			return -1;
	if (len / 4 * 3 - pad > outlen)
		return -1;
	n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)len);
	if (n < 0 || (size_t)n != len / 4 * 3) {
		OPENSSL_cleanse(tmp, sizeof(tmp));
		return -1;
	}
	n -= (int)pad;
	memcpy(out, tmp, (size_t)n);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return n;
}

int sec_hex_decode(const char *hex, uint8_t *out, size_t outlen)
{
	size_t len = strlen(hex), i;

	if (len == 0 || len % 2 != 0 || len / 2 > outlen)
		return -1;
	for (i = 0; i < len; i += 2) {
		unsigned v;

		if (!isxdigit((unsigned char)hex[i]) || !isxdigit((unsigned char)hex[i + 1]) ||
		    sscanf(hex + i, "%2x", &v) != 1)
			return -1;
		out[i / 2] = (uint8_t)v;
	}
	return (int)(len / 2);
}

uint32_t sec_crc32(const uint8_t *buf, size_t len)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)len);
}

int sec_interchange_parse(const char *prefix, const char *text, uint8_t *hh,
			  uint8_t *key, size_t keymax, size_t *keylen,
			  char *err, size_t errlen)
{
	uint8_t raw[INTERCHANGE_KEY_MAX + INTERCHANGE_CRC_LEN];
	size_t plen = strlen(prefix), len;
	const char *b64;
	uint32_t crc, want;
	unsigned v;
	int n;

	if (!text)
		return sec_fail(err, errlen, "no key given");
	len = strlen(text);
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	if (len < plen + 4 || strncmp(text, prefix, plen) != 0 || text[plen] != ':')
		return sec_fail(err, errlen, "not a %s key: it must start with \"%s:\"",
				prefix, prefix);
	if (!isxdigit((unsigned char)text[plen + 1]) ||
	    !isxdigit((unsigned char)text[plen + 2]) || text[plen + 3] != ':' ||
	    sscanf(text + plen + 1, "%2x", &v) != 1)
		return sec_fail(err, errlen, "%s key: bad hash indicator after \"%s:\"",
				prefix, prefix);
	*hh = (uint8_t)v;
	b64 = text + plen + 4;
	len -= plen + 4;
	if (len > 0 && b64[len - 1] == ':')
		len--;
	if (memchr(b64, ':', len))
		return sec_fail(err, errlen, "%s key: stray ':' in the key data", prefix);
	n = sec_b64_decode(b64, len, raw, sizeof(raw));
	if (n < 0)
		return sec_fail(err, errlen, "%s key: the key data is not valid base64 "
				"of at most %d bytes", prefix, INTERCHANGE_KEY_MAX + 4);
	if (n <= INTERCHANGE_CRC_LEN || (size_t)n - INTERCHANGE_CRC_LEN > keymax) {
		OPENSSL_cleanse(raw, sizeof(raw));
		return sec_fail(err, errlen, "%s key: bad key length (%d bytes with CRC)",
				prefix, n);
	}
	len = (size_t)n - INTERCHANGE_CRC_LEN;
	want = sec_crc32(raw, len);
	crc = (uint32_t)raw[len] | (uint32_t)raw[len + 1] << 8 |
	      (uint32_t)raw[len + 2] << 16 | (uint32_t)raw[len + 3] << 24;
	if (crc != want) {
		OPENSSL_cleanse(raw, sizeof(raw));
		return sec_fail(err, errlen, "%s key: CRC mismatch (key says %08x, "
				"computed %08x): the key was mistyped or truncated",
				prefix, crc, want);
	}
	memcpy(key, raw, len);
	*keylen = len;
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

int sec_interchange_format(const char *prefix, uint8_t hh, const uint8_t *key,
			   size_t keylen, char *out, size_t outlen)
{
	uint8_t raw[INTERCHANGE_KEY_MAX + INTERCHANGE_CRC_LEN];
	char b64[4 * ((sizeof(raw) + 2) / 3) + 1];
	uint32_t crc;
	int n;

	if (keylen == 0 || keylen > INTERCHANGE_KEY_MAX)
		return -1;
	memcpy(raw, key, keylen);
	crc = sec_crc32(key, keylen);
	raw[keylen] = (uint8_t)crc;
	raw[keylen + 1] = (uint8_t)(crc >> 8);
	raw[keylen + 2] = (uint8_t)(crc >> 16);
	raw[keylen + 3] = (uint8_t)(crc >> 24);
	n = sec_b64_encode(raw, keylen + INTERCHANGE_CRC_LEN, b64, sizeof(b64));
	OPENSSL_cleanse(raw, sizeof(raw));
	if (n < 0)
		return -1;
	n = snprintf(out, outlen, "%s:%02x:%s:", prefix, hh, b64);
	OPENSSL_cleanse(b64, sizeof(b64));
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			OPENSSL_cleanse(out, outlen);
		return -1;
	}
	return n;
}

const char *sec_sha_name(size_t len)
{
	switch (len) {
	case 32:
		return OSSL_DIGEST_NAME_SHA2_256;
	case 48:
		return OSSL_DIGEST_NAME_SHA2_384;
	case 64:
		return OSSL_DIGEST_NAME_SHA2_512;
	default:
		return NULL;
	}
}

int sec_hmac(const char *digest, const uint8_t *key, size_t keylen,
	     const struct sec_buf *parts, int nparts, uint8_t *out)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	size_t outl = 0;
	int ret = -1, i;

	if (!ctx || !EVP_MAC_init(ctx, key, keylen, params))
		goto out;
	for (i = 0; i < nparts; i++)
		if (parts[i].len > 0 && !EVP_MAC_update(ctx, parts[i].p, parts[i].len))
			goto out;
	if (EVP_MAC_final(ctx, out, &outl, EVP_MAX_MD_SIZE))
		ret = 0;
out:
	EVP_MAC_CTX_free(ctx); /* cleanses the keyed state */
	EVP_MAC_free(mac);
	return ret;
}

int sec_digest(const char *digest, const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_MD *md = EVP_MD_fetch(NULL, digest, NULL);
	int ok = md && EVP_Digest(in, len, out, NULL, md, NULL);

	EVP_MD_free(md);
	return ok ? 0 : -1;
}

int sec_random(uint8_t *out, size_t len)
{
	return len <= INT32_MAX && RAND_bytes(out, (int)len) == 1 ? 0 : -1;
}

const char *sec_ssl_error(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}
