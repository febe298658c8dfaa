/* SPDX-License-Identifier: MIT */
/*
 * Persistent reservations (resv.h): NVMe Base 2.0 §8.19 and the NVM
 * command set's Reservation Register, Acquire, Release and Report, with
 * the behaviour of Linux nvmet (drivers/nvme/target/pr.c) where the
 * specification leaves a choice.
 *
 * A reservation command works on a copy of the namespace's state, under
 * op_lock (one at a time); with PTPL the copy is written to the state file
 * first, and only once it is durable does it replace the state the I/O
 * checks read (lock).  So a failed write changes nothing, and the file
 * and memory never disagree.  Reservation commands run on the work queue:
 * writing the file may block.
 *
 * Where the state lives is the reservation store's business
 * (backend/resv_store.h): a local file, or for storage several gateways
 * serve (RBD) a shared one.  A shared state is read before each
 * reservation command and saved with a compare-and-swap (lost: read and
 * decide again), whatever PTPL says: a gateway restarting is no power
 * loss of a namespace the others still serve.  I/O checks use the copy
 * here until the store says another gateway changed it (stale); the
 * notices that gateway's command raised come along and are delivered to
 * this gateway's controllers by the reaper (resv_deliver_remote_locked).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "controller/resv.h"
#include "util/crc32c.h"
#include "util/lock.h"
#include "util/log.h"

#define RESV_MAX_REGS 128          /* registered hosts per namespace */
#define RESV_ABORT_RING 128        /* hosts preempted with abort, remembered */
#define RESV_LOG_QUEUE 64          /* notices a controller holds */
#define RESV_FILE_MAGIC "NVMFRESV"
#define RESV_FILE_VERSION 1u
#define RESV_CAS_TRIES 16          /* a shared save lost to other gateways in a row */
#define RESV_MSG_MAGIC 0x4d56534eu  /* "NSVM": notices for other gateways */

struct resv_reg {
	uint8_t hostid[16];
	uint64_t rkey;
};

struct resv_state {
	uint32_t gen;                  /* Report GEN */
	uint8_t rtype;                 /* enum nvme_resv_type; 0: none */
	bool ptpl;
	uint8_t holder[16];            /* rtype 1-4; types 5-6: every registrant */
	unsigned nregs;
	struct resv_reg regs[RESV_MAX_REGS];
};

struct ns_resv {
	pthread_mutex_t op_lock;       /* one reservation command at a time */
	pthread_rwlock_t lock;         /* st and aborted: I/O reads them */
	struct resv_state st;
	_Atomic uint8_t rtype;         /* st.rtype, for the no-reservation fast path */
	_Atomic uint64_t abort_gen;    /* preempt-and-abort events so far */
	struct {
		uint8_t hostid[16];
		uint64_t gen;
	} aborted[RESV_ABORT_RING];
	struct nvmf_resv_store *store; /* NULL: memory only, no PTPL */
	bool shared;                   /* other gateways change it too */
	uint64_t version;              /* st's, in a shared store (op_lock) */
	_Atomic bool stale;            /* shared: changed elsewhere since loaded */
	pthread_mutex_t remote_lock;
	struct resv_notices *remote;   /* from other gateways, not yet delivered */
	uint32_t nsid;                 /* for log lines from the store's thread */
};

/* What a command changed that hosts hear of (notices), or lose (abort). */
struct resv_notices {
	unsigned n;
	struct {
		uint8_t hostid[16];
		uint8_t type;          /* enum nvme_resv_notice_type */
	} e[RESV_MAX_REGS * 2];
	bool abort;                    /* preempt-and-abort: REG_PREEMPTED hosts lose commands */
};

/* What a controller keeps (ctrl->lock). */
struct ctrl_resv {
	uint8_t mask[NVMF_MAX_NSID + 1]; /* feature 82h, per namespace */
	uint64_t lpc;                  /* last log page count given */
	unsigned n;
	struct {
		uint64_t lpc;
		uint32_t nsid;
		uint8_t type;
	} q[RESV_LOG_QUEUE];
	bool aen_masked;               /* an event is out until the log is read */
};

/* The state file: this header, then nregs x (hostid, rkey); little-endian. */
struct resv_file_hdr {
	char magic[8];
	uint32_t version;
	uint32_t crc;                  /* CRC32C of the whole file, this field 0 */
	uint32_t nsid;
	uint32_t gen;
	uint32_t nregs;
	uint8_t rtype;
	uint8_t ptpl;
	uint8_t rsvd[2];
	uint8_t uuid[16];              /* the namespace's identity */
	uint8_t holder[16];
};
_Static_assert(sizeof(struct resv_file_hdr) == 64, "resv_file_hdr size");
_Static_assert(sizeof(struct resv_reg) == 24, "resv_reg size");

/* What a shared save tells the other gateways: this header, then n
 * entries; they deliver the notices to their own controllers of those
 * hosts and, with abort, fail those hosts' commands in flight. */
struct resv_msg_hdr {
	uint32_t magic;                /* RESV_MSG_MAGIC */
	uint16_t n;
	uint8_t abort;
	uint8_t rsvd;
};

struct resv_msg_entry {
	uint8_t hostid[16];
	uint8_t type;                  /* enum nvme_resv_notice_type */
};
_Static_assert(sizeof(struct resv_msg_hdr) == 8, "resv_msg_hdr size");
_Static_assert(sizeof(struct resv_msg_entry) == 17, "resv_msg_entry size");

/* Pending remote notices in every namespace: the reaper's cheap test. */
static _Atomic unsigned remote_pending;

static uint16_t conflict(void)
{
	return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_RESERVATION_CONFLICT);
}

static uint16_t invalid_field(void)
{
	return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
}

static const char *rtype_name(uint8_t rtype)
{
	static const char *const names[] = {
		"none", "Write Exclusive", "Exclusive Access",
		"Write Exclusive - Registrants Only", "Exclusive Access - Registrants Only",
		"Write Exclusive - All Registrants", "Exclusive Access - All Registrants",
	};

	return rtype < sizeof(names) / sizeof(names[0]) ? names[rtype] : "?";
}

/* ------------------------------------------------------------------ */
/* The state and its rules                                             */
/* ------------------------------------------------------------------ */

static bool all_regs(uint8_t rtype)
{
	return rtype == NVME_RESV_WE_ALL_REGS || rtype == NVME_RESV_EA_ALL_REGS;
}

static int reg_find(const struct resv_state *st, const uint8_t hostid[16])
{
	for (unsigned i = 0; i < st->nregs; i++)
		if (memcmp(st->regs[i].hostid, hostid, 16) == 0)
			return (int)i;
	return -1;
}

