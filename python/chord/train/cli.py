"""``chord train``: train an fp32 SASRec/Caser on a dataset, print the test table, write JSON."""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path

from ..cli_args import (
    add_dataset_arguments,
    add_mask_seen_target_argument,
    add_threads_argument,
    config_from_args,
)
from ..data import DEFAULT_DATASET, LeaveOneOut, load_dataset
from ..models.caser import DROPOUT_POSITIONS, HEADS, Caser
from ..models.sasrec import ACTIVATIONS, FFN_DROPOUT, INITS, NORMS, SASRec
from .trainer import LOSSES, TrainConfig, Trainer, seed_everything

#: the options of the "model" group each backbone's constructor takes under their own name
SASREC_OPTIONS = ("dim", "blocks", "heads", "dropout", "max_len", "norm", "ffn_hidden", "act", "init", "ffn_dropout")
CASER_OPTIONS = ("dim", "L", "T", "n_v", "n_h", "dropout", "dropout_pos")


def constructor_defaults(cls: type) -> dict:
    """``cls.__init__``'s keyword defaults: the model group's defaults are the models' own, not
    restated here."""
    params = inspect.signature(cls.__init__).parameters.values()
    return {q.name: q.default for q in params if q.default is not inspect.Parameter.empty}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", choices=["sasrec", "caser"], default="sasrec")
    add_dataset_arguments(p, DEFAULT_DATASET, f"{DEFAULT_DATASET}, fetched from PyPI when absent")
    p.add_argument("--out", default=None, help="checkpoint directory (model.safetensors + config.json)")
    p.add_argument("--json", default=None, help="write the summary JSON here (default: <out>/results.json)")
    p.add_argument(
        "--resume",
        default=None,
        help="checkpoint dir to continue from (its model config wins; --epochs is the new total)",
    )
    S, C = constructor_defaults(SASRec), constructor_defaults(Caser)
    m = p.add_argument_group("model")
    m.add_argument("--dim", type=int, default=S["dim"])
    m.add_argument(
        "--dropout",
        type=float,
        default=S["dropout"],
        help=f"both models (default SASRec's {S['dropout']:g}; Caser's constructor, as RecBole, uses {C['dropout']:g})",
    )
    m.add_argument("--max-len", type=int, default=S["max_len"], help="SASRec input length")
    m.add_argument("--blocks", type=int, default=S["blocks"])
    m.add_argument("--heads", type=int, default=S["heads"])
    m.add_argument(
        "--norm",
        choices=NORMS,
        default=S["norm"],
        help="SASRec layer norm: 'query' (original, query-only), 'pre' (pre-LN) or 'post' "
        "(BERT-style post-LN with a normed embedding, as S3-Rec's SASRec)",
    )
    m.add_argument("--act", choices=sorted(ACTIVATIONS), default=S["act"], help="SASRec FFN activation")
    m.add_argument("--ffn-hidden", type=int, default=S["ffn_hidden"], help="SASRec FFN width (default: --dim)")
    m.add_argument(
        "--init",
        choices=INITS,
        default=S["init"],
        help="SASRec init: xavier matrices (kang205) or N(0, 0.02) Linear/Embedding weights (S3-Rec)",
    )
    m.add_argument(
        "--no-emb-scale", action="store_true", help="SASRec: no sqrt(d) factor on the item embeddings (S3-Rec)"
    )
    m.add_argument(
        "--ffn-dropout",
        choices=FFN_DROPOUT,
        default=S["ffn_dropout"],
        help="SASRec FFN dropout after the activation and fc2 (kang205) or after fc2 only (S3-Rec)",
    )
    m.add_argument("--L", type=int, default=C["L"], help="Caser window")
    m.add_argument("--T", type=int, default=C["T"], help="Caser targets per window")
    m.add_argument("--n-v", type=int, default=C["n_v"], help="Caser vertical filters")
    m.add_argument("--n-h", type=int, default=C["n_h"], help="Caser horizontal filters per height")
    m.add_argument("--no-user-emb", action="store_true", help="Caser without user embeddings")
    m.add_argument(
        "--caser-head",
        choices=HEADS,
        default=C["head"],
        help="Caser scoring: 'fc2' (RecBole: [z; P_u] -> fc2 -> tied item table) or 'untied' "
        "(original Caser: [z; P_u] against a separate output table + item bias; "
        "the fused runtime rejects it)",
    )
    m.add_argument(
        "--dropout-pos",
        choices=DROPOUT_POSITIONS,
        default=C["dropout_pos"],
        help="Caser dropout on z (after fc1) or on the filter outputs (before fc1: original, RecBole)",
    )
    t = p.add_argument_group("training")
    t.add_argument("--loss", choices=LOSSES, default=TrainConfig.loss)
    t.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    t.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    t.add_argument(
        "--lr", type=float, default=None, help=f"Adam lr (default {TrainConfig.lr:g}; --resume: the checkpoint's)"
    )
    t.add_argument(
        "--adam-beta2",
        type=float,
        default=None,
        help=f"Adam beta2 (default {TrainConfig.betas[1]:g} as kang205; S3-Rec uses 0.999; --resume: the checkpoint's)",
    )
    t.add_argument(
        "--weight-decay",
        type=float,
        default=None,
        help=f"Adam L2 weight decay (default {TrainConfig.weight_decay:g}; --resume: the checkpoint's)",
    )
    t.add_argument("--num-negatives", type=int, default=TrainConfig.num_negatives)
    t.add_argument("--seed", type=int, default=TrainConfig.seed)
    t.add_argument("--patience", type=int, default=TrainConfig.patience)
    t.add_argument("--eval-every", type=int, default=TrainConfig.eval_every)
    t.add_argument("--max-minutes", type=float, default=TrainConfig.max_minutes, help="wall-clock budget (0 = none)")
    add_threads_argument(t)
    t.add_argument("--min-len", type=int, default=TrainConfig.min_len)
    t.add_argument("--max-users", type=int, default=0, help="train on the first N users only (smoke tests)")
    t.add_argument("--no-progress", action="store_true")
    add_mask_seen_target_argument(t, "validation, so early stopping does not reward repeats, and test")
    t.add_argument(
        "--all-positions",
        action="store_true",
        help="SASRec: train on every target of long sequences (chunks of --max-len), not only the last",
    )


