"""Cold per-piece costs: each timed call follows a 6 MB weight stream (the real kernel on the next
rotated copy, untimed), as every call in the bench does. min over rounds. usage: cold.py [rounds]"""

import os
import sys
import time

import torch

import chord
from chord import functional as F
from chord.backends import cpu as cb
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import clone_packed, seeded_randn

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
torch.set_num_threads(1)
real = cb._cpu
K = 4096
x = seeded_randn(1, K, seed=2)
_, mix = parse_mix("mix3")
mw = chord.pack(seeded_randn(K, K, seed=1), mix_codes(mix, K, seed=0))
n = max(2, -(-(256 << 20) // mw.nbytes))
mws = clone_packed(mw, n)
for q in mws:
    chord.mp_linear(x, q, act_bits=8)
handles = [q.__dict__["_cpu_handle"].entry[6] for q in mws]
y = torch.empty(1, K)
xp, yp = x.data_ptr(), y.data_ptr()


class Stub:
    def __getattr__(self, a):
        return getattr(real, a)

    @staticmethod
    def mp_linear_ptr(*a):
        return None


stub = Stub()
d0 = mws[0].__dict__
extra = {}
try:
    import coldvariants

    extra = coldvariants.variants(globals())
except ImportError:
    pass
V = dict(
    timer=lambda i: None,
    new_empty=lambda i: x.new_empty(1, K),
    torch_empty=lambda i: torch.empty(1, K),
    pybind_M0=lambda i: real.mp_linear_ptr(handles[i], xp, 0, 0, K, 1, 0, 8, yp, K, 1),
    eager_ok=lambda i: cb.eager_ok(x),
    data_ptr2=lambda i: (x.data_ptr(), y.data_ptr()),
    api_stub=lambda i: chord.mp_linear(x, mws[i], act_bits=8),
    old_chain_stub=lambda i: F.linear_packed(
        mws[i].__dict__, x, (mws[i].qweight, mws[i].scales, mws[i].zeros, mws[i].perm, mws[i].buckets, K), K, None, 8
    ),
    cached_stub=lambda i: cb.linear_cached(
        mws[i].__dict__["_cpu_handle"], mws[i].__dict__, mws[i].__dict__["buckets"], x, None, 8, K, K
    ),
    min_stub=lambda i: stub.mp_linear_ptr(
        handles[i], x.data_ptr(), 0, 1, K, 1, 0, 8, x.new_empty(1, K).data_ptr(), K, 1
    ),
)
if os.environ.get("COLD_ONLY") != "1":
    V.update(extra)
if os.environ.get("COLD_ONLY") == "2":
    V = {k: V[k] for k in ["timer", "api_stub", "min_stub"] + list(extra)}
best = {k: 1e9 for k in V}
samples = {k: [] for k in V}
for _ in range(rounds):
    for k, f in V.items():
        cb._cpu = stub
        for i in range(n):
            real.mp_linear_ptr(handles[i - 1], xp, 0, 1, K, 1, 0, 8, yp, K, 1)
            t0 = time.perf_counter()
            f(i)
            t = time.perf_counter() - t0
            samples[k].append(t)
            if t < best[k]:
                best[k] = t
        cb._cpu = real
for k, v in best.items():
    s = sorted(samples[k])
    print(
        f"{k:14s} min {v * 1e6:6.2f}  p10 {s[len(s) // 10] * 1e6:6.2f}  p50 {s[len(s) // 2] * 1e6:6.2f} us cold",
        flush=True,
    )
