#!/usr/bin/env bash
# Interop: the real Linux 6.12 NVMe/TCP host (nvme-cli, in QEMU through
# ../shared/interop/linux-vm --kernel 6.12) connected to nvmfd while a
# namespace is added and then removed over nvmfd's JSON-RPC API (nvmfctl),
# in one guest boot: the kernel must log the namespace-changed rescan, the
# new namespace must appear as a block device that carries verified I/O,
# then go, while the first namespace keeps serving.
#
# usage: linux_host_rpc.sh BUILD_DIR
set -u

build=${1:?usage: linux_host_rpc.sh BUILD_DIR}
nvmfd="$build/nvmfd"
nvmfctl="$build/nvmfctl"
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/util/nvmfd_ready.sh"
. "$repo/tests/interop/lib.sh"
kernel=6.12
nqn=nqn.2024-01.org.nvmfd:interop-rpc
work=$(mktemp -d)
sock="$work/nvmfd.sock"
pid=
driver=
failed=0

cleanup() {
	[ -n "$driver" ] && kill "$driver" 2>/dev/null
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
pass() { echo "ok: $*"; }

if [ ! -x "$vm" ]; then
	echo "FAIL: $vm not found (the interop harness lives in shared/interop beside the repo)"
	exit 1
fi
if ! "$vm" build --kernel $kernel >"$work/build.log" 2>&1; then
	cat "$work/build.log"
	echo "FAIL: linux-vm build --kernel $kernel"
	exit 1
fi

"$nvmfd" "${nvmfd_guest_opts[@]}" -s 0 --discovery-port 0 -n "$nqn" --rpc-socket "$sock" ramdisk:64M 2>"$work/nvmfd.log" &
pid=$!
nvmfd_wait_ready "$work/nvmfd.log" "$pid"
port=$(sed -n 's/.*port 1 listening on 127.0.0.1 port \([0-9]*\).*/\1/p' "$work/nvmfd.log" | head -1)
if [ -z "$port" ]; then
	cat "$work/nvmfd.log"
	echo "FAIL: nvmfd did not start"
	exit 1
fi
echo "nvmfd pid $pid serving $nqn on 127.0.0.1:$port, JSON-RPC on $sock"

# In the guest after the I/O test (busybox sh; DEV, CTRL, NQN set).
cat >"$work/guest.sh" <<'EOF'
rc=0
say() { echo "NVMF-VM: rpc-script: $*"; }
check() { if [ "$1" = 0 ]; then say "$2 OK"; else say "$2 FAIL"; rc=1; fi; }
rescans() { dmesg | grep -c "$CTRL: rescanning namespaces"; }
# The block device of namespace 2, if the kernel has one (the multipath
# head, not the hidden per-path nvmeXcYnZ, which has no device node).
ns2() {
	for b in /sys/block/nvme*n*; do
		case "$(basename "$b")" in nvme*c*n*) continue ;; esac
		[ -e "$b/nsid" ] && [ "$(cat "$b/nsid")" = 2 ] && [ -b "/dev/$(basename "$b")" ] &&
			{ echo "/dev/$(basename "$b")"; return; }
	done
}
r0=$(rescans)
say "ready for nvmf_subsystem_add_ns"
i=0
while [ -z "$(ns2)" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
D2=$(ns2)
[ -n "$D2" ]; check $? "namespace 2 appeared ($D2)"
[ "$(rescans)" -gt "$r0" ]; check $? "kernel: $CTRL rescanned on the namespace attribute event"
dd if=/dev/urandom of=/tmp/p bs=64k count=16 2>/dev/null
dd if=/tmp/p of="$D2" bs=64k oflag=direct conv=fsync 2>/dev/null &&
	dd if="$D2" of=/tmp/b bs=64k count=16 iflag=direct 2>/dev/null && cmp -s /tmp/p /tmp/b
check $? "1 MiB written and read back on $D2"
r1=$(rescans)
say "ready for nvmf_subsystem_remove_ns"
i=0
while [ -n "$(ns2)" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
[ -z "$(ns2)" ]; check $? "namespace 2 went away"
[ "$(rescans)" -gt "$r1" ]; check $? "kernel: $CTRL rescanned again"
dd if=$DEV of=/dev/null bs=64k count=16 iflag=direct 2>/dev/null; check $? "namespace 1 still serves ($DEV)"
exit $rc
EOF

# The operator's side: each change once the guest says it is ready.
(
	wait_for() {
		for _ in $(seq 3000); do
			grep -aqs "rpc-script: $1" "$work/vm.console" && return 0
			sleep 0.1
		done
		return 1
	}
	wait_for "ready for nvmf_subsystem_add_ns" &&
		"$nvmfctl" -s "$sock" nvmf_subsystem_add_ns --nqn "$nqn" \
			--namespace.path ramdisk:32M --namespace.nsid 2 >"$work/add.out" 2>&1
	wait_for "ready for nvmf_subsystem_remove_ns" &&
		"$nvmfctl" -s "$sock" nvmf_subsystem_remove_ns --nqn "$nqn" --nsid 2 \
			>"$work/remove.out" 2>&1
) &
driver=$!

start=$SECONDS
# KATO 30 s as interop_linux_host: Linux sends no keep alive before all
# its I/O queues are connected, which a loaded machine can stretch past 5 s.
vm_retry_boot "$work/vm.console" "$vm" host --kernel $kernel --port "$port" --nqn "$nqn" \
	--nr-io-queues 2 "${vm_host_opts[@]}" --script "$work/guest.sh" --log "$work/vm.console" --quiet \
	>"$work/vm.log" 2>&1
rc=$?
echo "linux host (6.12) -> nvmfd, namespaces over JSON-RPC: exit $rc, $((SECONDS - start)) s: $(tail -n 1 "$work/vm.log")"
grep -a "rpc-script:" "$work/vm.log" | sed 's/^/  /'
if [ $rc -ne 0 ] || ! grep -q "linux-vm host: PASS" "$work/vm.log"; then
	grep -a "NVMF-VM" "$work/vm.log" | tail -n 30
	fail "linux-vm host"
fi
wait "$driver"
driver=
[ "$(cat "$work/add.out" 2>/dev/null)" = 2 ] && pass "nvmfctl added namespace 2" ||
	fail "nvmfctl add_ns: $(cat "$work/add.out" 2>/dev/null)"
[ "$(cat "$work/remove.out" 2>/dev/null)" = ok ] && pass "nvmfctl removed namespace 2" ||
	fail "nvmfctl remove_ns: $(cat "$work/remove.out" 2>/dev/null)"
for line in "namespace 2 added" "namespace 2 removed" "rpc nvmf_subsystem_add_ns:" \
	"rpc nvmf_subsystem_remove_ns:"; do
	grep -qF "$line" "$work/nvmfd.log" && pass "nvmfd: $line" || fail "nvmfd log lacks: $line"
done

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || fail "nvmfd exited with $rc after SIGTERM"
if [ $failed -ne 0 ]; then
	tail -n 40 "$work/nvmfd.log"
	echo "FAIL: $failed check(s)"
	exit 1
fi
echo "PASS"
