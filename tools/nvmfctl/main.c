/* SPDX-License-Identifier: MIT */
/*
 * nvmfctl: nvmfd's JSON-RPC client.
 *
 *   nvmfctl [-s SOCKET] [-o json] METHOD [JSON | --PARAM VALUE ...]
 *
 * Parameters come as one JSON object, or as options: --nqn X, with dotted
 * names for nested objects (--namespace.path ramdisk:1G), a VALUE that
 * reads as JSON (a number, true, an object) taken as such, any other as a
 * string, and @FILE for the contents of FILE (keys stay off the command
 * line).  The result is shown for people, or as JSON with -o json.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_RESPONSE (64u << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nvmfctl [-s SOCKET] [-o json] [-t SECONDS] METHOD [JSON | --PARAM VALUE ...]\n"
		"Calls a method of nvmfd's JSON-RPC API (SPDK's rpc.py names).\n\n"
		"  -s, --socket PATH   nvmfd's socket ($RUNTIME_DIRECTORY/nvmfd.sock or\n"
		"                      /run/nvmfd/nvmfd.sock)\n"
		"  -o, --output FMT    text (default) or json\n"
		"  -t, --timeout SEC   wait this long for the answer (60)\n"
		"  -h, --help\n\n"
		"Parameters: one JSON object, or --name value pairs; --a.b value nests,\n"
		"a value that parses as JSON is taken as such, @FILE reads FILE.\n"
		"  nvmfctl nvmf_subsystem_add_ns --nqn NQN --namespace.path ramdisk:1G\n"
		"  nvmfctl rpc_get_methods    (every method)\n");
}

static void default_socket(char *out, size_t size)
{
	const char *dir = getenv("RUNTIME_DIRECTORY");

	if (dir == NULL || dir[0] == '\0')
		dir = "/run/nvmfd";
	snprintf(out, size, "%.*s/nvmfd.sock", (int)strcspn(dir, ":"), dir);
}

/* The contents of file, without one trailing newline. */
static json_t *file_value(const char *file)
{
	char buf[8192];
	FILE *f = fopen(file, "r");
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "nvmfctl: %s: %s\n", file, strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return json_string(buf);
}

static json_t *option_value(const char *text)
{
	json_t *v;

	if (text[0] == '@')
		return file_value(text + 1);
	v = json_loads(text, JSON_DECODE_ANY, NULL);
	return v != NULL ? v : json_string(text);
}

/* --a.b.c value into params; '-' in names reads as '_'. */
static int set_option(json_t *params, const char *name, const char *text)
{
	char key[256], *dot, *k = key;
	json_t *obj = params, *v;

	if (strlen(name) >= sizeof(key)) {
		fprintf(stderr, "nvmfctl: --%.32s...: name too long\n", name);
		return -1;
	}
	snprintf(key, sizeof(key), "%s", name);
	for (char *p = key; *p != '\0'; p++)
		if (*p == '-')
			*p = '_';
	while ((dot = strchr(k, '.')) != NULL) {
		json_t *sub;

		*dot = '\0';
		sub = json_object_get(obj, k);
		if (sub == NULL) {
			sub = json_object();
			json_object_set_new(obj, k, sub);
		} else if (!json_is_object(sub)) {
			fprintf(stderr, "nvmfctl: --%s: %s is not an object\n", name, k);
			return -1;
		}
		obj = sub;
		k = dot + 1;
	}
	v = option_value(text);
	if (v == NULL)
		return -1;
	json_object_set_new(obj, k, v);
	return 0;
}

static json_t *build_params(int argc, char **argv)
{
	json_t *params;

	if (argc == 1 && argv[0][0] != '-') {
		json_error_t err;

		params = json_loads(argv[0], 0, &err);
		if (!json_is_object(params)) {
			fprintf(stderr, "nvmfctl: parameters: %s\n",
				params == NULL ? err.text : "want a JSON object");
			json_decref(params);
			return NULL;
		}
		return params;
	}
	params = json_object();
	for (int i = 0; i < argc; i += 2) {
		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0' || i + 1 >= argc) {
			fprintf(stderr, "nvmfctl: \"%s\": want --PARAM VALUE pairs or one JSON object\n",
				argv[i]);
			json_decref(params);
			return NULL;
		}
		if (set_option(params, argv[i] + 2, argv[i + 1]) != 0) {
			json_decref(params);
			return NULL;
		}
	}
	return params;
}

