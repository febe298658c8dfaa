#!/bin/bash
# SPDX-License-Identifier: MIT
# nvmfd serving Ceph RBD images from the one-node cluster the rbd_cluster
# fixture starts (scripts/ceph-test-cluster), driven with the nvmf command.
#   rbd_test.sh BUILD_DIR CLUSTER_DIR CASE
# CASE: failover     written through one gateway, that gateway killed -9, read
#                    back through a second; one namespace identity on both
#       twogw        two gateways on one image, both serving at once: one
#                    namespace identity, writes through each read back through
#                    the other, concurrently from two host connections
#       durability   FUA and Flush: acknowledged data is in `rbd export`
#       resize       `rbd resize` while served: a connected host gets the
#                    Namespace Attribute Changed event and the new capacity,
#                    and I/O past the old end works
#       outage       the OSD stopped: I/O fails within the bound, the other
#                    namespace serves, the RBD one serves again once it is back
#       unreachable  no cluster at start-up: that namespace is left out with
#                    the reason, the others are served
#       resv         two gateways with reservations on one image: a Write
#                    Exclusive taken through A holds through B, its release
#                    through A frees B, a preempt through B is seen by A (and
#                    heard of by A's connected host); registrations racing
#                    through both gateways all land
#       mpath        the multipath host (nvmf perf, two paths) verifying I/O
#                    through both gateways while one is killed -9 and
#                    restarted: no error, no mismatch
# Exit 77 (skipped), saying why, when the cluster is not there.
set -u

BUILD=${1:?usage: rbd_test.sh BUILD_DIR CLUSTER_DIR CASE}
CLUSTER=${2:?usage: rbd_test.sh BUILD_DIR CLUSTER_DIR CASE}
CASE=${3:?usage: rbd_test.sh BUILD_DIR CLUSTER_DIR CASE}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../util/nvmfd_ready.sh"
SCRIPT=$HERE/../../scripts/ceph-test-cluster
NVMF=$BUILD/nvmf
NVMFD=$BUILD/nvmfd
NQN=nqn.2024-01.io.example:rbd-$CASE
IMAGE=rbd/$CASE-$$
# Short cluster timeouts so outages show quickly; the default bound is 20 s.
OP_TIMEOUT=5
export CEPH_ARGS="--rados_osd_op_timeout=$OP_TIMEOUT --rados_mon_op_timeout=$OP_TIMEOUT --client_mount_timeout=$OP_TIMEOUT"
DIR=$(mktemp -d /tmp/nvmf-rbd-test.XXXXXX)
PIDS=()
FAILURES=0
CREATED=
KILLED=

# gone PID: exited (a zombie not yet waited for counts)
gone() { [ ! -e "/proc/$1" ] || [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ]; }

# Gateways stopped with SIGTERM close the image and drop their watch on it;
# one killed -9 leaves its watch until the OSD times it out (30 s), and
# rbd rm waits on it: such an image is left to the fixture's cluster stop.
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 400); do gone "$pid" && break; sleep 0.05; done
		gone "$pid" || { kill -9 "$pid" 2>/dev/null; KILLED=1; }
	done
	wait 2>/dev/null
	[ -n "$CREATED" ] && [ -z "$KILLED" ] && timeout 30 rbd rm --no-progress "$IMAGE" >/dev/null 2>&1
	rm -rf "$DIR"
}
trap cleanup EXIT

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
fail() { echo "FAIL: $*" >&2; FAILURES=$((FAILURES + 1)); }
pass() { echo "ok: $*"; }

if [ ! -r "$CLUSTER/ceph.conf" ]; then
	echo "SKIP: no test cluster in $CLUSTER (rbd_cluster_start skipped or failed: see its output)"
	exit 77
fi
[ -x "$NVMFD" ] && "$NVMFD" --help | grep -q rbd: || { echo "FAIL: nvmfd missing"; exit 1; }
export CEPH_CONF=$CLUSTER/ceph.conf

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_nvmfd NAME PORT ARGS...: start, wait for "ready"; pid in NVMFD_PID
start_nvmfd() {
	local name=$1 port=$2
	shift 2
	"$NVMFD" -s "$port" --discovery-port 0 -n "$NQN" "$@" >"$DIR/$name.log" 2>&1 &
	wait_ready "$name" $!
}

