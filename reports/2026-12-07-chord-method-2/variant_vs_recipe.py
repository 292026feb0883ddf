"""A CHORD variant minus the recipe, NDCG@10 on all test users, seed by seed (the same seed's runs
paired) and pooled over seeds (``significance.seed_user_bootstrap`` with the recipe per seed).

usage: python variant_vs_recipe.py --variant DIR [DIR ...] --recipe DIR [DIR ...]  (same seed order)
"""

import argparse

import numpy as np

from chord.experiments import significance as sig

KEY = "ml-100k/caser/chord-pretrained@1.5|full"
p = argparse.ArgumentParser()
p.add_argument("--variant", nargs="+", required=True)
p.add_argument("--recipe", nargs="+", required=True)
a = p.parse_args()
if len(a.variant) != len(a.recipe):
    raise SystemExit("--variant and --recipe: expected one run per seed in each, in the same order")
v = np.stack([sig.per_user(np.load(f"{d}/ranks.npz")[KEY], "NDCG@10") for d in a.variant])
r = np.stack([sig.per_user(np.load(f"{d}/ranks.npz")[KEY], "NDCG@10") for d in a.recipe])
fmt = lambda b: f"{b['diff']:+.4f} [{b['lo']:+.4f}, {b['hi']:+.4f}]{'*' if b['significant'] else ''}"  # noqa: E731
for i, d in enumerate(a.variant):
    print(f"{d}: {v[i].mean():.4f} - {r[i].mean():.4f} = {fmt(sig.paired_bootstrap(v[i], r[i], seed=42))}")
print(f"pooled ({len(v)} seeds): {fmt(sig.seed_user_bootstrap(v, r, seed=42))}")
