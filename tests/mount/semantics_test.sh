#!/bin/bash
# SPDX-License-Identifier: MIT
# What a mounted namespace file means, checked on the wire: the host talks to
# nvmfd through wire_log.py, which logs every I/O command it forwards.
#   - concurrent unaligned writers (read-modify-write of shared edge blocks)
#     lose nothing; unaligned reads return the right bytes
#   - O_DSYNC / O_SYNC / RWF_DSYNC writes carry FUA, others do not
#   - fsync sends Flush
#   - punching a hole sends Dataset Management with the deallocate
#     attribute (the file namespace reads deallocated blocks as zeroes) and
#     reads zeroes, edges included; zero-range sends Write Zeroes
#   - fixed size: truncation, growth, new names refused; O_TRUNC ignored
#   - nvmf umount flushes, shuts the controller down, and returns once the
#     mount's process is gone
# Usage: semantics_test.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
require fio fallocate truncate dd

PORT=$(free_port)
RELAY=$(free_port)
WIRE=$DIR/wire.log
: >"$WIRE"
start_nvmfd target -s "$PORT" -n "$NQN" "$DIR/ns1.img,size=64M"
start_wire_log "$RELAY" "$PORT" "$WIRE"
NS=$DIR/nvmf
F=$NS/n1
do_mount "$NS" -a 127.0.0.1 -s "$RELAY" -n "$NQN" -i 2
CAP=$(stat -c %s "$F")

# Commands on the wire since the last mark.
mark() { MARK=$(wc -l <"$WIRE"); }
since() { tail -n +$((MARK + 1)) "$WIRE"; }
count() { since | grep -c -- "$1"; }

# --- unaligned I/O
for bs in 700 5000; do
	if fio --name="unaligned$bs" --filename="$F" --direct=1 --ioengine=libaio --verify_state_save=0 \
		--rw=randwrite --bs="$bs" --blockalign="$bs" --iodepth=32 --size=512k --offset=8M \
		--loops=6 \
		--verify=crc32c --verify_fatal=1 >"$DIR/fio$bs.out" 2>&1 &&
		grep -q "err= 0" "$DIR/fio$bs.out"; then
		pass "concurrent $bs-byte writers sharing edge blocks, every byte verified"
	else
		fail "unaligned $bs: $(grep -m3 -E "verify|error|err=" "$DIR/fio$bs.out")"
	fi
done
python3 - "$F" <<'PY' && pass "unaligned reads and writes match a local model" || fail "unaligned model"
import os, random, sys
rng = random.Random(7)
fd = os.open(sys.argv[1], os.O_RDWR)
base = 16 << 20
model = bytearray(rng.randbytes(1 << 20))
os.pwrite(fd, model, base)
for _ in range(300):
    off, n = rng.randrange(0, len(model) - 70000), rng.randrange(1, 70000)
    if rng.random() < 0.5:
        data = rng.randbytes(n)
        assert os.pwrite(fd, data, base + off) == n
        model[off:off + n] = data
    else:
        got = os.pread(fd, n, base + off)
        assert got == model[off:off + n], (off, n)
assert os.pread(fd, len(model), base) == model
os.close(fd)
PY

# --- FUA
mark
dd if=/dev/urandom of="$F" bs=4096 count=4 seek=100 oflag=direct,dsync conv=notrunc status=none
[ "$(count "opc=0x01 fua=1")" -ge 4 ] && [ "$(count "opc=0x01 fua=0")" = 0 ] &&
	pass "O_DSYNC writes carry FUA" || fail "O_DSYNC: $(since | head -5)"
mark
dd if=/dev/urandom of="$F" bs=4096 count=4 seek=100 oflag=direct conv=notrunc status=none
[ "$(count "opc=0x01 fua=0")" -ge 4 ] && [ "$(count "fua=1")" = 0 ] &&
	pass "plain writes do not" || fail "plain: $(since | head -5)"
mark
python3 - "$F" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_SYNC)
os.pwrite(fd, b"s" * 4096, 1 << 20)
os.close(fd)
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwritev(fd, [b"d" * 8192], 2 << 20, os.RWF_DSYNC)
os.close(fd)
PY
[ "$(count "opc=0x01 fua=1")" -ge 2 ] && [ "$(count "opc=0x01 fua=0")" = 0 ] &&
	pass "O_SYNC and pwritev2(RWF_DSYNC) carry FUA" || fail "O_SYNC/RWF_DSYNC: $(since | head -5)"

# --- fsync
mark
python3 - "$F" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, b"f" * 4096, 3 << 20)
os.fsync(fd)
os.close(fd)
PY
since | grep -q "opc=0x00" && since | grep -B100 "opc=0x00" | grep -q "opc=0x01" &&
	pass "fsync sends Flush after the write" || fail "fsync: $(since | head -5)"
mark
dd if=/dev/urandom of="$F" bs=4096 count=1 seek=50 conv=notrunc status=none
[ "$(count "opc=0x00")" = 0 ] && pass "no Flush without fsync" || fail "unexpected Flush"

