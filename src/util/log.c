/* SPDX-License-Identifier: MIT */
#include "util/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic int log_level = NVMF_LOG_WARN;
static nvmf_log_sink *_Atomic log_sink;

void nvmf_log_set_level(enum nvmf_log_level level)
{
	atomic_store(&log_level, (int)level);
}

bool nvmf_log_level_enabled(enum nvmf_log_level level)
{
	return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void nvmf_log_set_sink(nvmf_log_sink *sink)
{
	atomic_store(&log_sink, sink);
}

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void nvmf_log(enum nvmf_log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	nvmf_log_sink *sink;

	if (!nvmf_log_level_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	sink = atomic_load(&log_sink);
	if (sink != NULL) {
		sink(level, msg);
		return;
	}
	/* One fprintf per line so lines from different threads do not mix. */
	fprintf(stderr, "%s: %s\n", level_names[level], msg);
}
