import os
import time

import numpy as np
import torch

import chord
from chord.bench import contend
from chord.bench.config import mix_codes, parse_mix
from chord.functional import pack_checked
from chord.mixed_weight import MixedWeight, plan_buckets

N, K = 100_001, 64
w = torch.randn(N, K)
_, mix = parse_mix("mix3")
codes = mix_codes(mix, N, seed=0)
cb = chord.Codebook.default()


def pieces(rec):
    t0 = time.perf_counter()
    perm, buckets = plan_buckets(codes, cb)
    t1 = time.perf_counter()
    perm = perm.to(w.device)
    qw, sc, ze = torch.ops.chord.quantize_pack(w, perm, buckets, cb.scheme)
    t2 = time.perf_counter()
    MixedWeight(qw, sc, ze, perm, codes.to(w.device), buckets, (N, K), cb)
    t3 = time.perf_counter()
    rec.append((t1 - t0, t2 - t1, t3 - t2))


res = {}
with contend.busy_processes(int(os.environ.get("BUSY", "1"))), torch.inference_mode():
    for r in range(int(os.environ.get("REPS", "9"))):
        for t in (1, 2) if r % 2 == 0 else (2, 1):
            torch.set_num_threads(t)
            pieces(res.setdefault(t, []))
            t0 = time.perf_counter()
            pack_checked(w, codes, cb)
            res.setdefault(("pc", t), []).append(time.perf_counter() - t0)
for t in (1, 2):
    a = np.array(res[t]) * 1e3
    print(
        t,
        "plan/op/mw min",
        a.min(0).round(2),
        "med",
        np.median(a, 0).round(2),
        "pack_checked min/med",
        round(min(res[("pc", t)]) * 1e3, 2),
        round(float(np.median(res[("pc", t)])) * 1e3, 2),
    )
print(os.getloadavg())
