"""Summarize a CHORD_GEMM_PROF dump: per call, per thread (tid 0 = first thread to record)."""

import collections
import sys

import numpy as np

raw = open(sys.argv[1], "rb").read()
ghz = np.frombuffer(raw[:8], np.float64)[0]
ev = np.frombuffer(
    raw[8:], dtype=np.dtype([("t0", "u8"), ("t1", "u8"), ("call", "i4"), ("tid", "i2"), ("kind", "i2"), ("arg", "i8")])
)
skip = int(sys.argv[2]) if len(sys.argv) > 2 else 20
calls = sorted(set(ev["call"]))[skip:]
us = lambda t: t / ghz / 1e3
rows = collections.defaultdict(list)
bybits = collections.defaultdict(list)
for c in calls:
    e = ev[ev["call"] == c]
    k0 = e[e["kind"] == 0]
    k9 = e[e["kind"] == 9]
    if len(k0) != 1 or len(k9) != 1:
        continue
    caller = k0["tid"][0]
    p0, p1 = int(k9["t0"][0]), int(k9["t1"][0])
    r = rows
    r["setup"].append(us(int(k0["t1"][0]) - int(k0["t0"][0])))
    r["region"].append(us(p1 - p0))
    tids = sorted(set(e["tid"]))
    for t in tids:
        et = e[e["tid"] == t]
        role = "C" if t == caller else "W"
        if role == "W":
            r["W first task after region start"].append(us(int(et["t0"].min()) - p0))
        for kind, name in [
            (1, "quant"),
            (2, "wait_q"),
            (4, "build"),
            (3, "kernels"),
            (5, "epi"),
            (6, "wait_g"),
            (7, "gather"),
        ]:
            ek = et[et["kind"] == kind]
            r[f"{role} {name}"].append(us(int((ek["t1"].astype(np.int64) - ek["t0"].astype(np.int64)).sum())))
            r[f"{role} n_{name}"].append(len(ek))
        ew = et[et["kind"] == 3]
        if len(ew):
            r[f"{role} last kernel end before region end"].append(us(p1 - int(ew["t1"].max())))
        eg = et[et["kind"] == 7]
        if len(eg):
            r[f"{role} last gather end before region end"].append(us(p1 - int(eg["t1"].max())))
    for x in e[e["kind"] == 3]:
        a = int(x["arg"])
        nw = (a >> 8) & 0xFFFF
        b0 = (a >> 4) & 15
        b1 = a & 15
        bybits[(b0, b1)].append(us(int(x["t1"]) - int(x["t0"])) / nw)
print(f"{len(calls)} calls, tsc {ghz:.3f} GHz; mean / median / min over calls, us")
for k, v in rows.items():
    v = np.array(v)
    print(f"  {k:40s} {v.mean():9.2f} {np.median(v):9.2f} {v.min():9.2f}")
for k, v in sorted(bybits.items()):
    v = np.array(v)
    print(f"  kernels us per column, bits {k}: n={len(v)} mean {v.mean():.3f} med {np.median(v):.3f} min {v.min():.3f}")
