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


# --------------------------------------------------------------------------
# Full stack: nvmf perf against nvmfd with a RAM namespace.
# --------------------------------------------------------------------------

NQN = "nqn.2024-01.io.nvmf:bench"
NVMF_CASES = [  # (fio mode, bs, iodepth per queue)
    ("randread", "4k", 1),
    ("randread", "4k", 32),
    ("randwrite", "4k", 32),
    ("read", "128k", 8),
    ("write", "128k", 8),
]
ENGINES = ["threads", "epoll", "hybrid", "poll"]
REGION = "256M"


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pid):
    """utime + stime of a process, all threads, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Target:
    """nvmfd on CPU 0 serving a RAM namespace on a free loopback port."""

    def __init__(self, build, engine, inline):
        self.port = free_port()
        cmd = ["taskset", "-c", "0", os.path.join(build, "nvmfd"), "-q", "-a", "127.0.0.1",
               "-s", str(self.port), "-n", NQN, "--discovery-port", "0", "--engine", engine,
               "--inline-data-size", str(inline), f"ramdisk:{REGION}"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        deadline = time.time() + 10
        import socket
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nvmfd did not start: {self.proc.stderr.read()}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def perf(build, port, engine, rw, bs, qd, queues, runtime, digests):
    import resource
    cmd = ["taskset", "-c", "1", os.path.join(build, "nvmf"), "perf", "-a", "127.0.0.1",
           "-s", str(port), "-n", NQN, "--engine", engine, "-i", str(queues),
           "--queues", str(queues), "--rw", rw, "--bs", bs, "--iodepth", str(qd),
           "--runtime", str(max(1, round(runtime))), "--size", REGION, "-o", "json"]
    if digests:
        cmd += ["-g", "-G"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=runtime + 120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stderr.strip()}")
    r = json.loads(out.stdout)
    r["host_cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return r


def nvmf_suite(build, runtime, engines, inline):
    rows = []
    for engine in engines:
        target = Target(build, engine, inline)
        try:
            # Write the region once: reads of never-written RAM pages fault.
            perf(build, target.port, engine, "write", "128k", 8, 1, 2, False)
            for rw, bs, qd in NVMF_CASES:
                crw = "read" if "read" in rw else "write"
                ceil = {m: ceiling(build, crw, bs, qd, m, runtime) for m in ("block", "poll")}
                best = max(metric(c, bs) for c in ceil.values())
                ref = ceil["poll" if engine in ("poll", "hybrid") else "block"]
                variants = [(1, False), (1, True)]
                if (rw, bs, qd) == ("randread", "4k", 32):
                    variants += [(2, False), (4, False)]
                for queues, digests in variants:
                    cpu0 = proc_cpu_seconds(target.proc.pid)
                    r = perf(build, target.port, engine, rw, bs, qd, queues, runtime, digests)
                    tcpu = proc_cpu_seconds(target.proc.pid) - cpu0
                    ios = max(r.get("ios", 1), 1)
                    rows.append({
                        "case": f"{rw} {bs} qd{qd}" + (f" x{queues}q" if queues > 1 else ""),
                        "stack": f"nvmf/{engine}" + (" +digests" if digests else ""),
                        "value": fmt_metric(metric(r, bs), bs),
                        "lat": f"{r['lat_usec']['mean']:.1f}",
                        "ratio": metric(r, bs) / metric(ref, bs),
                        "ratio_best": metric(r, bs) / best,
                        "cpu": f"{tcpu * 1e6 / ios:.2f} / {r['host_cpu'] * 1e6 / ios:.2f}",
                        "ceiling": f"block {fmt_metric(metric(ceil['block'], bs), bs)}, "
                                   f"poll {fmt_metric(metric(ceil['poll'], bs), bs)}",
                    })
                    print(f"  {rows[-1]['case']:<22} {rows[-1]['stack']:<24} "
                          f"{rows[-1]['value']:>14}  x{rows[-1]['ratio']:.2f} of its ceiling",
                          file=sys.stderr)
        finally:
            target.stop()
    return rows


def depth_sweep(build, runtime, engines, inline, png):
    """IOPS against queue depth, 4 KiB random reads, each engine and the ceilings."""
    depths = [1, 2, 4, 8, 16, 32, 64]
    series = {f"ceiling ({m})": [metric(ceiling(build, "read", "4k", d, m, runtime), "4k")
                                 for d in depths] for m in ("block", "poll")}
    for engine in engines:
        target = Target(build, engine, inline)
        try:
            perf(build, target.port, engine, "write", "128k", 8, 1, 2, False)
            series[f"nvmf/{engine}"] = [
                perf(build, target.port, engine, "randread", "4k", d, 1, runtime, False)["iops"]
                for d in depths]
        finally:
            target.stop()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (python3-matplotlib): no plot", file=sys.stderr)
        return series, depths
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, values in series.items():
        style = "--" if name.startswith("ceiling") else "-"
        ax.plot(depths, [v / 1000 for v in values], style, marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xticks(depths)
    ax.set_xticklabels([str(d) for d in depths])
    ax.set_xlabel("queue depth (one queue)")
    ax.set_ylabel("kIOPS, 4 KiB random read")
    ax.set_title("nvmf perf against nvmfd (RAM namespace), loopback, 1 CPU each")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    return series, depths


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
    ap.add_argument("--suite", default="all", choices=["transport", "nvmf", "sweep", "all"])
    ap.add_argument("--runtime", type=float, default=3)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--inline", type=int, default=16384,
                    help="nvmfd --inline-data-size (in-capsule data per I/O command)")
    ap.add_argument("--markdown", help="write the tables to this file")
    ap.add_argument("--png", default=os.path.join(os.path.dirname(__file__), "iops_vs_depth.png"))
    args = ap.parse_args()
    engines = args.engines.split(",")

    print(f"machine: {machine()}", file=sys.stderr)
    text = (f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, runtime {args.runtime:g} s "
            f"per point; nvmfd --inline-data-size {args.inline}.\n")
    if args.suite in ("transport", "all"):
        text += "\n### Transport alone\n\n" + table(
            transport_suite(args.build, args.runtime, engines)) + "\n"
    if args.suite in ("nvmf", "all"):
        text += "\n### nvmf perf against nvmfd\n\n" + table(
            nvmf_suite(args.build, args.runtime, engines, args.inline)) + "\n"
    if args.suite in ("sweep", "all"):
        series, depths = depth_sweep(args.build, min(args.runtime, 2), engines, args.inline,
                                     args.png)
        text += ("\n### 4 KiB random read IOPS against queue depth\n\n| series | " +
                 " | ".join(f"qd{d}" for d in depths) + " |\n|---|" + "---|" * len(depths) +
                 "\n" + "".join(f"| {name} | " + " | ".join(f"{v / 1000:.1f}k" for v in vals) +
                                " |\n" for name, vals in series.items()))
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