# start_resv_nvmfd NAME PORT: a gateway on the image with reservations
# enabled (an nvmetcli-format file: the command line has no such option)
start_resv_nvmfd() {
	local name=$1 port=$2
	cat >"$DIR/$name.json" <<JSON
{"hosts": [], "ports": [{"addr": {"adrfam": "ipv4", "traddr": "127.0.0.1",
  "treq": "not specified", "trsvcid": "$port", "trtype": "tcp"}, "portid": 1,
  "referrals": [], "subsystems": ["$NQN"]}],
 "subsystems": [{"allowed_hosts": [], "attr": {"allow_any_host": "1"},
  "namespaces": [{"device": {"path": "rbd:$IMAGE"}, "enable": 1, "nsid": 1,
  "resv": {"enable": "1"}}], "nqn": "$NQN"}]}
JSON
	# -v: the debug line of a compare-and-swap lost to the other gateway.
	"$NVMFD" -v -c "$DIR/$name.json" --discovery-port 0 --data-dir "$DIR/$name.data" \
		>"$DIR/$name.log" 2>&1 &
	wait_ready "$name" $!
}

# wait_ready NAME PID
wait_ready() {
	local name=$1
	NVMFD_PID=$2
	PIDS+=("$NVMFD_PID")
	# Opening an image is a few cluster round trips; an unreachable
	# cluster is bounded by client_mount_timeout.
	nvmfd_wait_ready "$DIR/$name.log" "$NVMFD_PID" && return 0
	echo "nvmfd did not start:" >&2
	cat "$DIR/$name.log" >&2
	exit 1
}

uri() { echo "nvme+tcp://127.0.0.1:$1/$NQN"; }

# io NAME PORT CMD ARGS...: an nvmf command; output in $DIR/NAME.{out,err}
io() {
	local name=$1 port=$2 cmd=$3
	shift 3
	"$NVMF" "$cmd" "$@" "$(uri "$port")" >"$DIR/$name.out" 2>"$DIR/$name.err"
}

expect_ok() {
	local name=$1
	shift
	if io "$name" "$@"; then pass "$name"; else fail "$name: $(head -c 400 "$DIR/$name.err")"; fi
}

create_image() {
	timeout 60 rbd create --size "$1" --image-feature layering "$IMAGE" ||
		{ echo "FAIL: rbd create $IMAGE"; exit 1; }
	CREATED=1
}

# export_range OFFSET LENGTH: those bytes of the image, as the cluster has them
export_range() {
	rm -f "$DIR/export.img"
	timeout 60 rbd export --no-progress "$IMAGE" "$DIR/export.img" >/dev/null &&
		dd if="$DIR/export.img" bs=4096 skip=$(($1 / 4096)) count=$(($2 / 4096)) 2>/dev/null
}

# ns_identity PORT: namespace 1's identification descriptors, on one line
ns_identity() {
	"$BUILD/tests/rbd_host" ids "$(uri "$1")" 1 2>"$DIR/ids-$1.err" | sort | tr '\n' ' '
}

case_failover() {
	local a b id_a id_b
	create_image 64M
	head -c $((1024 * 1024)) /dev/urandom >"$DIR/data.bin"
	a=$(free_port)
	start_nvmfd gw-a "$a" "rbd:$IMAGE"
	local pid_a=$NVMFD_PID
	expect_ok write-a "$a" write --nsid 1 --offset 65536 --length 1048576 --data "$DIR/data.bin"
	id_a=$(ns_identity "$a")
	# A second gateway on the same image while the first runs: one namespace.
	b=$(free_port)
	start_nvmfd gw-b "$b" "rbd:$IMAGE"
	id_b=$(ns_identity "$b")
	if [ -n "$id_a" ] && [ "$id_a" = "$id_b" ]; then
		pass "same identifiers on both gateways ($id_a)"
	else
		fail "identifiers differ: '$id_a' and '$id_b' $(cat "$DIR"/ids-*.err)"
	fi
	kill -9 "$pid_a"
	KILLED=1
	wait "$pid_a" 2>/dev/null
	if io read-b "$b" read --nsid 1 --offset 65536 --length 1048576 --data - &&
		cmp -s "$DIR/read-b.out" "$DIR/data.bin"; then
		pass "written through gateway A, A killed -9, read back through gateway B"
	else
		fail "read back through gateway B differs: $(head -c 400 "$DIR/read-b.err")"
	fi
}

