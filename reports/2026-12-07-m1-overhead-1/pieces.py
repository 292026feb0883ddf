"""Hot per-call cost of each piece of the M = 1 API path (min over batches of 100 calls)."""

import time

import torch

import chord
from chord import functional as F
from chord.backends import cpu as cb
from chord.bench.config import mix_codes, parse_mix

K = 4096
x = torch.randn(1, K)
_, mix = parse_mix("mix3")
mw = chord.pack(torch.randn(K, K), mix_codes(mix, K, seed=0))
chord.mp_linear(x, mw, act_bits=8)
d = mw.__dict__
cache = d["_cpu_handle"]
w = (d["qweight"], d["scales"], d["zeros"], d["perm"], d["buckets"], K)
real = cb._cpu


class Stub:
    def __getattr__(self, a):
        return getattr(real, a)

    @staticmethod
    def mp_linear_ptr(*a):
        return None


cb._cpu = Stub()


def hot(fn, n=20000):
    b = 1e9
    for _ in range(n // 100):
        t0 = time.perf_counter()
        for _ in range(100):
            fn()
        b = min(b, (time.perf_counter() - t0) / 100)
    return b * 1e6


e = cache.entry
h = e[6]
q = d["qweight"]
tests = dict(
    empty=lambda: None,
    api=lambda: chord.mp_linear(x, mw, act_bits=8),
    linear_packed=lambda: F.linear_packed(d, x, w, K, None, 8),
    linear_cached=lambda: cb.linear_cached(cache, d, d["buckets"], x, None, 8, K, K),
    packed_handle=lambda: cb.packed_handle(cache, w, K),
    mp_linear_eager=lambda: cb.mp_linear_eager(x, h, K, K, None, 8),
    eager_ok=lambda: cb.eager_ok(x),
    is_compiling=lambda: torch.compiler.is_compiling(),
    tracing=lambda: torch._C._get_tracing_state(),
    disp=lambda: torch._C._len_torch_dispatch_stack(),
    fmode=lambda: torch._C._is_torch_function_mode_enabled(),
    grad=lambda: torch.is_grad_enabled(),
    is_cpu=lambda: x.is_cpu,
    layout=lambda: x.layout,
    is_neg=lambda: x.is_neg(),
    requires_grad=lambda: x.requires_grad,
    dtype=lambda: x.dtype,
    ndim=lambda: x.ndim,
    shape_last=lambda: x.shape[-1],
    shape=lambda: x.shape,
    stride=lambda: x.stride(),
    is_contig=lambda: x.is_contiguous(),
    version=lambda: q._version,
    new_empty=lambda: x.new_empty(1, K),
    torch_empty=lambda: torch.empty(1, K),
    data_ptr=lambda: x.data_ptr(),
    nthreads=lambda: torch.get_num_threads(),
    stub=lambda: cb._cpu.mp_linear_ptr(h, 1, 0, 1, K, 1, 0, 8, 2, K, 1),
)
for k, f in tests.items():
    print(f"{k:16s} {hot(f):7.3f} us", flush=True)
cb._cpu = real
yy = torch.empty(1, K)
print(
    f"pybind M=0      {hot(lambda: real.mp_linear_ptr(h, x.data_ptr(), 0, 0, K, 1, 0, 8, yy.data_ptr(), K, 1)):7.3f} us"
)
