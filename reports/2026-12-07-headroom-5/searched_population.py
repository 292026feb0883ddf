"""The searched population strategy of ``chord headroom`` cells, scored on every test user.

A headroom cell searched one strategy (group codes, ``population_codes`` in its results.json) on the
validation items of a sample of users. This scores that same strategy once on the test item of
*every* user (full ranking, history masked as the cell's run), so CHORD, layer-wise and DIET, which
``chord experiment`` scores on every user, can be compared with it user by user. Nothing is searched
or selected here; the test stage is read once per strategy.

Writes ``OUT/results.json`` and ``OUT/ranks.npz`` in ``chord experiment``'s layout
(``<pair>/population-searched@<bits>`` and ``<pair>/fp32``; the fp32 ranks let a join check that
both ran the same checkpoint and split).

Where a budget was searched from both starts (``--start uniform`` / ``descend``: several ``--cells``),
the strategy with the lower population *validation* loss is scored (selection on validation only,
as headroom-4's figure).

usage: python searched_population.py CKPT DATASET OUT --cells HEADROOM_DIR TAG [--cells ...] [--mask-seen-target]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from chord.checkpoint import load_checkpoint
from chord.codebook import Codebook
from chord.data import LeaveOneOut, load_dataset
from chord.eval.evaluator import Evaluator
from chord.eval.metrics import metrics_from_ranks
from chord.experiments import headroom as hr
from chord.system import CodesModel
from chord.system.cloud import planned_layers


def main(a: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    cells = {}
    for d, tag in a.cells:
        for k, c in json.loads((Path(d) / "results.json").read_text())["cells"].items():
            b = c["budget"]
            if k.rsplit("@", 1)[0] == tag and (
                b not in cells or c["valid_loss"]["population"] < cells[b]["valid_loss"]["population"]
            ):
                cells[b] = {**c, "from": f"{d}:{k}"}
    backbone, meta = load_checkpoint(a.ckpt)
    backbone.eval()
    pair = f"{a.dataset}/{meta['model']['model']}"
    split = LeaveOneOut(load_dataset(a.dataset, a.data_dir))
    ev = Evaluator(split, 50, mask_seen_target=a.mask_seen_target)
    cb = Codebook.default()
    specs = planned_layers(backbone)
    ranks = {f"{pair}/fp32|full": ev.ranks(backbone, "test", "full")}
    n = int(ranks[f"{pair}/fp32|full"].numel())
    out = {f"{pair}/fp32": {"test": {"full": {**metrics_from_ranks(ranks[f"{pair}/fp32|full"], ev.ks), "users": n}}}}
    for b, c in sorted(cells.items()):
        groups = hr.channel_groups(backbone, specs, c["args"]["blocks"], cb)
        if list(groups.names) != list(c["group_names"]):
            raise SystemExit(f"{c['from']}: the checkpoint's groups differ from the cell's")
        codes = groups.expand(torch.tensor(c["population_codes"], dtype=torch.long))
        key = f"{pair}/population-searched@{b}"
        ranks[f"{key}|full"] = ev.ranks(CodesModel(backbone, lambda s, u, c=codes: c, specs, cb), "test", "full")
        m = {**metrics_from_ranks(ranks[f"{key}|full"], ev.ks), "users": n}
        out[key] = {
            "test": {"full": m},
            "avg_bits": float(hr.avg_bits(torch.tensor(c["population_codes"]), groups, cb)),
        }
        out[key]["searched_on"] = {
            "cell": c["from"],
            "users": c["users"],
            "start": c.get("start", "uniform"),
            "seed": c["args"]["seed"],
        }
        print(
            f"[{key}] NDCG@10 {m['NDCG@10']:.4f} on {ranks[f'{key}|full'].numel()} users ({out[key]['avg_bits']:.2f} bits)"
        )
    a.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(a.out / "ranks.npz", **{k: v.numpy().astype(np.int32) for k, v in ranks.items()})
    res = {"cells": out, "meta": {"runs": [{"config": {"seed": None, "cells": a.cells}}]}}
    (a.out / "results.json").write_text(json.dumps(res, indent=1, default=float))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("ckpt")
    p.add_argument("dataset")
    p.add_argument("out", type=Path)
    p.add_argument("--cells", nargs=2, action="append", required=True, metavar=("HEADROOM_DIR", "TAG"))
    p.add_argument("--mask-seen-target", action="store_true")
    p.add_argument("--data-dir", default="/work/shared/data")
    main(p.parse_args())
