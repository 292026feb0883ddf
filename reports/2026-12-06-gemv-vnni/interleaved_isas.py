"""Interleaved variants (env knobs) of the act8 GEMV, min over rounds, rotated weights."""

import os
import sys
import time

import torch

import chord
from chord.backends import cpu as cb
from chord.bench.config import NAMED_MIXES, mix_codes

_cpu = cb._cpu
variants = [dict(kv.split("=") for kv in v.split(";") if kv) for v in sys.argv[1].split(",")]
threads = [int(t) for t in sys.argv[2].split(",")]
shapes = [
    tuple(int(v) for v in s.split("x"))
    for s in (sys.argv[3] if len(sys.argv) > 3 else "4096x4096,8192x8192").split(",")
]
rounds = int(os.environ.get("ROUNDS", 40))
for K, N in shapes:
    g = torch.Generator().manual_seed(0)
    mw = chord.pack(torch.randn(N, K, generator=g), mix_codes(NAMED_MIXES["mix3"], N, seed=0))
    x = torch.randn(1, K, generator=g)
    nsets = max(2, int(300e6 // mw.nbytes))
    copies = [(mw.qweight.clone().numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy()) for _ in range(nsets)]
    y = torch.empty(1, N)
    for t in threads:
        best = [1e9] * len(variants)
        for rep in range(rounds):
            for vi, v in enumerate(variants):
                for k, val in v.items():
                    os.environ[k] = val
                c = copies[(rep * len(variants) + vi) % nsets]
                t0 = time.perf_counter()
                _cpu.mp_linear(x.numpy(), 0, *c, mw.buckets, K, None, 8, y.numpy(), t, "auto", "direct")
                best[vi] = min(best[vi], time.perf_counter() - t0)
                for k in v:
                    del os.environ[k]
        print(
            f"{K}x{N} t={t}: " + "  ".join(f"[{sys.argv[1].split(',')[i]}] {b * 1e3:.3f}" for i, b in enumerate(best)),
            flush=True,
        )
