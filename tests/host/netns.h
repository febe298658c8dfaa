/* SPDX-License-Identifier: MIT */
/*
 * A fresh network namespace for tests that need well-known ports (4420,
 * 8009) to be free, whatever else runs on the machine: only a loopback
 * interface, brought up, and nothing listening.
 */
#ifndef TESTS_HOST_NETNS_H
#define TESTS_HOST_NETNS_H

#include <stddef.h>

/* ctest's skip status for these tests (SKIP_RETURN_CODE). */
#define TEST_SKIP 77

/*
 * Move the calling process into a new network namespace with lo up: as
 * root, unshare(CLONE_NEWNET); otherwise inside a new user namespace that
 * maps the caller's own uid and gid.  Call it while the process has a
 * single thread.  0, or -1 with the reason in why.
 */
int test_enter_netns(char *why, size_t len);

#endif
