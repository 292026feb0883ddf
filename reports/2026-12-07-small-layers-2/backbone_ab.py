# ruff: noqa: E402 (a measurement script, kept as run)
"""SASRec (d = 64, 2 blocks, batch 1, 50 positions) backbone forward only -- fp32 / exact / act8,
only the backbone's layers quantized (mix3), models rotated as the bench does (4 copies),
interleaved rounds; then one layer (50 x 64 x 64) as a module call: nn.Linear, exact, act8.
CPU time of the calling thread (time.thread_time_ns), min and median in us.
usage: python backbone_ab.py THREADS ROUNDS"""

import copy
import sys
import time

import torch

from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.e2e import _quantized, build_model
from chord.quantize.modules import MixedPrecisionLinear

t = int(sys.argv[1]) if len(sys.argv) > 1 else 1
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 300
torch.set_num_threads(t)
clk = time.thread_time_ns
mix = parse_mix("mix3")[1]
m = build_model("sasrec", 100000, 0)
seqs = torch.randint(1, 100001, (1, 50), generator=torch.Generator().manual_seed(11))
nsets = 4
variants = {
    "fp32": [copy.deepcopy(m) for _ in range(nsets)],
    "exact": [_quantized(m, mix, False, 0, 0) for _ in range(nsets)],
    "act8": [_quantized(m, mix, False, 8, 0) for _ in range(nsets)],
}
res = {k: [] for k in variants}
with torch.no_grad():
    for v in variants.values():
        for q in v:
            q(seqs)
    for r in range(rounds):
        for k, ms in variants.items():
            q = ms[r % nsets]
            t0 = clk()
            q(seqs)
            res[k].append(clk() - t0)


def show(d):
    return "  ".join(f"{k} {min(v) / 1e3:7.1f} ({sorted(v)[len(v) // 2] / 1e3:7.1f})" for k, v in d.items())


print(f"backbone fwd t={t} rounds={rounds} min (median) us: {show(res)}")
print(f"  act8/fp32 by min {min(res['fp32']) / min(res['act8']):.3f}x (fp32 time / act8 time)")

lin = torch.nn.Linear(64, 64)
codes = mix_codes(mix, 64, seed=1)
mods = {
    "nn.Linear": lin,
    "exact": MixedPrecisionLinear.from_float(lin, codes, act_bits=0),
    "act8": MixedPrecisionLinear.from_float(lin, codes, act_bits=8),
}
x = torch.randn(1, 50, 64)
per = {k: [] for k in mods}
with torch.no_grad():
    for f in mods.values():
        f(x)
    for _ in range(40):
        for k, f in mods.items():
            t0 = clk()
            for _ in range(200):
                f(x)
            per[k].append((clk() - t0) / 200)
print(f"layer 50x64x64 module call min (median) us: {show(per)}")
