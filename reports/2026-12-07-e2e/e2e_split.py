"""The bench's e2e rows split into forward and scoring, timed interleaved in one process (round
robin over the models, min over rounds: robust to a busy machine), to show where the time goes.

    PYTHONPATH=python:. python reports/2026-12-07-e2e/e2e_split.py [--threads 1] [--rounds 300]

Same models, seeds, bit mix and quantization as `chord bench --suites e2e` (chord.bench.suites.e2e).
"""

from __future__ import annotations

import argparse
import time

import torch

from chord.bench.config import parse_mix
from chord.bench.suites.e2e import SEQ_LEN, _quantized, build_model

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--rounds", type=int, default=300)
p.add_argument("--items", type=int, default=100000)
args = p.parse_args()
torch.set_num_threads(args.threads)
_, mix = parse_mix("mix3")
print(f"threads={args.threads} items={args.items} rounds={args.rounds} (min ms over interleaved rounds)")
print("| model | variant | forward | score | forward + score | x fp32 (forward + score) |")
print("|---|---|---:|---:|---:|---:|")
for name in ("sasrec", "caser"):
    model = build_model(name, args.items, 0)
    g = torch.Generator().manual_seed(11)
    seqs = torch.randint(1, args.items + 1, (1, SEQ_LEN), generator=g)
    variants = {"fp32": model}
    for scope, emb in (("backbone", False), ("backbone+items", True)):
        for path, ab in (("exact", 0), ("act8", 8)):
            variants[f"{path} {scope}"] = _quantized(model, mix, emb, ab, 0)
    best = {k: [float("inf")] * 3 for k in variants}
    with torch.no_grad():
        h = {k: m(seqs) for k, m in variants.items()}
        for _ in range(args.rounds):
            for k, m in variants.items():
                t0 = time.perf_counter()
                m(seqs)
                t1 = time.perf_counter()
                m.score(h[k])
                t2 = time.perf_counter()
                m.score(m(seqs))
                t3 = time.perf_counter()
                b = best[k]
                b[0], b[1], b[2] = min(b[0], t1 - t0), min(b[1], t2 - t1), min(b[2], t3 - t2)
    ref = best["fp32"][2]
    for k, (f, s, fs) in best.items():
        print(f"| {name} | {k} | {f * 1e3:.3f} | {s * 1e3:.3f} | {fs * 1e3:.3f} | {ref / fs:.2f} |")
