#!/usr/bin/env python3
"""Writes the seed corpora of the controller-command and configuration fuzz
targets (tests/fuzz/fuzz_ctrl_cmd.c, tests/fuzz/fuzz_config.c): inputs that
reach every command handler and every configuration field, so the fuzzer
starts from deep inside.

  tests/fuzz/make_seeds_cmd_config.py   # (re)writes tests/fuzz/corpus/{ctrl_cmd,config}/seed-*
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
NQN = "nqn.2024-01.org.nvmfd:fuzz"
HOSTNQN = "nqn.2024-01.org.nvmfd:fuzz-host"
DISCOVERY = "nqn.2014-08.org.nvmexpress.discovery"
ICD, XPORT = 0x01, 0x5A
BRING_UP = 0x01

# --------------------------------------------------------------------------
# ctrl_cmd: [flags] then records [queue][SQE 64][data length u16][data]


def sqe(opc, cid, nsid=0, sgl=XPORT, length=0, cdw=(0, 0, 0, 0, 0, 0)):
    # opc, flags (PSDT SGL), cid, nsid, cdw2, cdw3, mptr, SGL, cdw10-15
    return (struct.pack("<BBHIIIQ", opc, 0x40, cid, nsid, 0, 0, 0)
            + struct.pack("<QI3xB", 0, length, sgl) + struct.pack("<6I", *cdw))


def fabrics(fctype, cid, sgl=XPORT, length=0, cdw=(0, 0, 0, 0, 0, 0)):
    return sqe(0x7F, cid, fctype, sgl, length, cdw)


def record(queue, command, data=b""):
    return bytes([queue]) + command + struct.pack("<H", len(data)) + data


def connect_data(cntlid, subnqn=NQN):
    return (bytes(16) + struct.pack("<H", cntlid) + bytes(238)
            + subnqn.encode().ljust(256, b"\0") + HOSTNQN.encode().ljust(256, b"\0") + bytes(256))


def connect(queue, cid, qid, cntlid=0xFFFF, sqsize=31, kato=0, subnqn=NQN):
    data = connect_data(cntlid, subnqn)
    return record(queue, fabrics(0x01, cid, ICD, len(data),
                                 (qid << 16, sqsize, kato, 0, 0, 0)), data)


def prop_set(cid, ofst, value):
    return record(0, fabrics(0x00, cid, cdw=(0, ofst, value, 0, 0, 0)))


def prop_get(cid, ofst, size8=False):
    return record(0, fabrics(0x04, cid, cdw=(1 if size8 else 0, ofst, 0, 0, 0, 0)))


def pattern(n, seed):
    return bytes((i * 31 + seed) & 0xFF for i in range(n))


def rw(queue, opc, cid, nsid, slba, nblocks, bs, data=None, fua=False):
    cdw12 = (nblocks - 1) | ((1 << 30) if fua else 0)
    length = nblocks * bs
    if data is None:  # read or compare-less: transport SGL
        return record(queue, sqe(opc, cid, nsid, XPORT, length, (slba, 0, cdw12, 0, 0, 0)))
    return record(queue, sqe(opc, cid, nsid, ICD, length, (slba, 0, cdw12, 0, 0, 0)), data)


def identify(cid, cns, nsid=0):
    return record(0, sqe(0x06, cid, nsid, XPORT, 4096, (cns, 0, 0, 0, 0, 0)))


def get_log(cid, lid, length, offset=0, rae=False, nsid=0):
    numd = length // 4 - 1
    cdw10 = lid | ((1 << 15) if rae else 0) | ((numd & 0xFFFF) << 16)
    return record(0, sqe(0x02, cid, nsid, XPORT, length, (cdw10, numd >> 16, offset, 0, 0, 0)))


def features(cid, set_, fid, cdw11=0, sel=0):
    return record(0, sqe(0x09 if set_ else 0x0A, cid, 0, XPORT, 0,
                         (fid | (sel << 8), cdw11, 0, 0, 0, 0)))


def ctrl_cmd_seeds():
    seeds = {}
    io = [
        rw(1, 0x01, 1, 1, 0, 8, 512, pattern(4096, 1)),          # in-capsule write
        rw(1, 0x02, 2, 1, 0, 8, 512),                            # read it back
        rw(2, 0x01, 3, 1, 64, 16, 512, pattern(8192, 3), fua=True),
        rw(2, 0x05, 4, 1, 64, 16, 512, pattern(8192, 3)),        # compare: equal
        rw(3, 0x01, 5, 2, 1, 2, 4096, pattern(8192, 5)),         # 4 KiB blocks
        rw(3, 0x02, 6, 2, 1, 2, 4096),
        rw(1, 0x01, 7, 3, 0, 1, 512, pattern(512, 7)),           # read-only namespace
        record(1, sqe(0x08, 8, 1, XPORT, 0, (16, 0, 7, 0, 0, 0))),              # write zeroes
        record(1, sqe(0x08, 9, 1, XPORT, 0, (24, 0, 7 | (1 << 25), 0, 0, 0))),  # ... DEAC
        record(2, sqe(0x09, 10, 1, ICD, 32, (1, 4, 0, 0, 0, 0)),                # DSM deallocate
               struct.pack("<IIQ", 0, 8, 32) + struct.pack("<IIQ", 0, 4, 100)),
        record(2, sqe(0x00, 11, 1)),                             # flush
        record(3, sqe(0x00, 12, 0xFFFFFFFF)),                    # flush every namespace
        record(1, sqe(0x01, 13, 1, XPORT, 4096, (0, 0, 7, 0, 0, 0)), pattern(4096, 13)),  # by "R2T"
        rw(2, 0x01, 14, 4, 8, 8, 512, pattern(4096, 14)),        # the file namespace
        rw(2, 0x02, 15, 4, 8, 8, 512),
        record(2, sqe(0x08, 16, 4, XPORT, 0, (0, 0, 15 | (1 << 25), 0, 0, 0))),
        record(3, sqe(0x09, 17, 4, ICD, 16, (0, 4, 0, 0, 0, 0)), struct.pack("<IIQ", 0, 8, 40)),
        record(3, sqe(0x00, 18, 4)),
        record(1, fabrics(0x08, 19)),                            # Disconnect of an I/O queue
    ]
    seeds["seed-io"] = bytes([BRING_UP]) + b"".join(io)
    admin = [
        identify(1, 0x01), identify(2, 0x00, 1), identify(3, 0x02), identify(4, 0x03, 2),
        identify(5, 0x06), identify(6, 0x00, 0xFFFFFFFF),
        get_log(7, 0x00, 256), get_log(8, 0x01, 4096), get_log(9, 0x02, 512),
        get_log(10, 0x03, 512), get_log(11, 0x04, 4096, rae=True), get_log(12, 0x05, 4096),
        get_log(13, 0x02, 64, offset=8),
        features(14, True, 0x07, 0x00030003), features(15, False, 0x07),
        features(16, True, 0x0F, 5000), features(17, False, 0x0F, sel=1),
        features(18, True, 0x0B, 1 << 8), features(19, True, 0x06, 0),
        features(20, False, 0x06, sel=3),
        record(0, sqe(0x0C, 21)), record(0, sqe(0x0C, 22)),      # AERs, held
        record(0, sqe(0x08, 23, 0, XPORT, 0, (21 << 16, 0, 0, 0, 0, 0))),  # abort one
        record(0, sqe(0x18, 24)),                                # keep alive
        prop_get(25, 0x00, True), prop_get(26, 0x08), prop_get(27, 0x14), prop_get(28, 0x1C),
        prop_set(29, 0x14, 1 | (6 << 16) | (4 << 20) | (1 << 14)),  # CC.SHN: shutdown
        prop_set(30, 0x14, 0),                                   # CC.EN = 0: reset
    ]
    seeds["seed-admin"] = bytes([BRING_UP]) + b"".join(admin)
    # Reservations on namespace 1: register, acquire, report, I/O under the
    # reservation, preempt, release, clear, the log page and features.
    keys = lambda a, b=0: struct.pack("<QQ", a, b)
    resv = [
        record(1, sqe(0x0D, 1, 1, ICD, 16, (0 | (3 << 30), 0, 0, 0, 0, 0)), keys(0, 0xA)),
        record(1, sqe(0x11, 2, 1, ICD, 16, (0 | (1 << 8), 0, 0, 0, 0, 0)), keys(0xA)),
        record(2, sqe(0x0E, 3, 1, XPORT, 4096, (1023, 1, 0, 0, 0, 0))),      # report, EDS
        record(2, sqe(0x0E, 4, 1, XPORT, 64, (15, 0, 0, 0, 0, 0))),          # 64-bit: refused
        rw(3, 0x01, 5, 1, 0, 1, 512, pattern(512, 5)),
        record(1, sqe(0x0D, 6, 1, ICD, 16, (2, 0, 0, 0, 0, 0)), keys(0xA, 0xB)),   # replace
        record(2, sqe(0x11, 7, 1, ICD, 16, (2 | (6 << 8), 0, 0, 0, 0, 0)), keys(0xB, 0xB)),
        record(1, sqe(0x15, 8, 1, ICD, 8, (0 | (6 << 8), 0, 0, 0, 0, 0)), keys(0xB)[:8]),
        record(1, sqe(0x15, 9, 1, ICD, 8, (1, 0, 0, 0, 0, 0)), keys(0xB)[:8]),     # clear
        get_log(10, 0x80, 64),
        record(0, sqe(0x09, 11, 1, XPORT, 0, (0x82, 0xE, 0, 0, 0, 0))),
        record(0, sqe(0x0A, 12, 1, XPORT, 0, (0x82, 0, 0, 0, 0, 0))),
        record(0, sqe(0x09, 13, 1, XPORT, 0, (0x83, 1, 0, 0, 0, 0))),
        record(0, sqe(0x0A, 14, 0, XPORT, 16, (0x81, 1, 0, 0, 0, 0))),
    ]
    seeds["seed-resv"] = bytes([BRING_UP]) + b"".join(resv)
    # Without the harness's bring-up: the records connect (one admin queue).
    seeds["seed-connect"] = bytes([0]) + b"".join([
        connect(0, 1, 0, kato=10000),
        prop_set(2, 0x14, 1 | (6 << 16) | (4 << 20)),
        prop_get(3, 0x1C),
        identify(4, 0x01),
        connect(0, 5, 0),                                        # a second Connect
        connect(1, 6, 1, cntlid=1),                              # I/O queue by CNTLID
        connect(2, 7, 9, cntlid=1, sqsize=200),                  # out of range
    ])
    seeds["seed-discovery"] = bytes([0]) + b"".join([
        connect(0, 1, 0, subnqn=DISCOVERY, kato=0),
        prop_set(2, 0x14, 1 | (6 << 16) | (4 << 20)),
        identify(3, 0x01),
        get_log(4, 0x70, 4096),
        get_log(5, 0x70, 1024, offset=1024),
        features(6, True, 0x0B, 1 << 31),
        record(0, sqe(0x0C, 7)),
        connect(1, 8, 1, cntlid=1, subnqn=DISCOVERY),
    ])
    return seeds

# --------------------------------------------------------------------------
# config: an nvmetcli JSON file (its first line also serves as a BACKING)


def nvmetcli_config(path="/tmp/fuzz-ns.img", second=True):
    ns = [{
        "ana": {"grpid": "1"}, "ana_grpid": 1,
        "device": {"nguid": "00000000-0000-0000-0000-000000000000", "path": path,
                   "uuid": "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "size": "8M"},
        "enable": 1, "nsid": 1, "resv": {"enable": "0"}}]
    if second:
        ns.append({"device": {"path": "ramdisk:4M", "block_size": 4096, "readonly": True,
                              "eui64": "0102030405060708"}, "enable": 1, "nsid": 2})
    return {
        "hosts": [{"nqn": "nqn.2024-01.org.nvmfd:host-a"}],
        "ports": [{
            "addr": {"adrfam": "ipv4", "traddr": "127.0.0.1", "treq": "not specified",
                     "trsvcid": "4420", "trtype": "tcp"},
            "ana_groups": [{"ana": {"state": "optimized"}, "grpid": 1}],
            "param": {"inline_data_size": "8192", "pi_enable": "0"},
            "portid": 1, "referrals": [], "subsystems": [NQN]}],
        "subsystems": [{
            "allowed_hosts": ["nqn.2024-01.org.nvmfd:host-a"],
            "attr": {"allow_any_host": "0", "cntlid_max": "65519", "cntlid_min": "1",
                     "model": "Linux", "pi_enable": "0", "qid_max": "8",
                     "serial": "6c3ef9a8e1d25b07", "version": "1.3"},
            "namespaces": ns, "nqn": NQN}],
    }


# Fixed test secrets (nvmf gen-dhchap-key --secret 11.. / 22..): seeds must not change.
HOST_KEY = "DHHC-1:02:Gh8L2nbiu6FjZFyZKZG1GPtx9o3/OYu30SPmyxoCPxBjW7CBQGuwWlf8TL64Zxw3QrAO9g==:"
CTRL_KEY = "DHHC-1:00:IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIGuf2I:"


def linux612_config():
    """As nvmetcli (2026) saves it on Linux 6.12: a "dhchap" group per host,
    version 2.1, the newer subsystem attributes, and one newer still."""
    conf = nvmetcli_config(second=False)
    conf["hosts"] = [
        {"dhchap": {"ctrl_key": CTRL_KEY, "dhgroup": "ffdhe2048", "hash": "hmac(sha384)",
                    "key": HOST_KEY}, "nqn": "nqn.2024-01.org.nvmfd:host-a"},
        {"dhchap": {"ctrl_key": "", "dhgroup": "null", "hash": "hmac(sha256)", "key": ""},
         "nqn": "nqn.2024-01.org.nvmfd:host-b"}]
    conf["ports"][0]["addr"]["tsas"] = "none"
    conf["ports"][0]["param"]["max_queue_size"] = "128"
    conf["subsystems"][0]["attr"].update(
        firmware="6.12.0", ieee_oui="0x0a1b2c", subsys_vendor_id="0x1af4", vendor_id="0x1b36",
        version="2.1", frobnicate="1")
    return conf


def config_seeds():
    seeds = {}
    seeds["seed-linux612"] = json.dumps(linux612_config(), indent=2, sort_keys=True).encode()
    both = linux612_config()
    both["hosts"][0]["dhchap_key"] = HOST_KEY
    seeds["seed-both-layouts"] = json.dumps(both).encode()
    seeds["seed-nvmetcli"] = json.dumps(nvmetcli_config(), indent=2).encode()
    seeds["seed-minimal"] = json.dumps({"subsystems": [{"nqn": NQN, "namespaces": [
        {"nsid": 1, "device": {"path": "ramdisk:1M"}}]}]}).encode()
    ipv6 = nvmetcli_config(second=False)
    ipv6["ports"][0]["addr"].update(adrfam="ipv6", traddr="::1", trsvcid="0")
    ipv6["subsystems"][0]["attr"]["allow_any_host"] = 1
    ipv6["subsystems"][0]["allowed_hosts"] = []
    seeds["seed-ipv6-numbers"] = json.dumps(ipv6).encode()
    seeds["seed-unknown-field"] = b'{"subsystems": [{"nqn": "' + NQN.encode() + b'", "bogus": 1}]}'
    seeds["seed-rdma"] = json.dumps({"ports": [{"portid": 1, "addr": {
        "trtype": "rdma", "adrfam": "ipv4", "traddr": "127.0.0.1", "trsvcid": "4420"}}]}).encode()
    seeds["seed-backing-line"] = b"/tmp/fuzz.img,size=1G,bs=4096,ro\n{}"
    seeds["seed-ramdisk-line"] = b"ramdisk:512M,bs=512\n[]"
    seeds["seed-broken"] = b'{"subsystems": [{"nqn": "' + NQN.encode() + b'", "namespaces": ['
    return seeds


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, blob in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(blob)


def main():
    write("ctrl_cmd", ctrl_cmd_seeds())
    write("config", config_seeds())


if __name__ == "__main__":
    main()
