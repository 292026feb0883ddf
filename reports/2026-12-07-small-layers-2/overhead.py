# ruff: noqa: E701, E702 (a measurement script, kept as run: formatted and imports sorted only)
# per-piece CPU cost of the swapped module's eager call at M x 64 x 64 (thread_time, min of batches)
import sys
import time

import torch

from chord.backends import cpu as cb
from chord.bench.config import mix_codes, parse_mix
from chord.quantize.modules import MixedPrecisionLinear


def per_call(f, n=500, batches=30):
    best = 1e9
    for _ in range(batches):
        t0 = time.thread_time_ns()
        for _ in range(n):
            f()
        best = min(best, (time.thread_time_ns() - t0) / n)
    return best / 1e3


torch.set_num_threads(1)
M = int(sys.argv[1]) if len(sys.argv) > 1 else 50
K = N = 64
lin = torch.nn.Linear(K, N)
codes = mix_codes(parse_mix("mix3")[1], N, seed=1)
x = torch.randn(1, M, K)
with torch.no_grad():
    for ab in (0, 8):
        me = MixedPrecisionLinear.from_float(lin, codes, act_bits=ab)
        me(x)
        d = me.__dict__
        bufs = d["_buffers"]
        cache = d["_cpu_handle"]
        bk = d["buckets"]
        b = me._parameters["bias"]
        h = cache.handle
        y = torch.empty(M, N)
        xp, yp, bp = x.data_ptr(), y.data_ptr(), b.data_ptr()
        r = {
            "module call": per_call(lambda: me(x)),
            "forward": per_call(lambda: me.forward(x)),
            "linear_cached": per_call(lambda: cb.linear_cached(cache, bufs, bk, x, b, ab, N, K)),
            "eager_ok": per_call(lambda: cb.eager_ok(x)),
            "new_empty": per_call(lambda: x.new_empty(1, M, N)),
            "mp_linear_ptr": per_call(lambda: cb._cpu.mp_linear_ptr(h, xp, 0, M, K, 1, bp, ab, yp, N, 1)),
            "F.linear": per_call(lambda: torch.nn.functional.linear(x, lin.weight, lin.bias)),
            "nn.Linear call": per_call(lambda: lin(x)),
        }
        print(f"act_bits={ab} M={M}: " + "  ".join(f"{k} {v:.2f}" for k, v in r.items()), flush=True)
