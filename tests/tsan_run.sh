#!/usr/bin/env bash
# The ThreadSanitizer run of the suite (make test-tsan, and make test): every
# test but the interop runs, the fuzz corpora and the timing figures, from
# BUILD_DIR (a -DNVMF_TSAN=ON build), every process (nvmfd and nvmf included) writing
# its reports to a fresh directory.  Passes only with every test passing and
# no report at all; suppressions live in tests/tsan.supp, each with its
# reason.
#
# The rbd label is left out: Ceph's libraries are not built with TSan, whose
# reports then fill with races inside them it cannot see the
# synchronization of (24 in one run of the label: all in librados' connect
# and shutdown, each stack in Ceph's own code or ours calling into it; none
# on the I/O path, where librbd's completions hand commands back).  A
# suppression by library would hide races of our own completion callbacks,
# which librbd's threads run, so the label is not run here at all.
#
# The *_cli tests are left out too: they drive the command-line tools
# through their options and output formats, process after process, and cost
# twice their plain time here (host_cli alone 127 s) while the threads they
# run are the library's, which host_lib, host_mpath, resv and the controller
# tests drive under TSan directly.  `make test-tsan ARGS=` runs them anyway:
# pass -E '^fuzz' to this script for the full set.
#
# usage: tests/tsan_run.sh BUILD_DIR [ctest arguments...]
set -u
build=${1:?usage: tsan_run.sh BUILD_DIR}
shift
repo=$(cd "$(dirname "$0")/.." && pwd)
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT

export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 log_path=$reports/tsan suppressions=$repo/tests/tsan.supp"
if [ $# -eq 0 ]; then
	set -- -E '^fuzz|_cli$'
fi
ctest --test-dir "$build" --output-on-failure -j 2 -LE 'interop|slow|perf|rbd' "$@"
rc=$?
n=$(cat "$reports"/tsan.* 2>/dev/null | grep -c '^WARNING: ThreadSanitizer')
if [ "$n" != 0 ]; then
	cat "$reports"/tsan.*
	echo "tsan_run: $n ThreadSanitizer report(s) (above)"
	exit 1
fi
echo "tsan_run: no ThreadSanitizer report"
exit $rc
