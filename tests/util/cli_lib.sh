# SPDX-License-Identifier: MIT
# What the command-line test scripts share.  Source it after setting NVMFD
# and DIR (a scratch directory): on exit it kills every pid in PIDS and
# removes DIR; fail counts into FAILURES.

. "$(dirname "${BASH_SOURCE[0]}")/nvmfd_ready.sh"

PIDS=()
FAILURES=0

cleanup() {
	for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; FAILURES=$((FAILURES + 1)); }
pass() { echo "ok: $*"; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# nvmfd_start LOG ARGS...: nvmfd in the background, its output in LOG; once
# it logs "ready" (60 s, room for a sanitizer build on a loaded machine),
# its pid is in NVMFD_PID.  Exits the test, showing LOG, if nvmfd ends or
# never gets there.
nvmfd_start() {
	local log=$1
	shift
	"$NVMFD" "$@" >"$log" 2>&1 &
	NVMFD_PID=$!
	PIDS+=("$NVMFD_PID")
	nvmfd_wait_ready "$log" "$NVMFD_PID" && return 0
	echo "nvmfd did not start:" >&2
	cat "$log" >&2
	exit 1
}

# run NAME EXPECTED_STATUS CMD...: run, keep stdout/stderr in $DIR/NAME.{out,err}
run() {
	local name=$1 want=$2 got
	shift 2
	"$@" >"$DIR/$name.out" 2>"$DIR/$name.err"
	got=$?
	if [ "$got" != "$want" ]; then
		fail "$name: exit status $got, want $want: $(head -c 600 "$DIR/$name.err")"
		return 1
	fi
	return 0
}

# json_check NAME PYTHON_EXPR: the expression holds for d = the JSON output
json_check() {
	local name=$1 expr=$2
	if python3 -c "import json,sys; d=json.load(open('$DIR/$name.out')); sys.exit(0 if ($expr) else 1)"; then
		pass "$name"
	else
		fail "$name: JSON check failed: $expr: $(head -c 1500 "$DIR/$name.out")"
	fi
}

# one_line NAME PATTERN: stderr is exactly one line and matches
one_line() {
	local name=$1 pattern=$2
	if [ "$(wc -l <"$DIR/$name.err")" != 1 ] || ! grep -q -- "$pattern" "$DIR/$name.err"; then
		fail "$name: want one line matching '$pattern', got: $(cat "$DIR/$name.err")"
	else
		pass "$name: $(cat "$DIR/$name.err")"
	fi
}
