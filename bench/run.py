#!/usr/bin/env python3
"""Benchmarks, as ratios against the TCP ceiling measured in the same run.

Every figure is divided by bench/tcp_ceiling run with the same byte pattern
(read or write, block size, queue depth) just before it, server on one CPU
and client on the other.  Absolute numbers move with the machine; the ratios
are what the project tracks (bench/RESULTS.md).

  bench/run.py BUILD_DIR [--suite transport|nvmf|all] [--runtime S] [--markdown FILE]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

# (rw, bs, iodepth) cases: latency-bound, IOPS-bound, bandwidth-bound.
TRANSPORT_CASES = [
    ("read", "4k", 1),
    ("read", "4k", 32),
    ("write", "4k", 32),
    ("read", "128k", 8),
    ("write", "128k", 8),
]


def run_json(cmd):
    """Run a benchmark that prints one JSON object; raise on failure."""
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ceiling(build, rw, bs, qd, mode, runtime):
    return run_json([os.path.join(build, "bench", "tcp_ceiling"), "--rw", rw, "--bs", bs,
                     "--iodepth", str(qd), "--mode", mode, "--runtime", str(runtime),
                     "-o", "json"])


def transport(build, rw, bs, qd, engine, runtime, digests=False):
    cmd = [os.path.join(build, "bench", "transport_bench"), "--rw", rw, "--bs", bs,
           "--iodepth", str(qd), "--engine", engine, "--runtime", str(runtime), "-o", "json"]
    if digests:
        cmd += ["--hdgst", "--ddgst"]
    return run_json(cmd)


def metric(result, bs):
    """IOPS for small blocks, MiB/s for large ones."""
    return result["mib_per_sec"] if bs.endswith("k") and int(bs[:-1]) >= 64 else result["iops"]


def fmt_metric(value, bs):
    if bs.endswith("k") and int(bs[:-1]) >= 64:
        return f"{value / 1024:.2f} GiB/s"
    return f"{value / 1000:.1f}k IOPS"


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.node()}: {os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}"


def transport_suite(build, runtime, engines):
    rows = []
    for rw, bs, qd in TRANSPORT_CASES:
        ceil = {m: ceiling(build, rw, bs, qd, m, runtime) for m in ("block", "poll")}
        best = max(metric(c, bs) for c in ceil.values())
        for engine in engines:
            for digests in (False, True):
                r = transport(build, rw, bs, qd, engine, runtime, digests)
                # Sleeping engines are judged against the blocking ceiling,
                # polling ones against the polling ceiling.
                ref = ceil["poll" if engine.startswith(("poll", "hybrid")) else "block"]
                rows.append({
                    "case": f"{rw} {bs} qd{qd}",
                    "stack": f"transport/{engine}" + (" +digests" if digests else ""),
                    "value": fmt_metric(metric(r, bs), bs),
                    "lat": f"{r['lat_usec']['mean']:.1f}",
                    "ratio": metric(r, bs) / metric(ref, bs),
                    "ratio_best": metric(r, bs) / best,
                    "cpu": f"{r['cpu_usec_per_io']['server']:.2f} / {r['cpu_usec_per_io']['client']:.2f}",
                    "ceiling": f"block {fmt_metric(metric(ceil['block'], bs), bs)}, "
                               f"poll {fmt_metric(metric(ceil['poll'], bs), bs)}",
                })
                print(f"  {rows[-1]['case']:<16} {rows[-1]['stack']:<28} {rows[-1]['value']:>14}"
                      f"  x{rows[-1]['ratio']:.2f} of its ceiling", file=sys.stderr)
    return rows


def table(rows):
    out = ["| case | stack | result | mean lat (us) | ratio to its ceiling | ratio to best ceiling "
           "| CPU us/IO (target / host) | ceilings (same run) |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['case']} | {r['stack']} | {r['value']} | {r['lat']} | {r['ratio']:.2f} "
                   f"| {r['ratio_best']:.2f} | {r['cpu']} | {r['ceiling']} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--suite", default="transport", choices=["transport"])
    ap.add_argument("--runtime", type=float, default=3)
    ap.add_argument("--engines", default="threads")
    ap.add_argument("--markdown", help="write the table to this file")
    args = ap.parse_args()

    print(f"machine: {machine()}", file=sys.stderr)
    rows = transport_suite(args.build, args.runtime, args.engines.split(","))
    text = (f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, runtime {args.runtime:g} s "
            f"per point.\n\n" + table(rows) + "\n")
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
