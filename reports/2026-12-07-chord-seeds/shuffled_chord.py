"""Control for CHORD's per-user part: each test user served another user's CHORD strategy.

For each ``chord experiment --out`` dir (one CHORD seed), the trained planner's test-time codes of
every user are permuted by a seeded cyclic shift of a random order (nobody keeps their own, as
``chord headroom``'s shuffled-oracle control) and scored on test through the same forward
(``CodesModel``). CHORD minus shuffled (paired bootstrap over users) says whether a user's own
codes beat another user's at the same budget: user-specific signal, not just "many strategies".
Reads a copy of each dir, so the run's results.json is left as it was.
Usage: python shuffled_chord.py OUT_JSON RUN_DIR... (PYTHONPATH: the repo's python/ and root)
"""

import json
import shutil
import sys
import tempfile
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch

from chord.data import LeaveOneOut, load_dataset
from chord.eval.evaluator import Evaluator
from chord.experiments import significance as sig
from chord.experiments.runner import Grid, GridConfig
from chord.system import ChordConfig, CodesModel

out, runs = sys.argv[1], sys.argv[2:]
torch.set_num_threads(1)
res = {}
for run in runs:
    meta = json.loads((Path(run) / "results.json").read_text())
    key = "ml-100k/caser/chord-pretrained@1.5"
    cfg_d = meta["cells"][key]["config"]
    chord_cfg = ChordConfig(**{f.name: cfg_d["chord"][f.name] for f in fields(ChordConfig) if f.name in cfg_d["chord"]})
    gkw = {f.name: cfg_d[f.name] for f in fields(GridConfig) if f.name in cfg_d and f.name != "chord"}
    gkw = {k: tuple(v) if isinstance(v, list) else v for k, v in gkw.items()}
    cfg = replace(GridConfig(**gkw), chord=chord_cfg)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(Path(run) / "ckpt", Path(tmp) / "ckpt", symlinks=True)
        grid = Grid(cfg, tmp, log=lambda *a: None)
        split = LeaveOneOut(load_dataset("ml-100k", cfg.data_dir))
        trained = grid.fp32_backbone("ml-100k", "caser", split)
        system, _ = grid.chord_system("ml-100k_caser_chord-pretrained_1.5", trained, split, 1.5, None, False)
    ev = Evaluator(split, chord_cfg.history)
    seqs = ev._stage("test")["seqs"]
    with torch.no_grad():
        codes = torch.cat([system.plan(seqs[a : a + 1024], 1.5) for a in range(0, seqs.shape[0], 1024)])
    g = torch.Generator().manual_seed(43)
    order = torch.randperm(codes.shape[0], generator=g)
    donor = torch.empty_like(order)
    donor[order] = order.roll(1)
    pos = {int(u): i for i, u in enumerate(ev.users)}
    table = codes[donor]
    shuffled = CodesModel(system.backbone, lambda s, u: table[torch.tensor([pos[int(x)] for x in u])], system.specs)
    own = ev.ranks(system, "test", "full")
    shuf = ev.ranks(shuffled, "test", "full")
    ranks = dict(np.load(Path(run) / "ranks.npz"))
    same = bool(np.array_equal(own.numpy(), ranks[key + "|full"]))  # the run's own CHORD ranks reproduced
    a, b = sig.per_user(own.numpy(), "NDCG@10"), sig.per_user(shuf.numpy(), "NDCG@10")
    res[run] = {
        "seed": cfg.seed,
        "chord_ranks_reproduced": same,
        "chord": float(a.mean()),
        "shuffled": float(b.mean()),
        "chord_minus_shuffled": sig.paired_bootstrap(a, b, resamples=1000, seed=42),
        "_a": a,
        "_b": b,
    }
    print(
        run, res[run]["seed"], same, f"{a.mean():.4f} {b.mean():.4f}", sig.format_ci(res[run]["chord_minus_shuffled"])
    )
A = np.stack([r.pop("_a") for r in res.values()])
B = np.stack([r.pop("_b") for r in res.values()])
pooled = sig.seed_user_bootstrap(A, B, resamples=1000, seed=42)
print("pooled", f"{A.mean():.4f} {B.mean():.4f}", sig.format_ci(pooled))
Path(out).write_text(json.dumps({"runs": res, "pooled": pooled}, indent=1, default=float))
