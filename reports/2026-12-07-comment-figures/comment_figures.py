"""The per-call costs that code comments gave as figures (python/chord/functional.py,
python/chord/backends/cpu.py), measured again so the figures live here and the comments keep
the why. 1 torch thread unless a case says otherwise; best of REPEATS timeit repeats of the
thread's CPU time, µs per call. Prints one JSON line per case.

    PYTHONPATH=$PWD/python:$PWD python reports/2026-12-07-comment-figures/comment_figures.py

CASES=a,b selects cases (names below); the ``contended`` case (wall time beside one busy core,
chord.bench.contend) runs only when selected."""

import json
import os
import time
import timeit

import torch

import chord
from chord.backends import cpu as cpu_backend
from chord.backends.cpu import _cpu
from chord.bench import contend
from chord.bench.config import mix_codes, parse_mix
from chord.bench.timing import per_call
from chord.functional import _ACT_BITS, _ACT_DTYPES, _all_finite, check_linear_call

REPEATS = int(os.environ.get("REPEATS", "15"))
CASES = os.environ.get("CASES", "checks,version,lookup,new_empty,call,linear,topk,pack").split(",")
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
MIX3 = parse_mix("mix3")[1]


def us(fn, number: int) -> float:
    """Best of REPEATS: CPU µs of this thread per call of fn."""
    return min(timeit.Timer(fn, timer=time.thread_time).repeat(repeat=REPEATS, number=number)) / number * 1e6


def emit(case: str, **figures) -> None:
    print(json.dumps({"case": case, **{k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}}))


x64 = torch.randn(1, 64, generator=g)
mw64 = chord.pack(torch.randn(64, 64, generator=g), mix_codes(MIX3, 64, seed=0))
chord.mp_linear(x64, mw64)  # builds the cached handle

if "checks" in CASES:  # functional.linear_packed: one expression of attribute reads, else the full checks

    def one_expression(x=x64, K=64, bias=None, act_bits=0):
        return x.dtype in _ACT_DTYPES and x.ndim and x.shape[-1] == K and act_bits in _ACT_BITS and bias is None

    emit("linear call checks, 64x64 M=1: the one expression / check_linear_call / torch.device('cpu') alone",
         expression_us=us(one_expression, 200_000),
         full_us=us(lambda: check_linear_call(x64, mw64.qweight, 64, 64, None, 0), 200_000),
         device_us=us(lambda: torch.device("cpu"), 200_000))  # fmt: skip

if "version" in CASES:  # backends.cpu.packed_handle: no _version read on inference tensors
    with torch.inference_mode():
        t = torch.zeros(4)

    def read_version():
        try:
            return t._version
        except RuntimeError:
            return None

    emit("inference tensor: _version (raises) vs is_inference()", version_raise_us=us(read_version, 20_000),
         is_inference_us=us(t.is_inference, 200_000))  # fmt: skip

if "lookup" in CASES:  # backends.cpu: module-level aliases of torch functions
    alias = torch.is_grad_enabled
    emit("torch.is_grad_enabled() vs an alias()", dotted_us=us(lambda: torch.is_grad_enabled(), 500_000),
         alias_us=us(lambda: alias(), 500_000))  # fmt: skip

if "new_empty" in CASES:  # backends.cpu.mp_linear_eager: sizes as int arguments
    emit("x.new_empty(1, 64) vs ((1, 64)) vs (64).view(1, 64)", ints_us=us(lambda: x64.new_empty(1, 64), 200_000),
         tuple_us=us(lambda: x64.new_empty((1, 64)), 200_000),
         view_us=us(lambda: x64.new_empty(64).view(1, 64), 200_000))  # fmt: skip

if "call" in CASES:  # functional.linear_packed inlines bypass_handle's lines

    def nop(a, b, c, d):
        return None

    emit("a 4-argument Python call vs chord.mp_linear 64x64 M=1", call_us=us(lambda: nop(1, 2, 3, 4), 500_000),
         mp_linear_us=us(lambda: chord.mp_linear(x64, mw64), 20_000))  # fmt: skip

if "linear" in CASES:  # backends.cpu "eager fast path": the bypass vs the dispatcher, 64 x 64, M = 1
    w, h = mw64.packed, mw64.__dict__["_cpu_handle"].handle
    y = torch.empty(1, 64)
    emit("mp_linear 64x64 M=1: kernel (cached handle) / chord.mp_linear (bypass) / torch.ops (dispatcher)",
         kernel_us=us(lambda: _cpu.mp_linear_ptr(h, x64.data_ptr(), 0, 1, 64, 1, 0, 0, y.data_ptr(), 64, 1), 20_000),
         bypass_us=us(lambda: chord.mp_linear(x64, mw64), 20_000),
         dispatcher_us=us(lambda: torch.ops.chord.mp_linear(x64, *w, None, 0), 20_000))  # fmt: skip

if "topk" in CASES:  # functional.mp_topk: the bypass vs the dispatcher on a 100k-item scan
    mwt = chord.pack(torch.randn(100_000, 64, generator=g), mix_codes(MIX3, 100_000, seed=1))
    xt = torch.randn(1, 64, generator=g)
    chord.mp_topk(xt, mwt, 10)
    emit("mp_topk 100k x 64 items, k=10, M=1: bypass / dispatcher",
         bypass_us=us(lambda: chord.mp_topk(xt, mwt, 10), 200),
         dispatcher_us=us(lambda: torch.ops.chord.mp_topk(xt, *mwt.packed, 10, None, 0), 200))  # fmt: skip

if "pack" in CASES:  # functional.pack: the C++ packer checks NaN/Inf, no separate pass first
    wp = torch.randn(4096, 4096, generator=g)
    cp = mix_codes(MIX3, 4096, seed=2)
    emit("4096^2 mix3, 1 thread: chord.pack / a numpy finite pass over the weight",
         pack_us=us(lambda: chord.pack(wp, cp), 3), finite_pass_us=us(lambda: _all_finite(wp), 3))  # fmt: skip

if "contended" in CASES:  # functional._all_finite: no torch reduction before the packer
    w1, c1 = torch.randn(1024, 1024, generator=g), mix_codes(MIX3, 1024, seed=3)
    fns = {"chord.pack": lambda i: chord.pack(w1, c1), "torch.aminmax + chord.pack": lambda i: (torch.aminmax(w1),
           chord.pack(w1, c1))}  # fmt: skip
    with contend.busy_processes(1) as busy, torch.inference_mode():
        for name, fn in fns.items():
            for t in (1, 2):
                torch.set_num_threads(t)
                s = per_call(fn, 21, warmup=3)  # wall time: waiting for a descheduled thread is the point
                emit(f"1024^2 mix3 beside one busy core: {name}", threads=t, min_ms=s[0] * 1e3, median_ms=s[10] * 1e3)
        emit("busy", **{k: str(v) for k, v in busy.items()})
    torch.set_num_threads(1)

emit("run", torch=torch.__version__, isa=_cpu.cpu_isa("auto"), load=str(os.getloadavg()),
     have_cpp=cpu_backend.HAVE_CPP)  # fmt: skip
