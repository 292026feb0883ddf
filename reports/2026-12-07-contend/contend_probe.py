"""Beside one busy core (chord.bench.contend, as ``chord bench --contend``): per-call wall times of
the chord kernels of the contended bench at 1 and 2 threads, alternating the thread count block by
block (a block: calls for ~BLOCK_S seconds), so both counts see the same machine. Prints min, p10,
median, p90 per case and thread count, and t2/t1 of min and median.

CASES (comma list, default all): pack, gemv8 (act8 M=1 4096^2), gemv0 (exact M=1), gemm8 (act8
M=16), gemm0 (exact M=16), topk (mp_topk, 1 x 64 against 100k rows, k=10), apply (DeviceModel.apply).
ROUNDS blocks per thread count (default 20). BUSY=0: no busy loop (the uncontended check).
"""

import os
import time

import numpy as np
import torch

import chord
from chord.backends import cpu as cpu_backend
from chord.bench import contend
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import clone_packed, seeded_randn

ROUNDS = int(os.environ.get("ROUNDS", "20"))
BLOCK_S = float(os.environ.get("BLOCK_S", "0.05"))
BUSY = int(os.environ.get("BUSY", "1"))
sel = os.environ.get("CASES", "pack,gemv8,gemv0,gemm8,gemm0,topk,apply").split(",")
mix = parse_mix("mix3")[1]


def cases():
    N = K = 4096
    w = seeded_randn(N, K, seed=1000)
    codes = mix_codes(mix, N, seed=0)
    out = {}
    if "pack" in sel:
        ws = [seeded_randn(N, K, seed=i) for i in range(3)]
        out["pack"] = lambda i: chord.pack(ws[i % 3], codes)
    if any(c.startswith("gem") for c in sel):
        mws = clone_packed(chord.pack(w, codes), 40)  # ~240 MB: streamed from memory
        x1, x16 = seeded_randn(1, K, seed=1), seeded_randn(16, K, seed=2)
        for name, x, ab in (("gemv8", x1, 8), ("gemv0", x1, 0), ("gemm8", x16, 8), ("gemm0", x16, 0)):
            if name in sel:
                out[name] = lambda i, x=x, ab=ab: chord.mp_linear(x, mws[i % 40], act_bits=ab)
    if "topk" in sel:
        rows, dim = 100_000, 64
        table = seeded_randn(rows, dim, seed=7)
        tws = clone_packed(chord.pack(table, mix_codes(mix, rows, seed=0)), 8)
        xq = seeded_randn(1, dim, seed=9)  # the bench's scoring case: B=1, k=10
        out["topk"] = lambda i: chord.mp_topk(xq, tws[i % 8], 10)
    if "apply" in sel:
        import copy

        from chord.bench.suites.e2e import build_model
        from chord.quantize import DeviceModel
        from chord.quantize.strategy import Strategy

        model = build_model("sasrec", 100_000, 0)
        dms = [DeviceModel(copy.deepcopy(model), embeddings=True) for _ in range(3)]
        strategy = Strategy(
            {ln: mix_codes(mix, int(f.shape[0]), seed=j) for j, (ln, f) in enumerate(dms[0].frozen.items())}
        )
        out["apply"] = lambda i: dms[i % 3].apply(strategy)
    return out


def main():
    torch.manual_seed(0)
    fns = cases()
    res = {}
    pool = {}  # case -> the pool's counts over its 2-thread blocks (chord_kernels._cpu.pool_stats)
    i = 0
    with contend.busy_processes(BUSY), torch.inference_mode():
        time.sleep(0.3)
        for name, fn in fns.items():
            for t in (1, 2):  # warm-up
                torch.set_num_threads(t)
                for _ in range(3):
                    fn(i)
                    i += 1
            for r in range(ROUNDS):
                for t in (1, 2) if r % 2 == 0 else (2, 1):
                    torch.set_num_threads(t)
                    p0 = getattr(cpu_backend, "pool_stats", dict)()
                    tb = time.perf_counter()
                    while time.perf_counter() - tb < BLOCK_S or not res.get((name, t, r)):
                        t0 = time.perf_counter()
                        fn(i)
                        res.setdefault((name, t, r), []).append(time.perf_counter() - t0)
                        i += 1
                    if t == 2:
                        acc = pool.setdefault(name, {})
                        for k, v in getattr(cpu_backend, "pool_stats", dict)().items():
                            acc[k] = acc.get(k, 0) + v - p0.get(k, 0)
    for name in fns:
        row = {}
        for t in (1, 2):
            a = np.concatenate([res[(name, t, r)] for r in range(ROUNDS)]) * 1e3
            row[t] = a
            print(
                f"{name:6s} t={t} n={a.size:5d} min {a.min():8.3f} p10 {np.percentile(a, 10):8.3f} "
                f"med {np.median(a):8.3f} p90 {np.percentile(a, 90):8.3f}"
            )
        a, c = row[1], row[2]
        print(
            f"{name:6s} t2/t1 min {c.min() / a.min():.2f} med {np.median(c) / np.median(a):.2f}  pool at t=2 "
            f"{pool.get(name, {})}",
            flush=True,
        )
    print("busy", BUSY, "load", os.getloadavg())


if __name__ == "__main__":
    main()
