/* SPDX-License-Identifier: MIT */
/*
 * The host library against nvmfd on loopback: every call of include/nvmf/
 * host.h, data verified; access refusals and their messages; keep alive,
 * asynchronous events, reconnection after the target restarts mid-I/O,
 * controller loss, command timeouts; and fake targets for the failures
 * nvmfd does not produce (a silent target, a digest mismatch).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/host_internal.h"
#include "host/host_lib_test.h"
#include "host/netns.h"
#include "host/nvmfd_proc.h"
#include "host/wire_relay.h"
#include "nvmf/host.h"
#include "util/test_util.h"

#define HOST_A "nqn.2024-01.io.example:host-a"
#define HOST_B "nqn.2024-01.io.example:host-b"
#define WAIT_MS 10000

struct nvmf_host_opts opts_for(const struct nvmfd_proc *d)
{
	struct nvmf_host_opts o;

	nvmf_host_opts_init(&o);
	o.traddr = "127.0.0.1";
	o.trsvcid = d->port_text;
	o.subnqn = NQN;
	o.nr_io_queues = 2;
	o.reconnect_delay_s = 1;
	o.ctrl_loss_tmo_s = 30;
	return o;
}

struct nvmf_ctrl *connect_or_die(const struct nvmf_host_opts *o)
{
	struct nvmf_error err;
	struct nvmf_ctrl *c = nvmf_connect(o, &err);

	if (c == NULL)
		fprintf(stderr, "connect failed: %s\n", err.msg);
	REQUIRE(c != NULL);
	return c;
}

bool wait_state(struct nvmf_ctrl *c, enum nvmf_ctrl_state want, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (nvmf_ctrl_state(c) == want)
			return true;
		usleep(10000);
	}
	return nvmf_ctrl_state(c) == want;
}

void count_cb(void *arg, const struct nvmf_cpl *cpl)
{
	struct counter *c = arg;

	pthread_mutex_lock(&c->lock);
	if (!nvmf_cpl_ok(cpl) && c->failed++ == 0) {
		c->first_error = cpl->error;
		c->first_status = cpl->status;
	}
	c->done++;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

bool counter_wait(struct counter *c, unsigned n, int ms)
{
	uint64_t end = test_now_us() + (uint64_t)ms * 1000;
	bool ok;

	pthread_mutex_lock(&c->lock);
	while (c->done < n && test_now_us() < end) {
		pthread_mutex_unlock(&c->lock);
		usleep(1000);
		pthread_mutex_lock(&c->lock);
	}
	ok = c->done >= n;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

/* ------------------------------------------------------------------ */

