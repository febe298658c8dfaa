/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the test programs: checks, sockets, patterns. */
#ifndef NVMF_TEST_UTIL_H
#define NVMF_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

extern int test_failures;

/* A failed CHECK reports and counts; the test carries on where it can. */
#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                             \
			test_failures++;                                      \
		}                                                             \
	} while (0)

#define CHECK_EQ(a, b)                                                        \
	do {                                                                  \
		long long _a = (long long)(a), _b = (long long)(b);           \
		if (_a != _b) {                                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", \
				__FILE__, __LINE__, #a, #b, _a, _b);          \
			test_failures++;                                      \
		}                                                             \
	} while (0)

/* A failed REQUIRE ends the test program. */
#define REQUIRE(cond)                                                         \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, \
				__LINE__, #cond);                             \
			exit(1);                                              \
		}                                                             \
	} while (0)

/* Print "name: ok/FAILED" per case; returns the exit status for main. */
void test_begin(const char *name);
void test_end(void);
int test_summary(void);

/* A listening socket on 127.0.0.1 with an ephemeral port. */
int test_listen(uint16_t *port);
int test_connect(uint16_t port);
/* True once connections to 127.0.0.1:port are refused (within timeout_ms). */
bool test_listener_closed(uint16_t port, int timeout_ms);
/* A connected pair of TCP sockets over loopback. */
void test_tcp_pair(int *client, int *server);

/* Deterministic data: byte i of a buffer with a seed. */
void test_fill(void *buf, size_t len, uint32_t seed);
bool test_verify(const void *buf, size_t len, uint32_t seed);

/* Write all / read exactly, with a timeout in ms (-1 on failure or EOF). */
int test_write_all(int fd, const void *buf, size_t len);
int test_read_exact(int fd, void *buf, size_t len, int timeout_ms);
/* Wait until the peer closes: 0 on EOF within the timeout, -1 otherwise. */
int test_wait_eof(int fd, int timeout_ms);

uint64_t test_now_us(void);
/* Threads of this process (/proc/self/status), or -1. */
int test_thread_count(void);

#endif
