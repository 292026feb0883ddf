"""The exact (act_bits = 0) paths against torch fp32 F.linear, one process, 1 thread, mix3 N = K.

VARS: direct, or pNNNk[mMC] for the panel (pNNNk sets CHORD_PANEL_BYTES = NNN KiB and mMC
CHORD_PANEL_MC, read only by the experiment build of section 3; on a landed build every pNNNk
variant is the panel path as built). TIMER=cpu: CPU time of this thread (bench.py's clock).

    NK=4096 TIMER=cpu MS=16,32,64,256 VARS=direct,p512k ROUNDS=3 python exact.py
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import _cpu, wall_ms, weight  # noqa: E402

torch.set_num_threads(1)
N = K = int(os.environ.get("NK", "4096"))
args = weight(N, K, "mix3")
w = torch.randn(N, K)
VARS = os.environ.get("VARS", "direct,p512k,p256k,p128k,p64k").split(",")


def setv(v):
    for k in ("CHORD_PANEL_BYTES", "CHORD_PANEL_MC"):
        os.environ.pop(k, None)
    if v.startswith("p"):
        parts = v[1:].split("m")
        os.environ["CHORD_PANEL_BYTES"] = str(int(parts[0].rstrip("k")) * 1024)
        if len(parts) > 1:
            os.environ["CHORD_PANEL_MC"] = parts[1]


for M in [int(m) for m in os.environ.get("MS", "256").split(",")]:
    x, y = torch.randn(M, K), torch.empty(M, N)
    r = {}
    for _ in range(int(os.environ.get("ROUNDS", "2"))):
        for v in VARS:
            setv(v)
            p = "direct" if v == "direct" else "panel"
            r[v] = min(
                r.get(v, 1e9),
                wall_ms(lambda p=p: _cpu.mp_linear(x.numpy(), 0, *args[:5], K, None, 0, y.numpy(), 1, "avx2", p), 0.3),
            )
        r["fp32"] = min(r.get("fp32", 1e9), wall_ms(lambda: torch.nn.functional.linear(x, w), 0.3))
    print(N, K, M, {k: round(v, 3) for k, v in r.items()}, flush=True)