static int connect_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "nvmfctl: %s: path too long for a socket\n", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "nvmfctl: %s: %s (is nvmfd running with --rpc-socket here?)\n", path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* For the answer's deadline: a step of the wall clock must not move it. */
static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send the request, read one answer (a line). */
static json_t *call(int fd, const char *request, int timeout_s)
{
	size_t len = strlen(request), got = 0, cap = 0;
	long long end = monotonic_ms() + (long long)timeout_s * 1000;
	char *buf = NULL;
	json_t *answer = NULL;
	json_error_t err;

	for (size_t off = 0; off < len;) {
		ssize_t n = send(fd, request + off, len - off, MSG_NOSIGNAL);

		if (n <= 0) {
			fprintf(stderr, "nvmfctl: send: %s\n", strerror(errno));
			return NULL;
		}
		off += (size_t)n;
	}
	while (got == 0 || memchr(buf, '\n', got) == NULL) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 1000) == 0) {
			if (monotonic_ms() >= end) {
				fprintf(stderr, "nvmfctl: no answer within %d s\n", timeout_s);
				goto out;
			}
			continue;
		}
		if (got + 65536 > cap) {
			char *grown;

			cap = got + 65536;
			if (cap > MAX_RESPONSE || (grown = realloc(buf, cap)) == NULL) {
				fprintf(stderr, "nvmfctl: answer too large\n");
				goto out;
			}
			buf = grown;
		}
		n = recv(fd, buf + got, cap - got, 0);
		if (n <= 0) {
			fprintf(stderr, "nvmfctl: nvmfd closed the connection without an answer\n");
			goto out;
		}
		got += (size_t)n;
	}
	answer = json_loadb(buf, got, JSON_DISABLE_EOF_CHECK, &err);
	if (answer == NULL)
		fprintf(stderr, "nvmfctl: unreadable answer: %s\n", err.text);
out:
	free(buf);
	return answer;
}

/* ------------------------------------------------------------------ */

static void print_scalar(json_t *v)
{
	if (json_is_array(v))
		printf("[]");
	else if (json_is_object(v))
		printf("{}");
	else if (json_is_string(v))
		printf("%s", json_string_value(v));
	else if (json_is_integer(v))
		printf("%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		printf("%g", json_real_value(v));
	else
		printf("%s", json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
}

static bool is_container(json_t *v)
{
	return (json_is_object(v) && json_object_size(v) > 0) ||
	       (json_is_array(v) && json_array_size(v) > 0);
}

static void print_human(json_t *v, int indent);

/* An object's members as "key: value", containers nested below. */
static void print_members(json_t *v, int indent, bool first_inline)
{
	const char *key;
	json_t *m;
	bool first = true;

	json_object_foreach(v, key, m) {
		printf("%*s%s:", first && first_inline ? 0 : indent, "", key);
		first = false;
		if (is_container(m)) {
			printf("\n");
			print_human(m, indent + 2);
		} else {
			printf(" ");
			print_scalar(m);
			printf("\n");
		}
	}
}

static void print_human(json_t *v, int indent)
{
	size_t i;
	json_t *e;

	if (json_is_object(v)) {
		print_members(v, indent, false);
		return;
	}
	if (!json_is_array(v)) {
		printf("%*s", indent, "");
		print_scalar(v);
		printf("\n");
		return;
	}
	json_array_foreach(v, i, e) {
		printf("%*s- ", indent, "");
		if (json_is_object(e) && json_object_size(e) > 0) {
			print_members(e, indent + 2, true);
		} else if (is_container(e)) {
			printf("\n");
			print_human(e, indent + 2);
		} else {
			print_scalar(e);
			printf("\n");
		}
	}
}

static int show(json_t *answer, const char *method, bool as_json)
{
	json_t *error = json_object_get(answer, "error"), *result = json_object_get(answer, "result");

	if (error != NULL) {
		fprintf(stderr, "nvmfctl: %s: %s (JSON-RPC error %lld)\n", method,
			json_string_value(json_object_get(error, "message")),
			(long long)json_integer_value(json_object_get(error, "code")));
		return 1;
	}
	if (as_json) {
		char *text = json_dumps(result, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

		printf("%s\n", text != NULL ? text : "null");
		free(text);
	} else if (json_is_true(result)) {
		printf("ok\n");
	} else if (json_is_array(result) && json_array_size(result) == 0) {
		printf("(none)\n");
	} else {
		print_human(result, 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"output", required_argument, NULL, 'o'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char path[108], *request;
	bool as_json = false;
	int timeout_s = 60, c, fd, rc;
	json_t *params, *req, *answer;

	default_socket(path, sizeof(path));
	/* "+": options after METHOD are its parameters. */
	while ((c = getopt_long(argc, argv, "+s:o:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			snprintf(path, sizeof(path), "%s", optarg);
			break;
		case 'o':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
				fprintf(stderr, "nvmfctl: -o %s: want text or json\n", optarg);
				return 2;
			}
			as_json = strcmp(optarg, "json") == 0;
			break;
		case 't':
			timeout_s = atoi(optarg);
			if (timeout_s <= 0) {
				fprintf(stderr, "nvmfctl: -t %s: want seconds\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	params = build_params(argc - optind - 1, argv + optind + 1);
	if (params == NULL)
		return 2;
	req = json_pack("{s:s, s:i, s:s, s:o}", "jsonrpc", "2.0", "id", 1, "method", argv[optind],
			"params", params);
	request = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (request == NULL)
		return 2;
	fd = connect_socket(path);
	if (fd < 0) {
		free(request);
		return 1;
	}
	answer = call(fd, request, timeout_s);
	explicit_bzero(request, strlen(request)); /* it may hold keys */
	free(request);
	close(fd);
	if (answer == NULL)
		return 1;
	rc = show(answer, argv[optind], as_json);
	json_decref(answer);
	return rc;
}
