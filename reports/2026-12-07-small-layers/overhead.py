# ruff: noqa: E401, E402, E701, E702 (a measurement script, kept as run)
import time

import torch

from chord.backends import cpu as cb
from chord.bench.config import mix_codes, parse_mix
from chord.quantize.modules import MixedPrecisionLinear, _linear


def per_call(f, n=500, batches=20):
    best = 1e9
    for _ in range(batches):
        t0 = time.thread_time_ns()
        for _ in range(n):
            f()
        best = min(best, (time.thread_time_ns() - t0) / n)
    return best / 1e3


torch.set_num_threads(1)
M, K, N = 1, 64, 64
lin = torch.nn.Linear(K, N)
codes = mix_codes(parse_mix("mix3")[1], N, seed=1)
x = torch.randn(1, M, K)
me = MixedPrecisionLinear.from_float(lin, codes, act_bits=0)
with torch.no_grad():
    me(x)
    d = me.__dict__
    bufs = d["_buffers"]
    cache = d["_cpu_handle"]
    h = cache.handle
    b = me._parameters["bias"]
    y = torch.empty(M, N)
    items = {
        "nothing": lambda: None,
        "mp_linear_ptr": lambda: cb._cpu.mp_linear_ptr(
            h, x.data_ptr(), 0, M, K, 1, b.data_ptr(), 0, y.data_ptr(), N, 1
        ),
        "eager_ok": lambda: cb.eager_ok(x),
        "x.new_empty(1,M,N)": lambda: x.new_empty(1, M, N),
        "torch.empty(1,M,N)": lambda: torch.empty(1, M, N),
        "x.data_ptr()": lambda: x.data_ptr(),
        "x.stride()": lambda: x.stride(),
        "x.shape": lambda: x.shape,
        "bias checks": lambda: (
            b.dtype is torch.float32
            and b.is_cpu
            and b.ndim == 1
            and b.shape[0] == N
            and b.is_contiguous()
            and not (torch.is_grad_enabled() and b.requires_grad)
        ),
        "versions": lambda: (
            bufs["qweight"]._version + bufs["scales"]._version + bufs["zeros"]._version + bufs["perm"]._version
        ),
        "linear_cached": lambda: cb.linear_cached(cache, bufs, d["buckets"], x, b, 0, N, K),
        "_linear": lambda: _linear(me, x, b),
        "me.forward": lambda: me.forward(x),
        "me(x)": lambda: me(x),
        "lin(x)": lambda: lin(x),
    }
    for k, f in items.items():
        print(f"{k:22s} {per_call(f):6.2f} us")
    print("--- pieces")
    f = cb._cpu.mp_linear_ptr
    xp, yp, bp = x.data_ptr(), y.data_ptr(), b.data_ptr()
    items = {
        "ptr M=0": lambda: f(h, xp, 0, 0, K, 1, bp, 0, yp, N, 1),
        "ptr M=1 exact": lambda: f(h, xp, 0, 1, K, 1, bp, 0, yp, N, 1),
        "ptr M=1 act8": lambda: f(h, xp, 0, 1, K, 1, bp, 8, yp, N, 1),
        "torch.is_grad_enabled": lambda: torch.is_grad_enabled(),
        "x.is_cpu": lambda: x.is_cpu,
        "x.layout is": lambda: x.layout is torch.strided,
        "x.is_neg()": lambda: x.is_neg(),
        "x.requires_grad": lambda: x.requires_grad,
        "_tracing_state": lambda: cb._tracing_state(),
        "dispatch_stack_len": lambda: cb._dispatch_stack_len(),
        "function_mode_on": lambda: cb._function_mode_on(),
        "is_compiling": lambda: cb._is_compiling(),
        "get_num_threads": lambda: torch.get_num_threads(),
        "x.dtype": lambda: x.dtype,
    }
    for k, g in items.items():
        print(f"{k:22s} {per_call(g):6.2f} us")