static void test_ids_and_uri(void)
{
	struct nvmf_host_opts o = {0};
	char buf[512], nqn[NVMF_HOST_NQN_SIZE], id[NVMF_UUID_STR_SIZE], id2[NVMF_UUID_STR_SIZE];
	char state[512], path[600];
	struct stat st;

	test_begin("host NQN / host ID defaults and target URIs");
	CHECK_EQ(nvmf_parse_uri("nvme+tcp://127.0.0.1:4421/nqn.a:b:c", &o, buf, sizeof(buf)), 0);
	CHECK(strcmp(o.traddr, "127.0.0.1") == 0);
	CHECK(strcmp(o.trsvcid, "4421") == 0);
	CHECK(strcmp(o.subnqn, "nqn.a:b:c") == 0);
	memset(&o, 0, sizeof(o));
	CHECK_EQ(nvmf_parse_uri("nvme+tcp://[::1]/nqn.x", &o, buf, sizeof(buf)), 0);
	CHECK(strcmp(o.traddr, "::1") == 0);
	CHECK(o.trsvcid == NULL);
	CHECK(strcmp(o.subnqn, "nqn.x") == 0);
	memset(&o, 0, sizeof(o));
	CHECK_EQ(nvmf_parse_uri("nvme+tcp://10.0.0.1:8009", &o, buf, sizeof(buf)), 0);
	CHECK(o.subnqn == NULL);
	CHECK(nvmf_parse_uri("nvme+rdma://1.2.3.4/nqn.x", &o, buf, sizeof(buf)) != 0);
	CHECK(nvmf_parse_uri("nvme+tcp://:4420/nqn.x", &o, buf, sizeof(buf)) != 0);
	CHECK(nvmf_parse_uri("nvme+tcp://1.2.3.4:/nqn.x", &o, buf, sizeof(buf)) != 0);
	CHECK(nvmf_parse_uri("nvme+tcp://1.2.3.4/nqn.x", &o, buf, 8) != 0);

	/* A UUID host NQN gives its UUID as the host ID. */
	snprintf(nqn, sizeof(nqn), "nqn.2014-08.org.nvmexpress:uuid:0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0ff");
	CHECK_EQ(nvmf_host_default_ids(nqn, id), 0);
	CHECK(strcmp(id, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0ff") == 0);
	/* Another NQN gets a derived ID, the same every time. */
	snprintf(nqn, sizeof(nqn), "%s", HOST_A);
	CHECK_EQ(nvmf_host_default_ids(nqn, id), 0);
	CHECK_EQ(nvmf_host_default_ids(nqn, id2), 0);
	CHECK(strcmp(id, id2) == 0);
	CHECK(strlen(id) == 36);
	/* No NQN: /etc/nvme/hostnqn or the stored one, stable. */
	nqn[0] = '\0';
	CHECK_EQ(nvmf_host_default_ids(nqn, id), 0);
	CHECK(strncmp(nqn, "nqn.", 4) == 0);
	snprintf(buf, sizeof(buf), "%s", nqn);
	nqn[0] = '\0';
	CHECK_EQ(nvmf_host_default_ids(nqn, id2), 0);
	CHECK(strcmp(buf, nqn) == 0);
	CHECK(strcmp(id, id2) == 0);
	/* The state directory keeps a generated NQN once made. */
	snprintf(state, sizeof(state), "%s/state", nvmfd_dir());
	setenv("XDG_STATE_HOME", state, 1);
	CHECK_EQ(host_stored_hostnqn(nqn), 0);
	CHECK(strncmp(nqn, "nqn.2014-08.org.nvmexpress:uuid:", 32) == 0);
	snprintf(path, sizeof(path), "%s/nvmf/hostnqn", state);
	CHECK_EQ(stat(path, &st), 0);
	snprintf(buf, sizeof(buf), "%s", nqn);
	CHECK_EQ(host_stored_hostnqn(nqn), 0);
	CHECK(strcmp(buf, nqn) == 0);
	unsetenv("XDG_STATE_HOME");
	test_end();
}

/* ------------------------------------------------------------------ */
/* Host NQN / host ID from /etc/nvme (here $NVMF_ETC_NVME)             */
/* ------------------------------------------------------------------ */

#define ETC_NQN "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-1111-4222-8333-444444444444"
#define ETC_ID "bbbbbbbb-5555-4666-8777-888888888888"

static void etc_file(const char *dir, const char *name, const char *text)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (text == NULL)
		unlink(path);
	else
		nvmfd_write_file(path, text);
}

static void test_etc_ids(void)
{
	static const char *const extra[] = {"--allow-host", ETC_NQN, "ramdisk:8M", NULL};
	char etc[512], state[512], stored[600], nqn[NVMF_HOST_NQN_SIZE], id[NVMF_UUID_STR_SIZE];
	char id2[NVMF_UUID_STR_SIZE], want[NVMF_UUID_STR_SIZE], nqn2[NVMF_HOST_NQN_SIZE];
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_ctrl *c;

	test_begin("host NQN and host ID from /etc/nvme when present, else generated and kept");
	snprintf(etc, sizeof(etc), "%s/etc-nvme", nvmfd_dir());
	snprintf(state, sizeof(state), "%s/ids-state", nvmfd_dir());
	snprintf(stored, sizeof(stored), "%s/nvmf/hostnqn", state);
	REQUIRE(mkdir(etc, 0700) == 0);
	setenv("NVMF_ETC_NVME", etc, 1);
	setenv("XDG_STATE_HOME", state, 1);

	/* Both files: both used, the ID from hostid (not the NQN's UUID). */
	etc_file(etc, "hostnqn", ETC_NQN "\n");
	etc_file(etc, "hostid", ETC_ID "\n");
	nqn[0] = '\0';
	CHECK_EQ(nvmf_host_default_ids(nqn, id), 0);
	CHECK(strcmp(nqn, ETC_NQN) == 0);
	CHECK(strcmp(id, ETC_ID) == 0);
	CHECK(access(stored, F_OK) != 0); /* nothing generated */

	/* The library's defaults are these: nvmfd lets in only that host. */
	REQUIRE(nvmfd_start(&d, NQN, extra));
	o = opts_for(&d);
	c = connect_or_die(&o);
	CHECK(strcmp(nvmf_ctrl_hostnqn(c), ETC_NQN) == 0);
	CHECK(strcmp(nvmf_ctrl_hostid(c), ETC_ID) == 0);
	CHECK_EQ(nvmf_disconnect(c), 0);
	nvmfd_stop(&d, true);

	/* hostnqn alone (padded with blanks): trimmed; the ID derived from it. */
	etc_file(etc, "hostnqn", "nqn.2024-01.io.example:etc-host  \r\n");
	etc_file(etc, "hostid", NULL);
	snprintf(nqn2, sizeof(nqn2), "nqn.2024-01.io.example:etc-host");
	CHECK_EQ(nvmf_host_default_ids(nqn2, want), 0); /* what an explicit NQN gets */
	nqn[0] = '\0';
	CHECK_EQ(nvmf_host_default_ids(nqn, id), 0);
	CHECK(strcmp(nqn, "nqn.2024-01.io.example:etc-host") == 0);
	CHECK(strcmp(id, want) == 0);
	/* A hostid that is not a UUID is ignored the same way. */
	etc_file(etc, "hostid", "not-a-uuid\n");
	nqn[0] = '\0';
	CHECK_EQ(nvmf_host_default_ids(nqn, id), 0);
	CHECK(strcmp(id, want) == 0);
	/* An NQN given by the caller: the hostid file is not paired with it. */
	etc_file(etc, "hostid", ETC_ID "\n");
	snprintf(nqn, sizeof(nqn), "%s", HOST_A);
	CHECK_EQ(nvmf_host_default_ids(nqn, id), 0);
	CHECK(strcmp(nqn, HOST_A) == 0);
	CHECK(strcmp(id, ETC_ID) != 0);

	/* No hostnqn (an invalid one counts as none): generated once, kept,
	 * its UUID the host ID; the lone hostid file is not used. */
	etc_file(etc, "hostnqn", "not-an-nqn\n");
	nqn[0] = '\0';
	CHECK_EQ(nvmf_host_default_ids(nqn, id), 0);
	CHECK(strncmp(nqn, "nqn.2014-08.org.nvmexpress:uuid:", 32) == 0);
	CHECK(strcmp(id, nqn + 32) == 0);
	CHECK(strcmp(id, ETC_ID) != 0);
	CHECK(access(stored, F_OK) == 0);
	etc_file(etc, "hostnqn", NULL);
	nqn2[0] = '\0';
	CHECK_EQ(nvmf_host_default_ids(nqn2, id2), 0);
	CHECK(strcmp(nqn, nqn2) == 0);
	CHECK(strcmp(id, id2) == 0);
	/* Another state directory: another generated NQN. */
	snprintf(state, sizeof(state), "%s/ids-state-2", nvmfd_dir());
	setenv("XDG_STATE_HOME", state, 1);
	nqn2[0] = '\0';
	CHECK_EQ(nvmf_host_default_ids(nqn2, id2), 0);
	CHECK(strncmp(nqn2, "nqn.2014-08.org.nvmexpress:uuid:", 32) == 0);
	CHECK(strcmp(nqn, nqn2) != 0);
	unsetenv("XDG_STATE_HOME");
	unsetenv("NVMF_ETC_NVME");
	test_end();
}

static void test_connect_identify(void)
{
	static const char *const extra[] = {"ramdisk:64M", NULL};
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_ctrl *c;
	struct nvmf_ns *ns;
	struct nvmf_ns_info info;
	struct nvmf_qpair_info qinfo;
	uint32_t nsids[4], value = 0;
	uint8_t *buf = calloc(1, 4096);

	test_begin("connect, identify, namespaces, features, log pages, disconnect");
	REQUIRE(buf != NULL);
	REQUIRE(nvmfd_start(&d, NQN, extra));
	o = opts_for(&d);
	o.queue_size = 64;
	c = connect_or_die(&o);
	CHECK_EQ(nvmf_ctrl_state(c), NVMF_CTRL_LIVE);
	CHECK(nvmf_ctrl_cntlid(c) != 0);
	CHECK(!nvmf_ctrl_is_discovery(c));
	CHECK_EQ(nvmf_ctrl_nr_io_queues(c), 2);
	CHECK_EQ(nvmf_ctrl_queue_depth(c), 62);
	CHECK_EQ(nvmf_ctrl_max_io_size(c), 128 * 1024); /* nvmfd's MDTS */
	CHECK_EQ(nvmf_ctrl_max_icd(c), 16384);
	CHECK(strcmp(nvmf_ctrl_subnqn(c), NQN) == 0);
	CHECK(strcmp(nvmf_ctrl_trsvcid(c), d.port_text) == 0);
	CHECK(strcmp(nvmf_ctrl_traddr(c), "127.0.0.1") == 0);
	CHECK(strncmp(nvmf_ctrl_hostnqn(c), "nqn.", 4) == 0);
	CHECK_EQ(strlen(nvmf_ctrl_hostid(c)), 36);
	CHECK(nvmf_ctrl_vs(c) >= NVME_VS(1, 3, 0));
	CHECK(NVME_CAP_MQES(nvmf_ctrl_cap(c)) >= 63);
	CHECK(strncmp(nvmf_ctrl_identify(c)->subnqn, NQN, sizeof(NQN)) == 0);
	CHECK_EQ(nvmf_ctrl_reconnects(c), 0);
	CHECK_EQ(nvmf_ctrl_queue_info(c, 1, &qinfo), 0);
	CHECK(!qinfo.header_digests && !qinfo.data_digests);
	CHECK_EQ(nvmf_ctrl_queue_info(c, 3, &qinfo), -EINVAL);

	CHECK_EQ(nvmf_ctrl_ns_list(c, nsids, 4), 1);
	CHECK_EQ(nsids[0], 1);
	ns = nvmf_ctrl_ns(c, 1);
	REQUIRE(ns != NULL);
	CHECK(nvmf_ctrl_ns(c, 2) == NULL);
	CHECK(nvmf_ns_ctrl(ns) == c);
	CHECK_EQ(nvmf_ns_id(ns), 1);
	nvmf_ns_get_info(ns, &info);
	CHECK(info.active);
	CHECK_EQ(info.nsze * info.lba_size, 64 << 20);
	CHECK_EQ(nvmf_ns_size_bytes(ns), 64 << 20);
	CHECK_EQ(nvmf_ns_lba_size(ns), info.lba_size);
	CHECK_EQ(nvmf_ns_identify(ns)->nsze, info.nsze);
	CHECK_EQ(nvmf_ctrl_rescan(c), 0);
	CHECK_EQ(nvmf_ctrl_ns_list(c, nsids, 4), 1);

	CHECK_EQ(nvmf_identify(c, NVME_CNS_CONTROLLER, 0, buf), 0);
	CHECK_EQ(((struct nvme_id_ctrl *)buf)->cntlid, nvmf_ctrl_cntlid(c));
	CHECK_EQ(nvmf_identify(c, NVME_CNS_ACTIVE_NS_LIST, 0, buf), 0);
	CHECK_EQ(((uint32_t *)buf)[0], 1);
	CHECK_EQ(nvmf_get_features(c, NVME_FEAT_NUMBER_OF_QUEUES, 0, NVME_FEAT_SEL_CURRENT, 0, NULL,
				   0, &value), 0);
	CHECK((value & 0xffff) + 1 >= 2);
	CHECK_EQ(nvmf_set_features(c, NVME_FEAT_VOLATILE_WRITE_CACHE, 0, 1, false, NULL, 0, NULL),
		 0);
	CHECK_EQ(nvmf_get_features(c, NVME_FEAT_VOLATILE_WRITE_CACHE, 0, NVME_FEAT_SEL_CURRENT, 0,
				   NULL, 0, &value), 0);
	CHECK_EQ(value & 1, 1);
	CHECK_EQ(nvmf_get_log_page(c, NVME_LOG_SMART, 0xffffffff, 0, buf, 512, false), 0);
	CHECK_EQ(nvmf_get_log_page(c, NVME_LOG_SUPPORTED_PAGES, 0, 0, buf, 1024, false), 0);
	CHECK(((uint32_t *)buf)[NVME_LOG_SMART] & 1);
	CHECK_EQ(nvmf_get_log_page(c, NVME_LOG_COMMAND_EFFECTS, 0, 0, buf, 4096, false), 0);
	CHECK(((struct nvme_cmd_effects_log *)buf)->iocs[NVME_IO_READ] & NVME_CMD_EFFECTS_CSUPP);
	CHECK_EQ(nvmf_get_log_page(c, NVME_LOG_SMART, 0, 2, buf, 512, false), -EINVAL);
	CHECK_EQ(nvmf_identify(c, 0x55, 0, buf), NVME_STATUS(NVME_SCT_GENERIC,
							     NVME_SC_INVALID_FIELD));
	CHECK_EQ(nvmf_disconnect(c), 0);
	CHECK_EQ(nvmf_disconnect(NULL), 0);
	nvmfd_stop(&d, true);
	free(buf);
	test_end();
}

/* Fill, write asynchronously, read back asynchronously and in poll mode. */
static void test_async_io(void)
{
	static const char *const extra[] = {"ramdisk:64M,bs=4096", NULL};
	enum { N = 64, BS = 4096 };
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_ctrl *c;
	struct nvmf_ns *ns;
	uint8_t *wbuf = malloc(N * BS), *rbuf = malloc(N * BS);
	struct counter wr = COUNTER_INIT, rd = COUNTER_INIT, misc = COUNTER_INIT;
	struct nvmf_event ev[N];
	struct iovec iov[3];
	struct nvme_dsm_range range = {.slba = 100, .nlb = 8};
	unsigned depth, n;
	int ret;

	test_begin("asynchronous I/O: callbacks, iovecs, poll mode, every command");
	REQUIRE(wbuf != NULL && rbuf != NULL);
	REQUIRE(nvmfd_start(&d, NQN, extra));
	o = opts_for(&d);
	o.queue_size = 32;
	c = connect_or_die(&o);
	ns = nvmf_ctrl_ns(c, 1);
	REQUIRE(ns != NULL);
	CHECK_EQ(nvmf_ns_lba_size(ns), BS);
	test_fill(wbuf, N * BS, 7);
	for (unsigned i = 0; i < N; i++) {
		do
			ret = nvmf_ns_write(ns, i % 2 + 1, i, 1, wbuf + i * BS, i % 3 == 0 ? NVMF_IO_FUA : 0,
					    count_cb, &wr);
		while (ret == -EAGAIN && (usleep(100), true));
		CHECK_EQ(ret, 0);
	}
	CHECK(counter_wait(&wr, N, WAIT_MS));
	CHECK_EQ(wr.failed, 0);
	memset(rbuf, 0, N * BS);
	for (unsigned i = 0; i < N; i++) {
		do
			ret = nvmf_ns_read(ns, NVMF_IOQ_ANY, i, 1, rbuf + i * BS, count_cb, &rd);
		while (ret == -EAGAIN && (usleep(100), true));
		CHECK_EQ(ret, 0);
	}
	CHECK(counter_wait(&rd, N, WAIT_MS));
	CHECK_EQ(rd.failed, 0);
	CHECK(test_verify(rbuf, N * BS, 7));

	/* Scattered buffers: 3 pieces to blocks 200..203 and back. */
	iov[0] = (struct iovec){wbuf, 1000};
	iov[1] = (struct iovec){wbuf + 1000, 3 * BS - 1000 - 96};
	iov[2] = (struct iovec){wbuf + 3 * BS - 96, BS + 96};
	CHECK_EQ(nvmf_ns_writev(ns, 1, 200, 4, iov, 3, 0, count_cb, &misc), 0);
	CHECK(counter_wait(&misc, 1, WAIT_MS));
	memset(rbuf, 0, 4 * BS);
	iov[0] = (struct iovec){rbuf, 3 * BS};
	iov[1] = (struct iovec){rbuf + 3 * BS, BS};
	CHECK_EQ(nvmf_ns_readv(ns, 2, 200, 4, iov, 2, count_cb, &misc), 0);
	CHECK(counter_wait(&misc, 2, WAIT_MS));
	CHECK(test_verify(rbuf, 4 * BS, 7));
	CHECK_EQ(nvmf_ns_readv(ns, 2, 200, 4, iov, 1, count_cb, &misc), -EINVAL);

	/* Flush, Write Zeroes, Dataset Management, Compare. */
	CHECK_EQ(nvmf_ns_flush(ns, 1, count_cb, &misc), 0);
	CHECK_EQ(nvmf_ns_write_zeroes(ns, 1, 0, 2, NVMF_IO_DEALLOCATE, count_cb, &misc), 0);
	CHECK_EQ(nvmf_ns_dsm(ns, 2, &range, 1, NVME_DSM_ATTR_DEALLOCATE, count_cb, &misc), 0);
	CHECK(counter_wait(&misc, 5, WAIT_MS));
	CHECK_EQ(misc.failed, 0);
	CHECK_EQ(nvmf_ns_read_sync(ns, 0, rbuf, 2 * BS), 0);
	for (unsigned i = 0; i < 2 * BS; i++)
		if (rbuf[i] != 0) {
			CHECK(!"Write Zeroes left data");
			break;
		}
	CHECK_EQ(nvmf_ns_compare(ns, 1, 10, 1, wbuf + 10 * BS, count_cb, &misc), 0);
	CHECK(counter_wait(&misc, 6, WAIT_MS));
	CHECK_EQ(misc.failed, 0);
	CHECK_EQ(nvmf_ns_compare(ns, 1, 11, 1, wbuf + 10 * BS, count_cb, &misc), 0);
	CHECK(counter_wait(&misc, 7, WAIT_MS));
	CHECK_EQ(misc.failed, 1);
	CHECK_EQ(misc.first_status, NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILURE));

	/* Refused before anything is sent. */
	CHECK_EQ(nvmf_ns_read(ns, 1, 0, 33, rbuf, count_cb, &misc), -E2BIG); /* > 128 KiB */
	CHECK_EQ(nvmf_ns_read(ns, 1, 0, 0, rbuf, count_cb, &misc), -EINVAL);
	CHECK_EQ(nvmf_ns_read(ns, 3, 0, 1, rbuf, count_cb, &misc), -EINVAL);
	CHECK_EQ(nvmf_ns_dsm(ns, 1, &range, 0, 0, count_cb, &misc), -EINVAL);

	/* Poll mode: slots stay taken until reaped, so the queue fills up. */
	depth = nvmf_ctrl_queue_depth(c);
	CHECK_EQ(depth, 30);
	for (unsigned i = 0; i < depth; i++)
		CHECK_EQ(nvmf_ns_read(ns, 1, i, 1, rbuf + (i % N) * BS, NULL, (void *)(uintptr_t)(i + 1)),
			 0);
	CHECK_EQ(nvmf_ns_read(ns, 1, 0, 1, rbuf, NULL, NULL), -EAGAIN);
	CHECK_EQ(nvmf_ctrl_wait_idle(c, WAIT_MS), 0);
	n = 0;
	while (n < depth) {
		int got = nvmf_ioq_poll(c, 1, ev + n % N, N - n % N, WAIT_MS);

		CHECK(got > 0);
		if (got <= 0)
			break;
		for (int i = 0; i < got; i++) {
			CHECK(nvmf_cpl_ok(&ev[(n + (unsigned)i) % N].cpl));
			CHECK(ev[(n + (unsigned)i) % N].arg != NULL);
		}
		n += (unsigned)got;
	}
	CHECK_EQ(n, depth);
	CHECK_EQ(nvmf_ioq_poll(c, 1, ev, N, 0), 0);
	CHECK_EQ(nvmf_ns_read(ns, 1, 0, 1, rbuf, NULL, NULL), 0);
	CHECK_EQ(nvmf_ioq_poll(c, 1, ev, N, WAIT_MS), 1);

	/* Passthrough, both queues. */
	{
		struct nvme_sqe sqe = {.opc = NVME_ADMIN_IDENTIFY, .cdw10 = NVME_CNS_CONTROLLER};
		struct nvme_sqe ka = {.opc = NVME_ADMIN_KEEP_ALIVE};
		struct nvme_sqe flush = {.opc = NVME_IO_FLUSH, .nsid = 1};
		struct nvmf_cpl cpl;

		CHECK_EQ(nvmf_passthru(c, 0, &sqe, rbuf, 4096, NVMF_DATA_FROM_CTRL, count_cb, &misc),
			 0);
		CHECK(counter_wait(&misc, 8, WAIT_MS));
		CHECK_EQ(((struct nvme_id_ctrl *)rbuf)->cntlid, nvmf_ctrl_cntlid(c));
		CHECK_EQ(nvmf_passthru_sync(c, 0, &ka, NULL, 0, NVMF_DATA_NONE, &cpl), 0);
		CHECK_EQ(nvmf_passthru_sync(c, 2, &flush, NULL, 0, NVMF_DATA_NONE, &cpl), 0);
		CHECK_EQ(nvmf_passthru(c, 9, &flush, NULL, 0, NVMF_DATA_NONE, count_cb, &misc),
			 -EINVAL);
	}
	CHECK_EQ(nvmf_disconnect(c), 0);
	nvmfd_stop(&d, true);
	free(wbuf);
	free(rbuf);
	test_end();
}

