"""mp_linear scoring 100,000 x 64 items (mix3, one user vector, 1 thread): the raw binding per
path, against F.linear fp32 and mp_topk, min ms over rounds. Run it once per build to compare
(PYTHONPATH picks the tree whose chord_kernels._cpu is loaded):

    PYTHONPATH=<tree>/python:<tree> python reports/2026-12-07-e2e/item_scoring_ab.py
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

import chord
import chord_kernels._cpu as C
from chord.bench.config import mix_codes, parse_mix

N, K = 100001, 64
torch.set_num_threads(1)
torch.manual_seed(0)
W = torch.randn(N, K)
mw = chord.pack(W, mix_codes(parse_mix("mix3")[1], N, seed=0))
x = torch.randn(1, K)
y = np.empty((1, N), np.float32)
args = (mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(), list(mw.buckets), K)


def best(f, n=300):
    for _ in range(10):
        f()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts) * 1e3


def run(ab, path):
    C.mp_linear(x.numpy(), 0, *args[:5], K, None, ab, y, 1, "auto", path)


print(C.__file__)
print(f"F.linear fp32: {best(lambda: F.linear(x, W)):.3f} ms")
for ab in (0, 8):
    auto = C.mp_linear_path(*args, 1, ab)
    for path in ("direct", "panel"):
        mark = " (auto)" if path == auto else ""
        print(f"mp_linear act_bits={ab} {path}{mark}: {best(lambda: run(ab, path)):.3f} ms")
print(f"mp_topk k=10: {best(lambda: chord.mp_topk(x, mw, 10)):.3f} ms")
