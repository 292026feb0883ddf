"""CHORD-random (the random-frozen cells) per training seed, from committed result files only.

Reads every ``chord experiment --methods chord-random`` results.json of headroom-4 (``chord_random/``)
and of this report (``chord_random/``), groups them by dataset x backbone, and prints, per cell, each
seed's test NDCG@10 on every user at each served budget, their mean and spread (max - min), and each
training's epochs (best epoch) and training seconds. A seed also draws the backbone's dense weights
(the deployment's shared seed), so the seeds are separate random-frozen backbones, not paired runs.

usage: python reports/2026-12-07-headroom-6/chord_random_seeds.py [--json OUT]   (from the repo root)
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

REP = Path("reports")
DIRS = (REP / "2026-12-07-headroom-4" / "chord_random", REP / "2026-12-07-headroom-6" / "chord_random")
METRIC = "NDCG@10"


def load() -> dict[str, dict[int, dict]]:
    """{pair: {seed: {"budgets": {b: NDCG@10}, "epochs": .., "best": .., "seconds": ..}}}"""
    out: dict[str, dict[int, dict]] = defaultdict(dict)
    for d in DIRS:
        for path in sorted(d.glob("*.json")):
            res = json.loads(path.read_text())
            seed = res["meta"]["runs"][0]["config"]["seed"]
            for key, c in res["cells"].items():
                pair, _, rest = key.rpartition("/chord-random@")
                if not pair:
                    continue
                run = out[pair].setdefault(seed, {"budgets": {}, "file": str(path)})
                run["budgets"][float(rest)] = c["test"]["full"][METRIC]
                t = c["train"]
                run.update(epochs=t["epochs_run"], best=t["best_epoch"], seconds=round(t["train_seconds"]))
    return out


def main(json_out: Path | None) -> None:
    runs = load()
    print(f"| cell (random-frozen) | seeds | bits | test {METRIC} per seed | mean | spread (max − min) |")
    print("|---|---|---|---|---|---|")
    for pair in sorted(runs):
        seeds = sorted(runs[pair])
        for b in sorted({b for s in seeds for b in runs[pair][s]["budgets"]}):
            v = [runs[pair][s]["budgets"][b] for s in seeds if b in runs[pair][s]["budgets"]]
            per = " / ".join(f"{x:.4f}" for x in v)
            print(
                f"| {pair} | {', '.join(map(str, seeds))} | {b} | {per} | {sum(v) / len(v):.4f} | {max(v) - min(v):.4f} |"
            )
    print("\n| cell (random-frozen) | seed | epochs run (best) | training s (busy) |\n|---|---|---|---|")
    for pair in sorted(runs):
        for s in sorted(runs[pair]):
            r = runs[pair][s]
            print(f"| {pair} | {s} | {r['epochs']} ({r['best']}) | {r['seconds']} |")
    if json_out:
        json_out.write_text(json.dumps({p: {str(s): r for s, r in v.items()} for p, v in runs.items()}, indent=1))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", type=Path)
    main(p.parse_args().json)
