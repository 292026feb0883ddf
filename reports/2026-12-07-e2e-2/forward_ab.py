"""The swapped layers' one-step call (``backends.cpu.linear_cached``) on and off in one process,
interleaved: forward of SASRec and Caser as the e2e suite builds them (backbone quantized, mix3,
exact / act8; fp32 beside them as the control), 1 torch thread, ``torch.inference_mode``. "off"
makes ``linear_cached`` decline every call, so each layer takes the general path
(``functional.linear_packed``) as before it existed (plus one Python call that returns None).
Best of REPEATS ``timeit`` repeats of the thread's CPU time, µs per forward.

    PYTHONPATH=$PWD/python:$PWD python reports/2026-12-07-e2e-2/forward_ab.py
"""

import json
import os
import time
import timeit

import torch

from chord.backends import cpu as cpu_backend
from chord.bench.config import parse_mix
from chord.bench.suites.e2e import _quantized, build_model

REPEATS = int(os.environ.get("REPEATS", "40"))
ITEMS = int(os.environ.get("ITEMS", "100000"))
torch.set_num_threads(1)
MIX = parse_mix("mix3")[1]
fast = cpu_backend.linear_cached


def off(*args):
    return None


with torch.inference_mode():  # as the bench builds and runs them
    for name in ("sasrec", "caser"):
        model = build_model(name, ITEMS, 0)
        seqs = torch.randint(1, ITEMS + 1, (1, 50), generator=torch.Generator().manual_seed(11))
        variants = {"fp32": model}
        for path, act in (("exact", 0), ("act8", 8)):
            variants[f"{path} backbone"] = _quantized(model, MIX, False, act, 0)
        best = {}
        for _ in range(REPEATS):
            for v, m in variants.items():
                for mode in ("on", "off"):
                    cpu_backend.linear_cached = fast if mode == "on" else off
                    t = timeit.Timer(lambda m=m: m(seqs), timer=time.thread_time).timeit(50) / 50 * 1e6
                    best[v, mode] = min(best.get((v, mode), float("inf")), t)
        cpu_backend.linear_cached = fast
        for v in variants:
            on, of = best[v, "on"], best[v, "off"]
            row = {"model": name, "variant": v, "forward_us_on": round(on, 1), "forward_us_off": round(of, 1)}
            print(json.dumps(row | {"on/off": round(on / of, 3), "load": os.getloadavg()[0]}), flush=True)