static bool is_holder(const struct resv_state *st, const uint8_t hostid[16])
{
	if (st->rtype == NVME_RESV_NONE)
		return false;
	if (all_regs(st->rtype))
		return reg_find(st, hostid) >= 0;
	return memcmp(st->holder, hostid, 16) == 0;
}

static void notice(struct resv_notices *out, const uint8_t hostid[16], uint8_t type)
{
	if (out->n >= sizeof(out->e) / sizeof(out->e[0]))
		return;
	memcpy(out->e[out->n].hostid, hostid, 16);
	out->e[out->n++].type = type;
}

/* Every registrant but one hears of the reservation going. */
static void notify_released(const struct resv_state *st, const uint8_t except[16],
			    struct resv_notices *out)
{
	for (unsigned i = 0; i < st->nregs; i++)
		if (memcmp(st->regs[i].hostid, except, 16) != 0)
			notice(out, st->regs[i].hostid, NVME_RESV_NOTICE_RESV_RELEASED);
}

/* Remove registrant i; a holder leaving ends its reservation (for the
 * all-registrants types, only the last one leaving does). */
static void reg_remove(struct resv_state *st, unsigned i, struct resv_notices *out)
{
	uint8_t hostid[16];
	bool holder = is_holder(st, st->regs[i].hostid);

	memcpy(hostid, st->regs[i].hostid, 16);
	st->regs[i] = st->regs[--st->nregs];
	if (!holder)
		return;
	if (all_regs(st->rtype)) {
		if (st->nregs == 0)
			st->rtype = NVME_RESV_NONE;
		return;
	}
	/* Registrants of a registrants-only reservation lose their access. */
	if (st->rtype == NVME_RESV_WE_REGS_ONLY || st->rtype == NVME_RESV_EA_REGS_ONLY)
		notify_released(st, hostid, out);
	st->rtype = NVME_RESV_NONE;
}

/* Unregister every other host registered with key; how many went. */
static unsigned preempt_key(struct resv_state *st, const uint8_t self[16], uint64_t key,
			    struct resv_notices *out)
{
	unsigned n = 0;

	for (unsigned i = 0; i < st->nregs;) {
		if (st->regs[i].rkey == key && memcmp(st->regs[i].hostid, self, 16) != 0) {
			notice(out, st->regs[i].hostid, NVME_RESV_NOTICE_REG_PREEMPTED);
			reg_remove(st, i, out);
			n++;
		} else {
			i++;
		}
	}
	return n;
}

static uint16_t op_register(struct resv_state *st, const uint8_t self[16], uint32_t cdw10,
			    const struct nvme_resv_register_data *d, bool can_persist,
			    struct resv_notices *out)
{
	bool iekey = (cdw10 & NVME_RESV_IEKEY) != 0;
	unsigned cptpl = NVME_RESV_CPTPL(cdw10);
	int i = reg_find(st, self);

	if (cptpl == 1 || (cptpl == NVME_RESV_CPTPL_SET && !can_persist))
		return invalid_field();
	switch (NVME_RESV_ACTION(cdw10)) {
	case NVME_RESV_REGISTER:
		if (i >= 0) {
			/* Registering again with the same key is no change. */
			if (st->regs[i].rkey != d->nrkey)
				return conflict();
			break;
		}
		if (st->nregs >= RESV_MAX_REGS) {
			NVMF_WARN("nvmfd: reservation registrants limit (%u hosts) reached",
				  RESV_MAX_REGS);
			return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_CAPACITY_EXCEEDED);
		}
		memcpy(st->regs[st->nregs].hostid, self, 16);
		st->regs[st->nregs++].rkey = d->nrkey;
		st->gen++;
		break;
	case NVME_RESV_UNREGISTER:
		if (i < 0 || (!iekey && st->regs[i].rkey != d->crkey))
			return conflict();
		reg_remove(st, (unsigned)i, out);
		st->gen++;
		break;
	case NVME_RESV_REPLACE:
		if (i < 0 || (!iekey && st->regs[i].rkey != d->crkey))
			return conflict();
		st->regs[i].rkey = d->nrkey;
		st->gen++;
		break;
	default:
		return invalid_field();
	}
	if (cptpl == NVME_RESV_CPTPL_SET)
		st->ptpl = true;
	else if (cptpl == NVME_RESV_CPTPL_CLEAR)
		st->ptpl = false;
	return 0;
}

static uint16_t op_preempt(struct resv_state *st, const uint8_t self[16], uint8_t rtype,
			   uint64_t prkey, struct resv_notices *out)
{
	uint8_t old = st->rtype;

	if (old == NVME_RESV_NONE || (all_regs(old) && prkey != 0)) {
		/* No holder to take over from: only registrations go. */
		if (preempt_key(st, self, prkey, out) == 0)
			return conflict();
		st->gen++;
		return 0;
	}
	if (all_regs(old)) {
		/* PRKEY 0: everyone else goes and self holds the new type. */
		for (unsigned i = 0; i < st->nregs;) {
			if (memcmp(st->regs[i].hostid, self, 16) == 0) {
				i++;
				continue;
			}
			notice(out, st->regs[i].hostid, NVME_RESV_NOTICE_REG_PREEMPTED);
			st->regs[i] = st->regs[--st->nregs];
		}
		st->rtype = rtype;
		memcpy(st->holder, self, 16);
		st->gen++;
		return 0;
	}
	if (memcmp(st->holder, self, 16) == 0) {
		/* The holder preempting itself changes the type. */
		st->rtype = rtype;
		if (old != rtype)
			notify_released(st, self, out);
		return 0;
	}
	if (prkey == st->regs[reg_find(st, st->holder)].rkey) {
		preempt_key(st, self, prkey, out);
		st->rtype = rtype;
		memcpy(st->holder, self, 16);
		if (old != rtype)
			notify_released(st, self, out);
		st->gen++;
		return 0;
	}
	if (prkey == 0)
		return invalid_field();
	if (preempt_key(st, self, prkey, out) == 0)
		return conflict();
	st->gen++;
	return 0;
}

