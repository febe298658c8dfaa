/* SPDX-License-Identifier: MIT */
/*
 * Host multipath against nvmfd: one daemon with two ports whose ANA states
 * a reload changes, and two daemons serving one file as an HA pair, one of
 * them killed with SIGKILL and restarted.  Verified I/O runs throughout:
 * zero errors, zero wrong data.  The I/O policies spread commands as they
 * say (commands counted per path).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nvmf/nvmf.h"
#include "nvmfd_proc.h"
#include "util/test_util.h"

#define NQN "nqn.2024-01.org.nvmfd:mpath"
#define WAIT_MS 60000
#define IO_LEN (64 * 1024)
#define LOAD_THREADS 2

/* ------------------------------------------------------------------ */
/* Verified load                                                       */
/* ------------------------------------------------------------------ */

struct load {
	struct nvmf_mpath *mp;
	unsigned id;
	atomic_bool stop;
	atomic_uint rounds;
	unsigned errors, mismatches;
	int last_error;
	pthread_t thread;
};

static void *load_run(void *arg)
{
	struct load *l = arg;
	uint8_t *out = malloc(IO_LEN), *in = malloc(IO_LEN);

	REQUIRE(out != NULL && in != NULL);
	for (unsigned k = 0; !atomic_load(&l->stop); k++) {
		uint64_t off = (uint64_t)l->id * (1u << 20) + (k % 8) * IO_LEN;
		int ret;

		test_fill(out, IO_LEN, l->id * 100000u + k);
		ret = nvmf_mpath_write_sync(l->mp, 1, off, out, IO_LEN, 0);
		if (ret == 0)
			ret = nvmf_mpath_read_sync(l->mp, 1, off, in, IO_LEN);
		if (ret != 0) {
			l->errors++;
			l->last_error = ret;
		} else if (memcmp(in, out, IO_LEN) != 0) {
			l->mismatches++;
		}
		atomic_fetch_add(&l->rounds, 1);
	}
	free(out);
	free(in);
	return NULL;
}

static void load_start(struct load *loads, struct nvmf_mpath *mp)
{
	for (unsigned i = 0; i < LOAD_THREADS; i++) {
		memset(&loads[i], 0, sizeof(loads[i]));
		loads[i].mp = mp;
		loads[i].id = i;
		REQUIRE(pthread_create(&loads[i].thread, NULL, load_run, &loads[i]) == 0);
	}
}

static void load_stop(struct load *loads)
{
	for (unsigned i = 0; i < LOAD_THREADS; i++) {
		atomic_store(&loads[i].stop, true);
		pthread_join(loads[i].thread, NULL);
		if (loads[i].errors != 0)
			fprintf(stderr, "load %u: %u errors, the last %d\n", i, loads[i].errors,
				loads[i].last_error);
		CHECK_EQ(loads[i].errors, 0);
		CHECK_EQ(loads[i].mismatches, 0);
		CHECK(atomic_load(&loads[i].rounds) > 0);
	}
}

/* ------------------------------------------------------------------ */

static uint64_t path_commands(struct nvmf_mpath *mp, unsigned path)
{
	struct nvmf_path_info info;

	REQUIRE(nvmf_mpath_path_info(mp, path, 1, &info) == 0);
	return info.commands;
}

/* Until path carries `more` commands beyond what it had. */
static bool wait_path_carries(struct nvmf_mpath *mp, unsigned path, uint64_t more)
{
	uint64_t want = path_commands(mp, path) + more;
	uint64_t end = test_now_us() + (uint64_t)WAIT_MS * 1000;

	while (test_now_us() < end) {
		if (path_commands(mp, path) >= want)
			return true;
		usleep(2000);
	}
	fprintf(stderr, "path %u carried %llu commands, waited for %llu\n", path,
		(unsigned long long)path_commands(mp, path), (unsigned long long)want);
	return false;
}

