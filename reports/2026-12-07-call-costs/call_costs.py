"""The per-call costs that code comments cite as the reason for a fast path (1 torch thread,
M = 1 / one request): best of REPEATS timeit repeats of the thread's CPU time, in µs per call.

    PYTHONPATH=$PWD/python:$PWD python reports/2026-12-07-call-costs/call_costs.py

Prints one JSON line per case (``case``, ``us``, ``alt_us`` for the path the comment compares
against, their ratio)."""

import json
import os
import time
import timeit

import torch
import torch.nn.functional as F

import chord
from chord.backends import cpu as cpu_backend
from chord.backends.cpu import _cpu
from chord.quantize import MixedPrecisionLinear, QuantizedEmbedding

REPEATS = int(os.environ.get("REPEATS", "15"))
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)


def us(fn, number: int) -> float:
    t = timeit.Timer(fn, timer=time.thread_time).repeat(repeat=REPEATS, number=number)
    return min(t) / number * 1e6


def row(case: str, fn, alt, number: int, note: str) -> None:
    a, b = us(fn, number), us(alt, number)
    print(json.dumps({"case": case, "us": round(a, 3), "alt_us": round(b, 3), "alt/us": round(b / a, 2), "alt": note}))


def codes(n: int) -> torch.Tensor:
    return torch.randint(1, len(chord.Codebook.default().bits), (n,), generator=g, dtype=torch.uint8)


# 1. a buffer / parameter read on the swapped module's per-call path (quantize/modules.py)
lin = MixedPrecisionLinear.from_float(torch.nn.Linear(64, 64), codes(64))
row("buffer read: mod._buffers['qweight']", lambda: lin._buffers["qweight"], lambda: lin.qweight, 200_000,
    "mod.qweight (Module.__getattr__)")  # fmt: skip
row("parameter read: mod._parameters.get('bias')", lambda: lin._parameters.get("bias"), lambda: lin.bias, 200_000,
    "mod.bias (Module.__getattr__)")  # fmt: skip

# 2. the eager handle entry against the numpy-view binding (csrc/bindings/mp_linear.cpp), 64 x 64, M = 1
mw = chord.pack(torch.randn(64, 64, generator=g), codes(64))
x, y = torch.randn(1, 64, generator=g), torch.empty(1, 64)
arrays = (mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy())
buckets = [int(v) for v in mw.buckets]
handle = _cpu.PackedWeight(*arrays, buckets, 64, False)
xn, yn = x.numpy(), y.numpy()
row("mp_linear 64x64 M=1: _cpu.mp_linear_ptr (cached handle)",
    lambda: _cpu.mp_linear_ptr(handle, x.data_ptr(), 0, 1, 64, 1, 0, 0, y.data_ptr(), 64, 1),
    lambda: _cpu.mp_linear(xn, 0, *arrays, buckets, 64, None, 0, yn, 1), 20_000,
    "_cpu.mp_linear (numpy views made once, weight re-validated)")  # fmt: skip
row("mp_linear 64x64 M=1: _cpu.mp_linear_ptr (cached handle)",
    lambda: _cpu.mp_linear_ptr(handle, x.data_ptr(), 0, 1, 64, 1, 0, 0, y.data_ptr(), 64, 1),
    lambda: _cpu.mp_linear(x.numpy(), 0, mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(),
                           buckets, 64, None, 0, y.numpy(), 1), 20_000,
    "_cpu.mp_linear (numpy views made per call, as backends/cpu.py does; weight re-validated)")  # fmt: skip

# 3. quantized table lookup of a batch-1 history of 50 ids (csrc/embedding/embedding.h)
emb = QuantizedEmbedding.from_float(torch.nn.Embedding(10_000, 64), codes(10_000))
ids = torch.randint(0, 10_000, (1, 50), generator=g)
native = lambda: emb(ids)  # noqa: E731


def torch_path():
    ok = cpu_backend.eager_ok
    cpu_backend.eager_ok = lambda *a: False
    try:
        return emb(ids)
    finally:
        cpu_backend.eager_ok = ok


torch.testing.assert_close(native(), torch_path())
row("embedding lookup 50 ids x 64: native", native, torch_path, 2_000, "the torch ops (one gather per width bucket)")

# 4. Caser's vertical filter (4 x (5, 1)) on [256, 1, 5, 64]: F.conv2d on the dequantized filter
#    against the im2col + F.linear it stands for (quantize/modules.py, MixedPrecisionConv2d)
w = torch.randn(4, 1, 5, 1, generator=g)
xc = torch.randn(256, 1, 5, 64, generator=g)


def im2col():
    cols = F.unfold(xc, (5, 1))  # [B, 5, 64]
    return F.linear(cols.transpose(1, 2), w.view(4, 5)).transpose(1, 2).reshape(256, 4, 1, 64)


torch.testing.assert_close(F.conv2d(xc, w), im2col())
row("Caser vertical filter B=256: F.conv2d", lambda: F.conv2d(xc, w), im2col, 500, "unfold + F.linear + transposes")
print(json.dumps({"torch": torch.__version__, "isa": _cpu.cpu_isa("auto"), "load": os.getloadavg()}))
