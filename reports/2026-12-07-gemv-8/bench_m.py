"""Time the act8 direct (GEMV) path and the int8 GEMM at M = 1..4 on large layers, 1 thread.

Run once per tree (PYTHONPATH picks the tree's extension); `ab.sh` alternates two trees.
Packed weights (tools/mp_linear_i8_costfit.py's seeded layers) are cached under $GEMV8_CACHE.
Prints one line per case: shape mix M path min-ms (wall time, min over repeats) and a
checksum of the output (both trees must print the same).
"""

import os
import pickle
import sys
import time
import zlib

import numpy as np
import torch

from chord.backends import cpu as cpu_backend

_cpu = cpu_backend._cpu
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from mp_linear_i8_costfit import weight as packed_weight  # noqa: E402  (the cost fit's layers)

CACHE = os.environ.get("GEMV8_CACHE", "/tmp/gemv8_cache")


def weight(N, K, mix):
    """The cost fit's seeded weight as the binding's arguments, cached (packing 8192^2 is slow)."""
    path = f"{CACHE}/{N}x{K}_{mix}.pkl"
    if not os.path.exists(path):
        mw = packed_weight(N, K, mix)
        args = (mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(), mw.buckets, K)
        os.makedirs(CACHE, exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump(args, f)
    with open(path, "rb") as f:
        a = pickle.load(f)
    # unpickled dtypes are not numpy's own dtype objects, which the binding compares by identity
    return tuple(v.view(getattr(np, v.dtype.name)) if isinstance(v, np.ndarray) else v for v in a)


def wall_ms(f, budget_s):
    """Min wall time of f over repeats (>= 5, up to budget_s or 400 calls), in ms."""
    f()
    best, n, end = float("inf"), 0, time.perf_counter() + budget_s
    while n < 5 or (n < 400 and time.perf_counter() < end):
        t0 = time.perf_counter_ns()
        f()
        best, n = min(best, time.perf_counter_ns() - t0), n + 1
    return best / 1e6


def main():
    shapes = [tuple(map(int, s.split("x"))) for s in os.environ.get("SHAPES", "8192x8192,4096x4096").split(",")]
    mixes = os.environ.get("MIXES", "u2,u4,u8,mix3").split(",")
    ms = [int(m) for m in os.environ.get("MS", "1,2,3,4").split(",")]
    paths = os.environ.get("PATHS", "direct").split(",")
    budget = float(os.environ.get("BUDGET", "0.3"))
    isa = os.environ.get("ISA", "avx512_vnni")
    for N, K in shapes:
        for mix in mixes:
            args = weight(N, K, mix)
            for M in ms:
                x = torch.randn(M, K, generator=torch.Generator().manual_seed(M))
                y = torch.empty(M, N)
                for p in paths:

                    def run(p=p):
                        _cpu.mp_linear(x.numpy(), 0, *args[:5], K, None, 8, y.numpy(), 1, isa, p)

                    t = wall_ms(run, budget)
                    crc = zlib.crc32(np.ascontiguousarray(y.numpy()).tobytes())
                    print(f"{N}x{K} {mix} M={M} {p} {t:.3f} {crc:08x}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
