#!/usr/bin/env python3
"""Writes the seed corpora of the PDU fuzz targets: well-formed streams that
walk every transfer path, so the fuzzer starts from deep inside the protocol.

  tests/fuzz/make_seeds.py            # (re)writes tests/fuzz/corpus/pdu_*/seed-*
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


class Stream:
    """PDUs of one connection, with the negotiated digests applied."""

    def __init__(self, hd=False, dd=False):
        self.hd, self.dd, self.out = hd, dd, b""

    def pdu(self, ptype, flags, psh, data=b"", digestable=True):
        hlen = 8 + len(psh)
        hd = self.hd and digestable
        dd = self.dd and digestable and len(data) > 0
        flags |= (1 if hd else 0) | (2 if dd else 0)
        hdr_len = hlen + (4 if hd else 0)
        pdo = hdr_len if data else 0
        plen = hdr_len + len(data) + (4 if dd else 0)
        ch = struct.pack("<BBBBI", ptype, flags, hlen, pdo, plen) + psh
        pkt = ch + (struct.pack("<I", crc32c(ch)) if hd else b"") + data
        if dd:
            pkt += struct.pack("<I", crc32c(data))
        self.out += pkt
        return self


def sqe(opc, cid, length, sgl_type):
    # opc, flags (PSDT SGL), cid, nsid, cdw2-3, mptr, sgl, cdw10-15
    return struct.pack("<BBHIIIQQIxxxBIIIIII", opc, 0x40, cid, 1, 0, 0, 0, 0, length,
                       sgl_type, 0, 0, 0, 0, 0, 0)


def icreq(dgst):
    return struct.pack("<HBBI", 0, 0, dgst, 0) + bytes(112)


def icresp(dgst, maxh2cdata=4096):
    return struct.pack("<HBBI", 0, 0, dgst, maxh2cdata) + bytes(112)


def data(n, seed):
    return bytes((i * 31 + seed) & 0xFF for i in range(n))


def controller_seeds():
    seeds = {}
    for hd, dd in ((False, False), (True, True)):
        tag = f"{'h' if hd else ''}{'d' if dd else ''}" or "plain"
        dgst = (1 if hd else 0) | (2 if dd else 0)
        s = Stream()
        s.pdu(0x00, 0, icreq(dgst), digestable=False)
        s.hd, s.dd = hd, dd
        s.pdu(0x04, 0, sqe(0x01, 1, 512, 0x01), data(512, 1))     # in-capsule write
        s.pdu(0x04, 0, sqe(0x02, 2, 4096, 0x5A))                  # read: C2HData
        s.pdu(0x04, 0, sqe(0x01, 3, 8192, 0x5A))                  # write: R2T ttag 0
        s.pdu(0x06, 0, struct.pack("<HHII", 3, 0, 0, 4096) + bytes(4), data(4096, 3))
        s.pdu(0x06, 4, struct.pack("<HHII", 3, 0, 4096, 4096) + bytes(4), data(4096, 4))
        s.pdu(0x04, 0, sqe(0x00, 4, 0, 0x5A))                     # flush, no data
        seeds[f"seed-io-{tag}"] = s.out
    s = Stream()
    s.pdu(0x00, 0, icreq(0), digestable=False)
    s.pdu(0x02, 0, struct.pack("<HI", 2, 0) + bytes(10), digestable=False)  # H2CTermReq
    seeds["seed-termreq"] = s.out
    return seeds


def host_seeds():
    seeds = {}
    for hd, dd in ((False, False), (True, True)):
        tag = f"{'h' if hd else ''}{'d' if dd else ''}" or "plain"
        dgst = (1 if hd else 0) | (2 if dd else 0)
        for success in (False, True):
            s = Stream()
            s.pdu(0x01, 0, icresp(dgst), digestable=False)
            s.hd, s.dd = hd, dd
            # Read CID 1: two C2HData PDUs, then a response (or SUCCESS).
            s.pdu(0x07, 0, struct.pack("<HHII", 1, 0, 0, 4096) + bytes(4), data(4096, 1))
            s.pdu(0x07, 0x4 | (0x8 if success else 0),
                  struct.pack("<HHII", 1, 0, 4096, 4096) + bytes(4), data(4096, 2))
            if not success:
                s.pdu(0x05, 0, struct.pack("<IIHHHH", 0, 0, 1, 1, 1, 0))
            # Write CID 2: an R2T for all 16 KiB, then the response.
            s.pdu(0x09, 0, struct.pack("<HHII", 2, 7, 0, 16384) + bytes(4))
            s.pdu(0x05, 0, struct.pack("<IIHHHH", 0, 0, 2, 1, 2, 0))
            seeds[f"seed-io-{tag}{'-success' if success else ''}"] = s.out
    s = Stream()
    s.pdu(0x01, 0, icresp(0), digestable=False)
    s.pdu(0x03, 0, struct.pack("<HI", 1, 0) + bytes(10), digestable=False)  # C2HTermReq
    seeds["seed-termreq"] = s.out
    return seeds


def main():
    for target, seeds in (("pdu_controller", controller_seeds()), ("pdu_host", host_seeds())):
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for name, blob in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(blob)


if __name__ == "__main__":
    main()
