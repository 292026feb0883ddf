# ruff: noqa: E701, E702 (a measurement script, kept as run: formatted and imports sorted only)
# mp_linear_ptr act8 on a cached handle (no Python wrapper but the binding): CPU us per call,
# min over 60 batches of 300 calls, at SASRec's layer shapes (mix3). usage: python kernel_ab.py
import time

import torch

from chord.backends import cpu as cb
from chord.bench.config import mix_codes, parse_mix
from chord.quantize.modules import MixedPrecisionLinear

torch.set_num_threads(1)
out = []
for M, K, N in ((50, 64, 64), (50, 64, 256), (50, 256, 64), (16, 64, 64)):
    lin = torch.nn.Linear(K, N)
    me = MixedPrecisionLinear.from_float(lin, mix_codes(parse_mix("mix3")[1], N, seed=1), act_bits=8)
    x = torch.randn(1, M, K)
    with torch.no_grad():
        me(x)
    h = me.__dict__["_cpu_handle"].handle
    y = torch.empty(M, N)
    b = lin.bias.detach()
    xp, yp, bp = x.data_ptr(), y.data_ptr(), b.data_ptr()
    f = cb._cpu.mp_linear_ptr
    best = 1e9
    for _ in range(60):
        t0 = time.thread_time_ns()
        for _ in range(300):
            f(h, xp, 0, M, K, 1, bp, 8, yp, N, 1)
        best = min(best, (time.thread_time_ns() - t0) / 300)
    out.append(f"{M}x{K}x{N} {best / 1e3:.2f}")
print("mp_linear_ptr act8 min us:", "  ".join(out))
