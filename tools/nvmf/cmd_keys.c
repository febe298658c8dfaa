/* SPDX-License-Identifier: MIT */
/*
 * nvmf gen-dhchap-key and nvmf gen-tls-key: the secrets nvme-cli's
 * commands of the same names print, with their options, so that either
 * tool's output works with nvmfd, nvmf, the Linux host and the Linux target.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf.h"
#include "nvmf/auth.h"
#include "nvmf/tls.h"

static long key_arg(const char *cmd, const char *name, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "nvmf %s: invalid --%s: %s (%ld to %ld)\n", cmd, name, s, min, max);
		exit(EXIT_USAGE);
	}
	return v;
}

static int bad_option(const char *cmd, char **argv)
{
	fprintf(stderr, "nvmf %s: unknown or incomplete option %s\n", cmd, argv[optind - 1]);
	return EXIT_USAGE;
}

int cmd_gen_dhchap_key(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"secret", required_argument, NULL, 's'},
		{"key-length", required_argument, NULL, 'l'},
		{"nqn", required_argument, NULL, 'n'},
		{"hmac", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *secret = NULL, *nqn = NULL;
	char hostnqn[NVMF_HOST_NQN_SIZE] = "", hostid[NVMF_UUID_STR_SIZE];
	char out[NVMF_DHCHAP_SECRET_MAX];
	struct nvmf_error err;
	long hmac = 0, key_len = 0;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "s:l:n:m:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': secret = optarg; break;
		case 'l': key_len = key_arg("gen-dhchap-key", "key-length", optarg, 32, 64); break;
		case 'n': nqn = optarg; break;
		case 'm': hmac = key_arg("gen-dhchap-key", "hmac", optarg, 0, 3); break;
		case 'h':
			printf("usage: nvmf gen-dhchap-key [--hmac 0|1|2|3] [--nqn NQN] "
			       "[--key-length 32|48|64] [--secret HEX]\n\n"
			       "Prints a DH-HMAC-CHAP secret (DHHC-1:<hh>:<base64>:) as nvme "
			       "gen-dhchap-key does:\nrandom unless --secret; --hmac 1/2/3 "
			       "transforms it with the host NQN (--nqn,\ndefault this host's) "
			       "and SHA-256/384/512.\n");
			return 0;
		default: return bad_option("gen-dhchap-key", argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nvmf gen-dhchap-key: unexpected argument %s\n", argv[optind]);
		return EXIT_USAGE;
	}
	/* As nvme-cli: this host's NQN unless one is given. */
	if (nqn == NULL && hmac != 0) {
		if (nvmf_host_default_ids(hostnqn, hostid) != 0) {
			fprintf(stderr, "nvmf gen-dhchap-key: cannot determine the host NQN: give --nqn\n");
			return EXIT_FAIL;
		}
		nqn = hostnqn;
	}
	if (nvmf_dhchap_key_generate((int)hmac, nqn, secret, (size_t)key_len, out, sizeof(out),
				     &err) < 0) {
		fprintf(stderr, "nvmf gen-dhchap-key: %s\n", err.msg);
		return EXIT_FAIL;
	}
	printf("%s\n", out);
	explicit_bzero(out, sizeof(out));
	return 0;
}

int cmd_gen_tls_key(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"secret", required_argument, NULL, 's'},
		{"hmac", required_argument, NULL, 'm'},
		{"identity", required_argument, NULL, 'I'},
		{"hostnqn", required_argument, NULL, 'n'},
		{"subsysnqn", required_argument, NULL, 'c'},
		{"insert", no_argument, NULL, 'i'},
		{"keyring", required_argument, NULL, 'k'},
		{"keytype", required_argument, NULL, 't'},
		{"keyfile", required_argument, NULL, 'f'},
		{"compat", no_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *secret = NULL;
	char out[NVMF_TLS_KEY_STRING_MAX];
	struct nvmf_error err;
	long hmac = 1;
	bool keyring = false;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "s:m:I:n:c:ik:t:f:Ch", longopts, NULL)) != -1) {
		switch (c) {
		case 's': secret = optarg; break;
		case 'm': hmac = key_arg("gen-tls-key", "hmac", optarg, 1, 2); break;
		/* The identity only matters for the keyring, checked below. */
		case 'I': key_arg("gen-tls-key", "identity", optarg, 0, 1); break;
		case 'n': case 'c': case 't': case 'C': break;
		case 'i': case 'k': case 'f': keyring = true; break;
		case 'h':
			printf("usage: nvmf gen-tls-key [--hmac 1|2] [--secret HEX]\n\n"
			       "Prints a TLS PSK in the NVMe interchange format "
			       "(NVMeTLSkey-1:<hh>:<base64>:) as\nnvme gen-tls-key does: 32 "
			       "(--hmac 1, SHA-256) or 48 (--hmac 2, SHA-384) bytes,\nrandom "
			       "unless --secret.  Give it to nvmfd --tls-key and nvmf --tls-key.\n");
			return 0;
		default: return bad_option("gen-tls-key", argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nvmf gen-tls-key: unexpected argument %s\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (keyring) {
		fprintf(stderr, "nvmf gen-tls-key: --insert, --keyring and --keyfile need the kernel "
				"keyring, which nvmf does not use: pass the key with --tls-key\n");
		return EXIT_USAGE;
	}
	if (nvmf_tls_key_generate((int)hmac, secret, out, sizeof(out), &err) < 0) {
		fprintf(stderr, "nvmf gen-tls-key: %s\n", err.msg);
		return EXIT_FAIL;
	}
	printf("%s\n", out);
	explicit_bzero(out, sizeof(out));
	return 0;
}
