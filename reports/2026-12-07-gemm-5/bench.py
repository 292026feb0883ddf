"""Same-process A/B of the act8 int8 GEMM regimes on AVX-512 VNNI, and the direct path.

Needs a build with experiment.patch applied (it reads GEMM5_FUSED / GEMM5_PACKED per call):
variants set them between timings, so every variant of a case is timed in the same process,
alternated round by round (min over rounds of the min wall time over repeats). Weights: the cost
fit's seeded layers (reports/2026-12-07-gemv-8/bench_m.py, cached under $GEMV8_CACHE). Prints one
line per case and thread count; same=True: every variant wrote the same output bytes.

    SHAPES=4096x4096,8192x8192 MIXES=mix3,u4,u8 MS=16,32,48,64,256 VARS=base,new,direct \
        python reports/2026-12-07-gemm-5/bench.py
"""

import itertools
import os
import sys
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "2026-12-07-gemv-8"))
from bench_m import _cpu, wall_ms, weight  # noqa: E402

VARIANTS = {
    "base": {"GEMM5_FUSED": "24"},  # before: register unpacking up to 24 rows, quad windows beyond
    "new": {},  # the build's kMFusedGemmI8 (64)
    "f128": {"GEMM5_FUSED": "128"},
    "fused": {"GEMM5_PACKED": "100000", "GEMM5_FUSED": "100000"},  # register unpacking at every M
    "pquad": {"GEMM5_PACKED": "100000", "GEMM5_FUSED": "0"},  # quad windows in packed order
}


def env_list(name, default, conv=str):
    return [conv(v) for v in os.environ.get(name, default).split(",")]


def cases():
    """(label, K, packed weight arguments, x, y) of every layer, mix and M asked for."""
    shapes = [tuple(map(int, s.split("x"))) for s in env_list("SHAPES", "4096x4096,8192x8192")]
    for (N, K), mix in itertools.product(shapes, env_list("MIXES", "mix3,u4,u8")):
        args = weight(N, K, mix)
        for M in env_list("MS", "16,24,32,48,64,128,256", int):
            x = torch.randn(M, K, generator=torch.Generator().manual_seed(M))
            yield f"{N}x{K} {mix} M={M}", K, args, x, torch.empty(M, N)


def time_variant(v, K, args, x, y, nt, budget):
    """Min wall ms of one variant (its environment set for the call) and its output's checksum."""
    for k in ("GEMM5_PACKED", "GEMM5_FUSED"):
        os.environ.pop(k, None)
    os.environ.update(VARIANTS.get(v, {}))
    path = "direct" if v == "direct" else "panel"

    def run():
        _cpu.mp_linear(x.numpy(), 0, *args[:5], K, None, 8, y.numpy(), nt, "avx512_vnni", path)

    y.fill_(float("nan"))
    t = wall_ms(run, budget)
    return t, zlib.crc32(np.ascontiguousarray(y.numpy()).tobytes())


def main():
    threads = env_list("THREADS", "1,2", int)
    variants = env_list("VARS", "base,new,direct")
    budget = float(os.environ.get("BUDGET", "0.2"))
    rounds = int(os.environ.get("ROUNDS", "2"))
    for label, K, args, x, y in cases():
        for nt in threads:
            best, crcs = {}, set()
            for _ in range(rounds):
                for v in variants:
                    t, crc = time_variant(v, K, args, x, y, nt, budget)
                    best[v] = min(best.get(v, float("inf")), t)
                    crcs.add(crc)
            cells = " ".join(f"{v}={best[v]:.3f}" for v in variants)
            print(f"{label} t={nt} {cells} same={len(crcs) == 1}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
