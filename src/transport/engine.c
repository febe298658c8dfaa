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

int nvmf_engine_parse(const char *spec, struct nvmf_engine_params *params)
{
	memset(params, 0, sizeof(*params));
	params->nthreads = 1;
	params->cpu = -1;
	if (strcmp(spec, "threads") == 0) {
		params->kind = NVMF_ENGINE_THREADS;
		return 0;
	}
	return EINVAL;
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