static void test_sync_split(void)
{
	static const char *const extra[] = {"ramdisk:64M", NULL};
	const size_t len = (1u << 20) + 4096;
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_ctrl *c;
	struct nvmf_ns *ns;
	uint8_t *wbuf = malloc(len), *rbuf = malloc(len);

	test_begin("synchronous helpers: transfers split at MDTS, range checks");
	REQUIRE(wbuf != NULL && rbuf != NULL);
	REQUIRE(nvmfd_start(&d, NQN, extra));
	o = opts_for(&d);
	o.max_io_size = 64 * 1024; /* below MDTS: the smaller limit wins */
	c = connect_or_die(&o);
	CHECK_EQ(nvmf_ctrl_max_io_size(c), 64 * 1024);
	ns = nvmf_ctrl_ns(c, 1);
	REQUIRE(ns != NULL);
	test_fill(wbuf, len, 11);
	CHECK_EQ(nvmf_ns_write_sync(ns, 8192, wbuf, len, 0), 0);
	CHECK_EQ(nvmf_ns_read_sync(ns, 8192, rbuf, len), 0);
	CHECK(test_verify(rbuf, len, 11));
	CHECK_EQ(nvmf_ns_compare_sync(ns, 8192, wbuf, len), 0);
	CHECK_EQ(nvmf_ns_write_zeroes_sync(ns, 8192, 512 * 1024, NVMF_IO_FUA), 0);
	CHECK_EQ(nvmf_ns_read_sync(ns, 8192, rbuf, len), 0);
	CHECK(rbuf[0] == 0 && rbuf[512 * 1024 - 1] == 0);
	CHECK(memcmp(rbuf + 512 * 1024, wbuf + 512 * 1024, len - 512 * 1024) == 0);
	CHECK_EQ(nvmf_ns_trim_sync(ns, 0, 64 << 20), 0);
	CHECK_EQ(nvmf_ns_flush_sync(ns), 0);
	CHECK_EQ(nvmf_ns_read_sync(ns, 100, rbuf, 512), -EINVAL);
	CHECK_EQ(nvmf_ns_read_sync(ns, (64 << 20) - 512, rbuf, 1024), -ERANGE);
	CHECK_EQ(nvmf_disconnect(c), 0);
	nvmfd_stop(&d, true);
	free(wbuf);
	free(rbuf);
	test_end();
}

