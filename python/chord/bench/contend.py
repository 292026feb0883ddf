"""``chord bench --contend``: run the benchmark beside busy-loop processes, each pinned to one CPU
of the run's affinity set (the last ones first), so that a multi-threaded kernel has to share a
core with a process that never yields: the case that exposes spin-waiting thread pools and
barrier waits on a descheduled worker. What ran is recorded in the results document
(``chord.contend``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager

BUSY_LOOP = "while 1: pass"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux /proc); -inf where unreadable."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("-inf")


@contextmanager
def busy_processes(n: int):
    """Start ``n`` busy loops (``python -c 'while 1: pass'``), pinned to the last ``n`` CPUs this
    process may run on; yield a description ``{"processes", "cpus", "command"}``; kill them on exit."""
    if n <= 0:
        yield None
        return
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    if n > len(cpus):
        raise ValueError(f"contend: expected at most {len(cpus)} busy processes (CPUs available), got {n}")
    pinned = cpus[-n:]
    procs: list[subprocess.Popen] = []
    try:
        for cpu in pinned:
            p = subprocess.Popen([sys.executable, "-c", BUSY_LOOP], stdin=subprocess.DEVNULL)
            procs.append(p)
            if hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(p.pid, {cpu})
        time.sleep(0.2)  # let them reach the loop (interpreter start-up is not contention)
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"contend: the busy loop exited early (code {p.returncode})")
        start = [(_cpu_seconds(p.pid), time.perf_counter()) for p in procs]
        info = {"processes": n, "cpus": pinned, "command": f"{sys.executable} -c {BUSY_LOOP!r}"}
        yield info
        # the share of its CPU each loop got while the run went on: ~0.5 where it shared the core
        # with one of the run's threads all along (a figure near 0 would mean no contention)
        shares = [(_cpu_seconds(p.pid) - c0) / max(1e-9, time.perf_counter() - t0) for p, (c0, t0) in zip(procs, start)]
        if all(s >= 0 for s in shares):
            info["cpu_share"] = [round(s, 3) for s in shares]
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
