#!/bin/bash
# SPDX-License-Identifier: MIT
# fio with verification directly on a mounted namespace file: random writes
# from several jobs at depth (libaio, O_DIRECT), every block checked with
# crc32c; then large sequential writes and reads, checked the same way.
# The host talks to nvmfd through wire_log.py, so the commands are checked
# too: several I/O queues in use; 1 MiB requests reach the host whole (one
# command each under a 1 MiB MDTS) and are split only at the controller's
# MDTS (four commands under 256 KiB, not FUSE's default 128 KiB pieces);
# reads bypass the page cache (the same range read twice: twice on the wire).
# Usage: fio_test.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
require fio dd

LBA=4096
NS=$DIR/nvmf

# serve NAME MDTS MOUNTPOINT: nvmfd with that MDTS, the relay logging to
# $DIR/NAME.wire (WIRE), the namespace mounted through it with 4 I/O queues.
serve() {
	local port relay
	port=$(free_port)
	relay=$(free_port)
	WIRE=$DIR/$1.wire
	: >"$WIRE"
	start_nvmfd "$1" -s "$port" -n "$NQN" --max-io-size "$2" "ramdisk:64M,bs=$LBA"
	start_wire_log "$relay" "$port" "$WIRE"
	do_mount "$3" -a 127.0.0.1 -s "$relay" -n "$NQN" -i 4
}

# Commands on the wire since the last mark.
mark() { MARK=$(wc -l <"$WIRE"); }
since() { tail -n +$((MARK + 1)) "$WIRE"; }
# wire_check NAME PYTHON: the expression holds for cmds, the I/O commands
# since the mark as dicts (opc, slba, nlb, qid, bytes: nlb * LBA); reads
# and writes are those of them; covers(cs, start, len): cs cover the byte
# range exactly once; times_covered(cs, start, len): the set of how many
# times each block of the range is covered (None if one reaches outside).
wire_check() {
	local name=$1 expr=$2
	if since | python3 -c '
import sys
lba, expr = int(sys.argv[1]), sys.argv[2]
cmds = []
for line in sys.stdin:
    f = dict(kv.split("=") for kv in line.split()[1:])
    if line.startswith("io ") and "slba" in f:
        c = {k: int(v, 0) for k, v in f.items()}
        c["bytes"] = c["nlb"] * lba
        cmds.append(c)
reads = [c for c in cmds if c["opc"] == 2]
writes = [c for c in cmds if c["opc"] == 1]
def covers(cs, start, length):
    pos = start
    for off, n in sorted((c["slba"] * lba, c["bytes"]) for c in cs):
        if off != pos:
            return False
        pos += n
    return pos == start + length
def times_covered(cs, start, length):
    count = [0] * (length // lba)
    for c in cs:
        for b in range(c["slba"], c["slba"] + c["nlb"]):
            i = b - start // lba
            if not 0 <= i < len(count):
                return None
            count[i] += 1
    return set(count)
ok = eval(expr)
if not ok:
    print("  commands (opc, slba, nlb, qid):",
          [(c["opc"], c["slba"], c["nlb"], c["qid"]) for c in cmds][:16],
          "... %d in all" % len(cmds), file=sys.stderr)
sys.exit(0 if ok else 1)' "$LBA" "$expr"; then
		pass "$name"
	else
		fail "$name: $expr"
	fi
}

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

# mdts_checks MOUNTPOINT MDTS: 8 MiB of 1 MiB direct writes, then reads, go
# out in commands of exactly MDTS bytes covering the range once; one MiB
# read twice through the page-cache path is on the wire twice.
mdts_checks() {
	local f=$1/n1 mdts=$2 n=$(((8 << 20) / $2)) m=$(((2 << 20) / $2)) k=$(($2 >> 10))
	mark
	dd if=/dev/urandom of="$f" bs=1M count=8 seek=40 oflag=direct conv=notrunc status=none ||
		fail "dd write"
	wire_check "1 MiB writes go out as $k KiB (MDTS) commands, $n for 8 MiB" \
		"len(cmds) == len(writes) == $n and all(c['bytes'] == $mdts for c in writes) and covers(writes, 40 << 20, 8 << 20)"
	mark
	dd if="$f" of=/dev/null bs=1M count=8 skip=40 iflag=direct status=none || fail "dd read"
	wire_check "1 MiB reads go out as $k KiB (MDTS) commands, $n for 8 MiB" \
		"len(cmds) == len(reads) == $n and all(c['bytes'] == $mdts for c in reads) and covers(reads, 40 << 20, 8 << 20)"
	# Not O_DIRECT.  (Page-aligned buffers: the kernel splits a direct_io
	# request whose buffer spans one page more than max_pages.)
	mark
	python3 - "$f" <<'PY' || fail "buffered reads"
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
a, b = mmap.mmap(-1, 1 << 20), mmap.mmap(-1, 1 << 20)
assert os.preadv(fd, [a], 44 << 20) == 1 << 20
assert os.preadv(fd, [b], 44 << 20) == 1 << 20
assert a[:] == b[:]
os.close(fd)
PY
	wire_check "the same MiB read twice without O_DIRECT: on the wire twice (no page cache)" \
		"len(cmds) == len(reads) == $m and all(c['bytes'] == $mdts for c in reads) and times_covered(reads, 44 << 20, 1 << 20) == {2}"
}

serve mdts256k 256K "$NS"
mark
fio_verify randwrite4 --rw=randwrite --bsrange=4k-64k --iodepth=16 --numjobs=4 \
	--size=8M --offset_increment=8M
wire_check "fio: I/O on more than one queue ($(since | grep -o "qid=[0-9]*" | sort -u | tr '\n' ' '))" \
	"len(set(c['qid'] for c in cmds)) > 1 and min(c['qid'] for c in cmds) >= 1"
fio_verify seq128k --rw=write --bs=128k --iodepth=8 --size=32M --offset=32M
mdts_checks "$NS" $((256 << 10))
# Under a 1 MiB MDTS a 1 MiB request is one command: FUSE hands it over whole.
serve mdts1m 1M "$DIR/nvmf1m"
mdts_checks "$DIR/nvmf1m" $((1 << 20))
finish