static uint16_t op_acquire(struct resv_state *st, const uint8_t self[16], uint32_t cdw10,
			   const struct nvme_resv_acquire_data *d, struct resv_notices *out)
{
	uint8_t rtype = NVME_RESV_RTYPE(cdw10);
	unsigned racqa = NVME_RESV_ACTION(cdw10);
	int i = reg_find(st, self);

	if (rtype < NVME_RESV_WRITE_EXCLUSIVE || rtype > NVME_RESV_EA_ALL_REGS ||
	    racqa > NVME_RESV_PREEMPT_ABORT)
		return invalid_field();
	if (i < 0 || (!(cdw10 & NVME_RESV_IEKEY) && st->regs[i].rkey != d->crkey))
		return conflict();
	if (racqa != NVME_RESV_ACQUIRE) {
		out->abort = racqa == NVME_RESV_PREEMPT_ABORT;
		return op_preempt(st, self, rtype, d->prkey, out);
	}
	if (st->rtype == NVME_RESV_NONE) {
		st->rtype = rtype;
		memcpy(st->holder, self, 16);
		return 0;
	}
	/* Acquiring what one holds is no change; anything else conflicts. */
	return is_holder(st, self) && st->rtype == rtype ? 0 : conflict();
}

static uint16_t op_release(struct resv_state *st, const uint8_t self[16], uint32_t cdw10,
			   const struct nvme_resv_release_data *d, struct resv_notices *out)
{
	int i = reg_find(st, self);
	uint8_t old = st->rtype;

	if (NVME_RESV_ACTION(cdw10) > NVME_RESV_CLEAR)
		return invalid_field();
	if (i < 0 || (!(cdw10 & NVME_RESV_IEKEY) && st->regs[i].rkey != d->crkey))
		return conflict();
	if (NVME_RESV_ACTION(cdw10) == NVME_RESV_CLEAR) {
		for (unsigned r = 0; r < st->nregs; r++)
			if (memcmp(st->regs[r].hostid, self, 16) != 0)
				notice(out, st->regs[r].hostid, NVME_RESV_NOTICE_RESV_PREEMPTED);
		st->nregs = 0;
		st->rtype = NVME_RESV_NONE;
		st->gen++;
		return 0;
	}
	/* A registrant that holds nothing releases nothing, successfully. */
	if (!is_holder(st, self))
		return 0;
	if (NVME_RESV_RTYPE(cdw10) != old)
		return invalid_field();
	st->rtype = NVME_RESV_NONE;
	if (old != NVME_RESV_WRITE_EXCLUSIVE && old != NVME_RESV_EXCLUSIVE_ACCESS)
		notify_released(st, self, out);
	return 0;
}

/* The access rules (Base 2.0 §8.19.x, "Command Behavior in the Presence
 * of a Reservation"): Read and Compare read; Write, Write Zeroes, Dataset
 * Management and Flush write, as Linux nvmet counts them. */
static uint16_t access_check(const struct resv_state *st, const uint8_t hostid[16], uint8_t opc)
{
	bool write = opc == NVME_IO_WRITE || opc == NVME_IO_WRITE_ZEROES ||
		     opc == NVME_IO_DATASET_MANAGEMENT || opc == NVME_IO_FLUSH;
	bool read = opc == NVME_IO_READ || opc == NVME_IO_COMPARE;
	bool registrant;

	if (st->rtype == NVME_RESV_NONE || (!read && !write) || is_holder(st, hostid))
		return 0;
	registrant = reg_find(st, hostid) >= 0;
	switch (st->rtype) {
	case NVME_RESV_WRITE_EXCLUSIVE:
		return write ? conflict() : 0;
	case NVME_RESV_EXCLUSIVE_ACCESS:
		return conflict();
	case NVME_RESV_WE_REGS_ONLY:
	case NVME_RESV_WE_ALL_REGS:
		return write && !registrant ? conflict() : 0;
	default: /* the exclusive access, registrants types */
		return registrant ? 0 : conflict();
	}
}

/* ------------------------------------------------------------------ */
/* The state file                                                      */
/* ------------------------------------------------------------------ */

static uint32_t file_crc(const struct resv_file_hdr *h, const void *regs, size_t len)
{
	struct resv_file_hdr copy = *h;
	uint32_t crc;

	copy.crc = 0;
	crc = nvmf_crc32c_update(NVMF_CRC32C_INIT, &copy, sizeof(copy));
	return nvmf_crc32c_final(nvmf_crc32c_update(crc, regs, len));
}

static int parse_fail(char *why, size_t whylen, const char *what, long v)
{
	if (v < 0)
		snprintf(why, whylen, "%s", what);
	else
		snprintf(why, whylen, "%s %ld", what, v);
	return -EINVAL;
}

/* Check a whole state file and fill st from it, or fail with why. */
/* shared: written by gateways that may number the namespace differently
 * (no NSID check) and kept whatever PTPL says. */
static int state_decode(const uint8_t *data, size_t len, uint32_t nsid, const uint8_t uuid[16],
			bool shared, struct resv_state *st, char *why, size_t whylen)
{
	struct resv_file_hdr h;
	bool holder_registered = false;

	if (len < sizeof(h))
		return parse_fail(why, whylen, "truncated: bytes", (long)len);
	memcpy(&h, data, sizeof(h));
	if (memcmp(h.magic, RESV_FILE_MAGIC, 8) != 0)
		return parse_fail(why, whylen, "not a reservation state file", -1);
	if (h.version != RESV_FILE_VERSION)
		return parse_fail(why, whylen, "unknown version", (long)h.version);
	if (h.nregs > RESV_MAX_REGS)
		return parse_fail(why, whylen, "more registrants than allowed:", (long)h.nregs);
	if (len != sizeof(h) + (size_t)h.nregs * sizeof(struct resv_reg))
		return parse_fail(why, whylen, "torn or padded: bytes", (long)len);
	if (file_crc(&h, data + sizeof(h), len - sizeof(h)) != h.crc)
		return parse_fail(why, whylen, "checksum mismatch", -1);
	if ((!shared && h.nsid != nsid) || memcmp(h.uuid, uuid, 16) != 0)
		return parse_fail(why, whylen, "belongs to another namespace: NSID", (long)h.nsid);
	if (h.rtype > NVME_RESV_EA_ALL_REGS || h.ptpl > 1 || (!shared && h.ptpl != 1))
		return parse_fail(why, whylen, "bad reservation type or PTPL: type", (long)h.rtype);
	memset(st, 0, sizeof(*st));
	st->gen = h.gen;
	st->rtype = h.rtype;
	st->ptpl = h.ptpl;
	memcpy(st->holder, h.holder, 16);
	for (unsigned i = 0; i < h.nregs; i++) {
		struct resv_reg r;

		memcpy(&r, data + sizeof(h) + i * sizeof(r), sizeof(r));
		if (reg_find(st, r.hostid) >= 0)
			return parse_fail(why, whylen, "a host registered twice: entry", (long)i);
		holder_registered |= memcmp(r.hostid, h.holder, 16) == 0;
		st->regs[st->nregs++] = r;
	}
	if (st->rtype != NVME_RESV_NONE && (all_regs(st->rtype) ? st->nregs == 0 : !holder_registered))
		return parse_fail(why, whylen, "the holder is not registered", -1);
	return 0;
}

