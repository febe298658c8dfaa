/* SPDX-License-Identifier: MIT */
/*
 * DH-HMAC-CHAP inside libnvmf (not installed): the authentication messages
 * carried by Authentication Send (host to controller: AUTH_Negotiate,
 * _Reply, _Success2, _Failure2) and Authentication Receive (controller to
 * host: _Challenge, _Success1, _Failure1), SECP E9h, SPSP0 = SPSP1 = 01h
 * (struct nvmf_auth_cmd in nvmf/spec.h), and a transport-free protocol
 * engine for either role: it consumes a received message and produces the
 * next one to send, computing challenges and responses as the
 * specification and the Linux kernel (drivers/nvme/common/auth.c,
 * host/auth.c, target/auth.c) do.  Identifiers and DHHC-1 secrets are
 * public: nvmf/auth.h.
 *
 * Crypto comes from OpenSSL 3 (EVP_MAC HMAC, EVP_Digest, EVP_PKEY DH with the
 * RFC 7919 groups, RAND_bytes).  Every multi-byte wire field is
 * little-endian (this library builds only for little-endian hosts, see
 * nvmf/spec.h).
 */
#ifndef NVMF_SECURITY_DHCHAP_H
#define NVMF_SECURITY_DHCHAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nvmf/auth.h"
#include "nvmf/spec.h"

/*
 * The key a response is computed with, as the Linux kernel derives it at
 * connect time (nvme_auth_transform_key): <hh> 0 uses the key as is; <hh>
 * 1/2/3 gives HMAC-SHA-256/384/512(key, nqn || "NVMe-over-Fabrics").  The
 * host key is transformed with the host NQN, the controller key with the
 * subsystem NQN.  Length of out (32..64), or -1.
 */
int nvmf_dhchap_key_transform(const struct nvmf_dhchap_key *key, const char *nqn,
			      uint8_t out[NVMF_DHCHAP_KEY_MAX]);

/* ------------------------------------------------------------------ */
/* Wire messages (Base 2.0 §8.13.5)                                    */
/* ------------------------------------------------------------------ */

/* AUTH_Type */
#define NVMF_AUTH_TYPE_COMMON 0x00   /* AUTH_Negotiate, AUTH_Failure1/2 */
#define NVMF_AUTH_TYPE_DHCHAP 0x01   /* DH-HMAC-CHAP_* */

/* AUTH_ID */
enum nvmf_auth_id {
	NVMF_AUTH_ID_NEGOTIATE = 0x00,
	NVMF_AUTH_ID_CHALLENGE = 0x01,
	NVMF_AUTH_ID_REPLY = 0x02,
	NVMF_AUTH_ID_SUCCESS1 = 0x03,
	NVMF_AUTH_ID_SUCCESS2 = 0x04,
	NVMF_AUTH_ID_FAILURE2 = 0xf0,
	NVMF_AUTH_ID_FAILURE1 = 0xf1,
};

/* Authentication protocol identifier in a negotiate descriptor. */
#define NVMF_AUTH_PROTOCOL_DHCHAP 0x01

/* SC_C: secure channel concatenation (TP 8018). */
enum nvmf_auth_scc {
	NVMF_AUTH_SCC_NONE = 0x00,
	NVMF_AUTH_SCC_NEWTLSPSK = 0x01,
	NVMF_AUTH_SCC_REPLACETLSPSK = 0x02,
};

/* AUTH_Failure reason code and its explanations. */
#define NVMF_AUTH_RC_FAILURE 0x01
enum nvmf_auth_failure_reason {
	NVMF_AUTH_FAIL_FAILED = 0x01,            /* authentication failed */
	NVMF_AUTH_FAIL_PROTOCOL_UNUSABLE = 0x02, /* no usable protocol */
	NVMF_AUTH_FAIL_CONCAT_MISMATCH = 0x03,   /* secure channel concatenation */
	NVMF_AUTH_FAIL_HASH_UNUSABLE = 0x04,
	NVMF_AUTH_FAIL_DHGROUP_UNUSABLE = 0x05,
	NVMF_AUTH_FAIL_INCORRECT_PAYLOAD = 0x06,
	NVMF_AUTH_FAIL_INCORRECT_MESSAGE = 0x07, /* unexpected message */
};
const char *nvmf_auth_failure_reason_str(uint8_t reason);

