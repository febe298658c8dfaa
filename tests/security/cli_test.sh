#!/bin/bash
# SPDX-License-Identifier: MIT
# Secure channels from the command line: nvmf gen-dhchap-key and
# gen-tls-key print what nvme-cli prints (checked against an independent
# Python computation); nvmfd's --allow-host ... --dhchap-* / --tls-key /
# --tls options and their misuse; nvmf's --dhchap-secret, -S/-C,
# --tls-key, --tls-key-file against them: data verified, negotiated
# parameters in identify's JSON, one-line refusals, the discovery log's
# TREQ/TSAS and connect-all picking TLS.  Usage: cli_test.sh BUILD_DIR
set -u

BUILD=${1:?usage: cli_test.sh BUILD_DIR}
NVMF=$BUILD/nvmf
NVMFD=$BUILD/nvmfd
NQN=nqn.2024-01.io.example:sec-cli
HOST_A=nqn.2024-01.io.example:sec-cli-host-a
HOST_B=nqn.2024-01.io.example:sec-cli-host-b
DIR=$(mktemp -d /tmp/nvmf-sec-cli.XXXXXX)
. "$(dirname "$0")/../util/cli_lib.sh"

# start_nvmfd NAME ARGS...: start, wait for "ready"; pid in NVMFD_PID
start_nvmfd() {
	local name=$1
	shift
	nvmfd_start "$DIR/$name.log" "$@"
}

# log_has NAME PATTERN: the daemon's log says it (within 30 s: the daemon may
# write it after the host has its answer, later still on a loaded machine)
log_has() {
	for _ in $(seq 300); do
		grep -q -- "$2" "$DIR/$1.log" && return 0
		sleep 0.1
	done
	fail "nvmfd log $1 lacks '$2'"
}

# The formats, computed independently: DHHC-1 (TP 8006) and the TLS PSK
# interchange format (TP 8011): base64(key || CRC-32(key) little-endian).
reference_key() {
	python3 - "$@" <<'EOF'
import base64, hashlib, hmac, sys, zlib
kind, h, secret = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
nqn = sys.argv[4] if len(sys.argv) > 4 else ""
key = secret
if kind == "dhchap" and h:
    key = hmac.new(secret, nqn.encode() + b"NVMe-over-Fabrics",
                   {1: hashlib.sha256, 2: hashlib.sha384, 3: hashlib.sha512}[h]).digest()
blob = base64.b64encode(key + zlib.crc32(key).to_bytes(4, "little")).decode()
print("%s:%02x:%s:" % ("DHHC-1" if kind == "dhchap" else "NVMeTLSkey-1", h, blob))
EOF
}

# --- gen-dhchap-key / gen-tls-key
for h in 0 1 2 3; do
	len=$((h == 0 ? 32 : 16 + 16 * h))
	[ $h = 2 ] && len=48
	[ $h = 3 ] && len=64
	secret=$(head -c $len /dev/urandom | od -An -tx1 | tr -d ' \n')
	run gen_dhchap_$h 0 "$NVMF" gen-dhchap-key --hmac $h --nqn "$HOST_A" --secret "$secret" &&
		[ "$(cat "$DIR/gen_dhchap_$h.out")" = "$(reference_key dhchap $h "$secret" "$HOST_A")" ] &&
		pass "gen-dhchap-key --hmac $h matches the reference" ||
		fail "gen-dhchap-key --hmac $h: $(cat "$DIR/gen_dhchap_$h.out") != $(reference_key dhchap $h "$secret" "$HOST_A")"
done
run gen_dhchap_short 0 "$NVMF" gen-dhchap-key -m 2 -n "$HOST_A" &&
	grep -qE '^DHHC-1:02:[A-Za-z0-9+/]{70}==:$' "$DIR/gen_dhchap_short.out" && pass "gen-dhchap-key -m 2 (random, 48 bytes)" ||
	fail "gen-dhchap-key -m 2: $(cat "$DIR/gen_dhchap_short.out")"