struct thread_arg {
	struct nvmf_ns *ns;
	unsigned index;
	unsigned failures;
};

static void *io_thread(void *p)
{
	struct thread_arg *a = p;
	uint8_t wbuf[16384], rbuf[16384];
	uint64_t base = (uint64_t)a->index * (4u << 20);

	for (unsigned i = 0; i < 200; i++) {
		uint64_t off = base + (uint64_t)(i * 7 % 200) * sizeof(wbuf);

		test_fill(wbuf, sizeof(wbuf), a->index * 1000 + i);
		if (nvmf_ns_write_sync(a->ns, off, wbuf, sizeof(wbuf), 0) != 0 ||
		    nvmf_ns_read_sync(a->ns, off, rbuf, sizeof(rbuf)) != 0 ||
		    memcmp(wbuf, rbuf, sizeof(wbuf)) != 0)
			a->failures++;
	}
	return NULL;
}

static void test_threads(void)
{
	static const char *const extra[] = {"ramdisk:64M", NULL};
	enum { NTHREADS = 6 };
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_ctrl *c;
	pthread_t t[NTHREADS];
	struct thread_arg args[NTHREADS];

	test_begin("many submitting threads share one controller");
	REQUIRE(nvmfd_start(&d, NQN, extra));
	o = opts_for(&d);
	o.queue_size = 8; /* few slots: threads wait for them */
	c = connect_or_die(&o);
	for (unsigned i = 0; i < NTHREADS; i++) {
		args[i] = (struct thread_arg){.ns = nvmf_ctrl_ns(c, 1), .index = i};
		REQUIRE(pthread_create(&t[i], NULL, io_thread, &args[i]) == 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(args[i].failures, 0);
	}
	CHECK_EQ(nvmf_disconnect(c), 0);
	nvmfd_stop(&d, true);
	test_end();
}

static void test_digests_sqflow(void)
{
	static const char *const extra[] = {"ramdisk:32M", NULL};
	const size_t len = 256 * 1024;
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_ctrl *c;
	struct nvmf_ns *ns;
	struct nvmf_qpair_info qinfo;
	uint8_t *wbuf = malloc(len), *rbuf = malloc(len);

	test_begin("header and data digests, SQ flow control disabled");
	REQUIRE(wbuf != NULL && rbuf != NULL);
	REQUIRE(nvmfd_start(&d, NQN, extra));
	o = opts_for(&d);
	o.hdr_digest = true;
	o.data_digest = true;
	o.disable_sqflow = true;
	c = connect_or_die(&o);
	CHECK_EQ(nvmf_ctrl_queue_info(c, 0, &qinfo), 0);
	CHECK(qinfo.header_digests && qinfo.data_digests);
	CHECK_EQ(nvmf_ctrl_queue_info(c, 2, &qinfo), 0);
	CHECK(qinfo.header_digests && qinfo.data_digests);
	ns = nvmf_ctrl_ns(c, 1);
	REQUIRE(ns != NULL);
	test_fill(wbuf, len, 3);
	CHECK_EQ(nvmf_ns_write_sync(ns, 0, wbuf, 4096, 0), 0);        /* in-capsule */
	CHECK_EQ(nvmf_ns_write_sync(ns, 4096, wbuf + 4096, len - 4096, 0), 0); /* R2T */
	CHECK_EQ(nvmf_ns_read_sync(ns, 0, rbuf, len), 0);
	CHECK(test_verify(rbuf, len, 3));
	CHECK_EQ(nvmf_disconnect(c), 0);
	nvmfd_stop(&d, true);
	free(wbuf);
	free(rbuf);
	test_end();
}

static void test_discovery(void)
{
	static const char *const extra[] = {"ramdisk:16M", NULL};
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_discovery_log *log = NULL;
	struct nvmf_connect_all_result *res = NULL;
	struct nvmf_error err;
	struct nvmf_ctrl *dc;
	size_t nrec = 0, found = 0;
	char traddr[256], trsvcid[33], subnqn[NVMF_HOST_NQN_SIZE];

	test_begin("discovery: log page, persistent discovery controller, connect-all");
	REQUIRE(nvmfd_start(&d, NQN, extra));
	o = opts_for(&d);
	o.subnqn = NULL;
	o.trsvcid = d.disc_text;
	CHECK_EQ(nvmf_discover(&o, &log, &nrec, &err), 0);
	REQUIRE(log != NULL);
	CHECK_EQ(log->numrec, nrec);
	for (size_t i = 0; i < nrec; i++) {
		nvmf_discovery_entry_str(&log->entries[i], traddr, sizeof(traddr), trsvcid,
					 sizeof(trsvcid), subnqn, sizeof(subnqn));
		if (log->entries[i].subtype == NVMF_SUBTYPE_NVME) {
			found++;
			CHECK(strcmp(subnqn, NQN) == 0);
			CHECK(strcmp(trsvcid, d.port_text) == 0);
			CHECK(strcmp(traddr, "127.0.0.1") == 0);
		}
	}
	CHECK_EQ(found, 1);

	/* connect-all, with SQ flow control disabled where TREQ allows. */
	o = opts_for(&d);
	CHECK_EQ(nvmf_connect_all(&o, log, nrec, NULL, &res), 1);
	for (size_t i = 0; i < nrec; i++) {
		if (res[i].ctrl == NULL) {
			CHECK(res[i].skipped);
			continue;
		}
		CHECK(strcmp(nvmf_ctrl_subnqn(res[i].ctrl), NQN) == 0);
		CHECK_EQ(nvmf_ctrl_ns_list(res[i].ctrl, NULL, 0), 1);
		CHECK_EQ(nvmf_disconnect(res[i].ctrl), 0);
	}
	free(res);
	free(log);
	log = NULL;

	/* A persistent discovery controller (keep alive on). */
	o = opts_for(&d);
	o.subnqn = NVMF_DISCOVERY_NQN;
	o.trsvcid = d.disc_text;
	o.kato_s = 5;
	dc = connect_or_die(&o);
	CHECK(nvmf_ctrl_is_discovery(dc));
	CHECK_EQ(nvmf_ctrl_nr_io_queues(dc), 0);
	CHECK_EQ(nvmf_get_discovery_log(dc, &log, &nrec), 0);
	CHECK(nrec >= 1);
	free(log);
	CHECK_EQ(nvmf_disconnect(dc), 0);
	/* The default port (8009) is tested in a network namespace of its own
	 * (host_lib netns: test_discover_default_port). */
	nvmfd_stop(&d, true);
	test_end();
}

static void test_refusals(void)
{
	static const char *const extra[] = {"--allow-host", HOST_A, "ramdisk:16M", NULL};
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_error err;
	struct nvmf_ctrl *c;

	test_begin("refusals: host not allowed, unknown NQN, refused port, bad options");
	REQUIRE(nvmfd_start(&d, NQN, extra));
	o = opts_for(&d);
	o.hostnqn = HOST_B;
	CHECK(nvmf_connect(&o, &err) == NULL);
	CHECK_EQ(err.status, NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST));
	CHECK(strstr(err.msg, "not allowed") != NULL);
	CHECK(strstr(err.msg, HOST_B) != NULL);
	o.hostnqn = HOST_A;
	c = connect_or_die(&o);
	CHECK_EQ(nvmf_disconnect(c), 0);
	o.subnqn = "nqn.2024-01.io.example:nobody";
	CHECK(nvmf_connect(&o, &err) == NULL);
	CHECK_EQ(err.status,
		 NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAMETERS));
	CHECK(strstr(err.msg, "unknown subsystem NQN") != NULL);
	o = opts_for(&d);
	o.trsvcid = "1";
	CHECK(nvmf_connect(&o, &err) == NULL);
	CHECK_EQ(err.errnum, ECONNREFUSED);
	CHECK(strstr(err.msg, "connection refused") != NULL);
	o = opts_for(&d);
	o.traddr = "not-an-address";
	CHECK(nvmf_connect(&o, &err) == NULL);
	CHECK_EQ(err.errnum, EINVAL);
	o = opts_for(&d);
	o.hostid = "1234";
	CHECK(nvmf_connect(&o, &err) == NULL);
	CHECK(strstr(err.msg, "host ID") != NULL);
	o = opts_for(&d);
	o.queue_size = 2;
	CHECK(nvmf_connect(&o, &err) == NULL);
	nvmfd_stop(&d, true);
	test_end();
}

