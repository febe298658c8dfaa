#!/usr/bin/env bash
# Interop: the nvmf host command against the real Linux kernel NVMe/TCP
# target (nvmet in QEMU, started by ../shared/interop/linux-vm target on
# 127.0.0.1).  Over 4 I/O queues: discover, identify, write and read back
# (verified), the other I/O subcommands, connect-all, and a short perf run
# with and without verification; then refusals.  Linux 6.1 (the default):
# with digests off and with header and data digests, and a second target
# that allows one host only.  Linux 6.12: one lean pass with header and data
# digests, and the unknown-subsystem refusal.
#
# usage: linux_target.sh BUILD_DIR [KERNEL]   (KERNEL: 6.1 or 6.12)
set -u

build=${1:?usage: linux_target.sh BUILD_DIR [KERNEL]}
kernel=${2:-6.1}
digest_modes="off on"
[ "$kernel" = 6.1 ] || digest_modes=on
nvmf="$build/nvmf"
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/interop/lib.sh"
nqn=nqn.2024-01.io.example:nvmf-host-interop
work=$(mktemp -d)
port=
failed=0

cleanup() {
	[ -n "$port" ] && "$vm" stop --port "$port" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
pass() { echo "ok: $*"; }

# check NAME PYTHON_EXPR: the expression holds for d = the JSON in $work/NAME.json
check() {
	if python3 -c "import json,sys; d=json.load(open('$work/$1.json')); sys.exit(0 if ($2) else 1)"; then
		pass "$1"
	else
		fail "$1: $2: $(head -c 1500 "$work/$1.json")"
	fi
}

if [ ! -x "$vm" ]; then
	echo "FAIL: $vm not found (the interop harness lives in shared/interop beside the repo)"
	exit 1
fi
if ! "$vm" build --kernel "$kernel" >"$work/build.log" 2>&1; then
	cat "$work/build.log"
	echo "FAIL: linux-vm build --kernel $kernel"
	exit 1
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if ! vm_retry_boot "$(vm_target_log "$port")" "$vm" target --kernel "$kernel" --port "$port" \
	--nqn "$nqn" --size 128 --nr-ns 1 \
	>"$work/target.log" 2>&1; then
	cat "$work/target.log"
	echo "FAIL: linux-vm target did not start"
	port=
	exit 1
fi
echo "Linux $kernel target on 127.0.0.1:$port"
target=(-a 127.0.0.1 -s "$port" -n "$nqn")
head -c $((4 << 20)) /dev/urandom >"$work/data.bin"

for digests in $digest_modes; do
	dg=()
	[ "$digests" = on ] && dg=(-g -G)
	t="digests $digests"

	# The discovery controller shares the I/O port on nvmet.  Its entries name
	# the guest's address (10.0.2.15), which is not ours to reach: connect-all
	# is pointed at 127.0.0.1.
	if "$nvmf" discover -a 127.0.0.1 -s "$port" "${dg[@]}" -o json >"$work/discover.json" 2>"$work/err"; then
		check discover "any(r['subnqn'] == '$nqn' and r['trsvcid'] == '$port' for r in d['records'])"
	else
		fail "$t: discover: $(cat "$work/err")"
	fi
	if "$nvmf" connect-all -a 127.0.0.1 -s "$port" --connect-addr 127.0.0.1 -i 4 "${dg[@]}" \
		-o json >"$work/connect_all.json" 2>"$work/err"; then
		check connect_all "d['connected'] == 1 and d['failed'] == 0"
	else
		fail "$t: connect-all: $(cat "$work/err")"
	fi
	if "$nvmf" identify "${target[@]}" -i 4 "${dg[@]}" -o json >"$work/identify.json" 2>"$work/err"; then
		check identify "d['controller']['io_queues'] == 4 and d['controller']['hdr_digest'] == ('$digests' == 'on') and d['controller']['data_digest'] == ('$digests' == 'on') and d['controller']['mn'] == 'Linux' and d['namespaces'][0]['size_bytes'] == 128 << 20"
	else
		fail "$t: identify: $(cat "$work/err")"
	fi
	"$nvmf" list-ns "${target[@]}" -i 4 "${dg[@]}" >/dev/null 2>"$work/err" || fail "$t: list-ns: $(cat "$work/err")"
	"$nvmf" get-log "${target[@]}" --log-id 2 "${dg[@]}" >/dev/null 2>"$work/err" || fail "$t: get-log: $(cat "$work/err")"
	"$nvmf" get-feature "${target[@]}" --feature-id 7 "${dg[@]}" >/dev/null 2>"$work/err" ||
		fail "$t: get-feature: $(cat "$work/err")"

	# 4 MiB in 1 MiB commands (R2T), then 8 KiB (in-capsule), read back.
	if "$nvmf" write "${target[@]}" -i 4 "${dg[@]}" --offset 1M --data "$work/data.bin" >/dev/null 2>"$work/err" &&
		"$nvmf" read "${target[@]}" -i 4 "${dg[@]}" --offset 1M --length 4M --data "$work/back.bin" \
			>/dev/null 2>"$work/err" && cmp -s "$work/data.bin" "$work/back.bin"; then
		pass "$t: 4 MiB written and read back"
	else
		fail "$t: write/read-back: $(cat "$work/err")"
	fi
	head -c 8192 /dev/urandom >"$work/small.bin"
	if "$nvmf" write "${target[@]}" "${dg[@]}" --offset 64M --data "$work/small.bin" --fua >/dev/null 2>"$work/err" &&
		"$nvmf" read "${target[@]}" "${dg[@]}" --offset 64M --length 8192 >"$work/small_back.bin" 2>"$work/err" &&
		cmp -s "$work/small.bin" "$work/small_back.bin"; then
		pass "$t: in-capsule write read back"
	else
		fail "$t: in-capsule write/read-back: $(cat "$work/err")"
	fi
	if "$nvmf" write-zeroes "${target[@]}" "${dg[@]}" --offset 64M --length 8192 >/dev/null 2>"$work/err" &&
		"$nvmf" read "${target[@]}" "${dg[@]}" --offset 64M --length 8192 >"$work/zero_back.bin" 2>"$work/err" &&
		cmp -s <(head -c 8192 /dev/zero) "$work/zero_back.bin" &&
		"$nvmf" trim "${target[@]}" "${dg[@]}" --offset 80M --length 1M >/dev/null 2>"$work/err" &&
		"$nvmf" flush "${target[@]}" "${dg[@]}" >/dev/null 2>"$work/err"; then
		pass "$t: write-zeroes, trim, flush"
	else
		fail "$t: write-zeroes/trim/flush: $(cat "$work/err")"
	fi

	# Short perf runs over 4 queues: one verified, one plain.
	if "$nvmf" perf "${target[@]}" "${dg[@]}" --queues 4 --iodepth 8 --rw randrw --verify --size 8M \
		--runtime 3 -o json >"$work/perf_verify.json" 2>"$work/err"; then
		check perf_verify "d['errors'] == 0 and d['verify']['mismatches'] == 0 and d['verify']['checked'] > 0 and d['job']['queues'] == 4"
	else
		fail "$t: perf --verify: $(tail -3 "$work/err")"
	fi
	if "$nvmf" perf "${target[@]}" "${dg[@]}" --queues 4 --iodepth 16 --rw randread --runtime 3 \
		-o json >"$work/perf.json" 2>"$work/err"; then
		check perf "d['iops'] > 0 and d['errors'] == 0"
		python3 -c "import json; d=json.load(open('$work/perf.json')); print('  $t: %.0f IOPS, %.1f MiB/s, p50 %.0f us, p99 %.0f us (TCG guest)' % (d['iops'], d['mib_per_sec'], d['lat_usec']['p50'], d['lat_usec']['p99']))"
	else
		fail "$t: perf: $(tail -3 "$work/err")"
	fi
done

# Refusals from the real target: an unknown subsystem, in one line.
if "$nvmf" identify -a 127.0.0.1 -s "$port" -n nqn.2024-01.io.example:nobody 2>"$work/err"; then
	fail "unknown NQN accepted"
elif [ "$(wc -l <"$work/err")" = 1 ] && grep -q "unknown subsystem NQN" "$work/err"; then
	pass "unknown NQN: $(cat "$work/err")"
else
	fail "unknown NQN: $(cat "$work/err")"
fi

# The target's kernel is the one asked for (its console log names it).
tlog=$(vm_target_log "$port")
if grep -q "init started (kernel ${kernel//./\\.}\\." "$tlog"; then
	pass "target runs Linux $kernel"
else
	fail "the target's log ($tlog) does not show Linux $kernel booting"
fi

# A target that allows one host: the other is refused with its reason.
# (Linux 6.1 only: one more boot, and nothing kernel-specific in it.)
host_a=nqn.2024-01.io.example:interop-host-a
host_b=nqn.2024-01.io.example:interop-host-b
if [ "$kernel" = 6.1 ]; then
	"$vm" stop --port "$port" >/dev/null 2>&1
	if ! vm_retry_boot "$(vm_target_log "$port")" "$vm" target --kernel "$kernel" --port "$port" \
		--nqn "$nqn" --size 16 --hostnqn "$host_a" \
		>"$work/target2.log" 2>&1; then
		cat "$work/target2.log"
		fail "linux-vm target --hostnqn did not start"
	elif "$nvmf" identify "${target[@]}" -q "$host_b" 2>"$work/err"; then
		fail "a host not allowed was accepted"
	elif [ "$(wc -l <"$work/err")" = 1 ] && grep -q "host $host_b is not allowed" "$work/err"; then
		pass "host not allowed: $(cat "$work/err")"
		"$nvmf" list-ns "${target[@]}" -q "$host_a" >/dev/null 2>"$work/err" && pass "allowed host connects" ||
			fail "allowed host: $(cat "$work/err")"
	else
		fail "host not allowed: $(cat "$work/err")"
	fi
fi

if [ "$failed" != 0 ]; then
	echo "$failed check(s) failed"
	exit 1
fi
echo "linux_target (Linux $kernel): all passed"
