/* SPDX-License-Identifier: MIT */
/*
 * NVMe and NVMe over Fabrics wire structures (the NVMe/TCP PDUs are in
 * nvmf/spec_tcp.h).
 *
 * Every multi-byte field is little-endian on the wire.  This stack builds
 * only for little-endian hosts (asserted below), so fields are plain
 * integers.  Each structure's size and every field offset are asserted at
 * the bottom of this file against the specifications:
 *   - NVM Express Base Specification 2.0 (commands, Identify, log pages);
 *   - NVM Express over Fabrics 1.1 (Fabrics commands, discovery).
 */
#ifndef NVMF_SPEC_H
#define NVMF_SPEC_H

#include <stddef.h>
#include <stdint.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "libnvmf assumes a little-endian host"
#endif

#define NVMF_PACKED __attribute__((packed))

/* ------------------------------------------------------------------ */
/* Submission and completion queue entries (Base 2.0 §4.2, §4.6)       */
/* ------------------------------------------------------------------ */

/* SGL descriptor (Base 2.0 §4.3.2): 16 bytes. */
struct nvme_sgl_desc {
	uint64_t address;  /* data block address, or offset into in-capsule data */
	uint32_t length;   /* bytes described */
	uint8_t rsvd12[3];
	uint8_t type;      /* bits 7:4 descriptor type, bits 3:0 subtype */
};

#define NVME_SGL_TYPE_DATA_BLOCK 0x0
#define NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK 0x5
#define NVME_SGL_SUBTYPE_ADDRESS 0x0
#define NVME_SGL_SUBTYPE_OFFSET 0x1
#define NVME_SGL_SUBTYPE_TRANSPORT 0xa
#define NVME_SGL_ID(type, subtype) ((uint8_t)(((type) << 4) | (subtype)))
/* In-capsule data: Data Block, subtype Offset (NVMe/TCP 1.0a §3.3.1). */
#define NVME_SGL_ID_ICD NVME_SGL_ID(NVME_SGL_TYPE_DATA_BLOCK, NVME_SGL_SUBTYPE_OFFSET)
/* Data moved by R2T/H2CData or C2HData: Transport SGL Data Block. */
#define NVME_SGL_ID_TRANSPORT                                                 \
	NVME_SGL_ID(NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK, NVME_SGL_SUBTYPE_TRANSPORT)

/* Submission queue entry: 64 bytes. */
struct nvme_sqe {
	uint8_t opc;       /* opcode */
	uint8_t flags;     /* bits 1:0 FUSE, bits 7:6 PSDT */
	uint16_t cid;      /* command identifier, opaque to the controller */
	uint32_t nsid;     /* namespace; byte 4 is FCTYPE for Fabrics commands */
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t mptr;     /* metadata pointer (unused on Fabrics) */
	struct nvme_sgl_desc sgl1; /* data pointer: always an SGL on Fabrics */
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
};

#define NVME_SQE_PSDT_SGL (1u << 6) /* PSDT 01b: SGL for data, MPTR a pointer */
#define NVME_SQE_PSDT_MASK 0xc0u

/* Completion queue entry: 16 bytes. */
struct nvme_cqe {
	uint32_t cdw0;     /* command specific */
	uint32_t cdw1;     /* command specific */
	uint16_t sqhd;     /* SQ head; 0xffff when SQ flow control is disabled */
	uint16_t sqid;
	uint16_t cid;
	uint16_t status;   /* bit 0 P, 8:1 SC, 11:9 SCT, 13:12 CRD, 14 M, 15 DNR */
};

#define NVME_SQHD_INVALID 0xffff

/* Status field helpers; an "nvme status" below is SCT << 8 | SC. */
#define NVME_STATUS(sct, sc) ((uint16_t)(((sct) << 8) | (sc)))
#define NVME_STATUS_SCT(st) (((st) >> 8) & 0x7)
#define NVME_STATUS_SC(st) ((st) & 0xff)
/* Do Not Retry, carried with an nvme status where the CQE has it (>> 1). */
#define NVME_STATUS_DNR (1u << 14)
#define NVME_CQE_STATUS_DNR (1u << 15)
#define NVME_CQE_STATUS_MORE (1u << 14)
/* CQE status word from an nvme status (SCT << 8 | SC), phase bit clear. */
#define NVME_CQE_STATUS(st, dnr)                                              \
	((uint16_t)((((st) & 0x7ff) << 1) | ((dnr) ? NVME_CQE_STATUS_DNR : 0)))
/* nvme status (SCT << 8 | SC) from a CQE status word. */
#define NVME_CQE_TO_STATUS(w) ((uint16_t)(((w) >> 1) & 0x7ff))

/* Status code types (Base 2.0 §4.6.1.2). */
enum nvme_sct {
	NVME_SCT_GENERIC = 0x0,
	NVME_SCT_COMMAND_SPECIFIC = 0x1,
	NVME_SCT_MEDIA = 0x2,
	NVME_SCT_PATH = 0x3,
};

/* Generic command status (SCT 0). */
enum nvme_generic_sc {
	NVME_SC_SUCCESS = 0x00,
	NVME_SC_INVALID_OPCODE = 0x01,
	NVME_SC_INVALID_FIELD = 0x02,
	NVME_SC_COMMAND_ID_CONFLICT = 0x03,
	NVME_SC_DATA_TRANSFER_ERROR = 0x04,
	NVME_SC_ABORTED_POWER_LOSS = 0x05,
	NVME_SC_INTERNAL_DEVICE_ERROR = 0x06,
	NVME_SC_ABORTED_BY_REQUEST = 0x07,
	NVME_SC_ABORTED_SQ_DELETION = 0x08,
	NVME_SC_INVALID_NAMESPACE_OR_FORMAT = 0x0b,
	NVME_SC_COMMAND_SEQUENCE_ERROR = 0x0c,
	NVME_SC_INVALID_SGL_DESCRIPTOR = 0x0d,
	NVME_SC_DATA_SGL_LENGTH_INVALID = 0x0f,
	NVME_SC_SGL_DESCRIPTOR_TYPE_INVALID = 0x11,
	NVME_SC_SGL_OFFSET_INVALID = 0x16,
	NVME_SC_HOST_ID_INCONSISTENT_FORMAT = 0x18,
	NVME_SC_KEEP_ALIVE_TIMEOUT_EXPIRED = 0x19,
	NVME_SC_KEEP_ALIVE_TIMEOUT_INVALID = 0x1a,
	NVME_SC_ABORTED_PREEMPT_ABORT = 0x1b,
	NVME_SC_SANITIZE_FAILED = 0x1c,
	NVME_SC_SANITIZE_IN_PROGRESS = 0x1d,
	NVME_SC_TRANSIENT_TRANSPORT_ERROR = 0x22,
	NVME_SC_LBA_OUT_OF_RANGE = 0x80,
	NVME_SC_CAPACITY_EXCEEDED = 0x81,
	NVME_SC_NAMESPACE_NOT_READY = 0x82,
	NVME_SC_RESERVATION_CONFLICT = 0x83,
};

/* Command specific status (SCT 1). */
enum nvme_command_specific_sc {
	NVME_SC_INVALID_QUEUE_IDENTIFIER = 0x01,
	NVME_SC_INVALID_QUEUE_SIZE = 0x02,
	NVME_SC_ABORT_COMMAND_LIMIT_EXCEEDED = 0x03,
	NVME_SC_ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED = 0x05,
	NVME_SC_INVALID_LOG_PAGE = 0x09,
	NVME_SC_FEATURE_NOT_SAVEABLE = 0x0d,
	NVME_SC_FEATURE_NOT_CHANGEABLE = 0x0e,
	NVME_SC_CONFLICTING_ATTRIBUTES = 0x80, /* I/O commands */
	/* Fabrics (NVMe-oF 1.1 §2.4). */
	NVME_SC_CONNECT_INCOMPATIBLE_FORMAT = 0x80,
	NVME_SC_CONNECT_CONTROLLER_BUSY = 0x81,
	NVME_SC_CONNECT_INVALID_PARAMETERS = 0x82,
	NVME_SC_CONNECT_RESTART_DISCOVERY = 0x83,
	NVME_SC_CONNECT_INVALID_HOST = 0x84,
	NVME_SC_INVALID_QUEUE_TYPE = 0x85,
	NVME_SC_DISCOVERY_RESTART = 0x90,
	NVME_SC_AUTHENTICATION_REQUIRED = 0x91,
};

/* Media and data integrity errors (SCT 2). */
enum nvme_media_sc {
	NVME_SC_WRITE_FAULT = 0x80,
	NVME_SC_UNRECOVERED_READ_ERROR = 0x81,
	NVME_SC_COMPARE_FAILURE = 0x85,
	NVME_SC_ACCESS_DENIED = 0x86,
};

/* Path related status (SCT 3). */
enum nvme_path_sc {
	NVME_SC_INTERNAL_PATH_ERROR = 0x00,
	/* ANA states that refuse I/O on this path (Base 2.0 §8.1.3). */
	NVME_SC_ANA_PERSISTENT_LOSS = 0x01,
	NVME_SC_ANA_INACCESSIBLE = 0x02,
	NVME_SC_ANA_TRANSITION = 0x03,
	NVME_SC_CONTROLLER_PATHING_ERROR = 0x60,
	NVME_SC_HOST_PATHING_ERROR = 0x70,
	NVME_SC_COMMAND_ABORTED_BY_HOST = 0x71,
};

