#!/usr/bin/env bash
# Interop: the real Linux kernel NVMe/TCP host (Linux 6.1 in QEMU, driven by
# ../shared/interop/linux-vm) against nvmfd serving a ramdisk on 127.0.0.1.
# Runs: digests off; header and data digests; 4 I/O queues with fio verify.
# Every run must PASS, and nvmfd must log no error and stop cleanly.
#
# usage: linux_host.sh NVMFD_BINARY
set -u

nvmfd=${1:?usage: linux_host.sh NVMFD_BINARY}
repo=$(cd "$(dirname "$0")/../.." && pwd)
vm="$repo/../shared/interop/linux-vm"
nqn=nqn.2024-01.org.nvmfd:interop
work=$(mktemp -d)
pid=
failed=0

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

if [ ! -x "$vm" ]; then
	echo "FAIL: $vm not found (the interop harness lives in shared/interop beside the repo)"
	exit 1
fi
if ! "$vm" build >"$work/build.log" 2>&1; then
	cat "$work/build.log"
	echo "FAIL: linux-vm build"
	exit 1
fi

# An ephemeral port: nvmfd logs the one it got.
"$nvmfd" -s 0 --discovery-port 0 -n "$nqn" ramdisk:256M 2>"$work/nvmfd.log" &
pid=$!
for _ in $(seq 100); do
	grep -q "nvmfd: ready" "$work/nvmfd.log" && break
	sleep 0.1
done
port=$(sed -n 's/.*port 1 listening on 127.0.0.1 port \([0-9]*\).*/\1/p' "$work/nvmfd.log")
if [ -z "$port" ]; then
	cat "$work/nvmfd.log"
	echo "FAIL: nvmfd did not start"
	exit 1
fi
echo "nvmfd pid $pid serving $nqn on 127.0.0.1:$port"

run() {
	local name=$1
	shift
	local start=$SECONDS
	"$vm" host --port "$port" --nqn "$nqn" --quiet "$@" >"$work/$name.log" 2>&1
	local rc=$?
	local verdict
	verdict=$(tail -n 1 "$work/$name.log")
	echo "$name ($*): exit $rc, $((SECONDS - start)) s: $verdict"
	if [ $rc -ne 0 ] || ! grep -q "linux-vm host: PASS" "$work/$name.log"; then
		grep "NVMF-VM" "$work/$name.log" | tail -n 20
		failed=1
	fi
}

run plain
run digests --hdgst --ddgst
run queues4-fio --nr-io-queues 4 --fio

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
if [ $rc -ne 0 ]; then
	echo "FAIL: nvmfd exited with $rc after SIGTERM"
	failed=1
fi
if grep -E "^error:" "$work/nvmfd.log"; then
	echo "FAIL: nvmfd logged errors"
	failed=1
fi
if [ $failed -ne 0 ]; then
	echo "--- nvmfd log (tail)"
	tail -n 40 "$work/nvmfd.log"
	echo "interop: FAIL"
	exit 1
fi
echo "interop: PASS"
