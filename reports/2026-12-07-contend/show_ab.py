"""Contended bench runs side by side: for each chord row (and torch's), t2/t1 of the min and of
the median per run ([n%]: the share of the 2-thread row's pool jobs run on the caller alone, when
recorded), runs grouped by variant (the directory name up to its last '_', e.g.
old_1, new_1). Usage: show_ab.py RUN_DIR... (each holding results.json)."""

import json
import sys
from collections import defaultdict
from pathlib import Path


def rows(doc):
    out = defaultdict(dict)
    for b in doc["benchmarks"]:
        ex, p = b["extra_info"], b["params"]
        key = f"{ex['impl']} {p.get('M', '')} {p.get('K') or p.get('model') or ''} {p.get('path', '')}".strip()
        pool = ex.get("pool", {})
        out[key][p["threads"]] = (b["stats"]["min"] * 1e3, b["stats"]["median"] * 1e3, pool)
    return out


runs = defaultdict(list)
for d in sys.argv[1:]:
    p = Path(d)
    if not (p / "results.json").is_file():
        continue
    runs[p.name.rsplit("_", 1)[0]].append(rows(json.loads((p / "results.json").read_text())))
keys = list(dict.fromkeys(k for rs in runs.values() for r in rs for k in r))
for k in keys:
    cells = []
    for v, rs in runs.items():
        xs = [r[k] for r in rs if k in r and 1 in r[k] and 2 in r[k]]
        cells.append(
            f"{v}: "
            + " ".join(
                f"{x[2][0] / x[1][0]:.2f}({x[2][1] / x[1][1]:.2f})"
                + (
                    f"[{x[2][2].get('alone', 0) / max(1, x[2][2].get('alone', 0) + x[2][2].get('shared', 0)):.0%}]"
                    if x[2][2]
                    else ""
                )
                for x in xs
            )
        )
    print(f"{k:34s} " + " | ".join(cells))
