#!/usr/bin/env bash
# Interop: the real Linux 6.12 NVMe/TCP host (nvme-cli, in QEMU through
# ../shared/interop/linux-vm --kernel 6.12) authenticating to nvmfd with
# DH-HMAC-CHAP, in one guest boot:
#   - host A, unidirectional, SHA-256 and the null DH group: discover,
#     connect (every queue authenticates), verified I/O, flush;
#   - then, from a script in the guest: re-authentication of the live
#     controller (a write to its dhchap_secret), I/O after it;
#   - host B, bidirectional, SHA-384 and ffdhe2048 (the controller proves
#     its secret too);
#   - host C, bidirectional, SHA-512 and ffdhe3072, data written and read
#     back over its authenticated I/O queues;
#   - refusals: a wrong host secret, a wrong controller secret, no secret.
# The kernel's log must name the hash and group nvmfd holds for each host,
# nvmfd's log must say the same and give the reason of every refusal, and
# nvmfd must stop cleanly.  (Debian's 6.1 has no NVMe authentication.)
#
# usage: linux_host_auth.sh BUILD_DIR
set -u

build=${1:?usage: linux_host_auth.sh BUILD_DIR}
nvmfd="$build/nvmfd"
nvmf="$build/nvmf"
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/util/nvmfd_ready.sh"
. "$repo/tests/interop/lib.sh"
kernel=6.12
nqn=nqn.2024-01.org.nvmfd:interop-auth
host_a=nqn.2024-01.io.example:interop-auth-host-a
host_b=nqn.2024-01.io.example:interop-auth-host-b
host_c=nqn.2024-01.io.example:interop-auth-host-c
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

# Secrets as nvme gen-dhchap-key prints them (nvmf's own generator).
key_a=$("$nvmf" gen-dhchap-key --hmac 1 --nqn "$host_a")
key_b=$("$nvmf" gen-dhchap-key --hmac 2 --nqn "$host_b")
ckey_b=$("$nvmf" gen-dhchap-key --hmac 3 --nqn "$nqn")
wrong=$("$nvmf" gen-dhchap-key --hmac 2 --nqn "$host_b")
key_c=$("$nvmf" gen-dhchap-key --hmac 3 --nqn "$host_c")
ckey_c=$("$nvmf" gen-dhchap-key --hmac 2 --nqn "$nqn")

"$nvmfd" "${nvmfd_guest_opts[@]}" -s 0 --discovery-port 0 -n "$nqn" ramdisk:256M \
	--allow-host "$host_a" --dhchap-secret "$key_a" --dhchap-hash sha256 --dhchap-dhgroup null \
	--allow-host "$host_b" --dhchap-secret "$key_b" --dhchap-ctrl-secret "$ckey_b" \
	--dhchap-hash sha384 --dhchap-dhgroup ffdhe2048 \
	--allow-host "$host_c" --dhchap-secret "$key_c" --dhchap-ctrl-secret "$ckey_c" \
	--dhchap-hash sha512 --dhchap-dhgroup ffdhe3072 2>"$work/nvmfd.log" &
pid=$!
nvmfd_wait_ready "$work/nvmfd.log" "$pid"
port=$(sed -n 's/.*port 1 listening on 127.0.0.1 port \([0-9]*\).*/\1/p' "$work/nvmfd.log")
if [ -z "$port" ]; then
	cat "$work/nvmfd.log"
	echo "FAIL: nvmfd did not start"
	exit 1
fi
echo "nvmfd pid $pid serving $nqn on 127.0.0.1:$port (DH-HMAC-CHAP for hosts A, B and C)"

# Run in the guest after the I/O test (busybox sh; DEV, CTRL, NQN set).
cat >"$work/guest.sh" <<EOF
ADDR=10.0.2.2 PORT=$port HOST_B=$host_b HOST_C=$host_c
KEY_A='$key_a' KEY_B='$key_b' CKEY_B='$ckey_b' WRONG='$wrong'
KEY_C='$key_c' CKEY_C='$ckey_c'
EOF
cat >>"$work/guest.sh" <<'EOF'
rc=0
say() { echo "NVMF-VM: auth-script: $*"; }
check() { if [ "$1" = 0 ]; then say "$2 OK"; else say "$2 FAIL"; rc=1; fi; }
authlines() { dmesg | grep -c "$1: qid 0: authenticated with"; }
# waitlog K TEXT: wait (up to 10 s) until the kernel log past line K says TEXT.
waitlog() {
	i=0
	while ! dmesg | tail -n +$(($1 + 1)) | grep -q "$2" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}

