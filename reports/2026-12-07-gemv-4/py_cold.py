"""Python cost per call of chord.mp_linear(x, mw, act_bits=8) on a COLD weight (its Python and
torch objects evicted from the caches, as in the bench's rotation), the kernel replaced by a
no-op: per-call perf_counter_ns around the call, a fresh 6 MiB read between calls (what a rotated 4096² weight streams).
Usage: python py_cold.py [CALLS] [VARIANTS: comma-separated names before "(", e.g. api,nothing]   (reports/2026-12-07-gemv-4.md)"""

import sys
import time

import numpy as np
import torch

import chord
import chord.backends.cpu as cb
from chord import host_memory
from chord.bench.config import NAMED_MIXES, mix_codes
from chord.bench.suites.common import clone_packed

calls = int(sys.argv[1]) if len(sys.argv) > 1 else 400
K = N = 512
g = torch.Generator().manual_seed(0)
mw = chord.pack(torch.randn(N, K, generator=g), mix_codes(NAMED_MIXES["mix3"], N, seed=0))
A = clone_packed(mw, 64)
x = torch.randn(1, K, generator=g)
for a in A:
    chord.mp_linear(x, a, act_bits=8)
real = cb._cpu


class Shim:
    def __getattr__(self, k):
        return getattr(real, k)

    @staticmethod
    def mp_linear_ptr(*a):
        return None


ev = (
    host_memory.empty_uint8(64 * (6 << 20)).fill_(1).view(torch.float32).numpy()
)  # 384 MiB: 6 MiB a call, a new region each call (as the rotated weights; 2 MiB pages as theirs)
EV = 6 << 18
torch.set_num_threads(1)


def variants():
    v = {"api(no-op kernel)": lambda a: chord.mp_linear(x, a, act_bits=8)}
    H = [a.__dict__["_cpu_handle"].entry[6] for a in A]
    y = torch.empty(1, N)
    v["empty+noop only"] = lambda a: (torch.empty(1, N), Shim.mp_linear_ptr(1, 2))
    v["eager_ok(x)"] = lambda a: cb.eager_ok(x)
    v["is_compiling()"] = lambda a: torch.compiler.is_compiling()
    v["packed_handle"] = lambda a: cb.packed_handle(
        a.__dict__["_cpu_handle"], (a.qweight, a.scales, a.zeros, a.perm, a.buckets, a.K), a.N
    )
    v["4 _version"] = lambda a: a.qweight._version + a.scales._version + a.zeros._version + a.perm._version
    v["mp_linear_eager"] = lambda a: cb.mp_linear_eager(x, a.__dict__["_cpu_handle"].entry[6], N, K, None, 8)
    v["get_num_threads"] = lambda a: torch.get_num_threads()
    v["x.data_ptr()"] = lambda a: x.data_ptr()
    v["nothing"] = lambda a: None
    if len(sys.argv) > 2:  # only these variants
        v = {k: f for k, f in v.items() if k.split("(")[0] in sys.argv[2].split(",")}
    return v, H, y


cb._cpu = Shim()
v, H, y = variants()
res = {k: [] for k in v}
# blocks of one variant (its code runs every call, as in the bench: only its weight is cold),
# the variants alternated block by block; the first calls of a block dropped
j = 0
for _blk in range(calls // 20):
    for name, fn in v.items():
        for c in range(24):
            a = A[j % len(A)]
            ev[(j % 64) * EV : (j % 64 + 1) * EV].sum()
            j += 1
            t0 = time.perf_counter_ns()
            fn(a)
            t1 = time.perf_counter_ns()
            if c >= 4:
                res[name].append(t1 - t0)
hot = {k: [] for k in v}
for _ in range(calls):
    for name, fn in v.items():
        a = A[0]
        t0 = time.perf_counter_ns()
        fn(a)
        t1 = time.perf_counter_ns()
        hot[name].append(t1 - t0)
cb._cpu = real
for k in v:
    r, h = np.array(res[k]) / 1e3, np.array(hot[k]) / 1e3
    print(
        f"{k:24s} cold: min {r.min():6.2f} p10 {np.percentile(r, 10):6.2f} med {np.median(r):6.2f} us | hot: min {h.min():5.2f} med {np.median(h):5.2f} us"
    )
