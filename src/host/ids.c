/* SPDX-License-Identifier: MIT */
/*
 * Host identity and target addressing: the default host NQN and host ID
 * (as nvme-cli finds them, else generated once and kept), and the
 * nvme+tcp:// URI form of a target.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/host_internal.h"
#include "util/crc32c.h"
#include "util/log.h"

/*
 * nvme-cli's files: /etc/nvme/hostnqn and /etc/nvme/hostid.  NVMF_ETC_NVME
 * names another directory to read them from instead, so that tests (and
 * users trying an identity) need not change the machine's own.
 */
#define ETC_NVME_DIR "/etc/nvme"
#define ETC_NVME_ENV "NVMF_ETC_NVME"
#define UUID_NQN_PREFIX "nqn.2014-08.org.nvmexpress:uuid:"

/* First line of a small file, trimmed; false if missing or empty. */
static bool read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (f == NULL)
		return false;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!ok)
		return false;
	buf[strcspn(buf, "\r\n")] = '\0';
	while (buf[0] != '\0' && buf[strlen(buf) - 1] == ' ')
		buf[strlen(buf) - 1] = '\0';
	return buf[0] != '\0';
}

static bool valid_nqn(const char *s)
{
	return strncmp(s, "nqn.", 4) == 0 && strlen(s) <= NVMF_NQN_MAX_LEN;
}

