/* SPDX-License-Identifier: MIT */
/*
 * nvmfd's JSON-RPC API, against the daemon as a process: every method
 * with good and bad parameters (nothing applied after a refusal), keys
 * never in answers or logs, a socket's garbage, oversize requests,
 * half-sent requests and too many clients (nvmfd keeps serving), a
 * namespace added and removed while a host is connected (it sees the
 * namespace attribute changed event and the new list, and I/O on the
 * other namespace goes on), controllers and queue pairs listed, and
 * save_config's file loaded by a fresh nvmfd giving equal
 * nvmf_get_subsystems output.  nvmfctl is run for the same calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nvmf/host.h"
#include "nvmf/log.h"
#include "util/test_util.h"

#ifndef NVMFD_PATH
#error "NVMFD_PATH must name the nvmfd binary"
#endif

#define NQN "nqn.2024-01.org.nvmfd:rpc"
#define NQN2 "nqn.2024-01.org.nvmfd:rpc2"
#define HOST "nqn.2024-01.org.nvmfd:rpc-host"
#define HOST_IO "nqn.2024-01.org.nvmfd:rpc-io" /* no key: HOST's is the host's everywhere */
#define KEY "DHHC-1:00:ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n:"
#define AEN_NS_CHANGED 0x00040002u

static char dir[] = "/tmp/nvmfd-rpc-XXXXXX";
static char sock[128];

struct daemon {
	pid_t pid;
	int status;      /* wait status, once it exited before "ready" */
	char log[256];
};

static uint16_t free_port(void)
{
	uint16_t port;
	int fd = test_listen(&port);

	close(fd);
	return port;
}

static char *read_file(const char *path)
{
	static char buf[1 << 18];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* Start nvmfd and wait for "ready"; false (its log shown if said) if it
 * exited instead. */
static bool daemon_start_or(struct daemon *d, char *const argv[], bool show_failure)
{
	static int runs;

	snprintf(d->log, sizeof(d->log), "%s/nvmfd-%d.log", dir, ++runs);
	d->status = -1;
	d->pid = fork();
	REQUIRE(d->pid >= 0);
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 2);
		dup2(fd, 1);
		execv(NVMFD_PATH, argv);
		_exit(127);
	}
	for (int i = 0; i < 6000; i++) {
		if (strstr(read_file(d->log), "nvmfd: ready") != NULL)
			return true;
		if (waitpid(d->pid, &d->status, WNOHANG) == d->pid)
			break;
		usleep(10000);
	}
	if (show_failure)
		fprintf(stderr, "nvmfd did not start:\n%s\n", read_file(d->log));
	return false;
}

static bool daemon_start(struct daemon *d, char *const argv[])
{
	return daemon_start_or(d, argv, true);
}

static int daemon_stop(struct daemon *d)
{
	int status;

	kill(d->pid, SIGTERM);
	for (int i = 0; i < 6000; i++) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &status, 0);
	return -1;
}

static int rpc_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	REQUIRE(fd >= 0);
	REQUIRE(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return fd;
}

/* One answer line from fd (60 s), parsed; NULL on EOF or timeout. */
static json_t *read_answer(int fd)
{
	static char buf[1 << 20];
	size_t got = 0;

	while (got < sizeof(buf) - 1) {
		if (test_read_exact(fd, buf + got, 1, 60000) != 0)
			return NULL;
		if (buf[got++] == '\n')
			return json_loadb(buf, got, 0, NULL);
	}
	return NULL;
}

/* A call on path, over a connection of its own: the answer, or NULL. */
static json_t *rpc_answer(const char *path, const char *method, const char *params)
{
	char req[8192];
	int fd = rpc_connect(path);
	json_t *answer;

	snprintf(req, sizeof(req), "{\"jsonrpc\": \"2.0\", \"id\": 7, \"method\": \"%s\"%s%s}",
		 method, params != NULL ? ", \"params\": " : "", params != NULL ? params : "");
	/* A refused client may find the socket closed; its answer is queued. */
	if (test_write_all(fd, req, strlen(req)) != 0 && errno != EPIPE && errno != ECONNRESET) {
		close(fd);
		return NULL;
	}
	answer = read_answer(fd);
	close(fd);
	return answer;
}

/* A call on path: the whole answer. */
static json_t *rpc_on(const char *path, const char *method, const char *params)
{
	json_t *answer = rpc_answer(path, method, params);

	REQUIRE(answer != NULL);
	CHECK_EQ(json_integer_value(json_object_get(answer, "id")), 7);
	return answer;
}

