#!/usr/bin/env bash
# make bench: every benchmark, each figure divided by the TCP ceiling
# measured in the same run.  Results go to stdout and bench/last-run.md, the
# plot to bench/iops_vs_depth.png.  Debian's python3 is preferred: the plot
# needs its python3-matplotlib (scripts/install-deps.sh bench).
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
exec "$python" "$here/run.py" "$build" --markdown "$here/last-run.md" "${@:2}"