/* $XDG_STATE_HOME/nvmf, else ~/.local/state/nvmf, created with its parents. */
static int state_dir(char *out, size_t len)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, len, "%s/nvmf", xdg);
	else if (home != NULL && home[0] == '/')
		n = snprintf(out, len, "%s/.local/state/nvmf", home);
	else
		return -ENOENT;
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	/* mkdir -p */
	for (char *p = out + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(out, 0700) != 0 && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(out, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void random_uuid(uint8_t u[16])
{
	size_t got = 0;

	while (got < 16) {
		ssize_t n = getrandom(u + got, 16 - got, 0);

		if (n > 0)
			got += (size_t)n;
	}
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}

/*
 * The host NQN kept in the state directory, made on first use.  A second
 * process racing to create it reads the winner's (link() does not replace).
 */
int host_stored_hostnqn(char nqn[NVMF_HOST_NQN_SIZE])
{
	char dir[512], path[600], tmp[640], line[NVMF_HOST_NQN_SIZE + 2];
	uint8_t u[16];
	char ustr[NVMF_UUID_STR_SIZE];
	int ret = state_dir(dir, sizeof(dir));
	FILE *f;

	if (ret != 0)
		return ret;
	snprintf(path, sizeof(path), "%s/hostnqn", dir);
	if (read_line(path, line, sizeof(line)) && valid_nqn(line)) {
		memcpy(nqn, line, strlen(line) + 1); /* valid_nqn bounded it */
		return 0;
	}
	random_uuid(u);
	host_format_uuid(u, ustr);
	snprintf(tmp, sizeof(tmp), "%s/.hostnqn.%ld", dir, (long)getpid());
	f = fopen(tmp, "we");
	if (f == NULL)
		return -errno;
	fprintf(f, UUID_NQN_PREFIX "%s\n", ustr);
	if (fclose(f) != 0) {
		ret = -errno;
		unlink(tmp);
		return ret;
	}
	if (link(tmp, path) != 0 && errno != EEXIST)
		ret = -errno;
	unlink(tmp);
	if (ret != 0)
		return ret;
	if (!read_line(path, line, sizeof(line)) || !valid_nqn(line))
		return -EINVAL;
	memcpy(nqn, line, strlen(line) + 1);
	return 0;
}

/* A stable UUID for an NQN without one: CRC32C of it under four seeds. */
static void derived_uuid(const char *nqn, uint8_t u[16])
{
	for (uint32_t i = 0; i < 4; i++) {
		uint32_t crc = nvmf_crc32c_update(NVMF_CRC32C_INIT ^ (0x9e3779b9u * (i + 1)), nqn,
						  strlen(nqn));

		crc = nvmf_crc32c_final(crc);
		memcpy(u + 4 * i, &crc, 4);
	}
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x80); /* version 8: vendor-specific */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
}

/* DIR/name, DIR being $NVMF_ETC_NVME or /etc/nvme. */
static void etc_nvme_path(const char *name, char *out, size_t len)
{
	const char *dir = secure_getenv(ETC_NVME_ENV);

	snprintf(out, len, "%s/%s", dir != NULL && dir[0] != '\0' ? dir : ETC_NVME_DIR, name);
}

int nvmf_host_default_ids(char hostnqn[NVMF_HOST_NQN_SIZE], char hostid[NVMF_UUID_STR_SIZE])
{
	char line[NVMF_HOST_NQN_SIZE + 2], path[4096];
	bool from_etc = false;
	const char *uuid_part;
	uint8_t u[16];

	if (hostnqn[0] == '\0') {
		etc_nvme_path("hostnqn", path, sizeof(path));
		if (read_line(path, line, sizeof(line)) && valid_nqn(line)) {
			memcpy(hostnqn, line, strlen(line) + 1);
			from_etc = true;
		} else {
			int ret = host_stored_hostnqn(hostnqn);

			if (ret != 0) {
				/* Nowhere to keep one: still usable, though not stable. */
				char ustr[NVMF_UUID_STR_SIZE];

				NVMF_WARN("host: cannot keep a host NQN (%s); using a new one",
					  strerror(-ret));
				random_uuid(u);
				host_format_uuid(u, ustr);
				snprintf(hostnqn, NVMF_HOST_NQN_SIZE, UUID_NQN_PREFIX "%s", ustr);
			}
		}
	}
	/* nvme-cli pairs /etc/nvme/hostid with /etc/nvme/hostnqn. */
	etc_nvme_path("hostid", path, sizeof(path));
	if (from_etc && read_line(path, line, sizeof(line)) &&
	    host_parse_uuid(line, u) == 0) {
		host_format_uuid(u, hostid);
		return 0;
	}
	uuid_part = strstr(hostnqn, ":uuid:");
	if (uuid_part != NULL && host_parse_uuid(uuid_part + 6, u) == 0) {
		host_format_uuid(u, hostid);
		return 0;
	}
	derived_uuid(hostnqn, u);
	host_format_uuid(u, hostid);
	return 0;
}

int nvmf_parse_uri(const char *uri, struct nvmf_host_opts *opts, char *buf, size_t buflen)
{
	static const char scheme[] = "nvme+tcp://";
	const char *p, *addr_end, *host, *port = NULL, *nqn;
	size_t host_len, port_len = 0, need;
	char *out;

	if (strncmp(uri, scheme, sizeof(scheme) - 1) != 0)
		return -EINVAL;
	p = uri + sizeof(scheme) - 1;
	if (*p == '[') {
		/* [IPv6]:port */
		addr_end = strchr(p, ']');
		if (addr_end == NULL)
			return -EINVAL;
		host = p + 1;
		host_len = (size_t)(addr_end - host);
		p = addr_end + 1;
	} else {
		host = p;
		host_len = strcspn(p, ":/");
		p += host_len;
	}
	if (*p == ':') {
		port = p + 1;
		port_len = strcspn(port, "/");
		p = port + port_len;
	}
	if (host_len == 0 || (port != NULL && port_len == 0))
		return -EINVAL;
	nqn = *p == '/' ? p + 1 : p;
	need = host_len + 1 + port_len + 1 + strlen(nqn) + 1;
	if (need > buflen)
		return -ENAMETOOLONG;
	out = buf;
	memcpy(out, host, host_len);
	out[host_len] = '\0';
	opts->traddr = out;
	out += host_len + 1;
	if (port != NULL) {
		memcpy(out, port, port_len);
		out[port_len] = '\0';
		opts->trsvcid = out;
		out += port_len + 1;
	}
	if (nqn[0] != '\0') {
		strcpy(out, nqn);
		opts->subnqn = out;
	}
	opts->trtype = NVMF_TRTYPE_TCP;
	return 0;
}
