"""Fit the act_bits=8 cost model of ``choose_path`` (csrc/mp_linear/mp_linear_panel.cpp,
``kCostI8*``): time both forced paths (direct kernels, int8 GEMM) at one thread over a grid of
shapes, bit mixes and batch sizes, fit each path's linear model by non-negative least squares on
relative error (as the fp32 panel model was fitted), refine the fit for the decision, and report
how often each choice is the faster path.

The refinement: the per-path fits minimize each path's relative error, not the cost of a wrong
pick; starting from them, a coordinate search scales each non-zero coefficient by exp(theta) to
minimize the mean regret plus the total-time ratio (below) plus 0.01 * sum(theta^2), which keeps
every coefficient near its least-squares value. A leave-one-shape-out check (refit without
the shape, score it) is printed beside it.

Timing is ``time.thread_time`` (CPU time of this thread, the minimum over repeats), which a
shared machine inflates less than wall time (it still slows the memory-bound direct path more than
the GEMM: fit on a quiet machine where one is to be had). Rerun after changing either path's
kernels and paste the printed refined coefficients into ``kCostI8Vnni`` / ``kCostI8Avx2``:

    python tools/mp_linear_i8_costfit.py [--out DIR] [isa ...]   # measure (default: every SIMD ISA)
    python tools/mp_linear_i8_costfit.py --from DIR [isa ...]    # refit DIR's measurements

``--out DIR`` writes every measured case (shape, mix, M, both times, the fitted and the library's
choice) and the coefficients to ``DIR/costfit_<isa>.json``; ``--from DIR`` refits them and asks
the library (``mp_linear_path``, e.g. after pasting coefficients) for its choice on the same cases.
The regret of a choice is t[chosen] / t[faster path]; "total" is the summed time of the chosen
paths over the summed time of the faster ones. Shapes the library decides by a rule before the
model (short rows at a few activation rows on AVX-512 VNNI: ``short_row_rule``) are measured and
scored but left out of the fit.

Features (ns), per path:
    gemm   = fixed + live*K * unpack + M*K * quant + M*live*L * mac + M*N * epi + ceil(M/6)*live*L * runpack
(live: unpruned rows; L = K rounded up to 64; on avx512_vnni up to 24 rows the kernel unpacks in
registers once per 6-row tile: the runpack term replaces the unpack term there)
    direct = fixed + M*K*widths * prep + M*padded * dot + M*N * epi
padded: the multiply-adds the direct kernels issue per activation row (each packed row rounded
up to a 32-byte load).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import torch

import chord
from chord.backends import cpu as cpu_backend

_cpu = cpu_backend._cpu
MIXES = {"mix3": (0.75, 0.125, 0.125), "u2": (1.0, 0.0, 0.0), "u4": (0.0, 1.0, 0.0), "u8": (0.0, 0.0, 1.0)}
# (N, K): square layers 64..8192, tall / wide ones, and short rows (item tables, K <= 256)
SHAPES = [
    (64, 64),
    (256, 256),
    (512, 512),
    (1024, 1024),
    (4096, 512),
    (512, 4096),
    (4096, 4096),
    (8192, 8192),
    (8192, 1024),
    (1024, 8192),
    (8192, 64),
    (2048, 256),
    (64, 8192),
]
MS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256, 512]
MAX_MACS = 2**32  # larger products only take longer to time; the GEMM wins there by far


def weight(N, K, mix, seed=0):
    g = torch.Generator().manual_seed(seed)
    codes = torch.ones(N, dtype=torch.uint8)
    idx = torch.randperm(N, generator=g)
    n4, n8 = int(N * MIXES[mix][1]), int(N * MIXES[mix][2])
    codes[idx[:n4]] = 2
    codes[idx[n4 : n4 + n8]] = 3
    return chord.pack(torch.randn(N, K, generator=g), codes, chord.Codebook((0, 2, 4, 8), "sym"))


def cpu_ns(f, budget_s=0.1):
    f()
    ts = []
    end = time.perf_counter() + budget_s
    while len(ts) < 5 or (time.perf_counter() < end and len(ts) < 200):
        t = time.thread_time_ns()
        f()
        ts.append(time.thread_time_ns() - t)
    return min(ts)


FUSED_M = 24  # kMFusedGemmI8 (csrc/mp_linear/mp_linear_kernels.h)
MAX_K_ROWS16, MAX_M_ROWS16 = 256, 4  # kMaxKRows16, kMaxMRows16 (same header)


def short_row_rule(N, K, M, isa):
    """True where choose_path_i8 decides by its short-row rule, before the model."""
    return isa == "avx512_vnni" and K <= MAX_K_ROWS16 and N >= 1024 and M <= (MAX_M_ROWS16 if K <= 64 else 2)


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


def refine(G, D, tp, td, cg, cd, lam=0.01):
    """cg, cd scaled coefficient by coefficient (non-zero ones, by exp(theta)) to minimize the mean
    regret + the total-time ratio + lam * sum(theta^2) of the choice gemm < direct (coordinate
    search, halving steps)."""
    G, D, tp, td = (np.asarray(a, float) for a in (G, D, tp, td))
    best = np.minimum(tp, td)
    mg, md = cg > 0, cd > 0

    def scaled(th):
        g, d = cg.copy(), cd.copy()
        g[mg] *= np.exp(th[: mg.sum()])
        d[md] *= np.exp(th[mg.sum() :])
        return g, d

    def objective(th):
        g, d = scaled(th)
        t = np.where(G @ g < D @ d, tp, td)
        return np.mean(t / best) + t.sum() / best.sum() + lam * np.sum(th**2)

    th = np.zeros(int(mg.sum() + md.sum()))
    cur = objective(th)
    for step in (0.4, 0.2, 0.1, 0.05, 0.025):
        for _ in range(8):
            moved = False
            for k in range(len(th)):
                for sgn in (-1, 1):
                    t2 = th.copy()
                    t2[k] += sgn * step
                    o = objective(t2)
                    if o < cur - 1e-12:
                        th, cur, moved = t2, o, True
            if not moved:
                break
    return scaled(th)


def fit(rows):
    """(NNLS gemm and direct coefficients, refined ones) from rows (dicts with fg, fd, t)."""
    G, D = [r["fg"] for r in rows], [r["fd"] for r in rows]
    tp, td = [r["t"]["panel"] for r in rows], [r["t"]["direct"] for r in rows]
    cg, cd = nnls_rel(G, tp), nnls_rel(D, td)
    return (cg, cd), refine(G, D, tp, td, cg, cd)


def regret(rows, pick):
    """(share within 10 % of the faster path, mean, worst, total time chosen / total best)."""
    r = [t[pick(row)] / min(t.values()) for row in rows for t in [row["t"]]]
    tot = sum(row["t"][pick(row)] for row in rows) / sum(min(row["t"].values()) for row in rows)
    return sum(v <= 1.1 for v in r), float(np.mean(r)), max(r), tot


def measure(isa):
    rows = []
    for N, K in SHAPES:
        for mix in MIXES:
            mw = weight(N, K, mix)
            args = (mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(), mw.buckets, K)
            for M in MS:
                if M * N * K > MAX_MACS:
                    continue
                x = torch.randn(M, K)
                y = torch.empty(M, N)

                def run(p, x=x, y=y):
                    _cpu.mp_linear(x.numpy(), 0, *args[:5], K, None, 8, y.numpy(), 1, isa, p)

                t = {p: cpu_ns(lambda p=p: run(p)) for p in ("direct", "panel")}
                lib = _cpu.mp_linear_path(*args, M, 8, isa)
                fg, fd = features(mw, M, isa)
                rows.append(dict(N=N, K=K, mix=mix, M=M, fg=fg, fd=fd, t=t, lib=lib))
        print(f"[{isa}] measured {N}x{K}", file=sys.stderr, flush=True)
    return rows


def library_choices(rows, isa):
    """Each row's choice by the library as built now (the weights are regenerated: seeded)."""
    for (N, K, mix), group in _groupby(rows, lambda r: (r["N"], r["K"], r["mix"])):
        mw = weight(N, K, mix)
        args = (mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(), mw.buckets, K)
        for r in group:
            r["lib"] = _cpu.mp_linear_path(*args, r["M"], 8, isa)