/* Admin opcodes (Base 2.0 §5). */
enum nvme_admin_opcode {
	NVME_ADMIN_DELETE_IO_SQ = 0x00,
	NVME_ADMIN_CREATE_IO_SQ = 0x01,
	NVME_ADMIN_GET_LOG_PAGE = 0x02,
	NVME_ADMIN_DELETE_IO_CQ = 0x04,
	NVME_ADMIN_CREATE_IO_CQ = 0x05,
	NVME_ADMIN_IDENTIFY = 0x06,
	NVME_ADMIN_ABORT = 0x08,
	NVME_ADMIN_SET_FEATURES = 0x09,
	NVME_ADMIN_GET_FEATURES = 0x0a,
	NVME_ADMIN_ASYNC_EVENT_REQUEST = 0x0c,
	NVME_ADMIN_KEEP_ALIVE = 0x18,
	NVME_ADMIN_FABRICS = 0x7f,
};

/* NVM command set I/O opcodes. */
enum nvme_io_opcode {
	NVME_IO_FLUSH = 0x00,
	NVME_IO_WRITE = 0x01,
	NVME_IO_READ = 0x02,
	NVME_IO_COMPARE = 0x05,
	NVME_IO_WRITE_ZEROES = 0x08,
	NVME_IO_DATASET_MANAGEMENT = 0x09,
	NVME_IO_RESV_REGISTER = 0x0d,
	NVME_IO_RESV_REPORT = 0x0e,
	NVME_IO_RESV_ACQUIRE = 0x11,
	NVME_IO_RESV_RELEASE = 0x15,
	NVME_IO_FABRICS = 0x7f,
};

/* Read/Write CDW12 bits. */
#define NVME_RW_FUA (1u << 30)
#define NVME_RW_LR (1u << 31)
/* Write Zeroes CDW12: deallocate. */
#define NVME_WZ_DEAC (1u << 25)
/* Dataset Management CDW11: attribute - deallocate. */
#define NVME_DSM_ATTR_DEALLOCATE (1u << 2)

/* Dataset Management range (Base 2.0 §7.3 NVM CS): 16 bytes. */
struct nvme_dsm_range {
	uint32_t cattr;  /* context attributes */
	uint32_t nlb;    /* number of logical blocks (1's based) */
	uint64_t slba;   /* starting LBA */
};
#define NVME_DSM_MAX_RANGES 256

/* Identify CNS values. */
enum nvme_identify_cns {
	NVME_CNS_NAMESPACE = 0x00,
	NVME_CNS_CONTROLLER = 0x01,
	NVME_CNS_ACTIVE_NS_LIST = 0x02,
	NVME_CNS_NS_ID_DESCRIPTORS = 0x03,
};

/* Log page identifiers. */
enum nvme_log_page {
	NVME_LOG_SUPPORTED_PAGES = 0x00,
	NVME_LOG_ERROR = 0x01,
	NVME_LOG_SMART = 0x02,
	NVME_LOG_FIRMWARE_SLOT = 0x03,
	NVME_LOG_CHANGED_NS_LIST = 0x04,
	NVME_LOG_COMMAND_EFFECTS = 0x05,
	NVME_LOG_ANA = 0x0c,
	NVME_LOG_DISCOVERY = 0x70,
	NVME_LOG_RESERVATION = 0x80,   /* Reservation Notification */
};

/* Feature identifiers. */
enum nvme_feature {
	NVME_FEAT_VOLATILE_WRITE_CACHE = 0x06,
	NVME_FEAT_NUMBER_OF_QUEUES = 0x07,
	NVME_FEAT_ASYNC_EVENT_CONFIG = 0x0b,
	NVME_FEAT_KEEP_ALIVE_TIMER = 0x0f,
	NVME_FEAT_HOST_ID = 0x81,
	NVME_FEAT_RESV_MASK = 0x82,    /* Reservation Notification Mask */
	NVME_FEAT_RESV_PERSIST = 0x83, /* Reservation Persistence (PTPL) */
};

/* Get Features CDW10 SEL (bits 10:8). */
enum nvme_feature_sel {
	NVME_FEAT_SEL_CURRENT = 0,
	NVME_FEAT_SEL_DEFAULT = 1,
	NVME_FEAT_SEL_SAVED = 2,
	NVME_FEAT_SEL_SUPPORTED = 3,
};

/* Asynchronous event completion DW0: type 2:0, info 15:8, log page 23:16. */
enum nvme_async_event_type {
	NVME_AER_TYPE_ERROR = 0x0,
	NVME_AER_TYPE_SMART = 0x1,
	NVME_AER_TYPE_NOTICE = 0x2,
	NVME_AER_TYPE_IO_SPECIFIC = 0x6, /* I/O command specific status */
};
/* Type 6, info 0: a Reservation Notification log page is available. */
#define NVME_AER_IO_RESV_LOG 0x00
enum nvme_async_event_notice {
	NVME_AER_NOTICE_NS_CHANGED = 0x00,
	NVME_AER_NOTICE_ANA_CHANGE = 0x03,
	NVME_AER_NOTICE_DISCOVERY_CHANGE = 0xf0,
};
#define NVME_AER_DW0(type, info, lid)                                         \
	((uint32_t)(type) | ((uint32_t)(info) << 8) | ((uint32_t)(lid) << 16))
/* Async Event Configuration bits (Set Features 0Bh). */
#define NVME_AEC_NS_ATTR_NOTICES (1u << 8)
#define NVME_AEC_ANA_CHANGE (1u << 11)
#define NVME_AEC_DISCOVERY_LOG_CHANGE (1u << 31)

/* ------------------------------------------------------------------ */
/* Controller properties (Base 2.0 §3.1.3; Fabrics: Property Get/Set)  */
/* ------------------------------------------------------------------ */

enum nvme_property {
	NVME_PROP_CAP = 0x00,  /* 8 bytes */
	NVME_PROP_VS = 0x08,   /* 4 bytes */
	NVME_PROP_CC = 0x14,   /* 4 bytes */
	NVME_PROP_CSTS = 0x1c, /* 4 bytes */
	NVME_PROP_NSSR = 0x20, /* 4 bytes */
};

#define NVME_CAP_MQES(cap) ((uint32_t)((cap) & 0xffff))
#define NVME_CAP_CQR (1ull << 16)
#define NVME_CAP_TO(cap) ((uint32_t)(((cap) >> 24) & 0xff))
#define NVME_CAP_CSS_NVM (1ull << 37)
#define NVME_CAP_MPSMIN(cap) ((uint32_t)(((cap) >> 48) & 0xf))
#define NVME_CAP_MPSMAX(cap) ((uint32_t)(((cap) >> 52) & 0xf))

#define NVME_VS(major, minor, tertiary)                                       \
	(((uint32_t)(major) << 16) | ((uint32_t)(minor) << 8) | (tertiary))

#define NVME_CC_EN (1u << 0)
#define NVME_CC_CSS(cc) (((cc) >> 4) & 0x7)
#define NVME_CC_MPS(cc) (((cc) >> 7) & 0xf)
#define NVME_CC_AMS(cc) (((cc) >> 11) & 0x7)
#define NVME_CC_SHN(cc) (((cc) >> 14) & 0x3)
#define NVME_CC_SHN_NORMAL (1u << 14)
#define NVME_CC_SHN_ABRUPT (2u << 14)
#define NVME_CC_SHN_MASK (3u << 14)
#define NVME_CC_IOSQES(cc) (((cc) >> 16) & 0xf)
#define NVME_CC_IOCQES(cc) (((cc) >> 20) & 0xf)

#define NVME_CSTS_RDY (1u << 0)
#define NVME_CSTS_CFS (1u << 1)
#define NVME_CSTS_SHST_MASK (3u << 2)
#define NVME_CSTS_SHST_OCCURRING (1u << 2)
#define NVME_CSTS_SHST_COMPLETE (2u << 2)

/* ------------------------------------------------------------------ */
/* Fabrics commands (NVMe-oF 1.1 §3)                                   */
/* ------------------------------------------------------------------ */

enum nvmf_fctype {
	NVMF_FCTYPE_PROPERTY_SET = 0x00,
	NVMF_FCTYPE_CONNECT = 0x01,
	NVMF_FCTYPE_PROPERTY_GET = 0x04,
	NVMF_FCTYPE_AUTH_SEND = 0x05,
	NVMF_FCTYPE_AUTH_RECV = 0x06,
	NVMF_FCTYPE_DISCONNECT = 0x08,
};

/* Common layout of a Fabrics command SQE. */
struct nvmf_fabrics_cmd {
	uint8_t opc;        /* 7Fh */
	uint8_t flags;
	uint16_t cid;
	uint8_t fctype;     /* Fabrics command type */
	uint8_t rsvd5[19];
	struct nvme_sgl_desc sgl1;
	uint8_t fctype_specific[24];
};

/* Connect command (NVMe-oF 1.1 §3.3). */
struct nvmf_connect_cmd {
	uint8_t opc;
	uint8_t flags;
	uint16_t cid;
	uint8_t fctype;     /* 01h */
	uint8_t rsvd5[19];
	struct nvme_sgl_desc sgl1; /* in-capsule, 1024 bytes of connect data */
	uint16_t recfmt;    /* record format, 0 */
	uint16_t qid;       /* 0 = admin queue */
	uint16_t sqsize;    /* 0's based */
	uint8_t cattr;      /* bit 2: disable SQ flow control */
	uint8_t rsvd47;
	uint32_t kato;      /* keep alive timeout, ms (admin queue) */
	uint8_t rsvd52[12];
};

#define NVMF_CONNECT_ATTR_PRIORITY_MASK 0x3
#define NVMF_CONNECT_ATTR_DISABLE_SQ_FC (1u << 2)

/* Connect command data (NVMe-oF 1.1 §3.3): 1024 bytes. */
struct nvmf_connect_data {
	uint8_t hostid[16];
	uint16_t cntlid;    /* FFFFh dynamic, FFFEh any static; I/O: admin's */
	uint8_t rsvd18[238];
	char subnqn[256];
	char hostnqn[256];
	uint8_t rsvd768[256];
};