#define NVMF_DHCHAP_ID_LIST_LEN 30

/* DH-HMAC-CHAP protocol descriptor of AUTH_Negotiate: 64 bytes. */
struct NVMF_PACKED nvmf_auth_dhchap_desc {
	uint8_t authid;        /* 01h: DH-HMAC-CHAP */
	uint8_t rsvd1;
	uint8_t halen;         /* hash ids used in hash_ids, <= 30 */
	uint8_t dhlen;         /* group ids used in dhgroup_ids, <= 30 */
	uint8_t hash_ids[NVMF_DHCHAP_ID_LIST_LEN];    /* HashIDList */
	uint8_t dhgroup_ids[NVMF_DHCHAP_ID_LIST_LEN]; /* DHGIDList */
};

/* AUTH_Negotiate (host to controller): 8 bytes, then NAPD descriptors. */
struct NVMF_PACKED nvmf_auth_negotiate {
	uint8_t auth_type;     /* 00h: common */
	uint8_t auth_id;       /* 00h */
	uint8_t rsvd2[2];
	uint16_t t_id;         /* transaction identifier, echoed by every message */
	uint8_t sc_c;          /* secure channel concatenation, enum nvmf_auth_scc */
	uint8_t napd;          /* number of protocol descriptors, >= 1 */
	struct nvmf_auth_dhchap_desc desc[];
};

/* DH-HMAC-CHAP_Challenge (controller to host): 16 bytes, then the challenge
 * C1 (hl bytes) and the controller's DH public value (dhvlen bytes). */
struct NVMF_PACKED nvmf_dhchap_challenge {
	uint8_t auth_type;     /* 01h: DH-HMAC-CHAP */
	uint8_t auth_id;       /* 01h */
	uint8_t rsvd2[2];
	uint16_t t_id;
	uint8_t hl;            /* hash length of hashid */
	uint8_t rsvd7;
	uint8_t hashid;        /* chosen hash */
	uint8_t dhgid;         /* chosen DH group */
	uint16_t dhvlen;       /* 0 for the null group, else the group size */
	uint32_t seqnum;       /* S1 */
	uint8_t cval[];
};

/* DH-HMAC-CHAP_Reply (host to controller): 16 bytes, then the response R1
 * (hl), the challenge C2 (hl, meaningful when cvalid) and the host's DH
 * public value (dhvlen). */
struct NVMF_PACKED nvmf_dhchap_reply {
	uint8_t auth_type;     /* 01h */
	uint8_t auth_id;       /* 02h */
	uint8_t rsvd2[2];
	uint16_t t_id;
	uint8_t hl;
	uint8_t rsvd7;
	uint8_t cvalid;        /* bit 0: C2 valid, the host authenticates the controller */
	uint8_t rsvd9;
	uint16_t dhvlen;
	uint32_t seqnum;       /* S2; 0 when the controller is not authenticated */
	uint8_t rval[];
};

/* DH-HMAC-CHAP_Success1 (controller to host): 16 bytes, then the
 * controller's response R2 (hl bytes) when rvalid. */
struct NVMF_PACKED nvmf_dhchap_success1 {
	uint8_t auth_type;     /* 01h */
	uint8_t auth_id;       /* 03h */
	uint8_t rsvd2[2];
	uint16_t t_id;
	uint8_t hl;
	uint8_t rsvd7;
	uint8_t rvalid;        /* bit 0: R2 present */
	uint8_t rsvd9[7];
	uint8_t rval[];
};

/* DH-HMAC-CHAP_Success2 (host to controller, bidirectional only): 16 bytes. */
struct NVMF_PACKED nvmf_dhchap_success2 {
	uint8_t auth_type;     /* 01h */
	uint8_t auth_id;       /* 04h */
	uint8_t rsvd2[2];
	uint16_t t_id;
	uint8_t rsvd6[10];
};

