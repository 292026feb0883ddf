"""The C++ per-call cost of an M = 1 act8 call outside the weight stream, through the eager fast
path's entry (mp_linear_ptr on a cached handle: no per-call validation, as chord.mp_linear calls
it): K = 4096, mix3 codes on N = 24..384 rows, rotated copies, min over rounds; the intercept of a
line through (bytes, time) is the cost that does not scale with the weight (activation
quantization and layouts, buffers, the pool, the pybind call). The eager entry takes the cost
model's path (the int8 GEMM on so few rows), so the fit uses the numpy entry forced to the direct
kernels (it also builds numpy views and checks perm: an upper bound). usage: python fixed3.py [rounds]"""

import sys
import time

import numpy as np
import torch

import chord
from chord.backends import cpu as cb
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import clone_packed, seeded_randn

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
m = cb._cpu
K = 4096
x = seeded_randn(1, K, seed=2)
_, mix = parse_mix("mix3")
for t in (1, 2):
    pts = []
    for N in (24, 48, 96, 192, 384):
        mw = chord.pack(seeded_randn(N, K, seed=3), mix_codes(mix, N, seed=0))
        n = min(400, max(2, -(-(256 << 20) // mw.nbytes)))
        mws = clone_packed(mw, n)
        hs = [cb.packed_handle(cb.HandleCache(), q.packed)[6] for q in mws]
        args = [
            (q.qweight.numpy(), q.scales.numpy(), q.zeros.numpy(), q.perm.numpy(), [int(v) for v in q.buckets])
            for q in mws
        ]
        y = torch.empty(1, N)
        yn = y.numpy()
        xn = x.numpy()
        bd = 1e9
        b = 1e9
        for _ in range(rounds):
            for i in range(n):
                t0 = time.perf_counter()
                m.mp_linear_ptr(hs[i], x.data_ptr(), 0, 1, K, 1, 0, 8, y.data_ptr(), N, t)
                b = min(b, time.perf_counter() - t0)
            for i in range(n):
                qw, sc, ze, pe, bk = args[i]
                t0 = time.perf_counter()
                m.mp_linear(xn, 0, qw, sc, ze, pe, bk, K, None, 8, yn, t, "auto", "direct")
                bd = min(bd, time.perf_counter() - t0)
        pts.append((mw.nbytes, bd))
        path = m.mp_linear_path(*args[0][:5], K, 1, 8, "auto") if hasattr(m, "mp_linear_path") else "?"
        print(
            f"t={t} N={N} bytes={mw.nbytes} eager entry (path {path}) {b * 1e6:.1f} us, numpy entry path=direct {bd * 1e6:.1f} us",
            flush=True,
        )
    xs, ys = np.array([p[0] for p in pts], float), np.array([p[1] for p in pts])
    slope, icpt = np.polyfit(xs, ys, 1)
    print(
        f"t={t} fit (numpy entry, direct): intercept {icpt * 1e6:.1f} us, slope {1 / slope / 1e9:.1f} GB/s", flush=True
    )
t0 = time.perf_counter()
for _ in range(10000):
    m.pool_stats() if hasattr(m, "pool_stats") else None
print(f"an empty-ish pybind call (pool_stats): {(time.perf_counter() - t0) / 10000 * 1e6:.2f} us", flush=True)
