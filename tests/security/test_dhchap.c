/* SPDX-License-Identifier: MIT */
/*
 * DH-HMAC-CHAP: DHHC-1 secrets against nvme-cli, the computation steps
 * against known answers, and the host and controller engines against each
 * other (every hash, several groups, both directions, refusals, malformed
 * messages).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "security/dhchap.h"
#include "util/test_util.h"

#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
#define SUBNQN "nqn.2024-01.io.example:sub1"
#define S32 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define S48 S32 "202122232425262728292a2b2c2d2e2f"
#define S64 S48 "303132333435363738393a3b3c3d3e3f"

static size_t unhex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = strlen(hex) / 2, i;

	REQUIRE(n <= max);
	for (i = 0; i < n; i++)
		REQUIRE(sscanf(hex + 2 * i, "%2hhx", &out[i]) == 1);
	return n;
}

static struct nvmf_dhchap_key key_of(const char *secret)
{
	struct nvmf_dhchap_key k;
	struct nvmf_error err;

	if (nvmf_dhchap_key_parse(secret, &k, &err) != 0) {
		fprintf(stderr, "parse %s: %s\n", secret, err.msg);
		REQUIRE(0);
	}
	return k;
}

/* `nvme gen-dhchap-key --secret=... --hmac=H --nqn=HOSTNQN` (nvme-cli 2.3)
 * and `linux-vm gen-dhchap-key` print these, byte for byte. */
static const struct {
	int hmac;
	const char *secret;
	const char *nqn;
	const char *expect;
} cli_vectors[] = {
	{0, S32, NULL, "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:"},
	{0, S48, NULL, "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vcSEgBQ==:"},
	{0, S64, NULL, "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P4zODhA=:"},
	{1, S32, HOSTNQN, "DHHC-1:01:jWiK0NeSweQjGFEI9c4bjHV792NxG/KQG1mAfCQAiRlmCljm:"},
	{2, S48, HOSTNQN, "DHHC-1:02:IqZJ7OfqOcbH0Af+bm4QWrh1+LEEV/Fp7yjgZUKwF68+VcPR6Us+ZRxzSiFThNry7h7rwQ==:"},
	{3, S64, HOSTNQN, "DHHC-1:03:dZSVu1YU+UUKhORpWPqucZgHHQG1yo+Fy3MvmoYq0rkraDbrQSsxdRkXevDYzd13QnWgQM58D3YhBCl3GcAnfY7ra+w=:"},
	{1, S32, "nqn.x", "DHHC-1:01:s58riWX0tutyq+sZhUpTGydCrEosXGCydo5TV2d3t32YRnW5:"},
};

static void test_names(void)
{
	test_begin("names");
	CHECK(strcmp(nvmf_dhchap_hash_name(2), "sha384") == 0);
	CHECK(nvmf_dhchap_hash_name(0) == NULL && nvmf_dhchap_hash_name(4) == NULL);
	CHECK_EQ(nvmf_dhchap_hash_from_name("hmac(sha512)"), 3);
	CHECK_EQ(nvmf_dhchap_hash_from_name("SHA-256"), 1);
	CHECK_EQ(nvmf_dhchap_hash_from_name("md5"), -EINVAL);
	CHECK_EQ(nvmf_dhchap_dhgroup_from_name("ffdhe6144"), 4);
	CHECK_EQ(nvmf_dhchap_dhgroup_from_name("null"), 0);
	CHECK_EQ(nvmf_dhchap_dhgroup_from_name("ffdhe1024"), -EINVAL);
	CHECK_EQ(nvmf_dhchap_hash_len(3), 64);
	CHECK_EQ(nvmf_dhchap_dhgroup_len(5), 1024);
	CHECK_EQ(nvmf_dhchap_dhgroup_len(0), 0);
	CHECK_EQ(NVMF_DHCHAP_MSG_MAX, 16 + 128 + 1024);
	test_end();
}

static void test_key_vectors(void)
{
	char out[NVMF_DHCHAP_SECRET_MAX];
	struct nvmf_error err = {0};
	size_t i;

	test_begin("DHHC-1 keys equal nvme gen-dhchap-key output");
	for (i = 0; i < sizeof(cli_vectors) / sizeof(cli_vectors[0]); i++) {
		struct nvmf_dhchap_key k, raw = {0};
		uint8_t t[NVMF_DHCHAP_KEY_MAX];
		int n = nvmf_dhchap_key_generate(cli_vectors[i].hmac, cli_vectors[i].nqn,
						 cli_vectors[i].secret, 0, out, sizeof(out), &err);

		CHECK(n > 0 && strcmp(out, cli_vectors[i].expect) == 0);
		if (n < 0 || strcmp(out, cli_vectors[i].expect) != 0)
			fprintf(stderr, "  got %s (%s)\n", out, err.msg);
		/* Parse, re-format, and check the transform the kernel applies
		 * is the one the generator applied. */
		k = key_of(cli_vectors[i].expect);
		CHECK_EQ(k.hmac, cli_vectors[i].hmac);
		CHECK_EQ(nvmf_dhchap_key_format(&k, out, sizeof(out)), strlen(cli_vectors[i].expect));
		CHECK(strcmp(out, cli_vectors[i].expect) == 0);
		raw.hmac = (uint8_t)cli_vectors[i].hmac;
		raw.len = (uint8_t)unhex(cli_vectors[i].secret, raw.key, sizeof(raw.key));
		if (cli_vectors[i].nqn) {
			CHECK_EQ(nvmf_dhchap_key_transform(&raw, cli_vectors[i].nqn, t), k.len);
			CHECK(memcmp(t, k.key, k.len) == 0);
		} else {
			CHECK(memcmp(raw.key, k.key, k.len) == 0);
		}
	}
	test_end();
}