static bool wait_ana(struct nvmf_mpath *mp, unsigned path, uint8_t state)
{
	uint64_t end = test_now_us() + (uint64_t)WAIT_MS * 1000;
	struct nvmf_path_info info;

	while (test_now_us() < end) {
		REQUIRE(nvmf_mpath_path_info(mp, path, 1, &info) == 0);
		if (info.ana_state == state && info.state == NVMF_CTRL_LIVE)
			return true;
		usleep(2000);
	}
	fprintf(stderr, "path %u: ANA state %u, state %d; waited for %u\n", path, info.ana_state,
		info.state, state);
	return false;
}

static struct nvmf_mpath *connect_ports(uint16_t p0, uint16_t p1, enum nvmf_iopolicy policy)
{
	static char ports[2][8];
	struct nvmf_host_opts opts[2];
	const struct nvmf_host_opts *list[2] = {&opts[0], &opts[1]};
	struct nvmf_error err;
	struct nvmf_mpath *mp;

	for (int i = 0; i < 2; i++) {
		nvmf_host_opts_init(&opts[i]);
		snprintf(ports[i], sizeof(ports[i]), "%u", i == 0 ? p0 : p1);
		opts[i].traddr = "127.0.0.1";
		opts[i].trsvcid = ports[i];
		opts[i].subnqn = NQN;
		opts[i].nr_io_queues = 2;
		opts[i].reconnect_delay_s = 1;
		opts[i].ctrl_loss_tmo_s = 60;
	}
	mp = nvmf_mpath_connect(list, 2, policy, &err);
	if (mp == NULL)
		fprintf(stderr, "multipath connect: %s\n", err.msg);
	return mp;
}

/* One nvmfd, two ports, the file in group 1; states per port. */
static void write_two_port_config(const char *path, uint16_t p0, uint16_t p1, const char *img,
				  const char *s0, const char *s1)
{
	char json[2048];

	snprintf(json, sizeof(json),
		 "{\"ports\": [\n"
		 "  {\"portid\": 1, \"addr\": {\"trtype\": \"tcp\", \"adrfam\": \"ipv4\",\n"
		 "   \"traddr\": \"127.0.0.1\", \"trsvcid\": \"%u\"}, \"subsystems\": [\"" NQN "\"],\n"
		 "   \"ana_groups\": [{\"grpid\": 1, \"ana\": {\"state\": \"%s\"}}]},\n"
		 "  {\"portid\": 2, \"addr\": {\"trtype\": \"tcp\", \"adrfam\": \"ipv4\",\n"
		 "   \"traddr\": \"127.0.0.1\", \"trsvcid\": \"%u\"}, \"subsystems\": [\"" NQN "\"],\n"
		 "   \"ana_groups\": [{\"grpid\": 1, \"ana\": {\"state\": \"%s\"}}]}],\n"
		 " \"subsystems\": [{\"nqn\": \"" NQN "\", \"attr\": {\"allow_any_host\": \"1\"},\n"
		 "   \"namespaces\": [{\"nsid\": 1, \"enable\": 1, \"ana_grpid\": 1,\n"
		 "     \"device\": {\"path\": \"%s\", \"size\": \"16M\"}}]}]}\n",
		 p0, s0, p1, s1, img);
	nvmfd_write_file(path, json);
}

struct two_ports {
	struct nvmfd_proc d;
	char conf[256], img[256];
	uint16_t p0, p1;
};

static void reload(struct two_ports *t, const char *s0, const char *s1)
{
	write_two_port_config(t->conf, t->p0, t->p1, t->img, s0, s1);
	nvmfd_signal(&t->d, SIGHUP);
}

static void count_done(void *arg, const struct nvmf_cpl *cpl)
{
	CHECK(nvmf_cpl_ok(cpl));
	atomic_fetch_add((atomic_uint *)arg, 1);
}

static bool wait_done(atomic_uint *done, unsigned n)
{
	uint64_t end = test_now_us() + (uint64_t)WAIT_MS * 1000;

	while (atomic_load(done) < n && test_now_us() < end)
		usleep(1000);
	return atomic_load(done) == n;
}

static bool read_line(const char *path, char *buf, int len)
{
	FILE *f = fopen(path, "r");
	bool ok = f != NULL && fgets(buf, len, f) != NULL;

	if (f != NULL)
		fclose(f);
	return ok;
}

