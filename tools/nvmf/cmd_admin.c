/* SPDX-License-Identifier: MIT */
/* nvmf identify, list-ns, get-log, get-feature. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf.h"
#include "nvmf/auth.h"

static char *hex_string(const void *buf, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = buf;
	char *s = malloc(2 * len + 1);

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 0xf];
	}
	s[2 * len] = '\0';
	return s;
}

static json_t *json_hex(const void *buf, size_t len)
{
	char *s = hex_string(buf, len);
	json_t *j = json_string(s != NULL ? s : "");

	free(s);
	return j;
}

static void version_str(uint32_t vs, char *out, size_t len)
{
	snprintf(out, len, "%u.%u.%u", vs >> 16, (vs >> 8) & 0xff, vs & 0xff);
}

/* The admin queue's DH-HMAC-CHAP, or null. */
static json_t *auth_json(struct nvmf_ctrl *ctrl)
{
	uint8_t hash, group;
	bool bidir;

	if (!nvmf_ctrl_auth_info(ctrl, &hash, &group, &bidir))
		return json_null();
	return json_pack("{s:s, s:s, s:b}", "hash", nvmf_dhchap_hash_name(hash), "dhgroup",
			 nvmf_dhchap_dhgroup_name(group), "bidirectional", bidir);
}

static json_t *ctrl_json(struct nvmf_ctrl *ctrl)
{
	const struct nvme_id_ctrl *id = nvmf_ctrl_identify(ctrl);
	char sn[21], mn[41], fr[9], ver[16], nqn[NVMF_HOST_NQN_SIZE];
	struct nvmf_qpair_info info = {0};
	json_t *o;

	id_str(sn, sizeof(sn), id->sn, sizeof(id->sn));
	id_str(mn, sizeof(mn), id->mn, sizeof(id->mn));
	id_str(fr, sizeof(fr), id->fr, sizeof(id->fr));
	id_str(nqn, sizeof(nqn), id->subnqn, sizeof(id->subnqn));
	version_str(nvmf_ctrl_vs(ctrl), ver, sizeof(ver));
	nvmf_ctrl_queue_info(ctrl, 0, &info);
	o = json_pack("{s:i, s:i, s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:I, s:I, s:i, s:i, s:i}",
		      "vid", id->vid, "ssvid", id->ssvid, "sn", sn, "mn", mn, "fr", fr, "cmic",
		      id->cmic, "mdts", id->mdts, "cntlid", nvmf_ctrl_cntlid(ctrl), "ver", ver,
		      "oaes", (json_int_t)id->oaes, "ctratt", (json_int_t)id->ctratt, "cntrltype",
		      id->cntrltype, "aerl", id->aerl, "kas", id->kas);
	json_object_update_new(
		o, json_pack("{s:i, s:i, s:i, s:I, s:i, s:i, s:I, s:s, s:I, s:I, s:i, s:i, s:i}",
			     "sqes", id->sqes, "cqes", id->cqes, "maxcmd", id->maxcmd, "nn",
			     (json_int_t)id->nn, "oncs", id->oncs, "vwc", id->vwc, "sgls",
			     (json_int_t)id->sgls, "subnqn", nqn, "ioccsz", (json_int_t)id->ioccsz,
			     "iorcsz", (json_int_t)id->iorcsz, "icdoff", id->icdoff, "fcatt",
			     id->fcatt, "msdbd", id->msdbd));
	json_object_update_new(
		o, json_pack("{s:I, s:I, s:i, s:i, s:I, s:b, s:b, s:s, s:s}", "max_io_size",
			     (json_int_t)nvmf_ctrl_max_io_size(ctrl), "max_icd",
			     (json_int_t)nvmf_ctrl_max_icd(ctrl), "io_queues",
			     nvmf_ctrl_nr_io_queues(ctrl), "queue_depth",
			     nvmf_ctrl_queue_depth(ctrl), "cap", (json_int_t)nvmf_ctrl_cap(ctrl),
			     "hdr_digest", info.header_digests, "data_digest", info.data_digests,
			     "hostnqn", nvmf_ctrl_hostnqn(ctrl), "hostid", nvmf_ctrl_hostid(ctrl)));
	json_object_set_new(o, "tls", info.tls_cipher != NULL ? json_string(info.tls_cipher)
							       : json_null());
	json_object_set_new(o, "dhchap", auth_json(ctrl));
	return o;
}

