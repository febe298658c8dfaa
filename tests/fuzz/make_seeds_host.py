#!/usr/bin/env python3
"""Writes the seed corpus of the host controller fuzz target
(tests/fuzz/fuzz_host_ctrl.c): bring-ups of NVM and discovery controllers
with valid Identify data, namespaces, a discovery log with a few entries,
asynchronous events, DH-HMAC-CHAP, and the usual ways a controller goes
wrong (refused Connects, lost connections, stray and duplicate responses,
short data), so the fuzzer starts from deep inside.

  tests/fuzz/make_seeds_host.py   # (re)writes tests/fuzz/corpus/host_ctrl/{seed,crash}-*

Inputs the fuzzer found are kept there as they are (crash-*-found).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
NQN = "nqn.2024-01.org.nvmfd:fuzz"
DISCOVERY = "nqn.2014-08.org.nvmexpress.discovery"

# Record classes and modes (enum cls, enum mode in fuzz_host_ctrl.c).
(QPAIR, CONNECT, PROP_GET, CSTS, PROP_SET, ID_CTRL, ID_NS, ID_NSLIST, ID_OTHER,
 LOG_DISC, LOG_OTHER, SET_FEAT, GET_FEAT, AER, AUTH_SEND, AUTH_RECV, IO, OTHER) = range(18)
NORMAL, SHORT, DIGEST, KILL, DUP, STRAY, TERM, DUP_LATE = range(8)
DNR = 0x08

# Flags byte 0.
F_DISCOVERY, F_KATO, F_NOSQFLOW, F_DHCHAP, F_CONNECT_ALL = 0x01, 0x02, 0x04, 0x08, 0x10
F_SMALLQ = 0x80
# Flags byte 2.
F2_RECONNECT = 0x01


def ioqs(n):
    return (n - 1) << 5


def rec(cls, status=0, cdw0=0, cdw1=0, data=b"", mode=NORMAL):
    return struct.pack("<BBHIIH", cls, mode, status, cdw0, cdw1, len(data)) + data


def status(sct, sc):
    return sct << 8 | sc


def put(buf, off, fmt, *vals):
    struct.pack_into(fmt, buf, off, *vals)


def text(buf, off, size, s, pad=b" "):
    b = s.encode()[:size]
    buf[off:off + size] = b + pad * (size - len(b))


def id_ctrl(discovery=False, mdts=5, aerl=3, nn=4, maxcmd=128, ioccsz=4 + 512, oaes=None,
            elpe=3, subnqn=None):
    b = bytearray(4096)
    put(b, 0, "<HH", 0x1B36, 0x1AF4)
    text(b, 4, 20, "fuzz0001")
    text(b, 24, 40, "fuzz controller")
    text(b, 64, 8, "1.0")
    b[77] = mdts
    put(b, 78, "<HI", 1, 0x10400)                 # cntlid, ver
    put(b, 88, "<I", 1000000)                     # rtd3e (us)
    if oaes is None:
        oaes = (1 << 31) if discovery else (1 << 8)
    put(b, 92, "<I", oaes)
    b[111] = 2 if discovery else 1               # cntrltype
    b[259] = aerl
    b[261] = 0x04                                 # lpa: extended data
    b[262] = elpe
    put(b, 320, "<H", 100)                        # kas
    b[512], b[513] = 0x66, 0x44
    put(b, 514, "<HI", maxcmd, 0 if discovery else nn)
    put(b, 520, "<H", 0 if discovery else 0x0D)   # oncs: compare, DSM, write zeroes
    b[525] = 0 if discovery else 1                # vwc
    put(b, 536, "<I", 0x100001)                   # sgls
    text(b, 768, 256, subnqn or (DISCOVERY if discovery else NQN), b"\0")
    put(b, 1792, "<IIHBBH", ioccsz, 1, 0, 0, 1, 0)
    return bytes(b)


def id_ns(nsze=2048, flbas=0, lbads=(9, 12), ms=(0, 0)):
    b = bytearray(4096)
    put(b, 0, "<QQQ", nsze, nsze, nsze // 2)
    b[24] = 0x01                                  # thin provisioning
    b[25] = len(lbads) - 1
    b[26] = flbas
    b[33] = 0x09                                  # dlfeat: read zeroes, WZ dealloc
    b[104:120] = bytes(range(16))                 # nguid
    for i, (l, m) in enumerate(zip(lbads, ms)):
        put(b, 128 + 4 * i, "<HBB", m, l, 0)
    return bytes(b)


def ns_list(*nsids):
    return struct.pack("<%dI" % len(nsids), *nsids).ljust(4096, b"\0")


def ns_desc():
    return (struct.pack("<BBH", 3, 16, 0) + bytes(range(16, 32))
            + struct.pack("<BBH", 2, 16, 0) + bytes(range(16))
            + struct.pack("<BBH", 1, 8, 0) + bytes(8)
            + struct.pack("<BBH", 4, 1, 0) + b"\0").ljust(4096, b"\0")


def disc_entry(subtype=2, trtype=3, adrfam=1, treq=0x06, traddr="127.0.0.1", trsvcid="4420",
               subnqn=NQN, sectype=0, portid=1):
    b = bytearray(1024)
    put(b, 0, "<BBBBHHHH", trtype, adrfam, subtype, treq, portid, 0xFFFF, 32, 0)
    text(b, 32, 32, trsvcid)
    text(b, 256, 256, subnqn, b"\0")
    text(b, 512, 256, traddr)
    b[768] = sectype
    return bytes(b)


def disc_log(entries, genctr=1, numrec=None):
    hdr = bytearray(1024)
    put(hdr, 0, "<QQH", genctr, len(entries) if numrec is None else numrec, 0)
    return bytes(hdr) + b"".join(entries)


def aer_dw0(typ, info, lid):
    return typ | info << 8 | lid << 16


def cap(mqes=127, to=1, mpsmin=0):
    v = mqes | 1 << 16 | to << 24 | 1 << 37 | mpsmin << 48
    return v & 0xFFFFFFFF, v >> 32


def seed(flags0, flags1, *records, flags2=0):
    return bytes([flags0, flags1, flags2]) + b"".join(records)


def seeds():
    s = {}
    s["seed-nvm-default"] = seed(0, 0)
    lo, hi = cap()
    s["seed-nvm-full"] = seed(
        ioqs(2), 0,
        rec(CONNECT, cdw0=7),
        rec(PROP_GET, cdw0=lo, cdw1=hi),
        rec(PROP_GET, cdw0=0x20000),
        rec(CSTS, cdw0=0), rec(CSTS, cdw0=1),
        rec(ID_CTRL, data=id_ctrl(mdts=3, nn=8)),
        rec(SET_FEAT, cdw0=0x00010001),
        rec(ID_NSLIST, data=ns_list(1, 3, 7)),
        rec(ID_NS, data=id_ns()),
        rec(ID_NS, data=id_ns(flbas=1, nsze=512)),
        rec(ID_NS, data=id_ns(nsze=0)),
        rec(ID_OTHER, data=ns_desc()),
        rec(IO, data=bytes(range(256)) * 2),
        rec(IO, status=status(2, 0x81), mode=DNR),         # unrecovered read error
        rec(IO, status=status(0, 0x22)),                   # transient transport error
        rec(AER, cdw0=aer_dw0(2, 0, 0x04)),                # namespace attribute changed
        rec(LOG_OTHER, data=struct.pack("<3I", 1, 3, 9)),
        rec(AER, cdw0=aer_dw0(0, 1, 0x01)),                # error log
        rec(AER, cdw0=aer_dw0(1, 1, 0x02)),                # SMART
        rec(AER, status=status(1, 0x05)),                  # AER limit exceeded
        rec(GET_FEAT, cdw0=1),
    )
    s["seed-nvm-4k-meta"] = seed(
        ioqs(1) | F_SMALLQ | F_NOSQFLOW, 0,
        rec(ID_CTRL, data=id_ctrl(mdts=0, maxcmd=4, ioccsz=0)),
        rec(ID_NS, data=id_ns(flbas=1, lbads=(9, 12, 16), ms=(0, 8, 0))),
        rec(ID_NS, data=id_ns(flbas=2, lbads=(9, 12, 16))),
    )
    s["seed-nvm-old-ctrl"] = seed(
        0, 0,
        rec(ID_CTRL, data=id_ctrl(nn=6)),
        rec(ID_NSLIST, status=status(0, 0x02), mode=DNR),  # no CNS 02h: probe 1..NN
        rec(ID_NS, status=status(0, 0x0B)), rec(ID_NS, data=id_ns()),
    )
    s["seed-nvm-full-list"] = seed(
        0, 0,
        rec(ID_CTRL, data=id_ctrl(nn=0xFFFFFFFE)),
        rec(ID_NSLIST, data=struct.pack("<1024I", *range(1, 1025))),
        rec(ID_NSLIST, data=struct.pack("<4I", 1025, 1024, 0, 0)),  # out of order
        rec(ID_NS, data=id_ns(nsze=8)),
    )
    s["seed-nvm-queues"] = seed(
        ioqs(4), 0,
        rec(PROP_GET, cdw0=3 | 1 << 16, cdw1=0x20),        # MQES 3
        rec(SET_FEAT, cdw0=0x00020001),                    # grants fewer queues
        rec(QPAIR), rec(QPAIR), rec(QPAIR, status=2),      # third I/O queue: EPROTO
    )
    s["seed-connect-refused"] = seed(
        0, 0,
        rec(CONNECT, status=status(1, 0x82), cdw0=0x00000104, mode=DNR),  # invalid parameters
    )
    s["seed-connect-invalid-host"] = seed(
        F_DISCOVERY, 0, rec(CONNECT, status=status(1, 0x84), mode=DNR))
    s["seed-qpair-timeout"] = seed(0, 0, rec(QPAIR, status=5))
    s["seed-csts-fatal"] = seed(0, 0, rec(CSTS, cdw0=2))
    s["seed-csts-slow"] = seed(0, 0, rec(PROP_GET, cdw0=lo, cdw1=hi), rec(PROP_GET),
                               rec(CSTS), rec(CSTS), rec(CSTS, cdw0=1))
    s["seed-identify-bad"] = seed(
        0, 0, rec(ID_CTRL, data=id_ctrl(ioccsz=0xFFFFFFFF)[:1800] + b"\x01\x00"))
    s["seed-identify-no-sgl"] = seed(
        0, 0, rec(ID_CTRL, data=id_ctrl()[:536] + b"\0\0\0\0"))
    s["seed-lost-io"] = seed(
        ioqs(2), 0,
        rec(IO, mode=NORMAL), rec(IO, mode=KILL),
    )
    s["seed-stray"] = seed(
        0, 0, rec(ID_NS, mode=STRAY), rec(IO, mode=DUP), rec(IO, mode=SHORT),
        rec(IO, mode=DIGEST))
    s["seed-termreq-bringup"] = seed(0, 0, rec(PROP_GET), rec(PROP_GET), rec(PROP_SET, mode=TERM))
    s["seed-aen-lost"] = seed(
        0, 0, rec(AER, cdw0=aer_dw0(2, 0, 0x04)), rec(LOG_OTHER, mode=KILL))
    s["seed-shutdown-slow"] = seed(
        0, 0, rec(CSTS, cdw0=1), rec(CSTS, cdw0=1 | 1 << 2), rec(CSTS, cdw0=1 | 2 << 2))

    entries = [
        disc_entry(),
        disc_entry(subtype=3, subnqn=DISCOVERY, trsvcid="8009"),
        disc_entry(subtype=1, subnqn=DISCOVERY, traddr="10.0.0.2", trsvcid="8009"),
        disc_entry(trtype=1, traddr="192.168.1.1"),                 # RDMA: skipped
        disc_entry(sectype=2, treq=0x01, trsvcid="4421"),           # TLS 1.3 required
        disc_entry(adrfam=2, traddr="::1", trsvcid="4420"),
        disc_entry(),                                                # a duplicate
    ]
    log = disc_log(entries, genctr=5)
    s["seed-discovery"] = seed(
        F_DISCOVERY | F_KATO, 0,
        rec(ID_CTRL, data=id_ctrl(discovery=True)),
        rec(LOG_DISC, data=log),
        rec(AER, cdw0=aer_dw0(2, 0xF0, 0x70)),
        rec(LOG_DISC, data=disc_log(entries[:2], genctr=6)),
    )
    s["seed-discovery-connect-all"] = seed(
        F_DISCOVERY | F_CONNECT_ALL, 0,
        rec(LOG_DISC, data=disc_log([disc_entry(), disc_entry(adrfam=2, traddr="::1"),
                                     disc_entry(treq=0x02, trsvcid="4421")], genctr=2)),
        rec(CONNECT), rec(CONNECT), rec(CONNECT, status=status(1, 0x80), mode=DNR),
    )
    s["seed-discovery-changing"] = seed(
        F_DISCOVERY, 0,
        rec(LOG_DISC, data=disc_log(entries[:3], genctr=1)),
        rec(LOG_DISC),
        rec(LOG_DISC, data=disc_log(entries[:3], genctr=2)),
        rec(LOG_DISC, status=status(1, 0x90)),               # Discovery Restart
        rec(LOG_DISC, data=disc_log(entries[:1], genctr=3, numrec=5000)),
    )
    s["seed-discovery-garbage"] = seed(
        F_DISCOVERY | F_CONNECT_ALL, 0,
        rec(LOG_DISC, data=disc_log([disc_entry(traddr="x" * 256, trsvcid="9" * 32,
                                                subnqn="n" * 256),
                                     disc_entry(traddr="127.0.0.1%lo", trsvcid="-1")])),
    )
    s["seed-dhchap"] = seed(F_DHCHAP, 0)
    s["seed-dhchap-bidi"] = seed(F_DHCHAP | ioqs(2), 0x01 | 0x04 | 0x40)
    s["seed-dhchap-ffdhe"] = seed(F_DHCHAP, 0x22 | 0x08)
    s["seed-dhchap-refused"] = seed(
        F_DHCHAP, 0, rec(AUTH_RECV), rec(AUTH_RECV, data=struct.pack("<BBHHBB", 0x10, 0xF1, 0, 0, 1, 1)))
    s["seed-auth-asked-no-secret"] = seed(0, 0, rec(CONNECT, cdw0=1 | 1 << 17))
    s["seed-auth-ascr"] = seed(F_DHCHAP, 0, rec(CONNECT, cdw0=1 | 1 << 18))
    # Lost controllers that reconnect (the reconnect delay is skipped).
    s["seed-reconnect-io"] = seed(
        ioqs(2), 0,
        rec(IO), rec(IO, mode=KILL),                       # write lost: held, resent
        rec(AER, cdw0=aer_dw0(2, 0, 0x04)), rec(AER, mode=KILL),
        flags2=F2_RECONNECT)
    s["seed-reconnect-stray"] = seed(
        0, 0, rec(ID_NS, mode=STRAY), rec(ID_NS), rec(ID_NS, data=id_ns(nsze=100)),
        rec(ID_NSLIST), rec(ID_NSLIST, data=ns_list(2)),   # namespace 1 gone after it
        flags2=F2_RECONNECT)
    s["seed-reconnect-stale"] = seed(
        0, 0, rec(ID_CTRL), rec(ID_CTRL, data=id_ctrl(subnqn=NQN + "-other")),
        rec(ID_NS, mode=DUP), flags2=F2_RECONNECT)
    s["seed-reconnect-fewer-queues"] = seed(
        ioqs(3), 0, rec(SET_FEAT, cdw0=0x00020002), rec(SET_FEAT), rec(SET_FEAT, cdw0=0),
        rec(IO, mode=TERM), flags2=F2_RECONNECT)
    s["seed-reconnect-refused"] = seed(
        ioqs(1), 0, rec(QPAIR), rec(QPAIR), rec(QPAIR, status=1), rec(QPAIR, status=3),
        rec(CONNECT), rec(CONNECT), rec(IO, mode=KILL), flags2=F2_RECONNECT)
    # Regressions.  A duplicate response racing with the next command of its
    # slot (same CID) completed that command inside nvmf_capsule_transmit,
    # and completion freed the capsule the transport was taking
    # (src/host/queue.c slot_send): the Connect's duplicate completes the
    # Property Get that follows; the Compare's, the Flush.
    s["crash-capsule-freed-in-transmit"] = seed(0, 0, rec(CONNECT, cdw0=1, mode=DUP_LATE))
    s["crash-capsule-freed-in-transmit-flush"] = seed(
        0, 0, rec(IO), rec(IO), rec(IO, mode=DUP_LATE))
    # The same, answered from the fake controller's thread (FLAG1_THREAD).
    for name in ("seed-nvm-full", "seed-discovery", "seed-lost-io", "seed-stray",
                 "seed-dhchap-bidi", "seed-discovery-connect-all", "seed-reconnect-io"):
        b = bytearray(s[name])
        b[1] |= 0x10
        s[name + "-thread"] = bytes(b)
    return s


def main():
    d = os.path.join(HERE, "corpus", "host_ctrl")
    os.makedirs(d, exist_ok=True)
    for name, blob in seeds().items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(blob)


if __name__ == "__main__":
    main()
