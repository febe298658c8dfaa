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
 * Sessions: a TLS 1.3 session on a connected TCP socket, either role, PSK
 * only (no certificates), ciphers TLS_AES_128_GCM_SHA256 and
 * TLS_AES_256_GCM_SHA384.  The handshake runs before ICReq.  Then the
 * transport moves its bytes with nvmf_tls_recvv/nvmf_tls_sendv instead of
 * recvmsg/sendmsg.  Where the kernel offers kTLS, OpenSSL hands the record
 * layer to it and these become plain recvmsg/sendmsg on the socket; where
 * it does not (no "tls" TCP ULP), records are built in user space.
 *
 * Crypto and TLS come from OpenSSL 3.
 */
#ifndef NVMF_TLS_H
#define NVMF_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Keys and derivations                                                */
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
 * 32, 02 needs 48), CRC checked; trailing white space ignored.  0, or -1
 * with a message in err. */
int nvmf_tls_key_parse(const char *text, struct nvmf_tls_key *key, char *err, size_t errlen);
/* The interchange string; its length or -1 (NVMF_TLS_KEY_STRING_MAX fits). */
int nvmf_tls_key_format(const struct nvmf_tls_key *key, char *out, size_t outlen);
/* What `nvme gen-tls-key --hmac=H [--secret=HEX]` prints: a configured PSK of
 * 32 (hmac 1) or 48 (hmac 2) bytes, random unless secret_hex is given.
 * hmac 0 writes <hh> 00 with a 32-byte key, or the secret's length.
 * Length of the string, or -1 with a message in err. */
int nvmf_tls_key_generate(int hmac, const char *secret_hex, char *out, size_t outlen,
			  char *err, size_t errlen);

/* The identity hash of a key: <hh> when non-zero, else by length. */
uint8_t nvmf_tls_key_hash(const struct nvmf_tls_key *key);

/* Retained PSK for a host (the configured PSK itself for <hh> 00).  Its
 * length (32/48), or -1. */
int nvmf_tls_retained_psk(const struct nvmf_tls_key *key, const char *hostnqn,
			  enum nvmf_tls_kdf kdf, uint8_t out[NVMF_TLS_PSK_MAX]);
/* The TP 8018 PSK digest (base64, NUL-terminated) of a retained PSK. */
int nvmf_tls_psk_digest(uint8_t hash, const uint8_t *retained, size_t len,
			const char *hostnqn, const char *subnqn,
			char out[NVMF_TLS_DIGEST_MAX]);
/* The TLS PSK from a retained PSK and the HKDF context (see above). */
int nvmf_tls_derive_psk(uint8_t hash, const uint8_t *retained, size_t len,
			const char *context, enum nvmf_tls_kdf kdf,
			uint8_t out[NVMF_TLS_PSK_MAX]);