run gen_dhchap_len 0 "$NVMF" gen-dhchap-key --key-length 64 &&
	grep -qE '^DHHC-1:00:[A-Za-z0-9+/]{91}=:$' "$DIR/gen_dhchap_len.out" && pass "gen-dhchap-key --key-length 64" ||
	fail "gen-dhchap-key --key-length 64: $(cat "$DIR/gen_dhchap_len.out")"
run gen_dhchap_bad 1 "$NVMF" gen-dhchap-key --hmac 1 --key-length 48 --nqn "$HOST_A" && one_line gen_dhchap_bad "48"
LINUX_VM="$(dirname "$0")/../../../shared/interop/linux-vm"
if [ -x "$LINUX_VM" ]; then
	secret=$(head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n')
	[ "$("$NVMF" gen-dhchap-key --hmac 2 --nqn "$HOST_A" --secret "$secret")" = \
		"$("$LINUX_VM" gen-dhchap-key --hmac 2 --nqn "$HOST_A" --secret "$secret")" ] &&
		pass "gen-dhchap-key matches linux-vm gen-dhchap-key (nvme-cli's format)" ||
		fail "gen-dhchap-key differs from linux-vm gen-dhchap-key"
fi
for h in 1 2; do
	secret=$(head -c $((16 + 16 * h)) /dev/urandom | od -An -tx1 | tr -d ' \n')
	run gen_tls_$h 0 "$NVMF" gen-tls-key --hmac $h --secret "$secret" &&
		[ "$(cat "$DIR/gen_tls_$h.out")" = "$(reference_key tls $h "$secret")" ] &&
		pass "gen-tls-key --hmac $h matches the reference" ||
		fail "gen-tls-key --hmac $h: $(cat "$DIR/gen_tls_$h.out")"
done
run gen_tls_default 0 "$NVMF" gen-tls-key &&
	grep -qE '^NVMeTLSkey-1:01:[A-Za-z0-9+/]{48}:$' "$DIR/gen_tls_default.out" && pass "gen-tls-key (random, SHA-256)" ||
	fail "gen-tls-key: $(cat "$DIR/gen_tls_default.out")"
run gen_tls_bad 2 "$NVMF" gen-tls-key --hmac 3 && one_line gen_tls_bad "invalid --hmac"
run gen_tls_insert 2 "$NVMF" gen-tls-key --insert && one_line gen_tls_insert "keyring"

# --- nvmfd option misuse
run nvmfd_order 2 "$NVMFD" --dhchap-secret "$(cat "$DIR/gen_dhchap_1.out")" && one_line nvmfd_order "after --allow-host"
run nvmfd_badkey 1 "$NVMFD" -s 0 --discovery-port 0 --allow-host "$HOST_A" --dhchap-secret DHHC-1:01:AAAA: ramdisk:1M &&
	grep -q "host $HOST_A: dhchap_key" "$DIR/nvmfd_badkey.err" && pass "nvmfd: bad secret named" ||
	fail "nvmfd bad secret: $(cat "$DIR/nvmfd_badkey.err")"
run nvmfd_hash 2 "$NVMFD" --allow-host "$HOST_A" --dhchap-hash md5 && one_line nvmfd_hash "sha256, sha384 or sha512"
run nvmfd_tls_nokey 1 "$NVMFD" -s 0 --discovery-port 0 --tls --allow-host "$HOST_A" ramdisk:1M &&
	one_line nvmfd_tls_nokey "no host could connect"

# --- DH-HMAC-CHAP: nvmfd from the command line
KEY_A=$("$NVMF" gen-dhchap-key --hmac 3 --nqn "$HOST_A")
CKEY_A=$("$NVMF" gen-dhchap-key --hmac 2 --nqn "$NQN")
KEY_B=$("$NVMF" gen-dhchap-key)
PORT=$(free_port)
DISC_A=$(free_port)
start_nvmfd auth -s "$PORT" --discovery-port "$DISC_A" -n "$NQN" ramdisk:32M \
	--allow-host "$HOST_A" --dhchap-secret "$KEY_A" --dhchap-ctrl-secret "$CKEY_A" \
	--dhchap-hash sha512 --dhchap-dhgroup ffdhe3072 \
	--allow-host "$HOST_B" --dhchap-secret "$KEY_B"
T=(-a 127.0.0.1 -s "$PORT" -n "$NQN")
# Secrets do not stay readable in nvmfd's command line.
if tr '\0' ' ' <"/proc/$NVMFD_PID/cmdline" | grep -qF -e "${KEY_A#DHHC-1:03:}" -e "${CKEY_A#DHHC-1:02:}"; then
	fail "nvmfd's /proc/PID/cmdline still shows a secret"
else
	pass "secrets wiped from nvmfd's command line"
fi
run auth_bidir 0 "$NVMF" identify "${T[@]}" -q "$HOST_A" -S "$KEY_A" -C "$CKEY_A" -i 2 -o json &&
	json_check auth_bidir "d['controller']['dhchap'] == {'hash': 'sha512', 'dhgroup': 'ffdhe3072', 'bidirectional': True} and d['controller']['tls'] is None"
run auth_uni 0 "$NVMF" identify "${T[@]}" -q "$HOST_B" --dhchap-secret "$KEY_B" -o json &&
	json_check auth_uni "d['controller']['dhchap'] == {'hash': 'sha256', 'dhgroup': 'null', 'bidirectional': False}"
run auth_text 0 "$NVMF" identify "${T[@]}" -q "$HOST_B" --dhchap-secret "$KEY_B" &&
	grep -q "auth *: DH-HMAC-CHAP sha256, null, unidirectional" "$DIR/auth_text.out" && pass "identify shows auth" ||
	fail "identify auth line: $(cat "$DIR/auth_text.out")"
head -c $((1024 * 1024)) /dev/urandom >"$DIR/data.bin"
run auth_write 0 "$NVMF" write "${T[@]}" -q "$HOST_A" -S "$KEY_A" -C "$CKEY_A" --data "$DIR/data.bin" &&
	run auth_read 0 "$NVMF" read "${T[@]}" -q "$HOST_A" -S "$KEY_A" -C "$CKEY_A" --length 1M --data "$DIR/back.bin" &&
	cmp -s "$DIR/data.bin" "$DIR/back.bin" && pass "authenticated write, read back verified" || fail "authenticated read back differs"
run auth_wrong 1 "$NVMF" identify "${T[@]}" -q "$HOST_A" --dhchap-secret "$KEY_B" && one_line auth_wrong "wrong secret for host $HOST_A"
log_has auth "host response mismatch: wrong host key?"
run auth_wrong_ctrl 1 "$NVMF" identify "${T[@]}" -q "$HOST_A" -S "$KEY_A" -C "$KEY_B" &&
	one_line auth_wrong_ctrl "controller response mismatch: wrong controller key?"
run auth_missing 1 "$NVMF" identify "${T[@]}" -q "$HOST_A" && one_line auth_missing "give this host's secret (--dhchap-secret)"
run auth_malformed 1 "$NVMF" identify "${T[@]}" -q "$HOST_A" -S DHHC-1:09:xx: && one_line auth_malformed "invalid DH-HMAC-CHAP secret"
# Through discovery (which does not authenticate, as on Linux) to the
# subsystem, which does, both ways.
run auth_connect_all 0 "$NVMF" connect-all -a 127.0.0.1 -s "$DISC_A" -q "$HOST_A" -S "$KEY_A" -C "$CKEY_A" -o json &&
	json_check auth_connect_all "d['connected'] == 1 and d['failed'] == 0"

# --- TLS: nvmfd --tls with a host that also authenticates
TLS_A=$("$NVMF" gen-tls-key)
TLS_B=$("$NVMF" gen-tls-key --hmac 2)
PORT_TLS=$(free_port)
DISC=$(free_port)
start_nvmfd tls -s "$PORT_TLS" --discovery-port "$DISC" -n "$NQN" ramdisk:32M --tls \
	--allow-host "$HOST_A" --tls-key "$TLS_A" --dhchap-secret "$KEY_A" \
	--allow-host "$HOST_B" --tls-key "$TLS_B"
T=(-a 127.0.0.1 -s "$PORT_TLS" -n "$NQN")
log_has tls "TLS 1.3 required"
# nvme-cli's key file format: "<identity> <key>" lines.
echo "NVMe0R01 $HOST_A $NQN $TLS_A" >"$DIR/tls.keys"
chmod 600 "$DIR/tls.keys"
run tls_file 0 "$NVMF" identify "${T[@]}" -q "$HOST_A" --tls-key-file "$DIR/tls.keys" -S "$KEY_A" -o json &&
	json_check tls_file "d['controller']['tls'] == 'TLS_AES_128_GCM_SHA256' and d['controller']['dhchap']['hash'] == 'sha256'"
run tls_384 0 "$NVMF" identify "${T[@]}" -q "$HOST_B" --tls --tls-key "$TLS_B" -o json &&
	json_check tls_384 "d['controller']['tls'] == 'TLS_AES_256_GCM_SHA384' and d['controller']['dhchap'] is None"
run tls_write 0 "$NVMF" write "${T[@]}" -q "$HOST_B" --tls-key "$TLS_B" --offset 4M --data "$DIR/data.bin" &&
	run tls_read 0 "$NVMF" read "${T[@]}" -q "$HOST_B" --tls-key "$TLS_B" --offset 4M --length 1M --data "$DIR/back2.bin" &&
	cmp -s "$DIR/data.bin" "$DIR/back2.bin" && pass "TLS write, read back verified" || fail "TLS read back differs"
run tls_plain 1 "$NVMF" identify "${T[@]}" -q "$HOST_B" && one_line tls_plain "does the port require TLS"
log_has tls "plaintext NVMe/TCP PDU (type 00, ICReq) on a port that requires TLS"
run tls_wrong 1 "$NVMF" identify "${T[@]}" -q "$HOST_B" --tls-key "$TLS_A" && one_line tls_wrong "refused the PSK"
log_has tls "TLS handshake refused"
run tls_nokey 1 "$NVMF" identify "${T[@]}" -q "$HOST_B" --tls && one_line tls_nokey "needs a pre-shared key"
run tls_nofile 1 "$NVMF" identify "${T[@]}" --tls-key-file "$DIR/missing" && one_line tls_nofile "tls-key-file"
# The plaintext discovery port reports the requirement; connect-all uses the key.
run tls_discover 0 "$NVMF" discover -a 127.0.0.1 -s "$DISC" -q "$HOST_B" -o json &&
	json_check tls_discover "any(r['subnqn'] == '$NQN' and r['treq'].startswith('required') and r['sectype'] == 'tls1.3' for r in d['records'])"
run tls_connect_all_nokey 1 "$NVMF" connect-all -a 127.0.0.1 -s "$DISC" -q "$HOST_B" &&
	grep -q "requires a secure channel (TLS 1.3): give a TLS PSK" "$DIR/tls_connect_all_nokey.err" &&
	pass "connect-all without a key: the reason" || fail "connect-all without a key: $(cat "$DIR/tls_connect_all_nokey.err")"
run tls_connect_all 0 "$NVMF" connect-all -a 127.0.0.1 -s "$DISC" -q "$HOST_B" --tls-key "$TLS_B" -o json &&
	json_check tls_connect_all "d['connected'] == 1 and d['failed'] == 0"

for name in auth tls; do
	kill -TERM "${PIDS[@]}" 2>/dev/null
done
wait 2>/dev/null
PIDS=()
for name in auth tls; do
	grep -q "nvmfd: stopped$" "$DIR/$name.log" || fail "nvmfd $name did not stop cleanly: $(tail -3 "$DIR/$name.log")"
	! grep -qE "Sanitizer|runtime error" "$DIR/$name.log" || fail "nvmfd $name: sanitizer report"
done

if [ "$FAILURES" != 0 ]; then
	echo "$FAILURES check(s) failed"
	exit 1
fi
echo "security cli: all passed"