#define NVMF_CNTLID_DYNAMIC 0xffff
#define NVMF_CNTLID_STATIC_ANY 0xfffe
#define NVMF_CNTLID_MAX 0xffef /* 0001h-FFEFh are valid controller IDs */
#define NVMF_NQN_FIELD_SIZE 256
#define NVMF_NQN_MAX_LEN 223   /* bytes, excluding the terminating NUL */
#define NVMF_DISCOVERY_NQN "nqn.2014-08.org.nvmexpress.discovery"

/* Connect response DW0 on success: CNTLID 15:0, AUTHREQ 31:16. */
#define NVMF_CONNECT_RSP_ATR (1u << 17)
#define NVMF_CONNECT_RSP_ASCR (1u << 18)
/* Connect Invalid Parameters DW0: IPO 15:0, IATTR bit 16 (1: in data). */
#define NVMF_CONNECT_IPO_DATA (1u << 16)

/* Property Get (NVMe-oF 1.1 §3.4). */
struct nvmf_property_get_cmd {
	uint8_t opc;
	uint8_t flags;
	uint16_t cid;
	uint8_t fctype;     /* 04h */
	uint8_t rsvd5[35];
	uint8_t attrib;     /* bits 2:0 size: 0 = 4 bytes, 1 = 8 bytes */
	uint8_t rsvd41[3];
	uint32_t ofst;      /* property offset */
	uint8_t rsvd48[16];
};

/* Property Set (NVMe-oF 1.1 §3.5). */
struct nvmf_property_set_cmd {
	uint8_t opc;
	uint8_t flags;
	uint16_t cid;
	uint8_t fctype;     /* 00h */
	uint8_t rsvd5[35];
	uint8_t attrib;
	uint8_t rsvd41[3];
	uint32_t ofst;
	uint64_t value;
	uint8_t rsvd56[8];
};

#define NVMF_PROP_SIZE_4 0
#define NVMF_PROP_SIZE_8 1

/* Authentication Send / Receive (NVMe-oF 1.1 §3.6, TP 8006). */
struct nvmf_auth_cmd {
	uint8_t opc;
	uint8_t flags;
	uint16_t cid;
	uint8_t fctype;     /* 05h send, 06h receive */
	uint8_t rsvd5[19];
	struct nvme_sgl_desc sgl1;
	uint8_t rsvd40;
	uint8_t spsp0;      /* 01h */
	uint8_t spsp1;      /* 01h */
	uint8_t secp;       /* E9h: NVMe in-band authentication */
	uint32_t length;    /* TL (send) or AL (receive) */
	uint8_t rsvd48[16];
};

#define NVMF_AUTH_SECP 0xe9

/* Disconnect (NVMe-oF 1.1 §3.x, FCTYPE 08h). */
struct nvmf_disconnect_cmd {
	uint8_t opc;
	uint8_t flags;
	uint16_t cid;
	uint8_t fctype;     /* 08h */
	uint8_t rsvd5[35];
	uint16_t recfmt;
	uint8_t rsvd42[22];
};

/* ------------------------------------------------------------------ */
/* Identify data structures (Base 2.0 §5.17.2)                         */
/* ------------------------------------------------------------------ */

/* Power state descriptor: 32 bytes. */
struct nvme_power_state {
	uint16_t mp;
	uint8_t rsvd2;
	uint8_t flags;
	uint32_t enlat;
	uint32_t exlat;
	uint8_t rrt;
	uint8_t rrl;
	uint8_t rwt;
	uint8_t rwl;
	uint16_t idlp;
	uint8_t ips;
	uint8_t rsvd19;
	uint16_t actp;
	uint8_t apws;
	uint8_t rsvd23[9];
};

/* Identify Controller data structure: 4096 bytes. */
struct nvme_id_ctrl {
	uint16_t vid;          /* PCI vendor ID */
	uint16_t ssvid;        /* PCI subsystem vendor ID */
	char sn[20];           /* serial number, ASCII, space padded */
	char mn[40];           /* model number */
	char fr[8];            /* firmware revision */
	uint8_t rab;           /* recommended arbitration burst */
	uint8_t ieee[3];       /* IEEE OUI */
	uint8_t cmic;          /* multi-path I/O and namespace sharing */
	uint8_t mdts;          /* max data transfer size, 2^n min pages */
	uint16_t cntlid;       /* controller ID */
	uint32_t ver;          /* version, as the VS property */
	uint32_t rtd3r;
	uint32_t rtd3e;
	uint32_t oaes;         /* optional asynchronous events supported */
	uint32_t ctratt;       /* controller attributes */
	uint16_t rrls;
	uint8_t rsvd102[9];
	uint8_t cntrltype;     /* 1 I/O, 2 discovery, 3 administrative */
	uint8_t fguid[16];
	uint16_t crdt[3];
	uint8_t rsvd134[119];
	uint8_t nvmsr;
	uint8_t vwci;
	uint8_t mec;
	uint16_t oacs;         /* optional admin command support */
	uint8_t acl;           /* abort command limit, 0's based */
	uint8_t aerl;          /* async event request limit, 0's based */
	uint8_t frmw;          /* firmware updates */
	uint8_t lpa;           /* log page attributes */
	uint8_t elpe;          /* error log page entries, 0's based */
	uint8_t npss;
	uint8_t avscc;
	uint8_t apsta;
	uint16_t wctemp;
	uint16_t cctemp;
	uint16_t mtfa;
	uint32_t hmpre;
	uint32_t hmmin;
	uint8_t tnvmcap[16];
	uint8_t unvmcap[16];
	uint32_t rpmbs;
	uint16_t edstt;
	uint8_t dsto;
	uint8_t fwug;
	uint16_t kas;          /* keep alive support, 100 ms units */
	uint16_t hctma;
	uint16_t mntmt;
	uint16_t mxtmt;
	uint32_t sanicap;
	uint32_t hmminds;
	uint16_t hmmaxd;
	uint16_t nsetidmax;
	uint16_t endgidmax;
	uint8_t anatt;
	uint8_t anacap;
	uint32_t anagrpmax;
	uint32_t nanagrpid;
	uint32_t pels;
	uint16_t domainid;
	uint8_t rsvd358[10];
	uint8_t megcap[16];
	uint8_t rsvd384[128];
	uint8_t sqes;          /* 3:0 required, 7:4 maximum (log2) */
	uint8_t cqes;
	uint16_t maxcmd;       /* max outstanding commands per queue */
	uint32_t nn;           /* number of namespaces (max NSID) */
	uint16_t oncs;         /* optional NVM command support */
	uint16_t fuses;
	uint8_t fna;
	uint8_t vwc;           /* volatile write cache */
	uint16_t awun;
	uint16_t awupf;
	uint8_t icsvscc;
	uint8_t nwpc;
	uint16_t acwu;
	uint16_t ocfs;
	uint32_t sgls;         /* SGL support */
	uint32_t mnan;
	uint8_t maxdna[16];
	uint32_t maxcna;
	uint8_t rsvd564[204];
	char subnqn[256];
	uint8_t rsvd1024[768];
	/* Fabrics (NVMe-oF 1.1 §4.1). */
	uint32_t ioccsz;       /* I/O queue command capsule size, 16 B units */
	uint32_t iorcsz;       /* I/O queue response capsule size, 16 B units */
	uint16_t icdoff;       /* in-capsule data offset, 16 B units */
	uint8_t fcatt;         /* bit 0: static controller model */
	uint8_t msdbd;         /* max SGL data block descriptors */
	uint16_t ofcs;         /* optional fabrics commands supported */
	uint8_t rsvd1806[242];
	struct nvme_power_state psd[32];
	uint8_t vs[1024];
};

#define NVME_CTRL_TYPE_IO 1
#define NVME_CTRL_TYPE_DISCOVERY 2
#define NVME_CTRL_OAES_NS_ATTR (1u << 8)
#define NVME_CTRL_OAES_ANA_CHANGE (1u << 11)
#define NVME_CTRL_OAES_DISCOVERY_CHANGE (1u << 31)
#define NVME_CTRL_LPA_CMD_EFFECTS (1u << 1)
#define NVME_CTRL_LPA_EXTENDED (1u << 2)
#define NVME_CTRL_ONCS_COMPARE (1u << 0)
#define NVME_CTRL_ONCS_DSM (1u << 2)
#define NVME_CTRL_ONCS_WRITE_ZEROES (1u << 3)
#define NVME_CTRL_ONCS_RESERVATIONS (1u << 5)
#define NVME_CTRL_VWC_PRESENT (1u << 0)
#define NVME_CTRL_VWC_FLUSH_ALL_NS (3u << 1) /* FFFFFFFFh NSID flushes all */
#define NVME_CTRL_SGLS_SUPPORTED (1u << 0)   /* no alignment requirement */
#define NVME_CTRL_SGLS_KEYED (1u << 2)
#define NVME_CTRL_SGLS_OFFSET (1u << 20)     /* Data Block with Offset */
#define NVME_CTRL_CMIC_MULTI_PORT (1u << 0)
#define NVME_CTRL_CMIC_MULTI_CTRL (1u << 1)
#define NVME_CTRL_CMIC_ANA (1u << 3)        /* ANA reporting */
/* ANACAP: the states the controller reports (bits 4:0). */
#define NVME_CTRL_ANACAP_OPTIMIZED (1u << 0)
#define NVME_CTRL_ANACAP_NON_OPTIMIZED (1u << 1)
#define NVME_CTRL_ANACAP_INACCESSIBLE (1u << 2)
#define NVME_CTRL_ANACAP_PERSISTENT_LOSS (1u << 3)
#define NVME_CTRL_ANACAP_CHANGE (1u << 4)
#define NVME_CTRL_FRMW_SLOT1_RO (1u << 0)
#define NVME_CTRL_OFCS_DISCONNECT (1u << 0)

