"""The report's condensed table from ``yelp_sasrec_avx2_pooled.json`` (cells_pooled.py's figures):
per budget the baselines, CHORD and its own one strategy per seed, and CHORD minus each baseline
pooled over the seeds (seed-and-user bootstrap; one seed: the paired bootstrap over users).

usage: python reports/2026-12-07-headroom-9/report_table.py   (from the repo root)
"""

from __future__ import annotations

import json
from pathlib import Path

T = json.loads((Path(__file__).parent / "yelp_sasrec_avx2_pooled.json").read_text())


def ci(r: dict | None) -> str:
    if not r:
        return "—"
    s = f"{r['diff']:+.4f} [{r['lo']:+.4f}, {r['hi']:+.4f}]" + ("*" if r["significant"] else "")
    return s.replace("-", "−")


def main() -> None:
    seeds = next(x["seeds"] for x in T["budgets"].values() if "seeds" in x)
    print(f"fp32 {T['fp32']:.4f}, uniform 2-bit {T['ptq2']:.4f}; CHORD seeds {' / '.join(map(str, seeds))}\n")
    print(
        "| bits | searched population | layer-wise | DIET | CHORD per seed | own one strategy per seed "
        "| CHORD − searched | CHORD − layer-wise | CHORD − DIET | CHORD − own |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for b, x in T["budgets"].items():
        per = lambda k: " / ".join(f"{v:.4f}" for v in x.get(k, []))  # noqa: E731
        row = [b, f"{x['searched']:.4f}", f"{x['layer-wise']:.4f}", f"{x['DIET']:.4f}", per("chord"), per("own")]
        row += [ci(x.get(f"CHORD - {v}, pooled")) for v in ("searched", "layer-wise", "DIET", "own")]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
