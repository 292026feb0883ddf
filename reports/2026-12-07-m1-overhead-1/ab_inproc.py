"""Same-process interleaved A/B of the M = 1 act8 call as users call it, on one _cpu build:
  old: the route chord.mp_linear took before (functional.linear_packed -> backends.cpu.packed_handle
       -> backends.cpu.mp_linear_eager -> _cpu.mp_linear_ptr; the same functions main had, but for
       packed_handle's two added comparisons of N and K)
  new: chord.mp_linear (-> backends.cpu.linear_cached -> _cpu.mp_linear_ptr)
Rotated copies (>= 256 MiB: every call follows another copy's 6 MB stream), per round each
variant once per copy, the order of the variants alternating per copy; min and p10 per call.
usage: python ab_inproc.py ROUNDS SHAPES THREADS   e.g. 40 4096,8192 1,2
"""

import os
import sys
import time

import torch

import chord
from chord import functional as F
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import clone_packed, seeded_randn

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
shapes = [int(s) for s in (sys.argv[2] if len(sys.argv) > 2 else "4096").split(",")]
threads = [int(s) for s in (sys.argv[3] if len(sys.argv) > 3 else "1").split(",")]
_, mix = parse_mix("mix3")
print("load", os.getloadavg(), chord.__file__, flush=True)


def old(x, mw):
    d = mw.__dict__
    N, K = d["shape"]
    return F.linear_packed(d, x, (d["qweight"], d["scales"], d["zeros"], d["perm"], d["buckets"], K), N, None, 8)


def new(x, mw):
    return chord.mp_linear(x, mw, act_bits=8)


for K in shapes:
    x = seeded_randn(1, K, seed=2)
    mw = chord.pack(seeded_randn(K, K, seed=1), mix_codes(mix, K, seed=0))
    n = max(2, -(-(256 << 20) // mw.nbytes))
    mws = clone_packed(mw, n)
    for q in mws:
        assert torch.equal(old(x, q), new(x, q))
    for t in threads:
        torch.set_num_threads(t)
        ts = {"old": [], "new": []}
        for r in range(rounds):
            for i in range(n):
                order = (("old", old), ("new", new)) if (i + r) % 2 else (("new", new), ("old", old))
                for j, (lab, fn) in enumerate(order):
                    q = mws[(i + j * (n // 2)) % n]  # the two variants on copies far apart
                    t0 = time.perf_counter()
                    fn(x, q)
                    ts[lab].append(time.perf_counter() - t0)
        s = {k: sorted(v) for k, v in ts.items()}
        mn = {k: v[0] * 1e6 for k, v in s.items()}
        p10 = {k: v[len(v) // 10] * 1e6 for k, v in s.items()}
        print(
            f"1x{K}x{K} t={t}: old min {mn['old']:.2f} p10 {p10['old']:.2f} | new min {mn['new']:.2f} "
            f"p10 {p10['new']:.2f} us | old-new min {mn['old'] - mn['new']:+.2f} p10 {p10['old'] - p10['new']:+.2f} us"
            f" | load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