int resv_state_parse(const uint8_t *data, size_t len, uint32_t nsid, const uint8_t uuid[16],
		     char *why, size_t whylen)
{
	struct resv_state *st = malloc(sizeof(*st));
	int rc;

	if (st == NULL)
		return -ENOMEM;
	rc = state_decode(data, len, nsid, uuid, false, st, why, whylen);
	free(st);
	return rc;
}

#define RESV_STATE_MAX (sizeof(struct resv_file_hdr) + RESV_MAX_REGS * sizeof(struct resv_reg))

/* st in the state file's format, into buf (RESV_STATE_MAX bytes): its length. */
static size_t state_encode(const struct ns_resv *r, const struct nvmf_ns *ns,
			   const struct resv_state *st, uint8_t *buf)
{
	struct resv_file_hdr h = {.version = RESV_FILE_VERSION};
	size_t regs_len = st->nregs * sizeof(struct resv_reg);

	memcpy(h.magic, RESV_FILE_MAGIC, 8);
	h.nsid = r->shared ? 0 : ns->nsid;
	h.gen = st->gen;
	h.nregs = st->nregs;
	h.rtype = st->rtype;
	h.ptpl = st->ptpl;
	memcpy(h.uuid, ns->uuid, 16);
	memcpy(h.holder, st->holder, 16);
	h.crc = file_crc(&h, st->regs, regs_len);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), st->regs, regs_len);
	return sizeof(h) + regs_len;
}

/* The stored state into st (none stored: empty) and its version, or a
 * negative errno with why. */
static int state_load(struct ns_resv *r, const struct nvmf_ns *ns, struct resv_state *st,
		      uint64_t *version, char *why, size_t whylen)
{
	/* One byte beyond the largest valid state tells a padded one apart. */
	uint8_t *buf = malloc(RESV_STATE_MAX + 1);
	size_t len;
	int rc;

	if (buf == NULL)
		return -ENOMEM;
	memset(st, 0, sizeof(*st));
	rc = r->store->ops->load(r->store, buf, RESV_STATE_MAX + 1, &len, version);
	if (rc != 0)
		snprintf(why, whylen, "%s", strerror(-rc));
	else if (len > 0)
		rc = state_decode(buf, len, ns->nsid, ns->uuid, r->shared, st, why, whylen);
	free(buf);
	return rc;
}

/* The notices and abort of a command, for the other gateways; its length. */
static size_t msg_encode(const struct resv_notices *out, uint8_t *buf, size_t cap)
{
	struct resv_msg_hdr h = {.magic = RESV_MSG_MAGIC, .abort = out->abort};
	size_t len = sizeof(h);

	for (unsigned i = 0; i < out->n && len + sizeof(struct resv_msg_entry) <= cap; i++) {
		struct resv_msg_entry e;

		memcpy(e.hostid, out->e[i].hostid, 16);
		e.type = out->e[i].type;
		memcpy(buf + len, &e, sizeof(e));
		len += sizeof(e);
		h.n++;
	}
	memcpy(buf, &h, sizeof(h));
	return len;
}

/* ------------------------------------------------------------------ */
/* Namespaces                                                          */
/* ------------------------------------------------------------------ */

/* Preempt-and-abort took these hosts' commands in flight; r->lock held. */
static void record_aborts(struct ns_resv *r, const struct resv_notices *out)
{
	for (unsigned i = 0; i < out->n; i++) {
		uint64_t g;

		if (out->e[i].type != NVME_RESV_NOTICE_REG_PREEMPTED)
			continue;
		g = atomic_load(&r->abort_gen) + 1;
		memcpy(r->aborted[g % RESV_ABORT_RING].hostid, out->e[i].hostid, 16);
		r->aborted[g % RESV_ABORT_RING].gen = g;
		atomic_store(&r->abort_gen, g);
	}
}

/* A notice message from another gateway (what msg_encode wrote), into in;
 * -EINVAL if it is anything else. */
static int msg_decode(const uint8_t *msg, size_t len, struct resv_notices *in)
{
	struct resv_msg_hdr h;

	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, msg, sizeof(h));
	if (h.magic != RESV_MSG_MAGIC || h.n > RESV_MAX_REGS * 2 || h.abort > 1 || h.rsvd != 0 ||
	    len != sizeof(h) + h.n * sizeof(struct resv_msg_entry))
		return -EINVAL;
	memset(in, 0, sizeof(*in));
	in->abort = h.abort;
	for (unsigned i = 0; i < h.n; i++) {
		struct resv_msg_entry e;

		memcpy(&e, msg + sizeof(h) + i * sizeof(e), sizeof(e));
		if (e.type < NVME_RESV_NOTICE_REG_PREEMPTED || e.type > NVME_RESV_NOTICE_RESV_PREEMPTED)
			return -EINVAL;
		notice(in, e.hostid, e.type);
	}
	return 0;
}

ssize_t resv_msg_reencode(const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
	struct resv_notices *in = malloc(sizeof(*in));
	ssize_t n;

	if (in == NULL)
		return -ENOMEM;
	n = msg_decode(msg, len, in);
	if (n == 0)
		n = (ssize_t)msg_encode(in, out, cap);
	free(in);
	return n;
}

/* Another gateway changed the shared state (nvmf_resv_changed_fn), on the
 * store's thread: the copy is stale; its notices wait for the reaper. */
static void remote_changed(void *arg, const void *msg, size_t len)
{
	struct ns_resv *r = arg;
	struct resv_notices *in;

	atomic_store(&r->stale, true);
	if (msg == NULL)
		return;
	in = calloc(1, sizeof(*in));
	if (in == NULL)
		return;
	if (msg_decode(msg, len, in) != 0) {
		NVMF_WARN("nvmfd: namespace %u: a malformed reservation notice (%zu bytes) from "
			  "another gateway ignored", r->nsid, len);
		free(in);
		return;
	}
	if (in->abort) {
		pthread_rwlock_wrlock(&r->lock);
		record_aborts(r, in);
		pthread_rwlock_unlock(&r->lock);
	}
	nvmf_mutex_lock(&r->remote_lock);
	if (r->remote == NULL)
		r->remote = calloc(1, sizeof(*r->remote));
	if (r->remote != NULL && r->remote->n == 0 && in->n > 0)
		atomic_fetch_add(&remote_pending, 1);
	for (unsigned i = 0; r->remote != NULL && i < in->n; i++)
		notice(r->remote, in->e[i].hostid, in->e[i].type);
	nvmf_mutex_unlock(&r->remote_lock);
	free(in);
}

