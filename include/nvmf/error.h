/* SPDX-License-Identifier: MIT */
/* Why a libnvmf call failed; the error convention is described in nvmf/nvmf.h. */
#ifndef NVMF_ERROR_H
#define NVMF_ERROR_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nvmf_error {
	int errnum;        /* positive errno, or 0 when status says why */
	uint16_t status;   /* NVMe status of a refused command */
	bool dnr;          /* the refusal is final: do not retry */
	char msg[256];     /* one line */
};

#ifdef __cplusplus
}
#endif

#endif /* NVMF_ERROR_H */
