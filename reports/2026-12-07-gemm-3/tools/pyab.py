# pyab.py M T REPS: min ms of chord.mp_linear act8 on mix3 4096^2 with rotated weight copies (as chord bench)
import sys
import time

import torch

import chord
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import clone_packed

M, T, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(T)

g = torch.Generator().manual_seed(0)
w = torch.randn(4096, 4096, generator=g)
x = torch.randn(M, 4096, generator=g)
label, mix = parse_mix("mix3")
mw = chord.pack(w, mix_codes(mix, 4096, seed=0))
ws = clone_packed(mw, int(sys.argv[4]) if len(sys.argv) > 4 else 12)
out = None
for i in range(5):
    chord.mp_linear(x, ws[i % len(ws)], act_bits=8)
best = 1e9
for i in range(reps):
    t = time.perf_counter()
    y = chord.mp_linear(x, ws[i % len(ws)], act_bits=8)
    best = min(best, time.perf_counter() - t)
print(f"M={M} t={T} min {best * 1e3:.3f} ms")
