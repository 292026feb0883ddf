"""Single-thread CPU time of chord mp_linear vs torch fp32 F.linear (K = N = 4096, 3.0 bits).

Measures ``time.thread_time`` (CPU time of this thread), which a shared, oversubscribed
machine does not inflate the way it inflates wall time; a quick check while developing the
kernels, not a replacement for ``chord bench``. Eight weight sets are rotated (> L3).

    python tools/mp_linear_cputime.py [M ...]        # default: 1 16 256
"""

from __future__ import annotations

import sys
import time

import torch

import chord
from chord.bench.timing import per_call

N = K = 4096
SETS = 8


def mix3_codes(n: int) -> torch.Tensor:
    """75 % 2-bit, 12.5 % 4-bit, 12.5 % 8-bit (default codebook), shuffled."""
    c = torch.full((n,), 1, dtype=torch.uint8)
    c[: n // 8] = 2
    c[n // 8 : n // 4] = 3
    return c[torch.randperm(n)]


def cpu_ms(f, rounds: int) -> float:
    ts = per_call(f, rounds, warmup=2, clock=time.thread_time)
    return ts[len(ts) // 4] * 1e3  # lower quartile


def main(ms: list[int]) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    mws = [chord.pack(torch.randn(N, K), mix3_codes(N)) for _ in range(SETS)]
    ws = [torch.randn(N, K) for _ in range(SETS)]
    print(f"chord kernels: {chord.backends.cpu._cpu.cpu_isa()}; 1 thread; CPU ms (lower quartile)")
    for M in ms:
        x = torch.randn(M, K)
        rounds = 20 if M <= 16 else 6
        tf = cpu_ms(lambda i: torch.nn.functional.linear(x, ws[i % SETS]), rounds)
        row = [f"M={M:<4d} torch fp32 {tf:8.2f}"]
        for act in (0, 8):
            t = cpu_ms(lambda i: chord.mp_linear(x, mws[i % SETS], act_bits=act), rounds)
            row.append(f"chord act_bits={act} {t:8.2f} ({tf / t:.2f}x)")
        print("  ".join(row), flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1, 16, 256])
