# ruff: noqa: E701, E702, E402  (a probe kept as run: compact statements)
"""mp_topk at 1M items x 64, B = 1 / 8, t = 1 / 2 alternating call by call (ABBA), with and without
a busy loop pinned to CPU 1: min / median ms and pool counters. Usage: topk_probe.py CALLS"""

import os
import statistics
import subprocess
import sys
import time

import torch

import chord
from chord import mp_topk
from chord.backends import cpu as cpu_backend
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import seeded_randn

calls = int(sys.argv[1]) if len(sys.argv) > 1 else 20
table = seeded_randn(1_000_000, 64, seed=7)
_, mix = parse_mix("mix3")
mw = chord.pack(table, mix_codes(mix, table.shape[0], seed=0))
for busy in (0, 1):
    procs = []
    if busy:
        p = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
        os.sched_setaffinity(p.pid, {1})
        procs.append(p)
        time.sleep(0.2)
    try:
        for B in (1, 8):
            x = seeded_randn(B, 64, seed=8 + B)
            ts = {1: [], 2: []}
            pools = {1: {}, 2: {}}
            for r in range(calls):
                for t in (1, 2) if r % 2 == 0 else (2, 1):
                    torch.set_num_threads(t)
                    mp_topk(x, mw, 10)
                    p0 = cpu_backend.pool_stats()
                    t0 = time.perf_counter()
                    mp_topk(x, mw, 10)
                    dt = time.perf_counter() - t0
                    p1 = cpu_backend.pool_stats()
                    for k in p1:
                        pools[t][k] = pools[t].get(k, 0) + p1[k] - p0.get(k, 0)
                    ts[t].append(dt)
            a, b = sorted(ts[1]), sorted(ts[2])
            print(
                f"busy={busy} B={B}: t1 min {a[0] * 1e3:.2f} med {statistics.median(a) * 1e3:.2f} | t2 min {b[0] * 1e3:.2f} med {statistics.median(b) * 1e3:.2f} | t2/t1 min {b[0] / a[0]:.2f} med {statistics.median(b) / statistics.median(a):.2f} | pool t2 {pools[2]}",
                flush=True,
            )
    finally:
        for p in procs:
            p.kill()
