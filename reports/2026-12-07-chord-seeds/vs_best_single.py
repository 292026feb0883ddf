"""Each CHORD seed (trained at 1.5 bits) minus the strongest single strategy any run found on these
users: the best of the three seeds' own population strategies (one strategy each, from the
planner's mean bit targets), chosen on test here only to make the comparison as hard as possible
for CHORD. Usage: python vs_best_single.py OUT_JSON RUN_DIR... (reads each dir's ranks.npz)."""

import json
import sys
from pathlib import Path

import numpy as np

from chord.experiments import significance as sig

out, runs = sys.argv[1], sys.argv[2:]
key = "ml-100k/caser/{}@1.5|full"
rk = [dict(np.load(Path(r) / "ranks.npz")) for r in runs]
pops = [sig.per_user(r[key.format("population-pretrained")], "NDCG@10") for r in rk]
best = int(np.argmax([p.mean() for p in pops]))
chord = np.stack([sig.per_user(r[key.format("chord-pretrained")], "NDCG@10") for r in rk])
res = {"best_single": {"run": runs[best], "NDCG@10": float(pops[best].mean())}, "seeds": {}}
for run, c in zip(runs, chord):
    res["seeds"][run] = {"NDCG@10": float(c.mean()), "minus_best_single": sig.paired_bootstrap(c, pops[best], seed=42)}
    print(run, f"{c.mean():.4f}", sig.format_ci(res["seeds"][run]["minus_best_single"]))
res["pooled"] = sig.seed_user_bootstrap(chord, np.broadcast_to(pops[best], chord.shape), seed=42)
print("best single", runs[best], f"{pops[best].mean():.4f}; pooled", sig.format_ci(res["pooled"]))
Path(out).write_text(json.dumps(res, indent=1, default=float))
