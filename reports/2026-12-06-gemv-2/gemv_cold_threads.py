"""mix3 K x K act8 GEMV through the binding (_cpu.mp_linear_ptr, no Python API overhead) with 1
and 2 chord threads, weights rotated over >= 256 MB of copies on 2 MiB pages; min / p10 / median.
Usage: python gemv_cold_threads.py TORCH_THREADS [K]   (reports/2026-12-06-gemv-2.md)"""

import sys
import time

import torch

import chord
import chord_kernels._cpu as _cpu
from chord.bench.config import NAMED_MIXES, mix_codes
from chord.bench.suites.common import clone_packed

K = N = int(sys.argv[2]) if len(sys.argv) > 2 else 4096
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
g = torch.Generator().manual_seed(0)
w = torch.randn(N, K, generator=g)
x = torch.randn(1, K, generator=g)
mw = chord.pack(w, mix_codes(NAMED_MIXES["mix3"], N, seed=0))
n = -(-(256 << 20) // mw.nbytes)
A = clone_packed(mw, n)  # n weights in distinct memory, packed bytes on 2 MiB pages
for a in A:
    chord.mp_linear(x, a, act_bits=8)
H = [a.__dict__["_cpu_handle"].entry[6] for a in A]
y = torch.empty(1, N)
xp, yp = x.data_ptr(), y.data_ptr()
c = 0
res = {}
for _rep in range(3):
    for nt in (1, 2):
        ts = []
        for _i in range(150):
            h = H[c % n]
            c += 1
            t0 = time.perf_counter()
            _cpu.mp_linear_ptr(h, xp, 0, 1, K, 1, 0, 8, yp, N, nt)
            ts.append(time.perf_counter() - t0)
        res.setdefault(nt, []).extend(ts)
for nt, ts in res.items():
    ts.sort()
    print(
        f"K={K} cold nt={nt}: min {ts[0] * 1e3:.4f} p10 {ts[len(ts) // 10] * 1e3:.4f} med {ts[len(ts) // 2] * 1e3:.4f}  ({mw.nbytes / ts[0] / 1e9:.1f} GB/s)"
    )
