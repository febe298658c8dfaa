"""What the benchmark scripts share: free ports, CPU accounting, nvmfd's start."""
import os
import resource
import socket
import threading


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pid):
    """utime + stime of a process, all threads, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    """utime + stime of every reaped child so far, in seconds."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def wait_ready(proc, on_line=None):
    """Read nvmfd's log (proc.stderr, text) until "nvmfd: ready", handing each
    line to on_line; then keep draining it so nvmfd never blocks on a full pipe."""
    for line in proc.stderr:
        if on_line is not None:
            on_line(line)
        if "nvmfd: ready" in line:
            break
    else:
        raise RuntimeError("nvmfd did not start")
    threading.Thread(target=proc.stderr.read, daemon=True).start()
