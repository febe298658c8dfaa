/* SPDX-License-Identifier: MIT */
/* Engine selection: creation from parameters or a spec string, the default. */
#include "transport/engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/lock.h"
#include "util/log.h"
#include "util/opts.h"
#include "util/testpoint.h"
#include "util/thread.h"

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nvmf_engine *default_engine; /* default_lock */

void nvmf_engine_params_init(struct nvmf_engine_params *params)
{
	*params = (struct nvmf_engine_params){
		.size = sizeof(*params),
		.kind = NVMF_ENGINE_EPOLL,
		.nthreads = 1,
		.cpu = -1,
	};
}

struct nvmf_engine *nvmf_engine_create(const struct nvmf_engine_params *given)
{
	struct nvmf_engine_params params;

	nvmf_engine_params_init(&params);
	if (nvmf_opts_import(&params, sizeof(params), given) != 0) {
		errno = EINVAL;
		return NULL;
	}
	switch (params.kind) {
	case NVMF_ENGINE_THREADS:
		return nvmf_engine_threads_create(&params);
	case NVMF_ENGINE_EPOLL:
		return nvmf_engine_epoll_create(&params, NULL);
	default:
		errno = EINVAL;
		return NULL;
	}
}

void nvmf_engine_destroy(struct nvmf_engine *engine)
{
	bool is_default;

	if (engine == NULL)
		return;
	nvmf_mutex_lock(&default_lock);
	is_default = engine == default_engine;
	nvmf_mutex_unlock(&default_lock);
	if (!is_default)
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

	nvmf_engine_params_init(params);
	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	tok = strtok_r(buf, ",", &save);
	if (tok == NULL)
		return -EINVAL;
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
		return -EINVAL;
	}
	while ((tok = strtok_r(NULL, ",", &save)) != NULL) {
		char *end;
		long v;

		if (strncmp(tok, "threads=", 8) == 0) {
			v = strtol(tok + 8, &end, 10);
			if (*end != '\0' || v < 1 || v > 256)
				return -EINVAL;
			params->nthreads = (unsigned)v;
		} else if (strncmp(tok, "cpu=", 4) == 0) {
			v = strtol(tok + 4, &end, 10);
			if (*end != '\0' || v < 0 || v > 4095)
				return -EINVAL;
			params->cpu = (int)v;
		} else if (strncmp(tok, "poll=", 5) == 0 && params->kind == NVMF_ENGINE_EPOLL) {
			v = strtol(tok + 5, &end, 10);
			if (*end != '\0' || v < 0 || v > 10000000)
				return -EINVAL;
			params->poll_usec = (uint32_t)v;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

#define DEFAULT_MAX_LOOPS 4

/*
 * The default: event loops that busy-poll briefly after activity and sleep
 * when idle (hybrid), one per CPU of the process's affinity mask up to
 * DEFAULT_MAX_LOOPS: under taskset, a cpuset or CPUAffinity=, loops sized
 * from the online CPUs would share the mask's CPUs and poll against each
 * other.  Under a mask narrower than the machine each loop is pinned to its
 * own CPU of it; with every CPU allowed the scheduler places them (pinned,
 * a loop polled on the CPU of a busy application thread: bench/RESULTS.md).  Under
 * load it answers like a polling engine; idle it costs nothing; and it
 * serves a thousand queue pairs with a handful of threads where the threads
 * engine would need two per queue pair (bench/RESULTS.md has the figures).
 * NVMF_ENGINE in the environment picks another (nvmf_engine_parse syntax).
 */
static struct nvmf_engine *default_engine_create(void)
{
	struct nvmf_engine_params params;
	const char *spec = getenv("NVMF_ENGINE");
	int cpus[DEFAULT_MAX_LOOPS];
	int ncpus = nvmf_affinity_cpus(cpus, DEFAULT_MAX_LOOPS);
	struct nvmf_engine *e;
	int fault = NVMF_FAULT("transport.engine_default.create", NULL);

	if (spec != NULL && nvmf_engine_parse(spec, &params) != 0) {
		NVMF_WARN("NVMF_ENGINE=%s is not an engine; using the default", spec);
		spec = NULL;
	}
	if (spec == NULL)
		params = (struct nvmf_engine_params){
			.size = sizeof(params),
			.kind = NVMF_ENGINE_EPOLL,
			.nthreads = ncpus > DEFAULT_MAX_LOOPS ? DEFAULT_MAX_LOOPS : (unsigned)ncpus,
			.cpu = -1,
			.poll_usec = HYBRID_POLL_USEC,
		};
	if (fault != 0)
		e = (errno = fault, NULL);
	else if (spec == NULL)
		e = nvmf_engine_epoll_create(&params,
					     ncpus < sysconf(_SC_NPROCESSORS_ONLN) ? cpus : NULL);
	else
		e = nvmf_engine_create(&params);
	if (e == NULL)
		NVMF_ERR("engine: cannot start the default engine's threads: %s", strerror(errno));
	return e;
}

struct nvmf_engine *nvmf_engine_default(void)
{
	struct nvmf_engine *e;
	int error = 0;

	/* Not once only: a failure (no threads to be had) is tried again later. */
	nvmf_mutex_lock(&default_lock);
	if (default_engine == NULL) {
		default_engine = default_engine_create();
		error = errno;
	}
	e = default_engine;
	nvmf_mutex_unlock(&default_lock);
	if (e == NULL)
		errno = error;
	return e;
}
