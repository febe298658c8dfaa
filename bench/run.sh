#!/usr/bin/env bash
# make bench: every benchmark, each figure divided by the TCP ceiling
# measured in the same run.  Results go to stdout and bench/last-run.md.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/run.py" "$build" --markdown "$here/last-run.md" "${@:2}"
