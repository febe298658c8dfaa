#!/usr/bin/env bash
# The ThreadSanitizer run of the suite (make test-tsan, and make test): every
# test but the interop runs, the fuzz corpora and the timing figures, from
# BUILD_DIR (a -DNVMF_TSAN=ON build), every process (nvmfd and nvmf included) writing
# its reports to a fresh directory.  Passes only with every test passing and
# no report at all; suppressions live in tests/tsan.supp, each with its
# reason.
#
# usage: tests/tsan_run.sh BUILD_DIR [ctest arguments...]
set -u
build=${1:?usage: tsan_run.sh BUILD_DIR}
shift
repo=$(cd "$(dirname "$0")/.." && pwd)
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT

export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 log_path=$reports/tsan suppressions=$repo/tests/tsan.supp"
ctest --test-dir "$build" --output-on-failure -j 2 -LE 'interop|slow|perf' -E '^fuzz' "$@"
rc=$?
n=$(cat "$reports"/tsan.* 2>/dev/null | grep -c '^WARNING: ThreadSanitizer')
if [ "$n" != 0 ]; then
	cat "$reports"/tsan.*
	echo "tsan_run: $n ThreadSanitizer report(s) (above)"
	exit 1
fi
echo "tsan_run: no ThreadSanitizer report"
exit $rc
