#!/usr/bin/env bash
# The freshly built libnvmf.so against the checked-in ABI baseline
# (abi/libnvmf.abi): an incompatible change (a removed or changed function,
# a public struct or enum changed in place) fails; a compatible one (an
# added function) passes and is reported.  After an intended change:
# scripts/abi-baseline.sh (README, "ABI").
#   abidiff.sh LIBNVMF_SO SOURCE_DIR BUILD_TYPE
set -uo pipefail
lib=$1 src=$2 build_type=${3:-}
if ! command -v abidiff >/dev/null; then
	echo "SKIP: abidiff not installed (Debian abigail-tools; scripts/install-deps.sh)"
	exit 77
fi
if ! grep -qF '.debug_info' <<<"$(readelf -S "$lib")"; then
	echo "SKIP: $lib has no debug information (build type '$build_type'): abidiff" \
	     "needs -g, as the default RelWithDebInfo and Debug builds have"
	exit 77
fi
report=$(abidiff --headers-dir2 "$src/include/nvmf" --drop-private-types "$src/abi/libnvmf.abi" "$lib")
rc=$?
echo "$report"
# abidiff's exit code is a bit field: 1 error, 2 usage, 4 ABI change,
# 8 incompatible change; but a public struct changed in place counts only
# as 4, so the summary decides: anything removed or changed is
# incompatible, only additions are not.
if [ $((rc & 3)) -ne 0 ]; then
	echo "FAIL: abidiff could not compare (exit $rc)"
	exit 1
fi
if [ $((rc & 8)) -ne 0 ] || grep -qE '(^|[^0-9])[1-9][0-9]* (Removed|Changed)' <<<"$report"; then
	echo "FAIL: incompatible ABI change against abi/libnvmf.abi (see above); if intended," \
	     "bump the soname or the version node and run scripts/abi-baseline.sh"
	exit 1
fi
if [ $((rc & 4)) -ne 0 ]; then
	echo "abi: only additions against abi/libnvmf.abi; scripts/abi-baseline.sh records them"
else
	echo "abi: libnvmf.so matches abi/libnvmf.abi"
fi
exit 0