# rw_through NAME PORT OFFSET FILE: write FILE at OFFSET through the gateway
# on PORT, then read it back through the same one; status in $DIR/NAME.rc
rw_through() {
	local name=$1 port=$2 off=$3 file=$4 len
	len=$(stat -c %s "$file")
	if io "$name-w" "$port" write --nsid 1 --offset "$off" --length "$len" --data "$file" &&
		io "$name-r" "$port" read --nsid 1 --offset "$off" --length "$len" --data - &&
		cmp -s "$DIR/$name-r.out" "$file"; then
		echo 0 >"$DIR/$name.rc"
	else
		echo 1 >"$DIR/$name.rc"
	fi
}

# read_matches NAME PORT OFFSET FILE: the range read through PORT is FILE
read_matches() {
	io "$1" "$2" read --nsid 1 --offset "$3" --length "$(stat -c %s "$4")" --data - &&
		cmp -s "$DIR/$1.out" "$4"
}

case_twogw() {
	local a b id_a id_b i port
	create_image 64M
	a=$(free_port)
	b=$(free_port)
	start_nvmfd gw-a "$a" "rbd:$IMAGE"
	start_nvmfd gw-b "$b" "rbd:$IMAGE"
	id_a=$(ns_identity "$a")
	id_b=$(ns_identity "$b")
	if [ "$id_a" = "$id_b" ] && [[ $id_a == *nguid* && $id_a == *uuid* ]]; then
		pass "same NGUID, UUID and EUI-64 through both gateways ($id_a)"
	else
		fail "identities differ or are missing: '$id_a' and '$id_b'"
	fi
	# One after the other: each gateway sees what the other wrote (no cache).
	head -c 262144 /dev/urandom >"$DIR/seq-a.bin"
	head -c 262144 /dev/urandom >"$DIR/seq-b.bin"
	expect_ok seq-write-a "$a" write --nsid 1 --offset 0 --length 262144 --data "$DIR/seq-a.bin"
	read_matches seq-read-b "$b" 0 "$DIR/seq-a.bin" &&
		pass "written through A, read through B" || fail "B does not read what A wrote"
	expect_ok seq-write-b "$b" write --nsid 1 --offset 0 --length 262144 --data "$DIR/seq-b.bin"
	read_matches seq-read-a "$a" 0 "$DIR/seq-b.bin" &&
		pass "overwritten through B, read through A" || fail "A reads stale data after B's write"
	# At once: two host connections, one per gateway, on interleaved ranges.
	for i in 0 1 2 3; do
		head -c 524288 /dev/urandom >"$DIR/par-$i.bin"
	done
	local jobs=()
	for i in 0 1 2 3; do
		port=$([ $((i % 2)) = 0 ] && echo "$a" || echo "$b")
		rw_through par-$i "$port" $(((8 + i) << 20)) "$DIR/par-$i.bin" &
		jobs+=($!)
	done
	wait "${jobs[@]}"
	for i in 0 1 2 3; do
		[ "$(cat "$DIR/par-$i.rc" 2>/dev/null)" = 0 ] || fail "concurrent write+read $i: $(cat "$DIR/par-$i-w.err" "$DIR/par-$i-r.err" 2>/dev/null | head -c 400)"
	done
	# Each range crosses over: what A wrote through B, what B wrote through A.
	for i in 0 1 2 3; do
		port=$([ $((i % 2)) = 0 ] && echo "$b" || echo "$a")
		read_matches cross-$i "$port" $(((8 + i) << 20)) "$DIR/par-$i.bin" ||
			fail "range $i written concurrently does not read back through the other gateway"
	done
	[ "$FAILURES" -eq 0 ] && pass "concurrent writes through both gateways, each read back through the other"
	kill -0 "$NVMFD_PID" 2>/dev/null || fail "a gateway died"
}

