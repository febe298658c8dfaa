#!/usr/bin/env bash
# Every man page parses without a warning: groff -ww, and man --warnings
# where man(1) is installed.  Exit 77 (skipped) with neither.
#   check.sh PAGE...
set -uo pipefail
if ! command -v groff >/dev/null; then
	echo "SKIP: groff not installed (Debian groff-base; scripts/install-deps.sh)"
	exit 77
fi
status=0
for page in "$@"; do
	out=$(groff -man -ww -z "$page" 2>&1)
	if command -v man >/dev/null; then
		out+=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
	fi
	if [ -n "$out" ]; then
		echo "$page:"; echo "$out"; status=1
	else
		echo "$page: ok"
	fi
done
exit $status
