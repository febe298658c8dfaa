/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: nvmfd's JSON-RPC request handling (tools/nvmfd/rpc_methods.c
 * and rpc_show.c, compiled in): the input is one request's text, parsed,
 * checked as a JSON-RPC envelope and dispatched to its method against a
 * small running configuration, in dry-run mode: every method validates
 * and answers, the resulting configuration is validated by the library,
 * and nothing is applied, written or kept, so each input starts from the
 * same state.  The answer must be JSON-RPC (or nothing, for a notification).
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nvmfd_state *st = state();
	char *answer = nvmfd_rpc_handle(st, (const char *)data, size);
	json_t *a;

	if (answer == NULL)
		return 0;
	a = json_loads(answer, 0, NULL);
	/* Every answer is a JSON-RPC 2.0 response: a result or an error. */
	if (a == NULL || json_object_get(a, "id") == NULL ||
	    (json_object_get(a, "result") == NULL) == (json_object_get(a, "error") == NULL))
		abort();
	json_decref(a);
	free(answer);
	return 0;
}