static void resv_free(struct ns_resv *r)
{
	/* First: no store callback runs on r after this. */
	if (r->store != NULL)
		r->store->ops->close(r->store);
	if (r->remote != NULL && r->remote->n > 0)
		atomic_fetch_sub(&remote_pending, 1);
	free(r->remote);
	pthread_mutex_destroy(&r->remote_lock);
	pthread_mutex_destroy(&r->op_lock);
	pthread_rwlock_destroy(&r->lock);
	free(r);
}

/* The state file's path in state_dir, named by the namespace's identity
 * (its UUID, stable across restarts); NULL without a directory. */
static const char *state_path(const struct nvmf_ns *ns, const char *state_dir, char *path,
			      size_t size)
{
	char hex[33];

	if (state_dir == NULL || state_dir[0] == '\0')
		return NULL;
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", ns->uuid[i]);
	if (snprintf(path, size, "%s/resv-%s.state", state_dir, hex) >= (int)size)
		return NULL;
	return path;
}

/* The store's state, into r; 0 or a positive errno with err. */
static int resv_load_initial(struct ns_resv *r, const struct nvmf_ns *ns, char *err,
			     size_t errlen)
{
	char why[200];
	int rc = state_load(r, ns, &r->st, &r->version, why, sizeof(why));

	if (rc == -EINVAL) {
		snprintf(err, errlen,
			 "reservation state %s: %s; refusing the namespace rather than "
			 "serving it without its reservation (%s to start with none)",
			 r->store->where, why, r->shared ? "remove the object" : "move the file away");
		return EINVAL;
	}
	if (rc != 0) {
		snprintf(err, errlen, "reservation state %s: %s", r->store->where, why);
		return -rc;
	}
	if (r->st.nregs > 0)
		NVMF_INFO("nvmfd: namespace %u: reservation state loaded from %s: %u "
			  "registrants, %s", ns->nsid, r->store->where, r->st.nregs,
			  rtype_name(r->st.rtype));
	return 0;
}

int resv_ns_init(struct nvmf_ns *ns, const char *state_dir, char *err, size_t errlen)
{
	struct ns_resv *r = calloc(1, sizeof(*r));
	char path[NVMF_PATH_SIZE];
	const char *file;
	int rc;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return ENOMEM;
	}
	nvmf_mutex_init(&r->op_lock);
	nvmf_mutex_init(&r->remote_lock);
	pthread_rwlock_init(&r->lock, NULL);
	r->nsid = ns->nsid;
	file = state_path(ns, state_dir, path, sizeof(path));
	if (file == NULL && state_dir != NULL && state_dir[0] != '\0') {
		snprintf(err, errlen, "state directory path too long");
		resv_free(r);
		return ENAMETOOLONG;
	}
	rc = -nvmf_resv_store_open(ns->bdev, file, remote_changed, r, &r->store, err, errlen);
	if (rc == 0 && r->store != NULL) {
		r->shared = r->store->shared;
		rc = resv_load_initial(r, ns, err, errlen);
	}
	if (rc != 0) {
		resv_free(r);
		return rc;
	}
	atomic_init(&r->rtype, r->st.rtype);
	ns->resv = r;
	ns->resv_free = resv_free;
	return 0;
}

uint8_t resv_rescap(const struct nvmf_ns *ns)
{
	if (ns->resv == NULL)
		return 0;
	return ns->resv->store != NULL ? NVME_NS_RESCAP_ALL
				       : NVME_NS_RESCAP_ALL & ~NVME_NS_RESCAP_PTPL;
}

/* ------------------------------------------------------------------ */
/* Notices (Base 2.0 §5.16.1.24) and their event                       */
/* ------------------------------------------------------------------ */

/* ctrl->lock held: the controller's reservation state, made on first use. */
static struct ctrl_resv *ctrl_resv_locked(struct nvmf_ctrl *ctrl)
{
	NVMF_ASSERT_LOCKED(&ctrl->lock);
	if (ctrl->resv == NULL)
		ctrl->resv = calloc(1, sizeof(*ctrl->resv));
	return ctrl->resv;
}

static uint8_t mask_bit(uint8_t type)
{
	return (uint8_t)(1u << type); /* REGPRE bit 1, RESREL bit 2, RESPRE bit 3 */
}

static void ctrl_notice(struct nvmf_ctrl *ctrl, uint32_t nsid, uint8_t type)
{
	struct ctrl_resv *cr;
	bool raise = false;

	nvmf_mutex_lock(&ctrl->lock);
	cr = ctrl_resv_locked(ctrl);
	if (cr != NULL && !(cr->mask[nsid] & mask_bit(type))) {
		/* The count goes on when the queue is full: the host sees the gap. */
		if (++cr->lpc == 0)
			cr->lpc = 1;
		if (cr->n < RESV_LOG_QUEUE) {
			cr->q[cr->n].lpc = cr->lpc;
			cr->q[cr->n].nsid = nsid;
			cr->q[cr->n++].type = type;
		}
		raise = !cr->aen_masked;
		cr->aen_masked = true;
	}
	nvmf_mutex_unlock(&ctrl->lock);
	if (raise)
		ctrl_raise_event(ctrl, NVME_AER_DW0(NVME_AER_TYPE_IO_SPECIFIC, NVME_AER_IO_RESV_LOG,
						    NVME_LOG_RESERVATION));
}

/* Each notice goes to every controller of its host. */
static void deliver_locked(struct nvmf_subsys *subsys, uint32_t nsid,
			   const struct resv_notices *out)
{
	NVMF_ASSERT_LOCKED(&subsys->target->lock);
	for (struct nvmf_ctrl *c = subsys->ctrls; c != NULL; c = c->next)
		for (unsigned i = 0; i < out->n; i++)
			if (!atomic_load(&c->dead) && memcmp(c->hostid, out->e[i].hostid, 16) == 0)
				ctrl_notice(c, nsid, out->e[i].type);
}

static void deliver(struct nvmf_subsys *subsys, uint32_t nsid, const struct resv_notices *out)
{
	if (out->n == 0)
		return;
	nvmf_mutex_lock(&subsys->target->lock);
	deliver_locked(subsys, nsid, out);
	nvmf_mutex_unlock(&subsys->target->lock);
}

/* The notices another gateway's commands raised, taken off ns. */
static struct resv_notices *take_remote(struct ns_resv *r)
{
	struct resv_notices *out = NULL;

