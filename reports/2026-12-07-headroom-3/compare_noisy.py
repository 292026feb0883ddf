"""The deterministic oracle's cells beside the same cells of the 2026-12-06 headroom reports, whose
oracle rounds 2-3 searched a dropout-noisy objective (reports/2026-12-07-chord-seeds.md): their final
(noisy) figure and their round-1 (clean) figure. Prints markdown.

usage: python compare_noisy.py NEW_DIR... -- OLD_DIR...
"""

import json
import sys
from pathlib import Path

from chord.experiments.significance import format_ci


def cells(dirs):
    for d in dirs:
        for key, c in json.loads((Path(d) / "results.json").read_text())["cells"].items():
            if c.get("search_items", 1) == 1 and c["groups"] in (16, 24):  # 2 blocks per layer
                yield key, c


i = sys.argv.index("--")
new, old = list(cells(sys.argv[1:i])), list(cells(sys.argv[i + 1 :]))
print(
    "| cell | users | deterministic oracle - population [95 % CI] | 2026-12-06, final round (noisy) | 2026-12-06, round 1 (clean) |"
)
print("|---|---|---|---|---|")
for key, c in new:
    prev = [o for k, o in old if k == key]
    prev.sort(key=lambda o: (o["users"] != c["users"], o["users"]))  # the same sample first
    fin = "; ".join(f"{format_ci(o['oracle_minus_population']['NDCG@10'])} ({o['users']} users)" for o in prev)
    r1 = "; ".join(
        f"{format_ci(o['oracle_by_round']['1']['minus_population'])} ({o['users']} users)"
        for o in prev
        if "1" in o.get("oracle_by_round", {})
    )
    print(
        f"| {key} | {c['users']} | {format_ci(c['oracle_minus_population']['NDCG@10'])} | {fin or '(new)'} | {r1 or '-'} |"
    )