/* LBA format descriptor. */
struct nvme_lbaf {
	uint16_t ms;       /* metadata size */
	uint8_t lbads;     /* LBA data size, log2 */
	uint8_t rp;        /* relative performance */
};

/* Identify Namespace (NVM command set): 4096 bytes. */
struct nvme_id_ns {
	uint64_t nsze;     /* namespace size, blocks */
	uint64_t ncap;     /* capacity, blocks */
	uint64_t nuse;     /* utilization, blocks */
	uint8_t nsfeat;
	uint8_t nlbaf;     /* number of LBA formats, 0's based */
	uint8_t flbas;     /* formatted LBA size: index into lbaf */
	uint8_t mc;
	uint8_t dpc;
	uint8_t dps;
	uint8_t nmic;      /* namespace multi-path and sharing */
	uint8_t rescap;
	uint8_t fpi;
	uint8_t dlfeat;    /* deallocate logical block features */
	uint16_t nawun;
	uint16_t nawupf;
	uint16_t nacwu;
	uint16_t nabsn;
	uint16_t nabo;
	uint16_t nabspf;
	uint16_t noiob;
	uint8_t nvmcap[16];
	uint16_t npwg;
	uint16_t npwa;
	uint16_t npdg;
	uint16_t npda;
	uint16_t nows;
	uint16_t mssrl;
	uint32_t mcl;
	uint8_t msrc;
	uint8_t rsvd81;
	uint8_t nulbaf;
	uint8_t rsvd83[9];
	uint32_t anagrpid;
	uint8_t rsvd96[3];
	uint8_t nsattr;
	uint16_t nvmsetid;
	uint16_t endgid;
	uint8_t nguid[16];
	uint8_t eui64[8];
	struct nvme_lbaf lbaf[64];
	uint8_t vs[3712];
};

#define NVME_NS_NMIC_SHARED (1u << 0)       /* may be attached to several controllers */
/* RESCAP: PTPL, the six types (bits 1-6), IEKEY as in NVMe 1.3 (bit 7). */
#define NVME_NS_RESCAP_PTPL (1u << 0)
#define NVME_NS_RESCAP_ALL 0xffu
#define NVME_NS_NSFEAT_THIN (1u << 0)
#define NVME_NS_NSFEAT_DEALLOC_ERR (1u << 2) /* DULBE */
#define NVME_NS_DLFEAT_READ_ZEROES 0x01    /* deallocated blocks read 0 */
#define NVME_NS_DLFEAT_WZ_DEALLOC (1u << 3)

/* Namespace identification descriptor header (CNS 03h). */
struct nvme_ns_id_desc {
	uint8_t nidt;      /* type */
	uint8_t nidl;      /* length of the identifier that follows */
	uint16_t rsvd2;
};

enum nvme_nidt {
	NVME_NIDT_EUI64 = 1,  /* 8 bytes */
	NVME_NIDT_NGUID = 2,  /* 16 bytes */
	NVME_NIDT_UUID = 3,   /* 16 bytes */
	NVME_NIDT_CSI = 4,    /* 1 byte */
};

/* ------------------------------------------------------------------ */
/* Log pages (Base 2.0 §5.16.1)                                        */
/* ------------------------------------------------------------------ */

/* Error information log entry: 64 bytes. */
struct nvme_error_log_entry {
	uint64_t error_count;
	uint16_t sqid;
	uint16_t cid;
	uint16_t status;       /* status field of the CQE (bits 15:1) */
	uint16_t parm_error_location;
	uint64_t lba;
	uint32_t nsid;
	uint8_t vs;
	uint8_t trtype;
	uint8_t rsvd30[2];
	uint64_t cs;
	uint16_t trtype_specific;
	uint8_t rsvd42[22];
};

/* SMART / health information log: 512 bytes. */
struct NVMF_PACKED nvme_smart_log {
	uint8_t critical_warning;
	uint16_t temperature;      /* Kelvin */
	uint8_t avail_spare;
	uint8_t spare_thresh;
	uint8_t percent_used;
	uint8_t endu_grp_crit_warn;
	uint8_t rsvd7[25];
	uint8_t data_units_read[16];     /* 1000 x 512 B units */
	uint8_t data_units_written[16];
	uint8_t host_read_commands[16];
	uint8_t host_write_commands[16];
	uint8_t ctrl_busy_time[16];
	uint8_t power_cycles[16];
	uint8_t power_on_hours[16];
	uint8_t unsafe_shutdowns[16];
	uint8_t media_errors[16];
	uint8_t num_err_log_entries[16];
	uint32_t warning_temp_time;
	uint32_t critical_comp_time;
	uint16_t temp_sensor[8];
	uint32_t thm_temp1_trans_count;
	uint32_t thm_temp2_trans_count;
	uint32_t thm_temp1_total_time;
	uint32_t thm_temp2_total_time;
	uint8_t rsvd232[280];
};

/* Firmware slot information log: 512 bytes. */
struct nvme_firmware_slot_log {
	uint8_t afi;           /* active firmware info: bits 2:0 active slot */
	uint8_t rsvd1[7];
	char frs[7][8];        /* firmware revision per slot */
	uint8_t rsvd64[448];
};

/* Commands supported and effects log: 4096 bytes. */
struct nvme_cmd_effects_log {
	uint32_t acs[256];     /* admin commands, by opcode */
	uint32_t iocs[256];    /* I/O commands, by opcode */
	uint8_t rsvd2048[2048];
};

#define NVME_CMD_EFFECTS_CSUPP (1u << 0)
#define NVME_CMD_EFFECTS_LBCC (1u << 1)
#define NVME_CMD_EFFECTS_NCC (1u << 2)
#define NVME_CMD_EFFECTS_NIC (1u << 3)
#define NVME_CMD_EFFECTS_CCC (1u << 4)

/* Changed namespace list log: 4096 bytes (1024 NSIDs). */
struct nvme_changed_ns_list_log {
	uint32_t nsid[1024];
};
#define NVME_CHANGED_NS_OVERFLOW 0xffffffffu

/* ------------------------------------------------------------------ */
/* Reservations (Base 2.0 §7.2-7.5, NVM CS 1.0 §8; Base 2.0 §8.19)     */
/* ------------------------------------------------------------------ */

/* Reservation types (RTYPE). */
enum nvme_resv_type {
	NVME_RESV_NONE = 0,
	NVME_RESV_WRITE_EXCLUSIVE = 1,
	NVME_RESV_EXCLUSIVE_ACCESS = 2,
	NVME_RESV_WE_REGS_ONLY = 3,     /* Write Exclusive - Registrants Only */
	NVME_RESV_EA_REGS_ONLY = 4,     /* Exclusive Access - Registrants Only */
	NVME_RESV_WE_ALL_REGS = 5,      /* Write Exclusive - All Registrants */
	NVME_RESV_EA_ALL_REGS = 6,      /* Exclusive Access - All Registrants */
};

/* Reservation Register CDW10: RREGA 2:0, IEKEY 3, CPTPL 31:30. */
enum nvme_resv_rrega {
	NVME_RESV_REGISTER = 0,
	NVME_RESV_UNREGISTER = 1,
	NVME_RESV_REPLACE = 2,
};
#define NVME_RESV_IEKEY (1u << 3)
#define NVME_RESV_CPTPL(cdw10) (((cdw10) >> 30) & 3)
#define NVME_RESV_CPTPL_NO_CHANGE 0
#define NVME_RESV_CPTPL_CLEAR 2          /* PTPL off */
#define NVME_RESV_CPTPL_SET 3            /* PTPL on */
/* Reservation Acquire CDW10: RACQA 2:0, IEKEY 3, RTYPE 15:8. */
enum nvme_resv_racqa {
	NVME_RESV_ACQUIRE = 0,
	NVME_RESV_PREEMPT = 1,
	NVME_RESV_PREEMPT_ABORT = 2,
};
/* Reservation Release CDW10: RRELA 2:0, IEKEY 3, RTYPE 15:8. */
enum nvme_resv_rrela {
	NVME_RESV_RELEASE = 0,
	NVME_RESV_CLEAR = 1,
};
#define NVME_RESV_ACTION(cdw10) ((cdw10) & 7)
#define NVME_RESV_RTYPE(cdw10) (((cdw10) >> 8) & 0xff)
/* Reservation Report CDW10: NUMD (0's based dwords); CDW11 bit 0: EDS. */
#define NVME_RESV_REPORT_EDS (1u << 0)

/* Reservation Register data: 16 bytes. */
struct nvme_resv_register_data {
	uint64_t crkey;        /* current reservation key */
	uint64_t nrkey;        /* new reservation key */
};

/* Reservation Acquire data: 16 bytes. */
struct nvme_resv_acquire_data {
	uint64_t crkey;
	uint64_t prkey;        /* preempt reservation key */
};

/* Reservation Release data: 8 bytes. */
struct nvme_resv_release_data {
	uint64_t crkey;
};

/* Reservation Status data structure header: 24 bytes (the extended one
 * pads it to 64). */
struct nvme_resv_status {
	uint32_t gen;          /* generation: bumped by register, preempt, clear */
	uint8_t rtype;         /* current reservation type; 0: none */
	uint16_t regctl;       /* number of registrants (registered hosts) */
	uint8_t rsvd7[2];
	uint8_t ptpls;         /* persist through power loss state */
	uint8_t rsvd10[14];
} __attribute__((packed));

/* Registered Controller data structure (EDS = 0, 64-bit host ID): 24 bytes. */
struct nvme_resv_registrant {
	uint16_t cntlid;       /* FFFFh in the dynamic controller model */
	uint8_t rcsts;         /* bit 0: the host holds the reservation */
	uint8_t rsvd3[5];
	uint64_t hostid;
	uint64_t rkey;
};

