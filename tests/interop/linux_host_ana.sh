#!/usr/bin/env bash
# Interop: Linux 6.12 native multipath against nvmfd's ANA.  nvmfd serves one
# namespace on two ports, port 1 optimized and port 2 non-optimized; the
# guest (linux-vm host --unrestricted, one boot) connects the second path,
# checks that both paths show those ANA states, then runs verified I/O while
# nvmfd, asked by the guest over a trigger port, reloads with port 1
# inaccessible and port 2 optimized: the paths must show the new states and
# every write must read back.
#
# usage: linux_host_ana.sh NVMFD_BINARY
set -u

nvmfd=${1:?usage: linux_host_ana.sh NVMFD_BINARY}
kernel=6.12
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/util/nvmfd_ready.sh"
. "$repo/tests/interop/lib.sh"
nqn=nqn.2024-01.org.nvmfd:ana
work=$(mktemp -d)
pid=
trig_pid=

cleanup() {
	[ -n "$trig_pid" ] && kill "$trig_pid" 2>/dev/null
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

# Ports "0": nvmfd picks them, a reload keeps them.
config() {
	cat >"$work/config.json" <<EOF
{"ports": [
  {"portid": 1, "addr": {"trtype": "tcp", "adrfam": "ipv4", "traddr": "127.0.0.1", "trsvcid": "0"},
   "subsystems": ["$nqn"], "ana_groups": [{"grpid": 1, "ana": {"state": "$1"}}]},
  {"portid": 2, "addr": {"trtype": "tcp", "adrfam": "ipv4", "traddr": "127.0.0.1", "trsvcid": "0"},
   "subsystems": ["$nqn"], "ana_groups": [{"grpid": 1, "ana": {"state": "$2"}}]}],
 "subsystems": [{"nqn": "$nqn", "attr": {"allow_any_host": "1"},
   "namespaces": [{"nsid": 1, "enable": 1, "ana_grpid": 1,
                   "device": {"path": "ramdisk:256M"}}]}]}
EOF
}
config optimized non_optimized
"$nvmfd" "${nvmfd_guest_opts[@]}" -c "$work/config.json" --discovery-port 0 2>"$work/nvmfd.log" &
pid=$!
nvmfd_wait_ready "$work/nvmfd.log" "$pid"
p1=$(sed -n 's/.*port 1 listening on 127.0.0.1 port \([0-9]*\).*/\1/p' "$work/nvmfd.log" | head -n 1)
p2=$(sed -n 's/.*port 2 listening on 127.0.0.1 port \([0-9]*\).*/\1/p' "$work/nvmfd.log" | head -n 1)
if [ -z "$p1" ] || [ -z "$p2" ]; then
	cat "$work/nvmfd.log"
	echo "FAIL: nvmfd did not start"
	exit 1
fi

# The trigger: the guest connects, we reload with the states swapped.
trig=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$trig" "$work/config.json" "$pid" "$nqn" <<'EOF' &
import os, signal, socket, sys
port, conf, pid, nqn = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(1)
c, _ = s.accept()
text = open(conf).read()
text = text.replace('"state": "optimized"', '"state": "X"')
text = text.replace('"state": "non_optimized"', '"state": "optimized"')
text = text.replace('"state": "X"', '"state": "inaccessible"')
open(conf + ".new", "w").write(text)
os.rename(conf + ".new", conf)
os.kill(pid, signal.SIGHUP)
c.sendall(b"reloaded\n")
c.close()
EOF
trig_pid=$!
echo "nvmfd pid $pid: $nqn on ports $p1 (optimized) and $p2 (non-optimized); trigger $trig"

cat >"$work/guest.sh" <<EOF
P1=$p1; P2=$p2; TRIG=$trig
EOF
cat >>"$work/guest.sh" <<'EOF'
# The ANA state of the path through port $1.
state_of() {
	for p in /sys/block/nvme*c*n1; do
		case "$(cat $p/device/address 2>/dev/null)," in
		*trsvcid=$1,*) cat $p/ana_state; return ;;
		esac
	done
	echo none
}
show() {
	for p in /sys/block/nvme*c*n1; do
		echo "ANA-PATH: $p $(cat $p/device/address) $(cat $p/ana_state)"
	done
}
fail() { echo "ANA-FAIL: $*"; show; exit 1; }
nvme connect -t tcp -a 10.0.2.2 -s $P2 -n $NQN -l 30 || fail "connect to port $P2"
i=0
while [ $i -lt 150 ] && [ "$(state_of $P2)" = none ]; do sleep 0.2; i=$((i + 1)); done
show
[ "$(state_of $P1)" = optimized ] || fail "port $P1: $(state_of $P1), not optimized"
[ "$(state_of $P2)" = non-optimized ] || fail "port $P2: $(state_of $P2), not non-optimized"
echo "ANA-STEP: two paths OK"

