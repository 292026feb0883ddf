"""Per call of a CHORD_GEMM_PROF dump: the gap since the previous call's region end, the worker's join
(first task start - region start), the region; distribution summaries."""

import sys

import numpy as np

raw = open(sys.argv[1], "rb").read()
ghz = np.frombuffer(raw[:8], np.float64)[0]
ev = np.frombuffer(
    raw[8:], dtype=np.dtype([("t0", "u8"), ("t1", "u8"), ("call", "i4"), ("tid", "i2"), ("kind", "i2"), ("arg", "i8")])
)
us = lambda t: t / ghz / 1e3
ev = ev[np.argsort(ev["call"], kind="stable")]
groups = np.split(ev, np.flatnonzero(np.diff(ev["call"])) + 1)
rows = []
prev_end = None
for e in groups:
    k9 = e[e["kind"] == 9]
    k0 = e[e["kind"] == 0]
    if len(k9) != 1 or len(k0) != 1:
        continue
    p0, p1 = int(k9["t0"][0]), int(k9["t1"][0])
    caller = k0["tid"][0]
    w = e[e["tid"] != caller]
    join = us(int(w["t0"].min()) - p0) if len(w) else np.nan
    gap = us(int(k0["t0"][0]) - prev_end) if prev_end else np.nan
    prev_end = p1
    rows.append((gap, join, us(p1 - p0)))
a = np.array(rows[20:])
print(
    f"{len(a)} calls: gap between calls (us) p10/med/p90 {np.nanpercentile(a[:, 0], 10):.1f}/{np.nanmedian(a[:, 0]):.1f}/{np.nanpercentile(a[:, 0], 90):.1f}"
)
j = a[:, 1]
print(
    f"  worker join (us): p10 {np.nanpercentile(j, 10):.1f} med {np.nanmedian(j):.1f} p90 {np.nanpercentile(j, 90):.1f}; no worker task: {np.isnan(j).sum()}"
)
for lo, hi in ((0, 5), (5, 30), (30, 100), (100, 300), (300, 1e9)):
    s = (j >= lo) & (j < hi)
    if s.any():
        print(
            f"  join in [{lo},{hi}) us: {s.sum():4d} calls, region med {np.median(a[s, 2]):.0f} min {a[s, 2].min():.0f}"
        )
