#!/usr/bin/env bash
# Write the ABI baseline abi/libnvmf.abi from a built libnvmf.so (default
# build/src/libnvmf.so, which must carry debug information: the default
# RelWithDebInfo build does).  Run it only to accept an ABI change on
# purpose; the abi_baseline test compares every build against this file.
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${1:-build/src/libnvmf.so}
mkdir -p abi
abidw --headers-dir include/nvmf --drop-private-types --no-corpus-path --no-comp-dir-path \
	--short-locs --out-file abi/libnvmf.abi "$lib"
echo "abi/libnvmf.abi written from $lib"
