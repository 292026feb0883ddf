"""Where an M = 1 act8 call's time outside the kernel goes (4096^2 mix3, rotated copies, min over
rounds, interleaved): the public API; the eager fast path's extension call (mp_linear_ptr on the
cached handle) into a fresh y and into a reused y; the numpy entry (_cpu.mp_linear, which
re-validates the weight: perm checked on every call). usage: python fixed2.py [rounds] [threads]"""

import sys
import time

import torch

import chord
from chord.backends import cpu as cb
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import clone_packed, seeded_randn

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
threads = [int(s) for s in (sys.argv[2] if len(sys.argv) > 2 else "1").split(",")]
m = cb._cpu
K = 4096
x = seeded_randn(1, K, seed=2)
xn = x.numpy()
_, mix = parse_mix("mix3")
w = seeded_randn(K, K, seed=1)
mw = chord.pack(w, mix_codes(mix, K, seed=0))
n = max(2, -(-(256 << 20) // mw.nbytes))
mws = clone_packed(mw, n)
for q in mws:
    chord.mp_linear(x, q, act_bits=8)
handles = [cb.packed_handle(cb.HandleCache(), q.packed)[6] for q in mws]
args = [
    (q.qweight.numpy(), q.scales.numpy(), q.zeros.numpy(), q.perm.numpy(), [int(v) for v in q.buckets]) for q in mws
]
y = torch.empty(1, K)
for t in threads:
    torch.set_num_threads(t)
    best = dict(api=1e9, ptr_new=1e9, ptr_reuse=1e9, numpy_entry=1e9)
    for _ in range(rounds):
        for i in range(n):
            t0 = time.perf_counter()
            chord.mp_linear(x, mws[i], act_bits=8)
            best["api"] = min(best["api"], time.perf_counter() - t0)
        for i in range(n):
            t0 = time.perf_counter()
            yy = x.new_empty(1, K)
            m.mp_linear_ptr(handles[i], x.data_ptr(), 0, 1, K, 1, 0, 8, yy.data_ptr(), K, t)
            best["ptr_new"] = min(best["ptr_new"], time.perf_counter() - t0)
        for i in range(n):
            t0 = time.perf_counter()
            m.mp_linear_ptr(handles[i], x.data_ptr(), 0, 1, K, 1, 0, 8, y.data_ptr(), K, t)
            best["ptr_reuse"] = min(best["ptr_reuse"], time.perf_counter() - t0)
        yn = y.numpy()
        for i in range(n):
            qw, sc, ze, pe, bk = args[i]
            t0 = time.perf_counter()
            m.mp_linear(xn, 0, qw, sc, ze, pe, bk, K, None, 8, yn, t)
            best["numpy_entry"] = min(best["numpy_entry"], time.perf_counter() - t0)
    print(f"t={t} " + "  ".join(f"{k} {v * 1e3:.4f} ms" for k, v in best.items()), flush=True)