def build_from_args(args, ds):
    from ..models import build_model

    if args.model == "sasrec":
        names, derived = SASREC_OPTIONS, dict(emb_scale=not args.no_emb_scale)
    else:
        names, derived = CASER_OPTIONS, dict(num_users=0 if args.no_user_emb else ds.num_users, head=args.caser_head)
    options = {name: getattr(args, name) for name in names}
    return build_model(dict(model=args.model, num_items=ds.num_items, **options, **derived))


def run(args) -> int:
    from ..cpu_env import configure_cpu
    from ..eval.evaluator import format_table

    configure_cpu(args.threads)
    ds = load_dataset(args.dataset, args.data_dir)
    meta = dict(dataset=ds.name, dataset_source=ds.source, max_users=args.max_users)
    if args.max_users:
        ds = ds.head(args.max_users)
    print(f"{ds}  source={ds.source}")
    split = LeaveOneOut(ds, args.min_len)
    seed_everything(args.seed)
    resume = None
    if args.resume:
        from ..checkpoint import load_checkpoint
        from .trainer import load_optimizer_state

        model, resume = load_checkpoint(args.resume)
        resume["optimizer"] = load_optimizer_state(args.resume)
        if model.num_items != ds.num_items:
            raise SystemExit(f"--resume: checkpoint has {model.num_items} items, {ds.name} {ds.num_items}")
    else:
        model = build_from_args(args, ds)
    prev = resume.get("train", {}) if resume else {}  # a resumed run keeps its lr/decay unless given
    lr = args.lr if args.lr is not None else prev.get("lr", TrainConfig.lr)
    weight_decay = (
        args.weight_decay if args.weight_decay is not None else prev.get("weight_decay", TrainConfig.weight_decay)
    )
    beta2 = args.adam_beta2 if args.adam_beta2 is not None else prev.get("betas", TrainConfig.betas)[1]
    if not 0.0 <= beta2 < 1.0:
        raise SystemExit(f"--adam-beta2: expected a value in [0, 1), got {beta2}")
    cfg = config_from_args(
        TrainConfig,
        args,
        lr=lr,
        betas=(TrainConfig.betas[0], beta2),
        weight_decay=weight_decay,
        progress=not args.no_progress,
    )
    meta.update(num_users=ds.num_users, num_items=ds.num_items)
    summary = Trainer(cfg, log=lambda s: print(s, flush=True)).fit(model, split, args.out, meta, resume)
    print(
        format_table(
            summary["test"],
            f"test ({model.config['model']}, {ds.name}, loss={args.loss}, "
            f"best epoch {summary['best_epoch']}/{summary['epochs_run']}, "
            f"{summary['train_seconds'] / 60:.1f} min, {summary['stop_reason']})",
        )
    )
    out_json = args.json or (Path(args.out) / "results.json" if args.out else None)
    if out_json:
        Path(out_json).parent.mkdir(parents=True, exist_ok=True)
        Path(out_json).write_text(json.dumps({k: v for k, v in summary.items()}, indent=2, default=float))
        print(f"wrote {out_json}")
    return 0
