"""A/B of chord act8 int8 GEMM builds, one spawned worker process per build (two builds imported
into one process come back as one module), called in turn round by round from this process.
SOS=label:path.so,...  Each request: CALLS single calls of mp_linear (M x 4096 x 4096, MIX, act8,
path panel, ISA) over ROT rotated copies of the packed weight (ROT x 6.3 MB for mix3: 12 copies =
76 MB > the 32 MiB L3, so the weight streams from memory as in the bench), GAP_US of busy-wait
before each call (the bench's rounds are ~150-220 us apart: the pool's worker sleeps between them).
Prints per label the min and the p10 of the call times (ms) over all rounds, the ratio to the first
label, and same=True when every label wrote the same output bytes.
    SOS=base:so/base.so,new:so/new.so MS=16 THREADS=1,2 ROUNDS=5 CALLS=40 python ab3.py"""

import importlib.machinery
import importlib.util
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
import zlib

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "reports", "2026-12-07-avx2-gemm"))
sys.path.insert(0, os.path.join(ROOT, "tools"))


def load(path):
    d = tempfile.mkdtemp(prefix="ab3")
    dst = os.path.join(d, "_cpu" + importlib.machinery.EXTENSION_SUFFIXES[0])
    shutil.copy(path, dst)
    spec = importlib.util.spec_from_file_location("_cpu", dst)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def serve(path, conn):
    import torch
    from bench import weight

    m = load(path)
    cache = {}
    while True:
        try:
            a = conn.recv()
        except EOFError:
            return
        key = (a["mix"], a["M"], a["rot"])
        if key not in cache:
            args = weight(4096, 4096, a["mix"])
            copies = [(args[0].copy(),) + tuple(args[1:5]) for _ in range(a["rot"])]
            x = torch.randn(a["M"], 4096, generator=torch.Generator().manual_seed(a["M"])).numpy()
            cache[key] = (copies, x, np.empty((a["M"], 4096), np.float32))
        copies, x, y = cache[key]
        gap = int(a["gap_us"] * 1000)
        ts = []
        for i in range(a["calls"] + 2):
            c = copies[i % len(copies)]
            if gap:
                e = time.perf_counter_ns() + gap
                while time.perf_counter_ns() < e:
                    pass
            t0 = time.perf_counter_ns()
            m.mp_linear(x, 0, *c, 4096, None, 8, y, a["nt"], a["isa"], "panel")
            ts.append(time.perf_counter_ns() - t0)
        conn.send((ts[2:], zlib.crc32(y.tobytes())))


def main():
    sos = [s.split(":") for s in os.environ["SOS"].split(",")]
    ctx = mp.get_context("spawn")
    workers = {}
    for label, path in sos:
        a, b = ctx.Pipe()
        p = ctx.Process(target=serve, args=(path, b), daemon=True)
        p.start()
        workers[label] = a
    Ms = [int(v) for v in os.environ.get("MS", "16").split(",")]
    ths = [int(v) for v in os.environ.get("THREADS", "1,2").split(",")]
    rounds, calls = int(os.environ.get("ROUNDS", "5")), int(os.environ.get("CALLS", "40"))
    req0 = dict(
        mix=os.environ.get("MIX", "mix3"),
        rot=int(os.environ.get("ROT", "12")),
        calls=calls,
        gap_us=float(os.environ.get("GAP_US", "0")),
        isa=os.environ.get("ISA", "avx2"),
    )
    for M in Ms:
        for nt in ths:
            req = dict(req0, M=M, nt=nt)
            ts, crc = {k: [] for k in workers}, {}
            for _ in range(rounds):
                for label, conn in workers.items():
                    conn.send(req)
                    t, c = conn.recv()
                    ts[label] += t
                    crc[label] = c
            ref = next(iter(workers))
            mins = {k: min(v) / 1e6 for k, v in ts.items()}
            p10 = {k: float(np.percentile(v, 10)) / 1e6 for k, v in ts.items()}
            cells = " ".join(f"{k}={mins[k]:.3f}/{p10[k]:.3f}" for k in workers)
            rat = " ".join(f"{k}/{ref}={mins[k] / mins[ref]:.3f}/{p10[k] / p10[ref]:.3f}" for k in workers if k != ref)
            print(
                f"{req['mix']} M={M} t={nt} gap={req['gap_us']:.0f}us min/p10 ms: {cells} {rat} same={len(set(crc.values())) == 1} "
                f"load={os.getloadavg()[0]:.2f} {time.strftime('%H:%M:%S')}",
                flush=True,
            )


if __name__ == "__main__":
    main()