static void test_key_errors(void)
{
	static const struct {
		const char *secret;
		const char *msg; /* part of the error text */
	} bad[] = {
		{"DHHC-2:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:", "start with"},
		{"DHHC-1:04:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:", "transform hash"},
		{"DHHC-1:0x:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:", "hash indicator"},
		{"DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaS:", "CRC mismatch"},
		{"DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+Kfi*R:", "base64"},
		{"DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR", NULL},
		{"DHHC-1:00:AAECAwQFBgcICQoLDA0OD4jizs4=:", "length"},
		{"DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vcSEgBQ==:",
		 "must be 32 bytes"},
		{"DHHC-1:00::", "base64"},
		{"DHHC-1:00:AAEC:AwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:", "stray"},
		{"", "start with"},
	};
	struct nvmf_dhchap_key k;
	char out[NVMF_DHCHAP_SECRET_MAX];
	struct nvmf_error err;
	size_t i;

	test_begin("DHHC-1 errors are refused with a clear message");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r;

		err.msg[0] = '\0';
		r = nvmf_dhchap_key_parse(bad[i].secret, &k, &err);
		if (!bad[i].msg) { /* a missing final ':' is accepted, as Linux does */
			CHECK_EQ(r, 0);
			continue;
		}
		CHECK_EQ(r, -EINVAL);
		if (!strstr(err.msg, bad[i].msg)) {
			fprintf(stderr, "  %s: '%s' lacks '%s'\n", bad[i].secret, err.msg, bad[i].msg);
			test_failures++;
		}
	}
	CHECK_EQ(nvmf_dhchap_key_parse(cli_vectors[0].expect, &k, NULL), 0);
	CHECK_EQ(nvmf_dhchap_key_parse("DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:\n",
				       &k, NULL), 0);
	/* Generator errors. */
	CHECK_EQ(nvmf_dhchap_key_generate(4, HOSTNQN, NULL, 0, out, sizeof(out), &err), -EINVAL);
	CHECK(strstr(err.msg, "--hmac") != NULL);
	CHECK_EQ(nvmf_dhchap_key_generate(1, NULL, NULL, 0, out, sizeof(out), &err), -EINVAL);
	CHECK(strstr(err.msg, "NQN") != NULL);
	CHECK_EQ(nvmf_dhchap_key_generate(2, HOSTNQN, S32, 0, out, sizeof(out), &err), -EINVAL);
	CHECK(strstr(err.msg, "32 bytes") != NULL);
	CHECK_EQ(nvmf_dhchap_key_generate(0, NULL, "00112", 0, out, sizeof(out), &err), -EINVAL);
	CHECK_EQ(nvmf_dhchap_key_generate(0, NULL, "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 0, out, sizeof(out), &err), -EINVAL);
	CHECK_EQ(nvmf_dhchap_key_generate(0, NULL, NULL, 16, out, sizeof(out), &err), -EINVAL);
	CHECK_EQ(nvmf_dhchap_key_generate(1, HOSTNQN, NULL, 48, out, sizeof(out), &err), -EINVAL);
	CHECK_EQ(nvmf_dhchap_key_generate(0, NULL, S32, 0, out, 20, &err), -EINVAL);
	/* Random keys have the right shape. */
	for (i = 0; i < 4; i++) {
		CHECK(nvmf_dhchap_key_generate((int)i, HOSTNQN, NULL, 0, out, sizeof(out), &err) > 0);
		k = key_of(out);
		CHECK_EQ(k.hmac, i);
		CHECK_EQ(k.len, i == 0 ? 32 : nvmf_dhchap_hash_len((uint8_t)i));
	}
	CHECK(nvmf_dhchap_key_generate(0, NULL, NULL, 64, out, sizeof(out), &err) > 0);
	CHECK_EQ(key_of(out).len, 64);
	test_end();
}

/* The installed nvme-cli on fresh random secrets, when it is there. */
static void test_key_nvme_cli(void)
{
	char cmd[512], line[NVMF_DHCHAP_SECRET_MAX + 8], out[NVMF_DHCHAP_SECRET_MAX];
	int hmac;

	test_begin("nvme gen-dhchap-key cross-check");
	if (system("nvme version > /dev/null 2>&1") != 0) {
		fprintf(stderr, "  skipped: nvme-cli not installed\n");
		test_end();
		return;
	}
	for (hmac = 0; hmac <= 3; hmac++) {
		struct nvmf_dhchap_key r;
		char hex[2 * NVMF_DHCHAP_KEY_MAX + 1];
		size_t len = hmac ? nvmf_dhchap_hash_len((uint8_t)hmac) : 48;
		FILE *f;
		size_t i;

		/* A random secret from our generator, in hex. */
		REQUIRE(nvmf_dhchap_key_generate(0, NULL, NULL, len, out, sizeof(out), NULL) > 0);
		r = key_of(out);
		for (i = 0; i < r.len; i++)
			sprintf(hex + 2 * i, "%02x", r.key[i]);
		snprintf(cmd, sizeof(cmd), "nvme gen-dhchap-key --secret=%s --hmac=%d "
			 "--key-length=%zu --nqn=%s", hex, hmac, len, HOSTNQN);
		f = popen(cmd, "r");
		REQUIRE(f);
		line[0] = '\0';
		CHECK(fgets(line, sizeof(line), f) != NULL);
		pclose(f);
		line[strcspn(line, "\n")] = '\0';
		CHECK(nvmf_dhchap_key_generate(hmac, HOSTNQN, hex, len, out, sizeof(out), NULL) > 0);
		if (strcmp(out, line) != 0) {
			fprintf(stderr, "  hmac %d: nvme-cli %s, ours %s\n", hmac, line, out);
			test_failures++;
		}
	}
	test_end();
}

/* Python (hmac/hashlib) following the kernel's steps computed these; see
 * dhchap_vectors.py.  Host key DHHC-1:01 of bytes 00..1f transformed with
 * HOSTNQN, controller key bytes 40..7f as is, C1 = a0.., C2 = 50.., S1 =
 * 12345678h, S2 = 0badcafeh, T_ID = 0102h, SC_C 0, session key
 * (7i + 1) mod 256 for i < 256. */
static const struct {
	uint8_t hash;
	const char *r1, *r2, *ca1, *r1_dh;
} response_vectors[] = {
	{1, "0f40c02370ec87cbee970d75ea7848b4dbbeaac1b62fb586421b42d7b0ea52c9", "8df9d1adc59914697cc058363bb3ef839d159c5a45b6a15162ea31e3bb5189ff", "d4f2b652e374f0c94a0451d433ed3dcf8cad0d6ac0dbdad5afb065426ccc9788", "2d18259705f8de725cf3f7a28bd3f87e865b07a1cd8ae64791392dafbde3147b"},
	{2, "798d61ed989b8a23e12fc9f4e978ecd3a79f4a2262026fa39e3b2a345098061345b7a46ff2ae63c8ffa77439c591250f", "91ba0af21a6b69c76233f40ac5578915af71b46f1a39ed59866fbb299c26305310e846a96f4a8751f51091ee4582981b", "c7a3a0e8f84b6c1c348f23f69dae68365e5bac2237d75c3bef00c2c5ec7a0a5abc2251e080ff1ed56f99cf464139eaf2", "6754a89f1cb154ec67268e0c2684b853bbbbe83b789352a38be398b68c56230006a3c3d1dba8909c4bd6e9b850994310"},
	{3, "6843024b1901cc7a2bac3357ac2f2ffbfff2fa83f30f8a313e0f97872ffee3c577bb0db7f7025af7943bdcb7ce54edf0fa29b764b3db982df02a9b3243b5d142", "5d10df1489ab1bc5c4d70d018d3d2c7a3f6528fc3d8350134231ebf9b713f5fbc32e3399b797999ad81664974ee65f674fb69191c8b1d3fd5b86d21dae7080ab", "6eaf7f1b64f298cf05904856ae158b75fdde6df90268f88d83b9c1d65a7cb9b1ab6e5ee444ac58c05e0293c6a808080745d8ba3440995413ac02af5d7812db23", "77e045d85ea9344d2186e3079ce4bfd8a94d66df97ae5fc65461328d9524d554cb20d0dbfb9d468a10eba0725b92d4a42263f301e769a5a9abf19147adf1e37b"},
};

static void test_response_vectors(void)
{
	struct nvmf_dhchap_key hk = {.hmac = 1, .len = 32}, ck = {.hmac = 0, .len = 64};
	uint8_t kh[64], kc[64], skey[256], c1[64], c2[64], got[64], want[64];
	size_t i, hl;
	int khl, kcl;

	test_begin("response and augmented challenge known answers");
	for (i = 0; i < 32; i++)
		hk.key[i] = (uint8_t)i;
	for (i = 0; i < 64; i++)
		ck.key[i] = (uint8_t)(64 + i);
	for (i = 0; i < sizeof(skey); i++)
		skey[i] = (uint8_t)(i * 7 + 1);
	khl = nvmf_dhchap_key_transform(&hk, HOSTNQN, kh);
	kcl = nvmf_dhchap_key_transform(&ck, SUBNQN, kc);
	CHECK_EQ(khl, 32);
	CHECK_EQ(kcl, 64);
	for (i = 0; i < sizeof(response_vectors) / sizeof(response_vectors[0]); i++) {
		uint8_t h = response_vectors[i].hash;
		size_t j;

		hl = nvmf_dhchap_hash_len(h);
		for (j = 0; j < hl; j++) {
			c1[j] = (uint8_t)(0xa0 + j);
			c2[j] = (uint8_t)(0x50 + j);
		}
		CHECK_EQ(nvmf_dhchap_response(h, kh, (size_t)khl, c1, 0x12345678, 0x0102, 0, false,
					      HOSTNQN, SUBNQN, got), 0);
		CHECK(unhex(response_vectors[i].r1, want, sizeof(want)) == hl && !memcmp(got, want, hl));
		CHECK_EQ(nvmf_dhchap_response(h, kc, (size_t)kcl, c2, 0x0badcafe, 0x0102, 0, true,
					      HOSTNQN, SUBNQN, got), 0);
		CHECK(unhex(response_vectors[i].r2, want, sizeof(want)) == hl && !memcmp(got, want, hl));
		CHECK_EQ(nvmf_dhchap_augmented_challenge(h, skey, sizeof(skey), c1, got), 0);
		CHECK(unhex(response_vectors[i].ca1, want, sizeof(want)) == hl && !memcmp(got, want, hl));
		CHECK_EQ(nvmf_dhchap_response(h, kh, (size_t)khl, got, 0x12345678, 0x0102, 0, false,
					      HOSTNQN, SUBNQN, c1), 0);
		CHECK(unhex(response_vectors[i].r1_dh, want, sizeof(want)) == hl &&
		      !memcmp(c1, want, hl));
	}
	test_end();
}

/* ------------------------------------------------------------------ */
/* Engines                                                             */
/* ------------------------------------------------------------------ */

struct outcome {
	int host, ctrl;
	int messages;
};

/*
 * Authentication Send/Receive as a host and a controller exchange them: the
 * host's messages go to the controller; the controller's answer comes back
 * in a zero-filled 4096-byte Receive buffer, as Linux asks for.
 */
static struct outcome exchange(struct nvmf_dhchap *h, struct nvmf_dhchap *c)
{
	static uint8_t a[NVMF_DHCHAP_MSG_MAX], b[4096];
	struct outcome o = {NVMF_DHCHAP_CONTINUE, NVMF_DHCHAP_CONTINUE, 0};
	size_t an, bn;
	ssize_t n = nvmf_dhchap_host_start(h, a, sizeof(a));
	int i;

	REQUIRE(n > 0);
	an = (size_t)n;
	for (i = 0; i < 8 && an > 0; i++) {
		o.ctrl = nvmf_dhchap_step(c, a, an, b, sizeof(b), &bn);
		o.messages++;
		if (o.host != NVMF_DHCHAP_CONTINUE || bn == 0)
			break;
		memset(b + bn, 0, sizeof(b) - bn);
		o.host = nvmf_dhchap_step(h, b, sizeof(b), a, sizeof(a), &an);
		o.messages++;
	}
	return o;
}

static struct nvmf_dhchap_key host_key, ctrl_key, other_key;

static void make_keys(void)
{
	char out[NVMF_DHCHAP_SECRET_MAX];

	REQUIRE(nvmf_dhchap_key_generate(1, HOSTNQN, NULL, 0, out, sizeof(out), NULL) > 0);
	host_key = key_of(out);
	REQUIRE(nvmf_dhchap_key_generate(0, NULL, NULL, 48, out, sizeof(out), NULL) > 0);
	ctrl_key = key_of(out);
	REQUIRE(nvmf_dhchap_key_generate(1, HOSTNQN, NULL, 0, out, sizeof(out), NULL) > 0);
	other_key = key_of(out);
}

struct pair {
	struct nvmf_dhchap_host_params hp;
	struct nvmf_dhchap_ctrl_params cp;
};

static struct pair pair_default(uint8_t hash, uint8_t group, bool bidir)
{
	struct pair p = {
		.hp = {.hostnqn = HOSTNQN, .subnqn = SUBNQN, .host_key = &host_key,
		       .ctrl_key = bidir ? &ctrl_key : NULL, .t_id = 7},
		.cp = {.hostnqn = HOSTNQN, .subnqn = SUBNQN, .host_key = &host_key,
		       .ctrl_key = &ctrl_key, .hash = hash, .dhgroup = group},
	};
	return p;
}

static struct outcome run(const struct pair *p, struct nvmf_dhchap **hp, struct nvmf_dhchap **cp)
{
	struct nvmf_dhchap *h = nvmf_dhchap_host_new(&p->hp);
	struct nvmf_dhchap *c = nvmf_dhchap_ctrl_new(&p->cp);
	struct outcome o;

	REQUIRE(h && c);
	o = exchange(h, c);
	*hp = h;
	*cp = c;
	return o;
}

static void test_engine_matrix(void)
{
	static const uint8_t groups[] = {NVMF_DHCHAP_DHGROUP_NULL, NVMF_DHCHAP_DHGROUP_FFDHE2048,
					 NVMF_DHCHAP_DHGROUP_FFDHE3072};
	uint8_t hash;
	size_t g;
	int bidir;

	test_begin("host and controller agree: every hash, null/2048/3072, uni and bi");
	for (hash = 1; hash <= 3; hash++)
		for (g = 0; g < sizeof(groups); g++)
			for (bidir = 0; bidir <= 1; bidir++) {
				struct pair p = pair_default(hash, groups[g], bidir);
				struct nvmf_dhchap *h, *c;
				struct outcome o = run(&p, &h, &c);

				CHECK_EQ(o.host, NVMF_DHCHAP_SUCCESS);
				CHECK_EQ(o.ctrl, NVMF_DHCHAP_SUCCESS);
				CHECK_EQ(o.messages, bidir ? 5 : 4);
				CHECK_EQ(nvmf_dhchap_hash(h), hash);
				CHECK_EQ(nvmf_dhchap_dhgroup(c), groups[g]);
				CHECK_EQ(nvmf_dhchap_bidirectional(h), bidir);
				CHECK_EQ(nvmf_dhchap_bidirectional(c), bidir);
				CHECK(nvmf_dhchap_error(h)[0] == '\0');
				nvmf_dhchap_free(h);
				nvmf_dhchap_free(c);
			}
	test_end();
}

static void test_engine_big_groups(void)
{
	static const struct {
		uint8_t hash, group;
	} cases[] = {
		{NVMF_DHCHAP_HASH_SHA256, NVMF_DHCHAP_DHGROUP_FFDHE4096},
		{NVMF_DHCHAP_HASH_SHA384, NVMF_DHCHAP_DHGROUP_FFDHE6144},
		{NVMF_DHCHAP_HASH_SHA512, NVMF_DHCHAP_DHGROUP_FFDHE8192},
	};
	size_t i;

	test_begin("ffdhe4096/6144/8192, bidirectional");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pair p = pair_default(cases[i].hash, cases[i].group, true);
		struct nvmf_dhchap *h, *c;
		struct outcome o = run(&p, &h, &c);

		CHECK_EQ(o.host, NVMF_DHCHAP_SUCCESS);
		CHECK_EQ(o.ctrl, NVMF_DHCHAP_SUCCESS);
		CHECK_EQ(nvmf_dhchap_dhgroup(h), cases[i].group);
		nvmf_dhchap_free(h);
		nvmf_dhchap_free(c);
	}
	test_end();
}

