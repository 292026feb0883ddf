"""Calls of a CHORD_GEMM_PROF dump (2 threads) where the worker joined within JOIN us of the region's
start and ran at least a third of the kernels: per-thread breakdown (us), summed over those calls' medians."""

import collections
import sys

import numpy as np

raw = open(sys.argv[1], "rb").read()
JOIN = float(sys.argv[2]) if len(sys.argv) > 2 else 40
ghz = np.frombuffer(raw[:8], np.float64)[0]
ev = np.frombuffer(
    raw[8:], dtype=np.dtype([("t0", "u8"), ("t1", "u8"), ("call", "i4"), ("tid", "i2"), ("kind", "i2"), ("arg", "i8")])
)
us = lambda t: t / ghz / 1e3
order = np.argsort(ev["call"], kind="stable")
ev = ev[order]
bounds = np.flatnonzero(np.diff(ev["call"])) + 1
groups = np.split(ev, bounds)[20:]
names = {1: "quant", 2: "wait_q", 4: "build", 3: "kernels", 5: "epi", 6: "wait_g", 7: "gather"}
stats = collections.defaultdict(list)
nclean = 0
regs = []
for e in groups:
    k9 = e[e["kind"] == 9]
    k0 = e[e["kind"] == 0]
    if len(k9) != 1:
        continue
    p0, p1 = int(k9["t0"][0]), int(k9["t1"][0])
    caller = k0["tid"][0]
    w = e[(e["tid"] != caller)]
    regs.append(us(p1 - p0))
    if len(w) == 0:
        continue
    ck = e[(e["tid"] == caller) & (e["kind"] == 3)]
    wk = w[w["kind"] == 3]
    if us(int(w["t0"].min()) - p0) > JOIN or len(wk) < len(ck) / 2:
        continue
    nclean += 1
    stats["region"].append(us(p1 - p0))
    stats["setup"].append(us(int(k0["t1"][0]) - int(k0["t0"][0])))
    stats["W join"].append(us(int(w["t0"].min()) - p0))
    for role, et in (("C", e[e["tid"] == caller]), ("W", w)):
        for k, n in names.items():
            ek = et[et["kind"] == k]
            stats[f"{role} {n}"].append(us(int((ek["t1"].astype(np.int64) - ek["t0"].astype(np.int64)).sum())))
        stats[f"{role} n_windows"].append(int((et["kind"] == 3).sum()))
        stats[f"{role} ncols"].append(int(((et[et["kind"] == 3]["arg"] >> 8) & 0xFFFF).sum()))
        stats[f"{role} n_gather"].append(int((et["kind"] == 7).sum()))
        kk = et[et["kind"] == 3]
        stats[f"{role} kernels done, before region end"].append(us(p1 - int(kk["t1"].max())) if len(kk) else 0)
        stats[f"{role} idle (region - busy)"].append(
            us(p1 - p0)
            - us(
                int(
                    (
                        et[np.isin(et["kind"], [1, 3, 4, 5, 7])]["t1"].astype(np.int64)
                        - et[np.isin(et["kind"], [1, 3, 4, 5, 7])]["t0"].astype(np.int64)
                    ).sum()
                )
            )
        )
regs = np.array(regs)
print(
    f"{len(groups)} calls; region min {regs.min():.0f} med {np.median(regs):.0f} us; clean (worker joined <= {JOIN} us, ran >= half the windows): {nclean}; tsc {ghz:.3f} GHz"
)
for k, v in stats.items():
    v = np.array(v, float)
    print(f"  {k:36s} med {np.median(v):8.1f}  min {v.min():8.1f}  mean {v.mean():8.1f}")
