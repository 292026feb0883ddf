# Prototype (not in the code): the budget bisection of chord.system.cloud.tiering.solve_offsets run
# in numpy for the sorted (single-scope) path, checked bit-identical to solve_offsets on random and
# tied targets, timed against it (process CPU, min of 30). reports/2026-12-07-serve-overload.md.
import time

import numpy as np
import torch

import chord.system.cloud.tiering as T
from chord.serve.model import random_service

torch.set_num_threads(1)


def bisect_np(target, sizes, widths, thr, lo, hi, cap):
    B, N = target.shape
    w = widths.double().numpy()
    dwc = (w[1:] - w[:-1]).reshape(-1, 1)
    q = thr.numpy().astype(np.float32)
    qb = np.ascontiguousarray(np.broadcast_to(q, (B, q.size)))
    tq = torch.from_numpy(qb)
    total = float(sizes.double().sum())
    top = float(w[-1]) * total
    tnp = target.numpy()
    snp = sizes.numpy()
    groups = [(float(s), np.sort(tnp[:, snp == s], axis=1)) for s in np.unique(snp)]
    lo, hi, cap = lo.numpy().copy(), hi.numpy().copy(), cap.numpy()
    two = np.float32(2)
    for _ in range(T._BISECT_STEPS):
        mid = (lo + hi) / two
        used = top
        for size, ts in groups:
            x = ts + mid
            if B == 1:
                pos = np.searchsorted(x[0], q)[None, :]
            else:
                pos = torch.searchsorted(torch.from_numpy(x), tq).numpy()
            used = used - size * (pos.astype(np.float64) @ dwc)
        ok = used.astype(np.float32) <= cap
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    return torch.from_numpy(lo)


svc = random_service("sasrec", 1682, seed=0)
p = svc.planner
sizes, widths, thr = p.sizes, p.widths, p.thr
g = torch.Generator().manual_seed(0)
for B in (1, 7, 64):
    for trial in range(20):
        tgt = torch.randn(B, sizes.numel(), generator=g) * (1 + trial) + trial * 0.3
        if trial % 3 == 0:
            tgt = tgt.round()  # ties
        bud = torch.rand(B, generator=g) * 7 + 0.5
        ref = T.solve_offsets(tgt, sizes, bud, widths, thr)
        # replicate lo/hi/cap as solve_offsets does
        B_, N = tgt.shape
        gsize = sizes.sum().reshape(1)
        cap = bud[:, None] * gsize[None, :] + 1e-3
        tmin = tgt.min(1, keepdim=True).values
        tmax = tgt.max(1, keepdim=True).values
        lo = float(thr[0]) - tmax - 1.0
        hi = float(thr[-1]) - tmin + 1.0
        got = bisect_np(tgt, sizes, widths, thr, lo, hi, cap)
        assert torch.equal(ref, got), (B, trial, (ref - got).abs().max())
    e = torch.randn(B, sizes.numel())
    bb = torch.rand(B) * 6 + 1
    for f, name in ((lambda: T.solve_offsets(e, sizes, bb, widths, thr), "torch"),):
        f()
        best = 1e9
        for _ in range(30):
            t = time.process_time()
            f()
            best = min(best, time.process_time() - t)
        print(B, name, f"{best * 1e3:.2f} ms")
    gsize = sizes.sum().reshape(1)
    cap = bb[:, None] * gsize[None, :] + 1e-3
    lo = float(thr[0]) - e.max(1, keepdim=True).values - 1.0
    hi = float(thr[-1]) - e.min(1, keepdim=True).values + 1.0
    best = 1e9
    for _ in range(30):
        t = time.process_time()
        bisect_np(e, sizes, widths, thr, lo, hi, cap)
        best = min(best, time.process_time() - t)
    print(B, "numpy", f"{best * 1e3:.2f} ms")
print("identical")
