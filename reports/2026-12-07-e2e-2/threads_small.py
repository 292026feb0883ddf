"""Per-call wall time of ``_cpu.mp_linear_ptr`` (the eager entry, cached handle) at 1 and 2
threads on small layers, mix3, exact and act8: where the thread pool stops paying for its
wake-up. Min over REPEATS ``timeit`` repeats, threads alternated per repeat (A/B interleaved),
µs per call.

    PYTHONPATH=$PWD/python:$PWD python reports/2026-12-07-e2e-2/threads_small.py
"""

import json
import os
import time
import timeit

import torch

import chord
from chord.backends.cpu import _cpu, pool_stats
from chord.bench.config import mix_codes, parse_mix

REPEATS = int(os.environ.get("REPEATS", "15"))
MIX = parse_mix("mix3")[1]
SHAPES = [(64, 64), (64, 256), (256, 64), (256, 256), (512, 512), (1024, 1024)]
g = torch.Generator().manual_seed(0)

for K, N in SHAPES:
    mw = chord.pack(torch.randn(N, K, generator=g), mix_codes(MIX, N, seed=N))
    arrays = (mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy())
    handle = _cpu.PackedWeight(*arrays, [int(v) for v in mw.buckets], K, False)
    for M in (1, 50):
        x, y = torch.randn(M, K, generator=g), torch.empty(M, N)
        for act_bits in (0, 8):
            number = max(20, int(2e5 / (M * N * K / 4096 + 20)))
            best = {1: float("inf"), 2: float("inf")}
            p0 = pool_stats()
            for _ in range(REPEATS):
                for t in (1, 2):
                    torch.set_num_threads(t)
                    call = lambda t=t: _cpu.mp_linear_ptr(  # noqa: E731
                        handle, x.data_ptr(), 0, M, K, 1, 0, act_bits, y.data_ptr(), N, t
                    )
                    call()
                    s = timeit.Timer(call, timer=time.perf_counter).timeit(number) / number
                    best[t] = min(best[t], s * 1e6)
            p1 = pool_stats()
            shared = p1.get("shared", 0) - p0.get("shared", 0)
            print(
                json.dumps(
                    {
                        "K": K,
                        "N": N,
                        "M": M,
                        "act_bits": act_bits,
                        "bytes": int(mw.qweight.numel()),
                        "t1_us": round(best[1], 2),
                        "t2_us": round(best[2], 2),
                        "t2/t1": round(best[2] / best[1], 2),
                        "pool_jobs": shared,
                        "load": os.getloadavg()[0],
                    }
                ),
                flush=True,
            )
