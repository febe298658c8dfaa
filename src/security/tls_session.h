/* SPDX-License-Identifier: MIT */
/*
 * TLS 1.3 inside libnvmf (not installed): the PSK derivations of TP 8011 and
 * TP 8018 (see nvmf/tls.h for the key formats and the derivation chain) and
 * the sessions.
 *
 * Sessions: a TLS 1.3 session on a connected TCP socket, either role, PSK
 * only (no certificates), ciphers TLS_AES_128_GCM_SHA256 and
 * TLS_AES_256_GCM_SHA384.  The handshake runs before ICReq.  Then the
 * transport moves its bytes with nvmf_tls_recvv/nvmf_tls_sendv instead of
 * recvmsg/sendmsg.  Where the kernel offers kTLS, OpenSSL hands the record
 * layer to it and these become plain recvmsg/sendmsg on the socket; where
 * it does not (no "tls" TCP ULP), records are built in user space.
 */
#ifndef NVMF_SECURITY_TLS_SESSION_H
#define NVMF_SECURITY_TLS_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "nvmf/tls.h"

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

#endif /* NVMF_SECURITY_TLS_SESSION_H */
