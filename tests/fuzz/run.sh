#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time (FUZZ_SECONDS, default 30),
# starting from its committed corpus, in a clang build with ASan + UBSan.
# A crash fails the run and leaves the input in build-fuzz/artifacts/: add it
# to tests/fuzz/corpus/<target>/ as a regression input (it is then replayed by
# every build's fuzz_<target>_corpus test).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${FUZZ_BUILD:-build-fuzz}
seconds=${FUZZ_SECONDS:-30}
targets=(${FUZZ_TARGETS:-pdu_controller pdu_host ctrl_cmd config host_ctrl resv_state rpc metrics_http})

if [ ! -f "$build/CMakeCache.txt" ]; then
	CC=clang cmake -S . -B "$build" -DNVMF_FUZZ=ON -DNVMF_SANITIZE=ON \
		-DCMAKE_BUILD_TYPE=Debug >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null

mkdir -p "$build/artifacts"
status=0
for t in "${targets[@]}"; do
	work="$build/corpus/$t"
	mkdir -p "$work"
	echo "fuzz: $t for ${seconds}s"
	if ! "$build/tests/fuzz_$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
		"$work" "tests/fuzz/corpus/$t" 2>"$build/fuzz-$t.log"; then
		echo "fuzz: $t FAILED; see $build/fuzz-$t.log and $build/artifacts/"
		tail -40 "$build/fuzz-$t.log"
		status=1
	else
		grep -E "stat::number_of_executed_units|stat::new_units_added|cov:" "$build/fuzz-$t.log" | tail -3
	fi
done
exit $status
