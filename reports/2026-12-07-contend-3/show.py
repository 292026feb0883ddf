"""Contended bench runs side by side, as a markdown table: one row per implementation and case,
per run t2/t1 of the min (of the median; p: the paired ratio, the median over rounds of round i
at 2 threads / round i at 1, for interleaved runs) [share of the 2-thread row's pool jobs run on the
caller alone, where the pool ran], runs grouped by variant (directory name up to its last '_':
il_1, seq_1 ...), and the largest min ratio per variant. Usage: show.py RUN_DIR..."""

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def rows(doc):
    out = defaultdict(dict)
    for b in doc["benchmarks"]:
        ex, p = b["extra_info"], b["params"]
        key = " ".join(
            str(x)
            for x in (
                ex["impl"],
                p.get("M", ""),
                p.get("K") or p.get("model") or p.get("rows") or "",
                p.get("B", ""),
                p.get("path", ""),
            )
            if x != ""
        )
        out[key][p["threads"]] = (
            b["stats"]["min"],
            b["stats"]["median"],
            ex.get("pool") or {},
            ex.get("interleaved_threads"),
            b["stats"].get("data"),
        )
    return out


runs = defaultdict(list)
for d in sys.argv[1:]:
    p = Path(d)
    if (p / "results.json").is_file():
        runs[p.name.rsplit("_", 1)[0]].append(rows(json.loads((p / "results.json").read_text())))
keys = list(dict.fromkeys(k for rs in runs.values() for r in rs for k in r))
print("| row | " + " | ".join(f"{v} (runs 1-{len(rs)}) | {v} max" for v, rs in runs.items()) + " |")
print("|---|" + "---|---:|" * len(runs))
for k in keys:
    cells = []
    for rs in runs.values():
        xs = [r[k] for r in rs if k in r and 1 in r[k] and 2 in r[k]]
        parts, worst = [], 0.0
        for x in xs:
            a, b = x[1], x[2]
            rmin, rmed = b[0] / a[0], b[1] / a[1]
            worst = max(worst, rmin)
            jobs = b[2].get("alone", 0) + b[2].get("shared", 0)
            alone = f" [{b[2].get('alone', 0) / jobs:.0%}]" if jobs else ""
            da, db = a[4], b[4]
            paired = ""
            if x[1][3] and x[2][3] and da and db and len(da) == len(db):
                paired = f"; p {statistics.median(y / z for z, y in zip(da, db)):.2f}"
            s = f"{rmin:.2f} ({rmed:.2f}{paired}){alone}"
            parts.append(f"**{s}**" if rmin > 1.2 else s)
        cells += [", ".join(parts), f"{worst:.2f}" if xs else ""]
    print(f"| {k} | " + " | ".join(cells) + " |")