static void print_ctrl(struct nvmf_ctrl *ctrl)
{
	const struct nvme_id_ctrl *id = nvmf_ctrl_identify(ctrl);
	char sn[21], mn[41], fr[9], ver[16], nqn[NVMF_HOST_NQN_SIZE];
	struct nvmf_qpair_info info = {0};
	uint8_t hash, group;
	bool bidir;

	id_str(sn, sizeof(sn), id->sn, sizeof(id->sn));
	id_str(mn, sizeof(mn), id->mn, sizeof(id->mn));
	id_str(fr, sizeof(fr), id->fr, sizeof(id->fr));
	id_str(nqn, sizeof(nqn), id->subnqn, sizeof(id->subnqn));
	version_str(nvmf_ctrl_vs(ctrl), ver, sizeof(ver));
	nvmf_ctrl_queue_info(ctrl, 0, &info);
	printf("Controller %u at %s:%s\n", nvmf_ctrl_cntlid(ctrl), nvmf_ctrl_traddr(ctrl),
	       nvmf_ctrl_trsvcid(ctrl));
	printf("  %-12s : %s\n", "subnqn", nqn);
	printf("  %-12s : %s\n", "mn", mn);
	printf("  %-12s : %s\n", "sn", sn);
	printf("  %-12s : %s\n", "fr", fr);
	printf("  %-12s : %s\n", "ver", ver);
	printf("  %-12s : 0x%04x / 0x%04x\n", "vid / ssvid", id->vid, id->ssvid);
	printf("  %-12s : %u (%s)\n", "cntrltype", id->cntrltype,
	       id->cntrltype == NVME_CTRL_TYPE_DISCOVERY ? "discovery"
	       : id->cntrltype == NVME_CTRL_TYPE_IO      ? "I/O"
							 : "unreported");
	printf("  %-12s : %u (max %u bytes per command)\n", "mdts", id->mdts,
	       nvmf_ctrl_max_io_size(ctrl));
	printf("  %-12s : %u\n", "nn", id->nn);
	printf("  %-12s : %#x\n", "oncs", id->oncs);
	printf("  %-12s : %#x\n", "vwc", id->vwc);
	printf("  %-12s : %#x\n", "sgls", id->sgls);
	printf("  %-12s : %u\n", "maxcmd", id->maxcmd);
	printf("  %-12s : %u (x 100 ms)\n", "kas", id->kas);
	printf("  %-12s : %u\n", "aerl", id->aerl);
	printf("  %-12s : %#x\n", "oaes", id->oaes);
	printf("  %-12s : %u (%u bytes in-capsule data)\n", "ioccsz", id->ioccsz,
	       nvmf_ctrl_max_icd(ctrl));
	printf("  %-12s : %u\n", "iorcsz", id->iorcsz);
	printf("  %-12s : %u\n", "icdoff", id->icdoff);
	printf("  %-12s : %u\n", "msdbd", id->msdbd);
	printf("  %-12s : %u of %u entries\n", "io queues", nvmf_ctrl_nr_io_queues(ctrl),
	       nvmf_ctrl_queue_depth(ctrl) + 2);
	printf("  %-12s : header %s, data %s\n", "digests", info.header_digests ? "on" : "off",
	       info.data_digests ? "on" : "off");
	printf("  %-12s : %s\n", "tls", info.tls_cipher != NULL ? info.tls_cipher : "off");
	if (nvmf_ctrl_auth_info(ctrl, &hash, &group, &bidir))
		printf("  %-12s : DH-HMAC-CHAP %s, %s, %s\n", "auth", nvmf_dhchap_hash_name(hash),
		       nvmf_dhchap_dhgroup_name(group), bidir ? "bidirectional" : "unidirectional");
	else
		printf("  %-12s : none\n", "auth");
	printf("  %-12s : %s\n", "hostnqn", nvmf_ctrl_hostnqn(ctrl));
	printf("  %-12s : %s\n", "hostid", nvmf_ctrl_hostid(ctrl));
}

