#!/usr/bin/env bash
# Interop: the nvmf host command authenticating to the real Linux 6.12
# kernel target (nvmet, in QEMU through ../shared/interop/linux-vm
# --kernel 6.12) with DH-HMAC-CHAP.  Two targets boot side by side, each
# holding one host's secret, controller secret, hash and DH group in
# configfs, as nvmet keeps them per host:
#   - SHA-512 with ffdhe3072: unidirectional and bidirectional;
#   - SHA-256 with ffdhe2048: bidirectional and unidirectional;
# each with 2 I/O queues (every queue authenticates), data written and
# read back, and what was negotiated read from identify's JSON; then the
# refusals: a wrong host secret, a wrong controller secret, no secret,
# each in one line; last, re-authentication from this host
# (nvmf_ctrl_reauthenticate, through interop_reauth): every queue under
# verified I/O, one way and both ways, and a host secret nvmet does not
# hold refused (nvmet says why) and the association ended.  (Debian's 6.1
# has no NVMe authentication.)
#
# usage: linux_target_auth.sh BUILD_DIR
set -u

build=${1:?usage: linux_target_auth.sh BUILD_DIR}
nvmf="$build/nvmf"
reauth="$build/tests/interop_reauth"
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/interop/lib.sh"
kernel=6.12
nqn=nqn.2024-01.io.example:nvmf-auth-interop
host_1=nqn.2024-01.io.example:nvmf-auth-host-1
host_2=nqn.2024-01.io.example:nvmf-auth-host-2
work=$(mktemp -d)
ports=()
failed=0

