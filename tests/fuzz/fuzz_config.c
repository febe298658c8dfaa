/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: nvmfd's configuration readers (tools/nvmfd/config.c, compiled
 * in): the nvmetcli JSON loader on the input as a file, then the library's
 * validation of whatever it accepted; and the command line BACKING parser
 * on the input's first line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../tools/nvmfd/nvmfd.h"

#define BACKING_MAX 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Warnings are formatted (that code runs) and dropped. */
static void ignore_warning(void *arg, const char *line)
{
	(void)arg;
	(void)line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nvmf_target_conf conf;
	struct nvmf_ns_conf ns;
	char err[1024], path[64], line[BACKING_MAX];
	size_t n;
	int fd = memfd_create("fuzz-config", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (nvmfd_config_load(path, &conf, ignore_warning, NULL, err, sizeof(err)) == 0) {
		nvmf_target_conf_validate(&conf, NULL);
		nvmfd_config_free(&conf);
	}
	close(fd);

	/* The first line, as a BACKING argument. */
	for (n = 0; n < size && n < sizeof(line) - 1 && data[n] != '\n'; n++)
		line[n] = data[n] ? (char)data[n] : ' ';
	line[n] = '\0';
	nvmfd_parse_backing(line, &ns, err, sizeof(err));
	return 0;
}
