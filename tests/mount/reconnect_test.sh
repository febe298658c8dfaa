#!/bin/bash
# SPDX-License-Identifier: MIT
# A lost connection under a mount follows the host's reconnect policy:
#   - nvmfd killed and restarted while fio writes with verification: I/O
#     waits, the mount reconnects, and every block verifies afterwards
#   - nvmfd gone for good: after ctrl-loss-tmo reads and writes fail with
#     EIO (not sooner, never with wrong data), and the mount still unmounts
# Usage: reconnect_test.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
require fio

PORT=$(free_port)
TARGET=(-s "$PORT" -n "$NQN" "$DIR/ns1.img,size=64M")
start_nvmfd target "${TARGET[@]}"
T=(-a 127.0.0.1 -s "$PORT" -n "$NQN" -i 2)
NS=$DIR/nvmf
LOG=$DIR/mount.log

# --- restart under load
mount_fg "$NS" "$LOG" "${T[@]}" --reconnect-delay 1 --ctrl-loss-tmo 30
# About 3 s of writes at full speed; the target is away for 2 s of them.
fio --name=restart --filename="$NS/n1" --direct=1 --ioengine=libaio --verify_state_save=0 \
	--rw=randwrite --bs=4k --iodepth=8 --size=24M --rate_iops=2000 --verify=crc32c --verify_fatal=1 \
	>"$DIR/fio.out" 2>&1 &
FIO=$!
PIDS+=("$FIO")
sleep 1
kill -9 "$NVMFD_PID"
wait "$NVMFD_PID" 2>/dev/null
sleep 2
start_nvmfd target2 "${TARGET[@]}"
if wait "$FIO" && grep -q "err= 0" "$DIR/fio.out"; then
	pass "fio across a target restart: no error, every block verified"
else
	fail "fio across a restart: $(grep -m5 -E "err=|verify|error" "$DIR/fio.out")"
fi
wait_until 30 grep -q "reconnected" "$LOG" && pass "mount log: $(grep -m1 "reconnected" "$LOG")" ||
	fail "no reconnect in the log: $(cat "$LOG")"
kill -TERM "$MOUNT_PID"
T0=$SECONDS
wait_gone "$MOUNT_PID" 60 ||
	fail "the mount did not end on SIGTERM (waited $((SECONDS - T0)) s; /proc stat: $(cat "/proc/$MOUNT_PID/stat" 2>&1 | cut -c1-60); wchan: $(cat "/proc/$MOUNT_PID/wchan" 2>&1)); its log ends: $(tail -n 5 "$LOG")"

# --- ctrl-loss-tmo
mount_fg "$NS" "$LOG" "${T[@]}" --reconnect-delay 1 --ctrl-loss-tmo 2
dd if=/dev/urandom of="$NS/n1" bs=4096 count=16 conv=notrunc status=none || fail "write before the loss"
kill -9 "$NVMFD_PID"
wait "$NVMFD_PID" 2>/dev/null
START=$(date +%s%N)
dd if="$NS/n1" of="$DIR/read.out" bs=4096 count=16 2>"$DIR/read.err" &&
	fail "read succeeded with the target gone" ||
	{ grep -q "Input/output error" "$DIR/read.err" && pass "read after ctrl-loss-tmo: EIO"; } ||
	fail "read: $(cat "$DIR/read.err")"
ELAPSED_MS=$((($(date +%s%N) - START) / 1000000))
[ "$ELAPSED_MS" -ge 1000 ] && [ "$ELAPSED_MS" -lt 15000 ] &&
	pass "the read waited ${ELAPSED_MS} ms (reconnecting) before failing" ||
	fail "the read failed after ${ELAPSED_MS} ms"
[ -s "$DIR/read.out" ] && fail "bytes were returned: $(stat -c %s "$DIR/read.out")"
dd if=/dev/zero of="$NS/n1" bs=4096 count=1 conv=notrunc 2>"$DIR/write.err" &&
	fail "write succeeded with the controller lost" ||
	{ grep -q "Input/output error" "$DIR/write.err" && pass "write after the loss: EIO"; } ||
	fail "write: $(cat "$DIR/write.err")"
wait_until 30 grep -q "ctrl-loss-tmo (2 s) expired" "$LOG" && pass "mount log: controller lost" ||
	fail "no controller-lost line: $(tail -5 "$LOG")"
"$NVMF" umount "$NS" 2>"$DIR/umount.err" && ! is_mounted "$NS" &&
	pass "nvmf umount after the loss" || fail "umount after the loss: $(cat "$DIR/umount.err")"
finish
