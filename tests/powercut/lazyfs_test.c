/* SPDX-License-Identifier: MIT */
/*
 * lazyfs's own test, before robustness_powercut trusts it:
 *
 * - what it promises: reads see unsynced writes; close does not make them
 *   durable, fsync and fdatasync do; a power cut drops exactly the unsynced
 *   bytes, also from the kernel's page cache (a descriptor open across the
 *   cut reads the old data);
 * - what the kernel delivers: pwritev2(RWF_DSYNC) and O_DSYNC writes
 *   (nvmfd's FUA) on a FUSE file, with the kernel's page cache (the mode
 *   the power-cut test uses) and with FOPEN_DIRECT_IO (as `nvmf mount`);
 * - the overlay against a model: random overlapping writes, RWF_DSYNC
 *   writes, punched holes, zeroed ranges, syncs, truncations, reopenings and
 *   cuts, the file read through the mount and the backing file read
 *   directly after each, against what each should hold (seed printed;
 *   NVMF_SEED repeats it).
 *
 * Exits 77 when FUSE cannot mount here.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "powercut/lazyfs_ctl.h"
#include "robustness/daemon.h"
#include "util/test_util.h"

#define FILE_BYTES (256 * 1024)
#define MODEL_OPS 400
#define MAX_OP_BYTES 20000

static uint8_t disk[FILE_BYTES];  /* the model: what a power cut leaves */
static uint8_t cache[FILE_BYTES]; /* ... and what reads see */
static uint8_t got[FILE_BYTES] __attribute__((aligned(4096))); /* O_DIRECT */

