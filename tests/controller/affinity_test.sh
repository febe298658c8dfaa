#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# nvmfd under a CPU mask (taskset): the default engine starts one loop per
# CPU of the mask, each pinned to its own CPU of it when the mask is
# narrower than the machine, and every thread has a name
# (/proc/PID/task/TID/comm) saying what it is.  With one CPU in the mask,
# then two where this process may use two (said when it cannot).
set -u
BUILD=$1
. "$(dirname "$0")/../util/nvmfd_ready.sh"
DIR=$(mktemp -d /tmp/nvmf-affinity.XXXXXX)
NQN=nqn.2024-01.io.nvmf:affinity
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
fail=0

# The CPUs this test may use, e.g. "0-1,3" -> "0 1 3".
cpus=()
for range in $(sed -n 's/^Cpus_allowed_list:\s*//p' /proc/self/status | tr , ' '); do
	cpus+=($(seq "${range%-*}" "${range#*-}"))
done

# check_mask MASK: start nvmfd under taskset -c MASK, connect once (the
# default engine starts with the first connection), check its threads.
check_mask() {
	local mask=$1 want=$2 pinned=$3 port ready loops=0 names="" t comm
	: >"$DIR/nvmfd.log"
	taskset -c "$mask" "$BUILD/nvmfd" -a 127.0.0.1 -s 0 -n "$NQN" --discovery-port 0 \
		--pidfile "$DIR/pid" ramdisk:16M </dev/null >/dev/null 2>"$DIR/nvmfd.log" &
	PID=$!
	ready=0
	nvmfd_wait_ready "$DIR/nvmfd.log" "$PID" && ready=1
	port=$(sed -n 's/.*listening on 127\.0\.0\.1 port \([0-9]*\).*/\1/p' "$DIR/nvmfd.log" | head -1)
	if [ "$ready" = 0 ] || [ -z "$port" ]; then
		cat "$DIR/nvmfd.log"
		echo "FAIL: nvmfd did not start (or said no port) under taskset -c $mask"
		fail=1
		return
	fi
	if ! "$BUILD/nvmf" perf -a 127.0.0.1 -s "$port" -n "$NQN" --runtime 1 \
		>"$DIR/perf.log" 2>&1; then
		cat "$DIR/perf.log"
		echo "FAIL: nvmf perf against nvmfd under taskset -c $mask"
		fail=1
	fi
	for t in /proc/"$PID"/task/*; do
		comm=$(cat "$t/comm" 2>/dev/null) || continue
		names+=" $comm"
		[ "${t##*/}" = "$PID" ] && continue # the main thread: the program's name
		case $comm in
		nvmf-loop/*)
			loops=$((loops + 1))
			# Pinned: loop N on the mask's N-th CPU alone; else the mask.
			local n=${comm#nvmf-loop/} on allowed
			on=$(sed -n 's/^Cpus_allowed_list:\s*//p' "$t/status")
			allowed=$(sed -n 's/^Cpus_allowed_list:\s*//p' "/proc/$PID/status")
			[ "$pinned" = 1 ] && allowed=${cpus[$n]}
			if [ "$on" != "$allowed" ]; then
				echo "FAIL: $comm runs on CPUs $on, not $allowed"
				fail=1
			fi
			;;
		nvmf-*) ;;
		*)
			echo "FAIL: thread ${t##*/} has no name of ours: '$comm'"
			fail=1
			;;
		esac
	done
	if [ "$loops" -ne "$want" ]; then
		echo "FAIL: $loops event loops under taskset -c $mask, want $want"
		fail=1
	fi
	echo "taskset -c $mask: threads$names"
	kill "$PID"
	wait "$PID" 2>/dev/null
	PID=
}

online=$(getconf _NPROCESSORS_ONLN)
check_mask "${cpus[0]}" 1 $((online > 1))
if [ "${#cpus[@]}" -ge 2 ]; then
	check_mask "${cpus[0]},${cpus[1]}" 2 $((online > 2))
else
	echo "only one CPU here: the two-CPU mask case is not run"
fi
[ $fail -eq 0 ] && echo "ok"
exit $fail