static void test_engine_refusals(void)
{
	struct nvmf_dhchap *h, *c;
	struct outcome o;
	struct pair p;

	test_begin("wrong keys are refused on both sides");
	/* Wrong host key: the controller sends Failure1, the host reads it. */
	p = pair_default(NVMF_DHCHAP_HASH_SHA256, NVMF_DHCHAP_DHGROUP_FFDHE2048, false);
	p.cp.host_key = &other_key;
	o = run(&p, &h, &c);
	CHECK_EQ(o.ctrl, NVMF_DHCHAP_FAILED);
	CHECK_EQ(o.host, NVMF_DHCHAP_FAILED);
	CHECK_EQ(nvmf_dhchap_failure_reason(c), NVMF_AUTH_FAIL_FAILED);
	CHECK_EQ(nvmf_dhchap_failure_reason(h), NVMF_AUTH_FAIL_FAILED);
	CHECK(strstr(nvmf_dhchap_error(c), "host response mismatch") != NULL);
	CHECK(strstr(nvmf_dhchap_error(h), "controller refused authentication") != NULL);
	fprintf(stderr, "  controller: %s\n  host: %s\n", nvmf_dhchap_error(c), nvmf_dhchap_error(h));
	nvmf_dhchap_free(h);
	nvmf_dhchap_free(c);

	/* Wrong controller key: the host sends Failure2, the controller reads it. */
	p = pair_default(NVMF_DHCHAP_HASH_SHA384, NVMF_DHCHAP_DHGROUP_NULL, true);
	p.cp.ctrl_key = &other_key;
	o = run(&p, &h, &c);
	CHECK_EQ(o.host, NVMF_DHCHAP_FAILED);
	CHECK_EQ(o.ctrl, NVMF_DHCHAP_FAILED);
	CHECK(strstr(nvmf_dhchap_error(h), "controller response mismatch") != NULL);
	CHECK(strstr(nvmf_dhchap_error(c), "host aborted") != NULL);
	fprintf(stderr, "  host: %s\n  controller: %s\n", nvmf_dhchap_error(h), nvmf_dhchap_error(c));
	nvmf_dhchap_free(h);
	nvmf_dhchap_free(c);

	/* The host asks the controller to authenticate, which has no key. */
	p = pair_default(NVMF_DHCHAP_HASH_SHA256, NVMF_DHCHAP_DHGROUP_NULL, true);
	p.cp.ctrl_key = NULL;
	o = run(&p, &h, &c);
	CHECK_EQ(o.ctrl, NVMF_DHCHAP_FAILED);
	CHECK_EQ(o.host, NVMF_DHCHAP_FAILED);
	CHECK(strstr(nvmf_dhchap_error(c), "no controller key") != NULL);
	nvmf_dhchap_free(h);
	nvmf_dhchap_free(c);

	/* A controller key the host did not ask for is simply not used. */
	p = pair_default(NVMF_DHCHAP_HASH_SHA256, NVMF_DHCHAP_DHGROUP_NULL, false);
	o = run(&p, &h, &c);
	CHECK_EQ(o.host, NVMF_DHCHAP_SUCCESS);
	CHECK_EQ(o.ctrl, NVMF_DHCHAP_SUCCESS);
	CHECK(!nvmf_dhchap_bidirectional(c));
	nvmf_dhchap_free(h);
	nvmf_dhchap_free(c);

	/* Key transforms use the connection's NQNs: a different host NQN with
	 * the same secret fails. */
	p = pair_default(NVMF_DHCHAP_HASH_SHA256, NVMF_DHCHAP_DHGROUP_NULL, false);
	p.cp.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000000";
	o = run(&p, &h, &c);
	CHECK_EQ(o.ctrl, NVMF_DHCHAP_FAILED);
	nvmf_dhchap_free(h);
	nvmf_dhchap_free(c);
	test_end();
}

