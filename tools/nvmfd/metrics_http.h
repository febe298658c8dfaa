/* SPDX-License-Identifier: MIT */
/*
 * nvmfd --metrics: the Prometheus endpoint.  metrics_http.c is a tiny
 * HTTP/1.1 server on its own thread (one request per connection, bounded
 * request, timeouts); metrics.c renders the library's metrics snapshot in
 * the Prometheus text format 0.0.4.
 */
#ifndef NVMFD_METRICS_HTTP_H
#define NVMFD_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "nvmf/controller.h"

#define HTTP_MAX_REQUEST 8192    /* request line and headers, bytes */
#define HTTP_MAX_HEADERS 64      /* header fields */
#define HTTP_TIMEOUT_MS 5000     /* to receive a request, and to send the answer */

/* What a complete request asks for. */
enum http_verdict {
	HTTP_INCOMPLETE = 0,     /* the header section has not ended yet */
	HTTP_OK = 200,           /* GET or HEAD /metrics */
	HTTP_BAD_REQUEST = 400,
	HTTP_NOT_FOUND = 404,
	HTTP_METHOD_NOT_ALLOWED = 405,
	HTTP_TOO_LARGE = 431,    /* over HTTP_MAX_REQUEST or HTTP_MAX_HEADERS */
	HTTP_VERSION_NOT_SUPPORTED = 505,
};

/*
 * Judge the request in buf[0..len) (len <= HTTP_MAX_REQUEST; not
 * NUL-terminated).  *head: the method was HEAD (no body in the answer).
 * Returns HTTP_INCOMPLETE until the empty line ending the headers is in.
 */
enum http_verdict http_parse_request(const char *buf, size_t len, bool *head);

/* A growable text buffer. */
struct text {
	char *data;
	size_t len, cap;
	bool failed;             /* out of memory: the text is incomplete */
};
void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void text_free(struct text *t);

/* The metrics page of target (metrics.c); 0 or -ENOMEM. */
int metrics_render(struct nvmf_target *target, struct text *out);

struct metrics_server;

/*
 * Listen on SPEC, "ADDR:PORT", "[IPV6]:PORT" or a bare PORT (127.0.0.1;
 * port 0: a free one),
 * and serve target's metrics on a thread of its own.  NULL with err set.
 */
struct metrics_server *metrics_server_start(struct nvmf_target *target, const char *spec,
					    char *err, size_t errlen);
/* Where it listens, as bound: "ADDR:PORT" or "[IPV6]:PORT". */
const char *metrics_server_name(const struct metrics_server *s);
/* Stops the thread and closes the socket (NULL: nothing). */
void metrics_server_stop(struct metrics_server *s);

#endif
