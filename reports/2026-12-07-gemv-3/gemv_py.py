"""mix3 K x K act8 M = 1 through chord.mp_linear (the public API, as chord bench times it) and
through the binding alone (_cpu.mp_linear_ptr), at 1 and 2 threads, timed by chord bench's own
measure() (rounds of back-to-back calls, min of the round means), >= 256 MiB of rotated copies.
Usage: python gemv_py.py [K] [REPEATS] [MAX_S]   (reports/2026-12-07-gemv-3.md)"""

import sys

import torch

import chord
import chord_kernels._cpu as _cpu
from chord.bench.config import NAMED_MIXES, mix_codes
from chord.bench.runner import num_threads
from chord.bench.suites.common import clone_packed
from chord.bench.timing import TimingPolicy, measure

K = N = int(sys.argv[1]) if len(sys.argv) > 1 else 4096
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 2
policy = TimingPolicy(max_time_s=float(sys.argv[3]) if len(sys.argv) > 3 else 0.3)
g = torch.Generator().manual_seed(0)
w = torch.randn(N, K, generator=g)
x = torch.randn(1, K, generator=g)
mw = chord.pack(w, mix_codes(NAMED_MIXES["mix3"], N, seed=0))
n = -(-(256 << 20) // mw.nbytes)
A = clone_packed(mw, n)
for a in A:
    chord.mp_linear(x, a, act_bits=8)
H = [a.__dict__["_cpu_handle"].entry[6] for a in A]
y = torch.empty(1, N)
xp, yp = x.data_ptr(), y.data_ptr()


def api(i):
    return chord.mp_linear(x, A[i % n], act_bits=8)


def binding_for(t):
    return lambda i: _cpu.mp_linear_ptr(H[i % n], xp, 0, 1, K, 1, 0, 8, yp, N, t)


for _ in range(reps):
    for t in (1, 2):
        with num_threads(t):
            for name, fn in (("api", api), ("binding", binding_for(t))):
                s = measure(fn, policy)
                print(
                    f"K={K} t={t} {name:8s} min {s['min'] * 1e3:.4f} ms  median {s['median'] * 1e3:.4f}  ({mw.nbytes / s['min'] / 1e9:.1f} GB/s)",
                    flush=True,
                )
