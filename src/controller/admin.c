/* SPDX-License-Identifier: MIT */
/*
 * The controller: properties (CC.EN / CC.SHN driving CSTS.RDY / SHST),
 * admin commands (Identify, Get Log Page, Get/Set Features, Asynchronous
 * Event Request, Keep Alive, Abort) for NVM and discovery controllers, and
 * asynchronous event delivery.  NVMe Base 2.0 §3.1.3, §5; NVMe-oF 1.1 §5.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/admin.h"
#include "controller/ana.h"
#include "util/lock.h"
#include "util/log.h"

#define CTRL_VS NVMF_TARGET_VS
#define CTRL_CAP_TO 15                   /* CSTS.RDY within 7.5 s */
#define CTRL_CTRATT_HID128 (1u << 0)     /* 128-bit host identifier */
#define CTRL_CTRATT_TBKAS (1u << 6)      /* traffic based keep alive */
#define CTRL_FRMW_ONE_SLOT (1u << 1)     /* bits 3:1: one firmware slot */
#define CTRL_TEMP_KELVIN 296
#define CTRL_WCTEMP 343
#define CTRL_CCTEMP 373
#define CNS_CS_CONTROLLER 0x06           /* I/O command set specific controller */
#define SET_FEATURES_SAVE (1u << 31)
#define ABORT_NOT_ABORTED 1u
#define NSID_BROADCAST 0xffffffffu

static uint16_t status_generic(uint8_t sc)
{
	return NVME_STATUS(NVME_SCT_GENERIC, sc);
}

static uint16_t status_specific(uint8_t sc)
{
	return NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC, sc);
}

void ctrl_touch_at(struct nvmf_ctrl *ctrl, uint64_t now_ms)
{
	atomic_store_explicit(&ctrl->last_activity_ms, now_ms, memory_order_relaxed);
}

void ctrl_touch(struct nvmf_ctrl *ctrl)
{
	ctrl_touch_at(ctrl, ctrl_now_ms());
}

