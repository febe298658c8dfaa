#!/usr/bin/env bash
# Interop: the real Linux kernel NVMe/TCP host (in QEMU, driven by
# ../shared/interop/linux-vm) against nvmfd serving a ramdisk on 127.0.0.1.
# Linux 6.1 (the default) runs: digests off; header and data digests with
# fio verify; 4 I/O queues with fio verify.  Linux 6.12 runs one lean pass
# covering the same ground: header and data digests over 4 I/O queues with
# fio verify.  Every run must PASS, and nvmfd must log no error and stop
# cleanly.
#
# usage: linux_host.sh NVMFD_BINARY [KERNEL]   (KERNEL: 6.1 or 6.12)
set -u

nvmfd=${1:?usage: linux_host.sh NVMFD_BINARY [KERNEL]}
kernel=${2:-6.1}
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/util/nvmfd_ready.sh"
. "$repo/tests/interop/lib.sh"
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
if ! "$vm" build --kernel "$kernel" >"$work/build.log" 2>&1; then
	cat "$work/build.log"
	echo "FAIL: linux-vm build --kernel $kernel"
	exit 1
fi

# An ephemeral port: nvmfd logs the one it got.
"$nvmfd" "${nvmfd_guest_opts[@]}" -s 0 --discovery-port 0 -n "$nqn" ramdisk:256M 2>"$work/nvmfd.log" &
pid=$!
nvmfd_wait_ready "$work/nvmfd.log" "$pid"
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
	vm_retry_boot "$work/$name.console" "$vm" host --kernel "$kernel" --port "$port" \
		--nqn "$nqn" --log "$work/$name.console" --quiet "${vm_host_opts[@]}" "$@" >"$work/$name.log" 2>&1
	local rc=$?
	local verdict
	verdict=$(tail -n 1 "$work/$name.log")
	echo "Linux $kernel host, $name ($*): exit $rc, $((SECONDS - start)) s: $verdict"
	if [ $rc -ne 0 ] || ! grep -q "linux-vm host: PASS" "$work/$name.log"; then
		grep "NVMF-VM" "$work/$name.log" | tail -n 20
		failed=1
	fi
	# What was asked for really happened: the kernel, the digests, the
	# queues, fio.
	expect "$name" "init started (kernel ${kernel//./\\.}\\." "booted Linux $kernel"
	expect "$name" "nvme connect .*--keep-alive-tmo=30" "connected with KATO 30 s"
	case " $* " in *" --hdgst --ddgst "*)
		expect "$name" "nvme connect .*--hdr-digest --data-digest" "connected with digests" ;;
	esac
	case " $* " in *" --nr-io-queues 4 "*)
		expect "$name" "queue_count=5 " "4 I/O queues" ;;
	esac
	case " $* " in *" --fio "*)
		expect "$name" "NVMF-VM-STEP: fio OK" "fio verify passed" ;;
	esac
}

# expect RUN PATTERN WHAT: the run's log has PATTERN
expect() {
	if grep -q -- "$2" "$work/$1.log"; then
		echo "  ok: $1: $3"
	else
		echo "  FAIL: $1: $3: no '$2' in its log"
		failed=1
	fi
}

if [ "$kernel" = 6.1 ]; then
	run plain
	run digests-fio --hdgst --ddgst --fio
	run queues4-fio --smp 4 --nr-io-queues 4 --fio
else
	run digests-queues4-fio --smp 4 --hdgst --ddgst --nr-io-queues 4 --fio
fi

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
	echo "interop (Linux $kernel host): FAIL"
	exit 1
fi
echo "interop (Linux $kernel host): PASS"
