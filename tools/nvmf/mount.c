/* SPDX-License-Identifier: MIT */
/*
 * nvmf mount / nvmf umount: a remote controller's namespaces as files
 * MOUNTPOINT/n<NSID> through FUSE (libfuse3, low-level API).  This part is
 * the process: mount point checks, the daemon, the FUSE session, and nvmf
 * umount.  The file system is in mount_fs.c, the I/O path in mount_io.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <unistd.h>

#include "mount.h"
#include "nvmf.h"
#include "nvmf/log.h"

#define MOUNT_FUSE_THREADS 16         /* handlers mostly submit and return */
#define MOUNT_UMOUNT_WAIT_S 120       /* nvmf umount waits this long for the daemon */
#define MOUNT_MALLOC_KEEP (256u << 20) /* freed request buffers glibc keeps */
#define FSTYPE "fuse.nvmf"

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

/* Library messages once the daemon has no terminal. */
static void syslog_sink(enum nvmf_log_level level, const char *msg)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

	syslog(prio[level], "%s", msg);
}

static void fuse_log_sink(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	if (n > 0 && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	mount_log(level <= FUSE_LOG_ERR ? LOG_ERR : LOG_WARNING, "%s", msg);
}

/* ------------------------------------------------------------------ */
/* nvmf mount                                                          */
/* ------------------------------------------------------------------ */

static void check_mountpoint(struct cli *cli, char real[PATH_MAX])
{
	struct stat st;

	if (realpath(cli->mountpoint, real) == NULL) {
		if (errno == ENOENT)
			die(cli, "mount point %s does not exist", cli->mountpoint);
		die(cli, "mount point %s: %s", cli->mountpoint, strerror(errno));
	}
	if (stat(real, &st) != 0)
		die(cli, "mount point %s: %s", cli->mountpoint, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		die(cli, "mount point %s is not a directory", cli->mountpoint);
}

static void check_dev_fuse(struct cli *cli)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return;
	}
	if (errno == ENOENT)
		die(cli, "/dev/fuse does not exist: load the fuse module (modprobe fuse), or give "
			 "the container the device (--device /dev/fuse)");
	if (errno == ENODEV || errno == ENXIO)
		die(cli, "/dev/fuse has no driver behind it: load the fuse module (modprobe fuse)");
	die(cli, "cannot open /dev/fuse: %s", strerror(errno));
}

/*
 * Fork like a FUSE daemon, but keep the terminal until the mount is up:
 * the parent exits 0 when the child reports success on the pipe, or with
 * the child's status (whose one-line error is already printed) otherwise.
 * Before connecting, because the controller's threads would not survive.
 */
