/* SPDX-License-Identifier: MIT */
/* The ANA states by the names nvmetcli writes (declared in nvmf/spec.h);
 * the controller's configuration and the host's path listings share them. */
#include <errno.h>
#include <string.h>

#include "nvmf/spec.h"

static const struct {
	enum nvme_ana_state state;
	const char *name;
} ana_names[] = {
	{NVME_ANA_OPTIMIZED, "optimized"},
	{NVME_ANA_NON_OPTIMIZED, "non_optimized"},
	{NVME_ANA_INACCESSIBLE, "inaccessible"},
	{NVME_ANA_PERSISTENT_LOSS, "persistent_loss"},
	{NVME_ANA_CHANGE, "change"},
};

const char *nvmf_ana_state_name(enum nvme_ana_state state)
{
	for (size_t i = 0; i < sizeof(ana_names) / sizeof(ana_names[0]); i++)
		if (ana_names[i].state == state)
			return ana_names[i].name;
	return "unknown";
}

int nvmf_ana_state_parse(const char *name, enum nvme_ana_state *state)
{
	for (size_t i = 0; i < sizeof(ana_names) / sizeof(ana_names[0]); i++)
		if (strcmp(ana_names[i].name, name) == 0) {
			*state = ana_names[i].state;
			return 0;
		}
	return -EINVAL;
}