	nvmf_mutex_lock(&r->remote_lock);
	if (r->remote != NULL && r->remote->n > 0) {
		out = r->remote;
		r->remote = NULL;
		atomic_fetch_sub(&remote_pending, 1);
	}
	nvmf_mutex_unlock(&r->remote_lock);
	return out;
}

void resv_deliver_remote_locked(struct nvmf_subsys *subsys)
{
	NVMF_ASSERT_LOCKED(&subsys->target->lock);
	if (atomic_load(&remote_pending) == 0)
		return;
	for (uint32_t id = 1; id <= NVMF_MAX_NSID; id++) {
		struct nvmf_ns *ns = subsys_get_ns(subsys, id);
		struct resv_notices *out;

		if (ns == NULL)
			continue;
		if (ns->resv != NULL && (out = take_remote(ns->resv)) != NULL) {
			deliver_locked(subsys, id, out);
			free(out);
		}
		ns_put(ns);
	}
}

void resv_log_page(struct nvmf_ctrl *ctrl, struct nvme_resv_notification_log *log, bool retain)
{
	struct ctrl_resv *cr;

	memset(log, 0, sizeof(*log));
	nvmf_mutex_lock(&ctrl->lock);
	cr = ctrl->resv;
	if (cr != NULL && cr->n > 0) {
		log->lpc = cr->q[0].lpc;
		log->rnlpt = cr->q[0].type;
		log->nsid = cr->q[0].nsid;
		log->nalp = (uint8_t)(cr->n - 1 < 255 ? cr->n - 1 : 255);
		memmove(cr->q, cr->q + 1, --cr->n * sizeof(cr->q[0]));
	}
	if (cr != NULL && !retain)
		cr->aen_masked = false;
	nvmf_mutex_unlock(&ctrl->lock);
}

void resv_ctrl_free(struct nvmf_ctrl *ctrl)
{
	free(ctrl->resv);
	ctrl->resv = NULL;
}

/* ------------------------------------------------------------------ */
/* Commands                                                            */
/* ------------------------------------------------------------------ */

/* st, as the store has it at version, in place for the I/O checks. */
static void install(struct ns_resv *r, const struct resv_state *st, uint64_t version)
{
	pthread_rwlock_wrlock(&r->lock);
	r->st = *st;
	r->version = version;
	atomic_store_explicit(&r->rtype, st->rtype, memory_order_release);
	pthread_rwlock_unlock(&r->lock);
}

/* The stored state in place, if another gateway changed it; r->op_lock
 * held.  0 or a negative errno (the copy stays stale). */
static int refresh_locked(struct ns_resv *r, const struct nvmf_ns *ns)
{
	struct resv_state *st;
	uint64_t version;
	char why[160];
	int rc;

	if (!atomic_exchange(&r->stale, false))
		return 0;
	st = malloc(sizeof(*st));
	if (st == NULL) {
		atomic_store(&r->stale, true);
		return -ENOMEM;
	}
	rc = state_load(r, ns, st, &version, why, sizeof(why));
	if (rc == 0) {
		install(r, st, version);
	} else {
		atomic_store(&r->stale, true);
		NVMF_ERR("nvmfd: namespace %u: reservation state %s: %s", ns->nsid,
			 r->store->where, why);
	}
	free(st);
	return rc;
}

/* The same, for an I/O check or a report: with the copy current, 0. */
static uint16_t refresh(struct ns_resv *r, const struct nvmf_ns *ns)
{
	int rc = 0;

	if (!r->shared || !atomic_load(&r->stale))
		return 0;
	nvmf_mutex_lock(&r->op_lock);
	rc = refresh_locked(r, ns);
	nvmf_mutex_unlock(&r->op_lock);
	/* The reservation is unknown here: another path may know it. */
	return rc == 0 ? 0 : NVME_STATUS(NVME_SCT_PATH, NVME_SC_INTERNAL_PATH_ERROR);
}

bool resv_is_command(uint8_t opc)
{
	return opc == NVME_IO_RESV_REGISTER || opc == NVME_IO_RESV_ACQUIRE ||
	       opc == NVME_IO_RESV_RELEASE || opc == NVME_IO_RESV_REPORT;
}

uint16_t resv_io_check(struct nvmf_cmd *cmd)
{
	struct ns_resv *r = cmd->ns->resv;
	uint16_t st;

	cmd->resv_seen = atomic_load(&r->abort_gen);
	/* Another gateway changed the reservation: read it before checking. */
	st = refresh(r, cmd->ns);
	if (st != 0)
		return st;
	if (atomic_load_explicit(&r->rtype, memory_order_acquire) == NVME_RESV_NONE)
		return 0;
	pthread_rwlock_rdlock(&r->lock);
	st = access_check(&r->st, cmd->conn->ctrl->hostid, cmd_sqe(cmd)->opc);
	pthread_rwlock_unlock(&r->lock);
	return st;
}

bool resv_io_aborted(struct nvmf_cmd *cmd)
{
	struct ns_resv *r = cmd->ns->resv;
	uint64_t now = atomic_load(&r->abort_gen);
	bool hit = false;

	if (now == cmd->resv_seen)
		return false;
	pthread_rwlock_rdlock(&r->lock);
	for (uint64_t g = cmd->resv_seen + 1; g <= now && !hit; g++)
		hit = g + RESV_ABORT_RING > now &&
		      memcmp(r->aborted[g % RESV_ABORT_RING].hostid, cmd->conn->ctrl->hostid,
			     16) == 0;
	pthread_rwlock_unlock(&r->lock);
	return hit;
}

/*
 * The new state in place, after the store if it keeps it (a shared one
 * always, a file only with PTPL); r->op_lock held.  -ECANCELED: another
 * gateway changed the shared state first.
 */
static int commit(struct ns_resv *r, const struct nvmf_ns *ns, const struct resv_state *st,
		  const struct resv_notices *out)
{
	uint64_t version = r->version;
	uint8_t *buf = NULL, *msg = NULL;
	size_t len = 0, msglen = 0;
	int rc = 0;

	if (r->shared || st->ptpl || (r->st.ptpl && r->store != NULL)) {
		buf = malloc(RESV_STATE_MAX);
		msg = malloc(NVMF_RESV_MSG_MAX);
		if (buf == NULL || msg == NULL) {
			rc = -ENOMEM;
		} else {
			len = r->shared || st->ptpl ? state_encode(r, ns, st, buf) : 0;
			msglen = msg_encode(out, msg, NVMF_RESV_MSG_MAX);
			rc = r->store->ops->save(r->store, r->version, buf, len, msg, msglen,
						 &version);
		}
	}
	free(buf);
	free(msg);
	if (rc == -ECANCELED)
		return rc;
	if (rc != 0) {
		NVMF_ERR("nvmfd: namespace %u: reservation state %s not written: %s; the "
			 "command fails and nothing changes", ns->nsid, r->store->where,
			 strerror(-rc));
		return rc;
	}
	install(r, st, version);
	if (out->abort) {
		pthread_rwlock_wrlock(&r->lock);
		record_aborts(r, out);
		pthread_rwlock_unlock(&r->lock);
	}
	return 0;
}

