"""Where one SASRec backbone forward spends its time, fp32 ``nn.Linear`` against chord's
quantized linears (mix3, exact / act8), 1 torch thread, under ``torch.inference_mode`` as the
bench runs; best of REPEATS ``timeit`` repeats of the thread's CPU time, µs per call.

    PYTHONPATH=$PWD/python:$PWD python reports/2026-12-07-e2e-2/backbone_profile.py

Prints one JSON line per case:
1. ``layer``: one layer call peeled level by level (module call -> ``forward`` -> the one-step
   fast path ``linear_cached`` where this tree has it -> the general path's ``linear_packed`` /
   ``mp_linear_eager`` -> the binding ``_cpu.mp_linear_ptr``), beside ``nn.Linear`` and
   ``F.linear``, for 64x64, 64x256 and 256x64 at M = 1 and M = 50.
2. ``sasrec``: the model as the e2e suite builds it (100,000 items, a 50-item history): forward,
   score, forward + score, and the forward with every Linear answering ``x.new_empty`` ("null"):
   (forward - null) / 12 is a layer's cost inside the model. Variants interleaved per repeat.
PROFILE=1 adds torch.profiler tables of the forwards (torch ops only: chord's calls are not ops).
"""

import copy
import json
import os
import time
import timeit

import torch
import torch.nn.functional as F

from chord.backends import cpu as cpu_backend
from chord.backends.cpu import _cpu
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.e2e import _quantized, build_model
from chord.functional import linear_packed
from chord.quantize import MixedPrecisionLinear

REPEATS = int(os.environ.get("REPEATS", "15"))
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
MIX = parse_mix("mix3")[1]  # the e2e suite's mix


def us(fn, number: int) -> float:
    t = timeit.Timer(fn, timer=time.thread_time).repeat(repeat=REPEATS, number=number)
    return min(t) / number * 1e6


def emit(**kw) -> None:
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in kw.items()}), flush=True)


def layer_rows(K: int, N: int, M: int, number: int) -> None:
    with torch.inference_mode():
        lin = torch.nn.Linear(K, N).eval()
        x = torch.randn(1, M, K, generator=g)
        for act_bits in (0, 8):
            q = MixedPrecisionLinear.from_float(lin, mix_codes(MIX, N, seed=N), act_bits=act_bits).eval()
            q(x)  # builds the handle
            d, bias = q.__dict__, q._parameters["bias"]
            packed = (q.qweight, q.scales, q.zeros, q.perm, q.buckets, K)
            cache = d["_cpu_handle"]
            handle = cache.handle
            y = torch.empty(1, M, N)
            xp, yp, bp = x.data_ptr(), y.data_ptr(), bias.data_ptr()
            cases = {
                "nn.Linear (module call)": lambda: lin(x),
                "F.linear": lambda: F.linear(x, lin.weight, lin.bias),
                "chord module call": lambda: q(x),
                "chord forward()": lambda: q.forward(x),
            }
            if hasattr(cpu_backend, "linear_cached"):
                bufs = d["_buffers"]
                cases["linear_cached"] = lambda: cpu_backend.linear_cached(
                    cache, bufs, d["buckets"], x, bias, act_bits, N, K
                )
            cases |= {
                "linear_packed": lambda: linear_packed(d, x, packed, N, bias, act_bits),
                "mp_linear_eager": lambda: cpu_backend.mp_linear_eager(x, handle, N, K, bias, act_bits),
                "eager_ok": lambda: cpu_backend.eager_ok(x),
                "x.new_empty": lambda: x.new_empty(1, M, N),
                "_cpu.mp_linear_ptr": lambda: _cpu.mp_linear_ptr(handle, xp, 0, M, K, 1, bp, act_bits, yp, N, 1),
            }
            emit(case=f"layer K={K} N={N} M={M}", act_bits=act_bits, **{k: us(f, number) for k, f in cases.items()})


def null_linears(m: torch.nn.Module) -> torch.nn.Module:
    """A copy of m whose Linear layers (float or swapped) only allocate their output."""
    m = copy.deepcopy(m)
    for mod in m.modules():
        if isinstance(mod, (torch.nn.Linear, MixedPrecisionLinear)):
            mod.forward = (lambda n: lambda x: x.new_empty(*x.shape[:-1], n))(mod.out_features)
    return m


if os.environ.get("LAYERS", "1") != "0":
    for K, N in ((64, 64), (64, 256), (256, 64)):
        for M in (1, 50):
            layer_rows(K, N, M, 5_000 if M == 1 else 2_000)

ITEMS = int(os.environ.get("ITEMS", "100000"))
with torch.inference_mode():  # as the bench builds and runs them
    model = build_model("sasrec", ITEMS, 0)
    seqs = torch.randint(1, ITEMS + 1, (1, 50), generator=torch.Generator().manual_seed(11))
    variants = {"fp32": model}
    for path, act in (("exact", 0), ("act8", 8)):
        variants[f"{path} backbone"] = _quantized(model, MIX, False, act, 0)
    nulls = {name: null_linears(m) for name, m in variants.items()}
    n_linear = sum(isinstance(m, torch.nn.Linear) for m in model.modules())
    parts = ("forward", "null forward", "score", "forward+score")
    best = {(name, p): float("inf") for name in variants for p in parts}
    hs = {name: m(seqs) for name, m in variants.items()}
    for _ in range(REPEATS):  # interleaved: a busy machine's drift falls on every variant
        for name, m in variants.items():
            for part, fn, number in (
                ("forward", lambda m=m: m(seqs), 100),
                ("null forward", lambda m=nulls[name]: m(seqs), 100),
                ("score", lambda m=m, h=hs[name]: m.score(h), 30),
                ("forward+score", lambda m=m: m.score(m(seqs)), 30),
            ):
                t = timeit.Timer(fn, timer=time.thread_time).timeit(number) / number * 1e6
                best[name, part] = min(best[name, part], t)
for name in variants:
    res = {p: best[name, p] for p in parts}
    res["linear in situ"] = (res["forward"] - res["null forward"]) / n_linear
    emit(case=f"sasrec items={ITEMS} ({n_linear} Linear)", variant=name, **res)

if os.environ.get("PROFILE"):
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode():
        for name, m in variants.items():
            for _ in range(20):
                m(seqs)
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(200):
                    m(seqs)
            print(f"== {name}: forward x200")
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18))