# --- punch hole, zero range (unaligned edges)
check_zeroed() { # NAME OFFSET LENGTH: zeroes there, the pattern around it
	python3 - "$F" "$2" "$3" "$DIR/pattern" <<'PY' && pass "$1 reads zeroes, edges intact" || fail "$1 content"
import os, sys
path, off, n, pattern = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
want = bytearray(open(pattern, "rb").read())
base = 32 << 20
want[off - base:off - base + n] = bytes(n)
fd = os.open(path, os.O_RDONLY)
got = os.pread(fd, len(want), base)
assert got == want, next(i for i in range(len(want)) if got[i] != want[i])
PY
}
head -c $((1 << 20)) /dev/urandom >"$DIR/pattern"
dd if="$DIR/pattern" of="$F" bs=1M seek=32 oflag=direct conv=notrunc status=none
mark
fallocate --punch-hole --offset $(((32 << 20) + 1000)) --length 300000 "$F" ||
	fail "fallocate --punch-hole"
check_zeroed "punched hole" $(((32 << 20) + 1000)) 300000
# nvmfd's file namespaces say deallocated blocks read zeroes (DLFEAT): the
# whole blocks go as Dataset Management with the deallocate attribute,
# never as Write Zeroes; only the unaligned edges are written.
[ "$(count "opc=0x09 .* ad=1 ")" -ge 1 ] && [ "$(count "opc=0x09 .* ad=0 ")" = 0 ] &&
	[ "$(count "opc=0x08")" = 0 ] &&
	pass "punch: $(count "opc=0x09") Dataset Management (deallocate), $(count "opc=0x01") edge writes, no Write Zeroes" ||
	fail "punch did not deallocate with Dataset Management: $(since | head -5)"
dd if="$DIR/pattern" of="$F" bs=1M seek=32 oflag=direct conv=notrunc status=none
mark
fallocate --zero-range --keep-size --offset $(((32 << 20) + 5000)) --length 123456 "$F" ||
	fail "fallocate --zero-range"
check_zeroed "zero range" $(((32 << 20) + 5000)) 123456
[ "$(count "opc=0x08")" -ge 1 ] && pass "zero range sends Write Zeroes" || fail "zero range: $(since | head -5)"
fallocate --offset 0 --length 4096 "$F" && pass "fallocate inside the capacity: nothing to do" ||
	fail "plain fallocate"
fallocate --offset "$CAP" --length 4096 "$F" 2>"$DIR/falloc.err" && fail "fallocate beyond the end" ||
	pass "fallocate beyond the end refused: $(cat "$DIR/falloc.err")"

# --- fixed size, fixed names
truncate -s 0 "$F" 2>"$DIR/trunc.err" && fail "truncate succeeded" ||
	pass "truncate refused: $(cat "$DIR/trunc.err")"
: >"$F" && [ "$(stat -c %s "$F")" = "$CAP" ] && cmp -s <(dd if="$F" bs=1M skip=32 count=1 status=none) <(
	python3 -c '
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[5000:5000 + 123456] = bytes(123456)
sys.stdout.buffer.write(d)' "$DIR/pattern") &&
	pass "O_TRUNC ignored, as on a block device" || fail "O_TRUNC changed the file"
dd if=/dev/zero of="$F" bs=4096 count=1 seek=$((CAP / 4096)) conv=notrunc 2>"$DIR/enospc.err" &&
	fail "write beyond the end" || grep -q "No space left" "$DIR/enospc.err" &&
	pass "write beyond the end: no space left" || fail "beyond the end: $(cat "$DIR/enospc.err")"
[ "$(tail -c 100 "$F" | wc -c)" = 100 ] && pass "read up to the end" || fail "read at the end"
touch "$NS/new" 2>/dev/null && fail "created a file" || pass "no new files"
rm -f "$F" 2>/dev/null && fail "removed n1" || pass "n1 cannot be removed"
[ "$(ls "$NS")" = n1 ] && pass "directory lists n1" || fail "ls: $(ls "$NS")"

# --- nvmf umount: Flush, then the shutdown notification, then the process is gone
PID=$(mount_pid "$NS")
[ -n "$PID" ] || fatal "no pid from the mount"
mark
if "$NVMF" umount "$NS" 2>"$DIR/umount.err"; then
	alive "$PID" && fail "the mount's process outlived nvmf umount" ||
		pass "nvmf umount returned after its process exited"
else
	fail "nvmf umount: $(cat "$DIR/umount.err")"
fi
is_mounted "$NS" && fail "still mounted"
since | python3 -c '
import sys
lines = sys.stdin.read().splitlines()
flush = next(i for i, l in enumerate(lines) if "opc=0x00" in l)
shn = next(i for i, l in enumerate(lines) if "propset ofst=0x14" in l
           and (int(l.split("value=")[1], 16) >> 14) & 3 == 1)
assert flush < shn' && pass "unmount: Flush, then CC.SHN (normal shutdown)" ||
	fail "unmount on the wire: $(since)"
finish
