/* SPDX-License-Identifier: MIT */
/* nvmfd internals shared by main.c and config.c. */
#ifndef NVMFD_H
#define NVMFD_H

#include <stddef.h>

#include "nvmf/controller.h"

/* A warning while loading: one line, "FIELD.PATH: why", no newline. */
typedef void nvmfd_config_warn(void *arg, const char *line);

/*
 * Load an nvmetcli JSON configuration (/etc/nvmet/config.json layout) into
 * conf.  Returns 0, or -1 with "FIELD.PATH: why" in err.  What loads but
 * is ignored or served otherwise (an attribute unknown to nvmfd, another
 * NVMe version) goes to on_warning, one call each; it may be NULL.
 */
int nvmfd_config_load(const char *file, struct nvmf_target_conf *conf,
		      nvmfd_config_warn *on_warning, void *warn_arg, char *err, size_t errlen);

/*
 * Parse a command line BACKING: "ramdisk:SIZE[,bs=N]" or
 * "PATH[,size=SIZE][,bs=N][,ro]".  Returns 0 or -1 with err.
 */
int nvmfd_parse_backing(const char *spec, struct nvmf_ns_conf *ns, char *err, size_t errlen);

/* Add one subsystem / port to a configuration (grows its arrays). */
struct nvmf_subsys_conf *nvmfd_conf_add_subsys(struct nvmf_target_conf *conf);
struct nvmf_port_conf *nvmfd_conf_add_port(struct nvmf_target_conf *conf);

void nvmfd_config_free(struct nvmf_target_conf *conf);

#endif