case_resize() {
	local port grown
	create_image 16M
	grown=$((48 * 1024 * 1024))
	head -c 65536 /dev/urandom >"$DIR/tail.bin"
	port=$(free_port)
	start_nvmfd gw "$port" "rbd:$IMAGE"
	if io past-end "$port" write --nsid 1 --offset $((32 << 20)) --length 65536 --data "$DIR/tail.bin"; then
		fail "a write past the 16 MiB image's end succeeded"
	fi
	if "$BUILD/tests/rbd_host" resize "$(uri "$port")" 1 "$grown" \
		timeout 60 rbd resize --no-progress --size 48M "$IMAGE" >"$DIR/aen.out" 2>&1; then
		pass "rbd resize 16M -> 48M: $(tail -n 1 "$DIR/aen.out")"
	else
		fail "resize not announced: $(cat "$DIR/aen.out")"
	fi
	grep -q "namespace 1 grew from 32768 to 98304 blocks" "$DIR/gw.log" &&
		pass "nvmfd logged the growth" || fail "no log line for the growth"
	expect_ok past-old-end "$port" write --nsid 1 --offset $((32 << 20)) --length 65536 --data "$DIR/tail.bin"
	if read_matches past-old-end-read "$port" $((32 << 20)) "$DIR/tail.bin" &&
		export_range $((32 << 20)) 65536 | cmp -s - "$DIR/tail.bin"; then
		pass "I/O past the old end, in rbd export"
	else
		fail "data past the old end not read back"
	fi
}

case_durability() {
	local port
	create_image 32M
	head -c 65536 /dev/urandom >"$DIR/fua.bin"
	head -c 131072 /dev/urandom >"$DIR/flushed.bin"
	port=$(free_port)
	start_nvmfd gw "$port" "rbd:$IMAGE"
	expect_ok write-fua "$port" write --nsid 1 --offset 0 --length 65536 --fua --data "$DIR/fua.bin"
	expect_ok write "$port" write --nsid 1 --offset 1048576 --length 131072 --data "$DIR/flushed.bin"
	expect_ok flush "$port" flush --nsid 1
	expect_ok write-zeroes-data "$port" write --nsid 1 --offset 4194304 --length 65536 --data "$DIR/fua.bin"
	expect_ok write-zeroes "$port" write-zeroes --nsid 1 --offset 4194304 --length 65536
	expect_ok flush-2 "$port" flush --nsid 1
	kill -9 "$NVMFD_PID"
	KILLED=1
	wait "$NVMFD_PID" 2>/dev/null
	if export_range 0 65536 | cmp -s - "$DIR/fua.bin"; then
		pass "FUA write in rbd export after the gateway's kill -9"
	else
		fail "FUA write not in rbd export"
	fi
	if export_range 1048576 131072 | cmp -s - "$DIR/flushed.bin"; then
		pass "write + Flush in rbd export after the gateway's kill -9"
	else
		fail "flushed write not in rbd export"
	fi
	if export_range 4194304 65536 | cmp -s - <(head -c 65536 /dev/zero); then
		pass "Write Zeroes in rbd export"
	else
		fail "Write Zeroes range not zero in rbd export"
	fi
}

