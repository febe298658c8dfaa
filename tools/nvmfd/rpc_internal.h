/* SPDX-License-Identifier: MIT */
/* JSON-RPC methods' shared parts: a call, its parameters, its errors. */
#ifndef NVMFD_RPC_INTERNAL_H
#define NVMFD_RPC_INTERNAL_H

#include <jansson.h>

#include "nvmfd.h"

/* JSON-RPC 2.0 error codes. */
#define RPC_PARSE_ERROR -32700
#define RPC_INVALID_REQUEST -32600
#define RPC_METHOD_NOT_FOUND -32601
#define RPC_INVALID_PARAMS -32602
#define RPC_INTERNAL_ERROR -32603

struct call {
	struct nvmfd_state *st;
	const char *method;
	json_t *params;          /* an object ({} when none was given) */
	json_t *result;          /* the method's answer; NULL: true */
	int code;                /* 0, or the JSON-RPC error */
	char msg[512];
	/* The parameter a refusal by nvmf_target_configure is put on. */
	const char *blame;
	char what[1024];         /* for the log line; never a key */
};

/* Invalid params: "NAME: why". Returns -1. */
int rpc_bad(struct call *c, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Any other error. Returns -1. */
int rpc_fail(struct call *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Every key of obj (named path) is in known (NULL-terminated); 0 or -1. */
int rpc_known(struct call *c, json_t *obj, const char *path, const char *const *known);
/* A member of obj: 1 present, 0 absent (an error if required), -1 wrong. */
int rpc_string(struct call *c, json_t *obj, const char *path, const char *key, bool required,
	       char *dst, size_t size);
int rpc_uint(struct call *c, json_t *obj, const char *path, const char *key, bool required,
	     uint64_t max, uint64_t *out);
int rpc_bool(struct call *c, json_t *obj, const char *path, const char *key, bool required,
	     bool *out);

/* The subsystem nqn in conf, or NULL. */
struct nvmf_subsys_conf *rpc_find_subsys(struct nvmf_target_conf *conf, const char *nqn);
/* "nqn" of params, naming a configured subsystem of conf; NULL on error. */
struct nvmf_subsys_conf *rpc_subsys_param(struct call *c, struct nvmf_target_conf *conf);

/* rpc_show.c: the methods that only read. */
int rpc_get_subsystems(struct call *c);
int rpc_get_controllers(struct call *c);
int rpc_get_qpairs(struct call *c);
int rpc_get_stats(struct call *c);
/* A port's address as SPDK writes listen_address. */
json_t *rpc_listen_address(const struct nvmf_port_conf *p);

#endif
