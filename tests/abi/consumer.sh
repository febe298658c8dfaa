#!/usr/bin/env bash
# The library as a user gets it: install the build into a temporary prefix,
# build tests/abi/consumer.c against it with pkg-config only, run it, and
# check that libnvmf.so exports exactly the functions the installed headers
# declare, all named nvmf_*, as src/libnvmf.map lists them.
#   consumer.sh BUILD_DIR SOURCE_DIR [EXTRA_CFLAGS]
set -euo pipefail
build=$1 src=$2 extra=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(dirname "$(find "$tmp/prefix" -name libnvmf.pc | head -1)")
libdir=$(PKG_CONFIG_PATH=$pc pkg-config --variable=libdir libnvmf)
# shellcheck disable=SC2046,SC2086  # pkg-config's flags are meant to split
cc -std=c11 -Wall -Wextra -Werror $extra -o "$tmp/consumer" "$src/tests/abi/consumer.c" \
	$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs libnvmf) -Wl,-rpath,"$libdir"
# ldd's whole output first: grep -q leaving early would SIGPIPE ldd under pipefail.
deps=$(ldd "$tmp/consumer")
grep -qF "$libdir/libnvmf.so" <<<"$deps" ||
	{ echo "consumer does not use the installed libnvmf.so:"; echo "$deps"; exit 1; }
"$tmp/consumer"

# Exported functions against the version script and the installed headers.
nm -D --defined-only "$libdir/libnvmf.so" | awk '$2 != "A" {print $3}' | sed 's/@.*//' | sort >"$tmp/exported"
sed -n '/global:/,/local:/p' "$src/src/libnvmf.map" | grep -oE '^\s*[a-z_0-9]+;' | tr -d ' \t;' | sort >"$tmp/map"
cat "$tmp/prefix/include/nvmf/"*.h | grep -v '^\s*\*\|^/\*\|typedef\|static inline' |
	grep -oE '\bnvmf_[a-z0-9_]+\(' | tr -d '(' | sort -u >"$tmp/declared"
status=0
if grep -v '^nvmf_' "$tmp/exported"; then
	echo "^ exported without the nvmf_ prefix"; status=1
fi
if ! diff -u "$tmp/map" "$tmp/exported"; then
	echo "exported symbols differ from src/libnvmf.map (- map, + exported)"; status=1
fi
if ! diff -u "$tmp/declared" "$tmp/map"; then
	echo "src/libnvmf.map differs from the functions the installed headers declare (- headers, + map)"; status=1
fi
[ $status -eq 0 ] && echo "abi: $(wc -l <"$tmp/exported") functions exported, all nvmf_*, as declared"
exit $status
