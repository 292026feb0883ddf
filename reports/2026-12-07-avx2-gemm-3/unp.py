"""Best-30-call region / unpack / kernel time (us) of a t=1 CHORD_GEMM_PROF dump."""

import sys

import numpy as np

raw = open(sys.argv[1], "rb").read()
ghz = np.frombuffer(raw[:8], np.float64)[0]
ev = np.frombuffer(
    raw[8:], dtype=np.dtype([("t0", "u8"), ("t1", "u8"), ("call", "i4"), ("tid", "i2"), ("kind", "i2"), ("arg", "i8")])
)
us = lambda t: t / ghz / 1e3
ev = ev[np.argsort(ev["call"], kind="stable")]
rows = []
for e in np.split(ev, np.flatnonzero(np.diff(ev["call"])) + 1)[20:]:
    k9 = e[e["kind"] == 9]
    if len(k9) != 1:
        continue
    rows.append(
        (
            us(int(k9["t1"][0]) - int(k9["t0"][0])),
            us(int(e[e["kind"] == 8]["t1"].sum())),
            us(int((e[e["kind"] == 3]["t1"].astype(np.int64) - e[e["kind"] == 3]["t0"].astype(np.int64)).sum())),
        )
    )
a = np.array(rows)
i = np.argsort(a[:, 0])[:30]
print(
    f"{sys.argv[1]}: best 30 calls: region {a[i, 0].mean():.0f} us, unpack {a[i, 1].mean():.0f} us ({100 * a[i, 1].mean() / a[i, 0].mean():.1f} %), kernels incl. unpack {a[i, 2].mean():.0f}"
)
