/* SPDX-License-Identifier: MIT */
/*
 * The FUSE ceiling: a file system with one file, n1, whose reads answer
 * zeroes and whose writes are dropped, at once, from the FUSE thread that
 * received them.  Set up as `nvmf mount` sets up its session (the same
 * kernel options, direct I/O, 16 cloned-fd threads), so fio on it measures
 * what the kernel's FUSE round trip alone costs on this machine: the most
 * any FUSE path, `nvmf mount` included, can reach.  bench/run.py --suite
 * fuse runs it beside the mount.
 *
 * usage: fuse_ceiling MOUNTPOINT [SIZE_MIB]   (foreground; fusermount3 -u to end)
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_IO (1u << 20) /* nvmf mount's max_read and max_write */
#define THREADS 16        /* nvmf mount's FUSE threads */
#define FILE_INO 2

static uint64_t file_size;
static char zeroes[MAX_IO]; /* never written: in .bss, not the file */

static void file_stat(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_size = (off_t)file_size;
	}
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->max_write = MAX_IO;
	conn->max_read = MAX_IO;
	conn->max_readahead = 0;
	conn->max_background = 4096;
	conn->congestion_threshold = 3072;
	conn->want |= conn->capable & FUSE_CAP_ASYNC_DIO;
	conn->want &= ~(unsigned)(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_SPLICE_READ |
				  FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = {.ino = FILE_INO, .attr_timeout = 3600, .entry_timeout = 3600};

	if (parent != FUSE_ROOT_ID || strcmp(name, "n1") != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	file_stat(FILE_INO, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino != FUSE_ROOT_ID && ino != FILE_INO) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	file_stat(ino, &st);
	fuse_reply_attr(req, &st, 3600);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != FILE_INO) {
		fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR : ENOENT);
		return;
	}
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	if (off < 0 || (uint64_t)off >= file_size)
		size = 0;
	else if (size > file_size - (uint64_t)off)
		size = file_size - (uint64_t)off;
	fuse_reply_buf(req, zeroes, size < MAX_IO ? size : MAX_IO);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)ino;
	(void)buf;
	(void)off;
	(void)fi;
	fuse_reply_write(req, size);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.open = op_open,
	.read = op_read,
	.write = op_write,
};

int main(int argc, char **argv)
{
	char *fargv[] = {argv[0], "-o", "fsname=fuse_ceiling,max_read=1048576", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_loop_config *loop;
	struct fuse_session *se;
	int ret;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s MOUNTPOINT [SIZE_MIB]\n", argv[0]);
		return 2;
	}
	file_size = (argc == 3 ? strtoull(argv[2], NULL, 10) : 256) << 20;
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (se == NULL || fuse_session_mount(se, argv[1]) != 0) {
		fprintf(stderr, "%s: cannot mount on %s\n", argv[0], argv[1]);
		return 1;
	}
	fuse_set_signal_handlers(se);
	loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(loop, THREADS);
	fuse_loop_cfg_set_idle_threads(loop, THREADS);
	fuse_loop_cfg_set_clone_fd(loop, 1);
	ret = fuse_session_loop_mt(se, loop);
	fuse_loop_cfg_destroy(loop);
	fuse_remove_signal_handlers(se);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return ret < 0 ? 1 : 0;
}
