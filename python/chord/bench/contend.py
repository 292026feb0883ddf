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
        yield {"processes": n, "cpus": pinned, "command": f"{sys.executable} -c {BUSY_LOOP!r}"}
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
