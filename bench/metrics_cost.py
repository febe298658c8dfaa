#!/usr/bin/env python3
"""What nvmfd's I/O counters and a scraped --metrics endpoint cost.

nvmf perf (CPU 1) against nvmfd (CPU 0, RAM namespace), 4 KiB random reads
at depth 32, in interleaved rounds of these variants:

  base      an nvmfd built without the counters (--base-nvmfd PATH; left
            out when not given)
  counting  this build's nvmfd, --metrics off (the counters always run)
  scraped   this build's nvmfd with --metrics, scraped every 100 ms
            (150x Prometheus's default 15 s interval)

Prints, per variant, the median of nvmfd's CPU time per I/O (user +
system, all threads, over the timed run: the figure that moves least when
other processes take the CPUs) and of IOPS, with ratios to "counting"
(and to "base"), as a Markdown table.

  bench/metrics_cost.py build [--base-nvmfd PATH] [--runtime 3] [--rounds 3]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

from benchutil import free_port, proc_cpu_seconds, wait_ready

NQN = "nqn.2024-01.io.nvmf:bench-metrics"
REGION = "256M"


class Target:
    """nvmfd on CPU 0; with metrics, a thread scrapes it every interval."""

    def __init__(self, nvmfd, engine, metrics, interval=0.1):
        self.port = free_port()
        cmd = ["taskset", "-c", "0", nvmfd, "-a", "127.0.0.1", "-s", str(self.port), "-n", NQN,
               "--discovery-port", "0", "--engine", engine, f"ramdisk:{REGION}"]
        if metrics:
            cmd += ["--metrics", "127.0.0.1:0"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.metrics_url = None

        def metrics_url(line):
            m = re.search(r"metrics on (http://\S+)", line)
            if m:
                self.metrics_url = m.group(1)
        wait_ready(self.proc, metrics_url)
        self.scrapes = 0
        self.stopping = threading.Event()
        self.scraper = None
        if metrics:
            self.scraper = threading.Thread(target=self.scrape, args=(interval,), daemon=True)
            self.scraper.start()

    def scrape(self, interval):
        while not self.stopping.wait(interval):
            with urllib.request.urlopen(self.metrics_url, timeout=10) as r:
                if r.status != 200 or b"nvmfd_namespace_ops_total" not in r.read():
                    raise RuntimeError("bad scrape")
            self.scrapes += 1

    def stop(self):
        self.stopping.set()
        if self.scraper is not None:
            self.scraper.join()
        self.proc.terminate()
        self.proc.wait(timeout=30)


def perf(nvmf, port, engine, rw, qd, runtime):
    cmd = ["taskset", "-c", "1", nvmf, "perf", "-a", "127.0.0.1", "-s", str(port), "-n", NQN,
           "--engine", engine, "--rw", rw, "--bs", "4k", "--iodepth", str(qd), "--runtime",
           str(runtime), "--size", REGION, "-o", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=runtime + 120)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("--base-nvmfd", help="an nvmfd without the counters, to compare with")
    ap.add_argument("--engine", default="epoll")
    ap.add_argument("--runtime", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    nvmfd = os.path.join(args.build, "nvmfd")
    nvmf = os.path.join(args.build, "nvmf")
    variants = [("counting", nvmfd, False), ("scraped", nvmfd, True)]
    if args.base_nvmfd:
        variants.insert(0, ("base", args.base_nvmfd, False))
    iops = {name: [] for name, _, _ in variants}
    cpu = {name: [] for name, _, _ in variants}
    scrapes = 0
    for _ in range(args.rounds):
        for name, binary, metrics in variants:
            t = Target(binary, args.engine, metrics)
            try:
                # Written once: reads of never-written ramdisk pages fault.
                perf(nvmf, t.port, args.engine, "write", 32, 1)
                before = proc_cpu_seconds(t.proc.pid)
                r = perf(nvmf, t.port, args.engine, "randread", 32, args.runtime)
                cpu[name].append((proc_cpu_seconds(t.proc.pid) - before) / r["ios"] * 1e6)
                iops[name].append(r["iops"])
            finally:
                t.stop()
            scrapes += t.scrapes
    med = {name: statistics.median(v) for name, v in iops.items()}
    mcpu = {name: statistics.median(v) for name, v in cpu.items()}
    base = "base" in med
    print(f"nvmf perf randread 4k qd32, engine {args.engine}, {args.runtime} s per run, "
          f"median of {args.rounds} interleaved rounds; {scrapes} scrapes in all; "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| variant | nvmfd CPU us/IO | ratio to counting |" + (" ratio to base |" if base else "")
          + " IOPS | ratio to counting |" + (" ratio to base |" if base else "") + " runs (us/IO) |")
    print("|---|---|---|" + ("---|" if base else "") + "---|---|" + ("---|" if base else "") + "---|")
    for name, _, _ in variants:
        row = f"| {name} | {mcpu[name]:.2f} | {mcpu[name] / mcpu['counting']:.3f} |"
        if base:
            row += f" {mcpu[name] / mcpu['base']:.3f} |"
        row += f" {med[name] / 1000:.1f}k | {med[name] / med['counting']:.3f} |"
        if base:
            row += f" {med[name] / med['base']:.3f} |"
        row += " " + ", ".join(f"{v:.2f}" for v in cpu[name]) + " |"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