/* A fake target: accept, then either stay silent or answer a bad ICResp. */
struct fake {
	int lfd;
	bool bad_icresp;
};

static void *fake_target(void *p)
{
	struct fake *f = p;
	int fd = accept(f->lfd, NULL, NULL);
	struct nvme_tcp_icreq req;

	if (fd < 0)
		return NULL;
	if (test_read_exact(fd, &req, sizeof(req), 5000) == 0 && f->bad_icresp) {
		struct nvme_tcp_icresp rsp = {
			.ch = {.pdu_type = NVME_TCP_PDU_ICRESP, .hlen = 128, .plen = 128},
			.dgst = 0, /* digests were asked for: a mismatch */
			.maxh2cdata = 65536,
		};

		test_write_all(fd, &rsp, sizeof(rsp));
	}
	test_wait_eof(fd, 5000);
	close(fd);
	return NULL;
}

static void test_fake_targets(void)
{
	struct nvmf_host_opts o;
	struct nvmf_error err;
	char port_text[8];
	uint16_t port;
	struct fake f;
	pthread_t t;
	uint64_t start;

	test_begin("a silent target times out; a digest mismatch is named");
	nvmf_host_opts_init(&o);
	o.traddr = "127.0.0.1";
	o.subnqn = NQN;
	o.connect_timeout_ms = 500;
	f = (struct fake){.lfd = test_listen(&port)};
	snprintf(port_text, sizeof(port_text), "%u", port);
	o.trsvcid = port_text;
	REQUIRE(pthread_create(&t, NULL, fake_target, &f) == 0);
	start = test_now_us();
	CHECK(nvmf_connect(&o, &err) == NULL);
	CHECK(test_now_us() - start < 3000000);
	CHECK_EQ(err.errnum, ETIMEDOUT);
	CHECK(strstr(err.msg, "timeout") != NULL);
	pthread_join(t, NULL);

	f.bad_icresp = true;
	o.hdr_digest = true;
	o.data_digest = true;
	REQUIRE(pthread_create(&t, NULL, fake_target, &f) == 0);
	CHECK(nvmf_connect(&o, &err) == NULL);
	CHECK(strstr(err.msg, "digest mismatch") != NULL);
	pthread_join(t, NULL);
	close(f.lfd);
	test_end();
}