# Re-authentication, as the kernel does when the secret is written again.
n0=$(authlines "$CTRL")
echo "$KEY_A" > /sys/class/nvme/$CTRL/dhchap_secret
i=0
while [ "$(authlines "$CTRL")" -le "$n0" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(authlines "$CTRL")" -gt "$n0" ]; check $? "re-authentication of $CTRL"
dd if=$DEV of=/dev/null bs=64k count=16 iflag=direct 2>/dev/null; check $? "I/O after re-authentication"

# nvme-cli 2.3 allows one controller per address and subsystem, whatever
# the host NQN: host A's goes now, and comes back at the end.
nvme disconnect -d "$CTRL"; check $? "disconnect $CTRL"

# Host B: bidirectional, SHA-384, ffdhe2048 (nvmfd's choice for this host).
HOSTID_B=$(cat /proc/sys/kernel/random/uuid)
B="-t tcp -a $ADDR -s $PORT -n $NQN --hostnqn=$HOST_B --hostid=$HOSTID_B"
k0=$(dmesg | wc -l)
nvme connect $B --dhchap-secret=$KEY_B --dhchap-ctrl-secret=$CKEY_B; check $? "connect as $HOST_B (bidirectional)"
# The kernel logs the authentication as connect returns: wait for the line.
waitlog "$k0" "qid 0: controller authenticated"
dmesg | tail -n +$((k0 + 1)) > /tmp/b.log
grep "qid 0: authenticated with hash hmac(sha384) dhgroup ffdhe2048" /tmp/b.log; check $? "hmac(sha384) ffdhe2048"
grep "qid 0: controller authenticated" /tmp/b.log; check $? "controller authenticated"
CB=$(grep -o "nvme[0-9]*: qid 0: controller authenticated" /tmp/b.log | head -1 | cut -d: -f1)
[ -n "$CB" ] && nvme disconnect -d "$CB"

# Host C: bidirectional, SHA-512, ffdhe3072; I/O over its I/O queues.
C="-t tcp -a $ADDR -s $PORT -n $NQN --hostnqn=$HOST_C --hostid=$(cat /proc/sys/kernel/random/uuid)"
k0=$(dmesg | wc -l)
nvme connect $C --nr-io-queues=2 --dhchap-secret=$KEY_C --dhchap-ctrl-secret=$CKEY_C
check $? "connect as $HOST_C (bidirectional)"
waitlog "$k0" "qid 0: controller authenticated"
dmesg | tail -n +$((k0 + 1)) > /tmp/c.log
grep "qid 0: authenticated with hash hmac(sha512) dhgroup ffdhe3072" /tmp/c.log; check $? "hmac(sha512) ffdhe3072"
grep "qid 0: controller authenticated" /tmp/c.log; check $? "controller authenticated (C)"
CC=$(grep -o "nvme[0-9]*: qid 0: controller authenticated" /tmp/c.log | head -1 | cut -d: -f1)
DC=""
for i in $(seq 50); do
	for b in /sys/block/${CC:-none}n*; do [ -e "$b" ] && DC=/dev/$(basename "$b"); done
	[ -n "$DC" ] && [ -b "$DC" ] && break
	sleep 0.1
done
dd if=/dev/urandom of=/tmp/c.pat bs=64k count=32 2>/dev/null
dd if=/tmp/c.pat of="$DC" bs=64k seek=64 oflag=direct conv=fsync 2>/dev/null &&
	dd if="$DC" of=/tmp/c.back bs=64k skip=64 count=32 iflag=direct 2>/dev/null &&
	cmp -s /tmp/c.pat /tmp/c.back
check $? "2 MiB written and read back as $HOST_C ($DC)"
[ -n "$CC" ] && nvme disconnect -d "$CC"

# Refusals: the connect fails, the kernel says why.
k0=$(dmesg | wc -l)
nvme connect $B --dhchap-secret=$WRONG; [ $? != 0 ]; check $? "wrong host secret refused"
nvme connect $B --dhchap-secret=$KEY_B --dhchap-ctrl-secret=$KEY_B; [ $? != 0 ]; check $? "wrong controller secret refused"
nvme connect $B; [ $? != 0 ]; check $? "no secret refused"
dmesg | tail -n +$((k0 + 1)) > /tmp/r.log
grep -E "qid 0: authentication failed|qid 0: error -" /tmp/r.log; check $? "kernel: authentication failed"
grep "qid 0: controller authentication failed" /tmp/r.log; check $? "kernel: controller authentication failed"
nvme connect -t tcp -a $ADDR -s $PORT -n $NQN --dhchap-secret=$KEY_A; check $? "host A connects again"
exit $rc
EOF

start=$SECONDS
vm_retry_boot "$work/vm.console" "$vm" host --kernel $kernel "${vm_host_opts[@]}" --port "$port" --nqn "$nqn" \
	--hostnqn "$host_a" --dhchap-secret "$key_a" --nr-io-queues 2 --script "$work/guest.sh" \
	--log "$work/vm.console" --quiet >"$work/vm.log" 2>&1
rc=$?
echo "linux host (6.12) -> nvmfd: exit $rc, $((SECONDS - start)) s: $(tail -n 1 "$work/vm.log")"
grep -E "auth-script:|NVMF-VM-STEP: auth" "$work/vm.log" | sed 's/^/  /'
if [ $rc -ne 0 ] || ! grep -q "linux-vm host: PASS" "$work/vm.log"; then
	grep "NVMF-VM" "$work/vm.log" | tail -n 30
	fail "linux-vm host"
fi

# nvmfd's side of the same.
for line in \
	"host $host_a authenticated on $nqn (DH-HMAC-CHAP sha256, null, unidirectional)" \
	"host $host_a re-authenticated on $nqn" \
	"host $host_b authenticated on $nqn (DH-HMAC-CHAP sha384, ffdhe2048, bidirectional)" \
	"host $host_c authenticated on $nqn (DH-HMAC-CHAP sha512, ffdhe3072, bidirectional)" \
	"host response mismatch: wrong host key?" \
	"host aborted authentication"; do
	grep -qF "$line" "$work/nvmfd.log" && pass "nvmfd: $line" || fail "nvmfd log lacks: $line"
done

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || fail "nvmfd exited with $rc after SIGTERM"
if grep -E "^error:" "$work/nvmfd.log"; then
	fail "nvmfd logged errors"
fi
if [ $failed -ne 0 ]; then
	echo "--- nvmfd log (tail)"
	tail -n 40 "$work/nvmfd.log"
	echo "interop auth (Linux host): FAIL"
	exit 1
fi
echo "interop auth (Linux host): PASS"
