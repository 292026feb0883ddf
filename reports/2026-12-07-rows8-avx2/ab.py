"""A/B in one process: the act_bits = 8 short-row scoring call (M activation rows x an N x K item
table, ~3-bit mix: half 2-bit, a quarter 4- and 8-bit rows) through two builds of the extension,
this tree's (chord_kernels._cpu) and another (OLD: a path to its _cpu*.so), rounds interleaved,
weights rotated over >= 64 MiB; min ms per (build, ISA, path). The exact path (act_bits = 0, not
changed) is the control.

    PYTHONPATH=$PWD/python:$PWD python reports/2026-12-07-rows8-avx2/ab.py OLD N K,K,.. M THREADS ROUNDS
"""

from __future__ import annotations

import importlib.util
import sys
import time

import torch

import chord
from chord.backends import cpu as cpu_backend
from chord.bench.suites.common import clone_packed
from tests.helpers import packed_args


def load(path: str):
    spec = importlib.util.spec_from_file_location("old_build._cpu", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(old_path: str, N: int, ks: list[int], M: int, threads: int, rounds: int) -> None:
    builds = {"new": cpu_backend._cpu, "old": load(old_path)}
    cases = [(0, "avx2"), (8, "avx2"), (8, "avx512_vnni")]
    cases = [c for c in cases if c[1] in cpu_backend.supported_isas()]
    for K in ks:
        g = torch.Generator().manual_seed(K)
        codes = torch.multinomial(torch.tensor([0.0, 0.5, 0.25, 0.25]), N, replacement=True, generator=g)
        mw = chord.pack(torch.randn(N, K, generator=g), codes.to(torch.uint8))
        n = max(2, (64 << 20) // mw.nbytes + 1)
        sets = [packed_args(m, torch.Tensor.numpy) for m in clone_packed(mw, n)]
        x = torch.randn(M, K, generator=g).numpy()
        ys = {b: torch.empty(M, N).numpy() for b in builds}
        best = {}
        i = 0
        for _ in range(rounds):
            for act, isa in cases:
                for b, mod in builds.items():
                    for _ in range(2 * n):  # two passes over the rotation per round
                        a = sets[i % n]
                        i += 1
                        t0 = time.perf_counter()
                        mod.mp_linear(x, 0, *a, None, act, ys[b], threads, isa, "direct")
                        dt = time.perf_counter() - t0
                        best[(act, isa, b)] = min(best.get((act, isa, b), 1e9), dt)
                assert (ys["new"] == ys["old"]).all(), (K, act, isa)  # bit for bit
        for act, isa in cases:
            o, w = best[(act, isa, "old")], best[(act, isa, "new")]
            print(
                f"N={N} K={K:3d} M={M} t={threads} {'act8' if act else 'exact'} {isa:12s} "
                f"old {o * 1e3:6.3f} ms  new {w * 1e3:6.3f} ms  old/new {o / w:5.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], int(a[1]), [int(k) for k in a[2].split(",")], int(a[3]), int(a[4]), int(a[5]))