struct aen_seen {
	_Atomic unsigned count;
	_Atomic uint32_t cdw0;
	_Atomic size_t len;
	_Atomic size_t nns;
	struct nvmf_ctrl *_Atomic ctrl;
};

static void aen_cb(void *arg, uint32_t cdw0, const void *log, size_t len)
{
	struct aen_seen *s = arg;
	struct nvmf_ctrl *c = atomic_load(&s->ctrl);

	atomic_store(&s->cdw0, cdw0);
	atomic_store(&s->len, log != NULL ? len : 0);
	if (c != NULL)
		atomic_store(&s->nns, nvmf_ctrl_ns_list(c, NULL, 0));
	atomic_fetch_add(&s->count, 1);
}

/* One subsystem (a second namespace, a second subsystem, on request). */
void write_config(const char *path, uint16_t port, bool second_ns, bool second_subsys)
{
	char json[4096];

	snprintf(json, sizeof(json),
		 "{\"hosts\": [], \"ports\": [{\"addr\": {\"adrfam\": \"ipv4\", \"traddr\": "
		 "\"127.0.0.1\", \"treq\": \"not specified\", \"trsvcid\": \"%u\", \"trtype\": "
		 "\"tcp\"}, \"portid\": 1, \"referrals\": [], \"subsystems\": [\"" NQN "\"%s]}],\n"
		 "\"subsystems\": [{\"allowed_hosts\": [], \"attr\": {\"allow_any_host\": \"1\"},\n"
		 "\"namespaces\": [{\"device\": {\"path\": \"ramdisk:8M\"}, \"enable\": 1, "
		 "\"nsid\": 1}%s], \"nqn\": \"" NQN "\"}%s]}\n",
		 port, second_subsys ? ", \"" NQN2 "\"" : "",
		 second_ns ? ", {\"device\": {\"path\": \"ramdisk:4M\"}, \"enable\": 1, \"nsid\": 2}"
			   : "",
		 second_subsys ? ", {\"allowed_hosts\": [], \"attr\": {\"allow_any_host\": \"1\"}, "
				 "\"namespaces\": [{\"device\": {\"path\": \"ramdisk:4M\"}, "
				 "\"enable\": 1, \"nsid\": 1}], \"nqn\": \"" NQN2 "\"}"
			       : "");
	nvmfd_write_file(path, json);
}

