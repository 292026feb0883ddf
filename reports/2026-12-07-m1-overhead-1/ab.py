"""One tree's side of the interleaved A/B (run by ab.sh, base and new trees in alternating
processes): per-call min (and p10) of the public API as users call it.

  big:    chord.mp_linear(x, mw, act_bits=8), M = 1, 4096^2 and 8192^2 mix3, t = 1 and 2, over
          rotated copies (>= 256 MiB, as the bench: each call follows another copy's stream),
          min over rounds of one call each
  small:  chord.mp_linear at 1x64x64 and 16x64x64 mix3 act8 (hot: batches of 100 calls)
  module: a swapped nn.Linear (MixedPrecisionLinear.from_float, act_bits=8) at 1x64x64 and
          16x64x64, and 1x4096x4096 over rotated modules
Prints one line per case and a hash of each output (the trees must agree bit for bit).
usage: python ab.py ROUNDS
"""

import hashlib
import sys
import time

import torch
from torch import nn

import chord
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import clone_packed, seeded_randn
from chord.quantize.modules import MixedPrecisionLinear

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
_, mix = parse_mix("mix3")
out = []


def h(y):
    return hashlib.sha1(y.contiguous().view(torch.int32).numpy().tobytes()).hexdigest()[:10]


def big(K, threads):
    x = seeded_randn(1, K, seed=2)
    mw = chord.pack(seeded_randn(K, K, seed=1), mix_codes(mix, K, seed=0))
    n = max(2, -(-(256 << 20) // mw.nbytes))
    mws = clone_packed(mw, n)
    for q in mws:
        y = chord.mp_linear(x, q, act_bits=8)
    for t in threads:
        torch.set_num_threads(t)
        ts = []
        for _ in range(rounds):
            for q in mws:
                t0 = time.perf_counter()
                chord.mp_linear(x, q, act_bits=8)
                ts.append(time.perf_counter() - t0)
        ts.sort()
        out.append((f"api 1x{K}x{K} t={t}", ts[0], ts[len(ts) // 10], h(y)))
    torch.set_num_threads(1)


def hot(name, fn, y):
    ts = []
    for _ in range(rounds * 10):
        t0 = time.perf_counter()
        for _ in range(100):
            fn()
        ts.append((time.perf_counter() - t0) / 100)
    ts.sort()
    out.append((name, ts[0], ts[len(ts) // 10], h(y)))


def small():
    torch.set_num_threads(1)
    K = N = 64
    mw = chord.pack(seeded_randn(N, K, seed=3), mix_codes(mix, N, seed=0))
    lin = nn.Linear(K, N)
    with torch.no_grad():
        lin.weight.copy_(seeded_randn(N, K, seed=3))
        lin.bias.copy_(seeded_randn(N, seed=4))
    mod = MixedPrecisionLinear.from_float(lin, mix_codes(mix, N, seed=0), act_bits=8)
    for M in (1, 16):
        x = seeded_randn(M, K, seed=5)
        hot(f"api {M}x{K}x{N}", lambda: chord.mp_linear(x, mw, act_bits=8), chord.mp_linear(x, mw, act_bits=8))
        with torch.no_grad():
            hot(f"module {M}x{K}x{N}", lambda: mod(x), mod(x))


def module_big(K):
    torch.set_num_threads(1)
    lin = nn.Linear(K, K, bias=False)
    with torch.no_grad():
        lin.weight.copy_(seeded_randn(K, K, seed=1))
    mod = MixedPrecisionLinear.from_float(lin, mix_codes(mix, K, seed=0), act_bits=8)
    mws = clone_packed(mod.mw, max(2, -(-(256 << 20) // mod.mw.nbytes)))
    mods = [mod] + [MixedPrecisionLinear(q, act_bits=8) for q in mws[1:]]
    x = seeded_randn(1, K, seed=2)
    with torch.no_grad():
        for m in mods:
            y = m(x)
        ts = []
        for _ in range(rounds):
            for m in mods:
                t0 = time.perf_counter()
                m(x)
                ts.append(time.perf_counter() - t0)
    ts.sort()
    out.append((f"module 1x{K}x{K} t=1", ts[0], ts[len(ts) // 10], h(y)))


small()
big(4096, (1, 2))
module_big(4096)
big(8192, (1, 2))
for name, mn, p10, hh in out:
    print(f"{name:22s} min {mn * 1e6:9.2f} us  p10 {p10 * 1e6:9.2f} us  out {hh}", flush=True)
