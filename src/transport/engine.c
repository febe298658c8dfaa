/* SPDX-License-Identifier: MIT */
/* Engine selection: creation from parameters or a spec string, the default. */
#include "transport/engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

struct nvmf_engine *nvmf_engine_create(const struct nvmf_engine_params *params)
{
	switch (params->kind) {
	case NVMF_ENGINE_THREADS:
		return nvmf_engine_threads_create(params);
	case NVMF_ENGINE_EPOLL:
		return nvmf_engine_epoll_create(params);
	default:
		errno = EINVAL;
		return NULL;
	}
}

void nvmf_engine_destroy(struct nvmf_engine *engine)
{
	if (engine != NULL && engine != nvmf_engine_default())
		engine->ops->destroy(engine);
}

/* Default busy-poll window of the hybrid engine. */
#define HYBRID_POLL_USEC 50

/*
 * KIND[,threads=N][,cpu=C][,poll=USEC]; KIND is threads, epoll (sleeps),
 * poll (never sleeps) or hybrid (polls USEC after the last event, then sleeps).
 */
int nvmf_engine_parse(const char *spec, struct nvmf_engine_params *params)
{
	char buf[128], *save = NULL, *tok;

	memset(params, 0, sizeof(*params));
	params->nthreads = 1;
	params->cpu = -1;
	if (strlen(spec) >= sizeof(buf))
		return EINVAL;
	strcpy(buf, spec);
	tok = strtok_r(buf, ",", &save);
	if (tok == NULL)
		return EINVAL;
	if (strcmp(tok, "threads") == 0) {
		params->kind = NVMF_ENGINE_THREADS;
	} else if (strcmp(tok, "epoll") == 0) {
		params->kind = NVMF_ENGINE_EPOLL;
	} else if (strcmp(tok, "poll") == 0) {
		params->kind = NVMF_ENGINE_EPOLL;
		params->poll_usec = NVMF_ENGINE_POLL_FOREVER;
	} else if (strcmp(tok, "hybrid") == 0) {
		params->kind = NVMF_ENGINE_EPOLL;
		params->poll_usec = HYBRID_POLL_USEC;
	} else {
		return EINVAL;
	}
	while ((tok = strtok_r(NULL, ",", &save)) != NULL) {
		char *end;
		long v;

		if (strncmp(tok, "threads=", 8) == 0) {
			v = strtol(tok + 8, &end, 10);
			if (*end != '\0' || v < 1 || v > 256)
				return EINVAL;
			params->nthreads = (unsigned)v;
		} else if (strncmp(tok, "cpu=", 4) == 0) {
			v = strtol(tok + 4, &end, 10);
			if (*end != '\0' || v < 0 || v > 4095)
				return EINVAL;
			params->cpu = (int)v;
		} else if (strncmp(tok, "poll=", 5) == 0 && params->kind == NVMF_ENGINE_EPOLL) {
			v = strtol(tok + 5, &end, 10);
			if (*end != '\0' || v < 0 || v > 10000000)
				return EINVAL;
			params->poll_usec = (uint32_t)v;
		} else {
			return EINVAL;
		}
	}
	return 0;
}

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static struct nvmf_engine *default_engine;

#define DEFAULT_MAX_LOOPS 4

/*
 * The default: event loops that busy-poll briefly after activity and sleep
 * when idle (hybrid), one per online CPU up to DEFAULT_MAX_LOOPS.  Under
 * load it answers like a polling engine; idle it costs nothing; and it
 * serves a thousand queue pairs with a handful of threads where the threads
 * engine would need two per queue pair (bench/RESULTS.md has the figures).
 * NVMF_ENGINE in the environment picks another (nvmf_engine_parse syntax).
 */
static void default_engine_init(void)
{
	struct nvmf_engine_params params = {
		.kind = NVMF_ENGINE_EPOLL,
		.nthreads = 1,
		.cpu = -1,
		.poll_usec = HYBRID_POLL_USEC,
	};
	const char *spec = getenv("NVMF_ENGINE");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (spec != NULL && nvmf_engine_parse(spec, &params) != 0) {
		NVMF_WARN("NVMF_ENGINE=%s is not an engine; using the default", spec);
		spec = NULL;
	}
	if (spec == NULL) {
		params = (struct nvmf_engine_params){
			.kind = NVMF_ENGINE_EPOLL,
			.nthreads = cpus < 1 ? 1 : cpus > DEFAULT_MAX_LOOPS ? DEFAULT_MAX_LOOPS
									  : (unsigned)cpus,
			.cpu = -1,
			.poll_usec = HYBRID_POLL_USEC,
		};
	}
	default_engine = nvmf_engine_create(&params);
	if (default_engine == NULL)
		abort(); /* only when threads cannot be created at all */
}

struct nvmf_engine *nvmf_engine_default(void)
{
	pthread_once(&default_once, default_engine_init);
	return default_engine;
}
