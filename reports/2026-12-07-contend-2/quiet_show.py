"""Uncontended A/B (quiet_ab.sh): each chord row's min ms per variant, round by round, and the
ratio of the variants' best. Usage: quiet_show.py OUTDIR (holding {k,s}_TAG_ROUND/results.json)."""

import json
import sys
from collections import defaultdict
from pathlib import Path

rows = defaultdict(lambda: defaultdict(list))
for d in sorted(Path(sys.argv[1]).glob("*_*_*")):
    f = d / "results.json"
    if not f.is_file():
        continue
    _, tag, rnd = d.name.split("_")
    for b in json.loads(f.read_text())["benchmarks"]:
        ex, p = b["extra_info"], b["params"]
        if ex.get("role") != "chord":
            continue
        key = (
            f"{ex['impl']} M={p.get('M', '')} {p.get('K') or p.get('model') or ''} {p.get('path', '')} t={p['threads']}"
        )
        pool = ex.get("pool") or {}
        rows[key][tag].append((int(rnd), b["stats"]["min"] * 1e3, pool.get("stragglers", 0), pool.get("alone", 0)))
for key, tags in rows.items():
    cells, best = [], {}
    for tag, xs in tags.items():
        xs.sort()
        best[tag] = min(x[1] for x in xs)
        cells.append(f"{tag}: " + " ".join(f"{x[1]:.3f}" + (f"[s{x[2]},a{x[3]}]" if x[2] or x[3] else "") for x in xs))
    t = list(best)
    ratio = f"  {t[-1]}/{t[0]} best {best[t[-1]] / best[t[0]]:.3f}" if len(t) > 1 else ""
    print(f"{key:40s} " + " | ".join(cells) + ratio)
