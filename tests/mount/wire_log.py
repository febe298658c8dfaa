#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A loopback relay between an NVMe/TCP host and target that logs what the
host sends, so tests can see commands on the wire (nvmfd has no I/O log):
one line per I/O command, "io opc=0x01 fua=1 nsid=1 slba=8 nlb=1 qid=2"
(Dataset Management: "io opc=0x09 nsid=1 nr=1 ad=1 qid=2", the number of
ranges and the deallocate attribute), and per Property Set, "admin propset
ofst=0x14 value=0x4001".  Digests must be off.

  wire_log.py LISTEN_PORT TARGET_PORT LOGFILE
"""
import asyncio
import struct
import sys

PDU_CAPSULE_CMD = 0x04
OPC_FABRICS = 0x7F
OPC_DSM = 0x09
FCTYPE_PROPSET, FCTYPE_CONNECT = 0x00, 0x01


def describe(sqe, qid):
    opc = sqe[0]
    if opc == OPC_FABRICS:
        if sqe[4] == FCTYPE_PROPSET:
            ofst, value = struct.unpack_from("<IQ", sqe, 44)
            return f"admin propset ofst={ofst:#x} value={value:#x}"
        return None
    if qid == 0:
        return None
    nsid, = struct.unpack_from("<I", sqe, 4)
    cdw10, cdw11, cdw12 = struct.unpack_from("<III", sqe, 40)
    if opc == OPC_DSM:
        return (f"io opc={opc:#04x} nsid={nsid} nr={(cdw10 & 0xff) + 1} "
                f"ad={(cdw11 >> 2) & 1} qid={qid}")
    return (f"io opc={opc:#04x} fua={(cdw12 >> 30) & 1} nsid={nsid} "
            f"slba={cdw10 | cdw11 << 32} nlb={(cdw12 & 0xffff) + 1} qid={qid}")


async def host_to_target(reader, writer, log):
    buf = bytearray()
    qid = None
    while True:
        data = await reader.read(1 << 16)
        if not data:
            break
        writer.write(data)
        buf += data
        pos = 0
        while len(buf) - pos >= 8:
            ptype, _, _, _, plen = struct.unpack_from("<BBBBI", buf, pos)
            if len(buf) - pos < plen:
                break
            if ptype == PDU_CAPSULE_CMD:
                sqe = bytes(buf[pos + 8:pos + 72])
                if sqe[0] == OPC_FABRICS and sqe[4] == FCTYPE_CONNECT:
                    qid, = struct.unpack_from("<H", sqe, 42)
                else:
                    line = describe(sqe, qid)
                    if line:
                        log.write(line + "\n")
                        log.flush()
            pos += plen
        del buf[:pos]
        await writer.drain()
    writer.close()


async def target_to_host(reader, writer):
    while True:
        data = await reader.read(1 << 16)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


async def main():
    listen, target, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    log = open(path, "a")

    async def relay(hr, hw):
        try:
            tr, tw = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            hw.close()
            return
        await asyncio.gather(host_to_target(hr, tw, log), target_to_host(tr, hw),
                             return_exceptions=True)

    server = await asyncio.start_server(relay, "127.0.0.1", listen)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
