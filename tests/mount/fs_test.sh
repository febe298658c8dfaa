#!/bin/bash
# SPDX-License-Identifier: MIT
# ext4 through nvmf mount: a namespace served by nvmfd, mounted, its file on a
# loop device, mkfs.ext4, a tree of files written and read back by checksum
# (after a remount, so the data comes from the target), a clean e2fsck, and
# e2fsck again on the file itself through a new connection.
# Usage: fs_test.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
require losetup mkfs.ext4 e2fsck mount umount blockdev sha256sum

PORT=$(free_port)
start_nvmfd target -s "$PORT" -n "$NQN" ramdisk:96M
T=(-a 127.0.0.1 -s "$PORT" -n "$NQN")
NS=$DIR/nvmf
FS=$DIR/ext4
do_mount "$NS" "${T[@]}"
[ "$(stat -c %s "$NS/n1")" = $((96 << 20)) ] && pass "n1 is the namespace's size" ||
	fail "n1 size $(stat -c %s "$NS/n1")"

LOOP=$(losetup --find --show --direct-io=on "$NS/n1" 2>"$DIR/losetup.err") ||
	fatal "losetup: $(cat "$DIR/losetup.err")"
LOOPS+=("$LOOP")
# Discard is on by default: mkfs punches the whole device (Dataset Management).
mkfs.ext4 -q -F "$LOOP" >"$DIR/mkfs.out" 2>&1 || fatal "mkfs.ext4: $(cat "$DIR/mkfs.out")"
pass "mkfs.ext4 on $LOOP"
mkdir -p "$FS"
mount "$LOOP" "$FS" || fatal "mount $LOOP"
MOUNTS+=("$FS")

# A tree: 3 levels, sizes from 1 byte to 3 MiB, most not block multiples.
python3 - "$FS/tree" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(5)
sizes = [1, 511, 4095, 4096, 4097, 65537, 1 << 20, 3 * (1 << 20) + 7]
for d in range(4):
    for e in range(3):
        path = os.path.join(root, f"d{d}", f"e{e}")
        os.makedirs(path, exist_ok=True)
        for f in range(12):
            size = rng.choice(sizes) if f % 3 == 0 else rng.randrange(1, 200000)
            with open(os.path.join(path, f"f{f}"), "wb") as out:
                out.write(rng.randbytes(size))
PY
(cd "$FS" && find tree -type f -print0 | sort -z | xargs -0 sha256sum) >"$DIR/sums"
pass "wrote $(wc -l <"$DIR/sums") files, $(du -sh "$FS/tree" | cut -f1)"
umount "$FS" || fatal "umount $FS"
blockdev --flushbufs "$LOOP"
mount "$LOOP" "$FS" || fatal "mount $LOOP again"
if (cd "$FS" && sha256sum --quiet -c "$DIR/sums") >"$DIR/check.out" 2>&1; then
	pass "every checksum matches after a remount"
else
	fail "checksums: $(head -5 "$DIR/check.out")"
fi
umount "$FS" || fatal "umount $FS"
if e2fsck -fn "$LOOP" >"$DIR/fsck.out" 2>&1; then
	pass "e2fsck -fn clean"
else
	fail "e2fsck: $(tail -5 "$DIR/fsck.out")"
fi
losetup -d "$LOOP" && LOOPS=()

"$NVMF" umount "$NS" 2>"$DIR/umount.err" && pass "nvmf umount" || fail "nvmf umount: $(cat "$DIR/umount.err")"
is_mounted "$NS" && fail "$NS still mounted"
do_mount "$NS" "nvme+tcp://127.0.0.1:$PORT/$NQN"
if e2fsck -fn "$NS/n1" >"$DIR/fsck2.out" 2>&1; then
	pass "e2fsck -fn on the file itself, new connection (URI form)"
else
	fail "e2fsck on the file: $(tail -5 "$DIR/fsck2.out")"
fi
finish
