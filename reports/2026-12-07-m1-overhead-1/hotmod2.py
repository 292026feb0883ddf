"""Hot per-call A/B of a swapped 64x64 layer's call (act8, with bias): main's linear_cached
(old_lc.txt, its body) vs this tree's (new_lc.txt) and the new one without each added check;
interleaved batches of 100 calls, min. usage: python hotmod2.py"""

import os
import time

import torch
from torch import nn

from chord.backends import cpu as cb
from chord.quantize.modules import MixedPrecisionLinear

HERE = os.path.dirname(os.path.abspath(__file__))


def load(src):
    ns = dict(vars(cb))
    exec(src, ns)
    return ns["linear_cached"]


old = open(os.path.join(HERE, "old_lc.txt")).read()
new = open(os.path.join(HERE, "new_lc.txt")).read()
V = {
    "old": load(old),
    "new": load(new),
    "new-neg": load(new.replace("            and not bias.is_neg()\n", "")),
    "new-isinst": load(new),
    "new-NK": load(new.replace("        or e[8] != N\n        or e[9] != K\n", "")),
}
torch.set_num_threads(1)
mod = MixedPrecisionLinear.from_float(nn.Linear(64, 64), torch.randint(0, 4, (64,), dtype=torch.uint8), act_bits=8)
x = torch.randn(1, 64)
best = {k: 1e9 for k in V}
with torch.no_grad():
    mod(x)
    for _r in range(300):
        for k, lc in V.items():
            cb.linear_cached = lc
            t0 = time.perf_counter()
            for _ in range(100):
                mod(x)
            best[k] = min(best[k], (time.perf_counter() - t0) / 100)
print({k: round(v * 1e6, 3) for k, v in best.items()})