static void path_in(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static int open_file(const struct lazyfs *l, const char *name, int flags)
{
	char path[512];
	int fd;

	path_in(path, sizeof(path), l->mnt, name);
	fd = open(path, O_RDWR | flags, 0600);
	REQUIRE(fd >= 0);
	return fd;
}

static void read_all(int fd, void *buf, size_t len)
{
	REQUIRE(pread(fd, buf, len, 0) == (ssize_t)len);
}

/* Whether len bytes at off hold seed's pattern (seed 0: zeroes). */
static bool pattern_at(int fd, off_t off, size_t len, uint32_t seed)
{
	uint8_t buf[8192], want[8192] = {0};

	REQUIRE(len <= sizeof(buf) && pread(fd, buf, len, off) == (ssize_t)len);
	if (seed != 0)
		test_fill(want, len, seed);
	return memcmp(buf, want, len) == 0;
}

static void put(int fd, off_t off, size_t len, uint32_t seed, int rwf)
{
	uint8_t buf[8192];
	struct iovec iov = {.iov_base = buf, .iov_len = len};

	REQUIRE(len <= sizeof(buf));
	test_fill(buf, len, seed);
	REQUIRE(pwritev2(fd, &iov, 1, off, rwf) == (ssize_t)len);
}

/* What lazyfs promises, in the mode the power-cut test uses. */
static void test_promises(const struct lazyfs *l)
{
	struct lazyfs_stats s0, s1;
	struct stat st;
	char path[512];
	int fd, old;

	test_begin("lazyfs: unsynced writes are read, survive close, die in a cut; fsync keeps");
	fd = open_file(l, "basic", O_CREAT | O_EXCL);
	REQUIRE(ftruncate(fd, 1 << 20) == 0);
	put(fd, 0, 4096, 1, 0);
	CHECK(pattern_at(fd, 0, 4096, 1));
	REQUIRE(close(fd) == 0); /* flush + release: no sync */
	fd = open_file(l, "basic", 0);
	CHECK(pattern_at(fd, 0, 4096, 1));
	old = open_file(l, "basic", 0);
	CHECK(pattern_at(old, 0, 4096, 1)); /* in the kernel's cache now */
	lazyfs_stats(l, &s0);
	CHECK_EQ(s0.unsynced_bytes, 4096);
	lazyfs_cut(l);
	lazyfs_stats(l, &s1);
	CHECK_EQ(s1.cuts, s0.cuts + 1);
	CHECK_EQ(s1.dropped_bytes - s0.dropped_bytes, 4096);
	CHECK_EQ(s1.unsynced_bytes, 0);
	CHECK(pattern_at(fd, 0, 4096, 0));
	CHECK(pattern_at(old, 0, 4096, 0)); /* the cached page went too */
	/* Synced writes stay; the one after the last sync goes. */
	put(fd, 8192, 4096, 2, 0);
	REQUIRE(fdatasync(fd) == 0);
	put(fd, 16384, 4096, 3, 0);
	REQUIRE(fsync(fd) == 0);
	put(fd, 24576, 4096, 4, 0);
	lazyfs_cut(l);
	CHECK(pattern_at(fd, 8192, 4096, 2));
	CHECK(pattern_at(fd, 16384, 4096, 3));
	CHECK(pattern_at(old, 24576, 4096, 0));
	/* truncate(2) by name, nobody's descriptor: a size, at once. */
	path_in(path, sizeof(path), l->mnt, "basic");
	REQUIRE(truncate(path, 8192) == 0);
	CHECK(fstat(fd, &st) == 0 && st.st_size == 8192);
	close(old);
	close(fd);
	test_end();
}

/*
 * nvmfd's FUA write is pwritev2(RWF_DSYNC); does lazyfs hear of it as a
 * sync?  Also the same through an O_DSYNC descriptor.  Prints what came.
 */
static void probe_dsync(const struct lazyfs *l, bool direct_io)
{
	const char *mode = direct_io ? "FOPEN_DIRECT_IO" : "page cache";
	struct lazyfs_stats s0, s1, s2;
	int fd = open_file(l, "dsync", O_CREAT), dfd;
	bool kept, kept_odsync;

	test_begin(direct_io ? "RWF_DSYNC with FOPEN_DIRECT_IO: what lazyfs receives"
			     : "RWF_DSYNC with the page cache: lazyfs receives an fdatasync");
	REQUIRE(ftruncate(fd, 1 << 20) == 0);
	REQUIRE(fsync(fd) == 0);
	lazyfs_stats(l, &s0);
	put(fd, 0, 8192, 11, RWF_DSYNC);
	lazyfs_stats(l, &s1);
	dfd = open_file(l, "dsync", O_DSYNC);
	put(dfd, 8192, 8192, 12, 0);
	close(dfd);
	lazyfs_stats(l, &s2);
	lazyfs_cut(l);
	kept = pattern_at(fd, 0, 8192, 11);
	kept_odsync = pattern_at(fd, 8192, 8192, 12);
	fprintf(stderr, "%s: pwritev2(RWF_DSYNC) reached lazyfs as %llu write (%llu flagged O_DSYNC) "
	       "followed by %llu fdatasync and %llu fsync; it %s the power cut.  "
	       "A write on an O_DSYNC descriptor: %llu fdatasync, %s the cut\n",
	       mode, (unsigned long long)(s1.writes - s0.writes),
	       (unsigned long long)(s1.dsync_writes - s0.dsync_writes),
	       (unsigned long long)(s1.fdatasyncs - s0.fdatasyncs),
	       (unsigned long long)(s1.fsyncs - s0.fsyncs), kept ? "survived" : "did NOT survive",
	       (unsigned long long)(s2.fdatasyncs - s1.fdatasyncs),
	       kept_odsync ? "survived" : "did NOT survive");
	/* The flag always arrives; a FUSE file system with direct I/O has only that. */
	CHECK_EQ(s1.dsync_writes - s0.dsync_writes, 1);
	if (!direct_io) {
		/* Page cache: the kernel's generic_write_sync sends FUSE_FSYNC (datasync). */
		CHECK_EQ(s1.fdatasyncs - s0.fdatasyncs, 1);
		CHECK(kept);
		CHECK(kept_odsync);
	}
	close(fd);
	test_end();
}

/* Punched holes and zeroed ranges are held like writes until a sync. */
static void test_fallocate(const struct lazyfs *l)
{
	int fd = open_file(l, "falloc", O_CREAT | O_EXCL);
	int zr;

	test_begin("lazyfs: PUNCH_HOLE and ZERO_RANGE are lazy too");
	REQUIRE(ftruncate(fd, 1 << 20) == 0);
	put(fd, 0, 8192, 21, 0);
	put(fd, 8192, 8192, 22, 0);
	REQUIRE(fdatasync(fd) == 0);
	REQUIRE(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 8192) == 0);
	zr = fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 8192, 8192);
	CHECK(zr == 0 || errno == EOPNOTSUPP); /* nvmfd writes zeroes on EOPNOTSUPP */
	if (zr != 0)
		fprintf(stderr, "the kernel does not pass ZERO_RANGE to FUSE: %s\n", strerror(errno));
	CHECK(pattern_at(fd, 0, 8192, 0));
	CHECK(pattern_at(fd, 8192, 8192, zr == 0 ? 0 : 22));
	lazyfs_cut(l);
	CHECK(pattern_at(fd, 0, 8192, 21));
	CHECK(pattern_at(fd, 8192, 8192, 22));
	REQUIRE(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 8192) == 0);
	REQUIRE(fdatasync(fd) == 0);
	lazyfs_cut(l);
	CHECK(pattern_at(fd, 0, 8192, 0));
	close(fd);
	test_end();
}

