#!/usr/bin/env python3
"""Benchmarks, as ratios against the TCP ceiling measured in the same run.

Every figure is divided by bench/tcp_ceiling run with the same byte pattern
(read or write, block size, queue depth) just before it, server on one CPU
and client on the other.  Absolute numbers move with the machine; the ratios
are what the project tracks (bench/RESULTS.md).

  bench/run.py BUILD_DIR [--suite transport|nvmf|fresh|all|fuse] [--runtime S] [--markdown FILE]
  bench/run.py BUILD_DIR --peer FILE    (ratios against a peer's figures, JSON lines)
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

from benchutil import free_port, proc_cpu_seconds

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


# Each point is measured REPEAT times, the runs of the points compared with
# each other interleaved, and the median run kept: on a shared VM one run can
# be off by 2x.
REPEAT = 3


def median_run(runs, key):
    return sorted(runs, key=key)[len(runs) // 2]


def interleaved(points, measure):
    """Measure every point REPEAT times, round-robin; the median run of each."""
    runs = {p: [] for p in points}
    for _ in range(REPEAT):
        for p in points:
            runs[p].append(measure(p))
    return runs


def ceilings(build, rw, bs, qd, runtime, region="0"):
    """Both modes (block, poll), each the better of its two ways of placing
    payloads (copy, direct), measured while nothing else of ours runs (a
    polling nvmfd would take the server's CPU).  region: the server's payloads
    are random blocks of a buffer that size, as the RAM namespace serves them
    ("0": one block, always in cache)."""
    def measure(point):
        mode, placement = point
        return run_json([os.path.join(build, "bench", "tcp_ceiling"), "--rw", rw, "--bs", bs,
                         "--iodepth", str(qd), "--mode", mode, "--placement", placement,
                         "--region", region, "--runtime", str(runtime), "-o", "json"])

    runs = interleaved([(m, p) for m in ("block", "poll") for p in ("copy", "direct")], measure)
    best = {}
    for (mode, _), r in runs.items():
        r = median_run(r, lambda x: x["iops"])
        if mode not in best or r["iops"] > best[mode]["iops"]:
            best[mode] = r
    return best


def reference(ceil, engine, bs):
    """What a figure is divided by: the ceiling in the engine's mode (sleeping
    engines against blocking sockets, polling ones against busy-polling); for
    large transfers the better of the two, as the targets ask."""
    if is_large(bs):
        return max(ceil.values(), key=lambda c: metric(c, bs))
    return ceil["poll" if engine.startswith(("poll", "hybrid")) else "block"]


def fmt_ceilings(ceil, bs):
    return ", ".join(f"{m} {fmt_metric(metric(c, bs), bs)} ({c['placement']})"
                     for m, c in ceil.items())


def transport(build, rw, bs, qd, engine, runtime, digests=False):
    cmd = [os.path.join(build, "bench", "transport_bench"), "--rw", rw, "--bs", bs,
           "--iodepth", str(qd), "--engine", engine, "--runtime", str(runtime), "-o", "json"]
    if digests:
        cmd += ["--hdgst", "--ddgst"]
    return run_json(cmd)


def is_large(bs):
    return bs.endswith("k") and int(bs[:-1]) >= 64


def metric(result, bs):
    """IOPS for small blocks, MiB/s for large ones."""
    return result["mib_per_sec"] if is_large(bs) else result["iops"]


def fmt_metric(value, bs):
    if is_large(bs):
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
        ceil = ceilings(build, rw, bs, qd, runtime)
        best = max(metric(c, bs) for c in ceil.values())
        for engine in engines:
            runs = interleaved((False, True),
                               lambda d: transport(build, rw, bs, qd, engine, runtime, d))
            for digests in (False, True):
                r = median_run(runs[digests], lambda x: metric(x, bs))
                ref = reference(ceil, engine, bs)
                rows.append({
                    "case": f"{rw} {bs} qd{qd}",
                    "stack": f"transport/{engine}" + (" +digests" if digests else ""),
                    "engine": engine, "digests": digests, "queues": 1,
                    "rw": rw, "bs": bs, "qd": qd,
                    "metric": metric(r, bs),
                    "value": fmt_metric(metric(r, bs), bs),
                    "lat": f"{r['lat_usec']['mean']:.1f}",
                    "lat_mean": r["lat_usec"]["mean"],
                    "ref_lat": ref["lat_usec"]["mean"],
                    "ratio": metric(r, bs) / metric(ref, bs),
                    "ratio_best": metric(r, bs) / best,
                    "cpu": f"{r['cpu_usec_per_io']['server']:.2f} / {r['cpu_usec_per_io']['client']:.2f}",
                    "ceiling": fmt_ceilings(ceil, bs),
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
# The RAM namespace's size, and the region perf and the ceiling's server spread
# their blocks over (--region).
REGION = "256M"


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


def size_bytes(text):
    units = {"k": 10, "m": 20, "g": 30, "t": 40}
    text = text.lower().rstrip("ib")
    return int(text[:-1]) << units[text[-1]] if text[-1] in units else int(text)


def prewrite(build, port, engine):
    """Write the whole namespace once, sequentially, in as many 1 s runs as it
    takes (one run on a loaded machine may cover only part of it)."""
    total, done = size_bytes(REGION), 0
    while done < total:
        cmd = ["taskset", "-c", "1", os.path.join(build, "nvmf"), "perf", "-a", "127.0.0.1",
               "-s", str(port), "-n", NQN, "--engine", engine, "--rw", "write", "--bs", "128k",
               "--iodepth", "8", "--runtime", "1", "--offset", str(done),
               "--size", str(total - done), "-o", "json"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {out.stderr.strip()}")
        done += json.loads(out.stdout)["ios"] * 128 * 1024


def started_target(build, engine, inline, written=True):
    """nvmfd with its RAM namespace written once unless written is False (the
    fresh case, what a first benchmark meets)."""
    target = Target(build, engine, inline)
    try:
        if written:
            prewrite(build, target.port, engine)
    except Exception:
        target.stop()
        raise
    return target


def proc_minor_faults(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def measured_on(build, target, engine, rw, bs, qd, runtime, queues=1, digests=False):
    """perf against target, with the target's CPU time and page faults."""
    cpu0, flt0 = proc_cpu_seconds(target.proc.pid), proc_minor_faults(target.proc.pid)
    r = perf(build, target.port, engine, rw, bs, qd, queues, runtime, digests)
    r["target_cpu"] = proc_cpu_seconds(target.proc.pid) - cpu0
    r["target_faults"] = proc_minor_faults(target.proc.pid) - flt0
    return r


