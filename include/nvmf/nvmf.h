/* SPDX-License-Identifier: MIT */
/*
 * libnvmf: NVMe over Fabrics (NVMe/TCP) host and controller in user space.
 * This header includes every public one; each says what it covers.
 *
 * Error convention, for every public function:
 *   - An int (or ssize_t) result is 0 or a count on success and a negative
 *     errno on failure (-EINVAL, -ENOMEM, -ETIMEDOUT, ...).
 *   - A function that can say more takes a struct nvmf_error *err (may be
 *     NULL): on failure it holds the positive errno, or, where the
 *     controller refused a command, its NVMe status (SCT << 8 | SC) with
 *     errnum 0, and one line saying why.
 *   - A pointer result is NULL on failure, with err filled where the
 *     function takes one and errno set otherwise.
 *   - The one exception: helpers that run NVMe commands and wait for them
 *     (the *_sync functions of nvmf/host.h, nvmf_identify, the log page and
 *     feature helpers, nvmf_passthru_sync) return a positive NVMe status
 *     when the controller failed the command (the value nvmf_cpl_result()
 *     gives; nvmf_status_str() names it), as libnvme does.
 *   - Values carried in structures and callbacks (nvmf_cpl.error,
 *     nvmf_error.errnum, the error of nvmf_io_complete_cb and
 *     nvmf_qpair_error_cb) are positive errno values.
 *
 * Options structs a caller fills (nvmf_host_opts, nvmf_target_params,
 * nvmf_engine_params) start with their size and come from their *_init
 * function; the library accepts those of older releases and refuses newer
 * ones whose added fields it does not know (-EINVAL).
 */
#ifndef NVMF_NVMF_H
#define NVMF_NVMF_H

#include "nvmf/auth.h"
#include "nvmf/controller.h"
#include "nvmf/error.h"
#include "nvmf/host.h"
#include "nvmf/log.h"
#include "nvmf/spec.h"
#include "nvmf/spec_tcp.h"
#include "nvmf/tls.h"
#include "nvmf/transport.h"

#endif /* NVMF_NVMF_H */
