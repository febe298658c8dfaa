/* SPDX-License-Identifier: MIT */
#include "host/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

int test_enter_netns(char *why, size_t len)
{
	struct ifreq ifr;
	int fd, first;

	if (unshare(CLONE_NEWNET) != 0) {
		uid_t uid = geteuid();
		gid_t gid = getegid();
		char map[64];

		first = errno;
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
			snprintf(why, len, "cannot make a network namespace: unshare(CLONE_NEWNET): "
				 "%s (needs root); in a user namespace: %s", strerror(first),
				 strerror(errno));
			return -1;
		}
		snprintf(map, sizeof(map), "%u %u 1", (unsigned)uid, (unsigned)uid);
		if (write_text("/proc/self/uid_map", map) != 0 ||
		    write_text("/proc/self/setgroups", "deny") != 0 ||
		    (snprintf(map, sizeof(map), "%u %u 1", (unsigned)gid, (unsigned)gid),
		     write_text("/proc/self/gid_map", map)) != 0) {
			snprintf(why, len, "user namespace id maps: %s", strerror(errno));
			return -1;
		}
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, len, "socket: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr)) != 0) {
		snprintf(why, len, "bringing lo up: %s", strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}
