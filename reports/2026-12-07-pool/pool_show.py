"""Print pool_ab.sh's OUT.jsonl: min / p10 / p50 ms per variant and thread count."""

import json
import sys

for line in open(sys.argv[1]):
    d = json.loads(line)
    r = d["res"]
    print(
        f"{d['tag']:24s} M={d['M']} act={d['act']} t1 min {r['1']['min']:.3f} p10 {r['1']['p10']:.3f} | "
        f"t2 min {r['2']['min']:.3f} p10 {r['2']['p10']:.3f} p50 {r['2']['p50']:.3f} | t2/t1 min {r['2']['min'] / r['1']['min']:.3f}"
    )