uint16_t ctrl_granted_io_queues(struct nvmf_ctrl *ctrl)
{
	uint16_t n;

	nvmf_mutex_lock(&ctrl->lock);
	n = ctrl->nr_io_queues;
	nvmf_mutex_unlock(&ctrl->lock);
	return n;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

struct nvmf_ctrl *ctrl_create(struct nvmf_target *t, struct nvmf_subsys *subsys,
			      struct nvmf_conn *admin, const struct nvmf_connect_data *data,
			      uint32_t kato_ms, uint16_t *status)
{
	struct nvmf_ctrl *ctrl = calloc(1, sizeof(*ctrl));
	uint16_t max_io = subsys->discovery ? 0
			  : subsys->max_io_queues != 0 ? subsys->max_io_queues
						       : t->params.max_io_queues;
	unsigned span;
	bool found = false;

	*status = status_specific(NVME_SC_CONNECT_CONTROLLER_BUSY);
	if (ctrl == NULL)
		return NULL;
	ctrl->io = calloc((size_t)max_io + 1, sizeof(*ctrl->io));
	if (ctrl->io == NULL) {
		free(ctrl);
		return NULL;
	}
	nvmf_mutex_init(&ctrl->lock);
	ctrl->target = t;
	ctrl->subsys = subsys;
	ctrl->portid = admin->portid;
	memcpy(ctrl->local_traddr, admin->local_traddr, sizeof(ctrl->local_traddr));
	memcpy(ctrl->hostnqn, data->hostnqn, sizeof(ctrl->hostnqn) - 1);
	memcpy(ctrl->hostid, data->hostid, sizeof(ctrl->hostid));
	ctrl->ioccsz = (uint32_t)(sizeof(struct nvme_sqe) + admin->inline_data_size) / 16;
	ctrl->max_qsize = t->params.max_queue_depth;
	ctrl->max_io_queues = max_io;
	ctrl->nr_io_queues = max_io;
	atomic_init(&ctrl->vwc, true);
	atomic_init(&ctrl->kato_ms, kato_ms);
	atomic_init(&ctrl->last_activity_ms, ctrl_now_ms());
	atomic_init(&ctrl->csts, 0);
	atomic_init(&ctrl->dead, false);
	ctrl->admin = admin;
	ctrl->nconns = 1;

	nvmf_mutex_lock(&t->lock);
	if (!subsys->discovery)
		ctrl->ana = ana_port_get(t, admin->portid);
	span = subsys->removed || (!subsys->discovery && ctrl->ana == NULL)
		       ? 0
		       : (unsigned)subsys->cntlid_max - subsys->cntlid_min + 1;
	for (unsigned i = 0; i < span && !found; i++) {
		uint16_t id = subsys->next_cntlid;
		struct nvmf_ctrl *c;

		subsys->next_cntlid = id >= subsys->cntlid_max ? subsys->cntlid_min : id + 1;
		for (c = subsys->ctrls; c != NULL && c->cntlid != id; c = c->next)
			;
		if (c == NULL) {
			ctrl->cntlid = id;
			found = true;
		}
	}
	if (found) {
		ctrl->next = subsys->ctrls;
		subsys->ctrls = ctrl;
		subsys->refs++;
		t->nctrls++;
	}
	nvmf_mutex_unlock(&t->lock);
	if (!found) {
		NVMF_WARN("nvmfd: %s: no controller for %s: %s", admin->peer, subsys->nqn,
			  subsys->removed ? "the subsystem is being removed"
					  : "every controller ID in its range is in use");
		free(ctrl->io);
		pthread_mutex_destroy(&ctrl->lock);
		free(ctrl);
		return NULL;
	}
	*status = 0;
	return ctrl;
}

void ctrl_free(struct nvmf_ctrl *ctrl)
{
	NVMF_INFO("nvmfd: controller %u of %s (host %s) freed", ctrl->cntlid, ctrl->subsys->nqn,
		  ctrl->hostnqn);
	subsys_put(ctrl->subsys);
	auth_creds_clear(&ctrl->auth);
	resv_ctrl_free(ctrl);
	pthread_mutex_destroy(&ctrl->lock);
	free(ctrl->io);
	free(ctrl);
}

/* ------------------------------------------------------------------ */
/* Properties (Base 2.0 §3.1.3)                                        */
/* ------------------------------------------------------------------ */

static uint64_t ctrl_cap(const struct nvmf_ctrl *ctrl)
{
	/* MPSMIN = MPSMAX = 0: 4 KiB pages; no other page size applies. */
	return (uint64_t)(ctrl->max_qsize - 1) | NVME_CAP_CQR | ((uint64_t)CTRL_CAP_TO << 24) |
	       NVME_CAP_CSS_NVM;
}

uint16_t ctrl_property_get(struct nvmf_ctrl *ctrl, uint32_t ofst, bool size8, uint64_t *value)
{
	switch (ofst) {
	case NVME_PROP_CAP:
		*value = ctrl_cap(ctrl);
		return size8 ? 0 : status_generic(NVME_SC_INVALID_FIELD);
	case NVME_PROP_VS:
		*value = CTRL_VS;
		break;
	case NVME_PROP_CC:
		nvmf_mutex_lock(&ctrl->lock);
		*value = ctrl->cc;
		nvmf_mutex_unlock(&ctrl->lock);
		break;
	case NVME_PROP_CSTS:
		*value = atomic_load(&ctrl->csts);
		break;
	default:
		return status_generic(NVME_SC_INVALID_FIELD);
	}
	return size8 ? status_generic(NVME_SC_INVALID_FIELD) : 0;
}

/* The I/O queues go with a controller reset (Base 2.0 §3.7.2). */
static void ctrl_drop_io_queues(struct nvmf_ctrl *ctrl)
{
	struct nvmf_target *t = ctrl->target;

	nvmf_mutex_lock(&t->lock);
	for (unsigned q = 1; q <= ctrl->max_io_queues; q++)
		if (ctrl->io[q] != NULL)
			atomic_store(&ctrl->io[q]->closing, true);
	nvmf_mutex_unlock(&t->lock);
	target_wake_reaper(t);
}

static void shutdown_work(struct nvmf_work *work)
{
	struct nvmf_cmd *cmd = cmd_of_work(work);
	struct nvmf_ctrl *ctrl = cmd->conn->ctrl;
	int rc = ctrl->subsys->discovery ? 0 : subsys_flush_all(ctrl->subsys);

	if (rc != 0)
		NVMF_ERR("nvmfd: controller %u: flush at shutdown failed: %s", ctrl->cntlid,
			 strerror(-rc));
	nvmf_mutex_lock(&ctrl->lock);
	/* Only if the host has not cleared SHN meanwhile. */
	if (NVME_CC_SHN(ctrl->cc) != 0)
		atomic_store(&ctrl->csts, (atomic_load(&ctrl->csts) & ~NVME_CSTS_SHST_MASK) |
						  NVME_CSTS_SHST_COMPLETE);
	nvmf_mutex_unlock(&ctrl->lock);
	NVMF_DEBUG("nvmfd: controller %u: shutdown complete", ctrl->cntlid);
	cmd_complete(cmd, 0, 0, 0);
}

/* A CC value the controller can run with (Base 2.0 §3.1.3.5). */
static bool cc_valid(const struct nvmf_ctrl *ctrl, uint32_t cc)
{
	if (NVME_CC_CSS(cc) != 0 || NVME_CC_MPS(cc) != 0 || NVME_CC_AMS(cc) != 0)
		return false;
	/* Discovery controllers get IOSQES/IOCQES from Linux anyway: ignore them. */
	if (ctrl->subsys->discovery)
		return true;
	return NVME_CC_IOSQES(cc) == 6 && NVME_CC_IOCQES(cc) == 4;
}

void ctrl_property_set(struct nvmf_cmd *cmd)
{
	const struct nvmf_property_set_cmd *c = (const struct nvmf_property_set_cmd *)cmd_sqe(cmd);
	struct nvmf_ctrl *ctrl = cmd->conn->ctrl;
	uint32_t old, new = (uint32_t)c->value;
	uint32_t csts;
	bool reset = false, shutdown = false;

	if (c->ofst != NVME_PROP_CC || (c->attrib & 7) != NVMF_PROP_SIZE_4) {
		cmd_complete(cmd, status_generic(NVME_SC_INVALID_FIELD), 0, 0);
		return;
	}
	nvmf_mutex_lock(&ctrl->lock);
	old = ctrl->cc;
	csts = atomic_load(&ctrl->csts);
	if ((new & NVME_CC_EN) && !(old & NVME_CC_EN)) {
		if (cc_valid(ctrl, new)) {
			csts |= NVME_CSTS_RDY;
		} else {
			/* As Linux nvmet: a fatal status the host sees in CSTS. */
			NVMF_WARN("nvmfd: controller %u: unusable CC %#x (CSS/MPS/AMS/IOSQES/IOCQES)",
				  ctrl->cntlid, new);
			csts |= NVME_CSTS_CFS;
		}
	} else if (!(new & NVME_CC_EN) && (old & NVME_CC_EN)) {
		csts = 0;
		reset = true;
	}
	if (NVME_CC_SHN(new) != 0 && NVME_CC_SHN(old) == 0) {
		csts = (csts & ~NVME_CSTS_SHST_MASK) | NVME_CSTS_SHST_OCCURRING;
		shutdown = true;
	} else if (NVME_CC_SHN(new) == 0) {
		csts &= ~NVME_CSTS_SHST_MASK;
	}
	ctrl->cc = new;
	atomic_store(&ctrl->csts, csts);
	nvmf_mutex_unlock(&ctrl->lock);

	if (reset) {
		NVMF_DEBUG("nvmfd: controller %u: reset (CC.EN cleared)", ctrl->cntlid);
		ctrl_drop_io_queues(ctrl);
	}
	if (shutdown) {
		/* Flushing may block: off the receive thread, then SHST = complete. */
		cmd_execute(cmd, shutdown_work, false);
		return;
	}
	cmd_complete(cmd, 0, 0, 0);
}

/* ------------------------------------------------------------------ */
/* Identify (Base 2.0 §5.17)                                           */
/* ------------------------------------------------------------------ */

static void copy_padded(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	memset(dst, ' ', size);
	memcpy(dst, src, n < size ? n : size);
}

static uint8_t mdts_of(uint32_t max_io_size)
{
	uint8_t mdts = 0;

	while ((4096u << mdts) < max_io_size)
		mdts++;
	return mdts;
}

static void identify_controller_locked(struct nvmf_ctrl *ctrl, struct nvme_id_ctrl *id)
{
	struct nvmf_subsys *subsys = ctrl->subsys;
	struct nvmf_target *t = ctrl->target;

	memset(id, 0, sizeof(*id));
	copy_padded(id->sn, sizeof(id->sn), subsys->serial);
	copy_padded(id->mn, sizeof(id->mn), subsys->model);
	copy_padded(id->fr, sizeof(id->fr), subsys->firmware);
	id->mdts = mdts_of(t->params.max_io_size);
	id->cntlid = ctrl->cntlid;
	id->ver = CTRL_VS;
	id->kas = CTRL_KAS;
	id->maxcmd = ctrl->max_qsize;
	id->lpa = NVME_CTRL_LPA_EXTENDED;
	id->aerl = CTRL_AERL - 1;
	id->elpe = CTRL_ERROR_SLOTS - 1;
	/* Both in-capsule (offset) and transport data blocks (NVMe/TCP 1.0a §3.3). */
	id->sgls = NVME_CTRL_SGLS_SUPPORTED | NVME_CTRL_SGLS_OFFSET;
	id->ioccsz = ctrl->ioccsz;
	id->iorcsz = sizeof(struct nvme_cqe) / 16;
	id->icdoff = 0;
	id->fcatt = 0;  /* dynamic controller model */
	id->msdbd = 1;
	id->ctratt = CTRL_CTRATT_HID128 | CTRL_CTRATT_TBKAS;
	if (subsys->discovery) {
		id->cntrltype = NVME_CTRL_TYPE_DISCOVERY;
		id->oaes = NVME_CTRL_OAES_DISCOVERY_CHANGE;
		snprintf(id->subnqn, sizeof(id->subnqn), "%s", NVMF_DISCOVERY_NQN);
		return;
	}
	id->cntrltype = NVME_CTRL_TYPE_IO;
	id->vid = subsys->vendor_id;
	id->ssvid = subsys->subsys_vendor_id;
	id->ieee[0] = (uint8_t)subsys->ieee_oui; /* little endian, as Linux nvmet */
	id->ieee[1] = (uint8_t)(subsys->ieee_oui >> 8);
	id->ieee[2] = (uint8_t)(subsys->ieee_oui >> 16);
	id->rab = 6;
	id->oaes = NVME_CTRL_OAES_NS_ATTR;
	ana_identify_ctrl(id);
	id->acl = 3;
	id->frmw = NVME_CTRL_FRMW_SLOT1_RO | CTRL_FRMW_ONE_SLOT;
	id->lpa |= NVME_CTRL_LPA_CMD_EFFECTS;
	id->wctemp = CTRL_WCTEMP;
	id->cctemp = CTRL_CCTEMP;
	id->sqes = (6 << 4) | 6;
	id->cqes = (4 << 4) | 4;
	id->nn = subsys->max_namespaces;
	id->mnan = id->nn;
	id->oncs = NVME_CTRL_ONCS_COMPARE | NVME_CTRL_ONCS_DSM | NVME_CTRL_ONCS_WRITE_ZEROES |
		   NVME_CTRL_ONCS_RESERVATIONS;
	id->vwc = NVME_CTRL_VWC_PRESENT | NVME_CTRL_VWC_FLUSH_ALL_NS;
	id->ofcs = NVME_CTRL_OFCS_DISCONNECT;
	snprintf(id->subnqn, sizeof(id->subnqn), "%s", subsys->nqn);
	id->psd[0].mp = 0x9c4;    /* 25 W: a single, nominal power state */
	id->psd[0].enlat = 0x10;
	id->psd[0].exlat = 0x4;
}

/* A reload rewrites the subsystem's attributes under the target lock. */
static void identify_controller(struct nvmf_ctrl *ctrl, struct nvme_id_ctrl *id)
{
	nvmf_mutex_lock(&ctrl->target->lock);
	identify_controller_locked(ctrl, id);
	nvmf_mutex_unlock(&ctrl->target->lock);
}

static void identify_namespace(const struct nvmf_ns *ns, struct nvme_id_ns *id)
{
	memset(id, 0, sizeof(*id));
	id->anagrpid = ana_ns_grpid(ns);
	id->nsze = atomic_load(&ns->nsze);
	id->ncap = id->nsze;
	id->nuse = id->nsze;
	id->nlbaf = 0;
	id->flbas = 0;
	id->lbaf[0].lbads = ns->lbads;
	id->nmic = 1;  /* may be shared by several controllers */
	id->rescap = resv_rescap(ns);
	id->dlfeat = NVME_NS_DLFEAT_WZ_DEALLOC |
		     (ns->bdev->deallocate_zeroes ? NVME_NS_DLFEAT_READ_ZEROES : 0);
	if (ns->bdev->readonly)
		id->nsattr = 1; /* write protected */
	memcpy(id->nguid, ns->nguid, sizeof(id->nguid));
	memcpy(id->eui64, ns->eui64, sizeof(id->eui64));
}

static size_t put_desc(uint8_t *p, uint8_t type, const void *val, uint8_t len)
{
	struct nvme_ns_id_desc d = {.nidt = type, .nidl = len};

	memcpy(p, &d, sizeof(d));
	memcpy(p + sizeof(d), val, len);
	return sizeof(d) + len;
}

static void identify_ns_descs(const struct nvmf_ns *ns, uint8_t *buf)
{
	const uint8_t csi_nvm = 0;
	size_t off = 0;

	memset(buf, 0, 4096);
	off += put_desc(buf + off, NVME_NIDT_EUI64, ns->eui64, sizeof(ns->eui64));
	off += put_desc(buf + off, NVME_NIDT_NGUID, ns->nguid, sizeof(ns->nguid));
	off += put_desc(buf + off, NVME_NIDT_UUID, ns->uuid, sizeof(ns->uuid));
	put_desc(buf + off, NVME_NIDT_CSI, &csi_nvm, sizeof(csi_nvm));
}

static void handle_identify(struct nvmf_cmd *cmd)
{
	const struct nvme_sqe *sqe = cmd_sqe(cmd);
	struct nvmf_ctrl *ctrl = cmd->conn->ctrl;
	struct nvmf_subsys *subsys = ctrl->subsys;
	uint8_t cns = sqe->cdw10 & 0xff;
	uint8_t csi = (uint8_t)(sqe->cdw11 >> 24);
	struct nvmf_ns *ns;
	uint16_t st = cmd_check_data(cmd, 4096, true);

	if (st == 0 && !cmd_buf(cmd, 4096))
		st = status_generic(NVME_SC_INTERNAL_DEVICE_ERROR);
	if (st != 0) {
		cmd_complete(cmd, st, 0, 0);
		return;
	}
	if (subsys->discovery && cns != NVME_CNS_CONTROLLER) {
		cmd_complete(cmd, status_generic(NVME_SC_INVALID_FIELD), 0, 0);
		return;
	}
	memset(cmd->buf, 0, 4096);
	switch (cns) {
	case NVME_CNS_CONTROLLER:
		identify_controller(ctrl, (struct nvme_id_ctrl *)cmd->buf);
		break;
	case NVME_CNS_NAMESPACE:
		if (sqe->nsid == 0 || (sqe->nsid > NVMF_MAX_NSID && sqe->nsid != NSID_BROADCAST)) {
			cmd_complete(cmd, status_generic(NVME_SC_INVALID_NAMESPACE_OR_FORMAT), 0, 0);
			return;
		}
		/* An inactive or broadcast NSID reads as zeroes (Base 2.0 §5.17.2.1). */
		ns = subsys_get_ns(subsys, sqe->nsid);
		if (ns != NULL) {
			identify_namespace(ns, (struct nvme_id_ns *)cmd->buf);
			ns_put(ns);
		}
		break;
	case NVME_CNS_ACTIVE_NS_LIST: {
		uint32_t *list = (uint32_t *)cmd->buf;
		unsigned n = 0;

		if (sqe->nsid >= 0xfffffffeu) {
			cmd_complete(cmd, status_generic(NVME_SC_INVALID_NAMESPACE_OR_FORMAT), 0, 0);
			return;
		}
		pthread_rwlock_rdlock(&subsys->ns_lock);
		for (uint32_t id = sqe->nsid + 1; id <= NVMF_MAX_NSID && n < 1024; id++)
			if (subsys->ns[id] != NULL)
				list[n++] = id;
		pthread_rwlock_unlock(&subsys->ns_lock);
		break;
	}
	case NVME_CNS_NS_ID_DESCRIPTORS:
		ns = subsys_get_ns(subsys, sqe->nsid);
		if (ns == NULL) {
			cmd_complete(cmd, status_generic(NVME_SC_INVALID_NAMESPACE_OR_FORMAT), 0, 0);
			return;
		}
		identify_ns_descs(ns, cmd->buf);
		ns_put(ns);
		break;
	case CNS_CS_CONTROLLER:
		/* NVM command set: no limits beyond the Identify Controller ones. */
		if (csi != 0) {
			cmd_complete(cmd, status_generic(NVME_SC_INVALID_FIELD), 0, 0);
			return;
		}
		break;
	default:
		cmd_complete(cmd, status_generic(NVME_SC_INVALID_FIELD), 0, 0);
		return;
	}
	cmd_reply_data(cmd, 4096);
}

/* ------------------------------------------------------------------ */
/* Get Log Page (Base 2.0 §5.16)                                       */
/* ------------------------------------------------------------------ */

static void put_u128(uint8_t dst[16], uint64_t v)
{
	memset(dst, 0, 16);
	memcpy(dst, &v, sizeof(v));
}

static void log_smart(struct nvmf_ctrl *ctrl, struct nvme_smart_log *log)
{
	struct nvmf_target *t = ctrl->target;
	uint64_t reads = 0, writes = 0, read_bytes = 0, write_bytes = 0;
	struct timespec up;

	nvmf_mutex_lock(&t->lock);
	for (unsigned q = 1; q <= ctrl->max_io_queues; q++) {
		struct nvmf_conn *c = ctrl->io[q];

		if (c == NULL)
			continue;
		stats_conn_sum(c, NVMF_IO_OP_READ, &reads, &read_bytes);
		stats_conn_sum(c, NVMF_IO_OP_WRITE, &writes, &write_bytes);
	}
	nvmf_mutex_unlock(&t->lock);
	clock_gettime(CLOCK_MONOTONIC, &up);
	memset(log, 0, sizeof(*log));
	log->temperature = CTRL_TEMP_KELVIN;
	log->avail_spare = 100;
	log->spare_thresh = 10;
	/* Data units are thousands of 512-byte units, rounded up. */
	put_u128(log->data_units_read, (read_bytes / 512 + 999) / 1000);
	put_u128(log->data_units_written, (write_bytes / 512 + 999) / 1000);
	put_u128(log->host_read_commands, reads);
	put_u128(log->host_write_commands, writes);
	put_u128(log->power_cycles, 1);
	put_u128(log->power_on_hours, (uint64_t)up.tv_sec / 3600);
	nvmf_mutex_lock(&ctrl->lock);
	put_u128(log->num_err_log_entries, ctrl->error_count);
	nvmf_mutex_unlock(&ctrl->lock);
}

static void log_effects(struct nvme_cmd_effects_log *log)
{
	static const uint8_t admin_ops[] = {
		NVME_ADMIN_GET_LOG_PAGE, NVME_ADMIN_IDENTIFY,          NVME_ADMIN_ABORT,
		NVME_ADMIN_SET_FEATURES, NVME_ADMIN_GET_FEATURES,       NVME_ADMIN_ASYNC_EVENT_REQUEST,
		NVME_ADMIN_KEEP_ALIVE,   NVME_ADMIN_FABRICS,
	};

	memset(log, 0, sizeof(*log));
	for (size_t i = 0; i < sizeof(admin_ops); i++)
		log->acs[admin_ops[i]] = NVME_CMD_EFFECTS_CSUPP;
	log->iocs[NVME_IO_FLUSH] = NVME_CMD_EFFECTS_CSUPP;
	log->iocs[NVME_IO_READ] = NVME_CMD_EFFECTS_CSUPP;
	log->iocs[NVME_IO_COMPARE] = NVME_CMD_EFFECTS_CSUPP;
	log->iocs[NVME_IO_WRITE] = NVME_CMD_EFFECTS_CSUPP | NVME_CMD_EFFECTS_LBCC;
	log->iocs[NVME_IO_WRITE_ZEROES] = NVME_CMD_EFFECTS_CSUPP | NVME_CMD_EFFECTS_LBCC;
	log->iocs[NVME_IO_DATASET_MANAGEMENT] = NVME_CMD_EFFECTS_CSUPP | NVME_CMD_EFFECTS_LBCC;
	log->iocs[NVME_IO_RESV_REGISTER] = NVME_CMD_EFFECTS_CSUPP;
	log->iocs[NVME_IO_RESV_REPORT] = NVME_CMD_EFFECTS_CSUPP;
	log->iocs[NVME_IO_RESV_ACQUIRE] = NVME_CMD_EFFECTS_CSUPP;
	log->iocs[NVME_IO_RESV_RELEASE] = NVME_CMD_EFFECTS_CSUPP;
}

static void log_errors(struct nvmf_ctrl *ctrl, struct nvme_error_log_entry *entries)
{
	nvmf_mutex_lock(&ctrl->lock);
	/* Newest first. */
	for (unsigned i = 0; i < CTRL_ERROR_SLOTS && i < ctrl->error_count; i++)
		entries[i] = ctrl->errors[(ctrl->error_count - 1 - i) % CTRL_ERROR_SLOTS];
	nvmf_mutex_unlock(&ctrl->lock);
}

static void log_changed_ns(struct nvmf_ctrl *ctrl, struct nvme_changed_ns_list_log *log,
			   bool retain)
{
	nvmf_mutex_lock(&ctrl->lock);
	if (ctrl->changed_overflow)
		log->nsid[0] = NVME_CHANGED_NS_OVERFLOW;
	else
		memcpy(log->nsid, ctrl->changed_ns, ctrl->nchanged * sizeof(uint32_t));
	if (!retain) {
		/* Read: the list starts over and the event is unmasked (§5.16.1.5). */
		ctrl->nchanged = 0;
		ctrl->changed_overflow = false;
		ctrl->ns_aen_masked = false;
	}
	nvmf_mutex_unlock(&ctrl->lock);
}

/* Read without RAE: the notice it reports may be raised again. */
static void log_read_unmask(struct nvmf_ctrl *ctrl, bool retain, bool *masked)
{
	if (retain)
		return;
	nvmf_mutex_lock(&ctrl->lock);
	*masked = false;
	nvmf_mutex_unlock(&ctrl->lock);
}

static void handle_get_log_page(struct nvmf_cmd *cmd)
{
	const struct nvme_sqe *sqe = cmd_sqe(cmd);
	struct nvmf_ctrl *ctrl = cmd->conn->ctrl;
	uint8_t lid = NVME_GLP_LID(sqe->cdw10);
	bool retain = NVME_GLP_RAE(sqe->cdw10) != 0;
	uint64_t len = ((uint64_t)NVME_GLP_NUMD(sqe->cdw10, sqe->cdw11) + 1) * 4;
	uint64_t offset = sqe->cdw12 | ((uint64_t)sqe->cdw13 << 32);
	static _Thread_local union {
		uint8_t raw[4096];
		struct nvme_supported_log_pages supported;
		struct nvme_error_log_entry errors[CTRL_ERROR_SLOTS];
		struct nvme_smart_log smart;
		struct nvme_firmware_slot_log fw;
		struct nvme_changed_ns_list_log changed;
		struct nvme_cmd_effects_log effects;
		struct nvme_resv_notification_log resv;
	} page;
	uint8_t *log = page.raw, *owned = NULL;
	size_t log_len = 0;
	uint16_t st;

	/* Offsets are in bytes, dword aligned (Base 2.0 §5.16). */
	st = offset % 4 != 0 ? status_generic(NVME_SC_INVALID_FIELD) : cmd_check_data(cmd, len, true);
	if (st == 0 && !cmd_buf(cmd, len))
		st = status_generic(NVME_SC_INTERNAL_DEVICE_ERROR);
	if (st != 0) {
		cmd_complete(cmd, st, 0, 0);
		return;
	}
	memset(&page, 0, sizeof(page));
	if (ctrl->subsys->discovery) {
		switch (lid) {
		case NVME_LOG_SUPPORTED_PAGES:
			page.supported.lid[NVME_LOG_SUPPORTED_PAGES] = 1;
			page.supported.lid[NVME_LOG_DISCOVERY] = 1;
			log_len = sizeof(page.supported);
			break;
		case NVME_LOG_DISCOVERY:
			owned = discovery_log_build(ctrl->target, ctrl, &log_len);
			if (owned == NULL) {
				cmd_complete(cmd, status_generic(NVME_SC_INTERNAL_DEVICE_ERROR), 0, 0);
				return;
			}
			log = owned;
			log_read_unmask(ctrl, retain, &ctrl->disc_aen_masked);
			break;
		default:
			cmd_complete(cmd, status_specific(NVME_SC_INVALID_LOG_PAGE), 0, 0);
			return;
		}
	} else {
		switch (lid) {
		case NVME_LOG_SUPPORTED_PAGES:
			for (unsigned l = NVME_LOG_SUPPORTED_PAGES; l <= NVME_LOG_COMMAND_EFFECTS; l++)
				page.supported.lid[l] = 1;
			page.supported.lid[NVME_LOG_RESERVATION] = 1;
			page.supported.lid[NVME_LOG_ANA] = 1;
			log_len = sizeof(page.supported);
			break;
		case NVME_LOG_ERROR:
			log_errors(ctrl, page.errors);
			log_len = sizeof(page.errors);
			break;
		case NVME_LOG_SMART:
			log_smart(ctrl, &page.smart);
			log_len = sizeof(page.smart);
			break;
		case NVME_LOG_FIRMWARE_SLOT:
			page.fw.afi = 1;
			memcpy(page.fw.frs[0], ctrl->subsys->firmware, strlen(ctrl->subsys->firmware));
			log_len = sizeof(page.fw);
			break;
		case NVME_LOG_CHANGED_NS_LIST:
			log_changed_ns(ctrl, &page.changed, retain);
			log_len = sizeof(page.changed);
			break;
		case NVME_LOG_COMMAND_EFFECTS:
			log_effects(&page.effects);
			log_len = sizeof(page.effects);
			break;
		case NVME_LOG_RESERVATION:
			resv_log_page(ctrl, &page.resv, retain);
			log_len = sizeof(page.resv);
			break;
		case NVME_LOG_ANA:
			owned = ana_log_build(ctrl, NVME_GLP_LSP(sqe->cdw10) & NVME_ANA_LSP_RGO,
					      &log_len);
			if (owned == NULL) {
				cmd_complete(cmd, status_generic(NVME_SC_INTERNAL_DEVICE_ERROR), 0, 0);
				return;
			}
			log = owned;
			log_read_unmask(ctrl, retain, &ctrl->ana_aen_masked);
			break;
		default:
			cmd_complete(cmd, status_specific(NVME_SC_INVALID_LOG_PAGE), 0, 0);
			return;
		}
	}
	if (offset > log_len) {
		free(owned);
		cmd_complete(cmd, status_generic(NVME_SC_INVALID_FIELD), 0, 0);
		return;
	}
	/* Past the end of the log reads as zeroes. */
	memset(cmd->buf, 0, len);
	memcpy(cmd->buf, log + offset, log_len - offset < len ? log_len - offset : len);
	free(owned);
	cmd_reply_data(cmd, len);
}

/* ------------------------------------------------------------------ */
/* Features (Base 2.0 §5.21, §5.27)                                    */
/* ------------------------------------------------------------------ */

static uint32_t aec_supported(const struct nvmf_ctrl *ctrl)
{
	return ctrl->subsys->discovery ? NVME_AEC_DISCOVERY_LOG_CHANGE
				       : NVME_AEC_NS_ATTR_NOTICES | NVME_AEC_ANA_CHANGE;
}

static bool io_queues_exist(struct nvmf_ctrl *ctrl)
{
	struct nvmf_target *t = ctrl->target;
	bool any = false;

	nvmf_mutex_lock(&t->lock);
	for (unsigned q = 1; q <= ctrl->max_io_queues && !any; q++)
		any = ctrl->io[q] != NULL;
	nvmf_mutex_unlock(&t->lock);
	return any;
}

static void handle_set_features(struct nvmf_cmd *cmd)
{
	const struct nvme_sqe *sqe = cmd_sqe(cmd);
	struct nvmf_ctrl *ctrl = cmd->conn->ctrl;
	uint8_t fid = sqe->cdw10 & 0xff;
	uint32_t v = sqe->cdw11, dw0 = 0;
	uint16_t st = 0;

	if (sqe->cdw10 & SET_FEATURES_SAVE) {
		cmd_complete(cmd, status_specific(NVME_SC_FEATURE_NOT_SAVEABLE), 0, 0);
		return;
	}
	if (fid >= NVME_FEAT_HOST_ID && fid <= NVME_FEAT_RESV_PERSIST && !ctrl->subsys->discovery) {
		resv_set_features(cmd);
		return;
	}
	switch (fid) {
	case NVME_FEAT_NUMBER_OF_QUEUES: {
		uint32_t nsqr = v & 0xffff, ncqr = v >> 16, granted;

		if (ctrl->subsys->discovery || nsqr == 0xffff || ncqr == 0xffff) {
			st = status_generic(NVME_SC_INVALID_FIELD);
			break;
		}
		/* Only before I/O queues exist (Base 2.0 §5.27.1.5). */
		if (io_queues_exist(ctrl)) {
			st = status_generic(NVME_SC_COMMAND_SEQUENCE_ERROR);
			break;
		}
		granted = (nsqr < ncqr ? nsqr : ncqr) + 1;
		if (granted > ctrl->max_io_queues)
			granted = ctrl->max_io_queues;
		nvmf_mutex_lock(&ctrl->lock);
		ctrl->nr_io_queues = (uint16_t)granted;
		nvmf_mutex_unlock(&ctrl->lock);
		dw0 = (granted - 1) | ((granted - 1) << 16);
		break;
	}
	case NVME_FEAT_KEEP_ALIVE_TIMER:
		atomic_store(&ctrl->kato_ms, v);
		ctrl_touch(ctrl);
		break;
	case NVME_FEAT_ASYNC_EVENT_CONFIG:
		if (v & ~aec_supported(ctrl)) {
			st = status_generic(NVME_SC_INVALID_FIELD);
			break;
		}
		nvmf_mutex_lock(&ctrl->lock);
		ctrl->aec = v;
		nvmf_mutex_unlock(&ctrl->lock);
		break;
	case NVME_FEAT_VOLATILE_WRITE_CACHE:
		if (ctrl->subsys->discovery) {
			st = status_generic(NVME_SC_INVALID_FIELD);
			break;
		}
		atomic_store(&ctrl->vwc, (v & 1) != 0);
		break;
	default:
		st = status_generic(NVME_SC_INVALID_FIELD);
		break;
	}
	cmd_complete(cmd, st, dw0, 0);
}

static void handle_get_features(struct nvmf_cmd *cmd)
{
	const struct nvme_sqe *sqe = cmd_sqe(cmd);
	struct nvmf_ctrl *ctrl = cmd->conn->ctrl;
	uint8_t fid = sqe->cdw10 & 0xff;
	unsigned sel = (sqe->cdw10 >> 8) & 7;
	bool dflt = sel == NVME_FEAT_SEL_DEFAULT || sel == NVME_FEAT_SEL_SAVED;
	uint32_t dw0 = 0;

	if (sel > NVME_FEAT_SEL_SUPPORTED) {
		cmd_complete(cmd, status_generic(NVME_SC_INVALID_FIELD), 0, 0);
		return;
	}
	if (fid >= NVME_FEAT_HOST_ID && fid <= NVME_FEAT_RESV_PERSIST && !ctrl->subsys->discovery) {
		resv_get_features(cmd, sel);
		return;
	}
	switch (fid) {
	case NVME_FEAT_NUMBER_OF_QUEUES:
		if (ctrl->subsys->discovery)
			goto invalid;
		nvmf_mutex_lock(&ctrl->lock);
		dw0 = (uint32_t)((dflt ? ctrl->max_io_queues : ctrl->nr_io_queues) - 1);
		nvmf_mutex_unlock(&ctrl->lock);
		dw0 |= dw0 << 16;
		break;
	case NVME_FEAT_KEEP_ALIVE_TIMER:
		dw0 = dflt ? 0 : atomic_load(&ctrl->kato_ms);
		break;
	case NVME_FEAT_ASYNC_EVENT_CONFIG:
		nvmf_mutex_lock(&ctrl->lock);
		dw0 = dflt ? 0 : ctrl->aec;
		nvmf_mutex_unlock(&ctrl->lock);
		break;
	case NVME_FEAT_VOLATILE_WRITE_CACHE:
		if (ctrl->subsys->discovery)
			goto invalid;
		dw0 = dflt ? 1 : atomic_load(&ctrl->vwc);
		break;
	default:
		goto invalid;
	}
	/* Supported capabilities: changeable, neither saveable nor per namespace. */
	if (sel == NVME_FEAT_SEL_SUPPORTED)
		dw0 = 1u << 2;
	cmd_complete(cmd, 0, dw0, 0);
	return;
invalid:
	cmd_complete(cmd, status_generic(NVME_SC_INVALID_FIELD), 0, 0);
}

/* ------------------------------------------------------------------ */
/* Asynchronous events (Base 2.0 §5.2)                                 */
/* ------------------------------------------------------------------ */

static void handle_aer(struct nvmf_cmd *cmd)
{
	struct nvmf_ctrl *ctrl = cmd->conn->ctrl;
	uint32_t event = 0;
	bool have_event = false, over = false;

	nvmf_mutex_lock(&ctrl->lock);
	if (ctrl->nevents > 0) {
		event = ctrl->events[0];
		memmove(ctrl->events, ctrl->events + 1, --ctrl->nevents * sizeof(uint32_t));
		have_event = true;
	} else if (ctrl->naers >= CTRL_AERL) {
		over = true;
	} else {
		cmd_set_state(cmd, CMD_RECEIVED, CMD_HELD);
		ctrl->aers[ctrl->naers++] = cmd;
	}
	nvmf_mutex_unlock(&ctrl->lock);
	if (have_event)
		cmd_complete(cmd, 0, event, 0);
	else if (over)
		cmd_complete(cmd, status_specific(NVME_SC_ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED), 0, 0);
}

void ctrl_ns_changed(struct nvmf_ctrl *ctrl, uint32_t nsid)
{
	bool raise, listed = false;

	nvmf_mutex_lock(&ctrl->lock);
	for (unsigned i = 0; i < ctrl->nchanged; i++)
		listed |= ctrl->changed_ns[i] == nsid;
	if (!listed) {
		if (ctrl->nchanged < sizeof(ctrl->changed_ns) / sizeof(ctrl->changed_ns[0]))
			ctrl->changed_ns[ctrl->nchanged++] = nsid;
		else
			ctrl->changed_overflow = true;
	}
	/* One event until the host reads the Changed Namespace List. */
	raise = (ctrl->aec & NVME_AEC_NS_ATTR_NOTICES) && !ctrl->ns_aen_masked;
	if (raise)
		ctrl->ns_aen_masked = true;
	nvmf_mutex_unlock(&ctrl->lock);
	if (raise)
		ctrl_raise_event(ctrl, NVME_AER_DW0(NVME_AER_TYPE_NOTICE, NVME_AER_NOTICE_NS_CHANGED,
						    NVME_LOG_CHANGED_NS_LIST));
}

/* A notice the host has enabled (aec_bit), raised once until it reads the
 * log page that clears *masked (log_read_unmask). */
static void raise_notice_once(struct nvmf_ctrl *ctrl, uint32_t aec_bit, bool *masked,
			      uint8_t notice, uint8_t lid)
{
	bool raise;

	nvmf_mutex_lock(&ctrl->lock);
	raise = (ctrl->aec & aec_bit) && !*masked;
	if (raise)
		*masked = true;
	nvmf_mutex_unlock(&ctrl->lock);
	if (raise)
		ctrl_raise_event(ctrl, NVME_AER_DW0(NVME_AER_TYPE_NOTICE, notice, lid));
}

void ctrl_ana_changed(struct nvmf_ctrl *ctrl)
{
	/* One event until the host reads the ANA log (Base 2.0 §5.2.4). */
	raise_notice_once(ctrl, NVME_AEC_ANA_CHANGE, &ctrl->ana_aen_masked,
			  NVME_AER_NOTICE_ANA_CHANGE, NVME_LOG_ANA);
}

void ctrl_discovery_changed(struct nvmf_ctrl *ctrl)
{
	/* One event until the host reads the discovery log (nvme-cli PR #1933). */
	raise_notice_once(ctrl, NVME_AEC_DISCOVERY_LOG_CHANGE, &ctrl->disc_aen_masked,
			  NVME_AER_NOTICE_DISCOVERY_CHANGE, NVME_LOG_DISCOVERY);
}

void ctrl_drop_aers(struct nvmf_ctrl *ctrl)
{
	struct nvmf_cmd *aers[CTRL_AERL];
	unsigned n;

	nvmf_mutex_lock(&ctrl->lock);
	n = ctrl->naers;
	memcpy(aers, ctrl->aers, n * sizeof(aers[0]));
	ctrl->naers = 0;
	nvmf_mutex_unlock(&ctrl->lock);
	for (unsigned i = 0; i < n; i++)
		cmd_put(aers[i]);
}

/* Abort (Base 2.0 §5.1): only a held AER can be taken back. */
static void handle_abort(struct nvmf_cmd *cmd)
{
	const struct nvme_sqe *sqe = cmd_sqe(cmd);
	struct nvmf_ctrl *ctrl = cmd->conn->ctrl;
	uint16_t sqid = sqe->cdw10 & 0xffff, cid = (uint16_t)(sqe->cdw10 >> 16);
	struct nvmf_cmd *victim = NULL;

	if (sqid == 0) {
		nvmf_mutex_lock(&ctrl->lock);
		for (unsigned i = 0; i < ctrl->naers; i++) {
			if (cmd_sqe(ctrl->aers[i])->cid != cid)
				continue;
			victim = ctrl->aers[i];
			memmove(ctrl->aers + i, ctrl->aers + i + 1,
				(ctrl->naers - i - 1) * sizeof(ctrl->aers[0]));
			ctrl->naers--;
			cmd_set_state(victim, CMD_HELD, CMD_RECEIVED);
			break;
		}
		nvmf_mutex_unlock(&ctrl->lock);
	}
	if (victim != NULL)
		cmd_complete(victim, status_generic(NVME_SC_ABORTED_BY_REQUEST), 0, 0);
	/* DW0 bit 0 set: the command was not aborted. */
	cmd_complete(cmd, 0, victim != NULL ? 0 : ABORT_NOT_ABORTED, 0);
}

void ctrl_admin_command(struct nvmf_cmd *cmd)
{
	const struct nvme_sqe *sqe = cmd_sqe(cmd);
	struct nvmf_ctrl *ctrl = cmd->conn->ctrl;

	/* Before CC.EN = 1 only Fabrics commands work (NVMe-oF 1.1 §3.5). */
	if (!ctrl_ready(ctrl)) {
		cmd_complete(cmd, status_generic(NVME_SC_COMMAND_SEQUENCE_ERROR), 0, 0);
		return;
	}
	switch (sqe->opc) {
	case NVME_ADMIN_IDENTIFY:
		handle_identify(cmd);
		return;
	case NVME_ADMIN_GET_LOG_PAGE:
		handle_get_log_page(cmd);
		return;
	case NVME_ADMIN_SET_FEATURES:
		handle_set_features(cmd);
		return;
	case NVME_ADMIN_GET_FEATURES:
		handle_get_features(cmd);
		return;
	case NVME_ADMIN_ASYNC_EVENT_REQUEST:
		handle_aer(cmd);
		return;
	case NVME_ADMIN_KEEP_ALIVE:
		cmd_complete(cmd, 0, 0, 0);
		return;
	case NVME_ADMIN_ABORT:
		if (!ctrl->subsys->discovery) {
			handle_abort(cmd);
			return;
		}
		break;
	default:
		break;
	}
	NVMF_DEBUG("nvmfd: controller %u: unsupported admin opcode %#x", ctrl->cntlid, sqe->opc);
	cmd_complete(cmd, status_generic(NVME_SC_INVALID_OPCODE), 0, 0);
}