/* The result of a call that must succeed (a new reference). */
static json_t *rpc_ok(const char *method, const char *params)
{
	json_t *a = rpc_on(sock, method, params), *r = json_object_get(a, "result");

	if (r == NULL) {
		fprintf(stderr, "%s %s: %s\n", method, params ? params : "",
			json_dumps(a, JSON_COMPACT));
		CHECK(0);
	}
	json_incref(r);
	json_decref(a);
	return r;
}

static json_t *subsystems(const char *path)
{
	json_t *a = rpc_on(path, "nvmf_get_subsystems", NULL), *r = json_object_get(a, "result");

	json_incref(r);
	json_decref(a);
	REQUIRE(json_is_array(r));
	return r;
}

/* A refused call: its code, its message naming what, and nothing changed. */
static void rpc_refused(const char *method, const char *params, int code, const char *what)
{
	json_t *before = subsystems(sock), *after;
	json_t *a = rpc_on(sock, method, params), *e = json_object_get(a, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (e == NULL || json_integer_value(json_object_get(e, "code")) != code || msg == NULL ||
	    strstr(msg, what) == NULL) {
		fprintf(stderr, "%s %s: want error %d \"%s\", got %s\n", method, params ? params : "",
			code, what, json_dumps(a, JSON_COMPACT));
		CHECK(0);
	}
	after = subsystems(sock);
	CHECK(json_equal(before, after));
	json_decref(before);
	json_decref(after);
	json_decref(a);
}

static json_t *find_subsys(json_t *list, const char *nqn)
{
	size_t i;
	json_t *s;

	json_array_foreach(list, i, s)
		if (strcmp(json_string_value(json_object_get(s, "nqn")), nqn) == 0)
			return s;
	return NULL;
}

static void write_config(const char *path, uint16_t port)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f != NULL);
	fprintf(f,
		"{\"hosts\": [], \"subsystems\": [{\"nqn\": \"" NQN "\", \"attr\": {\"allow_any_host\": \"1\"},\n"
		" \"namespaces\": [{\"nsid\": 1, \"enable\": 1, \"device\": {\"path\": \"ramdisk:4M\"}}]}],\n"
		" \"ports\": [{\"portid\": 1, \"addr\": {\"trtype\": \"tcp\", \"adrfam\": \"ipv4\",\n"
		" \"traddr\": \"127.0.0.1\", \"trsvcid\": \"%u\"}, \"subsystems\": [\"" NQN "\"]}]}\n",
		port);
	REQUIRE(fclose(f) == 0);
}

/* ------------------------------------------------------------------ */

