"""``chord experiment``: the paper-style grid (see ``chord.experiments.runner``)."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from chord.cli_args import (
    add_bootstrap_argument,
    add_data_dir_argument,
    add_mask_seen_target_argument,
    add_threads_argument,
    config_from_args,
)
from chord.system import ChordConfig

from .runner import METHODS, SWEEP, Grid, GridConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--datasets", nargs="+", default=["ml-100k"], help="ml-100k, beauty, yelp, ... (in order)")
    p.add_argument("--models", nargs="+", default=["sasrec", "caser"], choices=["sasrec", "caser"])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    add_data_dir_argument(p)
    p.add_argument("--out", default="experiments_out", help="results.json, checkpoints, PNGs (resumable)")
    p.add_argument("--budget", type=float, default=3.0, help="average bits of the main table")
    p.add_argument("--sweep", type=float, nargs="*", default=list(SWEEP))
    p.add_argument("--max-users", type=int, default=0, help="use the first N users of each dataset")
    p.add_argument("--fp32-minutes", type=float, default=5.0)
    p.add_argument("--chord-minutes", type=float, default=6.0)
    p.add_argument("--chord-epochs", type=int, default=30)
    p.add_argument("--instances-per-epoch", type=int, default=20000)
    p.add_argument(
        "--chord-patience", type=int, default=3, help="CHORD early stop: epochs without a better validation NDCG@10"
    )
    p.add_argument("--chord-noise", type=float, default=0.5, help="Gumbel (logistic) noise scale on the bit targets")
    p.add_argument("--chord-lr", type=float, default=1e-3, help="hypernetworks + profiler learning rate")
    p.add_argument("--mode", choices=["tiers", "penalty"], default="tiers")
    p.add_argument(
        "--chord-loss",
        choices=["bce", "ce"],
        default="ce",
        help="CHORD task loss; default ce = the fp32 trainer's loss (the backbone's task loss)",
    )
    p.add_argument("--scope", choices=["global", "layer"], default="global")
    p.add_argument(
        "--pretrained-item-emb",
        action="store_true",
        help="pretrained-frozen CHORD also trains the item table (default: frozen with the backbone)",
    )
    add_mask_seen_target_argument(p, "test, CHORD validation, layer-wise sensitivity")
    add_bootstrap_argument(p)
    p.add_argument(
        "--warm-start",
        choices=["none", "layerwise"],
        default="none",
        help="layerwise: chord-pretrained's layer-level head starts at layer-wise MP's allocation "
        "(bias only; the sensitivity is measured on validation)",
    )
    p.add_argument(
        "--chord-deviation",
        type=float,
        default=0.0,
        help="weight of the penalty on each user's bit targets' squared deviation from the batch mean "
        "(chord.system.chord_trainer.deviation_penalty); 0 = off",
    )
    p.add_argument(
        "--chord-shrink",
        type=float,
        nargs="+",
        default=[1.0],
        help="planning-time shrinkage of each user's targets toward CHORD's population "
        "(0 = one strategy, 1 = as trained); several values: each CHORD cell serves the one with the "
        "best validation NDCG@10",
    )
    p.add_argument(
        "--chord-channel-shrink",
        type=float,
        nargs="+",
        default=None,
        help="the same for the within-layer part of each user's deviation (which channels of a layer); "
        "given: every (--chord-shrink, --chord-channel-shrink) pair is a candidate; default: equal to --chord-shrink",
    )
    p.add_argument("--seed", type=int, default=42)
    add_threads_argument(p)
    p.add_argument("--quick", action="store_true", help="CI-size: 60 users, tiny budgets, 2 sweep points")


def run(args) -> int:
    chord = config_from_args(
        ChordConfig,
        args,
        prefix="chord_",
        instances_per_epoch=args.instances_per_epoch,
        mode=args.mode,
        scope=args.scope,
        progress=False,
    )
    cfg = config_from_args(
        GridConfig,
        args,
        chord=chord,
        shrink=tuple(args.chord_shrink),
        channel_shrink=None if args.chord_channel_shrink is None else tuple(args.chord_channel_shrink),
    )
    if args.quick:
        cfg = replace(
            cfg,
            max_users=args.max_users or 60,
            fp32_minutes=0.05,
            fp32_epochs=1,
            chord_minutes=0.05,
            sweep=(2.0, args.budget),
            device_users=2,
            heatmap_users=2,
            chord=replace(chord, epochs=1, instances_per_epoch=256, batch_size=128, d_user=16, hidden=32),
        )
    out = Path(args.out)
    grid = Grid(cfg, out)
    res = grid.run()
    from .plots import budget_sweep
    from .table import device_table, significance_table, table

    if budget_sweep(res, out / "budget_sweep.png"):
        res["meta"].setdefault("figures", {})["budget_sweep"] = "budget_sweep.png"
    text = table(res, args.budget) + "\n\n" + significance_table(res) + "\n\n" + device_table(res)
    (out / "table.md").write_text(text + "\n")
    grid._save()
    print(text)
    print(
        f"\nresults: {out / 'results.json'}; table: {out / 'table.md'}; figures: "
        + json.dumps(res["meta"].get("figures", {}))
    )
    return 0
