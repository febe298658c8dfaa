#!/bin/bash
# SPDX-License-Identifier: MIT
# The rbd tests' fixture: start|stop the one-node cluster in DIR
# (scripts/ceph-test-cluster).  start replaces what a killed run left there,
# and exits 77 (skipped), saying why, where Ceph is not installed; the tests
# then skip too.  Usage: cluster.sh start|stop DIR
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SCRIPT=$HERE/../../scripts/ceph-test-cluster
ACTION=${1:?usage: cluster.sh start|stop DIR}
DIR=${2:?usage: cluster.sh start|stop DIR}

case "$ACTION" in
start)
	[ -e "$DIR" ] && "$SCRIPT" stop "$DIR"
	rm -rf "$DIR"
	for tool in ceph-mon ceph-osd ceph rbd; do
		if ! command -v "$tool" >/dev/null; then
			echo "SKIP: $tool is not installed (scripts/install-deps.sh)"
			exit 77
		fi
	done
	start=${EPOCHREALTIME/./}
	"$SCRIPT" start "$DIR" || exit 1
	echo "cluster ready in $(((${EPOCHREALTIME/./} - start) / 1000)) ms"
	;;
stop)
	[ -e "$DIR" ] || exit 0
	"$SCRIPT" stop "$DIR" || exit 1
	rm -rf "$DIR"
	;;
*)
	echo "usage: cluster.sh start|stop DIR" >&2
	exit 2
	;;
esac
