/* SPDX-License-Identifier: MIT */
/* Library log control: where libnvmf's diagnostics go and how many. */
#ifndef NVMF_LOG_H
#define NVMF_LOG_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

enum nvmf_log_level {
	NVMF_LOG_ERR = 0,
	NVMF_LOG_WARN = 1,
	NVMF_LOG_INFO = 2,
	NVMF_LOG_DEBUG = 3,
};

/* Messages above this level are dropped (default NVMF_LOG_WARN). */
void nvmf_log_set_level(enum nvmf_log_level level);
bool nvmf_log_level_enabled(enum nvmf_log_level level);
/* Replace the sink (default: one line on stderr); NULL restores it. */
typedef void nvmf_log_sink(enum nvmf_log_level level, const char *msg);
void nvmf_log_set_sink(nvmf_log_sink *sink);

#ifdef __cplusplus
}
#endif

#endif
