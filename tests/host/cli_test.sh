#!/bin/bash
# SPDX-License-Identifier: MIT
# The nvmf command against nvmfd on loopback: every subcommand in both output
# formats, URIs, the one-line failure reasons (refused connection, unknown
# NQN, host not allowed, timeout, digest mismatch), and perf --verify across
# a target restart.  Usage: cli_test.sh BUILD_DIR
set -u

BUILD=${1:?usage: cli_test.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
NVMF=$BUILD/nvmf
NVMFD=$BUILD/nvmfd
NQN=nqn.2024-01.io.example:cli
HOST_A=nqn.2024-01.io.example:cli-host-a
HOST_B=nqn.2024-01.io.example:cli-host-b
DIR=$(mktemp -d /tmp/nvmf-cli-test.XXXXXX)
. "$HERE/../util/cli_lib.sh"

# start_nvmfd NAME PORT DISC_PORT ARGS...: start, wait for "ready"; pid in NVMFD_PID
start_nvmfd() {
	local name=$1 port=$2 disc=$3
	shift 3
	nvmfd_start "$DIR/$name.log" -s "$port" --discovery-port "$disc" "$@"
}

PORT=$(free_port)
DISC=$(free_port)
start_nvmfd main "$PORT" "$DISC" -n "$NQN" "$DIR/ns1.img,size=64M"
MAIN_PID=$NVMFD_PID
T=(-a 127.0.0.1 -s "$PORT" -n "$NQN")
URI=nvme+tcp://127.0.0.1:$PORT/$NQN

# --- discover (dedicated port and the I/O port), both formats
run discover 0 "$NVMF" discover -a 127.0.0.1 -s "$DISC" &&
	grep -q "subnqn:  $NQN" "$DIR/discover.out" && pass discover || fail "discover: $(cat "$DIR/discover.out")"
run discover_json 0 "$NVMF" discover -t tcp -a 127.0.0.1 -s "$DISC" -o json &&
	json_check discover_json "any(r['subnqn'] == '$NQN' and r['trsvcid'] == '$PORT' and r['subtype'] == 'nvme subsystem' for r in d['records']) and d['numrec'] == len(d['records'])"
run discover_uri 0 "$NVMF" discover "nvme+tcp://127.0.0.1:$DISC" -o json &&
	json_check discover_uri "len(d['records']) >= 1"

# --- connect-all
run connect_all 0 "$NVMF" connect-all -a 127.0.0.1 -s "$DISC" -i 2 &&
	grep -q "$NQN.*connected" "$DIR/connect_all.out" && pass connect-all || fail "connect-all: $(cat "$DIR/connect_all.out")"
run connect_all_json 0 "$NVMF" connect-all -a 127.0.0.1 -s "$DISC" --connect-addr 127.0.0.1 -o json &&
	json_check connect_all_json "d['connected'] == 1 and d['failed'] == 0 and any(e['status'] == 'connected' and e['namespaces'] == 1 for e in d['entries'])"

# --- identify, list-ns, get-log, get-feature
run identify 0 "$NVMF" identify "${T[@]}" &&
	grep -q "subnqn *: $NQN" "$DIR/identify.out" && grep -q "^1 " "$DIR/identify.out" &&
	pass identify || fail "identify: $(cat "$DIR/identify.out")"
run identify_json 0 "$NVMF" identify "$URI" -o json -i 3 -Q 64 -k 10 -g -G &&
	json_check identify_json "d['controller']['subnqn'] == '$NQN' and d['controller']['io_queues'] == 3 and d['controller']['hdr_digest'] and d['controller']['data_digest'] and d['namespaces'][0]['nsid'] == 1 and d['namespaces'][0]['size_bytes'] == 64 << 20"
run identify_ns 0 "$NVMF" identify "${T[@]}" --nsid 1 -o json &&
	json_check identify_ns "len(d['namespaces']) == 1"
run identify_hostid 0 "$NVMF" identify "${T[@]}" -q "$HOST_A" -I 11111111-2222-3333-4444-555555555555 -o json &&
	json_check identify_hostid "d['controller']['hostnqn'] == '$HOST_A' and d['controller']['hostid'] == '11111111-2222-3333-4444-555555555555'"
# Without -q/-I: the host NQN and ID of /etc/nvme (here $NVMF_ETC_NVME).
mkdir "$DIR/etc-nvme"
echo nqn.2024-01.io.example:cli-etc-host >"$DIR/etc-nvme/hostnqn"
echo 0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3 >"$DIR/etc-nvme/hostid"
run identify_etc 0 env NVMF_ETC_NVME="$DIR/etc-nvme" "$NVMF" identify "${T[@]}" -o json &&
	json_check identify_etc "d['controller']['hostnqn'] == 'nqn.2024-01.io.example:cli-etc-host' and d['controller']['hostid'] == '0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3'"
run list_ns 0 "$NVMF" list-ns "${T[@]}" && grep -q "^1 " "$DIR/list_ns.out" && pass list-ns || fail "list-ns"
run list_ns_json 0 "$NVMF" list-ns "${T[@]}" -o json &&
	json_check list_ns_json "d['namespaces'][0]['nsid'] == 1"
run get_log 0 "$NVMF" get-log "${T[@]}" --log-id 2 && grep -q "SMART" "$DIR/get_log.out" && pass get-log || fail get-log
run get_log_json 0 "$NVMF" get-log "${T[@]}" --log-id 2 -o json &&
	json_check get_log_json "d['length'] == 512 and 'smart' in d and len(d['data']) == 1024"
run get_log_raw 0 "$NVMF" get-log "${T[@]}" --log-id 0 --log-len 1024 --raw-binary &&
	[ "$(stat -c %s "$DIR/get_log_raw.out")" = 1024 ] && pass get-log-raw || fail get-log-raw
run get_feature 0 "$NVMF" get-feature "${T[@]}" --feature-id 7 &&
	grep -q "Number of Queues" "$DIR/get_feature.out" && pass get-feature || fail get-feature
run get_feature_json 0 "$NVMF" get-feature "${T[@]}" --feature-id 0x0f -o json &&
	json_check get_feature_json "d['feature_id'] == 15 and d['value'] == 5000"

# --- read / write / compare / flush / write-zeroes / trim, data verified
head -c $((3 * 1024 * 1024 + 4096)) /dev/urandom >"$DIR/data.bin"
run write 0 "$NVMF" write "${T[@]}" --offset 4096 --data "$DIR/data.bin" --fua && pass write
run read 0 "$NVMF" read "${T[@]}" --offset 4096 --length $((3 * 1024 * 1024 + 4096)) --data "$DIR/back.bin" &&
	cmp -s "$DIR/data.bin" "$DIR/back.bin" && pass "read back verified" || fail "read back differs"
run read_stdout 0 "$NVMF" read "${T[@]}" --offset 4096 --length 8192 --data - &&
	cmp -s <(head -c 8192 "$DIR/data.bin") "$DIR/read_stdout.out" && pass "read to stdout" || fail "read to stdout"
head -c 8192 /dev/urandom >"$DIR/small.bin"
run write_stdin 0 "$NVMF" write "${T[@]}" --offset 1M --length 8192 --data - -o json <"$DIR/small.bin" &&
	json_check write_stdin "d['result'] == 'success' and d['length'] == 8192"
run compare_same 0 "$NVMF" compare "${T[@]}" --offset 1M --data "$DIR/small.bin" && pass "compare equal"
run compare_diff 1 "$NVMF" compare "${T[@]}" --offset 1M --data "$DIR/data.bin" --length 8192 &&
	one_line compare_diff "Compare Failure"
run flush 0 "$NVMF" flush "${T[@]}" && pass flush
run write_zeroes 0 "$NVMF" write-zeroes "${T[@]}" --offset 1M --length 8192 && pass write-zeroes
run read_zeroes 0 "$NVMF" read "${T[@]}" --offset 1M --length 8192 &&
	cmp -s <(head -c 8192 /dev/zero) "$DIR/read_zeroes.out" && pass "zeroes read back" || fail "zeroes read back"
run trim 0 "$NVMF" trim "${T[@]}" --offset 2M --length 1M -o json &&
	json_check trim "d['command'] == 'trim' and d['result'] == 'success'"
run unaligned 1 "$NVMF" read "${T[@]}" --offset 100 --length 512 && one_line unaligned "multiples"
run beyond_end 1 "$NVMF" read "${T[@]}" --offset 64M --length 4096 && one_line beyond_end "beyond the end"

# --- perf: human output with progress, exact JSON keys, every mode, engines
run perf 0 "$NVMF" perf "${T[@]}" --runtime 2 --iodepth 8 &&
	grep -q "IOPS" "$DIR/perf.out" && grep -q "p99.9" "$DIR/perf.out" && grep -q "^\[   1s\]" "$DIR/perf.err" &&
	pass "perf: $(grep total "$DIR/perf.out")" || fail "perf: $(cat "$DIR/perf.out" "$DIR/perf.err")"
run perf_json 0 "$NVMF" perf "${T[@]}" --rw randread --bs 4k --iodepth 16 --runtime 2 --queues 2 -o json &&
	json_check perf_json "list(d)[:3] == ['iops', 'mib_per_sec', 'lat_usec'] and list(d['lat_usec']) == ['mean', 'p50', 'p99', 'p999'] and d['iops'] > 0 and d['lat_usec']['p50'] <= d['lat_usec']['p99'] <= d['lat_usec']['p999'] and d['job']['queues'] == 2"
for mode in read write randwrite; do
	run "perf_$mode" 0 "$NVMF" perf "${T[@]}" --rw "$mode" --bs 128k --iodepth 4 --runtime 1 -o json &&
		json_check "perf_$mode" "d['iops'] > 0 and d['errors'] == 0"
done
run perf_randrw 0 "$NVMF" perf "${T[@]}" --rw randrw --rwmixread 70 --runtime 2 --verify --size 8M -o json &&
	json_check perf_randrw "d['read']['ios'] > d['write']['ios'] > 0 and d['verify']['mismatches'] == 0 and d['verify']['checked'] > 0"
for engine in threads epoll; do
	run "perf_engine_$engine" 0 "$NVMF" perf "${T[@]}" --engine "$engine" --runtime 1 -o json &&
		json_check "perf_engine_$engine" "d['iops'] > 0"
done
run perf_bad_engine 1 "$NVMF" perf "${T[@]}" --engine warp && one_line perf_bad_engine "unknown engine"

# --- perf --nsid: a target with two namespaces, the commands seen on the wire
# (tests/mount/wire_log.py logs every I/O command it relays, with its NSID)
TWO_NQN=nqn.2024-01.io.example:cli-two
TWO_PORT=$(free_port)
TWO_RELAY=$(free_port)
start_nvmfd two "$TWO_PORT" 0 -n "$TWO_NQN" "$DIR/two1.img,size=16M" ramdisk:32M
python3 "$HERE/../mount/wire_log.py" "$TWO_RELAY" "$TWO_PORT" "$DIR/two.wire" >"$DIR/two.relay" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do grep -q listening "$DIR/two.relay" && break; sleep 0.01; done
TWO=(-a 127.0.0.1 -s "$TWO_RELAY" -n "$TWO_NQN")
# wire_nsids: the NSIDs of the I/O commands logged so far, "N count" per line
wire_nsids() { grep "^io " "$DIR/two.wire" | sed 's/.* nsid=\([0-9]*\) .*/\1/' | sort | uniq -c | awk '{print $2, $1}'; }
: >"$DIR/two.wire"
run perf_nsid2 0 "$NVMF" perf "${TWO[@]}" --nsid 2 --rw randrw --bs 4k --iodepth 8 --runtime 1 --verify -o json &&
	json_check perf_nsid2 "d['job']['nsid'] == 2 and d['job']['region_bytes'] == 32 << 20 and d['read']['ios'] > 0 and d['write']['ios'] > 0 and d['errors'] == 0 and d['verify']['mismatches'] == 0"
nsids=$(wire_nsids)
[ "$(echo "$nsids" | wc -l)" = 1 ] && [ "${nsids%% *}" = 2 ] && [ "${nsids#* }" -gt 0 ] &&
	pass "perf --nsid 2: every I/O command on the wire for namespace 2 ($nsids)" ||
	fail "perf --nsid 2 on the wire: $nsids"
run nsid1_untouched 0 "$NVMF" read "${TWO[@]}" --nsid 1 --offset 0 --length 16M --data "$DIR/two1.back" &&
	cmp -s "$DIR/two1.back" <(head -c $((16 << 20)) /dev/zero) &&
	pass "namespace 1 untouched (zeroes)" || fail "perf --nsid 2 wrote to namespace 1"
: >"$DIR/two.wire"
run perf_nsid1 0 "$NVMF" perf "${TWO[@]}" --nsid 1 --rw read --bs 64k --iodepth 4 --runtime 1 -o json &&
	json_check perf_nsid1 "d['job']['nsid'] == 1 and d['job']['region_bytes'] == 16 << 20 and d['iops'] > 0"
nsids=$(wire_nsids)
[ "$(echo "$nsids" | wc -l)" = 1 ] && [ "${nsids%% *}" = 1 ] && [ "${nsids#* }" -gt 0 ] &&
	pass "perf --nsid 1: every I/O command for namespace 1 ($nsids)" ||
	fail "perf --nsid 1 on the wire: $nsids"
run perf_nsid3 1 "$NVMF" perf "${TWO[@]}" --nsid 3 --runtime 1 && one_line perf_nsid3 "namespace 3"
run perf_bad_bs 1 "$NVMF" perf "${T[@]}" --bs 1M && one_line perf_bad_bs "largest transfer"

# --- failures: one line, non-zero
run refused 1 "$NVMF" identify -a 127.0.0.1 -s "$(free_port)" -n "$NQN" && one_line refused "connection refused"
run unknown_nqn 1 "$NVMF" identify -a 127.0.0.1 -s "$PORT" -n nqn.2024-01.io.example:nobody &&
	one_line unknown_nqn "unknown subsystem NQN"
run no_nqn 1 "$NVMF" identify -a 127.0.0.1 -s "$PORT" && one_line no_nqn "NQN is required"
run usage 2 "$NVMF" identify "${T[@]}" --bs 4k && pass "option of another subcommand refused"
run bad_uri 1 "$NVMF" identify nvme+rdma://1.2.3.4/x && one_line bad_uri "not a target URI"
run help 0 "$NVMF" perf --help && grep -q -- "--rwmixread" "$DIR/help.out" && pass help || fail help

ACL_PORT=$(free_port)
start_nvmfd acl "$ACL_PORT" 0 -n "$NQN" --allow-host "$HOST_A" ramdisk:8M
run acl_refused 1 "$NVMF" identify -a 127.0.0.1 -s "$ACL_PORT" -n "$NQN" -q "$HOST_B" &&
	one_line acl_refused "host $HOST_B is not allowed"
run acl_allowed 0 "$NVMF" list-ns -a 127.0.0.1 -s "$ACL_PORT" -n "$NQN" -q "$HOST_A" && pass "allowed host"

# A target that accepts and never answers; one that rejects the digests.
cat >"$DIR/fake.py" <<'EOF'
import socket, struct, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(8)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    c.recv(128)
    if mode == "digest":
        # ICResp without digests although the host asked for both
        c.sendall(struct.pack("<BBBBIHBBI", 1, 0, 128, 0, 128, 0, 0, 0, 65536) + bytes(112))
    time.sleep(20 if mode == "silent" else 3)
    c.close()
EOF
SILENT_PORT=$(free_port)
python3 "$DIR/fake.py" "$SILENT_PORT" silent >"$DIR/silent.log" 2>&1 &
PIDS+=($!)
DIGEST_PORT=$(free_port)
python3 "$DIR/fake.py" "$DIGEST_PORT" digest >"$DIR/digest.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do grep -q listening "$DIR/silent.log" && grep -q listening "$DIR/digest.log" && break; sleep 0.02; done
run timeout 1 "$NVMF" identify -a 127.0.0.1 -s "$SILENT_PORT" -n "$NQN" --connect-timeout 1000 && one_line timeout "timeout"
run digest 1 "$NVMF" identify -a 127.0.0.1 -s "$DIGEST_PORT" -n "$NQN" -g -G && one_line digest "digest mismatch"

# --- perf --verify while the target is killed and restarted
"$NVMF" perf "${T[@]}" -c 1 -l 30 --rw randrw --verify --size 16M --iodepth 8 --queues 2 \
	--runtime 8 -o json >"$DIR/restart.out" 2>"$DIR/restart.err" &
PERF_PID=$!
sleep 3
kill -9 "$MAIN_PID"
wait "$MAIN_PID" 2>/dev/null
sleep 1.5
start_nvmfd main2 "$PORT" "$DISC" -n "$NQN" "$DIR/ns1.img,size=64M"
# Back: reconnected within the reconnect delay (-c 1) and some slack.
BACK=$(date +%s%N)
while ! grep -q "reconnected" "$DIR/restart.err" && [ $(($(date +%s%N) - BACK)) -lt 10000000000 ]; do
	sleep 0.02
done
AFTER_MS=$((($(date +%s%N) - BACK) / 1000000))
# The slack covers a connect under ASan on a loaded machine.
grep -q "reconnected" "$DIR/restart.err" && [ "$AFTER_MS" -le 5000 ] &&
	pass "reconnected ${AFTER_MS} ms after the target was back (reconnect-delay 1 s)" ||
	fail "reconnect ${AFTER_MS} ms after the target was back, want <= 1 s + 4 s slack: $(tail -3 "$DIR/restart.err")"
if wait "$PERF_PID"; then
	json_check restart "d['errors'] == 0 and d['reconnects'] >= 1 and d['verify']['mismatches'] == 0 and d['verify']['checked'] > 0"
	grep -q "reconnect attempt 1 of 30" "$DIR/restart.err" && pass "reconnect logged" ||
		fail "no 'reconnect attempt N of M' line: $(cat "$DIR/restart.err")"
else
	fail "perf across a restart: $(tail -5 "$DIR/restart.err")"
fi

# --- and with the target gone for good: a clear error after ctrl-loss-tmo
"$NVMF" perf "${T[@]}" -c 1 -l 2 --rw randwrite --runtime 6 >"$DIR/lost.out" 2>"$DIR/lost.err" &
PERF_PID=$!
sleep 1.5
kill -9 "$NVMFD_PID"
wait "$NVMFD_PID" 2>/dev/null
wait "$PERF_PID"
status=$?
if [ "$status" = 1 ] && tail -1 "$DIR/lost.err" | grep -q "controller lost (ctrl-loss-tmo expired)"; then
	pass "ctrl-loss-tmo: $(tail -1 "$DIR/lost.err")"
else
	fail "ctrl-loss-tmo: status $status: $(tail -3 "$DIR/lost.err")"
fi

if [ "$FAILURES" != 0 ]; then
	echo "$FAILURES check(s) failed"
	exit 1
fi
echo "all passed"