static json_t *ns_json(const struct nvmf_ns *ns)
{
	const struct nvme_id_ns *id = nvmf_ns_identify(ns);
	struct nvmf_ns_info info;

	nvmf_ns_get_info(ns, &info);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:i, s:i, s:i, s:o, s:o}", "nsid",
			 (json_int_t)info.nsid, "nsze", (json_int_t)info.nsze, "ncap",
			 (json_int_t)info.ncap, "nuse", (json_int_t)info.nuse, "size_bytes",
			 (json_int_t)(info.nsze * info.lba_size), "lba_size", info.lba_size, "ms",
			 info.ms, "nlbaf", id->nlbaf, "flbas", id->flbas, "dlfeat", id->dlfeat,
			 "nguid", json_hex(id->nguid, sizeof(id->nguid)), "eui64",
			 json_hex(id->eui64, sizeof(id->eui64)));
}

static void print_ns_header(void)
{
	printf("%-6s %-14s %-14s %-9s %s\n", "NSID", "Blocks", "Size", "LBA size", "NGUID");
}

static void print_ns(const struct nvmf_ns *ns)
{
	const struct nvme_id_ns *id = nvmf_ns_identify(ns);
	struct nvmf_ns_info info;
	char *nguid = hex_string(id->nguid, sizeof(id->nguid));
	char size[32];

	nvmf_ns_get_info(ns, &info);
	snprintf(size, sizeof(size), "%.1f MiB",
		 (double)info.nsze * info.lba_size / (1024.0 * 1024.0));
	printf("%-6u %-14llu %-14s %-9u %s\n", info.nsid, (unsigned long long)info.nsze, size,
	       info.lba_size, nguid != NULL ? nguid : "");
	free(nguid);
}

/* The active namespaces, malloc()ed. */
static uint32_t *active_nsids(struct cli *cli, struct nvmf_ctrl *ctrl, size_t *n)
{
	size_t count = nvmf_ctrl_ns_list(ctrl, NULL, 0);
	uint32_t *ids = malloc((count != 0 ? count : 1) * sizeof(*ids));

	if (ids == NULL)
		die(cli, "out of memory");
	*n = nvmf_ctrl_ns_list(ctrl, ids, count);
	if (*n > count)
		*n = count;
	return ids;
}

int cmd_identify(struct cli *cli)
{
	struct nvmf_ctrl *ctrl = cli_connect(cli);
	size_t n;
	uint32_t *ids;
	json_t *nss = json_array();

	if (cli->nsid != 0) {
		ids = malloc(sizeof(*ids));
		if (ids == NULL)
			die(cli, "out of memory");
		cli_namespace(cli, ctrl);
		ids[0] = cli->nsid;
		n = 1;
	} else {
		ids = active_nsids(cli, ctrl, &n);
	}
	if (cli->json) {
		for (size_t i = 0; i < n; i++)
			json_array_append_new(nss, ns_json(nvmf_ctrl_ns(ctrl, ids[i])));
		json_print(json_pack("{s:o, s:o}", "controller", ctrl_json(ctrl), "namespaces", nss));
	} else {
		json_decref(nss);
		print_ctrl(ctrl);
		printf("\n");
		print_ns_header();
		for (size_t i = 0; i < n; i++)
			print_ns(nvmf_ctrl_ns(ctrl, ids[i]));
	}
	free(ids);
	cli_disconnect(cli, ctrl);
	return 0;
}

int cmd_list_ns(struct cli *cli)
{
	struct nvmf_ctrl *ctrl = cli_connect(cli);
	size_t n;
	uint32_t *ids = active_nsids(cli, ctrl, &n);

	if (cli->json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++) {
			struct nvmf_ns_info info;

			nvmf_ns_get_info(nvmf_ctrl_ns(ctrl, ids[i]), &info);
			json_array_append_new(arr, json_pack("{s:I, s:I, s:i, s:I}", "nsid",
							     (json_int_t)info.nsid, "nsze",
							     (json_int_t)info.nsze, "lba_size",
							     info.lba_size, "size_bytes",
							     (json_int_t)(info.nsze * info.lba_size)));
		}
		json_print(json_pack("{s:o}", "namespaces", arr));
	} else {
		print_ns_header();
		for (size_t i = 0; i < n; i++)
			print_ns(nvmf_ctrl_ns(ctrl, ids[i]));
	}
	free(ids);
	cli_disconnect(cli, ctrl);
	return 0;
}

