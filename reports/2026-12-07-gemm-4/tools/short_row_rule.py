"""Score candidate short-row rules of choose_path_i8 (AVX-512 VNNI) on the measured short-row cases.

Cases: K <= 256, N >= 256, M <= 8 from ../costfit/costfit_avx512_vnni.json (the refit's data) and
../costfit/shortrows_avx512_vnni.json (measured by ``mp_linear_i8_costfit.measure`` over
256/2048/8192 x 128, 1024/8192 x 256, 256/1024 x 64, M = 1, 2, 3, 4, 6, 8). Where a rule does not
apply, the refined model (the coefficients in costfit_avx512_vnni.json) decides.

    python reports/2026-12-07-gemm-4/tools/short_row_rule.py
"""

from __future__ import annotations

import json
import os

import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "costfit")
RULES = {
    "e2e's: N >= 256, M <= 4": lambda r: r["N"] >= 256 and r["M"] <= 4,
    "N >= 1024, M <= 4": lambda r: r["N"] >= 1024 and r["M"] <= 4,
    "N >= 1024, M <= (4 if K <= 64 else 2)": lambda r: r["N"] >= 1024 and r["M"] <= (4 if r["K"] <= 64 else 2),
    "N >= 2048, M <= (4 if K <= 64 else 2)": lambda r: r["N"] >= 2048 and r["M"] <= (4 if r["K"] <= 64 else 2),
    "none (the model alone)": lambda r: False,
}


def main():
    with open(os.path.join(HERE, "costfit_avx512_vnni.json")) as f:
        fit = json.load(f)
    with open(os.path.join(HERE, "shortrows_avx512_vnni.json")) as f:
        rows = json.load(f)
    seen = {(r["N"], r["K"], r["mix"], r["M"]) for r in rows}
    rows += [
        r
        for r in fit["rows"]
        if r["K"] <= 256 and r["N"] >= 256 and r["M"] <= 8 and (r["N"], r["K"], r["mix"], r["M"]) not in seen
    ]
    g, d = np.array(fit["gemm_refined"]), np.array(fit["direct_refined"])
    for name, rule in RULES.items():
        reg, chosen, best = [], 0.0, 0.0
        for r in rows:
            model = "panel" if np.dot(g, r["fg"]) < np.dot(d, r["fd"]) else "direct"
            pick = "direct" if rule(r) else model
            b = min(r["t"].values())
            reg.append(r["t"][pick] / b)
            chosen, best = chosen + r["t"][pick], best + b
        reg = np.array(reg)
        print(
            f"{name:40s} {len(reg)} cases: within 10% {int(np.sum(reg <= 1.1))}, mean {reg.mean():.3f}x, "
            f"worst {reg.max():.2f}x, total {chosen / best:.3f}x"
        )


if __name__ == "__main__":
    main()
