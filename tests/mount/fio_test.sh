#!/bin/bash
# SPDX-License-Identifier: MIT
# fio with verification directly on a mounted namespace file: random writes
# from several jobs at depth (libaio, O_DIRECT), every block checked with
# crc32c; then large sequential writes and reads, checked the same way.
# Usage: fio_test.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
require fio

PORT=$(free_port)
start_nvmfd target -s "$PORT" -n "$NQN" ramdisk:64M
NS=$DIR/nvmf
do_mount "$NS" -a 127.0.0.1 -s "$PORT" -n "$NQN" -i 2

# fio_verify NAME ARGS...: fio must finish without errors and verify every block.
fio_verify() {
	local name=$1
	shift
	if fio --name="$name" --filename="$NS/n1" --direct=1 --ioengine=libaio --verify_state_save=0 \
		--verify=crc32c --verify_fatal=1 --group_reporting --output-format=json "$@" \
		>"$DIR/$name.json" 2>"$DIR/$name.err" &&
		python3 - "$DIR/$name.json" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
d = json.loads(text[text.index("{"):])  # fio may print warnings first
j = d["jobs"][0]
assert j["error"] == 0, j["error"]
assert j["write"]["io_bytes"] > 0 and j["read"]["io_bytes"] == j["write"]["io_bytes"], \
    (j["write"]["io_bytes"], j["read"]["io_bytes"])
print(f'  written {j["write"]["io_bytes"] >> 20} MiB at {j["write"]["iops"]:.0f} IOPS, '
      f'all verified')
PY
	then
		pass "fio $name"
	else
		fail "fio $name: $(tail -5 "$DIR/$name.err")"
	fi
}

fio_verify randwrite4 --rw=randwrite --bsrange=4k-64k --iodepth=16 --numjobs=4 \
	--size=8M --offset_increment=8M
fio_verify seq128k --rw=write --bs=128k --iodepth=8 --size=32M --offset=32M
finish