/* CPU seconds (user + system) of this process's thread named name; -1: none. */
static double thread_cpu_s(const char *name)
{
	char path[300], comm[32], stat[1024];
	unsigned long ut, st;
	double cpu = -1;
	struct dirent *e;
	DIR *d = opendir("/proc/self/task");

	REQUIRE(d != NULL);
	while (cpu < 0 && (e = readdir(d)) != NULL) {
		const char *after;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		if (!read_line(path, comm, sizeof(comm)) || strncmp(comm, name, strlen(name)) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		if (!read_line(path, stat, sizeof(stat)) || (after = strrchr(stat, ')')) == NULL)
			continue;
		/* Fields 14 and 15 (utime, stime), counted from the state after ")". */
		if (sscanf(after + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) ==
		    2)
			cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	}
	closedir(d);
	return cpu;
}

/*
 * With every path up and nothing held, the worker sleeps until a path
 * needs it (it used to wait on a CLOCK_REALTIME condition with monotonic
 * deadlines, always in the past: a thread spinning a whole CPU beside every
 * multipath user, which halved what two paths carried).  The window is a
 * measurement, not a wait for an event: an idle worker takes no CPU in it.
 */
static void idle_worker(struct two_ports *t)
{
	struct nvmf_mpath *mp;
	double before, after;
	uint64_t end;

	test_begin("multipath: the worker sleeps while there is nothing to do");
	mp = connect_ports(t->p0, t->p1, NVMF_IOPOLICY_ROUND_ROBIN);
	REQUIRE(mp != NULL);
	before = thread_cpu_s("nvmf-mpath");
	CHECK(before >= 0);
	for (end = test_now_us() + 2000000; test_now_us() < end;)
		usleep(100000);
	after = thread_cpu_s("nvmf-mpath");
	fprintf(stderr, "worker CPU over 2 s idle: %.2f s\n", after - before);
	CHECK(after - before < 0.1);
	CHECK_EQ(nvmf_mpath_disconnect(mp), 0);
	test_end();
}

static void policy_spread(struct two_ports *t)
{
	struct nvmf_mpath *mp;
	uint8_t *buf = calloc(64, 4096);
	uint64_t c0, c1;
	unsigned n = 0;
	atomic_uint done = 0;

	test_begin("multipath: round-robin and queue-depth spread I/O");
	REQUIRE(buf != NULL);
	mp = connect_ports(t->p0, t->p1, NVMF_IOPOLICY_ROUND_ROBIN);
	REQUIRE(mp != NULL);
	REQUIRE(wait_ana(mp, 0, NVME_ANA_OPTIMIZED) && wait_ana(mp, 1, NVME_ANA_OPTIMIZED));
	/* Round-robin: the two optimized paths in turn. */
	c0 = path_commands(mp, 0);
	c1 = path_commands(mp, 1);
	for (int i = 0; i < 200; i++)
		CHECK_EQ(nvmf_mpath_read_sync(mp, 1, 0, buf, 4096), 0);
	CHECK_EQ(path_commands(mp, 0) - c0, 100);
	CHECK_EQ(path_commands(mp, 1) - c1, 100);
	/* Queue depth, one command at a time: the least busy is always the first. */
	CHECK_EQ(nvmf_mpath_set_iopolicy(mp, NVMF_IOPOLICY_QUEUE_DEPTH), 0);
	c0 = path_commands(mp, 0);
	c1 = path_commands(mp, 1);
	for (int i = 0; i < 100; i++)
		CHECK_EQ(nvmf_mpath_read_sync(mp, 1, 0, buf, 4096), 0);
	CHECK_EQ(path_commands(mp, 0) - c0, 100);
	CHECK_EQ(path_commands(mp, 1) - c1, 0);
	/* Queue depth, 64 at once: they balance. */
	c0 = path_commands(mp, 0);
	c1 = path_commands(mp, 1);
	for (int i = 0; i < 64; i++)
		if (nvmf_mpath_read(mp, 1, (uint64_t)i, 1, buf + (size_t)i * 4096, count_done,
				    &done) == 0)
			n++;
	CHECK_EQ(n, 64);
	CHECK(wait_done(&done, n));
	CHECK(path_commands(mp, 0) - c0 >= 16);
	CHECK(path_commands(mp, 1) - c1 >= 16);
	CHECK_EQ(nvmf_mpath_disconnect(mp), 0);
	free(buf);
	test_end();
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Write Zeroes, Deallocate and Flush over the paths: on the one usable
 * path while the other's group is inaccessible. */
static void zeroing(struct two_ports *t)
{
	const size_t len = 128 * 1024;
	struct nvmf_mpath *mp;
	uint8_t *buf = malloc(len), *in = malloc(len);
	uint64_t c0;
	uint8_t dlfeat;

	test_begin("multipath: Write Zeroes, Deallocate and Flush on the usable path");
	REQUIRE(buf != NULL && in != NULL);
	reload(t, "inaccessible", "optimized");
	mp = connect_ports(t->p0, t->p1, NVMF_IOPOLICY_ROUND_ROBIN);
	REQUIRE(mp != NULL);
	REQUIRE(wait_ana(mp, 0, NVME_ANA_INACCESSIBLE) && wait_ana(mp, 1, NVME_ANA_OPTIMIZED));
	dlfeat = nvmf_ns_identify(nvmf_ctrl_ns(nvmf_mpath_ctrl(mp, 1), 1))->dlfeat;
	c0 = path_commands(mp, 0);
	test_fill(buf, len, 7);
	CHECK_EQ(nvmf_mpath_write_sync(mp, 1, 0, buf, len, 0), 0);
	CHECK_EQ(nvmf_mpath_write_zeroes_sync(mp, 1, 0, len / 2, 0), 0);
	CHECK_EQ(nvmf_mpath_trim_sync(mp, 1, len / 2, len / 2), 0);
	CHECK_EQ(nvmf_mpath_flush_sync(mp, 1), 0);
	CHECK_EQ(nvmf_mpath_read_sync(mp, 1, 0, in, len), 0);
	CHECK(all_zero(in, len / 2));
	/* Deallocated blocks read zeroes only where DLFEAT says so. */
	if ((dlfeat & 0x7) == NVME_NS_DLFEAT_READ_ZEROES)
		CHECK(all_zero(in + len / 2, len / 2));
	CHECK_EQ(path_commands(mp, 0), c0);
	/* Bad arguments get -EINVAL, sent nowhere. */
	CHECK_EQ(nvmf_mpath_write_zeroes_sync(mp, 1, 1, 4096, 0), -EINVAL);
	CHECK_EQ(nvmf_mpath_trim_sync(mp, 1, 0, 100), -EINVAL);
	CHECK_EQ(nvmf_mpath_dsm(mp, 1, NULL, 1, NVME_DSM_ATTR_DEALLOCATE, count_done, NULL),
		 -EINVAL);
	CHECK_EQ(nvmf_mpath_disconnect(mp), 0);
	reload(t, "optimized", "optimized");
	free(buf);
	free(in);
	test_end();
}

/* Non-optimized only when no optimized path is usable; verified I/O goes
 * on while reloads make one port's group inaccessible and swap the ports. */
static void ana_failover(struct two_ports *t)
{
	struct load loads[LOAD_THREADS];
	struct nvmf_mpath *mp;
	uint8_t *buf = calloc(1, 4096);
	uint64_t c1;

	test_begin("multipath: ANA states steer I/O, reloads move it without errors");
	REQUIRE(buf != NULL);
	reload(t, "optimized", "non_optimized");
	mp = connect_ports(t->p0, t->p1, NVMF_IOPOLICY_ROUND_ROBIN);
	REQUIRE(mp != NULL);
	REQUIRE(wait_ana(mp, 0, NVME_ANA_OPTIMIZED) && wait_ana(mp, 1, NVME_ANA_NON_OPTIMIZED));
	c1 = path_commands(mp, 1);
	for (int i = 0; i < 50; i++)
		CHECK_EQ(nvmf_mpath_read_sync(mp, 1, 0, buf, 4096), 0);
	CHECK_EQ(path_commands(mp, 1), c1);
	load_start(loads, mp);
	/* Port 1's group inaccessible: the non-optimized port takes over. */
	reload(t, "inaccessible", "non_optimized");
	CHECK(wait_ana(mp, 0, NVME_ANA_INACCESSIBLE));
	CHECK(wait_path_carries(mp, 1, 200));
	/* The ports change places, twice. */
	for (int i = 0; i < 2; i++) {
		reload(t, "optimized", "inaccessible");
		CHECK(wait_ana(mp, 1, NVME_ANA_INACCESSIBLE));
		CHECK(wait_path_carries(mp, 0, 200));
		reload(t, "inaccessible", "optimized");
		CHECK(wait_ana(mp, 0, NVME_ANA_INACCESSIBLE));
		CHECK(wait_path_carries(mp, 1, 200));
	}
	/* Both in transition for a moment: held, then served. */
	reload(t, "change", "change");
	CHECK(wait_ana(mp, 1, NVME_ANA_CHANGE));
	reload(t, "optimized", "optimized");
	CHECK(wait_path_carries(mp, 0, 100));
	load_stop(loads);
	CHECK_EQ(nvmf_mpath_disconnect(mp), 0);
	free(buf);
	test_end();
}

/* Two daemons on one file, disjoint controller IDs: one killed and
 * restarted under verified I/O. */
static void ha_pair(void)
{
	struct nvmfd_proc a, b;
	struct load loads[LOAD_THREADS];
	struct nvmf_mpath *mp;
	struct nvmf_path_info ia, ib;
	char img[256];
	const char *args_a[] = {"--cntlid-range", "1-999", img, NULL};
	const char *args_b[] = {"--cntlid-range", "1000-1999", img, NULL};

	test_begin("multipath: two nvmfd on one file, one killed and restarted");
	snprintf(img, sizeof(img), "%s/ha.img,size=16M", nvmfd_dir());
	REQUIRE(nvmfd_start(&a, NQN, args_a));
	REQUIRE(nvmfd_start(&b, NQN, args_b));
	mp = connect_ports(a.port, b.port, NVMF_IOPOLICY_ROUND_ROBIN);
	REQUIRE(mp != NULL);
	CHECK_EQ(nvmf_mpath_path_info(mp, 0, 1, &ia), 0);
	CHECK_EQ(nvmf_mpath_path_info(mp, 1, 1, &ib), 0);
	CHECK(ia.cntlid >= 1 && ia.cntlid <= 999);
	CHECK(ib.cntlid >= 1000 && ib.cntlid <= 1999);
	load_start(loads, mp);
	CHECK(wait_path_carries(mp, 0, 50));
	nvmfd_stop(&a, false); /* SIGKILL */
	CHECK(wait_path_carries(mp, 1, 300));
	REQUIRE(nvmfd_restart(&a));
	/* Back: it reconnects and carries its share again. */
	CHECK(wait_ana(mp, 0, NVME_ANA_OPTIMIZED));
	CHECK(wait_path_carries(mp, 0, 100));
	load_stop(loads);
	CHECK_EQ(nvmf_mpath_disconnect(mp), 0);
	nvmfd_stop(&a, true);
	nvmfd_stop(&b, true);
	test_end();
}

int main(void)
{
	struct two_ports t;
	const char *extra[] = {"-c", t.conf, NULL};

	nvmf_log_set_level(NVMF_LOG_ERR);
	snprintf(t.conf, sizeof(t.conf), "%s/mpath.json", nvmfd_dir());
	snprintf(t.img, sizeof(t.img), "%s/mpath.img", nvmfd_dir());
	t.p0 = nvmfd_free_port();
	t.p1 = nvmfd_free_port();
	write_two_port_config(t.conf, t.p0, t.p1, t.img, "optimized", "optimized");
	REQUIRE(nvmfd_start_ports(&t.d, t.p0, nvmfd_free_port(), NULL, extra));
	idle_worker(&t);
	policy_spread(&t);
	zeroing(&t);
	ana_failover(&t);
	nvmfd_stop(&t.d, true);
	ha_pair();
	return test_summary();
}
