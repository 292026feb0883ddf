"""CHORD joined to ``chord headroom`` cells: every method on the same checkpoint and the same users.

A ``chord headroom`` cell (``<dataset>/<model>@<bits>``) keeps, in its ``ranks.npz``, the rows of its
sampled users (``<key>|rows``: positions among the split's eval users) and their test ranks under
fp32, the searched population strategy and the oracle. A ``chord experiment`` run keeps every
method's test ranks on all eval users, in the same order (``<dataset>/<model>/<method>@<bits>|full``).
The join takes those rows. The fp32 ranks of the two must agree user by user: that checks that both
ran the same checkpoint on the same split and the same users, so the join is never silently wrong.

Each experiment dir is one CHORD training seed. Per seed, CHORD minus each baseline gets the paired
bootstrap over users; the pooled row averages the seeds and resamples users and seeds together
(:func:`chord.experiments.significance.seed_user_bootstrap`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import significance as sig

CHORD = "chord-pretrained"
#: rows a chord experiment run may add, and the label each gets in tables and figures
JOINED = {
    "layerwise": "layer-wise",
    "population-pretrained": "CHORD's population",
    "diet-pretrained": "DIET (pretrained)",
    "diet": "DIET (random-frozen)",
    "ptq2": "uniform 2-bit",
}
#: what CHORD is compared with (each present one), and oracle minus population
VERSUS = ("population", "layerwise", "diet-pretrained", "diet", "population-pretrained")


def load_runs(chord_dirs) -> list[dict]:
    """``chord experiment --out`` dirs -> [{"name", "seed", "ranks"}] (seed from results.json)."""
    runs = []
    for d in chord_dirs:
        d = Path(d)
        if not (d / "ranks.npz").exists():
            raise FileNotFoundError(f"chord_results: {d} has no ranks.npz (a chord experiment --out dir)")
        res = json.loads((d / "results.json").read_text()) if (d / "results.json").exists() else {}
        seeds = {c.get("config", {}).get("seed") for c in res.get("cells", {}).values()} - {None}
        runs.append({"name": str(d), "seed": min(seeds) if seeds else None, "ranks": dict(np.load(d / "ranks.npz"))})
    return runs


def join(key: str, hr_ranks: dict, runs: list[dict]) -> tuple[dict, list]:
    """One headroom cell's ranks and the runs' rows for its users.

    Returns ({method: int [n]} for fp32, population, oracle and each :data:`JOINED` method found (the
    first run that has it), [(run name, seed, int [n], its own CHORD population's int [n] or None) for
    each run with CHORD at this budget])."""
    pair, b = key.rsplit("@", 1)
    rows = np.asarray(hr_ranks[f"{key}|rows"])
    ranks = {m: np.asarray(hr_ranks[f"{key}|{m}"]) for m in ("fp32", "population", "oracle")}
    seeds = []
    for run in runs:
        r = run["ranks"]
        if not any(k.startswith(pair + "/") for k in r):
            continue  # a run of another dataset/backbone (one --chord-results list for all cells)
        fp = r.get(f"{pair}/fp32|full")
        if fp is None:
            raise ValueError(
                f"chord_results {run['name']}: no {pair}/fp32 full-ranking ranks to check the join "
                "against (run chord experiment with --methods fp32 ...)"
            )
        if rows.size and int(rows.max()) >= fp.shape[0]:
            raise ValueError(
                f"chord_results {run['name']}: {fp.shape[0]} eval users, but the headroom cell {key} samples row "
                f"{int(rows.max())}: not the same split (--max-users?)"
            )
        if not np.array_equal(fp[rows], ranks["fp32"]):
            bad = int((fp[rows] != ranks["fp32"]).sum())
            raise ValueError(
                f"chord_results {run['name']}: fp32 test ranks differ from headroom cell {key}'s on {bad} of "
                f"{rows.size} users: not the same checkpoint, split or history length"
            )
        if f"{pair}/{CHORD}@{b}|full" in r:
            own = r.get(f"{pair}/population-pretrained@{b}|full")
            own = None if own is None else own[rows]
            seeds.append((run["name"], run["seed"], r[f"{pair}/{CHORD}@{b}|full"][rows], own))
        for m in JOINED:
            if m not in ranks and f"{pair}/{m}@{b}|full" in r:
                ranks[m] = r[f"{pair}/{m}@{b}|full"][rows]
    return ranks, seeds


def paired_cell(key: str, hr_ranks: dict, runs: list[dict], resamples: int = 1000, seed: int = 42) -> dict:
    """Metrics and paired differences of one headroom cell with CHORD's seeds joined.

    ``mean``: {method: {metric: mean over the users}} (``chord`` = the seeds' mean, and CHORD's
    population the mean of each seed's own when every run has one);
    ``chord_seeds``: [{"run", "seed", metric: mean, "minus": {baseline: {metric: bootstrap}}}];
    ``chord_pooled``: {baseline: {metric: seed-and-user bootstrap}}; ``oracle_minus_population``."""
    ranks, seeds = join(key, hr_ranks, runs)
    kw = {"resamples": resamples, "seed": seed}
    per = {m: {k: sig.per_user(r, k) for k in sig.METRICS} for m, r in ranks.items()}
    out = {
        "users": int(ranks["fp32"].size),
        "mean": {m: {k: float(v.mean()) for k, v in d.items()} for m, d in per.items()},
        "oracle_minus_population": {
            k: sig.paired_bootstrap(per["oracle"][k], per["population"][k], **kw) for k in sig.METRICS
        },
        "chord_seeds": [],
    }
    if not seeds:
        return out
    versus = [m for m in VERSUS if m in per]
    cs = {k: np.stack([sig.per_user(r, k) for _, _, r, _ in seeds]) for k in sig.METRICS}
    base = {m: {k: np.broadcast_to(per[m][k], cs[k].shape) for k in sig.METRICS} for m in versus}
    # CHORD's population comes with each seed (the same planner's mean targets): when every run has
    # its own, each seed is compared with its own
    if "population-pretrained" in base and all(o is not None for *_, o in seeds):
        own = {k: np.stack([sig.per_user(o, k) for *_, o in seeds]) for k in sig.METRICS}
        base["population-pretrained"] = own
        out["mean"]["population-pretrained"] = {k: float(v.mean()) for k, v in own.items()}
    for i, (name, s, _, _) in enumerate(seeds):
        row = {"run": name, "seed": s, **{k: float(cs[k][i].mean()) for k in sig.METRICS}}
        row["minus"] = {
            m: {k: sig.paired_bootstrap(cs[k][i], base[m][k][i], **kw) for k in sig.METRICS} for m in versus
        }
        out["chord_seeds"].append(row)
    out["mean"]["chord"] = {k: float(cs[k].mean()) for k in sig.METRICS}
    out["chord_pooled"] = {
        m: {k: sig.seed_user_bootstrap(cs[k], base[m][k], **kw) for k in sig.METRICS} for m in versus
    }
    return out


def paired(headroom_dirs, chord_dirs, resamples: int = 1000, seed: int = 42) -> dict:
    """{headroom cell key: :func:`paired_cell`} over every cell of ``headroom_dirs`` (their
    ``ranks.npz`` are needed: they are not in git; ``chord headroom`` regenerates them)."""
    runs = load_runs(chord_dirs)
    out = {}
    for d in headroom_dirs:
        d = Path(d)
        if not (d / "ranks.npz").exists():
            raise FileNotFoundError(f"{d}: no ranks.npz (rerun its chord headroom command; results are resumable)")
        hr_ranks = dict(np.load(d / "ranks.npz"))
        res = json.loads((d / "results.json").read_text())
        for key, cell in res["cells"].items():
            if cell.get("search_items", 1) != 1 or f"{key}|rows" not in hr_ranks:
                continue
            pair, b = key.rsplit("@", 1)
            c = {**paired_cell(key, hr_ranks, runs, resamples, seed), "pair": pair, "budget": float(b)}
            c["headroom_dir"] = str(d)
            out[key if key not in out else f"{key} ({c['users']} users)"] = c  # e.g. a sample and all users
    return dict(sorted(out.items(), key=lambda kv: (kv[1]["pair"], kv[1]["users"], kv[1]["budget"])))


def markdown(res: dict, metric: str = "NDCG@10") -> str:
    """Two tables: each method's ``metric`` per cell, and CHORD minus each baseline per seed and pooled."""
    cols = ["fp32", "population", "oracle", *JOINED, "chord"]
    names = {"population": "population (searched)", "chord": "CHORD (mean of seeds)", **JOINED}
    present = [c for c in cols if any(c in r["mean"] for r in res.values())]
    lines = [
        "| cell | users | " + " | ".join(names.get(c, c) for c in present) + " | oracle - population [95 % CI] |",
        "|---|---|" + "---|" * (len(present) + 1),
    ]
    for key, r in res.items():
        vals = [f"{r['mean'][c][metric]:.4f}" if c in r["mean"] else "" for c in present]
        lines.append(
            f"| {key} | {r['users']} | "
            + " | ".join(vals)
            + f" | {sig.format_ci(r['oracle_minus_population'][metric])} |"
        )
    versus = [m for m in VERSUS if any(m in s["minus"] for r in res.values() for s in r["chord_seeds"])]
    vnames = {"population": "population (searched)", **JOINED}
    lines += [
        "",
        "| cell | CHORD | " + metric + " | " + " | ".join(f"minus {vnames[m]} [95 % CI]" for m in versus) + " |",
        "|---|---|---|" + "---|" * len(versus),
    ]
    for key, r in res.items():
        for s in r["chord_seeds"]:
            cis = [sig.format_ci(s["minus"][m][metric]) if m in s["minus"] else "" for m in versus]
            lines.append(f"| {key} | seed {s['seed']} | {s[metric]:.4f} | " + " | ".join(cis) + " |")
        if len(r["chord_seeds"]) > 1:
            pooled = r["chord_pooled"]
            cis = [sig.format_ci(pooled[m][metric]) if m in pooled else "" for m in versus]
            n = len(r["chord_seeds"])
            lines.append(
                f"| {key} | pooled ({n} seed{'s' if n != 1 else ''}) | {r['mean']['chord'][metric]:.4f} | "
                + " | ".join(cis)
                + " |"
            )
    return "\n".join(lines)
