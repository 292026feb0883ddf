# ruff: noqa: E701, E702, E402  (a probe kept as run: compact statements)
"""chord_adapt beside a busy loop, t=1 and t=2 alternating call by call (ABBA): per stage
(decode, each layer's pack, the rest) min / median ms, and the pool's counters per count.
Usage: adapt_probe.py [CALLS] [contend 0/1]"""

import copy
import os
import statistics
import subprocess
import sys
import time

import torch

from chord.backends import cpu as cpu_backend
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.e2e import build_model
from chord.quantize import DeviceModel
from chord.quantize.strategy import Strategy

calls = int(sys.argv[1]) if len(sys.argv) > 1 else 40
busy = int(sys.argv[2]) if len(sys.argv) > 2 else 1
procs = []
if busy:
    p = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
    os.sched_setaffinity(p.pid, {1})
    procs.append(p)
    time.sleep(0.2)
try:
    model = build_model("sasrec", 100000, 0)
    pristine = copy.deepcopy(model)
    dms = [DeviceModel(model, embeddings=True)] + [
        DeviceModel(copy.deepcopy(pristine), embeddings=True) for _ in range(3)
    ]
    label, mix = parse_mix("mix3")
    strat = Strategy({ln: mix_codes(mix, int(f.shape[0]), seed=j) for j, (ln, f) in enumerate(dms[0].frozen.items())})
    rec = {1: [], 2: []}
    pools = {1: {}, 2: {}}
    i = 0
    for r in range(calls):
        for t in (1, 2) if r % 2 == 0 else (2, 1):
            torch.set_num_threads(t)
            p0 = cpu_backend.pool_stats()
            t0 = time.perf_counter()
            st = dms[i % len(dms)].apply(strat)
            tt = time.perf_counter() - t0
            p1 = cpu_backend.pool_stats()
            for k in p1:
                pools[t][k] = pools[t].get(k, 0) + p1[k] - p0.get(k, 0)
            i += 1
            if r >= 2:
                rec[t].append((tt, st.decode_s, dict(st.pack_s), st.total_s))
    for t in (1, 2):
        xs = rec[t]
        tot = sorted(x[0] for x in xs)
        print(f"t={t} total min {tot[0] * 1e3:.2f} med {statistics.median(tot) * 1e3:.2f}  pool {pools[t]}")
        names = list(xs[0][2])
        big = sorted(names, key=lambda n: -statistics.median(x[2][n] for x in xs))[:4]
        for n in big:
            v = sorted(x[2][n] for x in xs)
            print(f"   {n:30s} min {v[0] * 1e3:.3f} med {statistics.median(v) * 1e3:.3f}")
        rest = sorted(x[0] - sum(x[2].values()) for x in xs)
        print(f"   {'rest (decode, swap, py)':30s} min {rest[0] * 1e3:.3f} med {statistics.median(rest) * 1e3:.3f}")
        small = sorted(sum(v for n, v in x[2].items() if n not in big[:1]) for x in xs)
        print(f"   {'all but the largest':30s} min {small[0] * 1e3:.3f} med {statistics.median(small) * 1e3:.3f}")
finally:
    for p in procs:
        p.kill()
