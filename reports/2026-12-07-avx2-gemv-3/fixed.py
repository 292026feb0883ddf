"""Per-call fixed costs of an M = 1 act8 call (mix3): (a) the public API (chord.mp_linear) against the
extension's entry (_cpu.mp_linear) on the same rotated weights, interleaved; (b) the extension's
call on K = 4096 with few rows (N = 24..384): the intercept is the per-call cost that does not
scale with the weight (activation quantization and layouts, the pool, set-up).
usage: python fixed.py [--rounds R] [--threads 1,2]"""

import argparse
import time

import numpy as np
import torch

import chord
from chord import host_memory
from chord.backends import cpu as cpu_backend
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import clone_packed, seeded_randn

ap = argparse.ArgumentParser()
ap.add_argument("--rounds", type=int, default=10)
ap.add_argument("--threads", default="1,2")
a = ap.parse_args()
m = cpu_backend._cpu
K = 4096
x = seeded_randn(1, K, seed=2)
xn = x.numpy()
_, mix = parse_mix("mix3")
for t in [int(s) for s in a.threads.split(",")]:
    torch.set_num_threads(t)
    # (a) public API vs the extension's entry, 4096^2
    w = seeded_randn(K, K, seed=1)
    mw = chord.pack(w, mix_codes(mix, K, seed=0))
    n = max(2, -(-(256 << 20) // mw.nbytes))
    mws = clone_packed(mw, n)
    args = [
        (q.qweight.numpy(), q.scales.numpy(), q.zeros.numpy(), q.perm.numpy(), [int(v) for v in q.buckets]) for q in mws
    ]
    y = np.empty((1, K), np.float32)
    best = {"api": 1e9, "ext": 1e9}
    for _ in range(a.rounds):
        for i in range(n):
            t0 = time.perf_counter()
            chord.mp_linear(x, mws[i], act_bits=8)
            best["api"] = min(best["api"], time.perf_counter() - t0)
        for i in range(n):
            qw, sc, ze, pe, bk = args[i]
            t0 = time.perf_counter()
            m.mp_linear(xn, 0, qw, sc, ze, pe, bk, K, None, 8, y, t)
            best["ext"] = min(best["ext"], time.perf_counter() - t0)
    print(
        f"t={t} 4096^2 mix3: chord.mp_linear {best['api'] * 1e3:.4f} ms, _cpu.mp_linear {best['ext'] * 1e3:.4f} ms, "
        f"API overhead {(best['api'] - best['ext']) * 1e6:.1f} us ({(best['api'] - best['ext']) / best['api'] * 100:.1f} %)",
        flush=True,
    )
    del mws, args
    # (b) few rows: the extension's call on N rows of K = 4096 (mix3 codes), rotated
    pts = []
    for N in (24, 48, 96, 192, 384):
        w = seeded_randn(N, K, seed=3)
        mw = chord.pack(w, mix_codes(mix, N, seed=0))
        n = max(2, -(-(256 << 20) // mw.nbytes))
        n = min(n, 400)
        qs = [host_memory.empty_uint8(mw.qweight.numel()).copy_(mw.qweight).numpy() for _ in range(n)]
        sc, ze, pe, bk = mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(), [int(v) for v in mw.buckets]
        y = np.empty((1, N), np.float32)
        b = 1e9
        for _ in range(a.rounds):
            for i in range(n):
                t0 = time.perf_counter()
                m.mp_linear(xn, 0, qs[i], sc, ze, pe, bk, K, None, 8, y, t)
                b = min(b, time.perf_counter() - t0)
        pts.append((mw.qweight.numel(), b))
        print(f"t={t} N={N} bytes={mw.qweight.numel()} {b * 1e6:.1f} us", flush=True)
    xs, ys = np.array([p[0] for p in pts], float), np.array([p[1] for p in pts])
    slope, icpt = np.polyfit(xs, ys, 1)
    print(f"t={t} fit: intercept {icpt * 1e6:.1f} us, slope {1 / slope / 1e9:.1f} GB/s", flush=True)