def _groupby(rows, key):
    groups = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return groups.items()


def main(isas, out, src):
    torch.set_num_threads(1)
    for isa in isas:
        if src:
            with open(os.path.join(src, f"costfit_{isa}.json")) as f:
                rows = json.load(f)["rows"]
            library_choices(rows, isa)
        else:
            rows = measure(isa)
        modelled = [r for r in rows if not short_row_rule(r["N"], r["K"], r["M"], isa)]
        (cg, cd), (rg, rd) = fit(modelled)
        for r in rows:
            rule = short_row_rule(r["N"], r["K"], r["M"], isa)
            for key, g, d in (("fitted", cg, cd), ("refined", rg, rd)):
                r[key] = "direct" if rule or np.dot(g, r["fg"]) >= np.dot(d, r["fd"]) else "panel"
        # leave one shape out: refit without it, choose on it
        for (N, K), held in _groupby(modelled, lambda r: (r["N"], r["K"])):
            _, (hg, hd) = fit([r for r in modelled if (r["N"], r["K"]) != (N, K)])
            for r in held:
                r["held_out"] = "panel" if np.dot(hg, r["fg"]) < np.dot(hd, r["fd"]) else "direct"
        for r in rows:
            r.setdefault("held_out", "direct")  # the short-row rule's
        for name, g, d in (("least squares", cg, cd), ("refined", rg, rd)):
            print(
                f"{isa}: {name}: gemm {{fixed, unpack, quant, mac, epi, runpack}} = {', '.join(f'{v:.4g}' for v in g)}"
            )
            print(f"{isa}: {name}: direct {{fixed, prep, dot, epi}} = {', '.join(f'{v:.4g}' for v in d)}")
        for name in ("fitted", "refined", "held_out", "lib"):
            good, mean, worst, tot = regret(rows, lambda r, name=name: r[name])
            print(
                f"{isa}: {name} choice: the faster path within 10% in {good}/{len(rows)} cases; "
                f"regret mean {mean:.3f}x, worst {worst:.2f}x; total {tot:.3f}x the best"
            )
        if out:
            os.makedirs(out, exist_ok=True)
            coefs = dict(gemm=list(cg), direct=list(cd), gemm_refined=list(rg), direct_refined=list(rd))
            with open(os.path.join(out, f"costfit_{isa}.json"), "w") as f:
                json.dump(dict(isa=isa, **coefs, rows=rows), f, indent=0)


if __name__ == "__main__":
    argv = sys.argv[1:]
    out = src = None
    while argv[:1] in (["--out"], ["--from"]):
        if argv[0] == "--out":
            out = argv[1]
        else:
            src = argv[1]
        argv = argv[2:]
    main(argv or [i for i in cpu_backend.supported_isas() if i != "scalar" and not i.startswith("neon")], out, src)