static void test_subsystems_hosts_listeners(uint16_t port2)
{
	char params[1024], saved[256], *text;
	json_t *r, *s;

	test_begin("subsystems, hosts and listeners: good and bad parameters");
	r = rpc_ok("nvmf_create_subsystem", "{\"nqn\": \"" NQN2 "\", \"serial_number\": \"SN123\", "
					   "\"model_number\": \"rpc model\", \"max_namespaces\": 4}");
	CHECK(json_is_true(r));
	json_decref(r);
	rpc_refused("nvmf_create_subsystem", "{\"nqn\": \"" NQN2 "\"}", -32602, "nqn: subsystem");
	rpc_refused("nvmf_create_subsystem", "{\"nqn\": 5}", -32602, "nqn: expected a string");
	rpc_refused("nvmf_create_subsystem", "{\"nqn\": \"notanqn\"}", -32602, "nqn:");
	rpc_refused("nvmf_create_subsystem", "{\"nqn\": \"nqn.2024-01.x:y\", \"serial_number\": "
					     "\"012345678901234567890\"}",
		    -32602, "serial_number: longer than 20");
	rpc_refused("nvmf_create_subsystem", "{\"nqn\": \"nqn.2024-01.x:y\", \"max_namespaces\": 5000}",
		    -32602, "max_namespaces");
	rpc_refused("nvmf_create_subsystem", "{\"nqn\": \"nqn.2024-01.x:y\", \"colour\": 1}", -32602,
		    "colour: unknown parameter");
	rpc_refused("nvmf_create_subsystem", NULL, -32602, "nqn: missing");
	rpc_refused("nvmf_delete_subsystem", "{\"nqn\": \"nqn.2024-01.x:none\"}", -32602,
		    "nqn: no subsystem");

	/* Hosts: the key is checked, kept, and never shown. */
	rpc_refused("nvmf_subsystem_add_host", "{\"nqn\": \"" NQN2 "\", \"host\": \"" HOST "\", "
					       "\"dhchap_key\": \"DHHC-1:00:bad:\"}",
		    -32602, "dhchap_key:");
	rpc_refused("nvmf_subsystem_add_host", "{\"nqn\": \"" NQN2 "\", \"host\": 1}", -32602,
		    "host: expected a string");
	rpc_refused("nvmf_subsystem_add_host", "{\"nqn\": \"nqn.2024-01.x:none\", \"host\": \"" HOST "\"}",
		    -32602, "nqn: no subsystem");
	r = rpc_ok("nvmf_subsystem_add_host", "{\"nqn\": \"" NQN2 "\", \"host\": \"" HOST "\", "
					      "\"dhchap_key\": \"" KEY "\"}");
	json_decref(r);
	rpc_refused("nvmf_subsystem_add_host", "{\"nqn\": \"" NQN2 "\", \"host\": \"" HOST "\"}",
		    -32602, "host: " HOST " is already allowed");
	r = subsystems(sock);
	s = find_subsys(r, NQN2);
	REQUIRE(s != NULL);
	CHECK_EQ(json_array_size(json_object_get(s, "hosts")), 1);
	CHECK(json_is_true(json_object_get(json_array_get(json_object_get(s, "hosts"), 0), "dhchap")));
	text = json_dumps(r, 0);
	CHECK(text != NULL && strstr(text, "DHHC-1") == NULL);
	free(text);
	CHECK_EQ(json_integer_value(json_object_get(s, "max_namespaces")), 4);
	CHECK(strcmp(json_string_value(json_object_get(s, "serial_number")), "SN123") == 0);
	json_decref(r);
	r = rpc_ok("nvmf_subsystem_allow_any_host", "{\"nqn\": \"" NQN2 "\", \"allow_any_host\": true}");
	json_decref(r);
	rpc_refused("nvmf_subsystem_allow_any_host", "{\"nqn\": \"" NQN2 "\", \"allow_any_host\": \"yes\"}",
		    -32602, "allow_any_host: expected true or false");

	/* Listeners: a new port, refused twice, a bad address. */
	snprintf(params, sizeof(params),
		 "{\"nqn\": \"" NQN2 "\", \"listen_address\": {\"trtype\": \"TCP\", \"adrfam\": "
		 "\"IPv4\", \"traddr\": \"127.0.0.1\", \"trsvcid\": \"%u\"}}", port2);
	r = rpc_ok("nvmf_subsystem_add_listener", params);
	json_decref(r);
	CHECK(!test_listener_closed(port2, 100));
	rpc_refused("nvmf_subsystem_add_listener", params, -32602, "listen_address: " NQN2 " already");
	rpc_refused("nvmf_subsystem_add_listener",
		    "{\"nqn\": \"" NQN2 "\", \"listen_address\": {\"trtype\": \"rdma\", "
		    "\"traddr\": \"127.0.0.1\", \"trsvcid\": \"4420\"}}",
		    -32602, "listen_address.trtype");
	rpc_refused("nvmf_subsystem_add_listener",
		    "{\"nqn\": \"" NQN2 "\", \"listen_address\": {\"trtype\": \"tcp\", "
		    "\"traddr\": \"not.an.address\", \"trsvcid\": \"4420\"}}",
		    -32602, "listen_address: port");
	rpc_refused("nvmf_subsystem_remove_listener",
		    "{\"nqn\": \"" NQN2 "\", \"listen_address\": {\"trtype\": \"tcp\", "
		    "\"traddr\": \"127.0.0.1\", \"trsvcid\": \"1\"}}",
		    -32602, "does not listen");

	/* ANA state of the listener: set, refused, and kept by save_config. */
	snprintf(params, sizeof(params),
		 "{\"nqn\": \"" NQN2 "\", \"ana_state\": \"inaccessible\", \"anagrpid\": 3, "
		 "\"listen_address\": {\"trtype\": \"tcp\", \"traddr\": \"127.0.0.1\", "
		 "\"trsvcid\": \"%u\"}}", port2);
	r = rpc_ok("nvmf_subsystem_listener_set_ana_state", params);
	json_decref(r);
	snprintf(saved, sizeof(saved), "{\"path\": \"%s/ana.json\"}", dir);
	r = rpc_ok("save_config", saved);
	json_decref(r);
	snprintf(saved, sizeof(saved), "%s/ana.json", dir);
	text = read_file(saved);
	CHECK(strstr(text, "\"ana_groups\"") != NULL && strstr(text, "\"inaccessible\"") != NULL);
	snprintf(params, sizeof(params),
		 "{\"nqn\": \"" NQN2 "\", \"ana_state\": \"sleepy\", "
		 "\"listen_address\": {\"trtype\": \"tcp\", \"traddr\": \"127.0.0.1\", "
		 "\"trsvcid\": \"%u\"}}", port2);
	rpc_refused("nvmf_subsystem_listener_set_ana_state", params, -32602, "ana_state: sleepy");
	snprintf(params, sizeof(params),
		 "{\"nqn\": \"" NQN2 "\", \"ana_state\": \"optimized\", \"anagrpid\": 0, "
		 "\"listen_address\": {\"trtype\": \"tcp\", \"traddr\": \"127.0.0.1\", "
		 "\"trsvcid\": \"%u\"}}", port2);
	rpc_refused("nvmf_subsystem_listener_set_ana_state", params, -32602, "anagrpid:");
	rpc_refused("nvmf_subsystem_listener_set_ana_state",
		    "{\"nqn\": \"" NQN2 "\", \"ana_state\": \"optimized\", \"listen_address\": "
		    "{\"trtype\": \"tcp\", \"traddr\": \"127.0.0.1\", \"trsvcid\": \"1\"}}",
		    -32602, "does not listen");
	test_end();
}