dd if=/dev/urandom of=/tmp/pat bs=1M count=1 2>/dev/null
want=$(md5sum < /tmp/pat)
io() {
	dd if=/tmp/pat of=$DEV bs=1M seek=$1 oflag=direct 2>/dev/null || return 1
	[ "$(dd if=$DEV bs=1M skip=$1 count=1 iflag=direct 2>/dev/null | md5sum)" = "$want" ]
}
io 0 || fail "verified I/O before the reload"
echo 0 > /tmp/rounds
(
	k=0
	while [ ! -e /tmp/stop ]; do
		io $((k % 8)) || echo "round $k" >> /tmp/ioerr
		k=$((k + 1))
		# Replaced whole: a reader must never see the file truncated
		# and empty (it did once, and the wait below ended at once).
		echo $k > /tmp/rounds.new && mv /tmp/rounds.new /tmp/rounds
	done
) &
bg=$!
echo go | nc 10.0.2.2 $TRIG || fail "trigger"
i=0
while [ $i -lt 300 ]; do
	[ "$(state_of $P1)" = inaccessible ] && [ "$(state_of $P2)" = optimized ] && break
	sleep 0.2
	i=$((i + 1))
done
show
[ "$(state_of $P1)" = inaccessible ] || fail "port $P1 after the reload: $(state_of $P1)"
[ "$(state_of $P2)" = optimized ] || fail "port $P2 after the reload: $(state_of $P2)"
echo "ANA-STEP: states after the reload OK"
# I/O goes on over the other path: rounds after the change.
r=$(cat /tmp/rounds)
i=0
while [ $i -lt 600 ] && [ "$(cat /tmp/rounds)" -lt $((r + 3)) ]; do sleep 0.2; i=$((i + 1)); done
[ "$(cat /tmp/rounds)" -ge $((r + 3)) ] || fail "verified I/O stalled after the reload"
touch /tmp/stop
wait $bg
[ -e /tmp/ioerr ] && fail "verified I/O during the reload: $(cat /tmp/ioerr | tr '\n' ' ')"
io 64 || fail "verified I/O after the reload"
echo "ANA-STEP: verified I/O OK ($(cat /tmp/rounds) rounds, $r before the change)"
nvme disconnect -n $NQN >/dev/null 2>&1
EOF

start=$SECONDS
vm_retry_boot "$work/console" "$vm" host --kernel "$kernel" "${vm_host_opts[@]}" --unrestricted --port "$p1" \
	--nqn "$nqn" --script "$work/guest.sh" --log "$work/console" --quiet >"$work/run.log" 2>&1
rc=$?
echo "Linux $kernel host, ANA: exit $rc, $((SECONDS - start)) s: $(tail -n 1 "$work/run.log")"
failed=0
for step in "two paths OK" "states after the reload OK" "verified I/O OK"; do
	if grep -aq "ANA-STEP: $step" "$work/console"; then
		echo "  ok: $step"
	else
		echo "  FAIL: $step"
		failed=1
	fi
done
grep -a "ANA-PATH\|ANA-FAIL\|ANA-STEP" "$work/console" | sed 's/^/  guest: /'
if [ $rc -ne 0 ] || ! grep -q "linux-vm host: PASS" "$work/run.log"; then
	grep "NVMF-VM" "$work/run.log" | tail -n 20
	failed=1
fi
grep -q "port 1: ANA group 1 inaccessible" "$work/nvmfd.log" || {
	echo "  FAIL: nvmfd did not log the reload's ANA change"
	failed=1
}
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
if [ $rc -ne 0 ]; then
	echo "FAIL: nvmfd exited with $rc after SIGTERM"
	failed=1
fi
if [ $failed -ne 0 ]; then
	echo "--- nvmfd log (tail)"
	tail -n 40 "$work/nvmfd.log"
	echo "interop (Linux $kernel host, ANA multipath): FAIL"
	exit 1
fi
echo "interop (Linux $kernel host, ANA multipath): PASS"
