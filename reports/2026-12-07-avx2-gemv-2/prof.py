# loop M=1 mix3 act8 calls on rotated weights for perf record. usage: python prof.py SO K seconds [mix]
import importlib.util
import sys
import time

import numpy as np

import chord
from chord import host_memory
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import seeded_randn

so, K, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
mixname = sys.argv[4] if len(sys.argv) > 4 else "mix3"
t = int(sys.argv[5]) if len(sys.argv) > 5 else 1
spec = importlib.util.spec_from_file_location("x._cpu", so)
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
N = K
w = seeded_randn(N, K, seed=1)
x = seeded_randn(1, K, seed=2)
_, mix = parse_mix(mixname)
mw = chord.pack(w, mix_codes(mix, N, seed=0))
nb = mw.qweight.numel()
n = max(2, -(-(256 << 20) // nb))
qs = [host_memory.empty_uint8(nb).copy_(mw.qweight).numpy() for _ in range(n)]
sc, ze, pe = mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy()
bk = [int(v) for v in mw.buckets]
xn = x.numpy()
y = np.empty((1, N), np.float32)
t0 = time.time()
i = 0
while time.time() - t0 < secs:
    m.mp_linear(xn, 0, qs[i % n], sc, ze, pe, bk, K, None, 8, y, t)
    i += 1
print(i, "calls", (time.time() - t0) / i * 1e3, "ms/call")