case_outage() {
	local port start elapsed
	create_image 32M
	head -c 65536 /dev/urandom >"$DIR/data.bin"
	port=$(free_port)
	start_nvmfd gw "$port" "rbd:$IMAGE" ramdisk:16M
	expect_ok before "$port" write --nsid 1 --offset 0 --length 65536 --data "$DIR/data.bin"
	"$SCRIPT" stop-osd "$CLUSTER" || { fail "stopping the OSD"; return; }
	start=$(now_ms)
	if io during "$port" write --nsid 1 --offset 65536 --length 65536 --data "$DIR/data.bin"; then
		fail "a write with the OSD stopped succeeded"
	else
		elapsed=$(($(now_ms) - start))
		# The bound: the OSD operation timeout, plus slack for a loaded machine.
		if [ "$elapsed" -lt $((OP_TIMEOUT * 4000)) ]; then
			pass "write with the OSD stopped failed after ${elapsed} ms: $(head -c 200 "$DIR/during.err")"
		else
			fail "write with the OSD stopped took ${elapsed} ms to fail"
		fi
	fi
	grep -q "namespace 1: write of 65536 bytes at 65536 failed" "$DIR/gw.log" &&
		pass "nvmfd logged the failed write" || fail "no log line for the failed write"
	expect_ok other-ns "$port" write --nsid 2 --offset 0 --length 65536 --data "$DIR/data.bin"
	expect_ok other-ns-read "$port" read --nsid 2 --offset 0 --length 65536 --data -
	kill -0 "$NVMFD_PID" 2>/dev/null && pass "nvmfd alive through the outage" || fail "nvmfd died"
	"$SCRIPT" start-osd "$CLUSTER" || { fail "restarting the OSD"; return; }
	expect_ok after "$port" write --nsid 1 --offset 65536 --length 65536 --data "$DIR/data.bin"
	if io after-read "$port" read --nsid 1 --offset 0 --length 65536 --data - &&
		cmp -s "$DIR/after-read.out" "$DIR/data.bin"; then
		pass "serves the RBD namespace again once the OSD is back"
	else
		fail "RBD namespace after the outage: $(head -c 400 "$DIR/after-read.err")"
	fi
	# A clean stop (under ASan: LeakSanitizer finds nothing left behind).
	kill -TERM "$NVMFD_PID"
	if wait "$NVMFD_PID"; then
		pass "nvmfd stops cleanly after the outage"
	else
		fail "nvmfd exit status $? on SIGTERM: $(tail -c 1500 "$DIR/gw.log")"
	fi
}

case_unreachable() {
	local port start elapsed
	# A configuration naming a monitor nobody listens on.
	sed "s|^mon host = .*|mon host = v2:127.0.0.1:$(free_port)|" "$CEPH_CONF" >"$DIR/nowhere.conf"
	port=$(free_port)
	start=$(now_ms)
	start_nvmfd gw "$port" --ceph-conf "$DIR/nowhere.conf" rbd:rbd/missing ramdisk:16M
	elapsed=$(($(now_ms) - start))
	# Bounded by client_mount_timeout, plus slack for a loaded machine.
	[ "$elapsed" -lt $((OP_TIMEOUT * 4000)) ] || fail "ready only after ${elapsed} ms"
	if grep -q "namespace 1: rbd:rbd/missing: cannot connect to the Ceph cluster as client.admin: Connection timed out; not served" "$DIR/gw.log"; then
		pass "unreachable cluster: namespace 1 left out with the reason, ready after ${elapsed} ms"
	else
		fail "no reason logged for namespace 1: $(cat "$DIR/gw.log")"
	fi
	if io list "$port" list-ns -o json &&
		python3 -c "import json,sys; d=json.load(open('$DIR/list.out')); sys.exit(0 if [n['nsid'] for n in d['namespaces']] == [2] else 1)"; then
		pass "only namespace 2 is active"
	else
		fail "active namespaces: $(cat "$DIR/list.out")"
	fi
	expect_ok other-ns "$port" write --nsid 2 --offset 0 --length 4096 --data <(head -c 4096 /dev/zero)
}

HA=(-q nqn.2024-01.io.example:rbd-host-a -I 0a0a0a0a-1111-2222-3333-444444444444)
HB=(-q nqn.2024-01.io.example:rbd-host-b -I 0b0b0b0b-1111-2222-3333-444444444444)

