"""The budget curves of issue 19, rebuilt from committed result files only (no training, no ranks).

Test NDCG@10 (full ranking) against the budget (average bits per weight element), one panel per
dataset x backbone: the pretrained-frozen backbones (top two rows) and the random-frozen ones (bottom
two rows). Drawn where a result file has the point, never interpolated: CHORD, CHORD's own one
strategy, the searched population strategy, the oracle (per-user search), layer-wise, DIET and fp32.

A user set is one line style: the headroom cells score a seeded sample of users (solid lines and
their fp32, dotted); ``chord experiment`` cells score every user (dashed lines, hollow markers, and
their fp32, dashed). Compare a point with the fp32 of its own user set. Where a panel has both, the
legend says which is which. Several seeds (or user samples) are drawn as their mean with min-max bars.

At 1.5 bits, where a 500-user cell was searched from both starts (``--start uniform`` / ``descend``),
the start with the lower population *validation* loss is drawn (selection on validation only).

usage: python reports/2026-12-07-headroom-4/budget_curves.py [OUT.png]   (run from the repo root)
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402  (matplotlib's own dependency)

REP = Path("reports")
H3 = REP / "2026-12-07-headroom-3"
H4 = REP / "2026-12-07-headroom-4"
PAIRED = REP / "2026-12-06-chord-paired" / "chord"
SEEDS = REP / "2026-12-07-chord-seeds"
METHOD = REP / "2026-12-06-chord-method"
METRIC = "NDCG@10"
BUDGETS = (1.5, 2.0, 2.5, 3.0)

# method -> (colour, marker)
STYLE = {
    "population (searched)": ("C0", "o"),
    "oracle (per user, searched)": ("C1", "o"),
    "CHORD": ("C9", "D"),
    "CHORD trained at 1.5": ("C4", "*"),
    "CHORD-random": ("C9", "D"),
    "CHORD's one strategy": ("C3", "v"),
    "layer-wise": ("C2", "s"),
    "DIET": ("C5", "P"),
    "CHORD-random, same run as DIET": ("C6", "d"),
}


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def headroom(path: Path, tag: str) -> dict[float, dict]:
    """``chord headroom --out`` dir -> {budget: cell} for the cells named ``tag@budget``."""
    res = _json(path / "results.json")
    cells = (res or {}).get("cells", {})
    return {c["budget"]: c for k, c in cells.items() if k.rsplit("@", 1)[0] == tag}


def experiment(path: Path) -> dict[str, float]:
    """``chord experiment`` results.json -> {cell key: test METRIC on every user}."""
    res = _json(path) or {}
    out = {}
    for k, c in res.get("cells", {}).items():
        t = c.get("test", {})
        t = t.get("full", t)
        if METRIC in t:
            out[k] = t[METRIC]
    return out


def users_of(path: Path) -> int | None:
    res = _json(path) or {}
    for c in res.get("cells", {}).values():
        t = c.get("test", {})
        t = t.get("full", t)
        if "users" in t:
            return int(t["users"])
    return None


def best_start(*runs: dict[float, dict]) -> dict[float, dict]:
    """Per budget, the cell whose population search reached the lower validation loss."""
    out: dict[float, dict] = {}
    for run in runs:
        for b, c in run.items():
            if b not in out or c["valid_loss"]["population"] < out[b]["valid_loss"]["population"]:
                out[b] = c
    return out


def hr_series(cells: dict[float, dict], users: str) -> list[dict]:
    """Population, oracle and fp32 of headroom cells, on their sampled users."""
    if not cells:
        return []
    pts = sorted(cells.items())
    return [
        {
            "name": "population (searched)",
            "users": users,
            "pts": [(b, [c["test"]["population"][METRIC]]) for b, c in pts],
        },
        {
            "name": "oracle (per user, searched)",
            "users": users,
            "pts": [(b, [c["test"]["oracle"][METRIC]]) for b, c in pts],
        },
        {"fp32": pts[0][1]["test"]["fp32"][METRIC], "users": users},
    ]


def exp_series(name: str, runs: list[dict[str, float]], key: str, users: str, budgets=BUDGETS) -> list[dict]:
    """One method of ``chord experiment`` runs (one per seed) at each budget it has."""
    pts = []
    for b in budgets:
        vals = [r[f"{key}@{b}"] for r in runs if f"{key}@{b}" in r]
        if vals:
            pts.append((b, vals))
    return [{"name": name, "users": users, "pts": pts, "all": True}] if pts else []


def panels() -> list[tuple[str, list[dict]]]:
    out = []
    # --- pretrained-frozen backbones -------------------------------------------------------------
    # ML-100K Caser: every series on all 943 users (the all-user headroom of the chord-seeds report)
    s42, s43, s44 = (experiment(PAIRED / f"ml100k_caser_s{s}" / "results.json") for s in (42, 43, 44))
    b15 = [experiment(PAIRED / "ml100k_caser_b15_s42" / "results.json")] + [
        experiment(SEEDS / "chord" / f"ml100k_caser_b15_s{s}" / "results.json") for s in (43, 44)
    ]
    diet = experiment(SEEDS / "chord" / "ml100k_caser_diet_b15_s42" / "results.json")
    u = "943 users (all)"
    ser = hr_series(headroom(SEEDS / "headroom" / "fixed_ml100k_caser_allusers", "ml-100k/caser"), u)
    ser += exp_series("CHORD", [s42, s43, s44], "ml-100k/caser/chord-pretrained", u)
    ser += exp_series("CHORD trained at 1.5", b15, "ml-100k/caser/chord-pretrained", u, (1.5,))
    ser += exp_series("CHORD's one strategy", [s42, s43, s44], "ml-100k/caser/population-pretrained", u)
    ser += exp_series("layer-wise", [s42], "ml-100k/caser/layerwise", u)
    ser += exp_series("DIET", [diet], "ml-100k/caser/diet-pretrained", u)
    for s in ser:
        s.pop("all", None)  # one user set in this panel
    out.append(("ml-100k / caser", ser))

    # ML-100K SASRec: the headroom on 500 users (no all-user run of it); CHORD (3 training seeds: the
    # chord-paired report's seed 42 and this report's 43, 44), its one strategy and layer-wise on all users
    cells = best_start(
        headroom(H3 / "ml100k_sasrec", "ml-100k/sasrec"),
        headroom(H3 / "ml100k_sasrec_descend", "ml-100k/sasrec+descend"),
    )
    ser = hr_series(cells, "500 users")
    sas = [experiment(PAIRED / "ml100k_sasrec_s42" / "results.json")] + [
        experiment(H4 / "chord_seeds" / f"ml100k_sasrec_s{s}.json") for s in (43, 44)
    ]
    sas = [r for r in sas if r]
    ua = "943 users (all)"
    ser += exp_series("CHORD", sas, "ml-100k/sasrec/chord-pretrained", ua)
    ser += exp_series("CHORD's one strategy", sas, "ml-100k/sasrec/population-pretrained", ua)
    ser += exp_series("layer-wise", sas[:1], "ml-100k/sasrec/layerwise", ua)
    if sas and "ml-100k/sasrec/fp32" in sas[0]:
        ser.append({"fp32": sas[0]["ml-100k/sasrec/fp32"], "users": ua, "all": True})
    out.append(("ml-100k / sasrec", ser))

    # Yelp Caser: headroom on 500 users; CHORD, its one strategy and layer-wise at 3.0 bits on every
    # user, from the 2026-12-06 run on the same checkpoint (same fp32 ranks: 0.013011 on all users)
    cells = best_start(
        headroom(H3 / "yelp_caser", "yelp/caser"), headroom(H3 / "yelp_caser_descend", "yelp/caser+descend")
    )
    ser = hr_series(cells, "500 users")
    yc = METHOD / "yelp_caser.json"
    ya, ua = experiment(yc), f"{users_of(yc)} users (all)"
    ser += exp_series("CHORD", [ya], "yelp/caser/chord-pretrained", ua)
    ser += exp_series("CHORD's one strategy", [ya], "yelp/caser/population-pretrained", ua)
    ser += exp_series("layer-wise", [ya], "yelp/caser/layerwise", ua)
    if "yelp/caser/fp32" in ya:
        ser.append({"fp32": ya["yelp/caser/fp32"], "users": ua, "all": True})
    out.append(("yelp / caser", ser))

    for ds, m in (("yelp", "sasrec"), ("beauty", "caser"), ("beauty", "sasrec")):
        d = f"{ds}_{m}"
        cells = best_start(headroom(H3 / d, f"{ds}/{m}"), headroom(H3 / f"{d}_descend", f"{ds}/{m}+descend"))
        out.append((f"{ds} / {m}", hr_series(cells, "500 users")))

    # --- random-frozen backbones ------------------------------------------------------------------
    # DIET on the random-frozen backbone (same seed-42 dense weights, its own item table, 5-minute
    # recipe) at 3.0 bits, from the 2026-12-06 runs where one exists
    diet_rf = {
        "ml-100k/caser": METHOD / "ml100k_caser.json",
        "yelp/caser": METHOD / "yelp_caser.json",
        "yelp/sasrec": METHOD / "yelp_sasrec.json",
    }
    for ds, short, m in (
        ("ml-100k", "ml100k", "caser"),
        ("ml-100k", "ml100k", "sasrec"),
        ("yelp", "yelp", "caser"),
        ("yelp", "yelp", "sasrec"),
        ("beauty", "beauty", "caser"),
        ("beauty", "beauty", "sasrec"),
    ):
        pair = f"{ds}/{m}"
        hdir = H3 / f"{short}_{m}_random_frozen"
        if not (hdir / "results.json").exists():
            hdir = H4 / f"{short}_{m}_random_frozen"
        ser = hr_series(headroom(hdir, f"{pair}-random-frozen"), "500 users")
        # the borderline cell rerun here: 2000 users, descend start, three user samples
        reruns = [
            headroom(H4 / f"{short}_{m}_random_frozen_descend_s{s}", f"{pair}-random-frozen+descend-s{s}")
            for s in (42, 43, 44)
        ]
        reruns = [r[1.5] for r in reruns if 1.5 in r]
        if reruns:
            n = reruns[0]["users"]
            for name in ("population (searched)", "oracle (per user, searched)"):
                key = "population" if name.startswith("population") else "oracle"
                ser.append(
                    {
                        "name": name,
                        "label": f"{key}, {n} users x {len(reruns)} samples, descend",
                        "users": f"{n} users",
                        # drawn beside 1.5 (population left, oracle right) so the two bars do not overlap
                        "pts": [(1.5 + (0.03 if key == "oracle" else -0.03), [c["test"][key][METRIC] for c in reruns])],
                        "rerun": True,
                    }
                )
        # CHORD-random: the training behind the backbone (seed 42) and, where run, seed 43 (whose seed
        # also draws other dense weights: the deployment's shared seed)
        cr = H4 / "chord_random" / f"{short}_{m}_random.json"
        ca = [r for r in (experiment(cr), experiment(cr.with_name(f"{short}_{m}_random_s43.json"))) if r]
        if ca:
            ua = f"{users_of(cr)} users (all)"
            ser += exp_series("CHORD-random", ca, f"{pair}/chord-random", ua)
        if pair in diet_rf:
            # DIET's partner is CHORD-random of the same run (same recipe), not the 6-epoch one above
            da, ud = experiment(diet_rf[pair]), f"{users_of(diet_rf[pair])} users (all)"
            ser += exp_series("DIET", [da], f"{pair}/diet", ud)
            ser += exp_series("CHORD-random, same run as DIET", [da], f"{pair}/chord-random", ud)
        out.append((f"{ds} / {m}, random-frozen", ser))
    return out


def draw(path: Path) -> list[str]:
    ps = panels()
    cols, rows = 3, -(-len(ps) // 3)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    missing = []
    for ax, (title, ser) in zip(axes.flat, ps):
        user_sets = sorted({s["users"] for s in ser})
        mixed = len(user_sets) > 1
        for s in ser:
            dashed = s.get("all", False)
            if "fp32" in s:
                ax.axhline(
                    s["fp32"],
                    color="gray",
                    ls="--" if dashed else ":",
                    lw=1,
                    label=f"fp32, {s['users']}" if mixed else "fp32",
                )
                continue
            col, mk = STYLE[s["name"]]
            b = [p[0] for p in s["pts"]]
            mean = [sum(v) / len(v) for _, v in s["pts"]]
            err = [[m - min(v) for m, (_, v) in zip(mean, s["pts"])], [max(v) - m for m, (_, v) in zip(mean, s["pts"])]]
            seeds = max(len(v) for _, v in s["pts"])
            label = s.get("label") or s["name"] + (f" ({seeds} seeds, min-max)" if seeds > 1 else "")
            if mixed and not s.get("label"):
                label += f", {s['users']}"
            kw = {"color": col, "marker": mk, "ms": 9 if mk == "*" else 5, "capsize": 3, "label": label}
            if s.get("rerun"):
                kw.update(mfc="white", ls="none", ms=8, marker="X")
            elif dashed:
                kw.update(ls="--", mfc="white")
            ax.errorbar(b, mean, yerr=err if seeds > 1 else None, **kw)
        have = {s["name"] for s in ser if "name" in s}
        want = ["CHORD-random", "DIET"] if "random-frozen" in title else ["CHORD", "layer-wise", "DIET"]
        lack = [w for w in want if w not in have]
        if lack:
            missing.append(f"{title}: no {', '.join(lack)} result on this backbone")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("budget (average bits per weight)", fontsize=8)
        ax.set_ylabel(f"test {METRIC}", fontsize=8)
        ax.set_xticks(BUDGETS)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="best")
    for ax in axes.flat[len(ps) :]:
        ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, dpi=72)
    plt.close(fig)
    # a 256-colour palette keeps the committed PNG small; line art loses nothing visible
    Image.open(buf).convert("RGB").quantize(256).save(path, optimize=True)
    return missing


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else H4 / "budget_curves.png"
    for line in draw(out):
        print(line)
    print(f"wrote {out}")
