/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: nvmfd's metrics endpoint request parser
 * (tools/nvmfd/metrics_http.c, compiled in).  The input is fed as the
 * server reads it, in pieces (their size from the first byte), from an
 * exactly sized copy so that a read past the bytes received is caught;
 * the verdict must be one the server can answer and must not depend on
 * how the request was cut.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/nvmfd/metrics_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool answerable(enum http_verdict v)
{
	switch (v) {
	case HTTP_INCOMPLETE:
	case HTTP_OK:
	case HTTP_BAD_REQUEST:
	case HTTP_NOT_FOUND:
	case HTTP_METHOD_NOT_ALLOWED:
	case HTTP_TOO_LARGE:
	case HTTP_VERSION_NOT_SUPPORTED:
		return true;
	}
	return false;
}

/* Parse the first len bytes from a buffer of exactly that size. */
static enum http_verdict parse_prefix(const uint8_t *data, size_t len, bool *head)
{
	char *copy = malloc(len != 0 ? len : 1);
	enum http_verdict v;

	if (copy == NULL)
		abort();
	memcpy(copy, data, len);
	v = http_parse_request(copy, len, head);
	free(copy);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum http_verdict whole, v = HTTP_INCOMPLETE;
	size_t step, len = 0;
	bool head, head_whole;

	if (size == 0)
		return 0;
	step = data[0] % 64 + 1;
	data++;
	size--;
	if (size > HTTP_MAX_REQUEST)
		size = HTTP_MAX_REQUEST;
	whole = parse_prefix(data, size, &head_whole);
	if (!answerable(whole))
		abort();
	/* As the server receives it: the first verdict ends the reading. */
	while (v == HTTP_INCOMPLETE && len < size) {
		len = len + step < size ? len + step : size;
		v = parse_prefix(data, len, &head);
		if (!answerable(v))
			abort();
	}
	if (v != whole) {
		fprintf(stderr, "verdict %d after %zu of %zu bytes, %d on the whole\n", (int)v, len,
			size, (int)whole);
		abort();
	}
	if (v == HTTP_OK && head != head_whole)
		abort();
	return 0;
}
