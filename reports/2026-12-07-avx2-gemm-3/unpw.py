"""Unpack and kernel time per column by width (windows of one width only), t=1 CHORD_GEMM_PROF dump:
median over calls of (sum over that width's windows) / columns."""

import collections
import sys

import numpy as np

raw = open(sys.argv[1], "rb").read()
ghz = np.frombuffer(raw[:8], np.float64)[0]
ev = np.frombuffer(
    raw[8:], dtype=np.dtype([("t0", "u8"), ("t1", "u8"), ("call", "i4"), ("tid", "i2"), ("kind", "i2"), ("arg", "i8")])
)
us = lambda t: t / ghz / 1e3
ev = ev[np.argsort(ev["call"], kind="stable")]
res = collections.defaultdict(list)
for e in np.split(ev, np.flatnonzero(np.diff(ev["call"])) + 1)[20:]:
    unp = {int(x["arg"]): int(x["t1"]) for x in e[e["kind"] == 8]}
    acc = collections.defaultdict(lambda: [0.0, 0.0, 0])
    for x in e[e["kind"] == 3]:
        a = int(x["arg"])
        wi = a >> 24
        nw = (a >> 8) & 0xFFFF
        b0 = (a >> 4) & 15
        b1 = a & 15
        if b0 != b1:
            continue
        acc[b0][0] += us(unp.get(wi, 0))
        acc[b0][1] += us(int(x["t1"]) - int(x["t0"]))
        acc[b0][2] += nw
    for b, (u, k, n) in acc.items():
        res[b].append((u / n, k / n))
for b in sorted(res):
    a = np.array(res[b])
    print(
        f"{sys.argv[1]} {b}-bit: unpack {np.median(a[:, 0]):.3f} us/col, kernels incl. unpack {np.median(a[:, 1]):.3f} (min {a[:, 1].min():.3f})"
    )