/* A subsystem deleted takes its listener and its only host's keys. */
static void test_delete_subsystem(void)
{
	char params[512];
	uint16_t port3 = free_port();
	json_t *r;

	test_begin("delete a subsystem: its port closes, its host's keys go");
	r = rpc_ok("nvmf_create_subsystem", "{\"nqn\": \"nqn.2024-01.org.nvmfd:rpc3\"}");
	json_decref(r);
	snprintf(params, sizeof(params),
		 "{\"nqn\": \"nqn.2024-01.org.nvmfd:rpc3\", \"listen_address\": {\"trtype\": \"tcp\", "
		 "\"traddr\": \"127.0.0.1\", \"trsvcid\": \"%u\"}}", port3);
	r = rpc_ok("nvmf_subsystem_add_listener", params);
	json_decref(r);
	r = rpc_ok("nvmf_subsystem_add_host", "{\"nqn\": \"nqn.2024-01.org.nvmfd:rpc3\", "
					      "\"host\": \"nqn.2024-01.org.nvmfd:h3\", \"psk\": "
					      "\"NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:\"}");
	json_decref(r);
	CHECK(!test_listener_closed(port3, 100));
	r = rpc_ok("nvmf_delete_subsystem", "{\"nqn\": \"nqn.2024-01.org.nvmfd:rpc3\"}");
	json_decref(r);
	CHECK(test_listener_closed(port3, 60000));
	r = subsystems(sock);
	CHECK(find_subsys(r, "nqn.2024-01.org.nvmfd:rpc3") == NULL);
	json_decref(r);
	/* Allowed again elsewhere without a key: it has none left. */
	r = rpc_ok("nvmf_subsystem_add_host", "{\"nqn\": \"" NQN2 "\", \"host\": \"nqn.2024-01.org.nvmfd:h3\"}");
	json_decref(r);
	r = subsystems(sock);
	CHECK(json_is_false(json_object_get(json_array_get(json_object_get(find_subsys(r, NQN2),
									"hosts"), 1), "psk")));
	json_decref(r);
	r = rpc_ok("nvmf_subsystem_remove_host", "{\"nqn\": \"" NQN2 "\", \"host\": \"nqn.2024-01.org.nvmfd:h3\"}");
	json_decref(r);
	rpc_refused("nvmf_subsystem_remove_host", "{\"nqn\": \"" NQN2 "\", \"host\": \"nqn.2024-01.org.nvmfd:h3\"}",
		    -32602, "is not allowed");
	test_end();
}

static void test_misc_methods(void)
{
	json_t *r;

	test_begin("stats, log level, unknown methods, ANA, requests that are not");
	r = rpc_ok("nvmf_get_stats", NULL);
	CHECK(json_is_integer(json_object_get(r, "discovery_genctr")));
	json_decref(r);
	r = rpc_ok("log_set_level", "{\"level\": \"debug\"}");
	json_decref(r);
	r = rpc_ok("log_set_level", "{\"level\": \"INFO\"}");
	json_decref(r);
	rpc_refused("log_set_level", "{\"level\": \"loud\"}", -32602, "level:");
	rpc_refused("log_set_level", "{\"level\": 3}", -32602, "level: expected a string");
	rpc_refused("nvmf_no_such_method", NULL, -32601, "not found");
	rpc_refused("nvmf_subsystem_listener_set_ana_state", "{\"nqn\": \"" NQN "\"}", -32602,
		    "listen_address: missing");
	rpc_refused("nvmf_get_stats", "[1, 2]", -32602, "params: by name only");
	rpc_refused("nvmf_subsystem_get_controllers", "{\"nqn\": \"nqn.2024-01.x:none\"}", -32602,
		    "nqn: no subsystem");
	rpc_refused("nvmf_subsystem_get_qpairs", "{}", -32602, "nqn: missing");
	rpc_refused("save_config", "{\"path\": \"/nonexistent-dir/x.json\"}", -32603,
		    "/nonexistent-dir/x.json");
	test_end();
}