static void test_engine_negotiation(void)
{
	struct nvmf_dhchap *h, *c;
	struct outcome o;
	struct pair p;

	test_begin("negotiation: fallback and unusable choices");
	/* The host offers only SHA-384 / ffdhe3072: the controller falls back
	 * from its SHA-256 / null preference, as Linux does. */
	p = pair_default(NVMF_DHCHAP_HASH_SHA256, NVMF_DHCHAP_DHGROUP_NULL, false);
	p.hp.hash_mask = 1u << NVMF_DHCHAP_HASH_SHA384;
	p.hp.dhgroup_mask = 1u << NVMF_DHCHAP_DHGROUP_FFDHE3072;
	o = run(&p, &h, &c);
	CHECK_EQ(o.host, NVMF_DHCHAP_SUCCESS);
	CHECK_EQ(nvmf_dhchap_hash(c), NVMF_DHCHAP_HASH_SHA384);
	CHECK_EQ(nvmf_dhchap_dhgroup(c), NVMF_DHCHAP_DHGROUP_FFDHE3072);
	nvmf_dhchap_free(h);
	nvmf_dhchap_free(c);

	/* The controller allows only SHA-512: the host offering SHA-256 fails. */
	p = pair_default(NVMF_DHCHAP_HASH_SHA512, NVMF_DHCHAP_DHGROUP_NULL, false);
	p.hp.hash_mask = 1u << NVMF_DHCHAP_HASH_SHA256;
	p.cp.hash_mask = 1u << NVMF_DHCHAP_HASH_SHA512;
	o = run(&p, &h, &c);
	CHECK_EQ(o.ctrl, NVMF_DHCHAP_FAILED);
	CHECK_EQ(o.host, NVMF_DHCHAP_FAILED);
	CHECK_EQ(nvmf_dhchap_failure_reason(h), NVMF_AUTH_FAIL_HASH_UNUSABLE);
	nvmf_dhchap_free(h);
	nvmf_dhchap_free(c);

	/* Likewise for DH groups. */
	p = pair_default(NVMF_DHCHAP_HASH_SHA256, NVMF_DHCHAP_DHGROUP_FFDHE2048, false);
	p.hp.dhgroup_mask = 1u << NVMF_DHCHAP_DHGROUP_NULL;
	p.cp.dhgroup_mask = 1u << NVMF_DHCHAP_DHGROUP_FFDHE2048;
	o = run(&p, &h, &c);
	CHECK_EQ(o.host, NVMF_DHCHAP_FAILED);
	CHECK_EQ(nvmf_dhchap_failure_reason(h), NVMF_AUTH_FAIL_DHGROUP_UNUSABLE);
	nvmf_dhchap_free(h);
	nvmf_dhchap_free(c);
	test_end();
}

