# ruff: noqa: E401, E402, E701, E702 (a measurement script, kept as run)
"""The e2e case split: backbone forward and fp32 scoring timed apart, fp32 / exact / act8
(backbone-only quantized), models rotated as the bench does (n copies), interleaved rounds, min."""

import copy
import os
import sys
import time

clk = time.thread_time if os.environ.get("CLK") == "cpu" else time.perf_counter
import torch

from chord.bench.config import parse_mix
from chord.bench.suites.e2e import _quantized, build_model

t = int(sys.argv[1]) if len(sys.argv) > 1 else 1
nsets = int(sys.argv[2]) if len(sys.argv) > 2 else 4
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 100
torch.set_num_threads(t)
mix = parse_mix("mix3")[1]
m = build_model("sasrec", 100000, 0)
seqs = torch.randint(1, 100001, (1, 50), generator=torch.Generator().manual_seed(11))
variants = {
    "fp32": [copy.deepcopy(m) for _ in range(nsets)],
    "exact": [_quantized(m, mix, False, 0, 0) for _ in range(nsets)],
    "act8": [_quantized(m, mix, False, 8, 0) for _ in range(nsets)],
}
res = {k: {"fwd": [], "score": [], "both": []} for k in variants}
with torch.no_grad():
    for v in variants.values():
        for q in v:
            q.score(q(seqs))
    for r in range(rounds):
        for k, ms in variants.items():
            q = ms[r % nsets]
            t0 = clk()
            u = q(seqs)
            t1 = clk()
            q.score(u)
            t2 = clk()
            res[k]["fwd"].append(t1 - t0)
            res[k]["score"].append(t2 - t1)
            res[k]["both"].append(t2 - t0)
print(f"t={t} nsets={nsets} rounds={rounds}  min us (median)")
for k, d in res.items():
    print(
        f"{k:6s} " + "  ".join(f"{n} {min(v) * 1e6:7.0f} ({sorted(v)[len(v) // 2] * 1e6:7.0f})" for n, v in d.items())
    )
