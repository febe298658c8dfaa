#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Known-answer vectors for test_tls.c, computed independently of the C code
with Python's hmac/hashlib: the retained PSK, PSK digest and TLS PSK of the
NVMe/TCP specification in both HKDF-Expand-Label encodings (RFC 8446 as SPDK
and Linux use it; libnvme before libnvme#1040).  The PSK digests agree with
the identities published in libnvme's test/psk.c.  Run it to regenerate the
table pasted into the test."""
import base64
import hashlib
import hmac
import struct

PSK = bytes.fromhex("5512dbb6737d0106f65975b773dfb011ffc344bcf442e2dd6d8bc4870b5d5b03")
PSK48 = PSK + bytes.fromhex("ffc344bcf442e2dd6d8bc4870b5d5b03")
HOST = b"nqn.psk-test-host"
SUB = b"nqn.psk-test-subsys"


def hkdf(h, ikm, info, length):
    prk = hmac.new(b"\0" * h().digest_size, ikm, h).digest()
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(prk, t + info + bytes([i]), h).digest()
        out += t
        i += 1
    return out[:length]


def label(rfc, length, name, ctx):
    name = b"tls13 " + name
    if rfc:
        return struct.pack(">H", length) + bytes([len(name)]) + name + bytes([len(ctx)]) + ctx
    return struct.pack("<H", length) + name + ctx


def main():
    for hh, psk, h in ((1, PSK, hashlib.sha256), (2, PSK48, hashlib.sha384)):
        for rfc in (True, False):
            n = len(psk)
            retained = hkdf(h, psk, label(rfc, n, b"HostNQN", HOST), n)
            digest = base64.b64encode(hmac.new(retained, HOST + b" " + SUB + b" NVMe-over-Fabrics", h).digest())
            id0 = b"NVMe0R%02d %s %s" % (hh, HOST, SUB)
            tls0 = hkdf(h, retained, label(rfc, n, b"nvme-tls-psk", id0), n)
            tls1 = hkdf(h, retained, label(rfc, n, b"nvme-tls-psk", b"%02d %s" % (hh, digest)), n)
            print('\t{%d, %s, "%s", "%s", "%s", "%s"},' % (
                hh, "NVMF_TLS_KDF_RFC8446" if rfc else "NVMF_TLS_KDF_LIBNVME_COMPAT",
                retained.hex(), digest.decode(), tls0.hex(), tls1.hex()))


if __name__ == "__main__":
    main()
