"""The bench's chord act8 rows, as the kernels suite builds them (seeded_randn, mix_codes, chord.pack,
clone_packed, chord.mp_linear through the public API), single calls timed round-robin over MIXES
and THREADS; min / p10 / median per row. PYTHONPATH picks the chord_kernels build."""

import os
import sys
import time

import numpy as np
import torch

import chord
import chord_kernels
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import clone_packed

print(chord_kernels.__file__, file=sys.stderr)
M = int(os.environ.get("M", "16"))
K = N = 4096
mixes = os.environ.get("MIXES", "mix3,u4").split(",")
threads = [int(t) for t in os.environ.get("THREADS", "1,2").split(",")]
calls = int(os.environ.get("CALLS", "150"))
rounds = int(os.environ.get("ROUNDS", "3"))
nsets = int(os.environ.get("NSETS", "43"))
g = torch.Generator().manual_seed(1)
w = torch.randn(N, K, generator=g)
x = torch.randn(M, K, generator=g)
packs = {}
for m in mixes:
    label, mix = parse_mix(m)
    mw = chord.pack(w, mix_codes(mix, N, seed=0))
    packs[label] = clone_packed(mw, nsets)
res = {}
for _r in range(rounds):
    for t in threads:
        torch.set_num_threads(t)
        for label, mws in packs.items():
            for i in range(3):
                chord.mp_linear(x, mws[i % nsets], act_bits=8)
            ts = []
            for i in range(calls):
                t0 = time.perf_counter_ns()
                chord.mp_linear(x, mws[i % nsets], act_bits=8)
                ts.append(time.perf_counter_ns() - t0)
            res.setdefault((label, t), []).extend(ts)
for (label, t), ts in res.items():
    ts = np.array(ts) / 1e6
    print(
        f"M={M} {label} t={t}: min {ts.min():.3f} p10 {np.percentile(ts, 10):.3f} med {np.median(ts):.3f} ms (n={len(ts)}) load {os.getloadavg()[0]:.2f}"
    )
