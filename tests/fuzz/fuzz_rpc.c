/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: nvmfd's JSON-RPC request handling (tools/nvmfd/rpc*.c,
 * compiled in): the input, as a client's bytes, goes through the socket
 * server's framing (fed in chunks whose size the first byte picks, as
 * reads would cut it) and every request found is checked as a JSON-RPC
 * envelope and dispatched to its method against a small running
 * configuration, in dry-run mode: every method validates and answers, the
 * resulting configuration is validated by the library, and nothing is
 * applied, written or kept, so each input starts from the same state.
 * Every answer line must be JSON-RPC.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../tools/nvmfd/nvmfd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char base_conf[] =
	"{\"hosts\": [{\"nqn\": \"nqn.2024-01.io.fuzz:host\"}],"
	" \"subsystems\": [{\"nqn\": \"nqn.2024-01.io.fuzz:a\", \"attr\": {\"allow_any_host\": \"0\"},"
	"  \"allowed_hosts\": [\"nqn.2024-01.io.fuzz:host\"],"
	"  \"namespaces\": [{\"nsid\": 1, \"device\": {\"path\": \"ramdisk:1M\"}}]},"
	"  {\"nqn\": \"nqn.2024-01.io.fuzz:b\", \"attr\": {\"max_namespaces\": \"2\"}}],"
	" \"ports\": [{\"portid\": 1, \"addr\": {\"trtype\": \"tcp\", \"adrfam\": \"ipv4\","
	"  \"traddr\": \"127.0.0.1\", \"trsvcid\": \"4420\"}, \"subsystems\": [\"nqn.2024-01.io.fuzz:a\"]}]}";

static struct nvmfd_state *state(void)
{
	static struct nvmfd_state st = {.lock = PTHREAD_MUTEX_INITIALIZER, .dry_run = true};
	static bool loaded;
	char path[64], err[512];
	int fd;

	if (loaded)
		return &st;
	fd = memfd_create("fuzz-rpc-conf", MFD_CLOEXEC);
	if (fd < 0 || write(fd, base_conf, sizeof(base_conf) - 1) != (ssize_t)sizeof(base_conf) - 1)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (nvmfd_config_load(path, &st.conf, NULL, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_rpc: base configuration: %s\n", err);
		abort();
	}
	close(fd);
	st.config_path = "/nonexistent/fuzz.json"; /* never written: dry run */
	loaded = true;
	return &st;
}

/* Every answer is a JSON-RPC 2.0 response: a result or an error. */
static void check_answer(const char *line, size_t len)
{
	json_t *a = json_loadb(line, len, 0, NULL);

	if (a == NULL || json_object_get(a, "id") == NULL ||
	    (json_object_get(a, "result") == NULL) == (json_object_get(a, "error") == NULL))
		abort();
	json_decref(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nvmfd_state *st = state();
	size_t chunk, outlen, start = 0;
	char *out;

	if (size == 0)
		return 0;
	chunk = data[0] % 64; /* 0: all at once */
	nvmfd_rpc_feed(st, (const char *)data + 1, size - 1, chunk, &out, &outlen);
	for (size_t i = 0; i < outlen; i++)
		if (out[i] == '\n') {
			check_answer(out + start, i - start);
			start = i + 1;
		}
	if (start != outlen) /* answers are whole lines */
		abort();
	free(out);
	return 0;
}
