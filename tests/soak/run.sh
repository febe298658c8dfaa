#!/usr/bin/env bash
# The long robustness soak, outside CI (issue 6):
#
#   make soak                      # builds build/ first, then runs this
#   tests/soak/run.sh BUILD_DIR    # e.g. tests/soak/run.sh build-asan
#
# - many connections: SOAK_CONTROLLERS host controllers x (1 + SOAK_IOQ)
#   queue pairs (250 x 8 = 2000), SOAK_ROUNDS rounds of verified I/O per
#   cycle, SOAK_CYCLES connect/disconnect cycles;
# - kill -9 under a write load, restart and read back: SOAK_KILLS rounds;
# - the hostile-peer suite on both engines, SOAK_HOSTILE times;
# - keep alive expiry.
# Prints each step's "figures:" and summary lines; exits non-zero if a step
# fails.  Takes about 5 minutes with the defaults on a 2-core machine.
set -euo pipefail
build=${1:?usage: tests/soak/run.sh BUILD_DIR}
tests="$build/tests"
controllers=${SOAK_CONTROLLERS:-250}
ioq=${SOAK_IOQ:-7}
rounds=${SOAK_ROUNDS:-20}
cycles=${SOAK_CYCLES:-5}
kills=${SOAK_KILLS:-20}
hostile=${SOAK_HOSTILE:-3}

cmake --build "$build" --target robustness_many_conns robustness_kill9 robustness_hostile \
	robustness_kato nvmfd >/dev/null
# Both ends of every connection live on this machine.
ulimit -n "$(ulimit -Hn)"

status=0
step() {
	local name=$1
	shift
	local log="$build/soak-$name.log"
	local start=$SECONDS
	if "$@" >"$log" 2>&1; then
		echo "soak: $name: ok ($((SECONDS - start)) s)"
	else
		echo "soak: $name: FAILED ($((SECONDS - start)) s); see $log"
		grep -E "CHECK failed|REQUIRE failed|FAILED" "$log" | head -20 || true
		status=1
	fi
	grep -E "^figures:|after restart:|killed after|answer: nvmfd exited" "$log" | tail -12 || true
}

step many-conns "$tests/robustness_many_conns" "$controllers" "$ioq" "$rounds" "$cycles"
step kill9 "$tests/robustness_kill9" "$kills"
for i in $(seq "$hostile"); do
	step "hostile-threads-$i" "$tests/robustness_hostile" threads ramdisk
	step "hostile-epoll-$i" "$tests/robustness_hostile" epoll file
done
step kato "$tests/robustness_kato"
exit $status
