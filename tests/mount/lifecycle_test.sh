#!/bin/bash
# SPDX-License-Identifier: MIT
# A mount's life: namespaces the target adds and removes (nvmfd SIGHUP reload,
# Namespace Attribute Changed event) appear and disappear; a file open on a
# namespace that went away fails with EIO, also once the NSID is reused;
# fusermount3 -u, SIGTERM and nvmf umount (also of a mount whose process
# died) end it; and the one-line errors: no mount point, not a directory,
# target refusing, unknown subsystem, no /dev/fuse, not an nvmf mount, busy.
# Usage: lifecycle_test.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
require unshare fusermount3

PORT=$(free_port)
CONF=$DIR/nvmfd.json
# write_config SECOND_NS_PATH (empty: none)
write_config() {
	local second=""
	[ -n "$1" ] && second=", {\"device\": {\"path\": \"$1\"}, \"enable\": 1, \"nsid\": 2}"
	cat >"$CONF.tmp" <<JSON
{"hosts": [], "ports": [{"addr": {"adrfam": "ipv4", "traddr": "127.0.0.1",
  "treq": "not specified", "trsvcid": "$PORT", "trtype": "tcp"}, "portid": 1,
  "referrals": [], "subsystems": ["$NQN"]}],
 "subsystems": [{"allowed_hosts": [], "attr": {"allow_any_host": "1"},
  "namespaces": [{"device": {"path": "ramdisk:8M"}, "enable": 1, "nsid": 1}$second],
  "nqn": "$NQN"}]}
JSON
	mv "$CONF.tmp" "$CONF"
}
write_config ""
start_nvmfd target -c "$CONF"
T=(-a 127.0.0.1 -s "$PORT" -n "$NQN")
NS=$DIR/nvmf
LOG=$DIR/mount.log

# --- namespaces come and go
mount_fg "$NS" "$LOG" "${T[@]}"
[ "$(ls "$NS")" = n1 ] && pass "one namespace: n1" || fail "ls: $(ls "$NS")"
write_config "ramdisk:4M"
kill -HUP "$NVMFD_PID"
if wait_until 5 test -e "$NS/n2"; then
	pass "n2 appeared after the reload ($(ls "$NS" | tr '\n' ' '))"
	[ "$(stat -c %s "$NS/n2")" = $((4 << 20)) ] && pass "n2 is 4 MiB" || fail "n2 size"
	head -c 100000 /dev/urandom >"$DIR/n2.data"
	dd if="$DIR/n2.data" of="$NS/n2" bs=1000 seek=7 conv=notrunc status=none &&
		cmp -s "$DIR/n2.data" <(dd if="$NS/n2" bs=1000 skip=7 count=100 status=none) &&
		pass "n2 written and read back" || fail "n2 I/O"
else
	fail "n2 did not appear: $(cat "$LOG")"
fi
wait_until 30 grep -q "n2 appeared (4 MiB)" "$LOG" && pass "logged: $(grep "n2 appeared" "$LOG")" ||
	fail "no 'n2 appeared' line: $(cat "$LOG")"
# A file open across the namespace's removal, and across the NSID's reuse.
exec 5<>"$NS/n2"
write_config ""
kill -HUP "$NVMFD_PID"
wait_until 5 test ! -e "$NS/n2" && [ "$(ls "$NS")" = n1 ] && pass "n2 went away" ||
	fail "n2 still there: $(ls "$NS")"
wait_until 30 grep -q "n2 went away" "$LOG" && pass "logged: n2 went away" || fail "no 'went away' line"
dd of=/dev/null bs=4096 count=1 <&5 2>"$DIR/gone.err" && fail "read from a removed namespace" ||
	{ grep -q "Input/output error" "$DIR/gone.err" && pass "open file on a removed namespace: EIO"; } ||
	fail "removed namespace: $(cat "$DIR/gone.err")"
write_config "ramdisk:2M"
kill -HUP "$NVMFD_PID"
wait_until 5 test -e "$NS/n2" && [ "$(stat -c %s "$NS/n2")" = $((2 << 20)) ] &&
	pass "NSID 2 back, another namespace (2 MiB)" || fail "n2 did not come back"
# (The kernel marks the old inode bad: even closing the descriptor reports EIO.)
(dd of=/dev/null bs=4096 count=1 <&5) 2>/dev/null && fail "old handle reads the new namespace" ||
	pass "a handle from before still fails (EIO): no data from the wrong namespace"
