#!/usr/bin/env python3
"""What multipath costs on the fast path: nvmf perf over one path against two.

nvmfd (CPU 0) serves one RAM namespace, written once first, on two ports,
both ANA optimized.  nvmf perf (CPU 1) reads it in interleaved rounds of
these variants:

  1 path        one -a/-s: the plain controller, no multipath layer
  2 paths rr    both ports, --iopolicy round-robin
  2 paths qd    both ports, --iopolicy queue-depth

for 4 KiB random reads at depth 32 and 128 KiB sequential reads at depth 8
(the depth is the I/Os in flight in all, over both paths).  Prints, per case
and variant, the medians of IOPS, latency, the client's CPU time per I/O
(nvmf perf's user + system time over the whole run, connect included) and
nvmfd's (over the timed run), with ratios to one path, as a Markdown table.

  bench/mpath_cost.py build [--engine epoll] [--runtime 3] [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from benchutil import children_cpu_seconds, free_port, proc_cpu_seconds, wait_ready

NQN = "nqn.2024-01.io.nvmf:bench-mpath"
REGION = "256M"
REGION_BYTES = 256 << 20
CASES = [("randread", "4k", 32), ("read", "128k", 8)]
VARIANTS = [("1 path", 1, None), ("2 paths rr", 2, "round-robin"),
            ("2 paths qd", 2, "queue-depth")]


class Target:
    """nvmfd on CPU 0 with one ramdisk namespace behind two ports."""

    def __init__(self, nvmfd, engine, tmp):
        self.ports = [free_port(), free_port()]
        conf = {
            "ports": [{"portid": i + 1, "subsystems": [NQN],
                       "addr": {"trtype": "tcp", "adrfam": "ipv4", "traddr": "127.0.0.1",
                                "trsvcid": str(p)},
                       "ana_groups": [{"grpid": 1, "ana": {"state": "optimized"}}]}
                      for i, p in enumerate(self.ports)],
            "subsystems": [{"nqn": NQN, "attr": {"allow_any_host": "1"},
                            "namespaces": [{"nsid": 1, "enable": 1,
                                            "device": {"path": f"ramdisk:{REGION}"}}]}],
        }
        path = os.path.join(tmp, "nvmfd.json")
        with open(path, "w") as f:
            json.dump(conf, f)
        cmd = ["taskset", "-c", "0", nvmfd, "-c", path, "--discovery-port", "0",
               "--rpc-socket", os.path.join(tmp, "nvmfd.sock"), "--engine", engine]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        wait_ready(self.proc)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def perf(nvmf, ports, engine, rw, bs, qd, runtime, policy=None):
    """One nvmf perf run; its JSON result with its own CPU seconds added."""
    cmd = ["taskset", "-c", "1", nvmf, "perf", "-a", "127.0.0.1", "-n", NQN, "--engine", engine,
           "--rw", rw, "--bs", bs, "--iodepth", str(qd), "--runtime", str(runtime),
           "--size", REGION, "-o", "json"]
    for p in ports:
        cmd += ["-s", str(p)]
    if policy:
        cmd += ["--iopolicy", policy]
    before = children_cpu_seconds()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=runtime + 120)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stderr.strip()}")
    r = json.loads(out.stdout)
    if r["errors"] != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r['errors']} I/O errors")
    r["client_cpu"] = children_cpu_seconds() - before
    return r


def measure(args, t, rw, bs, qd):
    """Interleaved rounds of the variants: their runs' figures by name."""
    runs = {name: [] for name, _, _ in VARIANTS}
    for _ in range(args.rounds):
        for name, npaths, policy in VARIANTS:
            before = proc_cpu_seconds(t.proc.pid)
            r = perf(args.nvmf, t.ports[:npaths], args.engine, rw, bs, qd, args.runtime, policy)
            r["server_cpu"] = proc_cpu_seconds(t.proc.pid) - before
            runs[name].append(r)
    return runs


def med(runs, f):
    return statistics.median(f(r) for r in runs)


def table(case, runs):
    """Markdown rows of one case: medians and their ratios to one path."""
    rows = []
    base = runs["1 path"]

    def figures(rs):
        return {"iops": med(rs, lambda r: r["iops"]),
                "p50": med(rs, lambda r: r["lat_usec"]["p50"]),
                "p99": med(rs, lambda r: r["lat_usec"]["p99"]),
                "client": med(rs, lambda r: r["client_cpu"] / r["ios"] * 1e6),
                "server": med(rs, lambda r: r["server_cpu"] / r["ios"] * 1e6)}
    b = figures(base)
    for name, npaths, _ in VARIANTS:
        rs = runs[name]
        f = figures(rs)
        spread = "-"
        if npaths > 1:
            shares = [r["paths"][0]["commands"] / max(1, sum(p["commands"] for p in r["paths"]))
                      for r in rs]
            spread = f"{statistics.median(shares) * 100:.0f}%"
        rows.append(f"| {case} | {name} | {f['iops'] / 1000:.1f}k | {f['iops'] / b['iops']:.3f} | "
                    f"{f['p50']:.0f} / {f['p99']:.0f} | {f['client']:.2f} | "
                    f"{f['client'] / b['client']:.3f} | {f['server']:.2f} | "
                    f"{f['server'] / b['server']:.3f} | {spread} | "
                    + ", ".join(f"{r['iops'] / 1000:.1f}k" for r in rs) + " |")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("--engine", default="epoll")
    ap.add_argument("--runtime", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    args.nvmf = os.path.join(args.build, "nvmf")
    with tempfile.TemporaryDirectory(prefix="nvmf-mpath-cost.") as tmp:
        t = Target(os.path.join(args.build, "nvmfd"), args.engine, tmp)
        try:
            # Written once, whole: reads of never-written ramdisk pages fault.
            cmd = [args.nvmf, "write", "-a", "127.0.0.1", "-s", str(t.ports[0]), "-n", NQN,
                   "--offset", "0", "--length", REGION, "--data", "-"]
            subprocess.run(cmd, input=b"\xa5" * REGION_BYTES, stdout=subprocess.DEVNULL,
                           check=True, timeout=300)
            results = [(f"{rw} {bs} qd{qd}", measure(args, t, rw, bs, qd))
                       for rw, bs, qd in CASES]
        finally:
            t.stop()
    print(f"nvmf perf against nvmfd on two ports (ramdisk {REGION}), engine {args.engine}, "
          f"{args.runtime} s per run, median of {args.rounds} interleaved rounds; "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| case | variant | IOPS | ratio to 1 path | p50 / p99 us | client CPU us/IO | ratio |"
          " nvmfd CPU us/IO | ratio | path 0 share | runs (IOPS) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for case, runs in results:
        print("\n".join(table(case, runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