/* Everything a host offers: identity, its hash and the TLS PSK. */
struct nvmf_tls_psk {
	char identity[NVMF_TLS_IDENTITY_MAX];
	uint8_t hash;                    /* 1 SHA-256, 2 SHA-384 */
	uint8_t len;
	uint8_t psk[NVMF_TLS_PSK_MAX];
};
/* From a configured key: identity version 0 or 1.  0, or -1 with err. */
int nvmf_tls_psk_for(const struct nvmf_tls_key *key, int version, const char *hostnqn,
		     const char *subnqn, enum nvmf_tls_kdf kdf, struct nvmf_tls_psk *out,
		     char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* Sessions                                                            */
/* ------------------------------------------------------------------ */

struct nvmf_tls_session;

#define NVMF_TLS_HANDSHAKE_TIMEOUT_MS 10000   /* Linux tls_handshake_timeout */

struct nvmf_tls_client_params {
	const char *hostnqn;
	const char *subnqn;
	const struct nvmf_tls_key *key;  /* the configured (interchange) PSK */
	int identity_version;            /* 0: NVMe0R.. (default), 1: NVMe1R.. */
	enum nvmf_tls_kdf kdf;
	int timeout_ms;                  /* 0: NVMF_TLS_HANDSHAKE_TIMEOUT_MS */
	bool disable_ktls;               /* stay in user space even if kTLS works */
};

/* The controller's key store: the configured PSK of hostnqn for subnqn.
 * 0 with *key filled, or -1 when that host may not connect. */
typedef int nvmf_tls_key_lookup(void *arg, const char *hostnqn, const char *subnqn,
				struct nvmf_tls_key *key);

struct nvmf_tls_server_params {
	nvmf_tls_key_lookup *lookup;
	void *lookup_arg;
	enum nvmf_tls_kdf kdf;
	int timeout_ms;                  /* 0: NVMF_TLS_HANDSHAKE_TIMEOUT_MS */
	bool disable_ktls;
};

/*
 * Run the handshake on a connected TCP socket, blocking up to the timeout.
 * The session does not own fd (the caller closes it after
 * nvmf_tls_session_free), but puts it in non-blocking mode for the
 * session's life; use fd only to poll(2) for readiness.
 *
 * The server peeks at the first byte first: a plaintext NVMe/TCP ICReq is
 * refused with EPROTO and a message saying so.  It then finds the key from
 * the identity the client sends (both versions), checks a version 1
 * identity's digest, and picks the cipher suite the identity's hash asks
 * for.
 *
 * NULL on failure, with errno (ETIMEDOUT, ECONNRESET, EACCES for a key or
 * identity refused, EPROTO, ENOMEM, EINVAL) and a sentence in err.
 */
struct nvmf_tls_session *nvmf_tls_client_handshake(int fd, const struct nvmf_tls_client_params *p,
						   char *err, size_t errlen);
struct nvmf_tls_session *nvmf_tls_server_handshake(int fd, const struct nvmf_tls_server_params *p,
						   char *err, size_t errlen);

/*
 * Data, like recvmsg/sendmsg on the socket.  One receiving and one sending
 * thread may use a session at once.
 *
 * recvv fills the iovecs with what has arrived (partial results allowed);
 * block: wait until at least one byte or EOF.  Returns the byte count, 0 on
 * a clean end (close_notify, or the peer closing TCP at a record boundary:
 * NVMe/TCP PDUs are self-delimiting, so the transport judges truncation),
 * or -1 with errno: EAGAIN (non-blocking, nothing there), ECONNRESET, EPIPE,
 * EBADMSG (a record failed authentication), EPROTO.
 *
 * sendv encrypts the iovecs, coalescing them into full 16 KiB records, and
 * returns how many bytes were sent; block: all of them.  Non-blocking, it
 * stops when the socket is full: a short count, or -1 with EAGAIN when
 * nothing went.  A record already encrypted but not yet written is kept:
 * the next sendv must start with the bytes that were not counted as sent
 * (what a transport retrying its batch does naturally); other bytes get
 * -1/EINVAL.  Wait for POLLOUT on the socket before retrying.
 */
ssize_t nvmf_tls_recvv(struct nvmf_tls_session *s, const struct iovec *iov, int iovcnt,
		       bool block);
ssize_t nvmf_tls_sendv(struct nvmf_tls_session *s, const struct iovec *iov, int iovcnt,
		       bool block);
/* Decrypted bytes already buffered in the session: poll(2) will not report
 * them, so read before sleeping when this is non-zero. */
size_t nvmf_tls_pending(struct nvmf_tls_session *s);

/* Sends close_notify if it can without blocking, restores the socket's
 * flags, cleanses every key.  Does not close the socket. */
void nvmf_tls_session_free(struct nvmf_tls_session *s);

/* What was negotiated, for logs and tests. */
const char *nvmf_tls_cipher(const struct nvmf_tls_session *s);   /* "TLS_AES_128_GCM_SHA256" */
const char *nvmf_tls_identity(const struct nvmf_tls_session *s); /* the PSK identity */
/* The NQNs in the identity: a controller must check that the Connect
 * command's host and subsystem NQNs are these. */
const char *nvmf_tls_hostnqn(const struct nvmf_tls_session *s);
const char *nvmf_tls_subnqn(const struct nvmf_tls_session *s);
/* Whether the kernel carries the records in each direction. */
bool nvmf_tls_ktls_tx(const struct nvmf_tls_session *s);
bool nvmf_tls_ktls_rx(const struct nvmf_tls_session *s);

#ifdef __cplusplus
}
#endif

#endif /* NVMF_TLS_H */