static void test_engine_reauth(void)
{
	struct pair p = pair_default(NVMF_DHCHAP_HASH_SHA256, NVMF_DHCHAP_DHGROUP_FFDHE2048, true);
	struct nvmf_dhchap *h, *c, *h2;
	struct outcome o = run(&p, &h, &c);

	test_begin("re-authentication on the same controller engine");
	CHECK_EQ(o.ctrl, NVMF_DHCHAP_SUCCESS);
	p.hp.t_id = 8;
	h2 = nvmf_dhchap_host_new(&p.hp);
	REQUIRE(h2);
	o = exchange(h2, c);
	CHECK_EQ(o.host, NVMF_DHCHAP_SUCCESS);
	CHECK_EQ(o.ctrl, NVMF_DHCHAP_SUCCESS);
	nvmf_dhchap_free(h);
	nvmf_dhchap_free(h2);
	nvmf_dhchap_free(c);
	test_end();
}

/* Drive a controller to the point where it waits for a Reply; the host's
 * Reply is in reply[0..*replylen). */
static void until_reply(const struct pair *p, struct nvmf_dhchap **hp, struct nvmf_dhchap **cp,
			uint8_t *reply, size_t *replylen, uint8_t *challenge, size_t *challengelen)
{
	uint8_t neg[128];
	ssize_t n;

	*hp = nvmf_dhchap_host_new(&p->hp);
	*cp = nvmf_dhchap_ctrl_new(&p->cp);
	REQUIRE(*hp && *cp);
	n = nvmf_dhchap_host_start(*hp, neg, sizeof(neg));
	REQUIRE(n > 0);
	REQUIRE(nvmf_dhchap_step(*cp, neg, (size_t)n, challenge, NVMF_DHCHAP_MSG_MAX,
				 challengelen) == NVMF_DHCHAP_CONTINUE);
	REQUIRE(nvmf_dhchap_step(*hp, challenge, *challengelen, reply, NVMF_DHCHAP_MSG_MAX,
				 replylen) == NVMF_DHCHAP_CONTINUE);
}

