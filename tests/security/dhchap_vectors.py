#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Known-answer vectors for test_dhchap.c, computed independently of the C
code with Python's hmac/hashlib, following the Linux kernel's steps
(drivers/nvme/common/auth.c nvme_auth_transform_key and
nvme_auth_augmented_challenge, host/auth.c nvme_auth_dhchap_setup_host_response
and _ctrl_response).  Run it to regenerate the table pasted into the test."""
import hashlib
import hmac

HOSTNQN = b"nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
SUBNQN = b"nqn.2024-01.io.example:sub1"
HASHES = {1: hashlib.sha256, 2: hashlib.sha384, 3: hashlib.sha512}


def transform(key, hh, nqn):
    if hh == 0:
        return key
    return hmac.new(key, nqn + b"NVMe-over-Fabrics", HASHES[hh]).digest()


def augment(h, skey, c):
    return hmac.new(HASHES[h](skey).digest(), c, HASHES[h]).digest()


def response(h, key, c, seq, tid, controller):
    tag, a, b = (b"Controller", SUBNQN, HOSTNQN) if controller else (b"HostHost", HOSTNQN, SUBNQN)
    msg = c + seq.to_bytes(4, "little") + tid.to_bytes(2, "little") + b"\0" + tag + a + b"\0" + b
    return hmac.new(key, msg, HASHES[h]).digest()


def main():
    host_secret = bytes(range(32))          # DHHC-1:01, transformed with HOSTNQN
    ctrl_secret = bytes(range(64, 128))     # DHHC-1:00, used as is
    skey = bytes((i * 7 + 1) & 0xFF for i in range(256))
    kh = transform(host_secret, 1, HOSTNQN)
    kc = transform(ctrl_secret, 0, SUBNQN)
    for h in (1, 2, 3):
        hl = HASHES[h]().digest_size
        c1 = bytes((0xA0 + i) & 0xFF for i in range(hl))
        c2 = bytes((0x50 + i) & 0xFF for i in range(hl))
        r1 = response(h, kh, c1, 0x12345678, 0x0102, False)
        r2 = response(h, kc, c2, 0x0BADCAFE, 0x0102, True)
        ca1 = augment(h, skey, c1)
        r1dh = response(h, kh, ca1, 0x12345678, 0x0102, False)
        print("\t{%d, \"%s\", \"%s\", \"%s\", \"%s\"}," % (h, r1.hex(), r2.hex(), ca1.hex(), r1dh.hex()))


if __name__ == "__main__":
    main()