/* ------------------------------------------------------------------ */

/*
 * nvmfd answers and closes as soon as it sees enough to refuse: a request
 * over 1 MiB before its end, so the rest of the write may meet the close
 * (EPIPE).  The answer is in our socket's queue all the same.
 */
static void expect_refused_and_closed(const char *bytes, size_t len, int code)
{
	int fd = rpc_connect(sock);
	json_t *a;

	if (test_write_all(fd, bytes, len) != 0 && errno != EPIPE && errno != ECONNRESET) {
		fprintf(stderr, "write: %s\n", strerror(errno));
		CHECK(0);
	}
	a = read_answer(fd);
	CHECK(a != NULL);
	CHECK_EQ(json_integer_value(json_object_get(json_object_get(a, "error"), "code")), code);
	CHECK(json_is_null(json_object_get(a, "id")));
	CHECK_EQ(test_wait_eof(fd, 60000), 0);
	json_decref(a);
	close(fd);
}

/* The answer of a client refused for being one over nvmfd's limit. */
static bool busy(json_t *a)
{
	json_t *e = json_object_get(a, "error");

	return json_integer_value(json_object_get(e, "code")) == -32000 &&
	       strstr(json_string_value(json_object_get(e, "message")) ?: "", "too many clients") != NULL;
}

static void test_socket_abuse(void)
{
	static char big[(1 << 20) + 4096];
	int fds[20], fd, refused;
	json_t *a;
	const char *two = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nvmf_get_stats\"}\n"
			  "  {\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"nvmf_get_stats\",\"params\":{\"s\":\"}{\\\"\"}}";

	const char *note = "{\"jsonrpc\":\"2.0\",\"method\":\"nvmf_get_stats\"}"
			   "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"nvmf_get_stats\"}";

	test_begin("socket: garbage, batches, oversize, half requests, too many clients");
	expect_refused_and_closed("hello", 5, -32700);
	expect_refused_and_closed("[{}]", 4, -32600);
	expect_refused_and_closed("{\"a\": ]}", 8, -32700);
	/* More than 1 MiB without an end: refused before it is all read. */
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[1] = '"';
	expect_refused_and_closed(big, sizeof(big), -32700);
	/* Two requests in one write, braces in a string: two answers, in order. */
	fd = rpc_connect(sock);
	REQUIRE(test_write_all(fd, two, strlen(two)) == 0);
	a = read_answer(fd);
	CHECK_EQ(json_integer_value(json_object_get(a, "id")), 1);
	json_decref(a);
	a = read_answer(fd);
	CHECK_EQ(json_integer_value(json_object_get(a, "id")), 2);
	CHECK(strstr(json_string_value(json_object_get(json_object_get(a, "error"), "message")),
		     "s: unknown parameter") != NULL);
	json_decref(a);
	close(fd);
	/* A notification has no answer: the next request's comes first. */
	fd = rpc_connect(sock);
	REQUIRE(test_write_all(fd, note, strlen(note)) == 0);
	a = read_answer(fd);
	CHECK(json_is_string(json_object_get(a, "id")));
	json_decref(a);
	close(fd);
	/*
	 * Half a request, then gone; clients beyond the limit; then service.
	 * nvmfd closes a client over its limit of 16 as soon as it accepts it,
	 * which may come before the write: that write fails with EPIPE (or the
	 * close's ECONNRESET), and nothing else may fail it.
	 */
	for (int i = 0; i < 20; i++) {
		fds[i] = rpc_connect(sock);
		if (test_write_all(fds[i], "{\"jsonrpc\": \"2.0\", \"meth", 25) != 0 &&
		    errno != EPIPE && errno != ECONNRESET) {
			fprintf(stderr, "client %d: write: %s\n", i, strerror(errno));
			CHECK(0);
		}
	}
	/*
	 * One more makes 21 for 16 places: at least 5 are told why they are
	 * refused.  Once the 21st has its answer nvmfd has accepted the 20
	 * before it, so each of those either holds a place or has the refusal
	 * waiting in its socket.
	 */
	a = rpc_answer(sock, "nvmf_get_stats", NULL);
	REQUIRE(a != NULL);
	refused = busy(a);
	json_decref(a);
	for (int i = 0; i < 20; i++) {
		char line[256];
		ssize_t n = recv(fds[i], line, sizeof(line) - 1, MSG_DONTWAIT);

		line[n > 0 ? n : 0] = '\0';
		refused += n > 0 && strstr(line, "too many clients") != NULL;
	}
	CHECK(refused >= 5);
	for (int i = 0; i < 20; i++)
		close(fds[i]);
	/* Served again once nvmfd has seen the closes (until then: busy). */
	for (int tries = 0;; tries++) {
		a = rpc_answer(sock, "nvmf_get_stats", NULL);
		REQUIRE(a != NULL);
		if (!busy(a))
			break;
		json_decref(a);
		REQUIRE(tries < 600); /* 30 s */
		usleep(50000);
	}
	CHECK(json_object_get(a, "result") != NULL);
	json_decref(a);
	test_end();
}

