#!/bin/bash
# SPDX-License-Identifier: MIT
# nvmf with several paths against nvmfd on two ports: list-paths shows each
# path with nvmfd's ANA state (text and JSON, -a/-s repeated and URIs),
# --ana-state on nvmfd's command line, perf --verify over both paths while a
# reload swaps the ports' states (no error, no mismatch, both paths used),
# and a single-path subcommand refuses several paths.
# Usage: mpath_cli_test.sh BUILD_DIR
set -u

BUILD=${1:?usage: mpath_cli_test.sh BUILD_DIR}
NVMF=$BUILD/nvmf
NVMFD=$BUILD/nvmfd
NQN=nqn.2024-01.io.example:mpath-cli
DIR=$(mktemp -d /tmp/nvmf-mpath-cli.XXXXXX)
. "$(dirname "$0")/../util/cli_lib.sh"

P1=$(free_port)
P2=$(free_port)
. "$(dirname "$0")/../util/two_port_config.sh"
config() { two_port_config "$DIR" "$NQN" "$P1" "$P2" "$1" "$2"; }

# wait_log TEXT: nvmfd's log has it (60 s).
wait_log() {
	for _ in $(seq 600); do
		grep -q -- "$1" "$DIR/nvmfd.log" && return 0
		sleep 0.1
	done
	return 1
}

config optimized optimized
# --ana-state over the file: port 2's group 1 non-optimized.
nvmfd_start "$DIR/nvmfd.log" -c "$DIR/config.json" --discovery-port 0 --ana-state 2:1=non_optimized

out=$("$NVMF" list-paths -a 127.0.0.1 -s "$P1" -s "$P2" -n "$NQN" 2>&1)
if echo "$out" | grep -q "127.0.0.1:$P1 .*ANA group 1 optimized" &&
	echo "$out" | grep -q "127.0.0.1:$P2 .*ANA group 1 non_optimized"; then
	pass "list-paths: both paths, nvmfd's states (--ana-state over the file)"
else
	fail "list-paths: $out"
fi
json=$("$NVMF" list-paths -o json "nvme+tcp://127.0.0.1:$P1/$NQN" "nvme+tcp://127.0.0.1:$P2/$NQN")
if echo "$json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
s = [(p["trsvcid"], p["ana_state"], p["state"], p["usable"]) for p in d["paths"]]
assert s == [(sys.argv[1], "optimized", "live", True), (sys.argv[2], "non_optimized", "live", True)], s
' "$P1" "$P2"; then
	pass "list-paths -o json from two URIs"
else
	fail "list-paths -o json: $json"
fi
# --all-paths: the paths the discovery log lists (every port serves it).
out=$("$NVMF" list-paths --all-paths -a 127.0.0.1 -s "$P1" -n "$NQN" 2>&1)
if echo "$out" | grep -q " 127.0.0.1:$P1 " && echo "$out" | grep -q " 127.0.0.1:$P2 "; then
	pass "list-paths --all-paths: both ports from the discovery log"
else
	fail "list-paths --all-paths: $out"
fi
if out=$("$NVMF" identify -a 127.0.0.1 -s "$P1" -s "$P2" -n "$NQN" 2>&1); then
	fail "identify took several paths: $out"
elif echo "$out" | grep -q "identify takes one"; then
	pass "a single-path subcommand refuses several paths"
else
	fail "identify with several paths: $out"
fi

# perf --verify over both paths while reloads change which port is usable.
"$NVMF" perf --rw randrw --bs 4k --iodepth 16 --runtime 8 --verify --size 16M \
	--iopolicy queue-depth -o json -a 127.0.0.1 -s "$P1" -s "$P2" -n "$NQN" \
	>"$DIR/perf.json" 2>"$DIR/perf.err" &
perf=$!
# perf_ticks N: perf has printed N progress lines (one a second; 60 s).
perf_ticks() {
	for _ in $(seq 600); do
		[ "$(grep -c IOPS "$DIR/perf.err")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
perf_ticks 1 || fail "perf did not start"
config inaccessible optimized
kill -HUP "$NVMFD_PID"
wait_log "port 1: ANA group 1 inaccessible" || fail "reload 1 not logged"
perf_ticks 3 || fail "perf stalled after the first swap"
# Port 2 stays non-optimized: --ana-state holds over reloads.
config optimized inaccessible
kill -HUP "$NVMFD_PID"
wait_log "port 1: ANA group 1 optimized" || fail "reload 2 not logged"
if wait "$perf" && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["errors"] == 0, d["errors"]
assert d["verify"]["mismatches"] == 0 and d["verify"]["checked"] > 0, d["verify"]
assert all(p["commands"] > 0 for p in d["paths"]), d["paths"]
' "$DIR/perf.json"; then
	pass "perf --verify over two paths across two ANA swaps: no error, no mismatch"
else
	fail "perf over two paths: $(cat "$DIR/perf.err" "$DIR/perf.json" | tail -n 20)"
fi

out=$("$NVMF" list-paths -a 127.0.0.1 -s "$P1" -s "$P2" -n "$NQN" 2>&1)
if echo "$out" | grep -q "127.0.0.1:$P2 .*ANA group 1 non_optimized"; then
	pass "--ana-state holds over a reload"
else
	fail "after the reloads: $out"
fi
kill -TERM "$NVMFD_PID"
wait "$NVMFD_PID" || fail "nvmfd did not stop cleanly"
PIDS=()
if [ $FAILURES -ne 0 ]; then
	tail -n 30 "$DIR/nvmfd.log"
	echo "mpath_cli_test: $FAILURES failure(s)"
	exit 1
fi
echo "mpath_cli_test: PASS"
