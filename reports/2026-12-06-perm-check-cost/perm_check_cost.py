"""What ``chord.ops.check_permutation`` (torch reductions, O(N)) costs, and where it runs.

1. Counts: over 100 eager calls (the fast path) and 100 dispatcher calls (``torch.ops.chord.*``)
   on one weight, how many times check_permutation runs and how many of those do the O(N) pass
   (the rest hit the per-tensor-version cache).
2. Per-call time (thread CPU time, best of 15 timeit repeats, M = 1, one thread) of the
   dispatcher calls with the cache hit (one perm, as in serving) and with the cache dropped
   before each call (a new perm version every call: the O(N) pass every time), for a 64x64
   mp_linear and a 100k-item mp_topk (K = 64, k = 10).

    PYTHONPATH=<tree>/python:<tree> python reports/2026-12-06-perm-check-cost/perm_check_cost.py
"""

import json
import sys
import time
import timeit

import torch

import chord
from chord import ops

torch.manual_seed(0)
torch.set_num_threads(1)
mw = chord.pack(torch.randn(64, 64), torch.randint(1, 4, (64,), dtype=torch.uint8))
table = chord.pack(torch.randn(100_000, 64), torch.randint(0, 4, (100_000,), dtype=torch.uint8))
x, u = torch.randn(1, 64), torch.randn(1, 64)

counts = {"calls": 0, "full": 0}
_orig = ops.check_permutation


def counting(op, perm, N):
    counts["calls"] += 1
    key = None if perm.is_inference() else perm._version
    counts["full"] += perm.__dict__.get("_chord_perm_ok") != key
    return _orig(op, perm, N)


def count(fn, n=100):
    counts.update(calls=0, full=0)
    ops.check_permutation = counting
    try:
        for _ in range(n):
            fn()
    finally:
        ops.check_permutation = _orig
    return dict(counts)


def best_us(fn, number):
    fn()
    return min(timeit.Timer(fn, timer=time.thread_time).repeat(number=number, repeat=15)) / number * 1e6


def op_linear():
    return torch.ops.chord.mp_linear(x, mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.K)


def op_topk():
    return torch.ops.chord.mp_topk(u, table.qweight, table.scales, table.zeros, table.perm, table.buckets, table.K, 10)


def dropped(fn, perm):
    def call():
        perm.__dict__.pop("_chord_perm_ok", None)
        return fn()

    return call


with torch.no_grad():
    for t in (mw.perm, table.perm):
        t.__dict__.pop("_chord_perm_ok", None)
    out = {
        "fast_mp_linear_checks": count(lambda: chord.mp_linear(x, mw)),
        "fast_mp_topk_checks": count(lambda: chord.mp_topk(u, table, 10)),
        "op_mp_linear_checks": count(op_linear),
        "op_mp_topk_checks": count(op_topk),
        "fast_mp_linear_64x64_us": best_us(lambda: chord.mp_linear(x, mw), 2000),
        "fast_mp_topk_100k_us": best_us(lambda: chord.mp_topk(u, table, 10), 50),
        "op_mp_linear_64x64_cached_us": best_us(op_linear, 1000),
        "op_mp_linear_64x64_recheck_us": best_us(dropped(op_linear, mw.perm), 1000),
        "op_mp_topk_100k_cached_us": best_us(op_topk, 50),
        "op_mp_topk_100k_recheck_us": best_us(dropped(op_topk, table.perm), 50),
    }
out["chord"] = chord.__file__
json.dump(out, sys.stdout)
print()
