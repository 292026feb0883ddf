"""Bench-like 2-thread calls of chord.mp_linear (M x 4096 x 4096 mix3 act8), one call per round with a
gap between rounds (GAP_US busy-wait, the bench's Python leaves ~150-230 us), timed per call; the
pool's idle cap alternates between variants in blocks (set_pool_spin; 'old' = 100, the fixed spin
main had). Prints per variant: min / p10 / median ms, worker wake-ups per call, worker CPU per call.
Usage: gapab.py M GAP_US ROUNDS_PER_BLOCK BLOCKS CAP_US... (e.g. 16 170 20 10 100 1000)"""

import json
import sys
import time

import torch

import chord
from chord.backends import cpu
from chord.bench.config import NAMED_MIXES, mix_codes

M, GAP, R, B = (int(a) for a in sys.argv[1:5])
caps = [int(a) for a in sys.argv[5:]]
torch.set_num_threads(2)
g = torch.Generator().manual_seed(0)
mws = []
for i in range(4):  # rotate 4 weights (~26 MB) so a call does not re-read L3
    w = torch.randn(4096, 4096, generator=g)
    mws.append(chord.pack(w, mix_codes(NAMED_MIXES["mix3"], 4096, seed=i)))
x = torch.randn(M, 4096, generator=g)
for mw in mws:
    chord.mp_linear(x, mw, act_bits=8)


def spin_us(us):
    end = time.perf_counter_ns() + us * 1000
    while time.perf_counter_ns() < end:
        pass


res = {c: {"t": [], "wake": 0, "cpu": 0, "calls": 0} for c in caps}
k = 0
for b in range(B):
    for c in caps if b % 2 == 0 else caps[::-1]:
        cpu.set_pool_spin(c)
        chord.mp_linear(x, mws[k % 4], act_bits=8)  # untimed: the cap takes effect
        k += 1
        w0, c0 = cpu.pool_stats()["wakeups"], cpu.pool_spin()["worker_cpu_us"]
        for _ in range(R):
            spin_us(GAP)
            t0 = time.perf_counter_ns()
            chord.mp_linear(x, mws[k % 4], act_bits=8)
            res[c]["t"].append((time.perf_counter_ns() - t0) / 1e6)
            k += 1
        res[c]["wake"] += cpu.pool_stats()["wakeups"] - w0
        res[c]["cpu"] += cpu.pool_spin()["worker_cpu_us"] - c0
        res[c]["calls"] += R
out = {}
for c, v in res.items():
    t = sorted(v["t"])
    out[c] = dict(
        min=t[0],
        p10=t[len(t) // 10],
        med=t[len(t) // 2],
        wake_per_call=v["wake"] / v["calls"],
        worker_cpu_ms_per_call=v["cpu"] / v["calls"] / 1000,
        calls=v["calls"],
    )
    print(
        f"cap {c:5d} us: min {t[0]:.3f} p10 {t[len(t) // 10]:.3f} med {t[len(t) // 2]:.3f} ms; "
        f"wake-ups/call {out[c]['wake_per_call']:.2f}; worker CPU/call {out[c]['worker_cpu_ms_per_call']:.3f} ms "
        f"({v['calls']} calls)"
    )
print(json.dumps({"M": M, "gap_us": GAP, "res": out}))
