# the raw binding _cpu.mp_linear at M = 1, 4096^2 mix3 act8, t = 1, with perm_checked False (full
# permutation check per call) and True (range only), alternating batches in one process: CPU us per
# call, min over 40 batches of 50 each
import time

import numpy as np
import torch

import chord
from chord.backends import cpu as cb
from chord.bench.config import mix_codes, parse_mix

torch.set_num_threads(1)
N = K = 4096
g = torch.Generator().manual_seed(0)
mw = chord.pack(torch.randn(N, K, generator=g), mix_codes(parse_mix("mix3")[1], N, seed=0))
x = torch.randn(1, K, generator=g).numpy()
y = np.empty((1, N), np.float32)
a = (mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(), [int(v) for v in mw.buckets], K)
f = cb._cpu.mp_linear
best = {False: 1e9, True: 1e9}
for _ in range(40):
    for pc in (False, True):
        t0 = time.thread_time_ns()
        for _ in range(50):
            f(x, 0, *a, None, 8, y, 1, perm_checked=pc)
        best[pc] = min(best[pc], (time.thread_time_ns() - t0) / 50)
print(
    f"_cpu.mp_linear M=1 4096^2 mix3 act8 t=1 min us: perm_checked=False {best[False] / 1e3:.1f}  True {best[True] / 1e3:.1f}"
)
