"""A/B of M=1 act8 mix3 calls: several _cpu builds side by side and, for a dev build, settings
read from the environment on every call (CHORD_DEV_*), interleaved in rounds; min over rounds
on rotated weight copies (>= 256 MiB); the read probe (1 and 4 streams, best) on the same buffers.
usage: python mbenv.py LABEL=SO[@ENV=VAL;ENV=VAL] ... [--shapes 4096,8192] [--threads 1,2] [--mix mix3]"""

import argparse
import gc
import importlib.util
import os
import time

import numpy as np

import chord
from chord import host_memory
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import seeded_randn

ap = argparse.ArgumentParser()
ap.add_argument("variants", nargs="+")
ap.add_argument("--shapes", default="4096,8192")
ap.add_argument("--threads", default="1,2")
ap.add_argument("--rounds", type=int, default=10)
ap.add_argument("--mix", default="mix3")
ap.add_argument("--roof", action="store_true")
ap.add_argument("--fresh_y", action="store_true", help="a new y per call (as the API allocates one)")
ap.add_argument("--rotate_mb", type=float, default=256)
a = ap.parse_args()
mods, vars_ = {}, []
for v in a.variants:
    label, rest = v.split("=", 1)
    so, _, envs = rest.partition("@")
    if so not in mods:
        spec = importlib.util.spec_from_file_location(f"m{len(mods)}._cpu", so)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods[so] = mod
    env = dict(e.split("=", 1) for e in envs.split(";") if e)
    vars_.append((label, mods[so], env))
keys = {k for _, _, env in vars_ for k in env}
print("load", os.getloadavg(), flush=True)
for K in [int(s) for s in a.shapes.split(",") if s]:
    N = K
    w = seeded_randn(N, K, seed=1)
    x = seeded_randn(1, K, seed=2)
    _, mix = parse_mix(a.mix)
    mw = chord.pack(w, mix_codes(mix, N, seed=0))
    nb = mw.qweight.numel()
    n = max(1, -(-int(a.rotate_mb * (1 << 20)) // nb))
    qs = [host_memory.empty_uint8(nb).copy_(mw.qweight).numpy() for _ in range(n)]
    sc, ze, pe = mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy()
    bk = [int(v) for v in mw.buckets]
    xn = x.numpy()
    ys = {lab: np.full((1, N), np.nan, np.float32) for lab, _, _ in vars_}
    for t in [int(s) for s in a.threads.split(",")]:
        best = {lab: float("inf") for lab, _, _ in vars_}
        roof = float("inf")
        for _r in range(a.rounds):
            for lab, mod, env in vars_:
                for k in keys:
                    os.environ.pop(k, None)
                os.environ.update(env)
                for i in range(n):
                    t0 = time.perf_counter()
                    yy = np.empty((1, N), np.float32) if a.fresh_y else ys[lab]
                    mod.mp_linear(xn, 0, qs[i], sc, ze, pe, bk, K, None, 8, yy, t)
                    best[lab] = min(best[lab], time.perf_counter() - t0)
                if a.fresh_y:
                    ys[lab][:] = yy
            if a.roof:
                m0 = vars_[0][1]
                for i in range(n):
                    st = 4 if i % 2 else 1
                    t0 = time.perf_counter()
                    m0.read_stream(qs[i], t, 0, False, st)
                    roof = min(roof, time.perf_counter() - t0)
        for k in keys:
            os.environ.pop(k, None)
        y0 = ys[vars_[0][0]]
        rb = nb / roof / 1e9 if a.roof else float("nan")
        if a.roof:
            print(f"K=N={K} t={t} roof (1/4 streams, same buffers) {roof * 1e3:7.3f} ms {rb:6.1f} GB/s", flush=True)
        for lab, _, _ in vars_:
            gb = nb / best[lab] / 1e9
            print(
                f"K=N={K} t={t} {lab:14s} {best[lab] * 1e3:7.4f} ms {gb:6.2f} GB/s {gb / rb * 100:5.1f} % "
                f"x{best[vars_[0][0]] / best[lab]:.3f} same={np.array_equal(ys[lab], y0)}",
                flush=True,
            )
    del qs
    gc.collect()
print("load", os.getloadavg(), flush=True)
