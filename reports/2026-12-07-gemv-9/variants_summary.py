"""Summarize variants.sh output: min ms over rounds per case and $GEMV10 code (a column each)."""

import collections
import sys

best = collections.defaultdict(lambda: float("inf"))
for l in open(sys.argv[1]):
    p = l.split()
    if len(p) < 7:
        continue
    r, code, shape, mix, M, path, t = p[:7]
    best[(shape, mix, M, code)] = min(best[(shape, mix, M, code)], float(t))
codes = list(dict.fromkeys(k[3] for k in best))
rows = sorted({k[:3] for k in best}, key=lambda k: (k[0], k[1], int(k[2][2:])))
print("shape mix M " + " ".join(codes))
for k in rows:
    print(" ".join(k) + " " + " ".join(f"{best[k + (c,)]:.3f}" for c in codes))
