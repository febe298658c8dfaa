#!/usr/bin/env bash
# make stress: the kill and reconnect tests, over and over with random seeds
# (NVMF_SEED), alternately under ASan + UBSan and under TSan, for SECONDS
# (default 1800).  A failure prints its seed and the output, and ends the
# run: NVMF_SEED=<seed> repeats it.  make test runs a short slice.
#
# usage: tests/stress.sh [SECONDS]   (run from the repository; needs
#        build-asan/ and build-tsan/: make asan tsan)
set -u
seconds=${1:-1800}
repo=$(cd "$(dirname "$0")/.." && pwd)
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
end=$((SECONDS + seconds))
runs=0

# run BUILD NAME ARGS...: one seeded run; exits the script on a failure.
run() {
	local build=$1 name=$2 seed
	shift 2
	seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
	rm -f "$reports"/*
	if ! NVMF_SEED=$seed TSAN_OPTIONS="halt_on_error=0 log_path=$reports/tsan suppressions=$repo/tests/tsan.supp" \
		timeout 600 "$repo/$build/tests/$name" "$@" >"$reports/out" 2>&1 ||
		grep -qs '^WARNING: ThreadSanitizer' "$reports"/tsan.*; then
		cat "$reports/out" "$reports"/tsan.* 2>/dev/null | tail -80
		echo "stress: FAILED: $build/tests/$name $* with NVMF_SEED=$seed (after $runs runs)"
		exit 1
	fi
	runs=$((runs + 1))
}

for b in build-asan build-tsan; do
	[ -x "$repo/$b/tests/robustness_kill9" ] || { echo "stress: $b is not built (make asan tsan)"; exit 1; }
done
while [ $SECONDS -lt $end ]; do
	for b in build-asan build-tsan; do
		run "$b" robustness_kill9 1
		run "$b" host_lib reconnect
		run "$b" host_races
		[ $SECONDS -lt $end ] || break
	done
done
echo "stress: $runs runs in $SECONDS s, every one passed"
