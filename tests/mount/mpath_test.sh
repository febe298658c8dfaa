#!/bin/bash
# SPDX-License-Identifier: MIT
# nvmf mount over two paths: a verified direct-I/O load on the mounted file
# (verify_load.py) sees no error and no wrong data while
#   (a) one nvmfd serves two ports and a reload makes port 1's ANA group
#       inaccessible, then optimized again;
#   (b) two nvmfd on one file (disjoint controller IDs) serve the paths, one
#       is killed with kill -9 and restarted, then the other is killed (the
#       first must have rejoined to carry the load) and restarted;
# and punch-hole / zero-range (Dataset Management, Write Zeroes) over them.
# Usage: mpath_test.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
require

NS=$DIR/nvmf
LOG=$DIR/mount.log
STATE=$DIR/load.state
STOP=$DIR/load.stop

# ops: operations the load has done so far.
ops() {
	local s
	s=$(cat "$STATE" 2>/dev/null) || { echo 0; return; }
	s=${s#ops=}
	echo "${s%% *}"
}
# progress N: the load does N more operations (60 s).
progress() {
	local want=$(($(ops) + $1))
	ops_reached() { [ "$(ops)" -ge "$want" ]; }
	wait_until 60 ops_reached
}
# log_has FILE TEXT
log_has() { grep -q -- "$2" "$1"; }

start_load() {
	rm -f "$STATE" "$STOP"
	python3 "$HERE/verify_load.py" "$NS/n1" 8 "$STATE" "$STOP" &
	LOAD=$!
	PIDS+=("$LOAD")
	progress 3000 || fail "the load did not start: $(cat "$STATE" 2>&1)"
}
# stop_load WHAT: stop the load; it must end with no error and no mismatch.
stop_load() {
	touch "$STOP"
	if wait "$LOAD"; then
		pass "$1: $(cat "$STATE")"
	else
		fail "$1: $(cat "$STATE" 2>&1)"
	fi
}
end_mount() {
	kill -TERM "$MOUNT_PID"
	wait_gone "$MOUNT_PID" 60 || fail "the mount did not end on SIGTERM: $(tail -5 "$LOG")"
}

# --- (a) one nvmfd, two ports, a reload makes port 1 inaccessible
P1=$(free_port)
P2=$(free_port)
. "$(dirname "$0")/../util/two_port_config.sh"
config() { two_port_config "$DIR" "$NQN" "$P1" "$P2" "$1" "$2"; }
config optimized optimized
start_nvmfd ana -c "$DIR/config.json"
ANA_PID=$NVMFD_PID
mount_fg "$NS" "$LOG" -v -a 127.0.0.1 -s "$P1" -s "$P2" -n "$NQN" -i 2 --reconnect-delay 1 \
	--ctrl-loss-tmo 60
# The summary line follows the mount itself, so it may lag the mount table.
wait_until 30 log_has "$LOG" "2 paths" && pass "mounted over 2 paths" ||
	fail "mount log: $(cat "$LOG")"
start_load
config inaccessible optimized
kill -HUP "$ANA_PID"
wait_until 60 log_has "$DIR/ana.log" "port 1: ANA group 1 inaccessible" ||
	fail "reload to inaccessible not logged"
wait_until 60 log_has "$LOG" "ANA group 1 inaccessible" ||
	fail "the mount did not read port 1's new state: $(tail -5 "$LOG")"
progress 3000 || fail "the load stalled with port 1 inaccessible: $(cat "$STATE")"
config optimized optimized
kill -HUP "$ANA_PID"
wait_until 60 log_has "$DIR/ana.log" "port 1: ANA group 1 optimized" ||
	fail "reload to optimized not logged"
progress 3000 || fail "the load stalled after port 1 came back: $(cat "$STATE")"
stop_load "(a) port 1 inaccessible and back"
end_mount
kill -9 "$ANA_PID"
wait "$ANA_PID" 2>/dev/null

# --- (b) two nvmfd on one file, each killed with kill -9 and restarted
PA=$(free_port)
PB=$(free_port)
A=(-s "$PA" -n "$NQN" --cntlid-range 1-999 "$DIR/ha.img,size=64M")
B=(-s "$PB" -n "$NQN" --cntlid-range 1000-1999 "$DIR/ha.img,size=64M")
start_nvmfd a "${A[@]}"
PID_A=$NVMFD_PID
start_nvmfd b "${B[@]}"
PID_B=$NVMFD_PID
: >"$LOG"
mount_fg "$NS" "$LOG" -a 127.0.0.1 -s "$PA" -s "$PB" -n "$NQN" -i 2 --reconnect-delay 1 \
	--ctrl-loss-tmo 60
start_load
# kill_restart NAME PID_VAR ARGS...: kill -9, wait for more load, restart, and
# wait for the mount's path to that daemon to reconnect.
kill_restart() {
	local name=$1 var=$2 before
	shift 2
	kill -9 "${!var}"
	wait "${!var}" 2>/dev/null
	progress 3000 || fail "the load stalled with $name killed: $(cat "$STATE")"
	before=$(grep -c "reconnected" "$LOG")
	start_nvmfd "$name" "$@"
	printf -v "$var" %s "$NVMFD_PID"
	reconnected() { [ "$(grep -c "reconnected" "$LOG")" -gt "$before" ]; }
	wait_until 60 reconnected || fail "no reconnect to $name: $(tail -5 "$LOG")"
	progress 3000 || fail "the load stalled after $name came back: $(cat "$STATE")"
}
kill_restart a PID_A "${A[@]}"
kill_restart b PID_B "${B[@]}"
stop_load "(b) each of two daemons killed and restarted"
# Deallocate and Write Zeroes go over the paths too.
zeroes() { cmp -s -n "$2" <(dd if="$NS/n1" bs=4096 skip=$(($1 / 4096)) count=$(($2 / 4096)) \
	status=none) /dev/zero; }
if fallocate -p -o 4096 -l 1M "$NS/n1" && fallocate -z -o 2M -l 1M "$NS/n1" &&
	zeroes 4096 1048576 && zeroes 2097152 1048576; then
	pass "punch-hole and zero-range over two paths read zeroes"
else
	fail "punch-hole / zero-range over two paths: $(tail -3 "$LOG")"
fi
end_mount
finish