cleanup() {
	for p in "${ports[@]}"; do "$vm" stop --port "$p" >/dev/null 2>&1; done
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

# refused NAME PATTERN CMD...: fails, with one line matching PATTERN
refused() {
	local name=$1 pattern=$2
	shift 2
	if "$@" >/dev/null 2>"$work/err"; then
		fail "$name: accepted"
	elif [ "$(wc -l <"$work/err")" = 1 ] && grep -q -- "$pattern" "$work/err"; then
		pass "$name: $(cat "$work/err")"
	else
		fail "$name: $(cat "$work/err")"
	fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

if [ ! -x "$vm" ]; then
	echo "FAIL: $vm not found (the interop harness lives in shared/interop beside the repo)"
	exit 1
fi
if ! "$vm" build --kernel $kernel >"$work/build.log" 2>&1; then
	cat "$work/build.log"
	echo "FAIL: linux-vm build --kernel $kernel"
	exit 1
fi

key_1=$("$nvmf" gen-dhchap-key --hmac 3 --nqn "$host_1")
ckey_1=$("$nvmf" gen-dhchap-key --hmac 1 --nqn "$nqn")
key_2=$("$nvmf" gen-dhchap-key --hmac 1 --nqn "$host_2")
ckey_2=$("$nvmf" gen-dhchap-key)
port_1=$(free_port)
port_2=$(free_port)
ports=("$port_1" "$port_2")

# Both targets boot at once.
vm_retry_boot "$(vm_target_log "$port_1")" \
	"$vm" target --kernel $kernel --port "$port_1" --nqn "$nqn" --size 64 --hostnqn "$host_1" \
	--dhchap-secret "$key_1" --dhchap-ctrl-secret "$ckey_1" \
	--dhchap-hash 'hmac(sha512)' --dhchap-dhgroup ffdhe3072 >"$work/target1.log" 2>&1 &
t1=$!
vm_retry_boot "$(vm_target_log "$port_2")" \
	"$vm" target --kernel $kernel --port "$port_2" --nqn "$nqn" --size 64 --hostnqn "$host_2" \
	--dhchap-secret "$key_2" --dhchap-ctrl-secret "$ckey_2" \
	--dhchap-hash 'hmac(sha256)' --dhchap-dhgroup ffdhe2048 >"$work/target2.log" 2>&1 &
t2=$!
for t in "$t1:1" "$t2:2"; do
	if ! wait "${t%%:*}"; then
		cat "$work/target${t#*:}.log"
		echo "FAIL: linux-vm target ${t#*:} did not start"
		exit 1
	fi
done
echo "Linux $kernel targets on 127.0.0.1:$port_1 (sha512, ffdhe3072) and :$port_2 (sha256, ffdhe2048)"
head -c $((2 << 20)) /dev/urandom >"$work/data.bin"

# session NAME PORT HOST HASH GROUP BIDIR SECRET...: identify, then data
# written and read back, all authenticated
session() {
	local name=$1 port=$2 host=$3 hash=$4 group=$5 bidir=$6
	shift 6
	local t=(-a 127.0.0.1 -s "$port" -n "$nqn" -q "$host" -i 2 "$@")

	if "$nvmf" identify "${t[@]}" -o json >"$work/$name.json" 2>"$work/err"; then
		check "$name" "d['controller']['dhchap'] == {'hash': '$hash', 'dhgroup': '$group', 'bidirectional': $bidir} and d['controller']['io_queues'] == 2 and d['controller']['mn'] == 'Linux'"
	else
		fail "$name: identify: $(cat "$work/err")"
	fi
	if "$nvmf" write "${t[@]}" --offset 1M --data "$work/data.bin" >/dev/null 2>"$work/err" &&
		"$nvmf" read "${t[@]}" --offset 1M --length 2M --data "$work/back.bin" >/dev/null 2>"$work/err" &&
		cmp -s "$work/data.bin" "$work/back.bin"; then
		pass "$name: 2 MiB written and read back"
	else
		fail "$name: write/read-back: $(cat "$work/err")"
	fi
	rm -f "$work/back.bin"
}

session sha512_ffdhe3072_uni "$port_1" "$host_1" sha512 ffdhe3072 False --dhchap-secret "$key_1"
session sha512_ffdhe3072_bi "$port_1" "$host_1" sha512 ffdhe3072 True --dhchap-secret "$key_1" \
	--dhchap-ctrl-secret "$ckey_1"
session sha256_ffdhe2048_bi "$port_2" "$host_2" sha256 ffdhe2048 True -S "$key_2" -C "$ckey_2"
session sha256_ffdhe2048_uni "$port_2" "$host_2" sha256 ffdhe2048 False -S "$key_2"

# A short verified load over both I/O queues, authenticated both ways.
if "$nvmf" perf -a 127.0.0.1 -s "$port_1" -n "$nqn" -q "$host_1" -S "$key_1" -C "$ckey_1" \
	--queues 2 --iodepth 8 --rw randrw --verify --size 8M --runtime 3 -o json \
	>"$work/perf.json" 2>"$work/err"; then
	check perf "d['errors'] == 0 and d['verify']['mismatches'] == 0 and d['verify']['checked'] > 0"
else
	fail "perf --verify: $(tail -3 "$work/err")"
fi

t1=(-a 127.0.0.1 -s "$port_1" -n "$nqn" -q "$host_1")
refused wrong_host_secret "DH-HMAC-CHAP on queue 0 failed: controller refused authentication" \
	"$nvmf" identify "${t1[@]}" -S "$key_2"
refused wrong_ctrl_secret "controller response mismatch: wrong controller key?" \
	"$nvmf" identify "${t1[@]}" -S "$key_1" -C "$ckey_2"
refused no_secret "requires in-band authentication (DH-HMAC-CHAP)" "$nvmf" identify "${t1[@]}"
# nvmet's side: the target's console log names the refusal.
tlog=$(vm_target_log "$port_1")
grep -q "host response mismatch" "$tlog" && pass "nvmet: host response mismatch" ||
	fail "nvmet's log ($tlog) does not say 'host response mismatch'"

# Re-authentication of a live controller, SHA-512 and ffdhe3072.
mismatches=$(grep -c "host response mismatch" "$tlog")
wrong_1=$("$nvmf" gen-dhchap-key --hmac 3 --nqn "$host_1")
start=$SECONDS
"$reauth" 127.0.0.1 "$port_1" "$nqn" "$host_1" "$key_1" "$ckey_1" "$wrong_1" >"$work/reauth.out" 2>"$work/reauth.err"
rc=$?
sed 's/^/  reauth: /' "$work/reauth.out"
if [ $rc -eq 0 ] && ! grep -q "^FAIL" "$work/reauth.out" && [ "$(grep -c "^ok" "$work/reauth.out")" -eq 11 ]; then
	pass "re-authentication (interop_reauth, $((SECONDS - start)) s)"
else
	tail -5 "$work/reauth.err"
	fail "re-authentication (interop_reauth exit $rc)"
fi
# The guest's console reaches the log a little after nvmet acts: wait for it.
for _ in $(seq 100); do
	[ "$(grep -c "host response mismatch" "$tlog")" -gt "$mismatches" ] && break
	sleep 0.1
done
[ "$(grep -c "host response mismatch" "$tlog")" -gt "$mismatches" ] &&
	pass "nvmet: host response mismatch on re-authentication" ||
	fail "nvmet's log does not say 'host response mismatch' for the re-authentication"

if [ "$failed" != 0 ]; then
	echo "$failed check(s) failed"
	exit 1
fi
echo "linux_target_auth: all passed"