# expect_conflict NAME PORT CMD ARGS...: refused with Reservation Conflict
expect_conflict() {
	local name=$1
	shift
	if io "$name" "$@"; then
		fail "$name succeeded"
	elif grep -q "reservation conflict" "$DIR/$name.err"; then
		pass "$name: reservation conflict"
	else
		fail "$name: $(head -c 400 "$DIR/$name.err")"
	fi
}

# report_is NAME PORT PYTHON_CONDITION: a report through PORT, as JSON in d
report_is() {
	io "$1" "$2" resv-report "${HA[@]}" --nsid 1 --eds -o json &&
		python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($3) else 1)" \
			"$DIR/$1.out"
}

case_resv() {
	local a b i jobs=()
	create_image 32M
	head -c 4096 /dev/urandom >"$DIR/block"
	a=$(free_port)
	b=$(free_port)
	start_resv_nvmfd gw-a "$a"
	local pid_a=$NVMFD_PID
	start_resv_nvmfd gw-b "$b"
	local W=(--nsid 1 --offset 0 --length 4096 --data "$DIR/block")
	expect_ok register-a "$a" resv-register "${HA[@]}" --nsid 1 --nrkey 0xa --rrega 0
	expect_ok acquire-a "$a" resv-acquire "${HA[@]}" --nsid 1 --crkey 0xa --rtype 1 --racqa 0
	expect_conflict write-b-through-b "$b" write "${HB[@]}" "${W[@]}"
	expect_ok read-b-through-b "$b" read "${HB[@]}" --nsid 1 --offset 0 --length 4096 --data -
	expect_ok write-a-through-b "$b" write "${HA[@]}" "${W[@]}"
	report_is report-b "$b" "d['rtype'] == 1 and d['regctl'] == 1 and d['registrants'][0]['rcsts'] == 1" &&
		pass "gateway B reports A's Write Exclusive" || fail "report through B: $(cat "$DIR/report-b.out")"
	expect_ok release-a "$a" resv-release "${HA[@]}" --nsid 1 --crkey 0xa --rtype 1 --rrela 0
	expect_ok write-b-after-release "$b" write "${HB[@]}" "${W[@]}"
	# A holds again; B registers and preempts it through gateway B, while
	# host A, connected to gateway A, waits for the notice.
	expect_ok acquire-a-again "$a" resv-acquire "${HA[@]}" --nsid 1 --crkey 0xa --rtype 1 --racqa 0
	expect_conflict write-b-again "$b" write "${HB[@]}" "${W[@]}"
	expect_ok register-b "$b" resv-register "${HB[@]}" --nsid 1 --nrkey 0xb --rrega 0
	if "$BUILD/tests/rbd_host" notice "$(uri "$a")" 1 "${HA[1]}" "${HA[3]}" 1 \
		"$NVMF" resv-acquire "${HB[@]}" --nsid 1 --crkey 0xb --prkey 0xa --rtype 1 --racqa 1 \
		"$(uri "$b")" >"$DIR/notice.out" 2>&1; then
		pass "preempt through B: host A on gateway A told its registration was preempted ($(tail -n 1 "$DIR/notice.out"))"
	else
		fail "preempt through B not heard of through A: $(cat "$DIR/notice.out")"
	fi
	report_is report-a "$a" "d['rtype'] == 1 and d['regctl'] == 1 and d['registrants'][0]['rkey'] == 0xb and d['registrants'][0]['rcsts'] == 1" &&
		pass "gateway A reports B holding, A gone" || fail "report through A: $(cat "$DIR/report-a.out")"
	expect_conflict write-a-through-a "$a" write "${HA[@]}" "${W[@]}"
	expect_ok write-b-through-a "$a" write "${HB[@]}" "${W[@]}"
	# Registrations racing through both gateways: every one lands (the
	# loser of a compare-and-swap decides again on the winner's state).
	for i in 1 2 3 4 5 6; do
		io reg-$i "$([ $((i % 2)) = 0 ] && echo "$a" || echo "$b")" resv-register \
			-q "nqn.2024-01.io.example:rbd-host-c$i" -I "0c0c0c0c-1111-2222-3333-44444444440$i" \
			--nsid 1 --nrkey "0xc$i" --rrega 0 &
		jobs+=($!)
	done
	for i in "${!jobs[@]}"; do
		wait "${jobs[$i]}" || fail "racing registration $((i + 1)): $(cat "$DIR/reg-$((i + 1)).err")"
	done
	report_is report-race "$b" "d['regctl'] == 7" &&
		pass "6 registrations racing through both gateways: 7 registrants ($(cat "$DIR"/gw-*.log | grep -c "changed the reservation first") lost compare-and-swaps decided again)" ||
		fail "after racing registrations: $(cat "$DIR/report-race.out")"
	grep -q "reservation object nvmf_resv\." "$DIR/gw-a.log" "$DIR/gw-b.log" &&
		fail "a gateway logged a reservation store problem: $(grep -h "reservation object" "$DIR"/gw-*.log)"
	# Clean stops (under ASan: LeakSanitizer finds nothing left behind).
	kill -TERM "$pid_a" "$NVMFD_PID"
	wait "$pid_a" || fail "gateway A exit status $? on SIGTERM: $(tail -c 1500 "$DIR/gw-a.log")"
	wait "$NVMFD_PID" || fail "gateway B exit status $? on SIGTERM: $(tail -c 1500 "$DIR/gw-b.log")"
}

