"""Per-call time of chord's eager fast paths: a 64x64 MixedPrecisionLinear call, the same through
its quantized root model (nn.Sequential), chord.mp_linear on a 64x64 weight, and chord.mp_topk
over a 100k-item table (K=64, k=10), all at M=1, one thread.

Run it once per source tree and compare the two in the same session (best of 15 repeats of
timeit loops, timed with the thread's CPU time; the minimum is the figure least disturbed by a busy machine):
    PYTHONPATH=<tree>/python:<tree> python reports/2026-12-06-op-layer-fast-path/fast_path_timing.py
"""

import json
import sys
import time
import timeit

import torch
from torch import nn

import chord

torch.manual_seed(0)
torch.set_num_threads(1)
lin = nn.Linear(64, 64)
codes = torch.randint(1, 4, (64,), dtype=torch.uint8)
m = nn.Sequential(lin)
chord.quantize_(m, {"0": codes})
layer = m[0]
mw = chord.pack(torch.randn(64, 64), codes)
x = torch.randn(1, 64)
table = chord.pack(torch.randn(100_000, 64), torch.randint(0, 4, (100_000,), dtype=torch.uint8))
u = torch.randn(1, 64)


def best_us(fn, number):
    fn()
    # thread CPU time: a busy, shared machine inflates it far less than wall time
    return min(timeit.Timer(fn, timer=time.thread_time).repeat(number=number, repeat=15)) / number * 1e6


with torch.no_grad():
    out = {
        "layer_64x64_us": best_us(lambda: layer(x), 2000),
        "root_model_64x64_us": best_us(lambda: m(x), 2000),  # the quantize_d model: its root hooks
        "mp_linear_64x64_us": best_us(lambda: chord.mp_linear(x, mw), 2000),
        "mp_topk_100k_us": best_us(lambda: chord.mp_topk(u, table, 10), 50),
    }
out["chord"] = chord.__file__
json.dump(out, sys.stdout)
print()
