/* SPDX-License-Identifier: MIT */
#include "util/testpoint.h"

#ifdef NVMF_DEBUG_CHECKS
nvmf_testpoint_fn *nvmf_testpoint_hook;
#endif