/* One random operation on the file and on the model; its name. */
static const char *model_op(const struct lazyfs *l, int *fd, unsigned *rng)
{
	uint32_t r = (uint32_t)rand_r(rng) % 100;
	uint64_t off = (uint32_t)rand_r(rng) % FILE_BYTES;
	uint64_t len = 1 + (uint32_t)rand_r(rng) % (FILE_BYTES - off < MAX_OP_BYTES ? FILE_BYTES - off
									  : MAX_OP_BYTES);
	uint8_t buf[MAX_OP_BYTES];

	if (r < 45 || (r >= 90 && r < 93)) {
		struct iovec iov = {.iov_base = buf, .iov_len = len};
		bool dsync = r >= 90;

		test_fill(buf, len, (uint32_t)rand_r(rng));
		REQUIRE(pwritev2(*fd, &iov, 1, (off_t)off, dsync ? RWF_DSYNC : 0) == (ssize_t)len);
		memcpy(cache + off, buf, len);
		if (dsync)
			memcpy(disk, cache, FILE_BYTES);
		return dsync ? "RWF_DSYNC write" : "write";
	}
	if (r < 55 || (r >= 93 && r < 96)) {
		int mode = r < 55 ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
				  : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;

		if (fallocate(*fd, mode, (off_t)off, (off_t)len) != 0) {
			REQUIRE(errno == EOPNOTSUPP && mode != (FALLOC_FL_PUNCH_HOLE |
								FALLOC_FL_KEEP_SIZE));
			return "zero range (refused)";
		}
		memset(cache + off, 0, len);
		return r < 55 ? "punch hole" : "zero range";
	}
	if (r < 65) {
		REQUIRE((r % 2 ? fsync(*fd) : fdatasync(*fd)) == 0);
		memcpy(disk, cache, FILE_BYTES);
		return "fsync";
	}
	if (r < 75) {
		REQUIRE(close(*fd) == 0);
		*fd = open_file(l, "model", 0);
		return "close and open";
	}
	if (r < 85) {
		lazyfs_cut(l);
		memcpy(cache, disk, FILE_BYTES);
		return "power cut";
	}
	/* Sizes are metadata, durable at once: what lies past the cut is gone. */
	REQUIRE(ftruncate(*fd, (off_t)off) == 0 && ftruncate(*fd, FILE_BYTES) == 0);
	memset(cache + off, 0, FILE_BYTES - off);
	memset(disk + off, 0, FILE_BYTES - off);
	return "truncate and extend";
}

/*
 * The file is read three ways after each operation: through the kernel's
 * page cache, with O_DIRECT (every byte from lazyfs's overlay and backing
 * file), and the backing file itself.
 */