/* ------------------------------------------------------------------ */

static _Atomic uint32_t last_aen;
static _Atomic int aens;

static void on_aen(void *arg, uint32_t cdw0, const void *log, size_t len)
{
	(void)arg, (void)log, (void)len;
	atomic_store(&last_aen, cdw0);
	atomic_fetch_add(&aens, 1);
}

static bool wait_ns(struct nvmf_ctrl *c, uint32_t nsid, bool present)
{
	for (int i = 0; i < 6000; i++) {
		uint32_t ids[16];
		size_t n = nvmf_ctrl_ns_list(c, ids, 16);
		bool found = false;

		for (size_t k = 0; k < n && k < 16; k++)
			found |= ids[k] == nsid;
		if (found == present)
			return true;
		usleep(10000);
	}
	return false;
}

static void test_live_namespace(uint16_t port)
{
	char portstr[8], params[1024];
	struct nvmf_host_opts o;
	struct nvmf_error err;
	struct nvmf_ctrl *c;
	uint8_t block[4096], back[4096];
	json_t *r;
	int before;

	test_begin("a namespace added and removed while a host is connected");
	snprintf(portstr, sizeof(portstr), "%u", port);
	nvmf_host_opts_init(&o);
	o.traddr = "127.0.0.1";
	o.trsvcid = portstr;
	o.subnqn = NQN;
	o.hostnqn = HOST_IO;
	o.nr_io_queues = 2;
	o.ctrl_loss_tmo_s = 0;
	o.aen_cb = on_aen;
	c = nvmf_connect(&o, &err);
	REQUIRE(c != NULL);
	CHECK(wait_ns(c, 1, true));
	/* Controllers and queue pairs: this host, admin + 2 I/O queues. */
	r = rpc_ok("nvmf_subsystem_get_controllers", "{\"nqn\": \"" NQN "\"}");
	CHECK_EQ(json_array_size(r), 1);
	CHECK(strcmp(json_string_value(json_object_get(json_array_get(r, 0), "hostnqn")), HOST_IO) == 0);
	CHECK_EQ(json_integer_value(json_object_get(json_array_get(r, 0), "num_io_qpairs")), 2);
	json_decref(r);
	r = rpc_ok("nvmf_subsystem_get_qpairs", "{\"nqn\": \"" NQN "\"}");
	CHECK_EQ(json_array_size(r), 3);
	CHECK(json_is_object(json_object_get(json_array_get(r, 0), "listen_address")));
	json_decref(r);

	before = atomic_load(&aens);
	snprintf(params, sizeof(params),
		 "{\"nqn\": \"" NQN "\", \"namespace\": {\"path\": \"%s/ns2.img\", \"size\": \"8M\", "
		 "\"uuid\": \"0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0\"}}", dir);
	r = rpc_ok("nvmf_subsystem_add_ns", params);
	CHECK_EQ(json_integer_value(r), 2);
	json_decref(r);
	CHECK(wait_ns(c, 2, true));
	CHECK(atomic_load(&aens) > before);
	CHECK_EQ(atomic_load(&last_aen), AEN_NS_CHANGED);
	/* Both namespaces carry I/O. */
	test_fill(block, sizeof(block), 11);
	CHECK_EQ(nvmf_ns_write_sync(nvmf_ctrl_ns(c, 2), 0, block, sizeof(block), 0), 0);
	CHECK_EQ(nvmf_ns_read_sync(nvmf_ctrl_ns(c, 2), 0, back, sizeof(back)), 0);
	CHECK(test_verify(back, sizeof(back), 11));
	CHECK_EQ(nvmf_ns_write_sync(nvmf_ctrl_ns(c, 1), 0, block, sizeof(block), 0), 0);
	/* Refusals: the taken NSID, a path that does not exist, wrong types. */
	rpc_refused("nvmf_subsystem_add_ns",
		    "{\"nqn\": \"" NQN "\", \"namespace\": {\"nsid\": 2, \"path\": \"ramdisk:1M\"}}",
		    -32602, "namespace.nsid: 2 is in use");
	rpc_refused("nvmf_subsystem_add_ns",
		    "{\"nqn\": \"" NQN "\", \"namespace\": {\"path\": \"/nonexistent/ns.img\"}}",
		    -32602, "namespace.path:");
	rpc_refused("nvmf_subsystem_add_ns", "{\"nqn\": \"" NQN "\", \"namespace\": {\"path\": 7}}",
		    -32602, "namespace.path: expected a string");
	rpc_refused("nvmf_subsystem_add_ns", "{\"nqn\": \"" NQN "\", \"namespace\": \"x\"}", -32602,
		    "namespace: expected an object");
	rpc_refused("nvmf_subsystem_add_ns",
		    "{\"nqn\": \"" NQN "\", \"namespace\": {\"path\": \"ramdisk:1M\", \"uuid\": \"xyz\"}}",
		    -32602, "namespace.uuid:");
	rpc_refused("nvmf_subsystem_add_ns",
		    "{\"nqn\": \"" NQN "\", \"namespace\": {\"path\": \"ramdisk:1M\", \"ana_grpid\": 200}}",
		    -32602, "namespace.ana_grpid:");
	rpc_refused("nvmf_subsystem_add_ns",
		    "{\"nqn\": \"" NQN2 "\", \"namespace\": {\"nsid\": 5, \"path\": \"ramdisk:1M\"}}",
		    -32602, "max_namespaces");
	rpc_refused("nvmf_subsystem_remove_ns", "{\"nqn\": \"" NQN "\", \"nsid\": 9}", -32602,
		    "nsid: " NQN " has no namespace 9");
	rpc_refused("nvmf_subsystem_remove_ns", "{\"nqn\": \"" NQN "\", \"nsid\": \"2\"}", -32602,
		    "nsid: expected an integer");

	before = atomic_load(&aens);
	r = rpc_ok("nvmf_subsystem_remove_ns", "{\"nqn\": \"" NQN "\", \"nsid\": 2}");
	json_decref(r);
	CHECK(wait_ns(c, 2, false));
	CHECK(atomic_load(&aens) > before);
	CHECK_EQ(nvmf_ns_read_sync(nvmf_ctrl_ns(c, 1), 0, back, sizeof(back)), 0);
	CHECK(test_verify(back, sizeof(back), 11));
	/* Put it back for save_config. */
	r = rpc_ok("nvmf_subsystem_add_ns", params);
	json_decref(r);
	CHECK(wait_ns(c, 2, true));
	nvmf_disconnect(c);
	test_end();
}