static void test_async_events(void)
{
	char conf[300];
	const char *extra[] = {"-c", conf, NULL};
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_ctrl *c;
	struct aen_seen seen = {0};
	uint16_t port = nvmfd_free_port();

	test_begin("asynchronous event: namespace added, log read, namespaces rescanned");
	snprintf(conf, sizeof(conf), "%s/aen.json", nvmfd_dir());
	write_config(conf, port, false, false);
	REQUIRE(nvmfd_start(&d, NULL, extra));
	o = opts_for(&d);
	snprintf(d.port_text, sizeof(d.port_text), "%u", port);
	o.trsvcid = d.port_text;
	o.aen_cb = aen_cb;
	o.aen_arg = &seen;
	c = connect_or_die(&o);
	atomic_store(&seen.ctrl, c);
	CHECK_EQ(nvmf_ctrl_ns_list(c, NULL, 0), 1);
	write_config(conf, port, true, false);
	nvmfd_signal(&d, SIGHUP);
	for (int i = 0; i < 500 && atomic_load(&seen.count) == 0; i++)
		usleep(10000);
	CHECK_EQ(atomic_load(&seen.count), 1);
	CHECK_EQ(atomic_load(&seen.cdw0), NVME_AER_DW0(NVME_AER_TYPE_NOTICE,
						       NVME_AER_NOTICE_NS_CHANGED,
						       NVME_LOG_CHANGED_NS_LIST));
	CHECK_EQ(atomic_load(&seen.len), sizeof(struct nvme_changed_ns_list_log));
	CHECK_EQ(atomic_load(&seen.nns), 2);
	CHECK(nvmf_ctrl_ns(c, 2) != NULL);
	/* Re-armed: a second change is reported too. */
	write_config(conf, port, false, false);
	nvmfd_signal(&d, SIGHUP);
	for (int i = 0; i < 500 && atomic_load(&seen.count) < 2; i++)
		usleep(10000);
	CHECK_EQ(atomic_load(&seen.count), 2);
	CHECK_EQ(nvmf_ctrl_ns_list(c, NULL, 0), 1);
	CHECK(nvmf_ctrl_ns(c, 2) != NULL); /* the handle stays, inactive */
	{
		struct nvmf_ns_info info;

		nvmf_ns_get_info(nvmf_ctrl_ns(c, 2), &info);
		CHECK(!info.active);
	}
	CHECK_EQ(nvmf_disconnect(c), 0);
	nvmfd_stop(&d, true);
	test_end();
}

