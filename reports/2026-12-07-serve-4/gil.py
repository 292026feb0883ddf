# ruff: noqa: E402, UP031 (an experiment script: set-up before imports, printf-style rows)
import sys
import threading
import time

import torch

torch.set_num_threads(1)
from chord.serve.service_loader import random_service

s = random_service("sasrec", 1682, seed=0)
g = torch.Generator().manual_seed(0)
emb = torch.randn(64, 64, generator=g)
b = torch.rand(64, generator=g) * 6 + 1
for _ in range(3):
    s.respond(emb, b)


def fwd_times(n=8):
    out = []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.thread_time()
        s.respond(emb, b)
        out.append((time.perf_counter() - t0, time.thread_time() - c0))
    return min(x[0] for x in out) * 1e3, sorted(x[0] for x in out)[len(out) // 2] * 1e3, min(x[1] for x in out) * 1e3


stop = False


def busy(chunk_us):
    # an event loop that holds the GIL in bursts of chunk_us, then blocks briefly (select)
    import select

    while not stop:
        t = time.perf_counter() + chunk_us * 1e-6
        while time.perf_counter() < t:
            pass
        select.select([], [], [], 0)  # a poll that finds nothing: releases the GIL briefly


for sw in [0.005, 0.001, 0.0002]:
    sys.setswitchinterval(sw)
    print(f"switch {sw * 1e3:.1f} ms alone: wall min/med {fwd_times()[0]:.1f}/{fwd_times()[1]:.1f} ms")
    for chunk in [100, 1000, 4000]:
        stop = False
        th = threading.Thread(target=busy, args=(chunk,))
        th.start()
        r = fwd_times()
        stop = True
        th.join()
        print(f"  loop bursts {chunk} us: forward wall min {r[0]:.1f} med {r[1]:.1f} cpu {r[2]:.1f} ms")