/* AUTH_Failure1 (controller to host) and AUTH_Failure2 (host to
 * controller): 8 bytes. */
struct NVMF_PACKED nvmf_auth_failure {
	uint8_t auth_type;     /* 00h: common */
	uint8_t auth_id;       /* F1h Failure1, F0h Failure2 */
	uint8_t rsvd2[2];
	uint16_t t_id;
	uint8_t rescode;       /* 01h: authentication failure */
	uint8_t rescode_exp;   /* enum nvmf_auth_failure_reason */
};

#define NVMF_DHCHAP_RVALID 0x01
#define NVMF_DHCHAP_CVALID 0x01

#define NVMF_AUTH_ASSERT_SIZE(t, n) _Static_assert(sizeof(struct t) == (n), #t " size")
#define NVMF_AUTH_ASSERT_OFF(t, f, n)                                         \
	_Static_assert(offsetof(struct t, f) == (n), #t "." #f " offset")

NVMF_AUTH_ASSERT_SIZE(nvmf_auth_dhchap_desc, 64);
NVMF_AUTH_ASSERT_OFF(nvmf_auth_dhchap_desc, halen, 2);
NVMF_AUTH_ASSERT_OFF(nvmf_auth_dhchap_desc, dhlen, 3);
NVMF_AUTH_ASSERT_OFF(nvmf_auth_dhchap_desc, hash_ids, 4);
NVMF_AUTH_ASSERT_OFF(nvmf_auth_dhchap_desc, dhgroup_ids, 34);

NVMF_AUTH_ASSERT_SIZE(nvmf_auth_negotiate, 8);
NVMF_AUTH_ASSERT_OFF(nvmf_auth_negotiate, auth_id, 1);
NVMF_AUTH_ASSERT_OFF(nvmf_auth_negotiate, t_id, 4);
NVMF_AUTH_ASSERT_OFF(nvmf_auth_negotiate, sc_c, 6);
NVMF_AUTH_ASSERT_OFF(nvmf_auth_negotiate, napd, 7);
NVMF_AUTH_ASSERT_OFF(nvmf_auth_negotiate, desc, 8);

NVMF_AUTH_ASSERT_SIZE(nvmf_dhchap_challenge, 16);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_challenge, t_id, 4);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_challenge, hl, 6);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_challenge, hashid, 8);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_challenge, dhgid, 9);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_challenge, dhvlen, 10);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_challenge, seqnum, 12);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_challenge, cval, 16);

NVMF_AUTH_ASSERT_SIZE(nvmf_dhchap_reply, 16);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_reply, t_id, 4);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_reply, hl, 6);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_reply, cvalid, 8);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_reply, dhvlen, 10);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_reply, seqnum, 12);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_reply, rval, 16);

NVMF_AUTH_ASSERT_SIZE(nvmf_dhchap_success1, 16);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_success1, t_id, 4);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_success1, hl, 6);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_success1, rvalid, 8);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_success1, rval, 16);

NVMF_AUTH_ASSERT_SIZE(nvmf_dhchap_success2, 16);
NVMF_AUTH_ASSERT_OFF(nvmf_dhchap_success2, t_id, 4);

NVMF_AUTH_ASSERT_SIZE(nvmf_auth_failure, 8);
NVMF_AUTH_ASSERT_OFF(nvmf_auth_failure, t_id, 4);
NVMF_AUTH_ASSERT_OFF(nvmf_auth_failure, rescode, 6);
NVMF_AUTH_ASSERT_OFF(nvmf_auth_failure, rescode_exp, 7);

#undef NVMF_AUTH_ASSERT_SIZE
#undef NVMF_AUTH_ASSERT_OFF

/* Largest message either side sends: a Reply with SHA-512 and ffdhe8192.
 * A controller can refuse any Authentication Send whose TL exceeds it, and
 * a host can use it as the Authentication Receive AL (Linux uses 4096). */
