#!/usr/bin/env bash
# Installs the Debian packages the project needs to build and test, if any
# is missing; `install-deps.sh bench` adds what the benchmarks need (the
# plot).  Safe to run repeatedly; needs root (or sudo).
set -euo pipefail

packages=(
	build-essential cmake pkg-config
	libisal-dev        # CRC32C header and data digests
	libjansson-dev     # nvmetcli-format configuration, JSON output
	liburing-dev       # io_uring engine
	libfuse3-dev fuse3 # nvmf mount
	libssl-dev         # TLS 1.3 PSK and DH-HMAC-CHAP
	zlib1g-dev         # CRC-32 of the DHHC-1 and TLS key interchange formats
	clang libclang-rt-14-dev # libFuzzer targets, sanitizers
	fio e2fsprogs util-linux # filesystem and fio tests through the mount
	iproute2 procps python3
	strace             # controller_durable_create traces fsync
	abigail-tools      # ABI baseline check (abidw, abidiff)
	groff-base man-db  # man pages: make docs, the man-page test
	librbd-dev         # rbd: namespaces (optional in the build)
	ceph-mon ceph-osd ceph-common # the suite's one-node cluster (scripts/ceph-test-cluster)
)
[ "${1:-}" = bench ] && packages+=(python3-matplotlib)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
