/* SPDX-License-Identifier: MIT */
/* nvmfd internals shared by main.c, config*.c and rpc*.c. */
#ifndef NVMFD_H
#define NVMFD_H

#include <pthread.h>
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

/* config_save.c: a deep copy (0 or -ENOMEM; dst is overwritten). */
int nvmfd_config_copy(struct nvmf_target_conf *dst, const struct nvmf_target_conf *src);

/* The port ID nvmfd gives its own dedicated discovery port: above any
 * nvmetcli port ID, and never saved. */
#define NVMFD_DISCOVERY_PORTID 65535

/*
 * conf as the nvmetcli JSON that nvmfd_config_load reads back (keys
 * included: the file is written 0600).  Returns a new JSON object, NULL
 * when out of memory.
 */
struct json_t;
struct json_t *nvmfd_config_to_json(const struct nvmf_target_conf *conf);

/* Write conf to path atomically: a temporary file beside it, fsync,
 * rename, fsync of the directory.  0, or -1 with err. */
int nvmfd_config_save(const struct nvmf_target_conf *conf, const char *path, char *err,
		      size_t errlen);

/*
 * The running configuration and what changes it: SIGHUP reloads and
 * JSON-RPC methods (rpc_methods.c) build the whole new configuration,
 * apply it through nvmf_target_configure (which refuses it as a whole or
 * applies it with the spec's events), and only then replace conf.
 */
struct nvmfd_state {
	pthread_mutex_t lock;            /* conf, and every configure */
	struct nvmf_target *target;
	struct nvmf_target_conf conf;    /* what runs */
	const char *config_path;         /* -c FILE, save_config's default; NULL */
	bool fatal_close;                /* --fatal-error close: ports added get it */
	/* Validate only: nothing is applied, written or changed (fuzzing). */
	bool dry_run;
};

/* rpc_methods.c: one request's text to its response (JSON-RPC 2.0).
 * Returns a malloc'd response line, or NULL for a notification. */
char *nvmfd_rpc_handle(struct nvmfd_state *st, const char *req, size_t len);

/*
 * rpc.c: what a client's bytes get, without a socket (fuzzing): data fed
 * chunk bytes at a time (0: at once) through the framing and the
 * dispatcher; the answer lines in *out (malloc'd, *outlen bytes).  False
 * if the connection would be closed.
 */
bool nvmfd_rpc_feed(struct nvmfd_state *st, const char *data, size_t len, size_t chunk,
		    char **out, size_t *outlen);

/* rpc.c: the Unix socket server, on a thread of its own. */
#define NVMFD_RPC_MAX_REQUEST (1u << 20)
struct nvmfd_rpc;
/* Bind path (NULL: the default). An explicit path that cannot be used is
 * an error (NULL); the default one is warned about and NULL returned with
 * *fatal false. */
struct nvmfd_rpc *nvmfd_rpc_open(const char *path, bool *fatal);
int nvmfd_rpc_start(struct nvmfd_rpc *rpc, struct nvmfd_state *st);
/* Stop serving, close and remove the socket. */
void nvmfd_rpc_close(struct nvmfd_rpc *rpc);

#endif
