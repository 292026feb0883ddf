"""Fit the act_bits=8 cost model of ``choose_path`` (choose_path_i8, csrc/mp_linear/mp_linear_panel.cpp;
coefficients in csrc/mp_linear/mp_linear_costs_i8.h): time both forced paths (direct kernels, int8
GEMM) at one thread over a grid of shapes, bit mixes and batch sizes, fit each path's linear model by
non-negative least squares on relative error (as the fp32 panel model was fitted), refine the fit for
the decision, and report how often each choice is the faster path.

The refinement: the per-path fits minimize each path's relative error, not the cost of a wrong
pick; starting from them, a coordinate search scales each non-zero coefficient by exp(theta) to
minimize the mean regret plus the total-time ratio (below) plus 0.01 * sum(theta^2), which keeps
every coefficient near its least-squares value. A leave-one-shape-out check (refit without
the shape, score it) is printed beside it.

Timing is ``time.thread_time`` (CPU time of this thread, the minimum over repeats), which a
shared machine inflates less than wall time (it still slows the memory-bound direct path more than
the GEMM: fit on a quiet machine where one is to be had). Rerun after changing either path's
kernels; ``--write`` rewrites the fitted lines of csrc/mp_linear/mp_linear_costs_i8.h (the
refined coefficients of each ISA fitted, and the crossovers they choose); then rebuild:

    python tools/mp_linear_i8_costfit.py [--out DIR] [--write [--label TEXT]] [isa ...]   # measure
    python tools/mp_linear_i8_costfit.py --from DIR [--write [--label TEXT]] [isa ...]    # refit DIR

(default ISAs: every SIMD one this CPU runs). ``--out DIR`` writes every measured case (shape,
mix, M, both times, the fitted and the library's choice) and the coefficients to
``DIR/costfit_<isa>.json``; ``--from DIR`` refits them and asks the library (``mp_linear_path``)
for its choice on the same cases. The regret of a choice is t[chosen] / t[faster path]; "total"
is the summed time of the chosen paths over the summed time of the faster ones. Shapes the
library decides by a rule before the model (short rows at a few activation rows on AVX-512 VNNI:
``short_row_rule``) are measured and scored but left out of the fit.

Features (ns), per path (a weight enters only through its shape and its rows per width):
    gemm   = fixed + live*K * unpack + M*K * quant + M*live*L * mac + M*N * epi + ceil(M/6)*live*L * runpack
(live: unpruned rows; L = K rounded up to 64; on avx512_vnni up to FUSED_M = 64 rows the kernel unpacks in
registers once per 6-row tile: the runpack term replaces the unpack term there)
    direct = fixed + M*K*widths * prep + macs(M) * dot + M*N * epi + sum_b passes_b(M)*bytes_b * pass
macs: the multiply-adds the direct kernels issue (each packed row rounded up to a 32-byte load);
bytes_b: the packed bytes of the b-bit rows, read passes_b(M) times (``passes``, as csrc's
direct_passes_i8: one pass per block of activation rows). On avx2, rows of K <= 256 at one
activation row, and one-block rows (16 bytes) at up to 4, run the short-row kernel
(dot_i8_rows8_avx2): one pass, and one-block rows two to a register (16 bytes, not 32): ``rows8``
and ``direct_work``, as csrc's choose_path_i8. The choice (``choose``, as csrc's choose_path_i8) is
monotone in M: the GEMM from the first M whose model prefers it (scanned up to SCAN_M; beyond,
both costs are affine in M with the passes at their mean rate).
"""

from __future__ import annotations

import json
import os
import re
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


FUSED_M = 64  # kMFusedGemmI8 (csrc/mp_linear/mp_linear_kernels.h)
MAX_K_ROWS16, MAX_M_ROWS16 = 256, 4  # kMaxKRows16, kMaxMRows16 (same header)
M_BLOCK = 32  # kMBlockI8 (same header)
SCAN_M = 64  # kMScanI8 (csrc/mp_linear/mp_linear_panel.cpp)
HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "csrc", "mp_linear", "mp_linear_costs_i8.h")
HEADER_NAMES = {"avx512_vnni": "kCostI8Vnni", "avx2": "kCostI8Avx2"}
CROSSOVER_N = (1024, 4096, 8192)  # the crossovers line: mix3 n x n layers