# --------------------------------------------------------------------------
# Fresh against written namespaces: a first benchmark reads never-written
# blocks (issue 19).  Each run gets its own target, fresh or written whole.
# --------------------------------------------------------------------------

FRESH_CASES = [("randread", "4k", 32), ("read", "128k", 8)]


def fresh_suite(build, runtime, engines, inline):
    rows = []
    for rw, bs, qd in FRESH_CASES:
        for engine in engines:
            def measure(written):
                target = started_target(build, engine, inline, written)
                try:
                    return measured_on(build, target, engine, rw, bs, qd, runtime)
                finally:
                    target.stop()
            runs = interleaved([False, True], measure)
            med = {w: median_run(runs[w], lambda x: metric(x, bs)) for w in (False, True)}
            rows.append({"case": f"{rw} {bs} qd{qd}", "stack": f"nvmf/{engine}", "bs": bs,
                         "fresh": med[False], "written": med[True]})
            print(f"  {rw} {bs} qd{qd} nvmf/{engine}: fresh/written "
                  f"{metric(med[False], bs) / metric(med[True], bs):.2f}", file=sys.stderr)
    return rows


def per_io(r, key):
    return r[key] / max(r.get("ios", 1), 1)


def fresh_table(rows):
    out = ["| case | stack | fresh | written | fresh / written | target CPU us/IO "
           "(fresh / written) | target page faults per IO (fresh / written) |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        f, w, bs = r["fresh"], r["written"], r["bs"]
        out.append(f"| {r['case']} | {r['stack']} | {fmt_metric(metric(f, bs), bs)} "
                   f"| {fmt_metric(metric(w, bs), bs)} | {metric(f, bs) / metric(w, bs):.2f} "
                   f"| {per_io(f, 'target_cpu') * 1e6:.2f} / {per_io(w, 'target_cpu') * 1e6:.2f} "
                   f"| {per_io(f, 'target_faults'):.3f} / {per_io(w, 'target_faults'):.3f} |")
    return "\n".join(out)


# --------------------------------------------------------------------------
# Against a peer's figures (--peer FILE): JSON lines
#   {"workload": "randread 4k qd32", "iops": 460000, "mib_s": 1797}
# workload is "RW BS qdN" as in the tables (randread, randwrite, read, write).
# Each workload is measured here, written and fresh, one queue, no digests.
# --------------------------------------------------------------------------

def read_peer(path):
    peers = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                p = json.loads(line)
                rw, bs, qd = p["workload"].split()
                if rw not in ("randread", "randwrite", "read", "write") or \
                        not qd.startswith("qd") or not 1 <= int(qd[2:]) <= 1024:
                    raise ValueError("workload is \"RW BS qdN\"")
                size_bytes(bs)
                value = float(p["mib_s"] if is_large(bs) else p["iops"])
                if value <= 0:
                    raise ValueError("iops / mib_s must be positive")
            except (ValueError, KeyError, TypeError, IndexError) as e:
                sys.exit(f"{path}:{n}: {e!r}: want {{\"workload\": \"randread 4k qd32\", "
                         f"\"iops\": N, \"mib_s\": N}}")
            peers.append({"rw": rw, "bs": bs, "qd": int(qd[2:]), "workload": p["workload"],
                          "value": value, "label": p.get("label", "")})
    if not peers:
        sys.exit(f"{path}: no workloads")
    return peers


def peer_suite(build, runtime, engine, inline, peers):
    rows = []
    for p in peers:
        def measure(written):
            target = started_target(build, engine, inline, written)
            try:
                return perf(build, target.port, engine, p["rw"], p["bs"], p["qd"], 1,
                            runtime, False)
            finally:
                target.stop()
        runs = interleaved([True, False], measure)
        m = {w: metric(median_run(runs[w], lambda x: metric(x, p["bs"])), p["bs"])
             for w in (True, False)}
        rows.append({**p, "written": m[True], "fresh": m[False]})
        print(f"  {p['workload']}: {m[True] / p['value']:.2f} of the peer (written), "
              f"{m[False] / p['value']:.2f} (fresh)", file=sys.stderr)
    return rows


def peer_table(rows, engine):
    out = [f"| workload | peer | nvmf/{engine}, written | ratio | nvmf/{engine}, fresh | ratio |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        bs = r["bs"]
        out.append(f"| {r['workload']} | {fmt_metric(r['value'], bs)} {r['label']} "
                   f"| {fmt_metric(r['written'], bs)} | {r['written'] / r['value']:.2f} "
                   f"| {fmt_metric(r['fresh'], bs)} | {r['fresh'] / r['value']:.2f} |")
    return "\n".join(out)


def nvmf_suite(build, runtime, engines, inline):
    rows = []
    for rw, bs, qd in NVMF_CASES:
        crw = "read" if "read" in rw else "write"
        ceil = ceilings(build, crw, bs, qd, runtime, REGION)
        best = max(metric(c, bs) for c in ceil.values())
        for engine in engines:
            ref = reference(ceil, engine, bs)
            variants = [(1, False), (1, True)]
            if (rw, bs, qd) == ("randread", "4k", 32):
                variants += [(2, False), (4, False)]
            target = started_target(build, engine, inline)

            def measure(variant):
                queues, digests = variant
                return measured_on(build, target, engine, rw, bs, qd, runtime, queues, digests)
            try:
                runs = interleaved(variants, measure)
                for queues, digests in variants:
                    r = median_run(runs[(queues, digests)], lambda x: metric(x, bs))
                    tcpu = r["target_cpu"]
                    ios = max(r.get("ios", 1), 1)
                    rows.append({
                        "case": f"{rw} {bs} qd{qd}" + (f" x{queues}q" if queues > 1 else ""),
                        "stack": f"nvmf/{engine}" + (" +digests" if digests else ""),
                        "engine": engine, "digests": digests, "queues": queues,
                        "rw": crw, "bs": bs, "qd": qd,
                        "metric": metric(r, bs),
                        "value": fmt_metric(metric(r, bs), bs),
                        "lat": f"{r['lat_usec']['mean']:.1f}",
                        "lat_mean": r["lat_usec"]["mean"],
                        "ref_lat": ref["lat_usec"]["mean"],
                        "ratio": metric(r, bs) / metric(ref, bs),
                        "ratio_best": metric(r, bs) / best,
                        "cpu": f"{tcpu * 1e6 / ios:.2f} / {r['host_cpu'] * 1e6 / ios:.2f}",
                        "ceiling": fmt_ceilings(ceil, bs),
                    })
                    print(f"  {rows[-1]['case']:<22} {rows[-1]['stack']:<24} "
                          f"{rows[-1]['value']:>14}  x{rows[-1]['ratio']:.2f} of its ceiling",
                          file=sys.stderr)
            finally:
                target.stop()
    return rows


def targets(rows):
    """Issue 7's targets, checked against the rows of one suite (1 queue)."""
    def find(engine, rw, bs, qd, digests=False):
        for r in rows:
            if (r["engine"], r["rw"], r["bs"], r["qd"], r["digests"], r["queues"]) == \
               (engine, rw, bs, qd, digests, 1):
                return r
        return None

    checks = []
    engines = sorted({r["engine"] for r in rows}, key=lambda e: ENGINES.index(e)
                     if e in ENGINES else len(ENGINES))
    for engine in engines:
        polling = engine.startswith(("poll", "hybrid"))
        qd32, qd1 = find(engine, "read", "4k", 32), find(engine, "read", "4k", 1)
        if qd32:
            want = 0.5 if polling else 0.7
            checks.append((engine, f"4k read qd32 >= {want} of the "
                           f"{'polling' if polling else 'blocking'} ceiling",
                           qd32["ratio"], qd32["ratio"] >= want))
        if qd1 and polling:
            checks.append((engine, "4k read qd1 >= 0.7 of the polling ceiling's rate",
                           qd1["ratio"], qd1["ratio"] >= 0.7))
        elif qd1:
            lat = qd1["lat_mean"] / qd1["ref_lat"]
            checks.append((engine, "4k read qd1 latency <= 1.2 x the blocking round trip",
                           lat, lat <= 1.2))
        for rw in ("read", "write"):
            big = find(engine, rw, "128k", 8)
            if big:
                checks.append((engine, f"128k {rw} qd8 >= 0.9 of the best ceiling",
                               big["ratio_best"], big["ratio_best"] >= 0.9))
        for rw in ("read", "write"):
            plain, dig = find(engine, rw, "4k", 32), find(engine, rw, "4k", 32, True)
            if plain and dig:
                cost = 1 - dig["metric"] / plain["metric"]
                checks.append((engine, f"digests cost <= 10% at 4k {rw} qd32", cost,
                               cost <= 0.10))
    return checks


def targets_table(checks):
    out = ["| engine | target | measured | met |", "|---|---|---|---|"]
    for engine, what, value, ok in checks:
        shown = f"{value * 100:.0f}%" if what.startswith("digests") else f"{value:.2f}"
        out.append(f"| {engine} | {what} | {shown} | {'yes' if ok else '**no**'} |")
    return "\n".join(out)


def depth_sweep(build, runtime, engines, inline, png):
    """IOPS against queue depth, 4 KiB random reads, each engine and the ceilings."""
    depths = [1, 2, 4, 8, 16, 32, 64]
    ceil = {d: ceilings(build, "read", "4k", d, runtime, REGION) for d in depths}
    series = {f"ceiling ({m})": [metric(ceil[d][m], "4k") for d in depths]
              for m in ("block", "poll")}
    for engine in engines:
        target = started_target(build, engine, inline)
        try:
            runs = interleaved(depths, lambda d: perf(build, target.port, engine, "randread",
                                                      "4k", d, 1, runtime, False))
            series[f"nvmf/{engine}"] = [median_run(runs[d], lambda x: x["iops"])["iops"]
                                        for d in depths]
        finally:
            target.stop()
    plot_sweep(series, depths, png)
    return series, depths


SWEEP_HEADING = "### 4 KiB random read IOPS against queue depth"


def sweep_from_markdown(path):
    """The series of a sweep table that run.py wrote (for --plot-only)."""
    with open(path) as f:
        lines = f.read().split(SWEEP_HEADING, 1)[1].strip().splitlines()
    depths = [int(c.strip()[2:]) for c in lines[0].strip("|").split("|")[1:]]
    series = {}
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        series[cells[0]] = [float(c.rstrip("k")) * 1000 for c in cells[1:]]
    return series, depths


def plot_sweep(series, depths, png):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (python3-matplotlib, for /usr/bin/python3): no plot",
              file=sys.stderr)
        return
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


# --------------------------------------------------------------------------
# The FUSE path (issue 5): nvmf perf and fio through nvmf mount, same target.
# --------------------------------------------------------------------------

FUSE_CASES = [("randread", "4k", 32), ("read", "128k", 8)]  # (fio mode, bs, iodepth)
FUSE_RUNS = 2


class Mount:
    """nvmf mount of the target on CPU 1 (daemonized), at a scratch directory."""

    def __init__(self, build, port, engine, queues):
        import tempfile
        if os.geteuid() != 0:
            raise RuntimeError("--suite fuse mounts a namespace with FUSE: run it as root")
        if not os.path.exists("/dev/fuse"):
            raise RuntimeError("--suite fuse: /dev/fuse is missing (modprobe fuse)")
        self.nvmf = os.path.join(build, "nvmf")
        self.dir = tempfile.mkdtemp(prefix="nvmf-bench-mount.")
        out = subprocess.run(["taskset", "-c", "1", self.nvmf, "mount", "-a", "127.0.0.1",
                              "-s", str(port), "-n", NQN, "--engine", engine, "-i", str(queues),
                              self.dir], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            os.rmdir(self.dir)
            raise RuntimeError(f"nvmf mount: {out.stderr.strip()}")
        self.pid = int(os.getxattr(self.dir, "user.nvmf.pid"))
        self.file = os.path.join(self.dir, "n1")

    def stop(self):
        out = subprocess.run([self.nvmf, "umount", self.dir], capture_output=True, text=True,
                             timeout=180)
        if out.returncode != 0:
            raise RuntimeError(f"nvmf umount: {out.stderr.strip()}")
        os.rmdir(self.dir)


class NullFuse:
    """bench/fuse_ceiling on CPU 1: FUSE answering at once, no storage behind it."""

    def __init__(self, build):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="nvmf-bench-fuse-ceiling.")
        self.proc = subprocess.Popen(["taskset", "-c", "1",
                                      os.path.join(build, "bench", "fuse_ceiling"), self.dir,
                                      REGION.rstrip("M")], stderr=subprocess.PIPE, text=True)
        self.pid = self.proc.pid
        self.file = os.path.join(self.dir, "n1")
        deadline = time.time() + 30
        while not os.path.exists(self.file):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError(f"fuse_ceiling did not mount: {self.proc.stderr.read()}")
            time.sleep(0.05)

    def stop(self):
        subprocess.run(["fusermount3", "-u", self.dir], capture_output=True, timeout=60)
        self.proc.wait(timeout=60)
        os.rmdir(self.dir)


def fio_fuse(mount, rw, bs, qd, runtime):
    """fio on CPU 1 against the mounted file; CPU is fio's plus the mount process's."""
    import resource
    cmd = ["taskset", "-c", "1", "fio", "--name=fuse", f"--filename={mount.file}", "--direct=1",
           "--ioengine=libaio", f"--rw={rw}", f"--bs={bs}", f"--iodepth={qd}",
           f"--runtime={max(1, round(runtime))}", "--time_based", f"--size={REGION}",
           "--output-format=json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    mount_cpu = proc_cpu_seconds(mount.pid)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=runtime + 120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stderr.strip()}")
    job = json.loads(out.stdout[out.stdout.index("{"):])["jobs"][0]  # fio may warn first
    if job["error"] != 0:
        raise RuntimeError(f"fio: error {job['error']}")
    r = job["read"]
    return {"iops": r["iops"], "mib_per_sec": r["bw"] / 1024, "ios": r["total_ios"],
            "lat_usec": {"mean": r["lat_ns"]["mean"] / 1000},
            "host_cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime) +
                        proc_cpu_seconds(mount.pid) - mount_cpu}


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def fuse_suite(build, runtime, inline):
    """Each case twice through nvmf perf and twice through fio on the mount."""
    engine = "threads"
    rows = []
    target = Target(build, engine, inline)
    mount = ceiling = None
    try:
        perf(build, target.port, engine, "write", "128k", 8, 1, 2, False)
        mount = Mount(build, target.port, engine, 1)
        ceiling = NullFuse(build)
        for rw, bs, qd in FUSE_CASES:
            means = {}
            for stack in ("nvmf perf", "fio on nvmf mount", "fio on null FUSE (ceiling)"):
                runs = []
                for _ in range(FUSE_RUNS):
                    cpu0 = proc_cpu_seconds(target.proc.pid)
                    if stack == "nvmf perf":
                        r = perf(build, target.port, engine, rw, bs, qd, 1, runtime, False)
                    else:
                        r = fio_fuse(mount if "mount" in stack else ceiling, rw, bs, qd,
                                     runtime)
                    tcpu = proc_cpu_seconds(target.proc.pid) - cpu0
                    ios = max(r.get("ios", 1), 1)
                    runs.append((metric(r, bs), r["lat_usec"]["mean"],
                                 tcpu * 1e6 / ios, r["host_cpu"] * 1e6 / ios))
                means[stack] = sum(v for v, _, _, _ in runs) / len(runs)
                rows.append({
                    "case": f"{rw} {bs} qd{qd}", "stack": stack,
                    "runs": " / ".join(fmt_metric(v, bs) for v, _, _, _ in runs),
                    "lat": " / ".join(f"{lat:.0f}" for _, lat, _, _ in runs),
                    "cpu": " / ".join(f"{t:.1f} + {h:.1f}" for _, _, t, h in runs),
                    "ratio": means[stack] / means["nvmf perf"],
                })
                print(f"  {rows[-1]['case']:<16} {stack:<18} {rows[-1]['runs']:>28}",
                      file=sys.stderr)
            rows[-2]["of_ceiling"] = means["fio on nvmf mount"] / means["fio on null FUSE (ceiling)"]
    finally:
        if ceiling is not None:
            ceiling.stop()
        if mount is not None:
            mount.stop()
        target.stop()
    return rows


def fuse_table(rows):
    out = ["| case | path | run 1 / run 2 | mean lat (us) | CPU us/IO, target + host "
           "| of nvmf perf (means) | of the FUSE ceiling |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        of_ceiling = f"{r['of_ceiling']:.2f}" if "of_ceiling" in r else ""
        out.append(f"| {r['case']} | {r['stack']} | {r['runs']} | {r['lat']} | {r['cpu']} "
                   f"| {r['ratio']:.2f} | {of_ceiling} |")
    return "\n".join(out)


def table(rows):
    out = ["| case | stack | result | mean lat (us) | ratio to its ceiling | ratio to best ceiling "
           "| CPU us/IO (target / host) | ceilings (same run) |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['case']} | {r['stack']} | {r['value']} | {r['lat']} | {r['ratio']:.2f} "
                   f"| {r['ratio_best']:.2f} | {r['cpu']} | {r['ceiling']} |")
    return "\n".join(out)


def main():
    global REGION, REPEAT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--suite", default="all",
                    choices=["transport", "nvmf", "fresh", "sweep", "all", "fuse"],
                    help="fuse (not in all: needs root): nvmf perf and fio through nvmf mount; "
                         "fresh: never-written against written namespaces")
    ap.add_argument("--peer", metavar="FILE",
                    help="only compare with a peer's figures: JSON lines {\"workload\": "
                         "\"randread 4k qd32\", \"iops\": N, \"mib_s\": N}, ratios against "
                         "them (the first of --engines, default hybrid, is measured)")
    ap.add_argument("--runtime", type=float, default=3)
    ap.add_argument("--engines", help=f"default {','.join(ENGINES)}; --peer: hybrid")
    ap.add_argument("--inline", type=int, default=16384,
                    help="nvmfd --inline-data-size (in-capsule data per I/O command)")
    ap.add_argument("--plot-only", metavar="MARKDOWN",
                    help="only draw --png from the sweep table of an earlier run's markdown")
    ap.add_argument("--repeat", type=int, default=REPEAT,
                    help="runs per point, interleaved; the median counts (default %(default)s)")
    ap.add_argument("--region", default=REGION,
                    help="RAM namespace size; the ceiling's server spreads its payloads over "
                         "as much (default %(default)s)")
    ap.add_argument("--markdown", help="write the tables to this file")
    ap.add_argument("--png", default=os.path.join(os.path.dirname(__file__), "iops_vs_depth.png"))
    args = ap.parse_args()
    engines = args.engines.split(",") if args.engines else ENGINES
    if args.plot_only:
        plot_sweep(*sweep_from_markdown(args.plot_only), args.png)
        return
    REGION = args.region
    REPEAT = max(1, args.repeat)

    peers = read_peer(args.peer) if args.peer else None
    print(f"machine: {machine()}, load average {load_average()}", file=sys.stderr)
    text = (f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, runtime {args.runtime:g} s "
            f"per run, median of {REPEAT} interleaved runs per point; nvmfd --inline-data-size {args.inline}; RAM namespace and the "
            f"ceiling's server region {REGION}.\n")
    suite = None if peers else args.suite  # --peer: that comparison only
    if peers:
        load = load_average()
        engine = engines[0] if args.engines else "hybrid"
        rows = peer_suite(args.build, args.runtime, engine, args.inline, peers)
        text += (f"\n### nvmf perf against nvmfd, and a peer's figures ({args.peer})\n\n"
                 f"Load average before / after: {load} / {load_average()}.\n\n" +
                 peer_table(rows, engine) + "\n")
    if suite in ("transport", "all"):
        rows = transport_suite(args.build, args.runtime, engines)
        text += ("\n### Transport alone\n\n" + table(rows) + "\n\nTargets (issue 7):\n\n" +
                 targets_table(targets(rows)) + "\n")
    if suite in ("nvmf", "all"):
        rows = nvmf_suite(args.build, args.runtime, engines, args.inline)
        text += ("\n### nvmf perf against nvmfd\n\n" + table(rows) +
                 "\n\nTargets (issue 7):\n\n" + targets_table(targets(rows)) + "\n")
    if suite in ("fresh", "all"):
        rows = fresh_suite(args.build, args.runtime, engines, args.inline)
        text += ("\n### Fresh (never written) against written RAM namespaces\n\n" +
                 fresh_table(rows) + "\n")
    if suite in ("sweep", "all"):
        series, depths = depth_sweep(args.build, min(args.runtime, 2), engines, args.inline,
                                     args.png)
        text += ("\n### 4 KiB random read IOPS against queue depth\n\n| series | " +
                 " | ".join(f"qd{d}" for d in depths) + " |\n|---|" + "---|" * len(depths) +
                 "\n" + "".join(f"| {name} | " + " | ".join(f"{v / 1000:.1f}k" for v in vals) +
                                " |\n" for name, vals in series.items()))
    if suite == "fuse":
        load = load_average()
        rows = fuse_suite(args.build, args.runtime, args.inline)
        text += ("\n### nvmf perf and fio through nvmf mount, same target\n\n"
                 f"Load average before / after: {load} / {load_average()}.\n\n" +
                 fuse_table(rows) + "\n")
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
