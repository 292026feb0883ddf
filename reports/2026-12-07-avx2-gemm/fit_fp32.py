"""Measure the exact (act_bits = 0) paths on AVX2 and fit the AVX2 coefficients of choose_path's
fp32 model (kCostAvx2 in csrc/mp_linear/mp_linear_panel.cpp), the way the int8 tool fits its own:
non-negative least squares on relative error, per path, on the C++ features:

    panel  = N16 * K * build' + M * N16 * K * gemm        (build' = 2.4 build above 4 MB of fp32)
    direct = fixed + M * (padded * dot + N * epi + Kp * widths * prep)   (dot: dot_small_m below
             kMinMAvx512 = 4 rows, dot_large_m from it)

Timing: this thread's CPU time, min over repeats, 1 thread (a shared machine inflates it less than
wall time). Writes every case to OUT/fit_fp32.json and prints the fitted coefficients, the
choice they make against the faster path, and the current header's.

    python reports/2026-12-07-avx2-gemm/fit_fp32.py OUT [--from OUT]
"""

import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import _cpu, weight  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from mp_linear_i8_costfit import coordinate_search  # noqa: E402  (the int8 fit's refinement search)

SHAPES = [(256, 256), (1024, 1024), (4096, 1024), (1024, 4096), (512, 4096), (4096, 512), (4096, 4096), (2048, 2048)]
# (shape, mix): mix3 on every shape, the uniform widths on three (the direct kernels' padding
# depends on the width, the panel's cost does not)
CASES = [(sh, "mix3") for sh in SHAPES] + [
    (sh, m) for sh in ((512, 512), (1024, 1024), (4096, 4096)) for m in ("u4", "u8")
]
MIX_ROWS = {"mix3": (0.75, 0.125, 0.125), "u4": (0.0, 1.0, 0.0), "u8": (0.0, 0.0, 1.0)}
MS = [1, 2, 4, 8, 16, 32, 64, 128, 256]
PAD_K, MIN_M_LARGE, LARGE_BUILD = 512, 4, 4 << 20
CURRENT = dict(build=0.116, gemm=0.0195, fixed=600, dot_small_m=0.024, dot_large_m=0.019, epi=1.48, prep=0.41)


def cpu_ns(f, budget_s=0.15):
    f()
    ts, end = [], time.perf_counter() + budget_s
    while len(ts) < 3 or (time.perf_counter() < end and len(ts) < 100):
        t = time.thread_time_ns()
        f()
        ts.append(time.thread_time_ns() - t)
    return min(ts)


