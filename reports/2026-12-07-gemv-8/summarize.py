"""Summarize ab.sh output: min ms over rounds per case and tree, checksums checked equal."""

import collections
import sys

t = collections.defaultdict(list)
crc = collections.defaultdict(set)
trees = []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) != 8:
        continue
    _, tree, shape, mix, m, path, ms, c = f
    trees += [tree] if tree not in trees else []
    t[(shape, mix, m, path, tree)].append(float(ms))
    crc[(shape, mix, m, path)].add(c)
cases = sorted({k[:4] for k in t}, key=lambda k: (k[0], k[1], k[3], int(k[2][2:])))
print("case".ljust(34) + "".join(f"{x.split('/')[0]:>22}" for x in trees) + "  checksums")
for k in cases:
    cells = []
    for x in trees:
        v = t.get(k + (x,), [])
        cells.append(f"{min(v):8.3f} ({len(v)})".rjust(22) if v else " " * 22)
    print(" ".join(k).ljust(34) + "".join(cells) + ("  same" if len(crc[k]) == 1 else "  DIFFER"))
