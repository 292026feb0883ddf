import collections
import re
import sys

cur = None
d = collections.defaultdict(lambda: collections.defaultdict(list))
outs = collections.defaultdict(set)
for line in open(sys.argv[1]):
    m = re.match(r"== (base|new) rep", line)
    if m:
        cur = m.group(1)
        continue
    m = re.match(r"(\S+ \S+(?: t=\d)?)\s+min\s+([\d.]+) us\s+p10\s+([\d.]+) us\s+out (\w+)", line)
    if m and cur:
        d[m.group(1)][cur].append((float(m.group(2)), float(m.group(3))))
        outs[m.group(1)].add(m.group(4))
print(
    "| case | base: min of each run (us) | new: min of each run (us) | best base | best new | base / new | outputs equal |"
)
print("|---|---|---|---:|---:|---:|---|")
for k, v in d.items():
    b = min(x[0] for x in v["base"])
    n = min(x[0] for x in v["new"])
    print(
        f"| {k} | {' / '.join(f'{x[0]:.1f}' for x in v['base'])} | {' / '.join(f'{x[0]:.1f}' for x in v['new'])} | {b:.2f} | {n:.2f} | {b / n:.3f} | {'yes' if len(outs[k]) == 1 else 'NO'} |"
    )
