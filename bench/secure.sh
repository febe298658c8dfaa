#!/usr/bin/env bash
# The cost of the secure channels (issue 8), every point run ROUNDS times
# (the machine is shared: look at the spread):
#   1. the transport alone (transport_bench): plaintext against TLS 1.3 with
#      each cipher suite, 4 KiB depth 32 and 128 KiB depth 8, read and write;
#   2. end to end (nvmf perf against nvmfd, ramdisk): the same points,
#      plaintext, TLS, DH-HMAC-CHAP, both;
#   3. connect time: nvmf list-ns (connect with 2 I/O queues, identify,
#      disconnect) per invocation, plaintext against TLS and DH-HMAC-CHAP
#      with the null group and ffdhe2048 / ffdhe8192.
# Prints markdown tables.  Usage: [ENGINE=hybrid] bench/secure.sh BUILD_DIR [ROUNDS]
set -euo pipefail

build=${1:?usage: secure.sh BUILD_DIR [ROUNDS]}
rounds=${2:-2}
engine=${ENGINE:-hybrid}     # transport_bench's; nvmfd and nvmf use their default
nvmf=$build/nvmf
nvmfd=$build/nvmfd
tb=$build/bench/transport_bench
nqn=nqn.2024-01.io.example:secure-bench
host=nqn.2024-01.io.example:secure-bench-host
host_8192=nqn.2024-01.io.example:secure-bench-host-8192
host_ta=nqn.2024-01.io.example:secure-bench-host-tls-auth
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_nvmfd() {
	local log=$work/nvmfd-$1.log
	shift
	"$nvmfd" --discovery-port 0 -q "$@" 2>"$log" &
	pids+=($!)
	for _ in $(seq 200); do
		grep -q "nvmfd: ready" "$log" && return 0
		sleep 0.05
	done
	cat "$log" >&2
	exit 1
}

