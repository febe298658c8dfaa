#!/usr/bin/env bash
# Interop under wire faults: the real Linux host (QEMU, ../shared/interop/
# linux-vm) with header and data digests, through a relay that corrupts one
# header digest on its way to nvmfd (tests/interop/flip_relay.py): nvmfd
# ends that connection, the host recovers, reconnects, and its writes read
# back (the harness's dd pattern test with md5 compare).
#   - Linux 6.1 against nvmfd --fatal-error close (no C2HTermReq): Debian's
#     6.1 host crashes on a C2HTermReq (README, Interoperability); on the
#     admin queue and on an I/O queue;
#   - Linux 6.12 against nvmfd's default, a C2HTermReq (FES header digest
#     error): it logs it and recovers.
# Each run must PASS, the corruption must have happened, nvmfd must say how
# it ended the connection, and the guest must log no oops.
#
# usage: linux_host_faults.sh NVMFD_BINARY
set -u

nvmfd=${1:?usage: linux_host_faults.sh NVMFD_BINARY}
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/util/nvmfd_ready.sh"
. "$repo/tests/interop/lib.sh"
nqn=nqn.2024-01.org.nvmfd:interop-faults
work=$(mktemp -d)
pids=()
failed=0

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
pass() { echo "ok: $*"; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for FILE TEXT: up to 10 s for TEXT to appear in FILE.
wait_for() {
	for _ in $(seq 100); do
		grep -qs "$2" "$1" && return 0
		sleep 0.1
	done
	return 1
}

# run NAME KERNEL CONN FATAL: one guest through a relay corrupting the 20th
# command capsule of connection CONN (1 discovery, 2 admin, 3 an I/O queue).
run() {
	local name=$1 kernel=$2 conn=$3 fatal=$4 dir="$work/$1" port relay start rc
	mkdir -p "$dir"
	"$nvmfd" "${nvmfd_guest_opts[@]}" -s 0 --discovery-port 0 -n "$nqn" --fatal-error "$fatal" ramdisk:128M \
		2>"$dir/nvmfd.log" &
	pids+=($!)
	if ! nvmfd_wait_ready "$dir/nvmfd.log" "${pids[-1]}"; then
		fail "$name: nvmfd did not start: $(tail -3 "$dir/nvmfd.log")"
		return
	fi
	port=$(sed -n 's/.*port 1 listening on 127.0.0.1 port \([0-9]*\).*/\1/p' "$dir/nvmfd.log")
	relay=$(free_port)
	python3 "$repo/tests/interop/flip_relay.py" "$relay" "$port" --nth 20 --conn "$conn" \
		>"$dir/relay.log" 2>&1 &
	pids+=($!)
	if ! wait_for "$dir/relay.log" "listening"; then
		fail "$name: the relay did not start"
		return
	fi
	start=$SECONDS
	vm_retry_boot "$dir/console.log" "$vm" host --kernel "$kernel" "${vm_host_opts[@]}" --port "$relay" --nqn "$nqn" \
		--hdgst --ddgst --log "$dir/console.log" --quiet >"$dir/host.log" 2>&1
	rc=$?
	echo "Linux $kernel, $name: exit $rc, $((SECONDS - start)) s: $(tail -n 1 "$dir/host.log")"
	[ $rc -eq 0 ] && grep -q "linux-vm host: PASS" "$dir/host.log" &&
		pass "$name: the host recovered and its data read back" ||
		fail "$name: $(grep NVMF-VM "$dir/host.log" | tail -5)
guest kernel: $(grep -a 'nvme' "$dir/console.log" | grep -av 'NVMF-VM' | tail -8)
nvmfd: $(tail -5 "$dir/nvmfd.log")"
	grep -q "corrupted" "$dir/relay.log" && pass "$name: $(grep corrupted "$dir/relay.log")" ||
		fail "$name: the relay corrupted nothing"
	if [ "$fatal" = close ]; then
		grep -q "header digest error), FEI 0; closing the connection (no TermReq)" \
			"$dir/nvmfd.log" && pass "$name: nvmfd closed without a TermReq" ||
			fail "$name: nvmfd's log: $(grep -m2 -i error "$dir/nvmfd.log")"
	else
		grep -q "header digest error), FEI 0; sending TermReq" "$dir/nvmfd.log" &&
			grep -aq "Received C2HTermReq (FES = Header Digest Error)" "$dir/console.log" &&
			pass "$name: the host logged nvmfd's C2HTermReq" ||
			fail "$name: no C2HTermReq sent and logged"
	fi
	grep -aq "Successfully reconnected" "$dir/console.log" && pass "$name: reconnected" ||
		fail "$name: the host did not reconnect"
	if grep -aEq "BUG:|Oops" "$dir/console.log"; then
		fail "$name: the guest kernel oopsed: $(grep -a -m2 -E 'BUG:|RIP:' "$dir/console.log")"
	fi
}

if [ ! -x "$vm" ]; then
	echo "FAIL: $vm not found (the interop harness lives in shared/interop beside the repo)"
	exit 1
fi
for k in 6.1 6.12; do
	if ! "$vm" build --kernel $k >"$work/build.log" 2>&1; then
		cat "$work/build.log"
		echo "FAIL: linux-vm build --kernel $k"
		exit 1
	fi
done
run "6.1 admin queue, close" 6.1 2 close
run "6.1 I/O queue, close" 6.1 3 close
run "6.12 I/O queue, TermReq" 6.12 3 termreq
if [ "$failed" != 0 ]; then
	echo "$failed check(s) failed"
	exit 1
fi
echo "linux_host_faults: all passed"
