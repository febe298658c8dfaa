#!/usr/bin/env bash
# Interop: the real Linux 6.1 NVMe/TCP host (QEMU, ../shared/interop/linux-vm)
# against nvmfd serving a Ceph RBD image from the rbd tests' one-node
# cluster.  One guest boot: the harness's pattern write + checksum compare
# and fio verify on the RBD namespace; then, from a guest script, the
# namespace's NGUID and UUID as Linux reads them (they must be the ones
# derived from the image, as every gateway serves them), and an
# `rbd resize` on this side while the guest waits: Linux must see the new
# capacity (the Namespace Attribute Changed event) and write and read back
# a block past the old end.
#
# usage: linux_host_rbd.sh BUILD_DIR CLUSTER_DIR
# Exit 77 (skipped), saying why, without the rbd tests' cluster.
set -u

build=${1:?usage: linux_host_rbd.sh BUILD_DIR CLUSTER_DIR}
cluster=${2:?usage: linux_host_rbd.sh BUILD_DIR CLUSTER_DIR}
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/util/nvmfd_ready.sh"
. "$repo/tests/interop/lib.sh"
nqn=nqn.2024-01.org.nvmfd:interop-rbd
image=rbd/interop-$$
work=$(mktemp -d)
pid=
vm_pid=
created=

cleanup() {
	[ -n "$vm_pid" ] && kill "$vm_pid" 2>/dev/null
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid"
	fi
	[ -n "$created" ] && timeout 30 rbd rm --no-progress "$image" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

if [ ! -r "$cluster/ceph.conf" ]; then
	echo "SKIP: no test cluster in $cluster (rbd_cluster_start skipped or failed)"
	exit 77
fi
export CEPH_CONF=$cluster/ceph.conf
if [ ! -x "$vm" ]; then
	echo "FAIL: $vm not found (the interop harness lives in shared/interop beside the repo)"
	exit 1
fi
timeout 60 rbd create --size 128M --image-feature layering "$image" || { echo "FAIL: rbd create"; exit 1; }
created=1

"$build/nvmfd" "${nvmfd_guest_opts[@]}" -s 0 --discovery-port 0 -n "$nqn" "rbd:$image" 2>"$work/nvmfd.log" &
pid=$!
nvmfd_wait_ready "$work/nvmfd.log" "$pid"
port=$(sed -n 's/.*port 1 listening on 127.0.0.1 port \([0-9]*\).*/\1/p' "$work/nvmfd.log")
if [ -z "$port" ]; then
	cat "$work/nvmfd.log"
	echo "FAIL: nvmfd did not start"
	exit 1
fi
ids=$("$build/tests/rbd_host" ids "nvme+tcp://127.0.0.1:$port/$nqn" 1)
echo "nvmfd pid $pid serving $image on 127.0.0.1:$port; $(echo $ids)"

# In the guest: identifiers, then wait for the resize this side makes.
cat >"$work/guest.sh" <<'EOF'
dev=${DEV#/dev/}
echo "NVMF-RBD: nguid $(cat /sys/block/$dev/nguid 2>/dev/null) uuid $(cat /sys/block/$dev/uuid 2>/dev/null)"
before=$(cat /sys/block/$dev/size)
echo "NVMF-RBD: waiting for a resize, $before sectors"
i=0
while [ "$(cat /sys/block/$dev/size)" = "$before" ] && [ $i -lt 1200 ]; do
	sleep 0.1
	i=$((i + 1))
done
after=$(cat /sys/block/$dev/size)
echo "NVMF-RBD: size $before -> $after sectors"
[ "$after" -gt "$before" ] || exit 1
# A block past the old end, written and read back directly.
dd if=/dev/urandom of=/tmp/blk bs=4096 count=1 2>/dev/null
dd if=/tmp/blk of=$DEV bs=4096 seek=$((before / 8 + 16)) count=1 oflag=direct 2>/dev/null || exit 1
dd if=$DEV of=/tmp/back bs=4096 skip=$((before / 8 + 16)) count=1 iflag=direct 2>/dev/null || exit 1
cmp /tmp/blk /tmp/back && echo "NVMF-RBD: past the old end OK"
EOF

start=$SECONDS
"$vm" host "${vm_host_opts[@]}" --port "$port" --nqn "$nqn" --log "$work/console.log" --quiet --fio \
	--script "$work/guest.sh" >"$work/vm.log" 2>&1 &
vm_pid=$!
# The guest is waiting: grow the image under it.
for _ in $(seq 3000); do
	grep -aqs "NVMF-RBD: waiting for a resize" "$work/console.log" "$work/vm.log" && break
	kill -0 "$vm_pid" 2>/dev/null || break
	sleep 0.1
done
if grep -aqs "NVMF-RBD: waiting for a resize" "$work/console.log" "$work/vm.log"; then
	timeout 60 rbd resize --no-progress --size 192M "$image" || echo "FAIL: rbd resize"
fi
wait "$vm_pid"
rc=$?
vm_pid=
echo "Linux host on rbd:$image: exit $rc, $((SECONDS - start)) s: $(tail -n 1 "$work/vm.log")"

failed=0
expect() {
	if grep -aq -- "$1" "$work/vm.log" "$work/console.log"; then
		echo "  ok: $2"
	else
		echo "  FAIL: $2: no '$1' in the guest's log"
		failed=1
	fi
}
[ $rc -eq 0 ] && grep -q "linux-vm host: PASS" "$work/vm.log" || failed=1
expect "NVMF-VM-STEP: fio OK" "fio verify on the RBD namespace"
nguid=$(echo "$ids" | sed -n 's/^nguid //p')
uuid=$(echo "$ids" | sed -n 's/^uuid //p')
seen=$(grep -a -m1 "NVMF-RBD: nguid" "$work/console.log" "$work/vm.log" | head -n 1 | tr -d '-')
case "$seen" in
*"nguid $nguid uuid $uuid"*) echo "  ok: Linux reads the image's NGUID and UUID ($nguid, $uuid)" ;;
*) echo "  FAIL: identifiers: Linux has '$seen', nvmfd serves nguid $nguid uuid $uuid"; failed=1 ;;
esac
expect "NVMF-RBD: size 262144 -> 393216 sectors" "Linux sees the grown capacity (128 -> 192 MiB)"
expect "NVMF-RBD: past the old end OK" "I/O past the old end"
grep -q "namespace 1 grew from" "$work/nvmfd.log" && echo "  ok: nvmfd announced the growth" ||
	{ echo "  FAIL: nvmfd did not log the growth"; failed=1; }

kill -TERM "$pid"
wait "$pid"
src=$?
pid=
[ $src -eq 0 ] || { echo "FAIL: nvmfd exited with $src after SIGTERM"; failed=1; }
if grep -E "^error:" "$work/nvmfd.log"; then
	echo "FAIL: nvmfd logged errors"
	failed=1
fi
if [ $failed -ne 0 ]; then
	grep -a "NVMF-VM\|NVMF-RBD" "$work/vm.log" "$work/console.log" | tail -n 30
	echo "--- nvmfd log (tail)"
	tail -n 30 "$work/nvmfd.log"
	echo "interop (Linux host on RBD): FAIL"
	exit 1
fi
echo "interop (Linux host on RBD): PASS"
