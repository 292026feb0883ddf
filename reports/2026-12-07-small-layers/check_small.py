# ruff: noqa: E401, E402, E701, E702 (a measurement script, kept as run)
"""Correctness smoke: forced 'small' vs 'direct' (and 'panel') bit for bit, random shapes/mixes."""

import numpy as np
import torch

import chord
from chord.backends import cpu as cb

_cpu = cb._cpu
rng = np.random.default_rng(0)
bad = 0
for it in range(300):
    M = int(rng.integers(1, 70))
    K = int(rng.integers(1, 300))
    N = int(rng.integers(1, 200))
    w = torch.randn(N, K)
    codes = torch.from_numpy(rng.choice([0, 1, 2, 3], size=N).astype(np.uint8))
    cbk = [None, chord.Codebook(bits=(1, 2, 4, 8), scheme="asym"), chord.Codebook(bits=(8, 8, 1, 0))][it % 3]
    mw = chord.pack(w, codes, cbk)
    x = torch.randn(M, K) * float(rng.choice([1e-3, 1, 100]))
    b = torch.randn(N) if it % 2 else None
    outs = {}
    for p in ("direct", "panel", "small"):
        y = torch.full((M, N), float("nan"))
        _cpu.mp_linear(
            x.numpy(),
            0,
            mw.qweight.numpy(),
            mw.scales.numpy(),
            mw.zeros.numpy(),
            mw.perm.numpy(),
            mw.buckets,
            K,
            None if b is None else b.numpy(),
            8,
            y.numpy(),
            1 + it % 2,
            "auto",
            p,
        )
        outs[p] = y
    if not (torch.equal(outs["small"], outs["direct"]) and torch.equal(outs["panel"], outs["direct"])):
        bad += 1
        d = (outs["small"] - outs["direct"]).abs()
        print("MISMATCH", M, K, N, mw.buckets, float(d.max()), int((d > 0).sum()))
print("mismatches", bad)
