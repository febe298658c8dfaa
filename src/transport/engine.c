/* SPDX-License-Identifier: MIT */
/* Engine selection: creation from parameters or a spec string, the default. */
#include "transport/engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

static void default_engine_init(void)
{
	const struct nvmf_engine_params params = {.kind = NVMF_ENGINE_THREADS, .cpu = -1};

	default_engine = nvmf_engine_threads_create(&params);
	if (default_engine == NULL)
		abort(); /* a static structure; cannot fail short of memory exhaustion */
}

struct nvmf_engine *nvmf_engine_default(void)
{
	pthread_once(&default_once, default_engine_init);
	return default_engine;
}
