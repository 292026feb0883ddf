import collections
import json
import sys

rows = [json.loads(l) for l in open(sys.argv[1])]
agg = collections.defaultdict(list)
for r in rows:
    agg[(r["t"], r["act_bits"], r["tree"])].append(r)
for (t, ab, tree), rs in sorted(agg.items()):
    print(
        f"t={t} {'act8' if ab else 'exact'} {tree:13s} hot_min "
        + ", ".join(f"{r['hot_min']:.0f}" for r in rs)
        + " | rot_min "
        + ", ".join(f"{r['rot_min']:.0f}" for r in rs)
        + " | rot_med "
        + ", ".join(f"{r['rot_med']:.0f}" for r in rs)
    )
