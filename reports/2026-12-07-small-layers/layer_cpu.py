# ruff: noqa: E401, E402, E701, E702 (a measurement script, kept as run)
"""Per-call CPU time (thread_time, min over 30 batches of 200 calls) at the e2e layer shapes:
F.linear, the swapped module exact / act8, mp_linear_ptr on the cached handle (no Python
wrapper), and the raw binding with a forced path (its own numpy/validation overhead included)."""

import sys
import time

import torch
import torch.nn.functional as F

from chord.backends import cpu as cb
from chord.bench.config import mix_codes, parse_mix
from chord.quantize.modules import MixedPrecisionLinear


def per_call(f, n=200, batches=30):
    best = 1e9
    for _ in range(batches):
        t0 = time.thread_time_ns()
        for _ in range(n):
            f()
        best = min(best, (time.thread_time_ns() - t0) / n)
    return best / 1e3  # us


t = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(t)
_cpu = cb._cpu
import os

SMALL = os.environ.get("SMALL") == "1"
if len(sys.argv) > 2:
    shapes_arg = [tuple(int(v) for v in s.split("x")) for s in sys.argv[2].split(",")]
else:
    shapes_arg = None
mix = parse_mix("mix3")[1]
shapes = [(50, 64, 64), (50, 64, 256), (50, 256, 64), (1, 64, 64), (200, 64, 64)]
print(f"t={t} CPU us per call (thread_time; at t=2 the worker's time is not counted)")
print(
    f"{'M':>4} {'K':>4} {'N':>4} {'F.lin':>7} {'ex mod':>7} {'a8 mod':>7} {'ex ptr':>7} {'a8 ptr':>7} {'a8 dir':>7} {'a8 pan':>7} {'a8 sml':>7} {'ex dir':>7} {'ex pan':>7} auto ex/a8"
)
with torch.no_grad():
    for M, K, N in shapes_arg or shapes:
        g = torch.Generator().manual_seed(0)
        lin = torch.nn.Linear(K, N)
        codes = mix_codes(mix, N, seed=1)
        x = torch.randn(1, M, K, generator=g)
        me = MixedPrecisionLinear.from_float(lin, codes, act_bits=0)
        ma = MixedPrecisionLinear.from_float(lin, codes, act_bits=8)
        me(x)
        ma(x)
        h = me.__dict__["_cpu_handle"].handle
        b = lin.bias.detach()
        y = torch.empty(M, N)
        xp, yp, bp = x.data_ptr(), y.data_ptr(), b.data_ptr()
        ptr = lambda ab: lambda: _cpu.mp_linear_ptr(h, xp, 0, M, K, 1, bp, ab, yp, N, t)
        mw = me.mw
        arr = (
            x[0].numpy(),
            0,
            mw.qweight.numpy(),
            mw.scales.numpy(),
            mw.zeros.numpy(),
            mw.perm.numpy(),
            mw.buckets,
            K,
            b.numpy(),
        )
        raw = lambda ab, p: lambda: _cpu.mp_linear(*arr, ab, y.numpy(), t, "auto", p)
        r = [
            per_call(lambda: F.linear(x, lin.weight, lin.bias)),
            per_call(lambda: me(x)),
            per_call(lambda: ma(x)),
            per_call(ptr(0)),
            per_call(ptr(8)),
            per_call(raw(8, "direct")),
            per_call(raw(8, "panel")),
            per_call(raw(8, "small")) if SMALL else float("nan"),
            per_call(raw(0, "direct")),
            per_call(raw(0, "panel")),
        ]
        pa = [
            _cpu.mp_linear_path(
                mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(), mw.buckets, K, M, ab
            )
            for ab in (0, 8)
        ]
        print(f"{M:>4} {K:>4} {N:>4} " + " ".join(f"{v:7.2f}" for v in r) + f"  {pa[0]}/{pa[1]}")
