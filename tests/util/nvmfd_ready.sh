# SPDX-License-Identifier: MIT
# Waiting for nvmfd to serve, shared by every shell test that starts one.

# nvmfd_wait_ready LOG PID [BEFORE]: true once LOG holds more than BEFORE
# "nvmfd: ready" lines (BEFORE counts the lines of earlier starts, for a log a
# restart appends to); false if PID ends first or 60 s pass.  60 s leaves room
# for a sanitizer build, an image opened in a Ceph cluster, and a loaded
# 2-core machine booting QEMU guests beside the test.
nvmfd_wait_ready() {
	local log=$1 pid=$2 before=${3:-0} _
	for _ in $(seq 600); do
		[ "$(nvmfd_ready_count "$log")" -gt "$before" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ "$(nvmfd_ready_count "$log")" -gt "$before" ]
}

# nvmfd_ready_count LOG: how many times nvmfd said "ready" in LOG (0 if none).
nvmfd_ready_count() {
	local n
	n=$(grep -cs "nvmfd: ready" "$1")
	echo "${n:-0}"
}
