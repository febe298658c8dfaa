#!/usr/bin/env bash
# The README's example program against nvmfd: it must connect, write, read back.
set -euo pipefail
nvmfd=$1 hello=$2
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$nvmfd" -q -s "$port" -n nqn.2024-01.io.nvmf:hello --discovery-port 0 ramdisk:16M &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
out=$("$hello" "nvme+tcp://127.0.0.1:$port/nqn.2024-01.io.nvmf:hello")
echo "$out"
grep -q "read back: hello from libnvmf" <<<"$out"
