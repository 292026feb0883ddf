"""Exact-path 2-thread probe, same script on two trees: min / p10 ms per call of chord.mp_linear
(act_bits=0) on 4096^2 mix3, rotating `nsets` packed copies, thread counts interleaved in blocks."""

import json
import sys
import time

import torch

import chord
from chord.bench.config import mix_codes, parse_mix

M, reps, threads, nsets, out = (
    int(sys.argv[1]),
    int(sys.argv[2]),
    [int(t) for t in sys.argv[3].split(",")],
    int(sys.argv[4]),
    sys.argv[5],
)
act = int(sys.argv[6]) if len(sys.argv) > 6 else 0
K = N = 4096
g = torch.Generator().manual_seed(0)
w = torch.randn(N, K, generator=g)
codes = mix_codes(parse_mix("mix3")[1], N, seed=0)
mws = [chord.pack(w, codes) for _ in range(nsets)]
x = torch.randn(M, K, generator=g)
times = {t: [] for t in threads}
i = 0
for _blk in range(reps // 20):
    for t in threads:
        torch.set_num_threads(t)
        chord.mp_linear(x, mws[i % nsets], act_bits=act)
        for _ in range(20):
            i += 1
            t0 = time.perf_counter_ns()
            chord.mp_linear(x, mws[i % nsets], act_bits=act)
            times[t].append((time.perf_counter_ns() - t0) / 1e6)
res = {}
for t, v in times.items():
    v.sort()
    res[t] = {"min": v[0], "p10": v[len(v) // 10], "p50": v[len(v) // 2]}
print(json.dumps({"M": M, "act": act, "res": res}))
with open(out, "a") as f:
    f.write(json.dumps({"tag": sys.argv[7] if len(sys.argv) > 7 else "", "M": M, "act": act, "res": res}) + "\n")
