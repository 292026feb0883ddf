"""``chord headroom``: oracle per-user vs population strategy, per (dataset, backbone, budget) cell.

Protocol (see :mod:`chord.experiments.headroom`): ``--users`` eval users sampled with ``--seed``;
both searches read only the validation stage (history = train part, target = validation item);
both strategies are then scored once on the test stage (history = train + validation, target = test
item; full ranking, history masked) and compared user by user with the project's paired bootstrap.
Resumable: each finished cell is written to ``<out>/results.json`` at once (per-user test ranks to
``<out>/ranks.npz``); a rerun skips finished cells.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch

from chord.checkpoint import load_checkpoint
from chord.cli_args import (
    add_bootstrap_argument,
    add_dataset_arguments,
    add_mask_seen_target_argument,
    add_threads_argument,
)
from chord.codebook import Codebook
from chord.data import DEFAULT_DATASET, LeaveOneOut, load_dataset
from chord.eval.evaluator import Evaluator
from chord.eval.metrics import metrics_from_ranks
from chord.system import CodesModel
from chord.system.cloud import planned_layers

from . import headroom as hr
from . import headroom_paired as hp
from . import significance as sig


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_dataset_arguments(p, DEFAULT_DATASET)
    p.add_argument("--ckpt", default=None, help="fp32 backbone checkpoint (chord train --out), frozen")
    p.add_argument("--table", nargs="+", default=None, help="print the markdown table of these --out dirs and exit")
    p.add_argument("--tag", default=None, help="cell prefix (default <dataset>/<model>)")
    p.add_argument("--budgets", type=float, nargs="+", default=[2.0, 3.0])
    p.add_argument("--users", type=int, default=500, help="eval users sampled per cell (0 = all)")
    p.add_argument("--blocks", type=int, default=2, help="search groups per layer")
    p.add_argument(
        "--rounds", type=int, default=12, help="population search rounds at most (stops when no move improves)"
    )
    p.add_argument("--oracle-rounds", type=int, default=3, help="per-user search rounds (from population)")
    p.add_argument(
        "--start",
        choices=("uniform", "descend"),
        default="uniform",
        help="population search start: the widest uniform code within the budget, or from the narrowest "
        "width at or above it, narrowing greedily until it fits (escapes the all-pruned start below 2 bits)",
    )
    p.add_argument(
        "--search-items",
        type=int,
        default=1,
        help="per-user search data: the validation item (1) plus the user's last k-1 training targets",
    )
    p.add_argument("--history", type=int, default=50, help="input items (as chord experiment's CHORD history)")
    add_mask_seen_target_argument(p, "search and test")
    p.add_argument(
        "--chord-results",
        nargs="+",
        default=None,
        help="chord experiment --out dirs of the same checkpoint (one per CHORD training seed): their "
        "per-user test ranks join the headroom cells' users (checked against fp32's)",
    )
    p.add_argument("--paired-out", default=None, help="with --table and --chord-results: write the joined JSON here")
    p.add_argument("--curve", default=None, help="with --table and --chord-results: the budget-curve PNG")
    add_bootstrap_argument(p)
    p.add_argument("--seed", type=int, default=42)
    add_threads_argument(p, default=1)
    p.add_argument("--out", default="headroom_out")


def sample_rows(n: int, k: int, seed: int) -> torch.Tensor:
    """Sorted positions of ``k`` of ``n`` eval users (all when k <= 0 or k >= n), seeded."""
    if k <= 0 or k >= n:
        return torch.arange(n)
    g = torch.Generator().manual_seed(int(seed))
    return torch.sort(torch.randperm(n, generator=g)[:k]).values


def _restricted(ev: Evaluator, rows: torch.Tensor) -> Evaluator:
    ev = copy.copy(ev)
    sp = copy.copy(ev.split)
    sp.eval_users = np.asarray(ev.split.eval_users)[rows.numpy()]
    ev.split, ev.users, ev._cache = sp, torch.from_numpy(sp.eval_users), {}
    return ev


def run_cell(backbone, split, budget: float, rows: torch.Tensor, args, log=print) -> dict:
    """Search population and oracle strategies on validation; score both (and fp32) on test."""
    cb = Codebook.default()
    specs = planned_layers(backbone)
    groups = hr.channel_groups(backbone, specs, args.blocks, cb)
    ev = _restricted(Evaluator(split, args.history, mask_seen_target=args.mask_seen_target), rows)
    k = getattr(args, "search_items", 1)
    data = hr.search_instances(split, rows, k, args.history, args.mask_seen_target)
    obj = hr.StageLoss(backbone, specs, groups, *data)
    t0 = time.perf_counter()
    pop_obj = lambda c, r: obj.population(c[0]).view(1)  # noqa: E731
    if getattr(args, "start", "uniform") == "descend":
        start, n_start = hr.descend_start(pop_obj, groups, budget, cb, log)
    else:
        start, n_start = hr.start_codes(groups, budget, cb), 0
    pop, pop_val, n_pop = hr.local_search(pop_obj, start, groups, budget, args.rounds, cb, log)
    n_pop += n_start
    t_pop = time.perf_counter() - t0
    pop_user_val = obj.per_user(pop.expand(rows.numel(), -1))
    pos = {int(u): i for i, u in enumerate(ev.users)}

    def per_user_model(codes):  # row i of codes (group codes [U, G]) serves user ev.users[i]
        table = groups.expand(codes)
        return CodesModel(backbone, lambda s, u: table[torch.tensor([pos[int(x)] for x in u])], specs, cb)

    # the oracle after each round, scored on test only to describe the trajectory (nothing is
    # selected on it: the reported oracle is the last round's)
    by_round = {}

    def on_round(r, codes):
        by_round[r] = ev.ranks(per_user_model(codes), "test", "full")

    t_sc = time.perf_counter()
    orc, orc_val, n_orc = hr.local_search(
        obj.per_user, pop.expand(rows.numel(), -1), groups, budget, args.oracle_rounds, cb, log, on_round
    )
    t_orc = time.perf_counter() - t_sc
    # control: each user gets another sampled user's oracle strategy (a seeded cyclic shift of a
    # random order, so nobody keeps their own): tells personal fit from "a different strategy"
    g = torch.Generator().manual_seed(int(args.seed) + 1)
    order = torch.randperm(rows.numel(), generator=g)
    donor = torch.empty_like(order)
    donor[order] = order.roll(1)
    shuffled_model = per_user_model(orc[donor])
    pop_model = CodesModel(backbone, lambda s, u: groups.expand(pop[0]), specs, cb)
    ranks = {
        "oracle": ev.ranks(per_user_model(orc), "test", "full"),
        "population": ev.ranks(pop_model, "test", "full"),
        "oracle-shuffled": ev.ranks(shuffled_model, "test", "full"),
        "fp32": ev.ranks(backbone, "test", "full"),
    }
    bits = hr.avg_bits(orc, groups, cb)
    searched = obj.weight.sum(1) > 0
    res = {
        "budget": budget,
        "users": int(rows.numel()),
        "search_items": k,
        "start": getattr(args, "start", "uniform"),
        "groups": groups.size,
        "population_codes": pop[0].tolist(),
        "group_names": list(groups.names),
        "avg_bits": {"population": float(hr.avg_bits(pop, groups, cb)[0]), "oracle_max": float(bits.max())},
        "valid_loss": {  # over the users with search data (see hr.search_instances)
            "population": float(pop_user_val[searched].mean()),
            "oracle": float(orc_val[searched].mean()),
            "users_improved": int((orc_val < pop_user_val - 1e-12).sum()),
            "users_searched": int(searched.sum()),
        },
        "oracle_differs": float((orc != pop).any(1).double().mean()),
        "oracle_changed_groups": float((orc != pop).sum(1).double().mean()),
        "test": {k: metrics_from_ranks(v, (5, 10, 20)) for k, v in ranks.items()},
        "evaluations": {"population": n_pop, "oracle": n_orc},
        "seconds": {"population": t_pop, "oracle": t_orc},
        "_ranks": ranks,
        "_rows": rows,
    }
    cmp = sig.compare(ranks, "oracle", ["population", "oracle-shuffled"], resamples=args.bootstrap, seed=args.seed)
    res["oracle_minus_population"] = cmp["population"]
    pop_ndcg = sig.per_user(ranks["population"], "NDCG@10")
    res["oracle_by_round"] = {
        str(r): {
            "NDCG@10": float(sig.per_user(v, "NDCG@10").mean()),
            "minus_population": sig.paired_bootstrap(
                sig.per_user(v, "NDCG@10"), pop_ndcg, resamples=args.bootstrap, seed=args.seed
            ),
        }
        for r, v in by_round.items()
    }
    res["oracle_minus_shuffled"] = cmp["oracle-shuffled"]
    return res


def run(args) -> int:
    if args.table:
        from .headroom_table import markdown, markdown_by_round

        try:
            print(markdown(args.table) + "\n\n" + markdown_by_round(args.table))
        except ValueError as e:
            raise SystemExit(f"chord headroom: {e}") from None
        if args.chord_results:
            _paired_table(args)
        return 0
    if not args.ckpt:
        raise SystemExit("chord headroom: --ckpt is required (or --table DIR ...)")
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path, rpath = out / "results.json", out / "ranks.npz"
    results = json.loads(path.read_text()) if path.exists() else {"cells": {}, "meta": {}}
    saved = dict(np.load(rpath)) if rpath.exists() else {}
    backbone, meta = load_checkpoint(args.ckpt)
    backbone.eval()
    for p in backbone.parameters():
        p.requires_grad_(False)
    model_name = meta["model"]["model"]
    split = LeaveOneOut(load_dataset(args.dataset, args.data_dir))
    rows = sample_rows(len(split.eval_users), args.users, args.seed)
    tag = args.tag or f"{args.dataset}/{model_name}"
    chord_runs = hp.load_runs(args.chord_results) if args.chord_results else []
    for b in args.budgets:
        key = f"{tag}@{b}"
        if key in results["cells"]:
            print(f"[{key}] done, skipped")
            continue
        print(f"[{key}] {rows.numel()} users")
        res = run_cell(backbone, split, b, rows, args)
        for name, r in res.pop("_ranks").items():
            saved[f"{key}|{name}"] = r.numpy().astype(np.int32)
        saved[f"{key}|rows"] = res.pop("_rows").numpy().astype(np.int32)
        if chord_runs:
            res["chord"] = hp.paired_cell(key, saved, chord_runs, args.bootstrap, args.seed)
        res["args"] = {k: v for k, v in vars(args).items()}
        results["cells"][key] = res
        np.savez_compressed(out / "ranks.tmp.npz", **saved)
        (out / "ranks.tmp.npz").replace(rpath)
        path.with_suffix(".tmp").write_text(json.dumps(results, indent=1, default=float))
        path.with_suffix(".tmp").replace(path)
        d = res["oracle_minus_population"]["NDCG@10"]
        print(
            f"[{key}] NDCG@10 oracle {res['test']['oracle']['NDCG@10']:.4f} population "
            f"{res['test']['population']['NDCG@10']:.4f} diff {sig.format_ci(d)} "
            f"({res['seconds']['population'] + res['seconds']['oracle']:.0f}s)"
        )
    return 0


def _paired_table(args) -> None:
    """Print (and optionally write) every method on the headroom cells' users, CHORD's seeds joined."""
    res = hp.paired(args.table, args.chord_results, args.bootstrap, args.seed)
    print("\n" + hp.markdown(res))
    if args.paired_out:
        Path(args.paired_out).write_text(json.dumps(res, indent=1, default=float))
    if args.curve:
        from .plots import paired_budget_curves

        paired_budget_curves(res, args.curve)
