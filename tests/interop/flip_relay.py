#!/usr/bin/env python3
"""A TCP relay for interop tests that corrupts one NVMe/TCP header digest.

Listens on 127.0.0.1:LISTEN and relays each connection to 127.0.0.1:TARGET.
From the host towards the target it follows the PDUs, and in the N-th
command capsule carrying a header digest on the K-th connection it flips one
bit of that digest, once: the target sees a header digest error on a
host-to-controller PDU.  Prints one line per connection and one for the flip.

usage: flip_relay.py LISTEN TARGET [--nth N] [--conn K]
"""
import argparse
import socket
import struct
import sys
import threading

HDGSTF = 0x01
CAPSULE_CMD = 0x04

lock = threading.Lock()
state = {"conns": 0, "flipped": False}


class Pair:
    """A relayed connection: closed once both directions have ended."""

    def __init__(self, hs, ts):
        self.socks = (hs, ts)
        self.running = 2

    def direction_done(self, dst):
        # Pass the end on as a half-close only: bytes the other direction
        # still has to deliver (the target's TermReq after the host's next
        # capsule found the target gone) must reach their reader first.
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with lock:
            self.running -= 1
            last = self.running == 0
        if last:
            for s in self.socks:
                s.close()


def pump_plain(src, dst, pair):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    pair.direction_done(dst)


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def pump_host(src, dst, conn, args, pair):
    """Host to target, PDU by PDU (the plen field bounds each one)."""
    capsules = 0
    try:
        while True:
            ch = read_exact(src, 8)
            if ch is None:
                break
            pdu_type, flags, hlen, _pdo, plen = struct.unpack("<BBBBI", ch)
            if plen < 8 or plen > (1 << 24):
                break
            rest = read_exact(src, plen - 8)
            if rest is None:
                break
            pdu = bytearray(ch + rest)
            if pdu_type == CAPSULE_CMD and flags & HDGSTF and hlen + 4 <= plen:
                capsules += 1
                with lock:
                    flip = (not state["flipped"] and conn == args.conn and
                            capsules == args.nth)
                    if flip:
                        state["flipped"] = True
                if flip:
                    pdu[hlen] ^= 0x01
                    print(f"flip_relay: connection {conn}: header digest of command "
                          f"capsule {capsules} corrupted", flush=True)
            dst.sendall(pdu)
    except OSError:
        pass
    pair.direction_done(dst)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("listen", type=int)
    p.add_argument("target", type=int)
    p.add_argument("--nth", type=int, default=20)
    p.add_argument("--conn", type=int, default=2)
    args = p.parse_args()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.listen))
    ls.listen(64)
    print(f"flip_relay: listening on {ls.getsockname()[1]}", flush=True)
    while True:
        hs, _ = ls.accept()
        try:
            ts = socket.create_connection(("127.0.0.1", args.target))
        except OSError:
            hs.close()
            continue
        with lock:
            state["conns"] += 1
            conn = state["conns"]
        print(f"flip_relay: connection {conn}", flush=True)
        for s in (hs, ts):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = Pair(hs, ts)
        threading.Thread(target=pump_host, args=(hs, ts, conn, args, pair), daemon=True).start()
        threading.Thread(target=pump_plain, args=(ts, hs, pair), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
