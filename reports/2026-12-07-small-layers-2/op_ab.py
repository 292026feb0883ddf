# the registered op (torch.ops.chord.mp_linear: the op's checks, then the raw binding) at M = 1,
# 4096^2 mix3 act8: CPU us per call, min over 40 batches of 50 calls; 4 weight copies rotated
import time

import torch

import chord
from chord.bench.config import mix_codes, parse_mix

torch.set_num_threads(1)
N = K = 4096
g = torch.Generator().manual_seed(0)
w = torch.randn(N, K, generator=g)
mws = [chord.pack(w, mix_codes(parse_mix("mix3")[1], N, seed=s)) for s in range(4)]
x = torch.randn(1, K, generator=g)
args = [(x, *mw.packed, None, 8) for mw in mws]
op = torch.ops.chord.mp_linear
for a in args:
    op(*a)
best = 1e9
for _ in range(40):
    t0 = time.thread_time_ns()
    for i in range(50):
        op(*args[i % 4])
    best = min(best, (time.thread_time_ns() - t0) / 50)
print(f"torch.ops.chord.mp_linear M=1 {N}x{K} mix3 act8 t=1: {best / 1e3:.1f} us (min of 40 batches of 50)")
