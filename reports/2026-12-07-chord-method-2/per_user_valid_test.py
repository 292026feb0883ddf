"""CHORD minus its own population strategy, NDCG@10 per user, on validation and on test, with the
paired bootstrap over users (1000 resamples, 95 %), and the correlation of the two per-user columns.

usage: python per_user_valid_test.py CHORD_CKPT_DIR  (ML-100K Caser at 1.5 bits; paths below)
"""

import json
import sys

import numpy as np
import torch

from chord.checkpoint import load_checkpoint
from chord.data import LeaveOneOut, load_dataset
from chord.eval.evaluator import Evaluator
from chord.experiments import baseline_codes as bl
from chord.experiments.runner import train_histories
from chord.system import ChordConfig, build_system, load_chord_state

torch.set_num_threads(1)
d = sys.argv[1]
meta = json.load(open(d + "/chord.json"))
s = build_system(load_checkpoint("/work/hr_runs/caser-ml-100k-ce")[0], ChordConfig(**meta["chord"]))
load_chord_state(s, d)
s.eval()
s.eval_budget = 1.5
split = LeaveOneOut(load_dataset("ml-100k", "/work/shared/data"))
ev = Evaluator(split, 50)
_, xs, _ = train_histories(split, 50)
pc = bl.population_codes(s, xs, 1.5)


def ndcg(r):
    r = r.numpy().astype(float)
    return np.where(r < 10, 1 / np.log2(r + 2), 0.0)


out = {}
for stage in ("valid", "test"):
    a = ndcg(ev.ranks(s, stage, "full"))
    s.population_codes = pc
    b = ndcg(ev.ranks(s, stage, "full"))
    s.population_codes = None
    out[stage] = a - b
    rng = np.random.default_rng(42)
    n = len(a)
    bs = [(a - b)[rng.integers(0, n, n)].mean() for _ in range(1000)]
    print(
        stage,
        f"chord {a.mean():.4f} pop {b.mean():.4f} diff {np.mean(a - b):+.4f} [{np.percentile(bs, 2.5):+.4f}, {np.percentile(bs, 97.5):+.4f}]",
    )
print("corr of per-user diffs valid vs test", np.corrcoef(out["valid"], out["test"])[0, 1])