#define NVMF_DHCHAP_MSG_MAX                                                   \
	(sizeof(struct nvmf_dhchap_reply) + 2 * NVMF_DHCHAP_HASH_MAX_LEN +    \
	 NVMF_DHCHAP_DH_MAX_LEN)

/* An AUTH_Failure1/2 message (auth_id F1h/F0h) into out (>= 8 bytes).
 * Its length, or 0 when out is too small. */
size_t nvmf_auth_failure_build(uint8_t auth_id, uint16_t t_id, uint8_t reason,
			       uint8_t *out, size_t outlen);

/* ------------------------------------------------------------------ */
/* Protocol engine                                                     */
/* ------------------------------------------------------------------ */

/*
 * Host side:
 *   e = nvmf_dhchap_host_new(&params);
 *   n = nvmf_dhchap_host_start(e, buf, sizeof(buf));    AUTH_Negotiate
 *   loop:
 *     Authentication Send of the n bytes in buf (when n > 0);
 *     stop when the last result was SUCCESS or FAILED;
 *     Authentication Receive (AL NVMF_DHCHAP_MSG_MAX or more) into msg;
 *     r = nvmf_dhchap_step(e, msg, msglen, buf, sizeof(buf), &n);
 *
 * Controller side, per queue (one engine per queue's transaction):
 *   e = nvmf_dhchap_ctrl_new(&params);
 *   on Authentication Send with payload p (TL bytes):
 *     r = nvmf_dhchap_step(e, p, tl, out, sizeof(out), &n);
 *     keep out[0..n) for the next Authentication Receive;
 *     SUCCESS: the queue is authenticated; FAILED: end the association
 *     once any Failure1 in out has been fetched (or at once when n == 0).
 *   on Authentication Receive: return the kept message (zero-filled up to AL).
 *
 * A step returns one of the values below, or a negative errno for a local
 * fault (ENOMEM, ENOBUFS: out too small, EINVAL: misuse); an outgoing
 * message is produced even with FAILED when the protocol wants one sent
 * (Failure1 from the controller, Failure2 from the host).  Give out
 * NVMF_DHCHAP_MSG_MAX bytes: a step that fails with ENOBUFS may already
 * have moved the engine on.
 *
 * Controller integration notes: an Authentication Receive with nothing kept
 * (e.g. before any AUTH_Negotiate) can be answered with
 * nvmf_auth_failure_build(NVMF_AUTH_ID_FAILURE1, 0,
 * NVMF_AUTH_FAIL_INCORRECT_MESSAGE, ...), as Linux does; the transaction
 * timer (Linux: KATO, else 120 s) and the queue's "authenticated" flag are
 * the integrator's.
 */
enum nvmf_dhchap_status {
	NVMF_DHCHAP_CONTINUE = 0, /* more messages to exchange */
	NVMF_DHCHAP_SUCCESS = 1,  /* authenticated (both ways if asked) */
	NVMF_DHCHAP_FAILED = 2,   /* refused: see nvmf_dhchap_error() */
};

struct nvmf_dhchap;

/* Bit i set for id i: offers (host) or allows (controller) that hash/group. */
#define NVMF_DHCHAP_HASHES_ALL 0x0eu     /* SHA-256, SHA-384, SHA-512 */
#define NVMF_DHCHAP_DHGROUPS_ALL 0x3fu   /* null and ffdhe2048..8192 */

struct nvmf_dhchap_host_params {
	const char *hostnqn;
	const char *subnqn;
	const struct nvmf_dhchap_key *host_key;  /* required */
	const struct nvmf_dhchap_key *ctrl_key;  /* NULL: unidirectional */
	unsigned hash_mask;      /* 0: NVMF_DHCHAP_HASHES_ALL */
	unsigned dhgroup_mask;   /* 0: NVMF_DHCHAP_DHGROUPS_ALL */
	uint16_t t_id;           /* transaction id (Linux: a per-controller counter) */
	uint32_t seqnum;         /* S2 when bidirectional; 0: random, non-zero */
};

