from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode

import chord
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.e2e import build_model
from chord.quantize import DeviceModel
from chord.quantize.strategy import Strategy


class Log(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.c = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        n = max(
            [a.numel() for a in torch.utils._pytree.tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor)] + [0]
        )
        self.c[(str(func), n >= 32768)] += 1
        return func(*args, **(kwargs or {}))


model = build_model("sasrec", 100_000, 0)
dm = DeviceModel(model, embeddings=True)
_, mix = parse_mix("mix3")
strat = Strategy({ln: mix_codes(mix, int(f.shape[0]), seed=j) for j, (ln, f) in enumerate(dm.frozen.items())})
dm.apply(strat)
with torch.inference_mode(), Log() as L:
    dm.apply(strat)
for k, v in sorted(L.c.items(), key=lambda kv: -kv[1]):
    print(v, k)
w = torch.randn(4096, 4096)
codes = mix_codes(mix, 4096, seed=0)
with torch.inference_mode(), Log() as L:
    chord.pack(w, codes)
print("--- pack")
[print(v, k) for k, v in L.c.items()]
