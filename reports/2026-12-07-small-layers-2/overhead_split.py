# ruff: noqa: E701, E702 (a measurement script, kept as run: formatted and imports sorted only)
# linear_cached cut at each step (the same code, returning early): CPU us per call, act8 50x64x64
import time

import torch

from chord.backends import cpu as cb
from chord.backends.cpu import _ACT_BITS, _DTYPE_CODE, _cpu, _f32, _get_num_threads, _is_grad_enabled, eager_ok
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
M, K, N = 50, 64, 64
lin = torch.nn.Linear(K, N)
codes = mix_codes(parse_mix("mix3")[1], N, seed=1)
x = torch.randn(1, M, K)
me = MixedPrecisionLinear.from_float(lin, codes, act_bits=8)


def v(cache, bufs, buckets, x, bias, act_bits, N, K, stop):
    if stop == 0:
        return
    if not eager_ok(x) or act_bits not in _ACT_BITS or type(act_bits) is not int:
        return None
    if stop == 1:
        return
    e = cache.entry
    q, s, z, p = bufs["qweight"], bufs["scales"], bufs["zeros"], bufs["perm"]
    if e[0] is not q or e[1] is not s or e[2] is not z or e[3] is not p or e[4] is not buckets:
        return None
    if stop == 2:
        return
    v = e[5]
    if v is not None and v != q._version + s._version + z._version + p._version:
        return None
    if stop == 3:
        return
    dt = x.dtype
    code = 0 if dt is _f32 else _DTYPE_CODE.get(dt)
    if code is None:
        return None
    b = 0
    if bias is not None:
        if not (
            bias.dtype is _f32
            and bias.is_cpu
            and bias.ndim == 1
            and bias.shape[0] == N
            and bias.is_contiguous()
            and not (_is_grad_enabled() and bias.requires_grad)
        ):
            return None
        b = bias.data_ptr()
    if stop == 4:
        return
    sh = x.shape
    d = len(sh)
    if d == 3:
        B, L, k = sh
        s0, sr, sc = x.stride()
        if k != K or (B > 1 and s0 != L * sr):
            return None
        M = B * L
        if stop == 5:
            return
        y = x.new_empty(B, L, N)
    if stop == 6:
        return
    if M:
        _cpu.mp_linear_ptr(e[6], x.data_ptr(), code, M, sr, sc, b, act_bits, y.data_ptr(), N, _get_num_threads())
    return y


names = ["call only", "eager_ok+act_bits", "identity", "versions", "dtype+bias", "shape/stride", "new_empty", "kernel"]
with torch.no_grad():
    me(x)
    d = me.__dict__
    bufs = d["_buffers"]
    cache = d["_cpu_handle"]
    bk = d["buckets"]
    b = me._parameters["bias"]
    prev = 0
    for stop in range(8):
        t = per_call(lambda: v(cache, bufs, bk, x, b, 8, N, K, stop))
        print(f"{names[stop]:18s} {t:6.2f} (+{t - prev:5.2f})")
        prev = t
    print("linear_cached", f"{per_call(lambda: cb.linear_cached(cache, bufs, bk, x, b, 8, N, K)):6.2f}")
    print("forward", f"{per_call(lambda: me.forward(x)):6.2f}")
    print("module call", f"{per_call(lambda: me(x)):6.2f}")