struct nvmf_dhchap_ctrl_params {
	const char *hostnqn;
	const char *subnqn;
	const struct nvmf_dhchap_key *host_key;  /* required */
	const struct nvmf_dhchap_key *ctrl_key;  /* NULL: cannot answer a host
						  * that asks the controller
						  * to authenticate */
	uint8_t hash;            /* preferred hash; 0: SHA-256 */
	uint8_t dhgroup;         /* preferred DH group (may be null) */
	/* Allowed sets; when the host does not offer the preferred one, the
	 * first one it offers that is allowed is used (as the Linux target
	 * falls back).  0: all. */
	unsigned hash_mask;
	unsigned dhgroup_mask;
	uint32_t seqnum;         /* S1; 0: random, non-zero */
};

/* NULL with errno set (EINVAL for bad parameters, ENOMEM). */
struct nvmf_dhchap *nvmf_dhchap_host_new(const struct nvmf_dhchap_host_params *p);
struct nvmf_dhchap *nvmf_dhchap_ctrl_new(const struct nvmf_dhchap_ctrl_params *p);
/* Cleanses every secret, challenge and DH value it held. */
void nvmf_dhchap_free(struct nvmf_dhchap *e);

/* Host: the AUTH_Negotiate message.  Its length, or negative errno. */
ssize_t nvmf_dhchap_host_start(struct nvmf_dhchap *e, uint8_t *out, size_t outlen);
/* Either role: consume one received message (bounded by inlen, which may
 * exceed the message, e.g. a zero-filled Authentication Receive buffer),
 * write the next message to send into out and its length (0: none) into
 * *outn.  A controller engine accepts AUTH_Negotiate again after success
 * (re-authentication) or mid-transaction (restart).  Returns enum
 * nvmf_dhchap_status or a negative errno. */
int nvmf_dhchap_step(struct nvmf_dhchap *e, const uint8_t *in, size_t inlen,
		     uint8_t *out, size_t outlen, size_t *outn);

/* After FAILED: the failure reason (enum nvmf_auth_failure_reason) sent or
 * received, and a sentence saying what happened ("host response mismatch:
 * wrong host key?").  Empty while nothing failed. */
uint8_t nvmf_dhchap_failure_reason(const struct nvmf_dhchap *e);
const char *nvmf_dhchap_error(const struct nvmf_dhchap *e);
/* Negotiated values (0 before the challenge), and whether the controller was
 * authenticated too. */
uint8_t nvmf_dhchap_hash(const struct nvmf_dhchap *e);
uint8_t nvmf_dhchap_dhgroup(const struct nvmf_dhchap *e);
bool nvmf_dhchap_bidirectional(const struct nvmf_dhchap *e);

/* ------------------------------------------------------------------ */
/* Computation steps, exposed for tests against known vectors          */
/* ------------------------------------------------------------------ */

/* Ca = HMAC_H(H(session key), C) (Base 2.0 §8.13.5; Linux
 * nvme_auth_augmented_challenge).  0 or -1. */
int nvmf_dhchap_augmented_challenge(uint8_t hash, const uint8_t *sess_key,
				    size_t sess_key_len, const uint8_t *challenge,
				    uint8_t *out);

/*
 * The host's response R1 = HMAC_H(Kh, C || S1 || T_ID || SC_C || "HostHost"
 * || NQNh || 00h || NQNc), or with controller true the controller's R2 =
 * HMAC_H(Kc, C || S2 || T_ID || SC_C || "Controller" || NQNc || 00h || NQNh);
 * S and T_ID little-endian.  key is the transformed key, challenge the
 * (augmented, with a DH group) challenge of the hash's length.  0 or -1.
 */
int nvmf_dhchap_response(uint8_t hash, const uint8_t *key, size_t key_len,
			 const uint8_t *challenge, uint32_t seqnum, uint16_t t_id,
			 uint8_t sc_c, bool controller, const char *hostnqn,
			 const char *subnqn, uint8_t *out);

#endif /* NVMF_SECURITY_DHCHAP_H */
