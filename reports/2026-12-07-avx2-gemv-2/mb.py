"""A/B microbench: M=1 mp_linear act8 (mix3) and the read probe, several _cpu builds loaded side by side,
interleaved rounds, min over rounds. usage: python mb.py NAME=/path/to/_cpu.so ... [--shapes 4096,8192] [--threads 1,2]"""

import argparse
import gc
import importlib.util
import time

import numpy as np

import chord
from chord import host_memory
from chord.bench.config import parse_mix
from chord.bench.suites.common import seeded_randn

ap = argparse.ArgumentParser()
ap.add_argument("builds", nargs="+")
ap.add_argument("--shapes", default="4096,8192")
ap.add_argument("--threads", default="1,2")
ap.add_argument("--rounds", type=int, default=15)
ap.add_argument("--calls", type=int, default=0)
ap.add_argument("--rotate_mb", type=int, default=256)
ap.add_argument("--probe", action="store_true")
ap.add_argument("--roof", action="store_true")
ap.add_argument("--noprobe_kernel", action="store_true")
ap.add_argument("--mix", default="mix3")
a = ap.parse_args()
mods = {}
for b in a.builds:
    name, path = b.split("=")
    spec = importlib.util.spec_from_file_location(f"{name}._cpu", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    mods[name] = m


def codes_for(N, mix):
    from chord.bench.config import mix_codes

    return mix_codes(mix, N, seed=0)


res = {}
for K in [int(s) for s in a.shapes.split(",") if s]:
    N = K
    w = seeded_randn(N, K, seed=1)
    x = seeded_randn(1, K, seed=2)
    _, mix = parse_mix(a.mix)
    mw = chord.pack(w, codes_for(N, mix))
    nb = mw.qweight.numel()
    n = max(2, -(-(a.rotate_mb << 20) // nb))
    qs = [host_memory.empty_uint8(nb).copy_(mw.qweight).numpy() for _ in range(n)]
    sc, ze, pe = mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy()
    bk = [int(v) for v in mw.buckets]
    xn = x.numpy()
    ys = {k: np.empty((1, N), np.float32) for k in mods}
    for t in [int(s) for s in a.threads.split(",")]:
        best = {k: float("inf") for k in mods}
        calls = a.calls or n
        for _r in range(a.rounds):
            for k, m in mods.items():
                for i in range(calls):
                    q = qs[i % n]
                    t0 = time.perf_counter()
                    m.mp_linear(xn, 0, q, sc, ze, pe, bk, K, None, 8, ys[k], t)
                    best[k] = min(best[k], time.perf_counter() - t0)
        if a.roof:
            m0 = next(iter(mods.values()))
            for st in (1, 4):
                bt = float("inf")
                for _r in range(a.rounds):
                    for i in range(calls):
                        t0 = time.perf_counter()
                        m0.read_stream(qs[i % n], t, 0, False, st)
                        bt = min(bt, time.perf_counter() - t0)
                print(
                    f"K=N={K} t={t} roof streams={st} {bt * 1e3:7.3f} ms {nb / bt / 1e9:6.1f} GB/s (same buffers)",
                    flush=True,
                )
        y0 = None
        for k in mods:
            if y0 is None:
                y0 = ys[k].copy()
            same = np.array_equal(ys[k], y0)
            print(
                f"K=N={K} t={t} {k:10s} {best[k] * 1e3:7.3f} ms {nb / best[k] / 1e9:6.1f} GB/s same={same}", flush=True
            )
    del qs
    gc.collect()
if a.probe:
    nb = 8 << 20
    n = (a.rotate_mb << 20) // nb
    for page in ("4k", "2m"):
        buf = host_memory.empty_uint8(n * nb, page == "2m")
        buf.fill_(1)
        arr = buf.numpy()
        for t in [int(s) for s in a.threads.split(",")]:
            for var in [
                (0, False, 1),
                (512, False, 1),
                (4096, False, 1),
                (512, True, 1),
                (0, False, 2),
                (0, False, 4),
                (0, False, 8),
                (1024, False, 4),
            ]:
                best = {k: float("inf") for k in mods}
                for _r in range(a.rounds):
                    for k, m in mods.items():
                        for i in range(n):
                            t0 = time.perf_counter()
                            m.read_stream(arr[i * nb : (i + 1) * nb], t, *var)
                            dt = time.perf_counter() - t0
                            best[k] = min(best[k], dt)
                print(
                    f"probe {page} t={t} pf={var[0]} nta={var[1]} streams={var[2]}: "
                    + "  ".join(f"{k} {nb / best[k] / 1e9:6.1f}" for k in mods),
                    flush=True,
                )
        del buf, arr
        gc.collect()
