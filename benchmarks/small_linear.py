"""Small-layer mp_linear timing (issue #5): torch F.linear (MKL) vs chord.mp_linear and the raw
C++ binding on each path, best of N calls, at a fixed torch thread count.

    PYTHONPATH=$PWD/python:$PWD flock /tmp/chord-bench.lock python benchmarks/small_linear.py --threads 1
"""
from __future__ import annotations

import argparse
import time

import torch

import chord
from chord.backends import cpu as cpu_backend

SHAPES = [(1, 64, 64), (50, 64, 64), (256, 64, 64), (12800, 64, 64), (12800, 64, 256), (12800, 256, 64),
          (1, 4096, 4096), (16, 4096, 4096), (256, 4096, 4096)]


def best(f, n):
    f()
    b = float("inf")
    for _ in range(n):
        s = time.perf_counter()
        f()
        b = min(b, time.perf_counter() - s)
    return b * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--shapes", default=None, help="MxKxN,... (default: the issue #5 set)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    shapes = SHAPES if a.shapes is None else [tuple(int(v) for v in s.split("x")) for s in a.shapes.split(",")]
    _cpu = cpu_backend._cpu
    print(f"threads={a.threads} isa={_cpu.cpu_isa()}  (ms, best of {a.reps}; x = F.linear / row)")
    print(f"{'M':>6} {'K':>5} {'N':>5} {'F.linear':>9} {'chord':>9} {'x':>6} {'direct':>9} {'panel':>9}  auto")
    for M, K, N in shapes:
        g = torch.Generator().manual_seed(0)
        w, x, b = torch.randn(N, K, generator=g), torch.randn(M, K, generator=g), torch.randn(N, generator=g)
        mw = chord.pack(w, torch.randint(0, 4, (N,), dtype=torch.uint8, generator=g))
        reps = a.reps if M * K * N < 1e9 else max(3, a.reps // 4)
        tf = best(lambda: torch.nn.functional.linear(x, w, b), reps)
        tc = best(lambda: chord.mp_linear(x, mw, b), reps)
        y = torch.empty(M, N)
        args = [x.numpy(), 0, mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(), mw.buckets, K,
                b.numpy(), 0, y.numpy(), a.threads]
        td = best(lambda: _cpu.mp_linear(*args, "auto", "direct"), reps)
        tp = best(lambda: _cpu.mp_linear(*args, "auto", "panel"), reps) if K <= 1024 else float("nan")
        path = _cpu.mp_linear_path(mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(), mw.buckets, K, M)
        print(f"{M:>6} {K:>5} {N:>5} {tf:9.4f} {tc:9.4f} {tf / tc:6.2f} {td:9.4f} {tp:9.4f}  {path}")


if __name__ == "__main__":
    main()