static void test_model(const struct lazyfs *l, uint32_t seed)
{
	char backing[512];
	unsigned rng = seed;
	int fd = open_file(l, "model", O_CREAT | O_EXCL), dfd, bfd;
	unsigned bad = 0;

	test_begin("lazyfs against a model: writes, holes, syncs, truncations, cuts");
	path_in(backing, sizeof(backing), l->backing, "model");
	REQUIRE(ftruncate(fd, FILE_BYTES) == 0);
	bfd = open(backing, O_RDONLY);
	dfd = open_file(l, "model", O_DIRECT);
	REQUIRE(bfd >= 0);
	for (unsigned i = 0; i < MODEL_OPS && bad == 0; i++) {
		const char *what = model_op(l, &fd, &rng);

		read_all(fd, got, FILE_BYTES);
		if (memcmp(got, cache, FILE_BYTES) != 0) {
			fprintf(stderr, "op %u (%s): the mount does not read as the model\n", i, what);
			bad++;
		}
		read_all(dfd, got, FILE_BYTES);
		if (memcmp(got, cache, FILE_BYTES) != 0) {
			fprintf(stderr, "op %u (%s): O_DIRECT does not read as the model\n", i, what);
			bad++;
		}
		read_all(bfd, got, FILE_BYTES);
		if (memcmp(got, disk, FILE_BYTES) != 0) {
			fprintf(stderr, "op %u (%s): the backing file is not the model's disk\n", i,
				what);
			bad++;
		}
		/* lazyfs's count of bytes held, after what leaves none. */
		if (memcmp(cache, disk, FILE_BYTES) == 0 && strcmp(what, "write") != 0 &&
		    strcmp(what, "punch hole") != 0 && strcmp(what, "zero range") != 0) {
			struct lazyfs_stats s;

			lazyfs_stats(l, &s);
			if (s.unsynced_bytes != 0) {
				fprintf(stderr, "op %u (%s): %llu unsynced bytes counted, none held\n",
					i, what, (unsigned long long)s.unsynced_bytes);
				bad++;
			}
		}
	}
	CHECK_EQ(bad, 0);
	close(bfd);
	close(dfd);
	close(fd);
	test_end();
}

/* An unlinked file stays readable through its descriptor; the directory forgets it. */
static void test_unlink(const struct lazyfs *l)
{
	char path[512];
	struct lazyfs_stats s;
	int fd = open_file(l, "gone", O_CREAT | O_EXCL);

	test_begin("lazyfs: unlink of an open file");
	path_in(path, sizeof(path), l->mnt, "gone");
	REQUIRE(ftruncate(fd, 8192) == 0);
	put(fd, 0, 8192, 31, 0);
	REQUIRE(unlink(path) == 0);
	CHECK(access(path, F_OK) != 0);
	CHECK(pattern_at(fd, 0, 8192, 31));
	close(fd);
	lazyfs_cut(l);
	lazyfs_stats(l, &s);
	CHECK_EQ(s.unsynced_bytes, 0);
	test_end();
}

int main(void)
{
	const char *env = getenv("NVMF_SEED");
	uint32_t seed = env != NULL ? (uint32_t)strtoul(env, NULL, 0) : (uint32_t)test_now_us();
	static struct lazyfs l, ldio; /* static: the exit handler may unmount them */
	int status;

	signal(SIGPIPE, SIG_IGN);
	if (lazyfs_mount(&l, rob_dir(), "lazy", false) == LAZYFS_SKIP)
		return LAZYFS_SKIP;
	fprintf(stderr, "seed %#x (NVMF_SEED=%#x repeats the model's operations)\n", seed, seed);
	test_promises(&l);
	probe_dsync(&l, false);
	test_fallocate(&l);
	test_model(&l, seed);
	test_unlink(&l);
	status = lazyfs_unmount(&l);
	CHECK_EQ(status, 0);
	REQUIRE(lazyfs_mount(&ldio, rob_dir(), "lazy-direct", true) == 0);
	probe_dsync(&ldio, true);
	status = lazyfs_unmount(&ldio);
	CHECK_EQ(status, 0);
	return test_summary();
}
