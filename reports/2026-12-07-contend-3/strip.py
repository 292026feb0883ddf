"""Drops the per-round samples (stats.data) from bench results.json files to keep them small;
every statistic stays. Usage: strip.py FILE..."""

import json
import sys

for f in sys.argv[1:]:
    d = json.load(open(f))
    for b in d.get("benchmarks", []):
        b.get("stats", {}).pop("data", None)
    json.dump(d, open(f, "w"), indent=1)
