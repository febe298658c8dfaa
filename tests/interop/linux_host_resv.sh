#!/usr/bin/env bash
# Interop: persistent reservations between the real Linux 6.12 host
# (nvme-cli's resv-* in QEMU through ../shared/interop/linux-vm) and nvmfd,
# in one guest boot:
#   - the guest registers a key with persist through power loss and takes
#     Write Exclusive, reports it (extended form) and, as holder, writes;
#   - the project's host (nvmf, another host NQN and ID) reads the namespace
#     and is refused its write with "reservation conflict"; the report names
#     the guest's host ID as holder;
#   - nvmfd is killed with -9 and restarted on the same configuration: the
#     reservation still holds (report, refused write), from its state file.
#
# usage: linux_host_resv.sh BUILD_DIR
set -u

build=${1:?usage: linux_host_resv.sh BUILD_DIR}
nvmfd="$build/nvmfd"
nvmf="$build/nvmf"
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/util/nvmfd_ready.sh"
. "$repo/tests/interop/lib.sh"
kernel=6.12
nqn=nqn.2024-01.org.nvmfd:interop-resv
key=0x1a2b3c4d
ours=(-q nqn.2024-01.io.example:interop-resv-other -I 5e5e5e5e-0000-4000-8000-000000000001)
work=$(mktemp -d)
pid=
guest_hostid=
failed=0

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null
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

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/config.json" <<JSON
{"hosts": [], "ports": [{"addr": {"adrfam": "ipv4", "traddr": "127.0.0.1",
  "treq": "not specified", "trsvcid": "$port", "trtype": "tcp"}, "portid": 1,
  "referrals": [], "subsystems": ["$nqn"]}],
 "subsystems": [{"allowed_hosts": [], "attr": {"allow_any_host": "1"},
  "namespaces": [{"device": {"path": "$work/ns1.img", "size": "64M"}, "enable": 1,
  "nsid": 1, "resv": {"enable": "1"}}], "nqn": "$nqn"}]}
JSON

# start_nvmfd N: start nvmfd (log $work/nvmfd-N.log) and wait for "ready".
start_nvmfd() {
	"$nvmfd" "${nvmfd_guest_opts[@]}" -c "$work/config.json" --discovery-port 0 --data-dir "$work" \
		2>"$work/nvmfd-$1.log" &
	pid=$!
	nvmfd_wait_ready "$work/nvmfd-$1.log" "$pid" && return 0
	cat "$work/nvmfd-$1.log"
	echo "FAIL: nvmfd did not start"
	exit 1
}

# What the project's host sees: a read passes, a write is refused with a
# reservation conflict, the report names the guest's host as holder.
check_from_our_host() {
	local when=$1 uri=nvme+tcp://127.0.0.1:$port/$nqn
	head -c 4096 /dev/urandom >"$work/block"
	if "$nvmf" read "${ours[@]}" --offset 0 --length 4096 --data "$work/read" "$uri" \
		>"$work/read.out" 2>&1; then
		pass "$when: our host reads"
	else
		fail "$when: our host's read: $(cat "$work/read.out")"
	fi
	if "$nvmf" write "${ours[@]}" --offset 0 --length 4096 --data "$work/block" "$uri" \
		>"$work/write.out" 2>&1; then
		fail "$when: our host's write was accepted"
	elif grep -q "reservation conflict" "$work/write.out"; then
		pass "$when: our host's write refused: $(cat "$work/write.out")"
	else
		fail "$when: our host's write failed otherwise: $(cat "$work/write.out")"
	fi
	if "$nvmf" resv-report "${ours[@]}" --eds -o json "$uri" >"$work/report.json" 2>&1 &&
		python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
hostid, key = sys.argv[2], int(sys.argv[3], 0)
holders = [r for r in d["registrants"] if r["rcsts"] & 1]
sys.exit(0 if d["rtype"] == 1 and d["ptpls"] == 1 and len(holders) == 1
         and holders[0]["hostid"] == hostid and holders[0]["rkey"] == key else 1)
' "$work/report.json" "$guest_hostid" "$key"; then
		pass "$when: report: Write Exclusive held by the guest's host ($guest_hostid), PTPL"
	else
		fail "$when: report: $(cat "$work/report.json")"
	fi
}

start_nvmfd 1
echo "nvmfd pid $pid serving $nqn on 127.0.0.1:$port (reservations, state in $work)"

# Run in the guest after the I/O test (busybox sh; DEV, CTRL, NQN set).
{
	echo "KEY=$key"
	cat <<'GUEST'
rc=0
say() { echo "NVMF-VM: resv-script: $*"; }
check() { if [ "$1" = 0 ]; then say "$2 OK"; else say "$2 FAIL"; rc=1; fi; }
say "hostid $(cat /sys/class/nvme/$CTRL/hostid)"
nvme resv-register "$DEV" --nrkey=$KEY --rrega=0 --cptpl=3; check $? "resv-register with PTPL"
nvme resv-acquire "$DEV" --crkey=$KEY --rtype=1 --racqa=0; check $? "resv-acquire Write Exclusive"
nvme resv-report "$DEV" --eds >/tmp/report 2>&1; check $? "resv-report --eds"
sed 's/^/NVMF-VM: resv-script: report: /' /tmp/report
dd if=/dev/urandom of="$DEV" bs=4k count=1 oflag=direct 2>/dev/null; check $? "the holder writes"
exit $rc
GUEST
} >"$work/guest.sh"

start=$SECONDS
vm_retry_boot "$work/vm.console" "$vm" host --kernel $kernel "${vm_host_opts[@]}" --port "$port" --nqn "$nqn" \
	--script "$work/guest.sh" --log "$work/vm.console" --quiet >"$work/vm.log" 2>&1
rc=$?
echo "linux host (6.12) -> nvmfd: exit $rc, $((SECONDS - start)) s: $(tail -n 1 "$work/vm.log")"
grep -E "resv-script:" "$work/vm.log" | sed 's/^/  /'
if [ $rc -ne 0 ] || ! grep -q "linux-vm host: PASS" "$work/vm.log"; then
	grep "NVMF-VM" "$work/vm.log" | tail -n 30
	fail "linux-vm host"
fi
# The guest's host ID as a report prints it: 32 hex digits.
guest_hostid=$(sed -n 's/.*resv-script: hostid \([0-9a-f-]*\).*/\1/p' "$work/vm.log" |
	tr -d '-' | head -n 1)
[ -n "$guest_hostid" ] || fail "the guest did not print its host ID"

check_from_our_host "after the guest acquired"

kill -KILL "$pid"
wait "$pid" 2>/dev/null
start_nvmfd 2
if grep -q "reservation state loaded" "$work/nvmfd-2.log"; then
	pass "nvmfd: state loaded after kill -9"
else
	fail "nvmfd-2 log lacks 'reservation state loaded'"
fi
check_from_our_host "after kill -9 and restart"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || fail "nvmfd exited with $rc after SIGTERM"
if [ $failed -ne 0 ]; then
	echo "--- nvmfd logs (tail)"
	tail -n 20 "$work/nvmfd-1.log" "$work/nvmfd-2.log"
	echo "interop reservations (Linux host): FAIL"
	exit 1
fi
echo "interop reservations (Linux host): PASS"