/* nvmfctl: --param pairs, a JSON object, its text and its errors. */
static void test_nvmfctl(void)
{
	char cmd[1024], out[256];
	FILE *p;

	test_begin("nvmfctl");
	snprintf(cmd, sizeof(cmd), "%s -s %s nvmf_subsystem_add_ns --nqn %s "
		 "--namespace.path ramdisk:1M --namespace.nsid 3 2>&1", NVMFCTL_PATH, sock, NQN2);
	p = popen(cmd, "r");
	REQUIRE(p != NULL);
	CHECK(fgets(out, sizeof(out), p) != NULL && strcmp(out, "3\n") == 0);
	CHECK_EQ(pclose(p), 0);
	snprintf(cmd, sizeof(cmd), "%s -s %s -o json nvmf_subsystem_remove_ns '{\"nqn\": \"%s\", "
		 "\"nsid\": 3}' 2>&1", NVMFCTL_PATH, sock, NQN2);
	p = popen(cmd, "r");
	CHECK(fgets(out, sizeof(out), p) != NULL && strcmp(out, "true\n") == 0);
	CHECK_EQ(pclose(p), 0);
	snprintf(cmd, sizeof(cmd), "%s -s %s nvmf_subsystem_remove_ns --nqn %s --nsid 3 2>&1",
		 NVMFCTL_PATH, sock, NQN2);
	p = popen(cmd, "r");
	CHECK(fgets(out, sizeof(out), p) != NULL && strstr(out, "has no namespace 3") != NULL);
	CHECK(WEXITSTATUS(pclose(p)) == 1);
	test_end();
}

/*
 * nvmfctl's wait for an answer against a wall clock stepped a day ahead half
 * a second in (the clockstep shim): it still waits its whole --timeout.  Its
 * deadline was on the wall clock, and it gave up at its next look, 1 s in.
 */
