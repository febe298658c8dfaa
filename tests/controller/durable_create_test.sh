#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A namespace file nvmfd creates survives a power cut: before it serves
# the file, nvmfd has synced the file (its size) and its directory (its
# name).  Checked by tracing fsync with the paths of the descriptors.
# Skipped (77) where strace cannot trace here.
set -u
BUILD=$1
. "$(dirname "$0")/../util/nvmfd_ready.sh"
NVMFD=$BUILD/nvmfd
DIR=$(mktemp -d /tmp/nvmf-durable.XXXXXX)
PID=
cleanup() {
	# nvmfd itself (strace, PID, ends with it).
	[ -s "$DIR/pid" ] && kill "$(cat "$DIR/pid")" 2>/dev/null
	[ -n "$PID" ] && wait "$PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT

if ! command -v strace >/dev/null || ! strace -qq -o /dev/null true 2>/dev/null; then
	echo "SKIP: strace cannot trace here (not installed, or ptrace is refused)"
	exit 77
fi
mkdir "$DIR/ns"
strace -f -qq -y -e trace=fsync,fdatasync -e signal=none -o "$DIR/trace" \
	"$NVMFD" -a 127.0.0.1 -s 0 --discovery-port 0 --pidfile "$DIR/pid" \
	"$DIR/ns/new.img,size=1M" </dev/null >/dev/null 2>"$DIR/nvmfd.log" &
PID=$!
if ! nvmfd_wait_ready "$DIR/nvmfd.log" "$PID"; then
	cat "$DIR/nvmfd.log"
	echo "FAIL: nvmfd did not start"
	exit 1
fi
fail=0
if [ "$(stat -c %s "$DIR/ns/new.img")" != 1048576 ]; then
	echo "FAIL: the new file is not 1 MiB"
	fail=1
fi
if grep -q "fsync([0-9]*<$DIR/ns/new.img>) *= 0" "$DIR/trace"; then
	echo "ok: the new namespace file was synced"
else
	echo "FAIL: the new namespace file was never synced"
	fail=1
fi
if grep -q "fsync([0-9]*<$DIR/ns>) *= 0" "$DIR/trace"; then
	echo "ok: its directory was synced"
else
	echo "FAIL: the directory of the new file was never synced"
	fail=1
fi
[ $fail -eq 0 ] || cat "$DIR/trace"
exit $fail
