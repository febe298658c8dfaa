#!/usr/bin/env python3
"""flip_relay.py delivers what the target sent before it closed.

nvmfd answers a corrupted header digest with a C2HTermReq and closes while
the host is still sending: the relay's write of the host's next PDU then
fails.  It used to shut both sockets down at that point, and the guest got
its FIN before the TermReq whenever that came first (interop_linux_host_faults
on 6.12 once missed "Received C2HTermReq"; this test lost 137 of 300).

Here a target reads a little, sends 24 bytes and closes with unread data (an
RST); a host keeps writing capsule-sized PDUs and reads.  Every connection
must read exactly those 24 bytes, then the end.

usage: flip_relay_test.py [ROUNDS]
"""
import os
import socket
import struct
import subprocess
import sys
import threading

RELAY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flip_relay.py")
LAST_WORDS = b"T" * 24
# A command capsule without a header digest: the relay passes it unchanged.
CAPSULE = struct.pack("<BBBBI", 4, 0, 72, 0, 72) + bytes(64)


def target(listener):
    while True:
        conn, _ = listener.accept()
        conn.recv(1000)
        conn.sendall(LAST_WORDS)
        conn.close()


def one_connection(port):
    host = socket.create_connection(("127.0.0.1", port))
    host.settimeout(60)

    def keep_writing():
        try:
            for _ in range(2000):
                host.sendall(CAPSULE)
        except OSError:
            pass

    writer = threading.Thread(target=keep_writing)
    writer.start()
    got = b""
    try:
        while True:
            data = host.recv(100)
            if not data:
                break
            got += data
    except OSError as e:
        got += f" <{e}>".encode()
    writer.join()
    host.close()
    return got


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    relay = subprocess.Popen([sys.executable, RELAY, "0", str(listener.getsockname()[1])],
                             stdout=subprocess.PIPE, text=True)
    try:
        port = int(relay.stdout.readline().split()[-1])
        threading.Thread(target=target, args=(listener,), daemon=True).start()
        lost = [got for got in (one_connection(port) for _ in range(rounds))
                if got != LAST_WORDS]
    finally:
        relay.kill()
        relay.wait()
    if lost:
        print(f"FAIL: {len(lost)} of {rounds} connections did not read the target's "
              f"last bytes before the end; first: {lost[0]!r}")
        return 1
    print(f"ok: {rounds} of {rounds} connections read the target's last bytes, then the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