static void test_nvmfctl_clock_step(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char cmd[1024], out[256] = "";
	uint64_t start, took_ms;
	FILE *p;
	int fd, status;

	test_begin("nvmfctl: --timeout holds across a step of the wall clock");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/silent.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	/* Listening and never accepting: connects, takes the request, never answers. */
	REQUIRE(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 4) == 0);
	/* An ASan build's runtime would refuse to come after the shim. */
	snprintf(cmd, sizeof(cmd), "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}"
		 "verify_asan_link_order=0 LD_PRELOAD=%s NVMF_CLOCK_STEP=86400 "
		 "NVMF_CLOCK_STEP_AFTER_MS=500 %s -s %s -t 3 nvmf_get_subsystems 2>&1",
		 CLOCKSTEP_PATH, NVMFCTL_PATH, sa.sun_path);
	start = test_now_us();
	p = popen(cmd, "r");
	REQUIRE(p != NULL);
	if (fgets(out, sizeof(out), p) == NULL)
		out[0] = '\0';
	status = pclose(p);
	took_ms = (test_now_us() - start) / 1000;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	CHECK(strstr(out, "no answer within 3 s") != NULL);
	if (took_ms < 2900) {
		fprintf(stderr, "nvmfctl gave up after %llu ms of a 3 s timeout: %s",
			(unsigned long long)took_ms, out);
		CHECK(0);
	}
	close(fd);
	test_end();
}

/* An explicit socket that cannot be had stops nvmfd, saying why. */
static void expect_socket_refused(const char *path, const char *why)
{
	char *argv[] = {"nvmfd", "-s", "0", "--discovery-port", "0", "--rpc-socket", (char *)path,
			"ramdisk:1M", NULL};
	struct daemon d;

	REQUIRE(!daemon_start_or(&d, argv, false));
	CHECK(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 1);
	if (strstr(read_file(d.log), why) == NULL) {
		fprintf(stderr, "want \"%s\" in:\n%s\n", why, read_file(d.log));
		CHECK(0);
	}
}

static void test_socket_refused(void)
{
	test_begin("--rpc-socket: a path in use or out of reach is an error");
	expect_socket_refused(sock, "in use by another nvmfd");
	expect_socket_refused("/nonexistent-dir/deeper/nvmfd.sock", "cannot create its directory");
	test_end();
}

static void test_save_config(struct daemon *d, const char *saved)
{
	char sock2[160], params[512];
	char *argv[] = {"nvmfd", "-c", (char *)saved, "--discovery-port", "0", "--rpc-socket", sock2,
			NULL};
	struct daemon d2;
	json_t *before, *after, *r;
	struct stat st;

	test_begin("save_config: a fresh nvmfd from the file serves the same");
	snprintf(params, sizeof(params), "{\"path\": \"%s\"}", saved);
	r = rpc_ok("save_config", params);
	json_decref(r);
	REQUIRE(stat(saved, &st) == 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK(strstr(read_file(saved), KEY) != NULL); /* the file keeps the key */
	before = subsystems(sock);
	CHECK_EQ(daemon_stop(d), 0);
	CHECK(strstr(read_file(d->log), KEY) == NULL); /* the log never had it */
	snprintf(sock2, sizeof(sock2), "%s/second.sock", dir);
	REQUIRE(daemon_start(&d2, argv));
	after = subsystems(sock2);
	if (!json_equal(before, after)) {
		fprintf(stderr, "before: %s\nafter:  %s\n", json_dumps(before, JSON_COMPACT),
			json_dumps(after, JSON_COMPACT));
		CHECK(0);
	}
	json_decref(before);
	json_decref(after);
	CHECK_EQ(daemon_stop(&d2), 0);
	CHECK(access(sock2, F_OK) != 0); /* the socket went with it */
	test_end();
}

int main(void)
{
	char conf[128], saved[128];
	uint16_t port = free_port(), port2 = free_port();
	char *argv[] = {"nvmfd", "-c", conf, "--discovery-port", "0", "--rpc-socket", sock, NULL};
	struct daemon d;
	json_t *r;

	nvmf_log_set_level(NVMF_LOG_WARN);
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(conf, sizeof(conf), "%s/config.json", dir);
	snprintf(saved, sizeof(saved), "%s/saved.json", dir);
	snprintf(sock, sizeof(sock), "%s/nvmfd.sock", dir);
	write_config(conf, port);
	REQUIRE(daemon_start(&d, argv));
	{
		struct stat st;

		CHECK(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
	}
	test_subsystems_hosts_listeners(port2);
	test_delete_subsystem();
	test_misc_methods();
	test_socket_abuse();
	test_live_namespace(port);
	test_nvmfctl();
	test_nvmfctl_clock_step();
	test_socket_refused();
	/* Still serving after all of the above. */
	r = rpc_ok("nvmf_get_stats", NULL);
	json_decref(r);
	test_save_config(&d, saved);
	if (test_failures == 0) {
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return test_summary();
}