/* A line for every change a command made (none for a repeat). */
static void log_change(struct nvmf_cmd *cmd, const struct resv_state *old,
		       const struct resv_state *st)
{
	struct nvmf_ctrl *ctrl = cmd->conn->ctrl;

	if (old->rtype == st->rtype && old->nregs == st->nregs && old->gen == st->gen &&
	    old->ptpl == st->ptpl && memcmp(old->holder, st->holder, 16) == 0)
		return;
	NVMF_INFO("nvmfd: %s namespace %u: host %s: %u registrants, reservation %s%s",
		  ctrl->subsys->nqn, cmd->ns->nsid, ctrl->hostnqn, st->nregs, rtype_name(st->rtype),
		  st->ptpl ? " (persists through power loss)" : "");
}

/* The command's change to st, with what hosts hear of it in out. */
static uint16_t apply(struct nvmf_cmd *cmd, struct resv_state *st, struct resv_notices *out)
{
	const struct nvme_sqe *sqe = cmd_sqe(cmd);
	const uint8_t *self = cmd->conn->ctrl->hostid;
	bool can_persist = cmd->ns->resv->store != NULL;

	switch (sqe->opc) {
	case NVME_IO_RESV_REGISTER: {
		struct nvme_resv_register_data d;

		memcpy(&d, cmd->buf, sizeof(d));
		return op_register(st, self, sqe->cdw10, &d, can_persist, out);
	}
	case NVME_IO_RESV_ACQUIRE: {
		struct nvme_resv_acquire_data d;

		memcpy(&d, cmd->buf, sizeof(d));
		return op_acquire(st, self, sqe->cdw10, &d, out);
	}
	case NVME_IO_RESV_RELEASE: {
		struct nvme_resv_release_data d;

		memcpy(&d, cmd->buf, sizeof(d));
		return op_release(st, self, sqe->cdw10, &d, out);
	}
	default: /* Set Features 83h */
		st->ptpl = (sqe->cdw11 & 1) != 0;
		return 0;
	}
}

/*
 * Decide on the current state and commit; r->op_lock held.  A shared
 * state is read first, and decided on again when another gateway saved
 * before this one could.
 */
static uint16_t decide_and_commit(struct nvmf_cmd *cmd, struct resv_state *old,
				  struct resv_state *st, struct resv_notices *out)
{
	struct ns_resv *r = cmd->ns->resv;
	uint16_t status = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);

	for (unsigned attempt = 0; attempt < RESV_CAS_TRIES; attempt++) {
		int rc;

		if (r->shared)
			atomic_store(&r->stale, true);
		if (refresh_locked(r, cmd->ns) != 0)
			return NVME_STATUS(NVME_SCT_PATH, NVME_SC_INTERNAL_PATH_ERROR);
		*old = r->st;
		*st = r->st;
		memset(out, 0, sizeof(*out));
		status = apply(cmd, st, out);
		if (status != 0)
			return status;
		rc = commit(r, cmd->ns, st, out);
		if (rc == 0)
			return 0;
		if (rc != -ECANCELED)
			return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
		NVMF_DEBUG("nvmfd: namespace %u: another gateway changed the reservation first; "
			   "deciding again on its state", cmd->ns->nsid);
	}
	NVMF_ERR("nvmfd: namespace %u: reservation state %s: other gateways changed it %u "
		 "times in a row; the command fails", cmd->ns->nsid, r->store->where,
		 RESV_CAS_TRIES);
	return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
}

static void resv_work(struct nvmf_work *work)
{
	struct nvmf_cmd *cmd = cmd_of_work(work);
	struct nvmf_ctrl *ctrl = cmd->conn->ctrl;
	struct ns_resv *r = cmd->ns->resv;
	struct resv_state *st = malloc(sizeof(*st)), *old = malloc(sizeof(*old));
	struct resv_notices *out = calloc(1, sizeof(*out));
	uint16_t status = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);

	if (st == NULL || old == NULL || out == NULL)
		goto done;
	nvmf_mutex_lock(&r->op_lock);
	status = decide_and_commit(cmd, old, st, out);
	nvmf_mutex_unlock(&r->op_lock);
	if (status == 0) {
		log_change(cmd, old, st);
		deliver(ctrl->subsys, cmd->ns->nsid, out);
	} else if (status == conflict()) {
		NVMF_DEBUG("nvmfd: namespace %u: host %s: reservation command %#x: conflict",
			   cmd->ns->nsid, ctrl->hostnqn, cmd_sqe(cmd)->opc);
	}
done:
	free(st);
	free(old);
	free(out);
	cmd_complete(cmd, status, 0, 0);
}

static void resv_data_in(struct nvmf_cmd *cmd)
{
	cmd_execute(cmd, resv_work, false);
}

/* Reservation Report, extended data structure only: our host identifiers
 * are 128 bits (NVMe-oF), so the 64-bit form is refused as Linux nvmet
 * and SPDK refuse it (Host Identifier Inconsistent Format). */
static void resv_report(struct nvmf_cmd *cmd)
{
	const struct nvme_sqe *sqe = cmd_sqe(cmd);
	struct ns_resv *r = cmd->ns->resv;
	size_t len = ((size_t)sqe->cdw10 + 1) * 4, full;
	struct nvme_resv_status *hdr;
	uint16_t st = cmd_check_data(cmd, len, true);

	if (st == 0 && len > cmd->conn->target->params.max_io_size)
		st = invalid_field();
	if (st == 0 && !(sqe->cdw11 & NVME_RESV_REPORT_EDS))
		st = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_HOST_ID_INCONSISTENT_FORMAT);
	full = NVME_RESV_REPORT_EXT_HDR + RESV_MAX_REGS * sizeof(struct nvme_resv_registrant_ext);
	if (st == 0 && !cmd_buf(cmd, len > full ? len : full))
		st = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
	if (st == 0)
		st = refresh(r, cmd->ns);
	if (st != 0) {
		cmd_complete(cmd, st, 0, 0);
		return;
	}
	memset(cmd->buf, 0, len > full ? len : full);
	hdr = (struct nvme_resv_status *)cmd->buf;
	pthread_rwlock_rdlock(&r->lock);
	hdr->gen = r->st.gen;
	hdr->rtype = r->st.rtype;
	hdr->regctl = (uint16_t)r->st.nregs;
	hdr->ptpls = r->st.ptpl;
	for (unsigned i = 0; i < r->st.nregs; i++) {
		struct nvme_resv_registrant_ext *e =
			(struct nvme_resv_registrant_ext *)(cmd->buf + NVME_RESV_REPORT_EXT_HDR) + i;

		e->cntlid = 0xffff; /* dynamic controller model */
		e->rcsts = is_holder(&r->st, r->st.regs[i].hostid) ? NVME_RESV_RCSTS_HOLDER : 0;
		e->rkey = r->st.regs[i].rkey;
		memcpy(e->hostid, r->st.regs[i].hostid, 16);
	}
	pthread_rwlock_unlock(&r->lock);
	cmd_reply_data(cmd, len);
}