static int daemonize_start(struct cli *cli)
{
	int fds[2], status;
	pid_t pid;
	ssize_t n;
	char c;

	if (pipe2(fds, O_CLOEXEC) != 0)
		die(cli, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die(cli, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		setsid();
		return fds[1];
	}
	close(fds[1]);
	do
		n = read(fds[0], &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		exit(0);
	if (waitpid(pid, &status, 0) < 0)
		die(cli, "waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status))
		die(cli, "the mount process died of signal %d", WTERMSIG(status));
	exit(WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : EXIT_FAIL);
}

/* The mount is up: leave the terminal, log to syslog, release the parent. */
static void daemonize_finish(int notify_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	openlog("nvmf-mount", LOG_PID, LOG_DAEMON);
	mount_log_to_syslog();
	nvmf_log_set_sink(syslog_sink);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	if (chdir("/") != 0)
		mount_log(LOG_WARNING, "chdir /: %s", strerror(errno));
	if (write(notify_fd, "", 1) != 1)
		mount_log(LOG_WARNING, "telling the parent: %s", strerror(errno));
	close(notify_fd);
}

/* fsname for mountinfo: the target's URI, commas and backslashes escaped for -o. */
static void fsname_option(const struct mount *m, char *out, size_t len)
{
	char uri[1024];
	size_t o = 0;

	snprintf(uri, sizeof(uri), "nvme+tcp://%s:%s/%s", nvmf_ctrl_traddr(m->ctrl),
		 nvmf_ctrl_trsvcid(m->ctrl), nvmf_ctrl_subnqn(m->ctrl));
	o += (size_t)snprintf(out, len, "fsname=");
	for (const char *p = uri; *p != '\0' && o + 3 < len; p++) {
		if (*p == ',' || *p == '\\')
			out[o++] = '\\';
		out[o++] = *p;
	}
	snprintf(out + o, len - o, ",subtype=nvmf,max_read=%u", MOUNT_MAX_IO);
}

static void mount_setup(struct mount *m)
{
	pthread_condattr_t attr;

	m->nq = nvmf_ctrl_nr_io_queues(m->ctrl);
	m->depth = nvmf_ctrl_queue_depth(m->ctrl);
	if (m->nq == 0 || m->depth == 0)
		die(m->cli, "%s has no I/O queues", nvmf_ctrl_subnqn(m->ctrl));
	if (m->mp != NULL) {
		/* The library picks the queue: count one path's slots, all the
		 * one path left after a failure can take without refusing. */
		m->depth *= m->nq;
		m->nq = 1;
	}
	m->inflight = calloc(m->nq, sizeof(*m->inflight));
	if (m->inflight == NULL || sem_init(&m->permits, 0, m->nq * m->depth) != 0)
		die(m->cli, "out of memory");
	pthread_mutex_init(&m->ns_lock, NULL);
	pthread_mutex_init(&m->watch_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&m->watch_cond, &attr);
	pthread_condattr_destroy(&attr);
	/*
	 * Request buffers (up to 1 MiB, freed on the transport's threads) must
	 * come from the heap and stay there: mmap()ed or trimmed, every one
	 * would fault in and be zeroed again (a third of the CPU at 128 KiB).
	 */
	mallopt(M_MMAP_THRESHOLD, 2 * MOUNT_MAX_IO);
	mallopt(M_TRIM_THRESHOLD, MOUNT_MALLOC_KEEP);
	m->uid = getuid();
	m->gid = getgid();
	clock_gettime(CLOCK_REALTIME, &m->mount_time);
}

static struct fuse_session *session_create(struct mount *m)
{
	char opts[1400];
	char *argv[] = {"nvmf", "-o", opts, NULL, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse_session *se;

	fsname_option(m, opts, sizeof(opts));
	if (m->cli->verbose > 2)
		argv[args.argc++] = "-d";
	se = fuse_session_new(&args, &mount_fs_ops, sizeof(mount_fs_ops), m);
	fuse_opt_free_args(&args);
	return se;
}

/* Wait until no request is in flight, up to ms; false on timeout. */
static bool wait_ios(struct mount *m, unsigned ms)
{
	for (unsigned waited = 0; atomic_load(&m->ios) != 0; waited += 10) {
		if (waited >= ms)
			return false;
		usleep(10000);
	}
	return true;
}

/* Unmounted: flush what the namespaces hold, disconnect, free. */
static int mount_teardown(struct mount *m)
{
	char why[128];
	int ret;

	pthread_mutex_lock(&m->watch_lock);
	m->watch_stop = true;
	pthread_cond_signal(&m->watch_cond);
	pthread_mutex_unlock(&m->watch_lock);
	pthread_join(m->watcher, NULL);
	fuse_session_unmount(m->se);
	if (mount_live(m)) {
		if (!wait_ios(m, m->cli->opts.io_timeout_ms != 0 ? m->cli->opts.io_timeout_ms : 30000))
			mount_log(LOG_WARNING, "requests still in flight at unmount");
		for (size_t i = 0; i < m->nfiles; i++) {
			if (!atomic_load(&m->files[i]->active))
				continue;
			ret = mount_flush_sync(m, m->files[i]);
			if (ret != 0)
				mount_log(LOG_ERR, "n%u: Flush at unmount failed: %s", m->files[i]->nsid,
					  result_str(ret, why, sizeof(why)));
		}
	}
	ret = m->mp != NULL ? nvmf_mpath_disconnect(m->mp) : nvmf_disconnect(m->ctrl);
	if (ret != 0)
		mount_log(LOG_WARNING, "disconnect was not clean: %s", strerror(-ret));
	/* Every command has completed now, so every request has been answered. */
	wait_ios(m, 1000);
	fuse_session_destroy(m->se);
	for (size_t i = 0; i < m->nfiles; i++) {
		pthread_cond_destroy(&m->files[i]->cond);
		pthread_mutex_destroy(&m->files[i]->lock);
		free(m->files[i]);
	}
	free(m->files);
	free(m->inflight);
	sem_destroy(&m->permits);
	pthread_cond_destroy(&m->watch_cond);
	pthread_mutex_destroy(&m->watch_lock);
	pthread_mutex_destroy(&m->ns_lock);
	return ret == 0 ? 0 : EXIT_FAIL;
}

/*
 * Become the daemon.  Engine threads made while parsing would stay with the
 * parent, so the child makes the engine again.  The fd that releases the parent.
 */
static int daemonize_with_engine(struct cli *cli)
{
	int notify_fd;

	if (cli->engine != NULL) {
		nvmf_engine_destroy(cli->engine);
		cli->engine = NULL;
	}
	notify_fd = daemonize_start(cli);
	if (cli->engine_spec != NULL) {
		struct nvmf_engine_params params;

		nvmf_engine_parse(cli->engine_spec, &params);
		cli->engine = cli->opts.engine = nvmf_engine_create(&params);
		if (cli->engine == NULL)
			die(cli, "cannot create engine %s: %s", cli->engine_spec, strerror(errno));
	}
	return notify_fd;
}

/* Mount on m->mountpoint, start the watcher and the handlers of the quit signals. */
static void session_mount(struct mount *m)
{
	int ret;

	m->se = session_create(m);
	if (m->se == NULL)
		die(m->cli, "cannot create the FUSE session");
	if (fuse_session_mount(m->se, m->mountpoint) != 0)
		die(m->cli, "cannot mount on %s (see above)", m->mountpoint);
	ret = pthread_create(&m->watcher, NULL, mount_fs_watcher, m);
	if (ret != 0) {
		fuse_session_unmount(m->se);
		die(m->cli, "cannot start a thread: %s", strerror(ret));
	}
	if (fuse_set_signal_handlers(m->se) != 0) {
		fuse_session_unmount(m->se);
		die(m->cli, "cannot install signal handlers");
	}
}

/* Answer the kernel until unmounted. */
static void session_serve(struct mount *m)
{
	struct fuse_loop_config *loop = fuse_loop_cfg_create();
	int ret;

	fuse_loop_cfg_set_max_threads(loop, MOUNT_FUSE_THREADS);
	fuse_loop_cfg_set_idle_threads(loop, MOUNT_FUSE_THREADS);
	fuse_loop_cfg_set_clone_fd(loop, 1);
	ret = fuse_session_loop_mt(m->se, loop);
	fuse_loop_cfg_destroy(loop);
	if (ret < 0)
		mount_log(LOG_ERR, "FUSE loop: %s", strerror(-ret));
	fuse_remove_signal_handlers(m->se);
}

int cmd_mount(struct cli *cli)
{
	struct mount m = {.cli = cli, .daemon = !cli->foreground};
	char mountpoint[PATH_MAX];
	sigset_t quit, old;
	int notify_fd = -1, ret;
	size_t active = 0;

	check_mountpoint(cli, mountpoint);
	check_dev_fuse(cli);
	if (cli->opts.subnqn == NULL)
		die(cli, "a subsystem NQN is required (-n NQN or nvme+tcp://ADDR/NQN)");
	fuse_set_log_func(fuse_log_sink);
	if (m.daemon)
		notify_fd = daemonize_with_engine(cli);
	/* Only the FUSE loop's threads take the signals that unmount. */
	sigemptyset(&quit);
	sigaddset(&quit, SIGINT);
	sigaddset(&quit, SIGTERM);
	sigaddset(&quit, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &quit, &old);
	cli->opts.aen_cb = mount_fs_on_aen;
	cli->opts.aen_arg = &m;
	m.mountpoint = mountpoint;
	if (cli_npaths(cli) > 1 || cli->all_paths) {
		m.mp = cli_mpath_connect(cli);
		for (unsigned i = 0; m.ctrl == NULL && i < nvmf_mpath_npaths(m.mp); i++)
			m.ctrl = nvmf_mpath_ctrl(m.mp, i);
	} else {
		m.ctrl = cli_connect(cli);
	}
	mount_setup(&m);
	mount_fs_sync_namespaces(&m, false);
	session_mount(&m);
	for (size_t i = 0; i < m.nfiles; i++)
		active += atomic_load(&m.files[i]->active);
	if (m.daemon)
		daemonize_finish(notify_fd);
	else
		mount_log(LOG_INFO, "%s: %zu namespace%s of %s, %u path%s, %u I/O queues of %u",
			  mountpoint, active, active == 1 ? "" : "s", nvmf_ctrl_subnqn(m.ctrl),
			  m.mp != NULL ? nvmf_mpath_npaths(m.mp) : 1,
			  m.mp != NULL && nvmf_mpath_npaths(m.mp) > 1 ? "s" : "", m.nq, m.depth);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	session_serve(&m);
	ret = mount_teardown(&m);
	if (!m.daemon && cli->verbose > 0)
		mount_log(LOG_INFO, "%s: unmounted and disconnected", mountpoint);
	return ret;
}

/* ------------------------------------------------------------------ */
/* nvmf umount                                                         */
/* ------------------------------------------------------------------ */

/* mountinfo escapes blanks and backslashes as \ooo. */
static void unescape_octal(char *s)
{
	char *out = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* The file system type of the topmost mount at path, in fstype; false if none. */
static bool mount_fstype(const char *path, char *fstype, size_t len)
{
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (fp == NULL)
		return false;
	while (getline(&line, &cap, fp) > 0) {
		char *save = NULL, *tok, *dir = NULL, *sep;
		int field = 0;

		for (tok = strtok_r(line, " ", &save); tok != NULL && field < 4;
		     tok = strtok_r(NULL, " ", &save))
			field++;
		dir = tok;
		sep = dir != NULL ? strstr(save, " - ") : NULL;
		if (sep == NULL)
			continue;
		unescape_octal(dir);
		if (strcmp(dir, path) != 0)
			continue;
		tok = strtok_r(sep + 3, " ", &save);
		snprintf(fstype, len, "%s", tok != NULL ? tok : "");
		found = true; /* keep going: the last match is the topmost mount */
	}
	free(line);
	fclose(fp);
	return found;
}

static int run_fusermount(const char *path)
{
	char *argv[] = {"fusermount3", "-u", (char *)path, NULL};
	extern char **environ;
	pid_t pid;
	int status;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int cmd_umount(struct cli *cli)
{
	char path[PATH_MAX], fstype[64], pid_text[24];
	ssize_t n;
	pid_t pid = 0;
	int pidfd = -1;

	if (realpath(cli->mountpoint, path) == NULL) {
		/* A mount whose daemon died answers ENOTCONN: unmount it all the same. */
		if (errno != ENOTCONN)
			die(cli, "%s: %s", cli->mountpoint, strerror(errno));
		if (cli->mountpoint[0] == '/')
			snprintf(path, sizeof(path), "%s", cli->mountpoint);
		else if (getcwd(path, sizeof(path)) == NULL ||
			 strlen(path) + 1 + strlen(cli->mountpoint) >= sizeof(path))
			die(cli, "%s: path too long", cli->mountpoint);
		else
			strcat(strcat(path, "/"), cli->mountpoint);
	}
	if (!mount_fstype(path, fstype, sizeof(fstype)) || strcmp(fstype, FSTYPE) != 0)
		die(cli, "%s is not an nvmf mount", cli->mountpoint);
	n = getxattr(path, PID_XATTR, pid_text, sizeof(pid_text) - 1);
	if (n > 0) {
		pid_text[n] = '\0';
		pid = (pid_t)strtol(pid_text, NULL, 10);
		pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	}
	if (umount2(path, 0) != 0) {
		if (errno == EBUSY)
			die(cli, "%s is busy: a file on it is open (or attached to a loop device)",
			    cli->mountpoint);
		if (errno != EPERM)
			die(cli, "cannot unmount %s: %s", cli->mountpoint, strerror(errno));
		if (run_fusermount(path) != 0)
			die(cli, "fusermount3 -u %s failed", path);
	}
	if (pidfd >= 0) {
		struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
		int ready;

		do
			ready = poll(&pfd, 1, MOUNT_UMOUNT_WAIT_S * 1000);
		while (ready < 0 && errno == EINTR);
		close(pidfd);
		if (ready == 0)
			die(cli, "unmounted %s, but its process (pid %ld) is still flushing and "
				 "disconnecting after %d s", cli->mountpoint, (long)pid,
			    MOUNT_UMOUNT_WAIT_S);
	}
	return 0;
}
