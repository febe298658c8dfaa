/* SPDX-License-Identifier: MIT */
/* nvmf read, write, compare, flush, write-zeroes, trim. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nvmf.h"

#define CHUNK (1u << 20) /* bytes staged per step between file and target */

/* Offset and length must be whole blocks inside the namespace. */
static void check_range(struct cli *cli, struct nvmf_ns *ns)
{
	uint32_t bs = nvmf_ns_lba_size(ns);

	if (cli->offset % bs != 0 || cli->length % bs != 0)
		die(cli, "--offset and --length must be multiples of the %u-byte block size", bs);
	if (cli->offset > nvmf_ns_size_bytes(ns) ||
	    cli->length > nvmf_ns_size_bytes(ns) - cli->offset)
		die(cli, "range %llu+%llu is beyond the end of namespace %u (%llu bytes)",
		    (unsigned long long)cli->offset, (unsigned long long)cli->length, cli->nsid,
		    (unsigned long long)nvmf_ns_size_bytes(ns));
}

static void report(struct cli *cli, const char *what)
{
	if (cli->json)
		json_print(json_pack("{s:s, s:I, s:I, s:I, s:s}", "command", what, "nsid",
				     (json_int_t)cli->nsid, "offset", (json_int_t)cli->offset,
				     "length", (json_int_t)cli->length, "result", "success"));
	else
		printf("%s: success (namespace %u, %llu bytes at offset %llu)\n", what, cli->nsid,
		       (unsigned long long)cli->length, (unsigned long long)cli->offset);
}

static int open_data(struct cli *cli, bool input)
{
	int fd;

	if (cli->data == NULL || strcmp(cli->data, "-") == 0)
		return input ? STDIN_FILENO : STDOUT_FILENO;
	fd = input ? open(cli->data, O_RDONLY | O_CLOEXEC)
		   : open(cli->data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(cli, "%s: %s", cli->data, strerror(errno));
	return fd;
}

/* Fill buf from fd; returns the bytes read (short only at end of input). */
static size_t read_full(struct cli *cli, int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (uint8_t *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(cli, "reading %s: %s", cli->data != NULL ? cli->data : "stdin",
			    strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static void write_full(struct cli *cli, int fd, const void *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die(cli, "writing %s: %s", cli->data != NULL ? cli->data : "stdout",
			    strerror(errno));
		buf = (const uint8_t *)buf + n;
		len -= (size_t)n;
	}
}

int cmd_read(struct cli *cli)
{
	struct nvmf_ctrl *ctrl;
	struct nvmf_ns *ns;
	bool to_stdout = cli->data == NULL || strcmp(cli->data, "-") == 0;
	void *buf;
	int fd;
	char why[128];

	if (!cli->has_length)
		die(cli, "--length is required");
	ctrl = cli_connect(cli);
	ns = cli_namespace(cli, ctrl);
	check_range(cli, ns);
	buf = malloc(CHUNK);
	if (buf == NULL)
		die(cli, "out of memory");
	fd = open_data(cli, false);
	for (uint64_t done = 0; done < cli->length;) {
		size_t n = cli->length - done < CHUNK ? (size_t)(cli->length - done) : CHUNK;
		int ret = nvmf_ns_read_sync(ns, cli->offset + done, buf, n);

		if (ret != 0)
			die(cli, "Read at offset %llu: %s", (unsigned long long)(cli->offset + done),
			    result_str(ret, why, sizeof(why)));
		write_full(cli, fd, buf, n);
		done += n;
	}
	if (!to_stdout && close(fd) != 0)
		die(cli, "%s: %s", cli->data, strerror(errno));
	free(buf);
	cli_disconnect(cli, ctrl);
	if (!to_stdout)
		report(cli, "read");
	return 0;
}

/* Write or Compare the data source over the range. */
static int send_data(struct cli *cli, bool compare)
{
	struct nvmf_ctrl *ctrl;
	struct nvmf_ns *ns;
	struct stat st;
	void *buf;
	int fd = open_data(cli, true);
	char why[128];

	if (!cli->has_length) {
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
			die(cli, "--length is required unless --data is a regular file");
		cli->length = (uint64_t)st.st_size;
	}
	ctrl = cli_connect(cli);
	ns = cli_namespace(cli, ctrl);
	check_range(cli, ns);
	buf = malloc(CHUNK);
	if (buf == NULL)
		die(cli, "out of memory");
	for (uint64_t done = 0; done < cli->length;) {
		size_t n = cli->length - done < CHUNK ? (size_t)(cli->length - done) : CHUNK;
		int ret;

		if (read_full(cli, fd, buf, n) != n)
			die(cli, "the data ends before --length (%llu bytes)",
			    (unsigned long long)cli->length);
		if (compare)
			ret = nvmf_ns_compare_sync(ns, cli->offset + done, buf, n);
		else
			ret = nvmf_ns_write_sync(ns, cli->offset + done, buf, n,
						 cli->fua ? NVMF_IO_FUA : 0);
		if (ret == NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILURE))
			die(cli, "data differs in the %zu bytes at offset %llu (Compare Failure)", n,
			    (unsigned long long)(cli->offset + done));
		if (ret != 0)
			die(cli, "%s at offset %llu: %s", compare ? "Compare" : "Write",
			    (unsigned long long)(cli->offset + done), result_str(ret, why, sizeof(why)));
		done += n;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	free(buf);
	cli_disconnect(cli, ctrl);
	report(cli, compare ? "compare" : "write");
	return 0;
}

int cmd_write(struct cli *cli)
{
	return send_data(cli, false);
}

int cmd_compare(struct cli *cli)
{
	return send_data(cli, true);
}

int cmd_flush(struct cli *cli)
{
	struct nvmf_ctrl *ctrl = cli_connect(cli);
	struct nvmf_ns *ns = cli_namespace(cli, ctrl);
	int ret = nvmf_ns_flush_sync(ns);
	char why[128];

	if (ret != 0)
		die(cli, "Flush: %s", result_str(ret, why, sizeof(why)));
	cli_disconnect(cli, ctrl);
	report(cli, "flush");
	return 0;
}

/* Write Zeroes or Dataset Management (deallocate) over the range. */
static int zero_range(struct cli *cli, bool trim)
{
	struct nvmf_ctrl *ctrl;
	struct nvmf_ns *ns;
	int ret;
	char why[128];

	if (!cli->has_length)
		die(cli, "--length is required");
	ctrl = cli_connect(cli);
	ns = cli_namespace(cli, ctrl);
	check_range(cli, ns);
	if (trim)
		ret = nvmf_ns_trim_sync(ns, cli->offset, cli->length);
	else
		ret = nvmf_ns_write_zeroes_sync(ns, cli->offset, cli->length,
						(cli->fua ? NVMF_IO_FUA : 0) |
						(cli->deallocate ? NVMF_IO_DEALLOCATE : 0));
	if (ret != 0)
		die(cli, "%s: %s", trim ? "Dataset Management" : "Write Zeroes",
		    result_str(ret, why, sizeof(why)));
	cli_disconnect(cli, ctrl);
	report(cli, trim ? "trim" : "write-zeroes");
	return 0;
}

int cmd_write_zeroes(struct cli *cli)
{
	return zero_range(cli, false);
}

int cmd_trim(struct cli *cli)
{
	return zero_range(cli, true);
}