def summary(N, K, mix="mix3"):
    """rows per width of the layer (tools/mp_linear_i8_costfit.py's weight)."""
    n4, n8 = int(N * MIX_ROWS[mix][1]), int(N * MIX_ROWS[mix][2])
    rows = {b: r for b, r in {2: N - n4 - n8, 4: n4, 8: n8}.items() if r}
    padded = sum(r * (-(-(-(-K // (128 // b)) * 16) // 32) * 32) * 8 / b for b, r in rows.items())
    return dict(N=N, K=K, padded=padded, widths=len(rows), n16=-(-N // 16) * 16, kp=-(-K // PAD_K) * PAD_K)


def feats(s, M):
    big = s["n16"] * s["K"] * 4 > LARGE_BUILD
    panel = [s["n16"] * s["K"] * (2.4 if big else 1.0), M * s["n16"] * s["K"]]
    large = M >= MIN_M_LARGE
    direct = [1.0, M * s["padded"] * (not large), M * s["padded"] * large, M * s["N"], M * s["kp"] * s["widths"]]
    return panel, direct


def nnls_rel(A, t):
    A = np.asarray(A, float) / np.asarray(t, float)[:, None]
    b, keep = np.ones(len(t)), list(range(A.shape[1]))
    while True:
        c, *_ = np.linalg.lstsq(A[:, keep], b, rcond=None)
        if (c >= 0).all():
            out = np.zeros(A.shape[1])
            out[keep] = c
            return out
        keep.pop(int(np.argmin(c)))


def score(rows, cp, cd):
    pick = []
    for r in rows:
        fp, fd = feats(summary(r["N"], r["K"], r.get("mix", "mix3")), r["M"])
        pick.append("panel" if np.dot(cp, fp) < np.dot(cd, fd) else "direct")
    reg = [r["t"][p] / min(r["t"].values()) for r, p in zip(rows, pick)]
    tot = sum(r["t"][p] for r, p in zip(rows, pick)) / sum(min(r["t"].values()) for r in rows)
    return float(np.mean(reg)), max(reg), tot


def refine(rows, cp, cd, lam=0.01):
    """cp, cd scaled coefficient by coefficient (non-zero ones, by exp(theta)) to minimize the mean
    regret + the total-time ratio + lam * sum(theta^2) of the choice (coordinate search, halving
    steps), as tools/mp_linear_i8_costfit.py refines its least-squares fit for the decision."""
    F = [feats(summary(r["N"], r["K"], r.get("mix", "mix3")), r["M"]) for r in rows]
    P, D = np.array([f[0] for f in F]), np.array([f[1] for f in F])
    tp, td = np.array([r["t"]["panel"] for r in rows]), np.array([r["t"]["direct"] for r in rows])
    best = np.minimum(tp, td)
    mp, md = cp > 0, cd > 0

    def scaled(th):
        p, d = cp.copy(), cd.copy()
        p[mp] *= np.exp(th[: mp.sum()])
        d[md] *= np.exp(th[mp.sum() :])
        return p, d

    def objective(th):
        p, d = scaled(th)
        t = np.where(P @ p < D @ d, tp, td)
        return np.mean(t / best) + t.sum() / best.sum() + lam * np.sum(th**2)

    return scaled(coordinate_search(objective, int(mp.sum() + md.sum())))


def main():
    out = sys.argv[1]
    torch.set_num_threads(1)
    if "--from" in sys.argv:
        rows = json.load(open(os.path.join(out, "fit_fp32.json")))["rows"]
    else:
        rows = []
        for (N, K), mix in CASES:
            args = weight(N, K, mix)
            for M in MS:
                x, y = torch.randn(M, K), torch.empty(M, N)
                t = {
                    p: cpu_ns(lambda p=p: _cpu.mp_linear(x.numpy(), 0, *args[:5], K, None, 0, y.numpy(), 1, "avx2", p))
                    for p in ("direct", "panel")
                }
                rows.append(dict(N=N, K=K, mix=mix, M=M, t=t, lib=_cpu.mp_linear_path(*args, M, 0, "avx2")))
            print(f"measured {N}x{K} {mix}", file=sys.stderr, flush=True)
        os.makedirs(out, exist_ok=True)
    F = [feats(summary(r["N"], r["K"], r.get("mix", "mix3")), r["M"]) for r in rows]
    cp = nnls_rel([f[0] for f in F], [r["t"]["panel"] for r in rows])
    cd = nnls_rel([f[1] for f in F], [r["t"]["direct"] for r in rows])
    cur_p = [CURRENT["build"], CURRENT["gemm"]]
    cur_d = [CURRENT["fixed"], CURRENT["dot_small_m"], CURRENT["dot_large_m"], CURRENT["epi"], CURRENT["prep"]]
    rp, rd = refine(rows, cp, cd)
    for name, p, d in (("fitted", cp, cd), ("refined", rp, rd)):
        print(f"{name} panel {{build, gemm}} =", ", ".join(f"{v:.4g}" for v in p))
        print(f"{name} direct {{fixed, dot_small_m, dot_large_m, epi, prep}} =", ", ".join(f"{v:.4g}" for v in d))
    for name, p, d in (("current", cur_p, cur_d), ("fitted", cp, cd), ("refined", rp, rd)):
        mean, worst, tot = score(rows, p, d)
        print(f"{name}: regret mean {mean:.3f}x, worst {worst:.2f}x, total {tot:.3f}x the best")
    json.dump(
        dict(rows=rows, panel=list(cp), direct=list(cd), panel_refined=list(rp), direct_refined=list(rd)),
        open(os.path.join(out, "fit_fp32.json"), "w"),
        indent=0,
    )


if __name__ == "__main__":
    main()
