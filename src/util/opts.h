/* SPDX-License-Identifier: MIT */
/*
 * Options structs that grow: each public struct a caller fills starts with
 * `size_t size`, set by its *_init function to the size the caller was
 * compiled with.  The library takes such a struct through nvmf_opts_import,
 * as liburing and libnvme take theirs: an older, smaller struct leaves the
 * fields it lacks at their defaults; a newer, larger one is accepted only
 * when every byte this library does not know is zero (a field it cannot
 * honour must not be ignored silently).
 */
#ifndef NVMF_UTIL_OPTS_H
#define NVMF_UTIL_OPTS_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

/*
 * Copy the caller's struct (given, its first field the size it says it has)
 * over ours (size ours, already holding the defaults).  0, or -EINVAL for
 * a size of zero (never initialised), one too small to hold the size
 * itself, or unknown non-zero bytes.
 */
static inline int nvmf_opts_import(void *ours, size_t ours_size, const void *given)
{
	size_t given_size = *(const size_t *)given;
	const unsigned char *bytes = given;

	if (given_size < sizeof(size_t))
		return -EINVAL;
	for (size_t i = ours_size; i < given_size; i++)
		if (bytes[i] != 0)
			return -EINVAL;
	memcpy(ours, given, given_size < ours_size ? given_size : ours_size);
	*(size_t *)ours = ours_size;
	return 0;
}

#endif /* NVMF_UTIL_OPTS_H */
