#!/usr/bin/env python3
"""Latency percentiles against load: nvmf perf --json-log at increasing
queue depths against nvmfd (RAM namespace; target on CPU 0, host on CPU 1).

Each depth runs --runtime seconds; its "result" line (IOPS, mean, p50,
p99, p99.9) and its per-second samples go to the data file, the plot
(p50/p99/p99.9 latency against IOPS, each point labelled with its depth)
to the PNG.  Without matplotlib the data is still written and the plot is
skipped, saying why (scripts/install-deps.sh bench installs it).

  bench/latency_vs_load.py build [--depths 1,2,4,...] [--runtime 2]
      [--data bench/latency_vs_load.json] [--png bench/latency_vs_load.png]
  bench/latency_vs_load.py --replot    # the PNG again from the data file
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from benchutil import free_port, wait_ready

HERE = os.path.dirname(os.path.abspath(__file__))
NQN = "nqn.2024-01.io.nvmf:bench-latency"
REGION = "256M"


def start_target(build, engine):
    port = free_port()
    proc = subprocess.Popen(["taskset", "-c", "0", os.path.join(build, "nvmfd"), "-a",
                             "127.0.0.1", "-s", str(port), "-n", NQN, "--discovery-port", "0",
                             "--engine", engine, f"ramdisk:{REGION}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_ready(proc)
    return proc, port


def perf(build, port, engine, rw, qd, runtime, log):
    cmd = ["taskset", "-c", "1", os.path.join(build, "nvmf"), "perf", "-a", "127.0.0.1", "-s",
           str(port), "-n", NQN, "--engine", engine, "--rw", rw, "--bs", "4k", "--iodepth",
           str(qd), "--runtime", str(runtime), "--size", REGION, "--json-log", log]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=runtime + 120)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stderr.strip()}")
    with open(log) as f:
        return [json.loads(line) for line in f]


def measure(args):
    proc, port = start_target(args.build, args.engine)
    points = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            log = os.path.join(tmp, "perf.jsonl")
            perf(args.build, port, args.engine, "write", 32, 1, log)  # pages in
            for qd in args.depths:
                lines = perf(args.build, port, args.engine, args.rw, qd, args.runtime, log)
                result = next(x for x in lines if x["type"] == "result")
                samples = [x for x in lines if x["type"] == "sample"]
                points.append({"iodepth": qd, "iops": result["iops"],
                               "lat_usec": result["lat_usec"], "samples": samples})
                lat = result["lat_usec"]
                print(f"qd {qd:4}: {result['iops'] / 1000:8.1f}k IOPS, latency usec mean "
                      f"{lat['mean']:.1f} p50 {lat['p50']:.1f} p99 {lat['p99']:.1f} "
                      f"p99.9 {lat['p999']:.1f}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"rw": args.rw, "bs": "4k", "engine": args.engine, "runtime_sec": args.runtime,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_average": round(os.getloadavg()[0], 1), "points": points}


def plot(data, png):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"plot skipped: matplotlib is not installed for {sys.executable} "
              "(scripts/install-deps.sh bench installs python3-matplotlib)")
        return False
    pts = data["points"]
    iops = [p["iops"] / 1000 for p in pts]
    fig, ax = plt.subplots(figsize=(8, 5))
    for key, label in (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")):
        ax.plot(iops, [p["lat_usec"][key] for p in pts], marker="o", label=label)
    for p, x in zip(pts, iops):
        ax.annotate(f"qd{p['iodepth']}", (x, p["lat_usec"]["p50"]), textcoords="offset points",
                    xytext=(0, -14), ha="center", fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("load: thousands of I/Os per second")
    ax.set_ylabel("latency (us, log scale)")
    ax.set_title(f"nvmf perf {data['rw']} {data['bs']} against nvmfd (RAM namespace, "
                 f"{data['engine']}), loopback, 1 CPU each\n{data.get('date', '')}, "
                 f"load average {data.get('load_average', '?')} on {os.cpu_count()} CPUs",
                 fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    print(f"plot: {png}")
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--depths", default="1,2,4,8,16,32,64")
    ap.add_argument("--runtime", type=int, default=2)
    ap.add_argument("--rw", default="randread")
    ap.add_argument("--engine", default="epoll")
    ap.add_argument("--data", default=os.path.join(HERE, "latency_vs_load.json"))
    ap.add_argument("--png", default=os.path.join(HERE, "latency_vs_load.png"))
    ap.add_argument("--replot", action="store_true", help="only plot the data file again")
    args = ap.parse_args()
    args.depths = [int(x) for x in args.depths.split(",")]
    if args.replot:
        with open(args.data) as f:
            data = json.load(f)
    else:
        data = measure(args)
        with open(args.data, "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
    plot(data, args.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
