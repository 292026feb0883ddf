"""Fit the act_bits=8 cost model of ``choose_path`` (csrc/mp_linear/mp_linear_panel.cpp,
``kCostI8*``): time both forced paths (direct kernels, int8 GEMM) at one thread over a grid of
shapes, bit mixes and batch sizes, fit each path's linear model by non-negative least squares on
relative error, and report how often the fitted choice is the faster path.

Timing is ``time.thread_time`` (CPU time of this thread, lower quartile), which a shared machine
inflates less than wall time. Rerun after changing either path's kernels and paste the printed
coefficients into ``kCostI8Vnni`` / ``kCostI8Avx2``:

    python tools/mp_linear_i8_costfit.py [isa ...]     # default: every SIMD ISA this CPU runs

Features (ns), per path:
    gemm   = fixed + live*K * unpack + M*K * quant + M*live*L * mac + M*N * epi + ceil(M/6)*live*L * runpack
(live: unpruned rows; L = K rounded up to 64; on avx512_vnni up to 24 rows the kernel unpacks in
registers once per 6-row tile: the runpack term replaces the unpack term there)
    direct = fixed + M*K*widths * prep + M*padded * dot + M*N * epi
padded: the multiply-adds the direct kernels issue per activation row (each packed row rounded
up to a 32-byte load).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

import chord
from chord.backends import cpu as cpu_backend

_cpu = cpu_backend._cpu
MIXES = {"mix3": (0.75, 0.125, 0.125), "u2": (1.0, 0.0, 0.0), "u4": (0.0, 1.0, 0.0), "u8": (0.0, 0.0, 1.0)}
SHAPES = [(64, 64), (256, 256), (512, 512), (1024, 1024), (4096, 512), (512, 4096), (4096, 4096)]
MS = [1, 2, 4, 6, 8, 12, 16, 24, 32, 64, 128]


def weight(N, K, mix, seed=0):
    g = torch.Generator().manual_seed(seed)
    codes = torch.ones(N, dtype=torch.uint8)
    idx = torch.randperm(N, generator=g)
    n4, n8 = int(N * MIXES[mix][1]), int(N * MIXES[mix][2])
    codes[idx[:n4]] = 2
    codes[idx[n4 : n4 + n8]] = 3
    return chord.pack(torch.randn(N, K, generator=g), codes, chord.Codebook((0, 2, 4, 8), "sym"))


def cpu_ns(f, budget_s=0.15):
    f()
    ts = []
    end = time.perf_counter() + budget_s
    while len(ts) < 5 or (time.perf_counter() < end and len(ts) < 200):
        t = time.thread_time_ns()
        f()
        ts.append(time.thread_time_ns() - t)
    ts.sort()
    return ts[len(ts) // 4]


FUSED_M = 24  # kMFusedGemmI8 (csrc/mp_linear/mp_linear_kernels.h)


def features(mw, M, isa):
    N, K = mw.N, mw.K
    L = (K + 63) // 64 * 64
    widths, padded, live = 0, 0.0, 0
    for b, rows in zip(mw.buckets[0::2], mw.buckets[1::2]):
        if b and rows:
            widths += 1
            live += rows
            be = 16 * 8 // b
            rb = (K + be - 1) // be * 16
            padded += rows * ((rb + 31) // 32 * 32) * 8 / b
    fused = isa == "avx512_vnni" and M <= FUSED_M
    gemm = [1.0, 0.0 if fused else live * K, M * K, M * live * L, M * N, (M + 5) // 6 * live * L if fused else 0.0]
    direct = [1.0, M * K * widths, M * padded, M * N]
    return gemm, direct


def nnls_rel(A, t):
    """min ||(A c - t) / t|| with c >= 0 (active set: drop the most negative, refit)."""
    A = np.asarray(A, float) / np.asarray(t, float)[:, None]
    b = np.ones(len(t))
    keep = list(range(A.shape[1]))
    while True:
        c, *_ = np.linalg.lstsq(A[:, keep], b, rcond=None)
        if (c >= 0).all():
            out = np.zeros(A.shape[1])
            out[keep] = c
            return out
        keep.pop(int(np.argmin(c)))


def main(isas):
    torch.set_num_threads(1)
    for isa in isas:
        rows = []
        for N, K in SHAPES:
            for mix in MIXES:
                mw = weight(N, K, mix)
                args = (mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(), mw.buckets, K)
                for M in MS:
                    x = torch.randn(M, K)
                    y = torch.empty(M, N)
                    t = {
                        p: cpu_ns(
                            lambda: _cpu.mp_linear(
                                x.numpy(),
                                0,
                                args[0],
                                args[1],
                                args[2],
                                args[3],
                                args[4],
                                K,
                                None,
                                8,
                                y.numpy(),
                                1,
                                isa,
                                p,
                            )
                        )
                        for p in ("direct", "panel")
                    }
                    rows.append((N, K, mix, M, features(mw, M, isa), t))
            print(f"[{isa}] measured {N}x{K}", file=sys.stderr, flush=True)
        cg = nnls_rel([r[4][0] for r in rows], [r[5]["panel"] for r in rows])
        cd = nnls_rel([r[4][1] for r in rows], [r[5]["direct"] for r in rows])
        good, loss = 0, []
        for N, K, mix, M, (fg, fd), t in rows:
            pick = "panel" if np.dot(cg, fg) < np.dot(cd, fd) else "direct"
            best = min(t, key=t.get)
            good += t[pick] <= 1.1 * t[best]
            loss.append(t[pick] / t[best])
        print(f"{isa}: gemm {{fixed, unpack, quant, mac, epi, runpack}} = {', '.join(f'{v:.4g}' for v in cg)}")
        print(f"{isa}: direct {{fixed, prep, dot, epi}} = {', '.join(f'{v:.4g}' for v in cd)}")
        print(f"{isa}: picks the faster path within 10% in {good}/{len(rows)} cases; worst loss {max(loss):.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:] or [i for i in cpu_backend.supported_isas() if i != "scalar" and not i.startswith("neon")])
