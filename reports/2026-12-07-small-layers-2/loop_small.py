# ruff: noqa: E701, E702 (a measurement script, kept as run: formatted and imports sorted only)
# a loop of mp_linear_ptr calls (act8, 50x64x64 mix3, cached handle) for perf record
import sys
import time

import torch

from chord.backends import cpu as cb
from chord.bench.config import mix_codes, parse_mix
from chord.quantize.modules import MixedPrecisionLinear

torch.set_num_threads(1)
M, K, N = 50, 64, 64
lin = torch.nn.Linear(K, N)
me = MixedPrecisionLinear.from_float(lin, mix_codes(parse_mix("mix3")[1], N, seed=1), act_bits=8)
x = torch.randn(1, M, K)
with torch.no_grad():
    me(x)
h = me.__dict__["_cpu_handle"].handle
print("cache bytes", h.cache_bytes, "buckets", me.buckets)
y = torch.empty(M, N)
b = lin.bias.detach()
xp, yp, bp = x.data_ptr(), y.data_ptr(), b.data_ptr()
f = cb._cpu.mp_linear_ptr
n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
t0 = time.thread_time()
for _ in range(n):
    f(h, xp, 0, M, K, 1, bp, 8, yp, N, 1)
print((time.thread_time() - t0) / n * 1e6, "us/call")
