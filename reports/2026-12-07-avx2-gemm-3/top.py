"""The N fastest 2-thread calls of a CHORD_GEMM_PROF dump, one line each: region, per thread
(C caller / W worker): kernels, quant, build, epi, gather, idle, kernels' end before the region end."""

import sys

import numpy as np

raw = open(sys.argv[1], "rb").read()
N = int(sys.argv[2]) if len(sys.argv) > 2 else 12
ghz = np.frombuffer(raw[:8], np.float64)[0]
ev = np.frombuffer(
    raw[8:], dtype=np.dtype([("t0", "u8"), ("t1", "u8"), ("call", "i4"), ("tid", "i2"), ("kind", "i2"), ("arg", "i8")])
)
us = lambda t: t / ghz / 1e3
ev = ev[np.argsort(ev["call"], kind="stable")]
groups = np.split(ev, np.flatnonzero(np.diff(ev["call"])) + 1)[20:]
out = []
for e in groups:
    k9 = e[e["kind"] == 9]
    k0 = e[e["kind"] == 0]
    if len(k9) != 1:
        continue
    p0, p1 = int(k9["t0"][0]), int(k9["t1"][0])
    caller = k0["tid"][0]
    cells = []
    for role, et in (("C", e[e["tid"] == caller]), ("W", e[e["tid"] != caller])):
        s = lambda k: us(
            int((et[et["kind"] == k]["t1"].astype(np.int64) - et[et["kind"] == k]["t0"].astype(np.int64)).sum())
        )
        kk = et[et["kind"] == 3]
        busy = sum(s(k) for k in (1, 3, 4, 5, 7))
        ncol = int(((kk["arg"] >> 8) & 0xFFFF).sum())
        join = us(int(et["t0"].min()) - p0) if len(et) else -1
        endk = us(p1 - int(kk["t1"].max())) if len(kk) else -1
        cells.append(
            f"{role}: join {join:5.1f} K {s(3):6.0f} ({ncol:4d} col) q {s(1):4.1f} b {s(4):4.1f} e {s(5):4.1f} G {s(7):4.1f} idle {us(p1 - p0) - busy:5.1f} Kend {endk:5.1f}"
        )
    out.append((us(p1 - p0), us(int(k0["t1"][0]) - int(k0["t0"][0])), cells))
out.sort(key=lambda r: r[0])
for r, su, c in out[:N]:
    print(f"{r:7.0f} setup {su:4.1f} | " + " | ".join(c))
