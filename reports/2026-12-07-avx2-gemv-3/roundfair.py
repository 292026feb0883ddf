"""How much a round of two calls (the bench's rounds at 4096^2 t=2: ceil(0.2 ms / call)) moves the
min against rounds of one call, for chord (public API) and for the read probe's read of the same
bytes, interleaved. usage: python roundfair.py [rounds] [threads]"""

import sys
import time

import torch

import chord
from chord import host_memory
from chord.backends import cpu as cb
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import clone_packed, seeded_randn

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
t = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(t)
K = 4096
x = seeded_randn(1, K, seed=2)
_, mix = parse_mix("mix3")
mw = chord.pack(seeded_randn(K, K, seed=1), mix_codes(mix, K, seed=0))
n = max(2, -(-(256 << 20) // mw.nbytes))
mws = clone_packed(mw, n)
nb = mw.nbytes
buf = host_memory.empty_uint8(nb * n)
buf.fill_(1)
a = buf.numpy()
read = cb._cpu.read_stream
best = {"chord 1": 1e9, "chord 2": 1e9, "probe 1": 1e9, "probe 2": 1e9}
for _ in range(rounds):
    for i in range(n):
        t0 = time.perf_counter()
        chord.mp_linear(x, mws[i], act_bits=8)
        best["chord 1"] = min(best["chord 1"], time.perf_counter() - t0)
    for i in range(0, n - 1, 2):
        t0 = time.perf_counter()
        chord.mp_linear(x, mws[i], act_bits=8)
        chord.mp_linear(x, mws[i + 1], act_bits=8)
        best["chord 2"] = min(best["chord 2"], (time.perf_counter() - t0) / 2)
    for i in range(n):
        t0 = time.perf_counter()
        read(a[i * nb : (i + 1) * nb], t, 0, False, 4)
        best["probe 1"] = min(best["probe 1"], time.perf_counter() - t0)
    for i in range(0, n - 1, 2):
        t0 = time.perf_counter()
        read(a[i * nb : (i + 1) * nb], t, 0, False, 4)
        read(a[(i + 1) * nb : (i + 2) * nb], t, 0, False, 4)
        best["probe 2"] = min(best["probe 2"], (time.perf_counter() - t0) / 2)
print(f"t={t} 4096^2 mix3 act8, min per call over rounds of 1 and of 2 calls:")
for k, v in best.items():
    print(f"  {k}: {v * 1e3:.4f} ms  {nb / v / 1e9:.1f} GB/s")
print(
    f"  chord / probe, rounds of 1: {best['probe 1'] / best['chord 1'] * 100:.1f} %; "
    f"chord rounds of 2 / probe rounds of 1: {best['probe 1'] / best['chord 2'] * 100:.1f} %"
)