exec 5<&- 2>/dev/null
dd if="$NS/n2" of=/dev/null bs=4096 count=1 status=none && pass "a new open works" ||
	fail "new open of n2"

# --- endings: SIGTERM on a foreground mount
kill -TERM "$MOUNT_PID"
T0=$SECONDS
if ! wait_gone "$MOUNT_PID" 60; then
	fail "SIGTERM did not end the mount (waited $((SECONDS - T0)) s; /proc stat: $(cut -c1-60 "/proc/$MOUNT_PID/stat" 2>&1)); its log ends: $(tail -n 5 "$LOG")"
elif is_mounted "$NS"; then
	fail "the mount process ended on SIGTERM but $NS is still mounted; its log ends: $(tail -n 5 "$LOG")"
else
	wait "$MOUNT_PID" && pass "SIGTERM: unmounted, exit 0" ||
		fail "SIGTERM: exit status $?; the mount's log ends: $(tail -n 5 "$LOG")"
fi
# fusermount3 -u on a daemonized mount
do_mount "$NS" "${T[@]}"
PID=$(mount_pid "$NS")
fusermount3 -u "$NS" && wait_gone "$PID" 60 && ! is_mounted "$NS" &&
	pass "fusermount3 -u: unmounted, process gone" || fail "fusermount3 -u"
# busy, then nvmf umount
do_mount "$NS" "${T[@]}"
exec 5<"$NS/n1"
"$NVMF" umount "$NS" 2>"$DIR/busy.err" && fail "unmounted a busy mount" ||
	{ [ "$(wc -l <"$DIR/busy.err")" = 1 ] && grep -q "is busy" "$DIR/busy.err" &&
		pass "busy: $(cat "$DIR/busy.err")"; } || fail "busy: $(cat "$DIR/busy.err")"
exec 5<&-
"$NVMF" umount "$NS" && ! is_mounted "$NS" && pass "nvmf umount once closed" || fail "nvmf umount"
# a mount whose process died
do_mount "$NS" "${T[@]}"
dead=$(mount_pid "$NS")
kill -9 "$dead"
while kill -0 "$dead" 2>/dev/null; do sleep 0.05; done
"$NVMF" umount "$NS" 2>"$DIR/dead.err" && ! is_mounted "$NS" &&
	pass "nvmf umount of a mount whose process died" || fail "dead mount: $(cat "$DIR/dead.err")"

# --- one-line errors
# expect_error NAME PATTERN CMD...: exit status 1, one line on stderr matching
expect_error() {
	local name=$1 pattern=$2 status
	shift 2
	"$@" >"$DIR/$name.out" 2>"$DIR/$name.err"
	status=$?
	if [ "$status" = 1 ] && [ "$(wc -l <"$DIR/$name.err")" = 1 ] &&
		grep -q -- "$pattern" "$DIR/$name.err" && ! is_mounted "$NS"; then
		pass "$name: $(cat "$DIR/$name.err")"
	else
		fail "$name: status $status, want 1 and one line matching '$pattern': $(cat "$DIR/$name.err")"
	fi
}
expect_error no_mountpoint "mount point $DIR/nowhere does not exist" \
	"$NVMF" mount "${T[@]}" "$DIR/nowhere"
touch "$DIR/file"
expect_error not_a_directory "is not a directory" "$NVMF" mount "${T[@]}" "$DIR/file"
REFUSED=$(free_port)
expect_error refused "connection refused" "$NVMF" mount -a 127.0.0.1 -s "$REFUSED" -n "$NQN" "$NS"
expect_error refused_foreground "connection refused" \
	"$NVMF" mount -f -a 127.0.0.1 -s "$REFUSED" -n "$NQN" "$NS"
expect_error unknown_nqn "unknown subsystem NQN" \
	"$NVMF" mount -a 127.0.0.1 -s "$PORT" -n nqn.2024-01.io.example:nobody "$NS"
# A mount namespace whose /dev has no fuse device.
expect_error no_dev_fuse "/dev/fuse does not exist" unshare -m sh -c \
	'mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3 && exec "$@"' sh \
	"$NVMF" mount "${T[@]}" "$NS"
expect_error not_nvmf "is not an nvmf mount" "$NVMF" umount "$DIR"
"$NVMF" mount "${T[@]}" 2>"$DIR/usage.err"
[ $? = 2 ] && grep -q "MOUNTPOINT is required" "$DIR/usage.err" && pass "no MOUNTPOINT: usage error" ||
	fail "no MOUNTPOINT: $(cat "$DIR/usage.err")"
finish