# row LABEL -- CMD1... -- CMD2... : one table row; each round runs every
# column once before the next round, so load changes hit all columns alike
row() {
	local label=$1 cols=() i r
	shift
	local -a cmds=()
	while [ $# -gt 0 ]; do
		[ "$1" = -- ] && { cmds+=(""); shift; continue; }
		cmds[${#cmds[@]}-1]+="$(printf '%q ' "$1")"
		shift
	done
	for ((i = 0; i < ${#cmds[@]}; i++)); do cols+=(""); done
	for ((r = 0; r < rounds; r++)); do
		for ((i = 0; i < ${#cmds[@]}; i++)); do
			cols[i]+="${cols[i]:+; }$(eval "${cmds[i]}")"
		done
	done
	printf '| %s |' "$label"
	printf ' %s |' "${cols[@]}"
	echo
}

tb_point() { # rw bs qd [--tls N]: "IOPS MiB/s"
	"$tb" --rw "$1" --bs "$2" --iodepth "$3" --runtime 2 --engine "$engine" -o json "${@:4}" |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.0fk IOPS %.0f MiB/s" % (d["iops"]/1e3, d["mib_per_sec"]))'
}

perf_point() { # port host rw bs qd extra...: "IOPS MiB/s"
	"$nvmf" perf -a 127.0.0.1 -s "$1" -n "$nqn" -q "$2" --rw "$3" --bs "$4" --iodepth "$5" \
		--runtime 3 --size 256M -o json "${@:6}" 2>/dev/null |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.0fk IOPS %.0f MiB/s" % (d["iops"]/1e3, d["mib_per_sec"]))'
}

connect_ms() { # port host extra...: mean ms per nvmf list-ns over 20
	local t0 t1
	t0=$(date +%s%N)
	for _ in $(seq 20); do
		"$nvmf" list-ns -a 127.0.0.1 -s "$1" -n "$nqn" -q "$2" -i 2 "${@:3}" >/dev/null
	done
	t1=$(date +%s%N)
	echo "$(( (t1 - t0) / 20000000 )) ms"
}

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## transport_bench (${engine} engine), ${rounds} runs per point"
echo
echo "| case | plaintext | TLS_AES_128_GCM_SHA256 | TLS_AES_256_GCM_SHA384 |"
echo "|---|---|---|---|"
for p in "read 4k 32" "write 4k 32" "read 128k 8" "write 128k 8"; do
	set -- $p
	row "$1 $2 qd$3" -- tb_point "$@" -- tb_point "$@" --tls 1 -- tb_point "$@" --tls 2
done

key=$("$nvmf" gen-dhchap-key --hmac 1 --nqn "$host")
key_8192=$("$nvmf" gen-dhchap-key --hmac 3 --nqn "$host_8192")
key_ta=$("$nvmf" gen-dhchap-key --hmac 1 --nqn "$host_ta")
tls_128=$("$nvmf" gen-tls-key --hmac 1)
tls_ta=$("$nvmf" gen-tls-key --hmac 1)
tls_256=$("$nvmf" gen-tls-key --hmac 2)
p_plain=$(free_port)
p_auth=$(free_port)
p_tls128=$(free_port)
p_tls256=$(free_port)
start_nvmfd plain -s "$p_plain" -n "$nqn" ramdisk:1G
start_nvmfd auth -s "$p_auth" -n "$nqn" ramdisk:1G --allow-host "$host" --dhchap-secret "$key" \
	--dhchap-dhgroup ffdhe2048 --allow-host "$host_8192" --dhchap-secret "$key_8192" \
	--dhchap-hash sha512 --dhchap-dhgroup ffdhe8192
start_nvmfd tls128 -s "$p_tls128" -n "$nqn" ramdisk:1G --tls --allow-host "$host" \
	--tls-key "$tls_128" --allow-host "$host_ta" --tls-key "$tls_ta" --dhchap-secret "$key_ta" \
	--dhchap-dhgroup ffdhe2048
start_nvmfd tls256 -s "$p_tls256" -n "$nqn" ramdisk:1G --tls --allow-host "$host" --tls-key "$tls_256"

echo
echo "## nvmf perf against nvmfd (ramdisk, default engines, 1 I/O queue), ${rounds} runs per point"
echo
echo "| case | plaintext | DH-HMAC-CHAP | TLS_AES_128_GCM_SHA256 | TLS_AES_256_GCM_SHA384 | TLS (AES-128) + DH-HMAC-CHAP |"
echo "|---|---|---|---|---|---|"
for p in "randread 4k 32" "randwrite 4k 32" "read 128k 8" "write 128k 8"; do
	set -- $p
	row "$1 $2 qd$3" -- perf_point "$p_plain" "$host" "$@" \
		-- perf_point "$p_auth" "$host" "$@" -S "$key" \
		-- perf_point "$p_tls128" "$host" "$@" --tls-key "$tls_128" \
		-- perf_point "$p_tls256" "$host" "$@" --tls-key "$tls_256" \
		-- perf_point "$p_tls128" "$host_ta" "$@" --tls-key "$tls_ta" -S "$key_ta"
done
echo
echo "## connect, identify, disconnect (nvmf list-ns, 2 I/O queues), mean of 20, ${rounds} runs"
echo
echo "| | plaintext | TLS (AES-128) | TLS (AES-256) | DH-HMAC-CHAP sha256/ffdhe2048 | DH-HMAC-CHAP sha512/ffdhe8192 | TLS + DH-HMAC-CHAP (ffdhe2048) |"
echo "|---|---|---|---|---|---|---|"
row "mean of 20" -- connect_ms "$p_plain" "$host" \
	-- connect_ms "$p_tls128" "$host" --tls-key "$tls_128" \
	-- connect_ms "$p_tls256" "$host" --tls-key "$tls_256" \
	-- connect_ms "$p_auth" "$host" -S "$key" \
	-- connect_ms "$p_auth" "$host_8192" -S "$key_8192" \
	-- connect_ms "$p_tls128" "$host_ta" --tls-key "$tls_ta" -S "$key_ta"
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
