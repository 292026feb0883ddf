"""``chord eval``: evaluate a checkpoint (full ranking and 1+99 sampled), print a table, write JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..cli_args import add_dataset_arguments, add_mask_seen_target_argument, add_threads_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="directory written by `chord train --out` (model.safetensors + config.json)")
    add_dataset_arguments(p, None, "the one recorded in the checkpoint")
    p.add_argument("--stage", choices=["valid", "test"], default="test")
    p.add_argument("--modes", nargs="+", choices=["full", "sampled"], default=["full", "sampled"])
    p.add_argument("--num-negatives", type=int, default=99)
    p.add_argument("--eval-seed", type=int, default=None, help="seed of the sampled negatives (default: training's)")
    p.add_argument("--min-len", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=1024)
    add_mask_seen_target_argument(p, "the --stage's")
    add_threads_argument(p)
    p.add_argument("--json", default=None, help="write results here")


def run(args) -> int:
    from ..checkpoint import load_checkpoint
    from ..cpu_env import configure_cpu
    from ..data import LeaveOneOut, load_dataset
    from .evaluator import Evaluator, format_table

    configure_cpu(args.threads)
    model, meta = load_checkpoint(args.checkpoint)
    train_cfg = meta.get("train", {})
    name = args.dataset or meta.get("dataset")
    if name is None:
        raise SystemExit("--dataset: the checkpoint records no dataset; pass one")
    ds = load_dataset(name, args.data_dir)
    if meta.get("max_users") and args.dataset is None:  # the checkpoint was trained on a slice
        ds = ds.head(int(meta["max_users"]))
    if ds.num_items != model.num_items:
        raise SystemExit(f"--dataset: {ds.name} has {ds.num_items} items, the checkpoint's model {model.num_items}")
    split = LeaveOneOut(ds, args.min_len or train_cfg.get("min_len", 3))
    ev = Evaluator(
        split,
        model.max_len,
        num_negatives=args.num_negatives,
        seed=args.eval_seed if args.eval_seed is not None else train_cfg.get("eval_seed", 2024),
        batch_size=args.batch_size,
        mask_seen_target=args.mask_seen_target,
    )
    res = ev.evaluate(model, args.stage, tuple(args.modes))
    print(format_table(res, f"{args.stage} ({meta['model']['model']}, {ds.name}, {args.checkpoint})"))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps(
                dict(
                    checkpoint=str(args.checkpoint),
                    dataset=ds.name,
                    stage=args.stage,
                    mask_seen_target=args.mask_seen_target,
                    results=res,
                ),
                indent=2,
            )
        )
        print(f"wrote {args.json}")
    return 0