def short_row_rule(N, K, M, isa):
    """True where choose_path_i8 decides by its short-row rule, before the model."""
    return isa == "avx512_vnni" and K <= MAX_K_ROWS16 and N >= 1024 and M <= (MAX_M_ROWS16 if K <= 64 else 2)


def passes(M, bits, isa):
    """How many times the direct kernels read the b-bit rows for M activation rows (csrc's
    direct_passes_i8): kMBlockI8 rows per call; avx512_vnni: blocks of 4, a last 5 of 4- and
    8-bit rows in one; avx2 and avx_vnni: blocks of 4, 2, 1."""

    def per_call(nm):
        if isa == "avx512_vnni":
            return nm // 4 if bits >= 4 and nm % 4 == 1 and nm > 4 else -(-nm // 4)
        return nm // 4 + (nm % 4) // 2 + nm % 2

    return M // M_BLOCK * per_call(M_BLOCK) + (per_call(M % M_BLOCK) if M % M_BLOCK else 0)


def summary(N, K, rows_per_width):
    """What the model sees of a weight: its shape and, from {bits: rows}, widths, live rows,
    padded multiply-adds per activation row, packed bytes and rows per width."""
    s = dict(N=N, K=K, widths=0, live=0, padded=0.0, bytes={}, rows={})
    for b, rows in rows_per_width.items():
        if b and rows:
            rb = -(-K // (128 // b)) * 16  # a row: whole 16-byte blocks of 128 / b elements
            s["widths"] += 1
            s["live"] += rows
            s["padded"] += rows * (-(-rb // 32) * 32) * 8 / b
            s["bytes"][b] = s["bytes"].get(b, 0) + rows * rb
            s["rows"][b] = s["rows"].get(b, 0) + rows
    return s


def rows8(nm, K, bits, isa):
    """True where a direct call of nm activation rows runs the AVX2 short-row kernel on the
    b-bit rows (csrc's span_dots: K <= kMaxKRows16, one row, or one-block rows up to kMaxMRows16)."""
    rb = -(-K // (128 // bits)) * 16
    return isa == "avx2" and K <= MAX_K_ROWS16 and (nm == 1 or (rb == 16 and nm <= MAX_M_ROWS16))


def direct_work(M, K, bits, isa):
    """(multiply-adds per b-bit row, passes over the b-bit rows) of the direct kernels for M
    activation rows, call by call (kMBlockI8 rows each): the short-row kernel reads its rows once
    and holds one-block rows two to a register; the others as ``passes``, each row rounded up to
    a 32-byte load."""
    rb = -(-K // (128 // bits)) * 16

    def call(nm):
        if rows8(nm, K, bits, isa):
            return nm * (16 if rb == 16 else -(-rb // 32) * 32) * 8 / bits, 1
        return nm * (-(-rb // 32) * 32) * 8 / bits, passes(nm, bits, isa)

    full, rest = call(M_BLOCK), call(M % M_BLOCK) if M % M_BLOCK else (0.0, 0)
    return M // M_BLOCK * full[0] + rest[0], M // M_BLOCK * full[1] + rest[1]


def mix_summary(N, K, mix):
    """summary() of weight(N, K, mix) without packing it (the mix fixes the rows per width)."""
    n4, n8 = int(N * MIXES[mix][1]), int(N * MIXES[mix][2])
    return summary(N, K, {2: N - n4 - n8, 4: n4, 8: n8})


def features(s, M, isa, smooth=False):
    """(gemm, direct) feature vectors of summary s at M; smooth: the passes at their mean rate."""
    N, K, live = s["N"], s["K"], s["live"]
    L = (K + 63) // 64 * 64
    fused = isa == "avx512_vnni" and M <= FUSED_M
    gemm = [1.0, 0.0 if fused else live * K, M * K, M * live * L, M * N, (M + 5) // 6 * live * L if fused else 0.0]
    if smooth:  # every call of kMBlockI8 rows (none runs the short-row kernel)
        macs = M * s["padded"]
        read = sum(M * passes(M_BLOCK, b, isa) / M_BLOCK * nbytes for b, nbytes in s["bytes"].items())
    else:
        work = {b: direct_work(M, K, b, isa) for b in s["bytes"]}
        macs = sum(s["rows"][b] * work[b][0] for b in s["bytes"])
        read = sum(work[b][1] * nbytes for b, nbytes in s["bytes"].items())
    direct = [1.0, M * K * s["widths"], macs, M * N, read]
    return gemm, direct


def choose(s, M, isa, g, d):
    """The library's choice ("panel": the GEMM, or "direct") for summary s at M under
    coefficients g (gemm) and d (direct), as choose_path_i8 makes it."""
    if short_row_rule(s["N"], s["K"], M, isa):
        return "direct"

    def gemm_wins(m, smooth=False):
        fg, fd = features(s, m, isa, smooth)
        return np.dot(g, fg) < np.dot(d, fd)

    if any(gemm_wins(m) for m in range(1, min(M, SCAN_M) + 1)):
        return "panel"
    return "panel" if M > SCAN_M and (gemm_wins(SCAN_M + 1, True) or gemm_wins(M, True)) else "direct"


def crossovers(isa, g, d):
    """{n: the first M in 1..512 taking the GEMM on the mix3 n x n layer}."""
    out = {}
    for n in CROSSOVER_N:
        s = mix_summary(n, n, "mix3")
        out[n] = next((M for M in range(1, 513) if choose(s, M, isa, g, d) == "panel"), 0)
    return out


def read_header(path=HEADER):
    """{isa: (gemm coefficients, direct coefficients)} and {isa: {n: crossover}} of the header."""
    text = open(path).read()
    coefs, cross = {}, {}
    for isa, name in HEADER_NAMES.items():
        v = [float(x) for x in re.search(name + r"\{([^}]*)\}", text).group(1).split(",")]
        coefs[isa] = (np.array(v[:6]), np.array(v[6:]))
        m = re.search(r"crossovers .*?" + isa + r" ([0-9: ]+)", text)
        cross[isa] = {int(a): int(b) for a, b in (p.split(":") for p in m.group(1).split())}
    return coefs, cross


def write_header(fitted, label, path=HEADER):
    """Rewrite the fitted block of the header: fitted = {isa: (g, d, cases)}, the others kept."""
    coefs, _ = read_header(path)
    text = open(path).read()
    begin, end = text.index("// BEGIN fitted"), text.index("// END fitted")
    begin = text.index("\n", begin) + 1
    old = dict(re.findall(r"// (\w+): (.*)\n", text[begin:end]))
    lines = []
    for isa, name in HEADER_NAMES.items():
        if isa in fitted:
            g, d, cases = fitted[isa]
            coefs[isa] = (np.asarray(g), np.asarray(d))
            note = f"fitted {time.strftime('%Y-%m-%d')}, {cases} cases" + (f", {label}" if label else "")
        else:
            note = old.get(isa, "")
        vals = ", ".join(f"{v:.4g}" for v in [*coefs[isa][0], *coefs[isa][1]])
        lines += [f"// {isa}: {note}", f"constexpr CostsI8 {name}{{{vals}}};"]
    cross = "; ".join(
        f"{isa} " + " ".join(f"{n}:{m}" for n, m in crossovers(isa, *coefs[isa]).items()) for isa in HEADER_NAMES
    )
    lines.append(f"// crossovers (mix3 n x n, the first M taking the GEMM): {cross}")
    with open(path, "w") as f:
        f.write(text[:begin] + "\n".join(lines) + "\n" + text[end:])


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


class Choices:
    """choose() over many rows at once, for the refinement: per (shape, mix) group the features
    at M = 1..SCAN_M and the smooth ones at SCAN_M + 1; per row its group, M and smooth features."""

    def __init__(self, rows, isa):
        keys = list(dict.fromkeys((r["N"], r["K"], r["mix"]) for r in rows))
        gi = {k: i for i, k in enumerate(keys)}
        sums = [mix_summary(*k) for k in keys]
        scan = [[features(sm, m, isa) for m in range(1, SCAN_M + 1)] for sm in sums]
        self.Gs = np.array([[f[0] for f in sc] for sc in scan])  # (groups, SCAN_M, 6)
        self.Ds = np.array([[f[1] for f in sc] for sc in scan])
        after = [features(sm, SCAN_M + 1, isa, True) for sm in sums]
        self.G1, self.D1 = np.array([f[0] for f in after]), np.array([f[1] for f in after])
        self.gi = np.array([gi[(r["N"], r["K"], r["mix"])] for r in rows])
        self.M = np.array([r["M"] for r in rows])
        smooth = [features(sums[gi[(r["N"], r["K"], r["mix"])]], r["M"], isa, True) for r in rows]
        self.GM, self.DM = np.array([f[0] for f in smooth]), np.array([f[1] for f in smooth])
        self.rule = np.array([short_row_rule(r["N"], r["K"], r["M"], isa) for r in rows])

    def panel(self, g, d):
        """Boolean per row: choose() says the GEMM."""
        wins = self.Gs @ g < self.Ds @ d  # (groups, SCAN_M)
        first = np.where(wins.any(1), wins.argmax(1) + 1, SCAN_M + 1)
        scanned = first[self.gi] <= np.minimum(self.M, SCAN_M)
        late = (self.G1 @ g < self.D1 @ d)[self.gi] | (self.GM @ g < self.DM @ d)
        return (scanned | ((self.M > SCAN_M) & late)) & ~self.rule


def coordinate_search(objective, n: int) -> np.ndarray:
    """theta (n,) from 0 by coordinate steps of shrinking size (0.4 down to 0.025, at most 8 sweeps
    each) while ``objective(theta)`` decreases: the refinement's search (also used by the fp32 fit
    in reports/2026-12-07-avx2-gemm/fit_fp32.py)."""
    th = np.zeros(n)
    cur = objective(th)
    for step in (0.4, 0.2, 0.1, 0.05, 0.025):
        for _ in range(8):
            moved = False
            for k in range(n):
                for sgn in (-1, 1):
                    t2 = th.copy()
                    t2[k] += sgn * step
                    o = objective(t2)
                    if o < cur - 1e-12:
                        th, cur, moved = t2, o, True
            if not moved:
                break
    return th


def refine(ch, G, D, tp, td, cg, cd, lam=0.01):
    """cg, cd scaled coefficient by coefficient (non-zero ones, by exp(theta)) to minimize the mean
    regret + the total-time ratio + lam * sum(theta^2) of the choice ch.panel (coordinate search,
    halving steps)."""
    tp, td = np.asarray(tp, float), np.asarray(td, float)
    best = np.minimum(tp, td)
    mg, md = cg > 0, cd > 0

    def scaled(th):
        g, d = cg.copy(), cd.copy()
        g[mg] *= np.exp(th[: mg.sum()])
        d[md] *= np.exp(th[mg.sum() :])
        return g, d

    def objective(th):
        t = np.where(ch.panel(*scaled(th)), tp, td)
        return np.mean(t / best) + t.sum() / best.sum() + lam * np.sum(th**2)

    return scaled(coordinate_search(objective, int(mg.sum() + md.sum())))


def fit(rows, isa):
    """(NNLS gemm and direct coefficients, refined ones) from rows (dicts with N, K, mix, M, t)."""
    F = [features(mix_summary(r["N"], r["K"], r["mix"]), r["M"], isa) for r in rows]
    G, D = [f[0] for f in F], [f[1] for f in F]
    tp, td = [r["t"]["panel"] for r in rows], [r["t"]["direct"] for r in rows]
    cg, cd = nnls_rel(G, tp), nnls_rel(D, td)
    return (cg, cd), refine(Choices(rows, isa), G, D, tp, td, cg, cd)


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
                rows.append(dict(N=N, K=K, mix=mix, M=M, t=t, lib=lib))
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


def main(isas, out, src, write, label):
    torch.set_num_threads(1)
    fitted = {}
    for isa in isas:
        if src:
            with open(os.path.join(src, f"costfit_{isa}.json")) as f:
                rows = json.load(f)["rows"]
            library_choices(rows, isa)
        else:
            rows = measure(isa)
        modelled = [r for r in rows if not short_row_rule(r["N"], r["K"], r["M"], isa)]
        (cg, cd), (rg, rd) = fit(modelled, isa)
        ch = Choices(rows, isa)
        for key, g, d in (("fitted", cg, cd), ("refined", rg, rd)):
            for r, p in zip(rows, ch.panel(g, d)):
                r[key] = "panel" if p else "direct"
        # leave one shape out: refit without it, choose on it
        for (N, K), held in _groupby(modelled, lambda r: (r["N"], r["K"])):
            _, (hg, hd) = fit([r for r in modelled if (r["N"], r["K"]) != (N, K)], isa)
            for r, p in zip(held, Choices(held, isa).panel(hg, hd)):
                r["held_out"] = "panel" if p else "direct"
        for r in rows:
            r.setdefault("held_out", "direct")  # the short-row rule's
        for name, g, d in (("least squares", cg, cd), ("refined", rg, rd)):
            print(
                f"{isa}: {name}: gemm {{fixed, unpack, quant, mac, epi, runpack}} = {', '.join(f'{v:.4g}' for v in g)}"
            )
            print(f"{isa}: {name}: direct {{fixed, prep, dot, epi, pass}} = {', '.join(f'{v:.4g}' for v in d)}")
            print(f"{isa}: {name}: crossovers (mix3 n x n) {crossovers(isa, g, d)}")
        # the library may take a path decided by a rule before this model (the small-layer int8
        # path): those cases are not the model's to choose, so "lib" is scored on the rest
        ruled = [r for r in rows if r["lib"] not in r["t"]]
        for name in ("fitted", "refined", "held_out", "lib"):
            scored = [r for r in rows if r["lib"] in r["t"]] if name == "lib" else rows
            good, mean, worst, tot = regret(scored, lambda r, name=name: r[name])
            print(
                f"{isa}: {name} choice: the faster path within 10% in {good}/{len(scored)} cases; "
                f"regret mean {mean:.3f}x, worst {worst:.2f}x; total {tot:.3f}x the best"
            )
        if ruled:
            paths = sorted({r["lib"] for r in ruled})
            print(f"{isa}: lib choice: {len(ruled)} cases taken by a rule outside this model ({', '.join(paths)})")
        fitted[isa] = (rg, rd, len(rows))
        if out:
            os.makedirs(out, exist_ok=True)
            coefs = dict(gemm=list(cg), direct=list(cd), gemm_refined=list(rg), direct_refined=list(rd))
            with open(os.path.join(out, f"costfit_{isa}.json"), "w") as f:
                json.dump(dict(isa=isa, **coefs, rows=rows), f, indent=0)
    if write:
        write_header({isa: v for isa, v in fitted.items() if isa in HEADER_NAMES}, label)
        print(f"wrote {os.path.normpath(HEADER)}: rebuild (python setup.py build_ext --inplace -q --force)")


if __name__ == "__main__":
    argv = sys.argv[1:]
    out = src = label = None
    write = False
    while argv[:1] in (["--out"], ["--from"], ["--write"], ["--label"]):
        flag, argv = argv[0], argv[1:]
        if flag == "--write":
            write = True
            continue
        if flag == "--out":
            out = argv[0]
        elif flag == "--from":
            src = argv[0]
        else:
            label = argv[0]
        argv = argv[1:]
    main(
        argv or [i for i in cpu_backend.supported_isas() if i != "scalar" and not i.startswith("neon")],
        out,
        src,
        write,
        label,
    )
