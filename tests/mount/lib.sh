# SPDX-License-Identifier: MIT
# Shared by the nvmf mount tests (sourced): a scratch directory, nvmfd, the
# relay that logs commands on the wire, mounts, and a trap that removes every
# mount, loop device and process a test made, even when it fails.
# A test that cannot run here (not root, no /dev/fuse, a tool missing) skips
# (77) and says why: it never passes without having run.
set -u

BUILD=${1:?usage: $0 BUILD_DIR}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../util/nvmfd_ready.sh"
NVMF=$BUILD/nvmf
NVMFD=$BUILD/nvmfd
NQN=nqn.2024-01.io.example:mount
DIR=$(mktemp -d /tmp/nvmf-mount-test.XXXXXX)
PIDS=()        # processes to kill at exit
MOUNTS=()      # mount points to take down at exit, innermost last
LOOPS=()       # loop devices to detach at exit
FAILURES=0
# Sanitizer reports (ASan build) go to files: the daemonized mount has no
# stderr.  The exit trap fails the test on any, once every mount is down.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$DIR/sanitizer"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$DIR/sanitizer:print_stacktrace=1"

fail() { echo "FAIL: $*" >&2; FAILURES=$((FAILURES + 1)); }
pass() { echo "ok: $*"; }
# A reason the test cannot go on.
fatal() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }

is_mounted() {
	awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# The pid of the process serving an nvmf mount (it answers an xattr).
mount_pid() {
	python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "user.nvmf.pid").decode())' \
		"$1" 2>/dev/null
}

# A process that runs.  A zombie (Z: a daemon orphaned to a PID 1 that does
# not reap stays one) and a process being reaped (X, for the instant between
# its parent's wait and /proc/PID going away) count as gone: taking X for
# alive made a mount that had ended look as if it outlived SIGTERM.
alive() {
	local stat state
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	state=${stat##*) }
	state=${state%% *}
	case $state in
	Z | X | x | "") return 1 ;;
	*) return 0 ;;
	esac
}

# Wait up to SECONDS for a pid to exit; false if it is still there.
wait_gone() {
	local pid=$1 tenths=$(($2 * 10))
	while [ "$tenths" -gt 0 ] && alive "$pid"; do
		sleep 0.1
		tenths=$((tenths - 1))
	done
	! alive "$pid"
}

cleanup() {
	local status=$? i m pid report
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		m=${MOUNTS[i]}
		is_mounted "$m" || continue
		pid=$(mount_pid "$m")
		if [ -n "$pid" ]; then
			timeout 20 "$NVMF" umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
			wait_gone "$pid" 5 || kill -9 "$pid" 2>/dev/null
		else
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		fi
	done
	for m in "${LOOPS[@]}"; do losetup -d "$m" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
	wait 2>/dev/null
	# Leftover mounts would make rm -rf reach into them.
	for m in "${MOUNTS[@]}"; do is_mounted "$m" && umount -l "$m" 2>/dev/null; done
	for report in "$DIR"/sanitizer.*; do
		[ -e "$report" ] || continue
		echo "FAIL: sanitizer report $(basename "$report"):" >&2
		head -60 "$report" >&2
		status=1
	done
	rm -rf --one-file-system "$DIR"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# require CMD...: root, /dev/fuse and these commands, or skip saying why.
require() {
	local cmd
	[ "$(id -u)" = 0 ] || skip "the mount tests need root (FUSE mounts, loop devices, mount)"
	[ -c /dev/fuse ] || skip "/dev/fuse is missing: FUSE cannot mount here (modprobe fuse)"
	for cmd in python3 fusermount3 "$@"; do
		command -v "$cmd" >/dev/null ||
			skip "$cmd is not installed (scripts/install-deps.sh installs it)"
	done
	[ -x "$NVMF" ] && [ -x "$NVMFD" ] || fatal "build nvmf and nvmfd first ($BUILD)"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_nvmfd NAME ARGS...: start nvmfd (no discovery port), wait for "ready";
# pid in NVMFD_PID, log in $DIR/NAME.log.  A restart under the same NAME
# appends to the log, so it waits for one more "ready" than the log held.
start_nvmfd() {
	local name=$1 log=$DIR/$1.log before
	shift
	before=$(nvmfd_ready_count "$log")
	"$NVMFD" --discovery-port 0 "$@" >>"$log" 2>&1 &
	NVMFD_PID=$!
	PIDS+=("$NVMFD_PID")
	nvmfd_wait_ready "$log" "$NVMFD_PID" "$before" ||
		fatal "nvmfd did not start: $(cat "$log")"
}

# start_wire_log PORT TARGET_PORT LOG: the command-logging relay.
start_wire_log() {
	python3 "$HERE/wire_log.py" "$1" "$2" "$3" >"$3.relay" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 300); do
		grep -q listening "$3.relay" && return 0
		sleep 0.01
	done
	fatal "the relay did not start: $(cat "$3.relay")"
}

# do_mount MOUNTPOINT ARGS...: nvmf mount (daemonized) and remember the mount.
do_mount() {
	local mnt=$1
	shift
	mkdir -p "$mnt"
	"$NVMF" mount "$@" "$mnt" 2>"$DIR/mount.err" ||
		fatal "nvmf mount $*: $(cat "$DIR/mount.err")"
	is_mounted "$mnt" || fatal "nvmf mount returned 0 but $mnt is not mounted"
	MOUNTS+=("$mnt")
}

# mount_fg MOUNTPOINT LOG ARGS...: nvmf mount -f in the background, logging to
# LOG; returns once mounted, the process in MOUNT_PID.
mount_fg() {
	local mnt=$1 log=$2
	shift 2
	mkdir -p "$mnt"
	"$NVMF" mount -f "$@" "$mnt" 2>>"$log" &
	MOUNT_PID=$!
	PIDS+=("$MOUNT_PID")
	MOUNTS+=("$mnt")
	for _ in $(seq 500); do
		is_mounted "$mnt" && return 0
		kill -0 "$MOUNT_PID" 2>/dev/null || break
		sleep 0.01
	done
	fatal "nvmf mount -f did not mount $mnt: $(cat "$log")"
}

# wait_until SECONDS CMD...: true once CMD succeeds.  Log lines are looked for
# this way too: a process may write one just after the event a test saw.
wait_until() {
	local tenths=$(($1 * 10))
	shift
	until "$@"; do
		tenths=$((tenths - 1))
		[ "$tenths" -gt 0 ] || return 1
		sleep 0.1
	done
}

finish() {
	if [ "$FAILURES" != 0 ]; then
		echo "$FAILURES check(s) failed"
		exit 1
	fi
	echo "all passed"
	exit 0
}
