#!/usr/bin/env bash
# What the gateway costs on Ceph RBD (issue 18): `nvmf perf` through nvmfd on
# an rbd: namespace against `rbd bench` (librbd in-process, no NVMe/TCP) on
# the same image, interleaved, each point ROUNDS times; the ratio is nvmf
# over rbd bench, medians.  4 KiB random read and write at depth 32, 128 KiB
# sequential read and write at depth 8, one I/O queue.  Uses the cluster
# CEPH_CONF names, or starts a one-node one (scripts/ceph-test-cluster) and
# stops it at the end.  Prints a markdown table.
#   bench/rbd.sh BUILD_DIR [ROUNDS] [SECONDS]
set -euo pipefail

build=${1:?usage: rbd.sh BUILD_DIR [ROUNDS] [SECONDS]}
rounds=${2:-3}
seconds=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
cluster_script=$here/../scripts/ceph-test-cluster
nqn=nqn.2024-01.io.example:rbd-bench
image=rbd/nvmf-bench-$$
work=$(mktemp -d)
own_cluster=""
nvmfd_pid=""

cleanup() {
	[ -n "$nvmfd_pid" ] && kill "$nvmfd_pid" 2>/dev/null && wait "$nvmfd_pid" 2>/dev/null
	rbd rm --no-progress "$image" >/dev/null 2>&1 || true
	[ -n "$own_cluster" ] && "$cluster_script" stop "$work/cluster"
	rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${CEPH_CONF:-}" ]; then
	own_cluster=1
	start=${EPOCHREALTIME/./}
	eval "$("$cluster_script" start "$work/cluster" 2>/dev/null | grep '^CEPH_CONF=')"
	echo "cluster started in $(((${EPOCHREALTIME/./} - start) / 1000)) ms" >&2
fi
export CEPH_CONF

rbd create --size 256M --image-feature layering "$image"
# Reads of never-written objects cost nothing in the OSD: write it all once.
rbd bench --io-type write --io-size 4M --io-threads 4 --io-total 256M --io-pattern seq \
	"$image" >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/nvmfd" -s "$port" --discovery-port 0 -n "$nqn" -q "rbd:$image" 2>"$work/nvmfd.log" &
nvmfd_pid=$!
for _ in $(seq 500); do
	grep -q "nvmfd: ready" "$work/nvmfd.log" && break
	sleep 0.02
done
grep -q "nvmfd: ready" "$work/nvmfd.log" || { cat "$work/nvmfd.log" >&2; exit 1; }

# nvmf_iops RW BS DEPTH
nvmf_iops() {
	"$build/nvmf" perf -i 1 --rw "$1" --bs "$2" --iodepth "$3" --runtime "$seconds" -o json \
		"nvme+tcp://127.0.0.1:$port/$nqn" |
		python3 -c 'import json, sys; print(round(json.load(sys.stdin)["iops"]))'
}

# rbd_iops TYPE PATTERN BS DEPTH RATE: rbd bench sized to run about $seconds
# at the rate RATE (IOPS) seen last
rbd_iops() {
	local bytes total
	bytes=$(numfmt --from=iec "${3^^}")
	total=$(($5 * seconds * bytes))
	[ "$total" -ge $((bytes * $4 * 4)) ] || total=$((bytes * $4 * 4))
	rbd bench --io-type "$1" --io-pattern "$2" --io-size "$bytes" --io-threads "$4" \
		--io-total "$total" "$image" |
		awk '/^elapsed:/ { for (i = 1; i < NF; i++) if ($i == "ops/sec:") printf "%d\n", $(i + 1) }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "| case | nvmf perf via nvmfd (IOPS, median) | rbd bench (IOPS, median) | ratio | runs (nvmf / rbd) |"
echo "|---|---|---|---|---|"
for spec in "randread rand read 4k 32" "randwrite rand write 4k 32" \
	"read seq read 128k 8" "write seq write 128k 8"; do
	read -r rw pattern type bs depth <<<"$spec"
	nv=()
	rb=()
	rate=200
	for _ in $(seq "$rounds"); do
		rate=$(nvmf_iops "$rw" "$bs" "$depth")
		nv+=("$rate")
		rb+=("$(rbd_iops "$type" "$pattern" "$bs" "$depth" "$rate")")
	done
	n=$(printf '%s\n' "${nv[@]}" | median)
	r=$(printf '%s\n' "${rb[@]}" | median)
	echo "| $rw $bs qd$depth | $n | $r | $(python3 -c "print(f'{$n / $r:.2f}')") | ${nv[*]} / ${rb[*]} |"
done
