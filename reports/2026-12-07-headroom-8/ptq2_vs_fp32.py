"""Uniform 2-bit minus fp32 on the retrained Yelp SASRec checkpoint, test NDCG@10 on every user,
paired bootstrap over users (1000 resamples, 95 %), from the run's ``ranks.npz`` (not in git; the
run's command is in the report).

usage: python reports/2026-12-07-headroom-8/ptq2_vs_fp32.py RUN_DIR
"""

import sys
from pathlib import Path

import numpy as np

from chord.experiments.significance import paired_bootstrap, per_user

z = np.load(Path(sys.argv[1]) / "ranks.npz")
fp32, ptq2 = (per_user(z[f"yelp/sasrec/{m}|full"], "NDCG@10") for m in ("fp32", "ptq2"))
print(f"fp32 {fp32.mean():.6f}  uniform 2-bit {ptq2.mean():.6f}  ({fp32.size} users)")
print("uniform 2-bit - fp32:", paired_bootstrap(ptq2, fp32, seed=42))
