"""CHORD (pretrained-frozen, trained at 3.0 bits) minus each baseline, pooled over its training seeds,
on every checkpoint with a ``cells_pooled.py`` table: this report's where it has one, else headroom-5's.

Reads ``<cell>_pooled.json`` only (no ranks) and prints one markdown table per baseline: CHORD minus
the searched population, its own one strategy, layer-wise and DIET at each budget, with the pooled
95 % interval (``*``: excludes 0), the CHORD seeds and the DIET seeds behind each figure, and the cells
where CHORD is significantly above all of searched population, layer-wise and DIET.

usage: python reports/2026-12-07-headroom-6/summary.py   (from the repo root)
"""

from __future__ import annotations

import json
from pathlib import Path

REP = Path("reports")
DIRS = (REP / "2026-12-07-headroom-6", REP / "2026-12-07-headroom-5")
CELLS = ("ml100k_sasrec", "yelp_caser", "beauty_caser", "beauty_sasrec")
VERSUS = ("searched", "own", "layer-wise", "DIET")


def ci(r: dict | None) -> str:
    if not r:
        return "—"
    return f"{r['diff']:+.4f} [{r['lo']:+.4f}, {r['hi']:+.4f}]" + ("*" if r["significant"] else "")


def main() -> None:
    tables = {}
    for c in CELLS:
        path = next(p for p in (d / f"{c}_pooled.json" for d in DIRS) if p.exists())
        tables[c] = (path, json.loads(path.read_text()))
    for v in VERSUS:
        print(f"\nCHORD − {v}, pooled over CHORD's training seeds (NDCG@10, every test user):\n")
        print(
            "| cell | CHORD seeds | DIET seeds | "
            + " | ".join(f"{b} bits" for b in ("1.5", "2.0", "2.5", "3.0"))
            + " |"
        )
        print("|---|---|---|---|---|---|---|")
        for path, t in tables.values():
            cells = [t["budgets"].get(b, {}) for b in ("1.5", "2.0", "2.5", "3.0")]
            seeds = next((x["seeds"] for x in cells if "seeds" in x), [])
            diet = next((x.get("DIET seeds", [42]) for x in cells if "DIET" in x), [])
            row = [ci(x.get(f"CHORD - {v}, pooled")) for x in cells]
            print(f"| {t['pair']} ({path.parent.name}) | {len(seeds)} | {len(diet)} | " + " | ".join(row) + " |")
    print("\nSignificantly above searched population, layer-wise and DIET at once (pooled):")
    hits = [
        f"{t['pair']} @ {b} bits"
        for _, t in tables.values()
        for b, x in t["budgets"].items()
        if all((x.get(f"CHORD - {v}, pooled") or {}).get("lo", -1) > 0 for v in ("searched", "layer-wise", "DIET"))
    ]
    print(", ".join(hits) or "none")


if __name__ == "__main__":
    main()