static void expect_failure1(struct nvmf_dhchap *c, const uint8_t *msg, size_t len, uint8_t reason)
{
	uint8_t out[NVMF_DHCHAP_MSG_MAX];
	size_t n;
	int r = nvmf_dhchap_step(c, msg, len, out, sizeof(out), &n);

	CHECK_EQ(r, NVMF_DHCHAP_FAILED);
	CHECK_EQ(n, sizeof(struct nvmf_auth_failure));
	CHECK_EQ(out[1], NVMF_AUTH_ID_FAILURE1);
	CHECK_EQ(out[7], reason);
	CHECK_EQ(nvmf_dhchap_failure_reason(c), reason);
}

static void expect_failure2(struct nvmf_dhchap *h, const uint8_t *msg, size_t len, uint8_t reason)
{
	uint8_t out[NVMF_DHCHAP_MSG_MAX];
	size_t n;
	int r = nvmf_dhchap_step(h, msg, len, out, sizeof(out), &n);

	CHECK_EQ(r, NVMF_DHCHAP_FAILED);
	CHECK_EQ(n, sizeof(struct nvmf_auth_failure));
	CHECK_EQ(out[1], NVMF_AUTH_ID_FAILURE2);
	CHECK_EQ(out[7], reason);
}

static void test_engine_malformed(void)
{
	static uint8_t reply[NVMF_DHCHAP_MSG_MAX], chal[NVMF_DHCHAP_MSG_MAX], m[NVMF_DHCHAP_MSG_MAX];
	struct pair p = pair_default(NVMF_DHCHAP_HASH_SHA256, NVMF_DHCHAP_DHGROUP_FFDHE2048, false);
	struct nvmf_dhchap *h, *c;
	size_t rl, cl;
	uint8_t neg[128];
	ssize_t n;
	size_t on;

	test_begin("malformed and unexpected messages get the right failure");
	/* Controller side, each on a fresh pair. */
#define CTRL_CASE(mutate, len, reason)                                        \
	do {                                                                  \
		until_reply(&p, &h, &c, reply, &rl, chal, &cl);               \
		memcpy(m, reply, rl);                                         \
		mutate;                                                       \
		expect_failure1(c, m, len, reason);                           \
		nvmf_dhchap_free(h);                                          \
		nvmf_dhchap_free(c);                                          \
	} while (0)
	CTRL_CASE((void)0, rl - 1, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD);      /* truncated */
	CTRL_CASE(m[4] ^= 1, rl, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD);        /* T_ID */
	CTRL_CASE(m[6] = 48, rl, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD);        /* HL */
	CTRL_CASE(m[11] = 0, rl, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD);        /* DHVLEN */
	CTRL_CASE(m[16] ^= 1, rl, NVMF_AUTH_FAIL_FAILED);                  /* R1 */
	CTRL_CASE(memset(m + 16 + 64, 0, 256), rl, NVMF_AUTH_FAIL_DHGROUP_UNUSABLE); /* y = 0 */
	CTRL_CASE((memset(m + 16 + 64, 0, 256), m[16 + 64 + 255] = 1), rl,
		  NVMF_AUTH_FAIL_DHGROUP_UNUSABLE);                         /* y = 1 */
	CTRL_CASE(memset(m + 16 + 64, 0xff, 256), rl, NVMF_AUTH_FAIL_DHGROUP_UNUSABLE); /* y > p */
	CTRL_CASE(m[1] = NVMF_AUTH_ID_SUCCESS2, rl, NVMF_AUTH_FAIL_INCORRECT_MESSAGE);
	CTRL_CASE(m[0] = 7, rl, NVMF_AUTH_FAIL_INCORRECT_MESSAGE);
	CTRL_CASE((void)0, 3, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD);          /* tiny */
#undef CTRL_CASE

	/* Negotiate problems. */
	c = nvmf_dhchap_ctrl_new(&p.cp);
	h = nvmf_dhchap_host_new(&p.hp);
	REQUIRE(c && h);
	n = nvmf_dhchap_host_start(h, neg, sizeof(neg));
	REQUIRE(n == 72);
	memcpy(m, neg, 72);
	m[6] = NVMF_AUTH_SCC_NEWTLSPSK;
	expect_failure1(c, m, 72, NVMF_AUTH_FAIL_CONCAT_MISMATCH);
	nvmf_dhchap_free(c);
	c = nvmf_dhchap_ctrl_new(&p.cp);
	memcpy(m, neg, 72);
	m[7] = 200; /* NAPD beyond the message */
	expect_failure1(c, m, 72, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD);
	nvmf_dhchap_free(c);
	c = nvmf_dhchap_ctrl_new(&p.cp);
	memcpy(m, neg, 72);
	m[8] = 2; /* not DH-HMAC-CHAP */
	expect_failure1(c, m, 72, NVMF_AUTH_FAIL_PROTOCOL_UNUSABLE);
	nvmf_dhchap_free(c);
	c = nvmf_dhchap_ctrl_new(&p.cp);
	memcpy(m, neg, 72);
	m[10] = 31; /* HALEN */
	expect_failure1(c, m, 72, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD);
	nvmf_dhchap_free(c);
	c = nvmf_dhchap_ctrl_new(&p.cp);
	expect_failure1(c, neg, 40, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD);  /* no descriptor */
	/* After a failure the controller keeps refusing. */
	expect_failure1(c, neg, 72, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD);
	nvmf_dhchap_free(c);
	nvmf_dhchap_free(h);

	/* Host side: bad challenges. */
#define HOST_CASE(mutate, len, reason)                                        \
	do {                                                                  \
		h = nvmf_dhchap_host_new(&p.hp);                              \
		c = nvmf_dhchap_ctrl_new(&p.cp);                              \
		n = nvmf_dhchap_host_start(h, neg, sizeof(neg));              \
		REQUIRE(nvmf_dhchap_step(c, neg, (size_t)n, chal, sizeof(chal), &cl) == 0); \
		memcpy(m, chal, cl);                                          \
		mutate;                                                       \
		expect_failure2(h, m, len, reason);                           \
		nvmf_dhchap_free(h);                                          \
		nvmf_dhchap_free(c);                                          \
	} while (0)
	HOST_CASE((void)0, cl - 1, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD);
	HOST_CASE(m[4] ^= 1, cl, NVMF_AUTH_FAIL_INCORRECT_MESSAGE);
	HOST_CASE(m[8] = 9, cl, NVMF_AUTH_FAIL_HASH_UNUSABLE);
	HOST_CASE(m[6] = 20, cl, NVMF_AUTH_FAIL_HASH_UNUSABLE);
	HOST_CASE(m[9] = 9, cl, NVMF_AUTH_FAIL_DHGROUP_UNUSABLE);
	HOST_CASE(m[11] = 2, cl, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD);
	HOST_CASE(memset(m + 16 + 32, 0, 256), cl, NVMF_AUTH_FAIL_INCORRECT_PAYLOAD);
	HOST_CASE(m[1] = NVMF_AUTH_ID_SUCCESS1, cl, NVMF_AUTH_FAIL_INCORRECT_MESSAGE);
#undef HOST_CASE

	/* Misuse is an error, not a protocol failure. */
	h = nvmf_dhchap_host_new(&p.hp);
	CHECK_EQ(nvmf_dhchap_step(h, neg, 72, m, sizeof(m), &on), -22);
	CHECK_EQ(nvmf_dhchap_host_start(h, m, 10), -105);
	nvmf_dhchap_free(h);
	p.hp.host_key = NULL;
	CHECK(nvmf_dhchap_host_new(&p.hp) == NULL);
	p.hp.host_key = &host_key;
	p.hp.hostnqn = "";
	CHECK(nvmf_dhchap_host_new(&p.hp) == NULL);
	test_end();
}

