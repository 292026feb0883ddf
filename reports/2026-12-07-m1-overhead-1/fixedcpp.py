"""The C++ call's fixed part, cold: mp_linear_ptr at M = 1 act8 on a small weight (N rows of
K = 4096, mix3; a few KB of weight) right after a 6 MB stream (the real kernel on another
rotated 4096^2 copy, untimed); fresh y per call. min / p10 over rounds. usage: fixedcpp.py ROUNDS"""

import os
import sys
import time

import torch

import chord
from chord.backends import cpu as cb
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import clone_packed, seeded_randn

rounds = int(sys.argv[1])
torch.set_num_threads(1)
m = cb._cpu
_, mix = parse_mix("mix3")
K = 4096
x = seeded_randn(1, K, seed=2)
big = chord.pack(seeded_randn(K, K, seed=1), mix_codes(mix, K, seed=0))
bigs = clone_packed(big, max(2, -(-(256 << 20) // big.nbytes)))
hb = [cb.packed_handle(cb.HandleCache(), q.packed)[6] for q in bigs]
res = {}
for N in (24, 96):
    small = chord.pack(seeded_randn(N, K, seed=3), mix_codes(mix, N, seed=0))
    hs = cb.packed_handle(cb.HandleCache(), small.packed)[6]
    y0 = torch.empty(1, K)
    ts = []
    for _r in range(rounds):
        for h in hb:
            m.mp_linear_ptr(h, x.data_ptr(), 0, 1, K, 1, 0, 8, y0.data_ptr(), K, 1)
            t0 = time.perf_counter()
            y = x.new_empty(1, N)
            m.mp_linear_ptr(hs, x.data_ptr(), 0, 1, K, 1, 0, 8, y.data_ptr(), N, 1)
            ts.append(time.perf_counter() - t0)
    ts.sort()
    print(
        f"{os.path.dirname(m.__file__)} N={N} K={K} M=1 act8 cold: min {ts[0] * 1e6:.2f} p10 {ts[len(ts) // 10] * 1e6:.2f} us load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