# perf_ticks N: perf has printed N progress lines (one a second; 60 s).
perf_ticks() {
	for _ in $(seq 600); do
		[ "$(grep -c IOPS "$DIR/perf.err")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

case_mpath() {
	local a b pid_a perf ticks
	create_image 64M
	a=$(free_port)
	b=$(free_port)
	start_nvmfd gw-a "$a" "rbd:$IMAGE"
	pid_a=$NVMFD_PID
	start_nvmfd gw-b "$b" "rbd:$IMAGE"
	"$NVMF" perf --rw randrw --bs 4k --iodepth 16 --runtime 14 --verify --size 16M \
		-c 1 -l 60 -o json -a 127.0.0.1 -s "$a" -s "$b" -n "$NQN" \
		>"$DIR/perf.json" 2>"$DIR/perf.err" &
	perf=$!
	perf_ticks 3 || fail "perf did not start: $(cat "$DIR/perf.err")"
	kill -9 "$pid_a"
	KILLED=1
	wait "$pid_a" 2>/dev/null
	ticks=$(grep -c IOPS "$DIR/perf.err")
	perf_ticks $((ticks + 3)) && pass "perf goes on through gateway B with A killed -9" ||
		fail "perf stalled with gateway A killed: $(tail -n 5 "$DIR/perf.err")"
	start_nvmfd gw-a2 "$a" "rbd:$IMAGE"
	for _ in $(seq 600); do
		grep -q "reconnected" "$DIR/perf.err" && break
		kill -0 "$perf" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "reconnected" "$DIR/perf.err" && pass "the path to gateway A reconnected once it was restarted" ||
		fail "no reconnect to the restarted gateway A: $(grep -v IOPS "$DIR/perf.err" | tail -n 5)"
	if wait "$perf" && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["errors"] == 0, d["errors"]
assert d["verify"]["mismatches"] == 0 and d["verify"]["checked"] > 0, d["verify"]
assert len(d["paths"]) == 2 and all(p["commands"] > 0 for p in d["paths"]), d["paths"]
' "$DIR/perf.json"; then
		pass "perf --verify over both gateways, one killed -9 and restarted: no error, no mismatch ($(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["verify"]["checked"], "reads checked")' "$DIR/perf.json"))"
	else
		fail "perf over two gateways: $(tail -n 20 "$DIR/perf.err"; cat "$DIR/perf.json")"
	fi
}

case "$CASE" in
failover | twogw | durability | resize | outage | unreachable | resv | mpath) "case_$CASE" ;;
*)
	echo "unknown case $CASE" >&2
	exit 2
	;;
esac
[ "$FAILURES" -eq 0 ] || { echo "$FAILURES failure(s)"; exit 1; }
echo "all passed"