static void test_discovery_event(void)
{
	char conf[300];
	const char *extra[] = {"-c", conf, NULL};
	struct nvmfd_proc d;
	struct nvmf_host_opts o;
	struct nvmf_ctrl *dc;
	struct aen_seen seen = {0};
	uint16_t port = nvmfd_free_port();

	test_begin("persistent discovery: the log change event brings the new log");
	snprintf(conf, sizeof(conf), "%s/disc.json", nvmfd_dir());
	write_config(conf, port, false, false);
	REQUIRE(nvmfd_start(&d, NULL, extra));
	o = opts_for(&d);
	snprintf(d.port_text, sizeof(d.port_text), "%u", port);
	o.trsvcid = d.port_text;
	o.subnqn = NVMF_DISCOVERY_NQN;
	o.kato_s = 5;
	o.aen_cb = aen_cb;
	o.aen_arg = &seen;
	dc = connect_or_die(&o);
	write_config(conf, port, false, true);
	nvmfd_signal(&d, SIGHUP);
	for (int i = 0; i < 500 && atomic_load(&seen.count) == 0; i++)
		usleep(10000);
	CHECK_EQ(atomic_load(&seen.count), 1);
	CHECK_EQ(atomic_load(&seen.cdw0), NVME_AER_DW0(NVME_AER_TYPE_NOTICE,
						       NVME_AER_NOTICE_DISCOVERY_CHANGE,
						       NVME_LOG_DISCOVERY));
	/* The log handed over: header and the records, the new subsystem in them. */
	CHECK(atomic_load(&seen.len) >= sizeof(struct nvmf_discovery_log) + 2 * 1024);
	CHECK_EQ(nvmf_disconnect(dc), 0);
	nvmfd_stop(&d, true);
	test_end();
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && strcmp(argv[1], "netns") == 0) {
		char why[256];

		if (test_enter_netns(why, sizeof(why)) != 0) {
			fprintf(stderr, "skipped: %s\n", why);
			return TEST_SKIP;
		}
		test_discover_default_port();
		return test_summary();
	}
	if (argc > 1 && strcmp(argv[1], "reconnect") == 0) {
		/* make stress: the reconnection cases, the kill point from NVMF_SEED. */
		const char *env = getenv("NVMF_SEED");
		uint32_t seed = env != NULL ? (uint32_t)strtoul(env, NULL, 0)
					    : (uint32_t)test_now_us();

		kill_delay_us = 50000 + seed % 950000;
		fprintf(stderr, "seed %#x: kill after %u ms (NVMF_SEED=%#x repeats it)\n", seed,
			kill_delay_us / 1000, seed);
		test_reconnect();
		test_ctrl_loss();
		test_stale_cid();
		return test_summary();
	}
	test_ids_and_uri();
	test_etc_ids();
	test_connect_identify();
	test_async_io();
	test_sync_split();
	test_threads();
	test_digests_sqflow();
	test_discovery();
	test_refusals();
	test_fake_targets();
	test_async_events();
	test_discovery_event();
	test_csts_rdy_wait();
	test_discovery_genctr();
	test_connect_all_sqflow();
	test_keep_alive();
	test_reconnect();
	test_reconnect_timing();
	test_ctrl_loss();
	test_command_timeout();
	test_stale_cid();
	test_short_read();
	test_disconnect_busy();
	return test_summary();
}
