"""Same-process A/B of the AVX2 act8 int8 GEMM variants, the direct path and torch's dynamic int8.

Variants set environment switches read by the experiment build per call (see the report), so
every variant of a case is timed in one process, alternated round by round (min over rounds of
the min wall time over repeats). Weights: the cost fit's seeded layers (tools/mp_linear_i8_costfit.py),
cached under $AVX2GEMM_CACHE. One line per case and thread count; same=True: every chord variant
wrote the same output bytes.

    SHAPES=4096x4096 MIXES=mix3 MS=16,32,64,256 VARS=old,new,direct,dyn python bench.py
"""

import itertools
import os
import pickle
import sys
import time
import zlib

import numpy as np
import torch

from chord.backends import cpu as cpu_backend

_cpu = cpu_backend._cpu
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from mp_linear_i8_costfit import weight as packed_weight  # noqa: E402

CACHE = os.environ.get("AVX2GEMM_CACHE", "/tmp/avx2gemm_cache")
SWITCHES = ("CHORD_OLD16", "CHORD_PF_BURST", "CHORD_GEMM_VAR")
VARIANTS = {
    "old": {"CHORD_OLD16": "1"},
    "burst": {"CHORD_PF_BURST": "1"},
    "new": {},
}  # others: CHORD_GEMM_VAR=<name> (vNAME)


def weight(N, K, mix):
    path = f"{CACHE}/{N}x{K}_{mix}.pkl"
    if not os.path.exists(path):
        mw = packed_weight(N, K, mix)
        args = (mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(), mw.buckets, K)
        os.makedirs(CACHE, exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump(args, f)
    with open(path, "rb") as f:
        a = pickle.load(f)
    return tuple(v.view(getattr(np, v.dtype.name)) if isinstance(v, np.ndarray) else v for v in a)


# TIMER=cpu: this thread's CPU time (1 thread only; a shared machine inflates it less than wall time)
CLOCK = time.thread_time_ns if os.environ.get("TIMER") == "cpu" else time.perf_counter_ns


def wall_ms(f, budget_s):
    f()
    best, n, end = float("inf"), 0, time.perf_counter() + budget_s
    while n < 3 or (n < 400 and time.perf_counter() < end):
        t0 = CLOCK()
        f()
        best, n = min(best, CLOCK() - t0), n + 1
    return best / 1e6


def env_list(name, default, conv=str):
    return [conv(v) for v in os.environ.get(name, default).split(",")]


def main():
    threads = env_list("THREADS", "1,2", int)
    variants = env_list("VARS", "old,new,direct,dyn")
    budget = float(os.environ.get("BUDGET", "0.3"))
    rounds = int(os.environ.get("ROUNDS", "2"))
    isa = os.environ.get("ISA", "avx2")
    shapes = [tuple(map(int, s.split("x"))) for s in env_list("SHAPES", "4096x4096")]
    for (N, K), mix in itertools.product(shapes, env_list("MIXES", "mix3")):
        args = weight(N, K, mix)
        dyn = None
        if "dyn" in variants:
            lin = torch.nn.Linear(K, N)
            dyn = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear}, torch.qint8)
        for M in env_list("MS", "16,32,64,256", int):
            x = torch.randn(M, K, generator=torch.Generator().manual_seed(M))
            y = torch.empty(M, N)
            for nt in threads:
                best, crcs = {}, set()
                for _ in range(rounds):
                    for v in variants:
                        for k in SWITCHES:
                            os.environ.pop(k, None)
                        if v == "dyn":
                            torch.set_num_threads(nt)
                            with torch.no_grad():
                                t = wall_ms(lambda: dyn(x), budget)
                            best[v] = min(best.get(v, float("inf")), t)
                            continue
                        if v.startswith("v"):
                            os.environ["CHORD_GEMM_VAR"] = v[1:]
                        else:
                            os.environ.update(VARIANTS.get(v, {}))
                        path = "direct" if v == "direct" else "auto" if v == "auto" else "panel"

                        def run():
                            _cpu.mp_linear(x.numpy(), 0, *args[:5], K, None, 8, y.numpy(), nt, isa, path)

                        y.fill_(float("nan"))
                        t = wall_ms(run, budget)
                        best[v] = min(best.get(v, float("inf")), t)
                        crcs.add(zlib.crc32(np.ascontiguousarray(y.numpy()).tobytes()))
                cells = " ".join(f"{v}={best[v]:.3f}" for v in variants)
                print(f"{N}x{K} {mix} M={M} t={nt} {cells} same={len(crcs) == 1}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