static const char *log_name(int lid)
{
	switch (lid) {
	case NVME_LOG_SUPPORTED_PAGES: return "Supported Log Pages";
	case NVME_LOG_ERROR: return "Error Information";
	case NVME_LOG_SMART: return "SMART / Health Information";
	case NVME_LOG_FIRMWARE_SLOT: return "Firmware Slot Information";
	case NVME_LOG_CHANGED_NS_LIST: return "Changed Namespace List";
	case NVME_LOG_COMMAND_EFFECTS: return "Commands Supported and Effects";
	case NVME_LOG_DISCOVERY: return "Discovery";
	default: return "Log Page";
	}
}

static uint32_t default_log_len(int lid, const struct nvme_id_ctrl *id)
{
	switch (lid) {
	case NVME_LOG_SUPPORTED_PAGES: return sizeof(struct nvme_supported_log_pages);
	case NVME_LOG_ERROR:
		return sizeof(struct nvme_error_log_entry) * (id->elpe + 1u < 64 ? id->elpe + 1u : 64);
	case NVME_LOG_CHANGED_NS_LIST: return sizeof(struct nvme_changed_ns_list_log);
	case NVME_LOG_COMMAND_EFFECTS: return sizeof(struct nvme_cmd_effects_log);
	case NVME_LOG_DISCOVERY: return sizeof(struct nvmf_discovery_log);
	default: return 512;
	}
}

/* The 128-bit little-endian SMART counters, as far as a double carries them. */
static double le128(const uint8_t v[16])
{
	double d = 0;

	for (int i = 15; i >= 0; i--)
		d = d * 256.0 + v[i];
	return d;
}

static json_t *smart_json(const struct nvme_smart_log *s)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
			 "critical_warning", s->critical_warning, "temperature_kelvin",
			 s->temperature, "avail_spare", s->avail_spare, "percent_used",
			 s->percent_used, "data_units_read", le128(s->data_units_read),
			 "data_units_written", le128(s->data_units_written), "host_read_commands",
			 le128(s->host_read_commands), "host_write_commands",
			 le128(s->host_write_commands), "power_cycles", le128(s->power_cycles),
			 "power_on_hours", le128(s->power_on_hours), "unsafe_shutdowns",
			 le128(s->unsafe_shutdowns), "media_errors", le128(s->media_errors));
}