void resv_io_command(struct nvmf_cmd *cmd)
{
	uint8_t opc = cmd_sqe(cmd)->opc;
	size_t len = opc == NVME_IO_RESV_RELEASE ? sizeof(struct nvme_resv_release_data)
					       : sizeof(struct nvme_resv_register_data);
	uint16_t st;

	if (opc == NVME_IO_RESV_REPORT) {
		resv_report(cmd);
		return;
	}
	st = cmd_check_data(cmd, len, false);
	if (st != 0) {
		cmd_complete(cmd, st, 0, 0);
		return;
	}
	cmd_receive_data(cmd, len, resv_data_in);
}

/* ------------------------------------------------------------------ */
/* Features 81h-83h (Base 2.0 §5.27.1.x)                                */
/* ------------------------------------------------------------------ */

/* The namespace a reservation feature names, with a reference, or a status. */
static uint16_t feature_ns(struct nvmf_cmd *cmd, struct nvmf_ns **out)
{
	uint32_t nsid = cmd_sqe(cmd)->nsid;

	*out = subsys_get_ns(cmd->conn->ctrl->subsys, nsid);
	if (*out == NULL)
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_NAMESPACE_OR_FORMAT);
	if ((*out)->resv == NULL) {
		ns_put(*out);
		*out = NULL;
		return invalid_field();
	}
	return 0;
}

static void get_host_id(struct nvmf_cmd *cmd)
{
	uint16_t st = cmd_check_data(cmd, 16, true);

	/* Fabrics host identifiers are 128 bits: only the extended form. */
	if (st == 0 && !(cmd_sqe(cmd)->cdw11 & NVME_FEAT_HOST_ID_EXHID))
		st = invalid_field();
	if (st == 0 && !cmd_buf(cmd, 16))
		st = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
	if (st != 0) {
		cmd_complete(cmd, st, 0, 0);
		return;
	}
	memcpy(cmd->buf, cmd->conn->ctrl->hostid, 16);
	cmd_reply_data(cmd, 16);
}

void resv_get_features(struct nvmf_cmd *cmd, unsigned sel)
{
	const struct nvme_sqe *sqe = cmd_sqe(cmd);
	uint8_t fid = sqe->cdw10 & 0xff;
	struct nvmf_ctrl *ctrl = cmd->conn->ctrl;
	struct nvmf_ns *ns;
	uint32_t dw0 = 0;
	uint16_t st;

	if (fid == NVME_FEAT_HOST_ID) {
		if (sel == NVME_FEAT_SEL_SUPPORTED)
			cmd_complete(cmd, 0, 0, 0); /* set by Connect, not changeable */
		else
			get_host_id(cmd);
		return;
	}
	st = feature_ns(cmd, &ns);
	if (st != 0) {
		cmd_complete(cmd, st, 0, 0);
		return;
	}
	if (sel == NVME_FEAT_SEL_SUPPORTED) {
		dw0 = (1u << 2) | (1u << 1); /* changeable, namespace specific */
	} else if (sel == NVME_FEAT_SEL_CURRENT && fid == NVME_FEAT_RESV_MASK) {
		nvmf_mutex_lock(&ctrl->lock);
		dw0 = ctrl->resv != NULL ? ctrl->resv->mask[ns->nsid] : 0;
		nvmf_mutex_unlock(&ctrl->lock);
	} else if (sel == NVME_FEAT_SEL_CURRENT) {
		pthread_rwlock_rdlock(&ns->resv->lock);
		dw0 = ns->resv->st.ptpl;
		pthread_rwlock_unlock(&ns->resv->lock);
	}
	ns_put(ns);
	cmd_complete(cmd, 0, dw0, 0);
}

static uint16_t set_mask(struct nvmf_cmd *cmd)
{
	const struct nvme_sqe *sqe = cmd_sqe(cmd);
	struct nvmf_ctrl *ctrl = cmd->conn->ctrl;
	uint8_t mask = (uint8_t)(sqe->cdw11 & NVME_RESV_MASK_ALL);
	struct ctrl_resv *cr;
	struct nvmf_ns *ns = NULL;
	uint16_t st = 0;

	if (sqe->nsid != 0xffffffffu && (st = feature_ns(cmd, &ns)) != 0)
		return st;
	nvmf_mutex_lock(&ctrl->lock);
	cr = ctrl_resv_locked(ctrl);
	if (cr == NULL)
		st = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR);
	else if (ns != NULL)
		cr->mask[ns->nsid] = mask;
	else
		memset(cr->mask, mask, sizeof(cr->mask)); /* every namespace */
	nvmf_mutex_unlock(&ctrl->lock);
	if (ns != NULL)
		ns_put(ns);
	return st;
}

void resv_set_features(struct nvmf_cmd *cmd)
{
	uint8_t fid = cmd_sqe(cmd)->cdw10 & 0xff;
	struct nvmf_ns *ns;
	uint16_t st;

	switch (fid) {
	case NVME_FEAT_HOST_ID:
		/* The host identifier came with Connect (NVMe-oF 1.1 §3.3). */
		st = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR);
		break;
	case NVME_FEAT_RESV_MASK:
		st = set_mask(cmd);
		break;
	default: /* NVME_FEAT_RESV_PERSIST */
		st = feature_ns(cmd, &ns);
		if (st == 0 && (cmd_sqe(cmd)->cdw11 & 1) && ns->resv->store == NULL)
			st = invalid_field(); /* nowhere to persist to */
		if (st == 0) {
			cmd->ns = ns; /* the command's reference, dropped as it ends */
			cmd_execute(cmd, resv_work, false);
			return;
		}
		if (ns != NULL)
			ns_put(ns);
		break;
	}
	cmd_complete(cmd, st, 0, 0);
}