/* Registered Controller extended data structure (EDS = 1): 64 bytes. */
struct nvme_resv_registrant_ext {
	uint16_t cntlid;
	uint8_t rcsts;
	uint8_t rsvd3[5];
	uint64_t rkey;
	uint8_t hostid[16];    /* 128-bit host identifier */
	uint8_t rsvd32[32];
};
#define NVME_RESV_RCSTS_HOLDER (1u << 0)
#define NVME_RESV_REPORT_EXT_HDR 64      /* header of the extended report */

/* Reservation Notification log page: 64 bytes. */
struct nvme_resv_notification_log {
	uint64_t lpc;          /* log page count: increments per notice, never 0 */
	uint8_t rnlpt;         /* enum nvme_resv_notice_type; 0: empty page */
	uint8_t nalp;          /* number of further pages available */
	uint8_t rsvd10[2];
	uint32_t nsid;
	uint8_t rsvd16[48];
};
enum nvme_resv_notice_type {
	NVME_RESV_NOTICE_EMPTY = 0,
	NVME_RESV_NOTICE_REG_PREEMPTED = 1,   /* our registration was preempted */
	NVME_RESV_NOTICE_RESV_RELEASED = 2,
	NVME_RESV_NOTICE_RESV_PREEMPTED = 3,
};
/* Reservation Notification Mask (feature 82h) bits: set = masked. */
#define NVME_RESV_MASK_REGPRE (1u << 1)
#define NVME_RESV_MASK_RESREL (1u << 2)
#define NVME_RESV_MASK_RESPRE (1u << 3)
#define NVME_RESV_MASK_ALL 0xeu
/* Host Identifier (feature 81h) CDW11 bit 0: extended (128-bit). */
#define NVME_FEAT_HOST_ID_EXHID (1u << 0)

/* Asymmetric Namespace Access states (Base 2.0 §8.1.2). */
enum nvme_ana_state {
	NVME_ANA_OPTIMIZED = 0x01,
	NVME_ANA_NON_OPTIMIZED = 0x02,
	NVME_ANA_INACCESSIBLE = 0x03,
	NVME_ANA_PERSISTENT_LOSS = 0x04,
	NVME_ANA_CHANGE = 0x0f,
};
/* nvmetcli's names of the states (libnvmf, src/util/ana_names.c):
 * "optimized", "non_optimized", "inaccessible", "persistent_loss",
 * "change"; "unknown" for another value.  Parse: 0, or -EINVAL. */
const char *nvmf_ana_state_name(enum nvme_ana_state state);
int nvmf_ana_state_parse(const char *name, enum nvme_ana_state *state);

/* ANA log page (0Ch, Base 2.0 §5.16.1.12): this header, then ngrps group
 * descriptors, each followed by its nnsids NSIDs (none with RGO). */
struct nvme_ana_log_hdr {
	uint64_t chgcnt;       /* changes the log page has seen */
	uint16_t ngrps;        /* group descriptors that follow */
	uint8_t rsvd10[6];
};

struct nvme_ana_group_desc {
	uint32_t grpid;        /* ANA group ID */
	uint32_t nnsids;       /* NSIDs that follow (0 with RGO) */
	uint64_t chgcnt;       /* changes to this group */
	uint8_t state;         /* 3:0 enum nvme_ana_state */
	uint8_t rsvd17[15];
	/* uint32_t nsid[nnsids] */
};
/* Get Log Page LSP (CDW10 11:8); for the ANA log bit 0 is RGO: the group
 * descriptors alone, without NSIDs. */
#define NVME_GLP_LSP(cdw10) (((cdw10) >> 8) & 0xf)
#define NVME_ANA_LSP_RGO 0x1

/* Supported log pages log: 1024 bytes. */
struct nvme_supported_log_pages {
	uint32_t lid[256];     /* bit 0: LSUPP */
};

/* Get Log Page CDW10..CDW13 helpers. */
#define NVME_GLP_LID(cdw10) ((cdw10) & 0xff)
#define NVME_GLP_RAE(cdw10) (((cdw10) >> 15) & 0x1)
/* Number of dwords (0's based) from NUMDL (cdw10 31:16) and NUMDU (cdw11 15:0). */
#define NVME_GLP_NUMD(cdw10, cdw11)                                           \
	((((uint32_t)(cdw11) & 0xffff) << 16) | ((uint32_t)(cdw10) >> 16))

/* ------------------------------------------------------------------ */
/* Discovery (NVMe-oF 1.1 §5.3)                                        */
/* ------------------------------------------------------------------ */

/* Discovery log page entry: 1024 bytes. */
struct nvmf_discovery_log_entry {
	uint8_t trtype;        /* 3 = TCP */
	uint8_t adrfam;        /* 1 IPv4, 2 IPv6 */
	uint8_t subtype;       /* 1 referral, 2 NVM subsystem, 3 current DC */
	uint8_t treq;          /* 1:0 secure channel, bit 2 SQ FC disable OK */
	uint16_t portid;
	uint16_t cntlid;
	uint16_t asqsz;        /* admin max SQ size */
	uint16_t eflags;
	uint8_t rsvd12[20];
	char trsvcid[32];      /* port, ASCII, space padded */
	uint8_t rsvd64[192];
	char subnqn[256];
	char traddr[256];      /* address, ASCII, space padded */
	union {
		uint8_t raw[256];
		struct {
			uint8_t sectype;   /* 0 none, 1 TLS 1.2, 2 TLS 1.3 */
			uint8_t rsvd1[255];
		} tcp;
	} tsas;
};

/* Discovery log page header: 1024 bytes, then NUMREC entries. */
struct nvmf_discovery_log {
	uint64_t genctr;       /* generation counter */
	uint64_t numrec;       /* number of records */
	uint16_t recfmt;
	uint8_t rsvd18[1006];
	struct nvmf_discovery_log_entry entries[];
};

enum nvmf_trtype {
	NVMF_TRTYPE_RDMA = 1,
	NVMF_TRTYPE_FC = 2,
	NVMF_TRTYPE_TCP = 3,
	/* In-process, this library only (src/loop), not on any wire: the
	 * specification reserves 254 for intra-host transports. */
	NVMF_TRTYPE_LOOP = 254,
};

enum nvmf_adrfam {
	NVMF_ADRFAM_IPV4 = 1,
	NVMF_ADRFAM_IPV6 = 2,
};

enum nvmf_subtype {
	NVMF_SUBTYPE_REFERRAL = 1,
	NVMF_SUBTYPE_NVME = 2,
	NVMF_SUBTYPE_CURRENT_DISCOVERY = 3,
};

#define NVMF_TREQ_SECURE_NOT_SPECIFIED 0x0
#define NVMF_TREQ_SECURE_REQUIRED 0x1
#define NVMF_TREQ_SECURE_NOT_REQUIRED 0x2
#define NVMF_TREQ_DISABLE_SQFLOW (1u << 2)
#define NVMF_EFLAGS_EPCSD (1u << 1)
#define NVMF_TCP_SECTYPE_NONE 0
#define NVMF_TCP_SECTYPE_TLS12 1
#define NVMF_TCP_SECTYPE_TLS13 2


/* ------------------------------------------------------------------ */
/* Size and offset assertions                                          */
/* ------------------------------------------------------------------ */