int cmd_get_log(struct cli *cli)
{
	struct nvmf_ctrl *ctrl;
	uint32_t len, nsid;
	void *buf;
	int ret;
	char why[128];

	if (cli->log_id < 0)
		die(cli, "--log-id is required");
	if (cli->offset % 4 != 0)
		die(cli, "--offset must be a multiple of 4");
	ctrl = cli_connect(cli);
	len = cli->log_len != 0 ? cli->log_len : default_log_len(cli->log_id, nvmf_ctrl_identify(ctrl));
	if (len % 4 != 0)
		die(cli, "--log-len must be a multiple of 4");
	nsid = cli->nsid != 0 ? cli->nsid : 0xffffffffu;
	buf = calloc(1, len);
	if (buf == NULL)
		die(cli, "out of memory");
	if (cli->lsp != 0) {
		const struct nvme_sqe sqe = {
			.opc = NVME_ADMIN_GET_LOG_PAGE,
			.nsid = nsid,
			.cdw10 = (uint32_t)cli->log_id | (uint32_t)cli->lsp << 8 |
				 (len / 4 - 1) << 16,
			.cdw11 = (len / 4 - 1) >> 16,
			.cdw12 = (uint32_t)cli->offset,
			.cdw13 = (uint32_t)(cli->offset >> 32),
		};

		ret = nvmf_passthru_sync(ctrl, 0, &sqe, buf, len, NVMF_DATA_FROM_CTRL, NULL);
	} else {
		ret = nvmf_get_log_page(ctrl, (uint8_t)cli->log_id, nsid, cli->offset, buf, len,
					false);
	}
	if (ret != 0)
		die(cli, "Get Log Page %#x: %s", cli->log_id, result_str(ret, why, sizeof(why)));
	if (cli->raw) {
		fwrite(buf, 1, len, stdout);
	} else if (cli->json) {
		json_t *o = json_pack("{s:i, s:s, s:I, s:I, s:i, s:o}", "log_id", cli->log_id,
				      "name", log_name(cli->log_id), "nsid", (json_int_t)nsid,
				      "offset", (json_int_t)cli->offset, "length", (int)len, "data",
				      json_hex(buf, len));

		if (cli->log_id == NVME_LOG_SMART && len >= sizeof(struct nvme_smart_log))
			json_object_set_new(o, "smart", smart_json(buf));
		json_print(o);
	} else {
		printf("%s log page (%#x), %u bytes at offset %llu:\n", log_name(cli->log_id),
		       cli->log_id, len, (unsigned long long)cli->offset);
		if (cli->log_id == NVME_LOG_SMART && len >= sizeof(struct nvme_smart_log)) {
			const struct nvme_smart_log *s = buf;

			printf("  critical_warning   : %#x\n", s->critical_warning);
			printf("  temperature        : %u K\n", s->temperature);
			printf("  percent_used       : %u%%\n", s->percent_used);
			printf("  data_units_read    : %.0f\n", le128(s->data_units_read));
			printf("  data_units_written : %.0f\n", le128(s->data_units_written));
			printf("  host_read_commands : %.0f\n", le128(s->host_read_commands));
			printf("  host_write_commands: %.0f\n", le128(s->host_write_commands));
			printf("  power_on_hours     : %.0f\n", le128(s->power_on_hours));
			printf("  unsafe_shutdowns   : %.0f\n", le128(s->unsafe_shutdowns));
			printf("  media_errors       : %.0f\n", le128(s->media_errors));
		}
		hexdump(buf, len);
	}
	free(buf);
	cli_disconnect(cli, ctrl);
	return 0;
}

static const char *feature_name(int fid)
{
	switch (fid) {
	case 0x01: return "Arbitration";
	case 0x02: return "Power Management";
	case 0x04: return "Temperature Threshold";
	case 0x05: return "Error Recovery";
	case NVME_FEAT_VOLATILE_WRITE_CACHE: return "Volatile Write Cache";
	case NVME_FEAT_NUMBER_OF_QUEUES: return "Number of Queues";
	case 0x08: return "Interrupt Coalescing";
	case 0x0a: return "Write Atomicity Normal";
	case NVME_FEAT_ASYNC_EVENT_CONFIG: return "Asynchronous Event Configuration";
	case NVME_FEAT_KEEP_ALIVE_TIMER: return "Keep Alive Timer";
	default: return "Feature";
	}
}

int cmd_get_feature(struct cli *cli)
{
	struct nvmf_ctrl *ctrl;
	uint32_t value = 0;
	void *buf = NULL;
	int ret;
	char why[128];

	if (cli->feature_id < 0)
		die(cli, "--feature-id is required");
	ctrl = cli_connect(cli);
	if (cli->data_len != 0) {
		buf = calloc(1, cli->data_len);
		if (buf == NULL)
			die(cli, "out of memory");
	}
	ret = nvmf_get_features(ctrl, (uint8_t)cli->feature_id, cli->nsid, cli->sel, cli->cdw11,
				buf, cli->data_len, &value);
	if (ret != 0)
		die(cli, "Get Features %#x: %s", cli->feature_id, result_str(ret, why, sizeof(why)));
	if (cli->json) {
		json_t *o = json_pack("{s:i, s:s, s:i, s:I}", "feature_id", cli->feature_id, "name",
				      feature_name(cli->feature_id), "sel", cli->sel, "value",
				      (json_int_t)value);

		if (buf != NULL)
			json_object_set_new(o, "data", json_hex(buf, cli->data_len));
		json_print(o);
	} else {
		printf("get-feature:%#04x (%s), %s value: %#010x\n", cli->feature_id,
		       feature_name(cli->feature_id),
		       cli->sel == 0 ? "Current" : cli->sel == 1 ? "Default"
					: cli->sel == 2 ? "Saved" : "Capabilities",
		       value);
		if (buf != NULL)
			hexdump(buf, cli->data_len);
	}
	free(buf);
	cli_disconnect(cli, ctrl);
	return 0;
}
