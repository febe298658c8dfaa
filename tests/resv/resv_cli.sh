#!/bin/bash
# SPDX-License-Identifier: MIT
# nvmf resv-register, resv-acquire, resv-release, resv-report against nvmfd
# (an nvmetcli file with "resv": {"enable": "1"}), two hosts with their own
# NQNs and IDs: host A registers with PTPL and takes Write Exclusive; host B
# reads, is refused its write with "reservation conflict"; the report in
# both output formats; B preempts A; A clears nothing it does not hold.
# Usage: resv_cli.sh BUILD_DIR
set -u

BUILD=${1:?usage: resv_cli.sh BUILD_DIR}
NVMF=$BUILD/nvmf
NVMFD=$BUILD/nvmfd
NQN=nqn.2024-01.io.example:resv-cli
DIR=$(mktemp -d /tmp/nvmf-resv-cli.XXXXXX)
A=(-q nqn.2024-01.io.example:resv-a -I 0a0a0a0a-1111-2222-3333-444444444444)
B=(-q nqn.2024-01.io.example:resv-b -I 0b0b0b0b-1111-2222-3333-444444444444)
. "$(dirname "$0")/../util/cli_lib.sh"

# expect NAME STATUS CMD...: the exit status, output kept in $DIR/NAME.{out,err}
expect() {
	local name=$1 want=$2 got
	shift 2
	"$@" >"$DIR/$name.out" 2>"$DIR/$name.err"
	got=$?
	if [ "$got" = "$want" ]; then pass "$name"; else
		fail "$name: exit status $got, want $want: $(cat "$DIR/$name.err")"
	fi
}

PORT=$(free_port)
cat >"$DIR/config.json" <<JSON
{"hosts": [], "ports": [{"addr": {"adrfam": "ipv4", "traddr": "127.0.0.1",
  "treq": "not specified", "trsvcid": "$PORT", "trtype": "tcp"}, "portid": 1,
  "referrals": [], "subsystems": ["$NQN"]}],
 "subsystems": [{"allowed_hosts": [], "attr": {"allow_any_host": "1"},
  "namespaces": [{"device": {"path": "$DIR/ns1.img", "size": "1M"}, "enable": 1,
  "nsid": 1, "resv": {"enable": "1"}}], "nqn": "$NQN"}]}
JSON
nvmfd_start "$DIR/nvmfd.log" -c "$DIR/config.json" --discovery-port 0 --data-dir "$DIR"
U=nvme+tcp://127.0.0.1:$PORT/$NQN
head -c 4096 /dev/urandom >"$DIR/block"

expect register 0 "$NVMF" resv-register "${A[@]}" --nrkey 0xa11ce --rrega 0 --cptpl 3 "$U"
expect acquire 0 "$NVMF" resv-acquire "${A[@]}" --crkey 0xa11ce --rtype 1 --racqa 0 "$U"
expect acquire-by-b 1 "$NVMF" resv-acquire "${B[@]}" --crkey 1 --rtype 1 "$U"
grep -q "reservation conflict" "$DIR/acquire-by-b.err" || fail "acquire-by-b: $(cat "$DIR/acquire-by-b.err")"
expect read-by-b 0 "$NVMF" read "${B[@]}" --offset 0 --length 4096 --data "$DIR/read" "$U"
expect write-by-b 1 "$NVMF" write "${B[@]}" --offset 0 --length 4096 --data "$DIR/block" "$U"
if [ "$(wc -l <"$DIR/write-by-b.err")" = 1 ] && grep -q "reservation conflict" "$DIR/write-by-b.err"; then
	pass "write-by-b says reservation conflict"
else
	fail "write-by-b: $(cat "$DIR/write-by-b.err")"
fi
expect write-by-a 0 "$NVMF" write "${A[@]}" --offset 0 --length 4096 --data "$DIR/block" "$U"
expect report-64 1 "$NVMF" resv-report "${B[@]}" "$U"
grep -q -- "--eds" "$DIR/report-64.err" || fail "report-64: $(cat "$DIR/report-64.err")"
expect report 0 "$NVMF" resv-report "${B[@]}" --eds "$U"
grep -q "rtype  : 1" "$DIR/report.out" && grep -q "0a0a0a0a111122223333444444444444" "$DIR/report.out" &&
	grep -q "holds the reservation" "$DIR/report.out" || fail "report: $(cat "$DIR/report.out")"
expect report-json 0 "$NVMF" resv-report "${B[@]}" --eds -o json "$U"
python3 -c "
import json,sys
d = json.load(open('$DIR/report-json.out'))
r = d['registrants']
sys.exit(0 if d['rtype'] == 1 and d['ptpls'] == 1 and d['regctl'] == 1 and r[0]['rkey'] == 0xa11ce
         and r[0]['rcsts'] == 1 else 1)" || fail "report-json: $(cat "$DIR/report-json.out")"
# B registers and preempts A (preempt and abort): A's registration goes.
expect register-b 0 "$NVMF" resv-register "${B[@]}" --nrkey 0xb0b "$U"
expect preempt 0 "$NVMF" resv-acquire "${B[@]}" --crkey 0xb0b --prkey 0xa11ce --rtype 2 --racqa 2 "$U"
expect read-by-a 1 "$NVMF" read "${A[@]}" --offset 0 --length 4096 --data "$DIR/read" "$U"
grep -q "reservation conflict" "$DIR/read-by-a.err" || fail "read-by-a: $(cat "$DIR/read-by-a.err")"
expect release-wrong-type 1 "$NVMF" resv-release "${B[@]}" --crkey 0xb0b --rtype 1 "$U"
expect clear 0 "$NVMF" resv-release "${B[@]}" --crkey 0xb0b --rrela 1 "$U"
expect report-empty 0 "$NVMF" resv-report "${A[@]}" --eds -o json "$U"
python3 -c "
import json,sys
d = json.load(open('$DIR/report-empty.out'))
sys.exit(0 if d['regctl'] == 0 and d['rtype'] == 0 else 1)" || fail "report-empty: $(cat "$DIR/report-empty.out")"
expect bad-cptpl 1 "$NVMF" resv-register "${A[@]}" --nrkey 1 --cptpl 1 "$U"

if [ "$FAILURES" -ne 0 ]; then
	echo "$FAILURES failure(s); nvmfd log:" >&2
	tail -20 "$DIR/nvmfd.log" >&2
	exit 1
fi
echo "all passed"