#define NVMF_ASSERT_SIZE(t, n) _Static_assert(sizeof(struct t) == (n), #t " size")
#define NVMF_ASSERT_OFF(t, f, n)                                              \
	_Static_assert(offsetof(struct t, f) == (n), #t "." #f " offset")

NVMF_ASSERT_SIZE(nvme_sgl_desc, 16);
NVMF_ASSERT_OFF(nvme_sgl_desc, address, 0);
NVMF_ASSERT_OFF(nvme_sgl_desc, length, 8);
NVMF_ASSERT_OFF(nvme_sgl_desc, rsvd12, 12);
NVMF_ASSERT_OFF(nvme_sgl_desc, type, 15);

NVMF_ASSERT_SIZE(nvme_sqe, 64);
NVMF_ASSERT_OFF(nvme_sqe, opc, 0);
NVMF_ASSERT_OFF(nvme_sqe, flags, 1);
NVMF_ASSERT_OFF(nvme_sqe, cid, 2);
NVMF_ASSERT_OFF(nvme_sqe, nsid, 4);
NVMF_ASSERT_OFF(nvme_sqe, cdw2, 8);
NVMF_ASSERT_OFF(nvme_sqe, cdw3, 12);
NVMF_ASSERT_OFF(nvme_sqe, mptr, 16);
NVMF_ASSERT_OFF(nvme_sqe, sgl1, 24);
NVMF_ASSERT_OFF(nvme_sqe, cdw10, 40);
NVMF_ASSERT_OFF(nvme_sqe, cdw11, 44);
NVMF_ASSERT_OFF(nvme_sqe, cdw12, 48);
NVMF_ASSERT_OFF(nvme_sqe, cdw13, 52);
NVMF_ASSERT_OFF(nvme_sqe, cdw14, 56);
NVMF_ASSERT_OFF(nvme_sqe, cdw15, 60);

NVMF_ASSERT_SIZE(nvme_cqe, 16);
NVMF_ASSERT_OFF(nvme_cqe, cdw0, 0);
NVMF_ASSERT_OFF(nvme_cqe, cdw1, 4);
NVMF_ASSERT_OFF(nvme_cqe, sqhd, 8);
NVMF_ASSERT_OFF(nvme_cqe, sqid, 10);
NVMF_ASSERT_OFF(nvme_cqe, cid, 12);
NVMF_ASSERT_OFF(nvme_cqe, status, 14);

NVMF_ASSERT_SIZE(nvme_dsm_range, 16);
NVMF_ASSERT_OFF(nvme_dsm_range, cattr, 0);
NVMF_ASSERT_OFF(nvme_dsm_range, nlb, 4);
NVMF_ASSERT_OFF(nvme_dsm_range, slba, 8);

NVMF_ASSERT_SIZE(nvmf_fabrics_cmd, 64);
NVMF_ASSERT_OFF(nvmf_fabrics_cmd, opc, 0);
NVMF_ASSERT_OFF(nvmf_fabrics_cmd, flags, 1);
NVMF_ASSERT_OFF(nvmf_fabrics_cmd, cid, 2);
NVMF_ASSERT_OFF(nvmf_fabrics_cmd, fctype, 4);
NVMF_ASSERT_OFF(nvmf_fabrics_cmd, rsvd5, 5);
NVMF_ASSERT_OFF(nvmf_fabrics_cmd, sgl1, 24);
NVMF_ASSERT_OFF(nvmf_fabrics_cmd, fctype_specific, 40);

NVMF_ASSERT_SIZE(nvmf_connect_cmd, 64);
NVMF_ASSERT_OFF(nvmf_connect_cmd, opc, 0);
NVMF_ASSERT_OFF(nvmf_connect_cmd, flags, 1);
NVMF_ASSERT_OFF(nvmf_connect_cmd, cid, 2);
NVMF_ASSERT_OFF(nvmf_connect_cmd, fctype, 4);
NVMF_ASSERT_OFF(nvmf_connect_cmd, rsvd5, 5);
NVMF_ASSERT_OFF(nvmf_connect_cmd, sgl1, 24);
NVMF_ASSERT_OFF(nvmf_connect_cmd, recfmt, 40);
NVMF_ASSERT_OFF(nvmf_connect_cmd, qid, 42);
NVMF_ASSERT_OFF(nvmf_connect_cmd, sqsize, 44);
NVMF_ASSERT_OFF(nvmf_connect_cmd, cattr, 46);
NVMF_ASSERT_OFF(nvmf_connect_cmd, rsvd47, 47);
NVMF_ASSERT_OFF(nvmf_connect_cmd, kato, 48);
NVMF_ASSERT_OFF(nvmf_connect_cmd, rsvd52, 52);

NVMF_ASSERT_SIZE(nvmf_connect_data, 1024);
NVMF_ASSERT_OFF(nvmf_connect_data, hostid, 0);
NVMF_ASSERT_OFF(nvmf_connect_data, cntlid, 16);
NVMF_ASSERT_OFF(nvmf_connect_data, rsvd18, 18);
NVMF_ASSERT_OFF(nvmf_connect_data, subnqn, 256);
NVMF_ASSERT_OFF(nvmf_connect_data, hostnqn, 512);
NVMF_ASSERT_OFF(nvmf_connect_data, rsvd768, 768);

NVMF_ASSERT_SIZE(nvmf_property_get_cmd, 64);
NVMF_ASSERT_OFF(nvmf_property_get_cmd, opc, 0);
NVMF_ASSERT_OFF(nvmf_property_get_cmd, flags, 1);
NVMF_ASSERT_OFF(nvmf_property_get_cmd, cid, 2);
NVMF_ASSERT_OFF(nvmf_property_get_cmd, fctype, 4);
NVMF_ASSERT_OFF(nvmf_property_get_cmd, rsvd5, 5);
NVMF_ASSERT_OFF(nvmf_property_get_cmd, attrib, 40);
NVMF_ASSERT_OFF(nvmf_property_get_cmd, rsvd41, 41);
NVMF_ASSERT_OFF(nvmf_property_get_cmd, ofst, 44);
NVMF_ASSERT_OFF(nvmf_property_get_cmd, rsvd48, 48);

NVMF_ASSERT_SIZE(nvmf_property_set_cmd, 64);
NVMF_ASSERT_OFF(nvmf_property_set_cmd, opc, 0);
NVMF_ASSERT_OFF(nvmf_property_set_cmd, flags, 1);
NVMF_ASSERT_OFF(nvmf_property_set_cmd, cid, 2);
NVMF_ASSERT_OFF(nvmf_property_set_cmd, fctype, 4);
NVMF_ASSERT_OFF(nvmf_property_set_cmd, rsvd5, 5);
NVMF_ASSERT_OFF(nvmf_property_set_cmd, attrib, 40);
NVMF_ASSERT_OFF(nvmf_property_set_cmd, rsvd41, 41);
NVMF_ASSERT_OFF(nvmf_property_set_cmd, ofst, 44);
NVMF_ASSERT_OFF(nvmf_property_set_cmd, value, 48);
NVMF_ASSERT_OFF(nvmf_property_set_cmd, rsvd56, 56);

NVMF_ASSERT_SIZE(nvmf_auth_cmd, 64);
NVMF_ASSERT_OFF(nvmf_auth_cmd, opc, 0);
NVMF_ASSERT_OFF(nvmf_auth_cmd, flags, 1);
NVMF_ASSERT_OFF(nvmf_auth_cmd, cid, 2);
NVMF_ASSERT_OFF(nvmf_auth_cmd, fctype, 4);
NVMF_ASSERT_OFF(nvmf_auth_cmd, rsvd5, 5);
NVMF_ASSERT_OFF(nvmf_auth_cmd, sgl1, 24);
NVMF_ASSERT_OFF(nvmf_auth_cmd, rsvd40, 40);
NVMF_ASSERT_OFF(nvmf_auth_cmd, spsp0, 41);
NVMF_ASSERT_OFF(nvmf_auth_cmd, spsp1, 42);
NVMF_ASSERT_OFF(nvmf_auth_cmd, secp, 43);
NVMF_ASSERT_OFF(nvmf_auth_cmd, length, 44);
NVMF_ASSERT_OFF(nvmf_auth_cmd, rsvd48, 48);

NVMF_ASSERT_SIZE(nvmf_disconnect_cmd, 64);
NVMF_ASSERT_OFF(nvmf_disconnect_cmd, opc, 0);
NVMF_ASSERT_OFF(nvmf_disconnect_cmd, flags, 1);
NVMF_ASSERT_OFF(nvmf_disconnect_cmd, cid, 2);
NVMF_ASSERT_OFF(nvmf_disconnect_cmd, fctype, 4);
NVMF_ASSERT_OFF(nvmf_disconnect_cmd, rsvd5, 5);
NVMF_ASSERT_OFF(nvmf_disconnect_cmd, recfmt, 40);
NVMF_ASSERT_OFF(nvmf_disconnect_cmd, rsvd42, 42);

/* Identify data structures (Base 2.0 §5.17.2; NVM Command Set 1.0). */
NVMF_ASSERT_SIZE(nvme_power_state, 32);
NVMF_ASSERT_OFF(nvme_power_state, mp, 0);
NVMF_ASSERT_OFF(nvme_power_state, rsvd2, 2);
NVMF_ASSERT_OFF(nvme_power_state, flags, 3);
NVMF_ASSERT_OFF(nvme_power_state, enlat, 4);
NVMF_ASSERT_OFF(nvme_power_state, exlat, 8);
NVMF_ASSERT_OFF(nvme_power_state, rrt, 12);
NVMF_ASSERT_OFF(nvme_power_state, rrl, 13);
NVMF_ASSERT_OFF(nvme_power_state, rwt, 14);
NVMF_ASSERT_OFF(nvme_power_state, rwl, 15);
NVMF_ASSERT_OFF(nvme_power_state, idlp, 16);
NVMF_ASSERT_OFF(nvme_power_state, ips, 18);
NVMF_ASSERT_OFF(nvme_power_state, rsvd19, 19);
NVMF_ASSERT_OFF(nvme_power_state, actp, 20);
NVMF_ASSERT_OFF(nvme_power_state, apws, 22);
NVMF_ASSERT_OFF(nvme_power_state, rsvd23, 23);

/* Bytes 1792-2047 of Identify Controller: NVMe-oF 1.1 §4.1. */
NVMF_ASSERT_SIZE(nvme_id_ctrl, 4096);
NVMF_ASSERT_OFF(nvme_id_ctrl, vid, 0);
NVMF_ASSERT_OFF(nvme_id_ctrl, ssvid, 2);
NVMF_ASSERT_OFF(nvme_id_ctrl, sn, 4);
NVMF_ASSERT_OFF(nvme_id_ctrl, mn, 24);
NVMF_ASSERT_OFF(nvme_id_ctrl, fr, 64);
NVMF_ASSERT_OFF(nvme_id_ctrl, rab, 72);
NVMF_ASSERT_OFF(nvme_id_ctrl, ieee, 73);
NVMF_ASSERT_OFF(nvme_id_ctrl, cmic, 76);
NVMF_ASSERT_OFF(nvme_id_ctrl, mdts, 77);
NVMF_ASSERT_OFF(nvme_id_ctrl, cntlid, 78);
NVMF_ASSERT_OFF(nvme_id_ctrl, ver, 80);
NVMF_ASSERT_OFF(nvme_id_ctrl, rtd3r, 84);
NVMF_ASSERT_OFF(nvme_id_ctrl, rtd3e, 88);
NVMF_ASSERT_OFF(nvme_id_ctrl, oaes, 92);
NVMF_ASSERT_OFF(nvme_id_ctrl, ctratt, 96);
NVMF_ASSERT_OFF(nvme_id_ctrl, rrls, 100);
NVMF_ASSERT_OFF(nvme_id_ctrl, rsvd102, 102);
NVMF_ASSERT_OFF(nvme_id_ctrl, cntrltype, 111);
NVMF_ASSERT_OFF(nvme_id_ctrl, fguid, 112);
NVMF_ASSERT_OFF(nvme_id_ctrl, crdt, 128);
NVMF_ASSERT_OFF(nvme_id_ctrl, rsvd134, 134);
NVMF_ASSERT_OFF(nvme_id_ctrl, nvmsr, 253);
NVMF_ASSERT_OFF(nvme_id_ctrl, vwci, 254);
NVMF_ASSERT_OFF(nvme_id_ctrl, mec, 255);
NVMF_ASSERT_OFF(nvme_id_ctrl, oacs, 256);
NVMF_ASSERT_OFF(nvme_id_ctrl, acl, 258);
NVMF_ASSERT_OFF(nvme_id_ctrl, aerl, 259);
NVMF_ASSERT_OFF(nvme_id_ctrl, frmw, 260);
NVMF_ASSERT_OFF(nvme_id_ctrl, lpa, 261);
NVMF_ASSERT_OFF(nvme_id_ctrl, elpe, 262);
NVMF_ASSERT_OFF(nvme_id_ctrl, npss, 263);
NVMF_ASSERT_OFF(nvme_id_ctrl, avscc, 264);
NVMF_ASSERT_OFF(nvme_id_ctrl, apsta, 265);
NVMF_ASSERT_OFF(nvme_id_ctrl, wctemp, 266);
NVMF_ASSERT_OFF(nvme_id_ctrl, cctemp, 268);
NVMF_ASSERT_OFF(nvme_id_ctrl, mtfa, 270);
NVMF_ASSERT_OFF(nvme_id_ctrl, hmpre, 272);
NVMF_ASSERT_OFF(nvme_id_ctrl, hmmin, 276);
NVMF_ASSERT_OFF(nvme_id_ctrl, tnvmcap, 280);
NVMF_ASSERT_OFF(nvme_id_ctrl, unvmcap, 296);
NVMF_ASSERT_OFF(nvme_id_ctrl, rpmbs, 312);
NVMF_ASSERT_OFF(nvme_id_ctrl, edstt, 316);
NVMF_ASSERT_OFF(nvme_id_ctrl, dsto, 318);
NVMF_ASSERT_OFF(nvme_id_ctrl, fwug, 319);
NVMF_ASSERT_OFF(nvme_id_ctrl, kas, 320);
NVMF_ASSERT_OFF(nvme_id_ctrl, hctma, 322);
NVMF_ASSERT_OFF(nvme_id_ctrl, mntmt, 324);
NVMF_ASSERT_OFF(nvme_id_ctrl, mxtmt, 326);
NVMF_ASSERT_OFF(nvme_id_ctrl, sanicap, 328);
NVMF_ASSERT_OFF(nvme_id_ctrl, hmminds, 332);
NVMF_ASSERT_OFF(nvme_id_ctrl, hmmaxd, 336);
NVMF_ASSERT_OFF(nvme_id_ctrl, nsetidmax, 338);
NVMF_ASSERT_OFF(nvme_id_ctrl, endgidmax, 340);
NVMF_ASSERT_OFF(nvme_id_ctrl, anatt, 342);
NVMF_ASSERT_OFF(nvme_id_ctrl, anacap, 343);
NVMF_ASSERT_OFF(nvme_id_ctrl, anagrpmax, 344);
NVMF_ASSERT_OFF(nvme_id_ctrl, nanagrpid, 348);
NVMF_ASSERT_OFF(nvme_id_ctrl, pels, 352);
NVMF_ASSERT_OFF(nvme_id_ctrl, domainid, 356);
NVMF_ASSERT_OFF(nvme_id_ctrl, rsvd358, 358);
NVMF_ASSERT_OFF(nvme_id_ctrl, megcap, 368);
NVMF_ASSERT_OFF(nvme_id_ctrl, rsvd384, 384);
NVMF_ASSERT_OFF(nvme_id_ctrl, sqes, 512);
NVMF_ASSERT_OFF(nvme_id_ctrl, cqes, 513);
NVMF_ASSERT_OFF(nvme_id_ctrl, maxcmd, 514);
NVMF_ASSERT_OFF(nvme_id_ctrl, nn, 516);
NVMF_ASSERT_OFF(nvme_id_ctrl, oncs, 520);
NVMF_ASSERT_OFF(nvme_id_ctrl, fuses, 522);
NVMF_ASSERT_OFF(nvme_id_ctrl, fna, 524);
NVMF_ASSERT_OFF(nvme_id_ctrl, vwc, 525);
NVMF_ASSERT_OFF(nvme_id_ctrl, awun, 526);
NVMF_ASSERT_OFF(nvme_id_ctrl, awupf, 528);
NVMF_ASSERT_OFF(nvme_id_ctrl, icsvscc, 530);
NVMF_ASSERT_OFF(nvme_id_ctrl, nwpc, 531);
NVMF_ASSERT_OFF(nvme_id_ctrl, acwu, 532);
NVMF_ASSERT_OFF(nvme_id_ctrl, ocfs, 534);
NVMF_ASSERT_OFF(nvme_id_ctrl, sgls, 536);
NVMF_ASSERT_OFF(nvme_id_ctrl, mnan, 540);
NVMF_ASSERT_OFF(nvme_id_ctrl, maxdna, 544);
NVMF_ASSERT_OFF(nvme_id_ctrl, maxcna, 560);
NVMF_ASSERT_OFF(nvme_id_ctrl, rsvd564, 564);
NVMF_ASSERT_OFF(nvme_id_ctrl, subnqn, 768);
NVMF_ASSERT_OFF(nvme_id_ctrl, rsvd1024, 1024);
NVMF_ASSERT_OFF(nvme_id_ctrl, ioccsz, 1792);
NVMF_ASSERT_OFF(nvme_id_ctrl, iorcsz, 1796);
NVMF_ASSERT_OFF(nvme_id_ctrl, icdoff, 1800);
NVMF_ASSERT_OFF(nvme_id_ctrl, fcatt, 1802);
NVMF_ASSERT_OFF(nvme_id_ctrl, msdbd, 1803);
NVMF_ASSERT_OFF(nvme_id_ctrl, ofcs, 1804);
NVMF_ASSERT_OFF(nvme_id_ctrl, rsvd1806, 1806);
NVMF_ASSERT_OFF(nvme_id_ctrl, psd, 2048);
NVMF_ASSERT_OFF(nvme_id_ctrl, vs, 3072);

NVMF_ASSERT_SIZE(nvme_lbaf, 4);
NVMF_ASSERT_OFF(nvme_lbaf, ms, 0);
NVMF_ASSERT_OFF(nvme_lbaf, lbads, 2);
NVMF_ASSERT_OFF(nvme_lbaf, rp, 3);

NVMF_ASSERT_SIZE(nvme_id_ns, 4096);
NVMF_ASSERT_OFF(nvme_id_ns, nsze, 0);
NVMF_ASSERT_OFF(nvme_id_ns, ncap, 8);
NVMF_ASSERT_OFF(nvme_id_ns, nuse, 16);
NVMF_ASSERT_OFF(nvme_id_ns, nsfeat, 24);
NVMF_ASSERT_OFF(nvme_id_ns, nlbaf, 25);
NVMF_ASSERT_OFF(nvme_id_ns, flbas, 26);
NVMF_ASSERT_OFF(nvme_id_ns, mc, 27);
NVMF_ASSERT_OFF(nvme_id_ns, dpc, 28);
NVMF_ASSERT_OFF(nvme_id_ns, dps, 29);
NVMF_ASSERT_OFF(nvme_id_ns, nmic, 30);
NVMF_ASSERT_OFF(nvme_id_ns, rescap, 31);
NVMF_ASSERT_OFF(nvme_id_ns, fpi, 32);
NVMF_ASSERT_OFF(nvme_id_ns, dlfeat, 33);
NVMF_ASSERT_OFF(nvme_id_ns, nawun, 34);
NVMF_ASSERT_OFF(nvme_id_ns, nawupf, 36);
NVMF_ASSERT_OFF(nvme_id_ns, nacwu, 38);
NVMF_ASSERT_OFF(nvme_id_ns, nabsn, 40);
NVMF_ASSERT_OFF(nvme_id_ns, nabo, 42);
NVMF_ASSERT_OFF(nvme_id_ns, nabspf, 44);
NVMF_ASSERT_OFF(nvme_id_ns, noiob, 46);
NVMF_ASSERT_OFF(nvme_id_ns, nvmcap, 48);
NVMF_ASSERT_OFF(nvme_id_ns, npwg, 64);
NVMF_ASSERT_OFF(nvme_id_ns, npwa, 66);
NVMF_ASSERT_OFF(nvme_id_ns, npdg, 68);
NVMF_ASSERT_OFF(nvme_id_ns, npda, 70);
NVMF_ASSERT_OFF(nvme_id_ns, nows, 72);
NVMF_ASSERT_OFF(nvme_id_ns, mssrl, 74);
NVMF_ASSERT_OFF(nvme_id_ns, mcl, 76);
NVMF_ASSERT_OFF(nvme_id_ns, msrc, 80);
NVMF_ASSERT_OFF(nvme_id_ns, rsvd81, 81);
NVMF_ASSERT_OFF(nvme_id_ns, nulbaf, 82);
NVMF_ASSERT_OFF(nvme_id_ns, rsvd83, 83);
NVMF_ASSERT_OFF(nvme_id_ns, anagrpid, 92);
NVMF_ASSERT_OFF(nvme_id_ns, rsvd96, 96);
NVMF_ASSERT_OFF(nvme_id_ns, nsattr, 99);
NVMF_ASSERT_OFF(nvme_id_ns, nvmsetid, 100);
NVMF_ASSERT_OFF(nvme_id_ns, endgid, 102);
NVMF_ASSERT_OFF(nvme_id_ns, nguid, 104);
NVMF_ASSERT_OFF(nvme_id_ns, eui64, 120);
NVMF_ASSERT_OFF(nvme_id_ns, lbaf, 128);
NVMF_ASSERT_OFF(nvme_id_ns, vs, 384);

NVMF_ASSERT_SIZE(nvme_ns_id_desc, 4);
NVMF_ASSERT_OFF(nvme_ns_id_desc, nidt, 0);
NVMF_ASSERT_OFF(nvme_ns_id_desc, nidl, 1);
NVMF_ASSERT_OFF(nvme_ns_id_desc, rsvd2, 2);

/* Log pages (Base 2.0 §5.16.1). */
NVMF_ASSERT_SIZE(nvme_error_log_entry, 64);
NVMF_ASSERT_OFF(nvme_error_log_entry, error_count, 0);
NVMF_ASSERT_OFF(nvme_error_log_entry, sqid, 8);
NVMF_ASSERT_OFF(nvme_error_log_entry, cid, 10);
NVMF_ASSERT_OFF(nvme_error_log_entry, status, 12);
NVMF_ASSERT_OFF(nvme_error_log_entry, parm_error_location, 14);
NVMF_ASSERT_OFF(nvme_error_log_entry, lba, 16);
NVMF_ASSERT_OFF(nvme_error_log_entry, nsid, 24);
NVMF_ASSERT_OFF(nvme_error_log_entry, vs, 28);
NVMF_ASSERT_OFF(nvme_error_log_entry, trtype, 29);
NVMF_ASSERT_OFF(nvme_error_log_entry, rsvd30, 30);
NVMF_ASSERT_OFF(nvme_error_log_entry, cs, 32);
NVMF_ASSERT_OFF(nvme_error_log_entry, trtype_specific, 40);
NVMF_ASSERT_OFF(nvme_error_log_entry, rsvd42, 42);

NVMF_ASSERT_SIZE(nvme_smart_log, 512);
NVMF_ASSERT_OFF(nvme_smart_log, critical_warning, 0);
NVMF_ASSERT_OFF(nvme_smart_log, temperature, 1);
NVMF_ASSERT_OFF(nvme_smart_log, avail_spare, 3);
NVMF_ASSERT_OFF(nvme_smart_log, spare_thresh, 4);
NVMF_ASSERT_OFF(nvme_smart_log, percent_used, 5);
NVMF_ASSERT_OFF(nvme_smart_log, endu_grp_crit_warn, 6);
NVMF_ASSERT_OFF(nvme_smart_log, rsvd7, 7);
NVMF_ASSERT_OFF(nvme_smart_log, data_units_read, 32);
NVMF_ASSERT_OFF(nvme_smart_log, data_units_written, 48);
NVMF_ASSERT_OFF(nvme_smart_log, host_read_commands, 64);
NVMF_ASSERT_OFF(nvme_smart_log, host_write_commands, 80);
NVMF_ASSERT_OFF(nvme_smart_log, ctrl_busy_time, 96);
NVMF_ASSERT_OFF(nvme_smart_log, power_cycles, 112);
NVMF_ASSERT_OFF(nvme_smart_log, power_on_hours, 128);
NVMF_ASSERT_OFF(nvme_smart_log, unsafe_shutdowns, 144);
NVMF_ASSERT_OFF(nvme_smart_log, media_errors, 160);
NVMF_ASSERT_OFF(nvme_smart_log, num_err_log_entries, 176);
NVMF_ASSERT_OFF(nvme_smart_log, warning_temp_time, 192);
NVMF_ASSERT_OFF(nvme_smart_log, critical_comp_time, 196);
NVMF_ASSERT_OFF(nvme_smart_log, temp_sensor, 200);
NVMF_ASSERT_OFF(nvme_smart_log, thm_temp1_trans_count, 216);
NVMF_ASSERT_OFF(nvme_smart_log, thm_temp2_trans_count, 220);
NVMF_ASSERT_OFF(nvme_smart_log, thm_temp1_total_time, 224);
NVMF_ASSERT_OFF(nvme_smart_log, thm_temp2_total_time, 228);
NVMF_ASSERT_OFF(nvme_smart_log, rsvd232, 232);

NVMF_ASSERT_SIZE(nvme_firmware_slot_log, 512);
NVMF_ASSERT_OFF(nvme_firmware_slot_log, afi, 0);
NVMF_ASSERT_OFF(nvme_firmware_slot_log, rsvd1, 1);
NVMF_ASSERT_OFF(nvme_firmware_slot_log, frs, 8);
NVMF_ASSERT_OFF(nvme_firmware_slot_log, rsvd64, 64);

NVMF_ASSERT_SIZE(nvme_cmd_effects_log, 4096);
NVMF_ASSERT_OFF(nvme_cmd_effects_log, acs, 0);
NVMF_ASSERT_OFF(nvme_cmd_effects_log, iocs, 1024);
NVMF_ASSERT_OFF(nvme_cmd_effects_log, rsvd2048, 2048);

NVMF_ASSERT_SIZE(nvme_resv_register_data, 16);
NVMF_ASSERT_OFF(nvme_resv_register_data, nrkey, 8);
NVMF_ASSERT_SIZE(nvme_resv_acquire_data, 16);
NVMF_ASSERT_OFF(nvme_resv_acquire_data, prkey, 8);
NVMF_ASSERT_SIZE(nvme_resv_release_data, 8);
NVMF_ASSERT_SIZE(nvme_resv_status, 24);
NVMF_ASSERT_OFF(nvme_resv_status, rtype, 4);
NVMF_ASSERT_OFF(nvme_resv_status, regctl, 5);
NVMF_ASSERT_OFF(nvme_resv_status, ptpls, 9);
NVMF_ASSERT_SIZE(nvme_resv_registrant, 24);
NVMF_ASSERT_OFF(nvme_resv_registrant, rcsts, 2);
NVMF_ASSERT_OFF(nvme_resv_registrant, hostid, 8);
NVMF_ASSERT_OFF(nvme_resv_registrant, rkey, 16);
NVMF_ASSERT_SIZE(nvme_resv_registrant_ext, 64);
NVMF_ASSERT_OFF(nvme_resv_registrant_ext, rkey, 8);
NVMF_ASSERT_OFF(nvme_resv_registrant_ext, hostid, 16);
NVMF_ASSERT_SIZE(nvme_resv_notification_log, 64);
NVMF_ASSERT_OFF(nvme_resv_notification_log, rnlpt, 8);
NVMF_ASSERT_OFF(nvme_resv_notification_log, nalp, 9);
NVMF_ASSERT_OFF(nvme_resv_notification_log, nsid, 12);

NVMF_ASSERT_SIZE(nvme_changed_ns_list_log, 4096);
NVMF_ASSERT_OFF(nvme_changed_ns_list_log, nsid, 0);

NVMF_ASSERT_SIZE(nvme_ana_log_hdr, 16);
NVMF_ASSERT_OFF(nvme_ana_log_hdr, chgcnt, 0);
NVMF_ASSERT_OFF(nvme_ana_log_hdr, ngrps, 8);
NVMF_ASSERT_OFF(nvme_ana_log_hdr, rsvd10, 10);
NVMF_ASSERT_SIZE(nvme_ana_group_desc, 32);
NVMF_ASSERT_OFF(nvme_ana_group_desc, grpid, 0);
NVMF_ASSERT_OFF(nvme_ana_group_desc, nnsids, 4);
NVMF_ASSERT_OFF(nvme_ana_group_desc, chgcnt, 8);
NVMF_ASSERT_OFF(nvme_ana_group_desc, state, 16);
NVMF_ASSERT_OFF(nvme_ana_group_desc, rsvd17, 17);

NVMF_ASSERT_SIZE(nvme_supported_log_pages, 1024);
NVMF_ASSERT_OFF(nvme_supported_log_pages, lid, 0);

/* Discovery log page (NVMe-oF 1.1 §5.3). */
NVMF_ASSERT_SIZE(nvmf_discovery_log_entry, 1024);
NVMF_ASSERT_OFF(nvmf_discovery_log_entry, trtype, 0);
NVMF_ASSERT_OFF(nvmf_discovery_log_entry, adrfam, 1);
NVMF_ASSERT_OFF(nvmf_discovery_log_entry, subtype, 2);
NVMF_ASSERT_OFF(nvmf_discovery_log_entry, treq, 3);
NVMF_ASSERT_OFF(nvmf_discovery_log_entry, portid, 4);
NVMF_ASSERT_OFF(nvmf_discovery_log_entry, cntlid, 6);
NVMF_ASSERT_OFF(nvmf_discovery_log_entry, asqsz, 8);
NVMF_ASSERT_OFF(nvmf_discovery_log_entry, eflags, 10);
NVMF_ASSERT_OFF(nvmf_discovery_log_entry, rsvd12, 12);
NVMF_ASSERT_OFF(nvmf_discovery_log_entry, trsvcid, 32);
NVMF_ASSERT_OFF(nvmf_discovery_log_entry, rsvd64, 64);
NVMF_ASSERT_OFF(nvmf_discovery_log_entry, subnqn, 256);
NVMF_ASSERT_OFF(nvmf_discovery_log_entry, traddr, 512);
NVMF_ASSERT_OFF(nvmf_discovery_log_entry, tsas, 768);
NVMF_ASSERT_OFF(nvmf_discovery_log_entry, tsas.tcp.sectype, 768);
NVMF_ASSERT_OFF(nvmf_discovery_log_entry, tsas.tcp.rsvd1, 769);

NVMF_ASSERT_SIZE(nvmf_discovery_log, 1024);
NVMF_ASSERT_OFF(nvmf_discovery_log, genctr, 0);
NVMF_ASSERT_OFF(nvmf_discovery_log, numrec, 8);
NVMF_ASSERT_OFF(nvmf_discovery_log, recfmt, 16);
NVMF_ASSERT_OFF(nvmf_discovery_log, rsvd18, 18);
NVMF_ASSERT_OFF(nvmf_discovery_log, entries, 1024);

#undef NVMF_ASSERT_SIZE
#undef NVMF_ASSERT_OFF

#endif /* NVMF_SPEC_H */
