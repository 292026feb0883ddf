"""Small-layer mp_linear timing (issue #5): torch F.linear (MKL) vs chord.mp_linear and the raw
C++ binding on each path, best of N calls, at a fixed torch thread count; with --models, also
one MixedPrecisionLinear call at M = 1 and the SASRec / Caser backbone forward (d = 64, 50-item
sequences, random 3.0-bit mix3 codes, as the e2e bench builds them) against the fp32 model.

    python scripts/small_linear.py --threads 1 --models

Timing is chord.bench's (``chord.bench.timing.measure``, one call per round); figures measured
with it are in reports/2026-11-28-cpu-kernels.md.
"""

from __future__ import annotations

import argparse

import torch

import chord
from chord.backends import cpu as cpu_backend
from chord.bench.timing import TimingPolicy, measure

SHAPES = [
    (1, 64, 64),
    (50, 64, 64),
    (256, 64, 64),
    (12800, 64, 64),
    (12800, 64, 256),
    (12800, 256, 64),
    (1, 4096, 4096),
    (16, 4096, 4096),
    (256, 4096, 4096),
]


def best(f, n):
    """Fastest of n calls, ms (after chord.bench's warm-up)."""
    policy = TimingPolicy(min_rounds=n, max_rounds=n, min_time_s=0.0, max_time_s=float("inf"), min_round_s=0.0)
    return measure(lambda i: f(), policy)["min"] * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--shapes", default=None, help="MxKxN,... (default: the issue #5 set)")
    ap.add_argument("--models", action="store_true", help="also a module call and the model backbones")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    shapes = SHAPES if a.shapes is None else [tuple(int(v) for v in s.split("x")) for s in a.shapes.split(",")]
    _cpu = cpu_backend._cpu
    print(f"threads={a.threads} isa={_cpu.cpu_isa()}  (ms, best of {a.reps}; x = F.linear / row)")
    print(f"{'M':>6} {'K':>5} {'N':>5} {'F.linear':>9} {'chord':>9} {'x':>6} {'direct':>9} {'panel':>9}  auto")
    for M, K, N in shapes:
        g = torch.Generator().manual_seed(0)
        w, x, b = torch.randn(N, K, generator=g), torch.randn(M, K, generator=g), torch.randn(N, generator=g)
        mw = chord.pack(w, torch.randint(0, 4, (N,), dtype=torch.uint8, generator=g))
        reps = a.reps if M * K * N < 1e9 else max(3, a.reps // 4)
        tf = best(lambda: torch.nn.functional.linear(x, w, b), reps)
        tc = best(lambda: chord.mp_linear(x, mw, b), reps)
        y = torch.empty(M, N)
        args = [
            x.numpy(),
            0,
            mw.qweight.numpy(),
            mw.scales.numpy(),
            mw.zeros.numpy(),
            mw.perm.numpy(),
            mw.buckets,
            K,
            b.numpy(),
            0,
            y.numpy(),
            a.threads,
        ]
        td = tp = float("nan")
        path = "n/a"
        if hasattr(_cpu, "mp_linear_path"):  # (older builds: one path, no path= argument)
            td = best(lambda: _cpu.mp_linear(*args, "auto", "direct"), reps)
            tp = best(lambda: _cpu.mp_linear(*args, "auto", "panel"), reps) if K <= 1024 else float("nan")
            path = _cpu.mp_linear_path(
                mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(), mw.buckets, K, M
            )
        print(f"{M:>6} {K:>5} {N:>5} {tf:9.4f} {tc:9.4f} {tf / tc:6.2f} {td:9.4f} {tp:9.4f}  {path}")
    if a.models:
        models(a.reps)


@torch.no_grad()
def models(reps):
    from chord.bench.config import parse_mix
    from chord.bench.suites.e2e import _quantized, build_model
    from chord.quantize.modules import MixedPrecisionLinear

    lin = torch.nn.Linear(64, 64)
    mod = MixedPrecisionLinear.from_float(lin, torch.randint(0, 4, (64,), dtype=torch.uint8))
    x = torch.randn(1, 64)
    tl, tm = best(lambda: lin(x), 10 * reps), best(lambda: mod(x), 10 * reps)
    print(f"module M=1 64x64: nn.Linear {tl * 1e3:.2f} us, MixedPrecisionLinear {tm * 1e3:.2f} us")
    for name in ("sasrec", "caser"):
        m = build_model(name, 1000, 0)
        q = _quantized(m, parse_mix("mix3")[1], False, 0, 0)
        for B in (1, 256):
            seqs = torch.randint(1, 1001, (B, 50))
            tf, tq = best(lambda: m(seqs), reps), best(lambda: q(seqs), reps)
            print(f"{name} backbone B={B}: fp32 {tf:.3f} ms, chord mix3 {tq:.3f} ms ({tf / tq:.2f}x)")


if __name__ == "__main__":
    main()