/* Random corruption of every message of a bidirectional exchange: each
 * step must end in a clean verdict, never read out of bounds (run this
 * under NVMF_SANITIZE). */
static void test_engine_mutations(void)
{
	static uint8_t msgs[5][NVMF_DHCHAP_MSG_MAX], out[4096];
	struct pair p = pair_default(NVMF_DHCHAP_HASH_SHA256, NVMF_DHCHAP_DHGROUP_NULL, true);
	unsigned seed = 12345;
	int iter;

	test_begin("random mutations end in a verdict");
	for (iter = 0; iter < 600; iter++) {
		struct nvmf_dhchap *h = nvmf_dhchap_host_new(&p.hp);
		struct nvmf_dhchap *c = nvmf_dhchap_ctrl_new(&p.cp);
		int victim = iter % 5, step, r = 0;
		size_t len[5] = {0}, on;

		REQUIRE(h && c);
		len[0] = (size_t)nvmf_dhchap_host_start(h, msgs[0], sizeof(msgs[0]));
		for (step = 0; step < 5 && len[step] > 0; step++) {
			struct nvmf_dhchap *to = step % 2 == 0 ? c : h;
			size_t flips = (size_t)(rand_r(&seed) % 4), i;

			if (step == victim) {
				for (i = 0; i < flips; i++)
					msgs[step][rand_r(&seed) % len[step]] ^=
						(uint8_t)(1u << (rand_r(&seed) % 8));
				if (rand_r(&seed) % 3 == 0)
					len[step] = (size_t)rand_r(&seed) % (len[step] + 1);
			}
			r = nvmf_dhchap_step(to, msgs[step], len[step], out, sizeof(out), &on);
			CHECK(r == NVMF_DHCHAP_CONTINUE || r == NVMF_DHCHAP_SUCCESS ||
			      r == NVMF_DHCHAP_FAILED);
			if (step < 4) {
				memcpy(msgs[step + 1], out, on);
				len[step + 1] = on;
			}
			if (r == NVMF_DHCHAP_FAILED && on == 0)
				break;
		}
		nvmf_dhchap_free(h);
		nvmf_dhchap_free(c);
	}
	test_end();
}

int main(void)
{
	make_keys();
	test_names();
	test_key_vectors();
	test_key_errors();
	test_key_nvme_cli();
	test_response_vectors();
	test_engine_matrix();
	test_engine_big_groups();
	test_engine_refusals();
	test_engine_negotiation();
	test_engine_reauth();
	test_engine_malformed();
	test_engine_mutations();
	return test_summary();
}
