# ruff: noqa: E701, E702, E402  (a probe kept as run: compact statements)
"""Which torch ops run inside DeviceModel.apply on SASRec (100k items), with input shapes: any
that touches >= 32k elements can open a parallel region of torch's OpenMP pool at 2 threads."""

import torch
from torch.profiler import ProfilerActivity, profile

from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.e2e import build_model
from chord.quantize import DeviceModel
from chord.quantize.strategy import Strategy

torch.set_num_threads(2)
model = build_model("sasrec", 100000, 0)
dm = DeviceModel(model, embeddings=True)
label, mix = parse_mix("mix3")
strat = Strategy({ln: mix_codes(mix, int(f.shape[0]), seed=j) for j, (ln, f) in enumerate(dm.frozen.items())})
dm.apply(strat)
with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
    dm.apply(strat)
import math

rows = {}
for e in prof.events():
    shapes = e.input_shapes
    n = max([math.prod(s) for s in shapes if s] or [0])
    k = (e.name, str(shapes)[:80])
    r = rows.setdefault(k, [0, 0.0, n])
    r[0] += 1
    r[1] += e.cpu_time_total
for (name, sh), (c, us, n) in sorted(rows.items(), key=lambda kv: -kv[1][1])[:40]:
    print(f"{name:40s} x{c:3d} {us / 1e3:8.3f} ms  max elems {n:9d}  {sh}")
