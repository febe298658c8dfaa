/* SPDX-License-Identifier: MIT */
/*
 * Re-authentication from this host (nvmf_ctrl_reauthenticate) against a
 * real target, for tests/interop/linux_target_auth.sh: connect with
 * DH-HMAC-CHAP both ways over 2 I/O queues, re-authenticate every queue
 * while verified I/O runs on each, again one way only and both ways
 * (nvmf_ctrl_set_dhchap_secrets), then with a host secret the target does
 * not hold: refused, with the reason, and the association ends.  Prints
 * "ok: ..." / "FAIL: ..." lines; exit status 0 when every check passed.
 *
 * usage: interop_reauth ADDR PORT SUBNQN HOSTNQN SECRET CTRL_SECRET WRONG_SECRET
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nvmf/auth.h"
#include "nvmf/host.h"
#include "util/host_io.h"
#include "util/test_util.h"

static int failures;

static void result(bool ok, const char *what, const char *detail)
{
	printf("%s: %s%s%s\n", ok ? "ok" : "FAIL", what, detail[0] ? ": " : "", detail);
	fflush(stdout);
	if (!ok)
		failures++;
}

static bool auth_is(struct nvmf_ctrl *c, uint8_t hash, uint8_t group, bool bidir, char *detail,
		    size_t len)
{
	uint8_t h = 0, g = 0;
	bool b = false, done = nvmf_ctrl_auth_info(c, &h, &g, &b);

	snprintf(detail, len, "%s, %s, %s", nvmf_dhchap_hash_name(h), nvmf_dhchap_dhgroup_name(g),
		 b ? "bidirectional" : "unidirectional");
	return done && h == hash && g == group && b == bidir;
}

int main(int argc, char **argv)
{
	struct test_io_load load = {.base_seed = 700, .stop = false};
	struct nvmf_host_opts o;
	struct nvmf_error err;
	struct nvmf_ctrl *c;
	char detail[600];
	uint8_t hash, group;
	bool bidir;
	pthread_t th;
	int ret;

	if (argc != 8) {
		fprintf(stderr, "usage: %s ADDR PORT SUBNQN HOSTNQN SECRET CTRL_SECRET "
			"WRONG_SECRET\n", argv[0]);
		return 2;
	}
	nvmf_host_opts_init(&o);
	o.traddr = argv[1];
	o.trsvcid = argv[2];
	o.subnqn = argv[3];
	o.hostnqn = argv[4];
	o.dhchap_secret = argv[5];
	o.dhchap_ctrl_secret = argv[6];
	o.nr_io_queues = 2;
	o.ctrl_loss_tmo_s = 0;
	c = nvmf_connect(&o, &err);
	if (c == NULL) {
		result(false, "connect", err.msg);
		return 1;
	}
	result(nvmf_ctrl_auth_info(c, &hash, &group, &bidir) && bidir, "connect",
	       "authenticated both ways");
	result(test_verify_io(c, 1), "I/O verified on both I/O queues", "");

	/* Every queue, twice, while I/O runs on each. */
	load.c = c;
	if (pthread_create(&th, NULL, test_io_load_run, &load) != 0)
		return 1;
	usleep(50000);
	for (int i = 0; i < 2; i++) {
		ret = nvmf_ctrl_reauthenticate(c, &err);
		result(ret == 0, "re-authentication of every queue", ret ? err.msg : "");
	}
	atomic_store(&load.stop, true);
	pthread_join(th, NULL);
	snprintf(detail, sizeof(detail), "%u rounds", load.rounds);
	result(load.ok && load.rounds > 0, "verified I/O across the re-authentications", detail);
	result(auth_is(c, hash, group, true, detail, sizeof(detail)), "negotiated again", detail);

	/* One way only, then both ways again. */
	ret = nvmf_ctrl_set_dhchap_secrets(c, argv[5], NULL, &err);
	if (ret == 0)
		ret = nvmf_ctrl_reauthenticate(c, &err);
	result(ret == 0 && auth_is(c, hash, group, false, detail, sizeof(detail)),
	       "unidirectional re-authentication", ret ? err.msg : detail);
	ret = nvmf_ctrl_set_dhchap_secrets(c, argv[5], argv[6], &err);
	if (ret == 0)
		ret = nvmf_ctrl_reauthenticate(c, &err);
	result(ret == 0 && auth_is(c, hash, group, true, detail, sizeof(detail)),
	       "bidirectional re-authentication", ret ? err.msg : detail);
	result(test_verify_io(c, 2), "I/O verified after re-authentication", "");

	/* A host secret the target does not hold. */
	ret = nvmf_ctrl_set_dhchap_secrets(c, argv[7], NULL, &err);
	if (ret == 0)
		ret = nvmf_ctrl_reauthenticate(c, &err);
	result(ret == -EACCES &&
		       strstr(err.msg, "DH-HMAC-CHAP re-authentication on queue 0 failed: "
				       "controller refused authentication") != NULL &&
		       strstr(err.msg, "wrong secret for host") != NULL,
	       "wrong secret refused", err.msg);
	for (int i = 0; i < 500 && nvmf_ctrl_state(c) != NVMF_CTRL_FAILED; i++)
		usleep(10000);
	result(nvmf_ctrl_state(c) == NVMF_CTRL_FAILED, "the association ended",
	       nvmf_ctrl_state(c) == NVMF_CTRL_FAILED ? "controller lost (ctrl-loss-tmo 0)" : "");
	nvmf_disconnect(c);
	return failures != 0;
}
