/* SPDX-License-Identifier: MIT */
/* Logging: one line per event on stderr, with a level and a subsystem tag. */
#ifndef NVMF_UTIL_LOG_H
#define NVMF_UTIL_LOG_H

#include "nvmf/log.h"

void nvmf_log(enum nvmf_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define NVMF_ERR(...) nvmf_log(NVMF_LOG_ERR, __VA_ARGS__)
#define NVMF_WARN(...) nvmf_log(NVMF_LOG_WARN, __VA_ARGS__)
#define NVMF_INFO(...) nvmf_log(NVMF_LOG_INFO, __VA_ARGS__)
#define NVMF_DEBUG(...)                                                       \
	do {                                                                  \
		if (nvmf_log_level_enabled(NVMF_LOG_DEBUG))                   \
			nvmf_log(NVMF_LOG_DEBUG, __VA_ARGS__);                \
	} while (0)

#endif
