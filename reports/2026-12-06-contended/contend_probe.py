"""Beside one busy core (chord.bench.contend): t=1 vs t=2 wall time of chord.pack 4096^2 mix3,
the C++ quantize_pack alone, and DeviceModel.apply (sasrec, 100k items), alternating thread
counts call by call (chord.bench.timing.per_call_threads). Prints min / median / p90 ms per
(case, threads) and t2/t1."""

import os

import torch

import chord
from chord.backends import cpu as cpu_backend
from chord.bench import contend, timing
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.e2e import build_model
from chord.quantize import DeviceModel
from chord.quantize.strategy import Strategy

reps = int(os.environ.get("REPS", "15"))
cases = os.environ.get("CASES", "pack,qpack,apply").split(",")
busy = int(os.environ.get("BUSY", "1"))
N = K = int(os.environ.get("DIM", "4096"))
g = torch.Generator().manual_seed(0)
w = torch.randn(N, K, generator=g)
_, mix = parse_mix("mix3")
codes = mix_codes(mix, N, seed=0)
perm, buckets = chord.mixed_weight.plan_buckets(codes, chord.Codebook.default())
fns = {}
if "pack" in cases:
    fns["pack"] = lambda i: chord.pack(w, codes)
if "qpack" in cases:
    fns["qpack"] = lambda i: cpu_backend.quantize_pack(w, perm, buckets, "sym")
if "apply" in cases:
    model = build_model("sasrec", 100_000, 0)
    dm = DeviceModel(model, embeddings=True)
    strat = Strategy({ln: mix_codes(mix, int(f.shape[0]), seed=j) for j, (ln, f) in enumerate(dm.frozen.items())})
    fns["apply"] = lambda i: dm.apply(strat)
with contend.busy_processes(busy) as b, torch.inference_mode():
    res = {name: timing.per_call_threads(fn, reps, warmup=1) for name, fn in fns.items()}
for name in fns:
    print(timing.threads_row(name, res[name], p90=True), flush=True)
print("load", os.getloadavg())
