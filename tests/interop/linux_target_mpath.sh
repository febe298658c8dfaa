#!/usr/bin/env bash
# Interop: the nvmf host's multipath against the real Linux 6.12 target.
# One guest (linux-vm shell, driven through its serial console) runs nvmet
# with one RAM namespace in ANA group 2 behind two ports, each port with its
# own state for the group.  nvmf list-paths must show the states nvmet
# gives; nvmf perf --verify over both paths (round-robin, then queue-depth)
# must see no error and no wrong data while the guest makes the first port
# inaccessible, swaps the ports, makes both inaccessible for two seconds
# and puts them back.
#
# `linux-vm target` configures one port and takes no commands once up, so
# this test boots `linux-vm shell` with its stdin on a FIFO: the guest's
# shell is the control channel (each command ends in an "ACK <tag> <status>"
# line on the console), and QEMU's monitor (Ctrl-A c on the same stdio)
# adds the second port's host forward (hostfwd_add).
#
# usage: linux_target_mpath.sh BUILD_DIR
set -u

build=${1:?usage: linux_target_mpath.sh BUILD_DIR}
kernel=6.12
nvmf="$build/nvmf"
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/interop/lib.sh"
nqn=nqn.2024-01.io.example:nvmet-mpath
work=$(mktemp -d)
console=$work/console.log
vmpid=
failed=0

fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
pass() { echo "ok: $*"; }
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Power the guest off; its process group (setsid below) if it does not go.
cleanup() {
	if [ -n "$vmpid" ]; then
		printf 'poweroff -f\n' >&3 2>/dev/null
		exec 3>&-
		for _ in $(seq 100); do kill -0 "$vmpid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$vmpid" 2>/dev/null && kill -TERM -- "-$vmpid" 2>/dev/null
		wait "$vmpid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# wait_console REGEX: a console line matches it (60 s).
wait_console() {
	for _ in $(seq 600); do
		grep -aEq "$1" "$console" && return 0
		kill -0 "$vmpid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# guest TAG CMD: run one shell line in the guest; true if it exited 0.
guest() {
	printf '%s; echo "ACK %s $?"\n' "$2" "$1" >&3
	if ! wait_console "ACK $1 [0-9]+"; then
		fail "guest: no answer to '$2'"
		return 1
	fi
	grep -aEq "ACK $1 0" "$console" || { fail "guest: '$2' failed"; return 1; }
}

if [ ! -x "$vm" ]; then
	echo "SKIP: $vm not found (the interop harness lives in shared/interop beside the repo)"
	exit 77
fi
if ! "$vm" build --kernel "$kernel" >"$work/build.log" 2>&1; then
	cat "$work/build.log"
	echo "FAIL: linux-vm build --kernel $kernel"
	exit 1
fi

p1=$(free_port)
p2=$(free_port)
mkfifo "$work/in"
setsid "$vm" shell --kernel "$kernel" --port "$p1" <"$work/in" >"$console" 2>&1 &
vmpid=$!
exec 3>"$work/in"
if ! wait_console '^NVMF-VM: interactive shell'; then
	tail -20 "$console"
	echo "FAIL: the guest shell did not come up"
	exit 1
fi
# The monitor: 127.0.0.1:p2 to the guest's second nvmet port, then back.
printf '\001chostfwd_add n0 tcp:127.0.0.1:%s-:4421\n\001c' "$p2" >&3
printf 'stty -echo; echo 4 > /proc/sys/kernel/printk\n' >&3
guest boot 'echo "KVER=$(uname -r)"' || { tail -n 20 "$console" | tr -d '\r'; exit 1; }
if grep -aq "Could not set up host forwarding" "$console"; then
	echo "FAIL: hostfwd_add 127.0.0.1:$p2 refused"
	exit 1
fi
grep -aq "KVER=$kernel\\." "$console" && pass "the guest runs Linux $kernel" ||
	fail "the guest does not run Linux $kernel: $(grep -a '^NVMF-VM: init' "$console")"

# nvmet: namespace 1 (64 MiB brd) in ANA group 2; ports 1 (4420) and 2
# (4421), the group optimized on port 1 and non-optimized on port 2.
guest vars "C=/sys/kernel/config/nvmet; S=\$C/subsystems/$nqn" &&
guest brd 'insmod /lib/modules/$(uname -r)/$(grep /brd.ko /etc/nvmf-modules/target-brd) rd_nr=1 rd_size=65536 max_part=0' &&
guest subsys 'mkdir $S && echo 1 > $S/attr_allow_any_host' &&
guest ports 'r=; for p in 1 2; do P=$C/ports/$p; mkdir $P && echo tcp > $P/addr_trtype && echo ipv4 > $P/addr_adrfam && echo 0.0.0.0 > $P/addr_traddr && echo $((4419 + p)) > $P/addr_trsvcid && mkdir $P/ana_groups/2 || r=1; done; [ -z "$r" ]' &&
guest anafn 'ana() { echo $1 > $C/ports/1/ana_groups/2/ana_state && echo $2 > $C/ports/2/ana_groups/2/ana_state; }' &&
guest ana0 'ana optimized non-optimized' &&
guest ns 'mkdir $S/namespaces/1 && echo -n /dev/ram0 > $S/namespaces/1/device_path && echo 2 > $S/namespaces/1/ana_grpid && echo 1 > $S/namespaces/1/enable' &&
guest link 'r=; for p in 1 2; do ln -s $S $C/ports/$p/subsystems/ || r=1; done; [ -z "$r" ]' || { tail -n 20 "$console" | tr -d '\r'; exit 1; }
echo "Linux $kernel nvmet: 127.0.0.1:$p1 (port 1) and 127.0.0.1:$p2 (port 2)"
paths=(-a 127.0.0.1 -s "$p1" -s "$p2" -n "$nqn")

# wait_states S1 S2: list-paths shows port 1 and port 2 in these states
# (nvmet's names; 60 s).
wait_states() {
	local s1=${1//-/_} s2=${2//-/_}
	for _ in $(seq 120); do
		"$nvmf" list-paths "${paths[@]}" >"$work/paths.txt" 2>&1 &&
			grep -q "127.0.0.1:$p1 .*ANA group 2 $s1" "$work/paths.txt" &&
			grep -q "127.0.0.1:$p2 .*ANA group 2 $s2" "$work/paths.txt" && return 0
		sleep 0.5
	done
	return 1
}
if wait_states optimized non-optimized; then
	pass "list-paths: nvmet's states$(sed -n 's/^  path [0-9]  \(.*\)/; \1/p' "$work/paths.txt" | tr -s ' ' | tr -d '\n')"
else
	fail "list-paths: $(cat "$work/paths.txt")"
fi

# perf_ticks N: perf has printed N progress lines (one a second; 60 s).
perf_ticks() {
	for _ in $(seq 600); do
		[ "$(grep -c IOPS "$work/perf.err")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# perf_moving N: a progress line after the first N shows I/O done (60 s).
perf_moving() {
	for _ in $(seq 600); do
		grep IOPS "$work/perf.err" | tail -n +$(($1 + 1)) |
			sed 's/.*] *\([0-9]*\) IOPS.*/\1/' | grep -q '[1-9]' && return 0
		sleep 0.1
	done
	return 1
}

# One verified perf run under POLICY while the guest changes the states:
# port 1 inaccessible, the ports swapped, both inaccessible (I/O waits),
# as at the start.  Each change is waited on in list-paths; then perf must
# show I/O done after it (two more seconds while no path is usable).
run_flips() {
	local policy=$1 t flip
	: >"$work/perf.err"
	"$nvmf" perf --rw randrw --bs 4k --iodepth 16 --runtime 40 --verify --size 16M \
		--iopolicy "$policy" -o json "${paths[@]}" >"$work/perf.json" 2>"$work/perf.err" &
	local perf=$!
	perf_ticks 2 || fail "$policy: perf did not start: $(tail -3 "$work/perf.err")"
	for flip in "inaccessible optimized" "optimized inaccessible" "inaccessible inaccessible" \
		"optimized non-optimized"; do
		set -- $flip
		guest "$policy-$1-$2" "ana $1 $2" || break
		wait_states "$1" "$2" || fail "$policy: list-paths after 'ana $1 $2': $(cat "$work/paths.txt")"
		t=$(grep -c IOPS "$work/perf.err")
		if [ "$1 $2" = "inaccessible inaccessible" ]; then
			perf_ticks $((t + 2)) || fail "$policy: perf stopped while no path was usable"
			echo "  $policy: no path usable, IOPS a second: $(grep IOPS "$work/perf.err" |
				tail -n +$((t + 1)) | sed 's/.*] *\([0-9]*\) IOPS.*/\1/' | tr '\n' ' ')"
		else
			perf_moving "$t" || fail "$policy: no I/O done after 'ana $1 $2'"
		fi
	done
	if grep -q "reading the region back" "$work/perf.err"; then
		fail "$policy: perf's 40 s ran out before the state changes were done"
	fi
	if wait "$perf" && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["errors"] == 0, d["errors"]
assert d["verify"]["mismatches"] == 0 and d["verify"]["checked"] > 0, d["verify"]
assert all(p["commands"] > 0 for p in d["paths"]), d["paths"]
print("  %s: %.0f IOPS, %d blocks verified, commands per path %s" % (sys.argv[2], d["iops"],
      d["verify"]["checked"], [p["commands"] for p in d["paths"]]))
' "$work/perf.json" "$policy"; then
		pass "$policy: perf --verify over both paths across four ANA changes: no error, no mismatch"
	else
		fail "$policy: $(tail -n 5 "$work/perf.err"; head -c 1500 "$work/perf.json")"
	fi
}
run_flips round-robin
run_flips queue-depth

# What nvmet refused on the inaccessible path, and the host sent again.
guest refused 'echo "REFUSED $(dmesg | grep -c "nvmet_tcp: failed cmd")"' &&
	echo "  nvmet refused $(sed -n 's/.*REFUSED \([0-9]*\).*/\1/p' "$console" | tail -1) command(s) on an inaccessible path (retried by the host)"
if grep -aEq 'Oops|BUG:|WARNING:' "$console"; then
	fail "the guest kernel complained: $(grep -aE -m3 'Oops|BUG:|WARNING:' "$console")"
fi

if [ "$failed" != 0 ]; then
	tail -n 40 "$console" | tr -d '\r'
	echo "$failed check(s) failed"
	exit 1
fi
echo "linux_target_mpath (Linux $kernel): all passed"
