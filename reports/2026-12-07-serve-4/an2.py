import json
import sys

import numpy as np

ev = json.load(open(sys.argv[1]))
lo, hi = float(sys.argv[2]), float(sys.argv[3])
req = np.array([(e[1], e[2], e[3]) for e in ev if e[0] == "req"])
fw = np.array([e[1:] for e in ev if e[0] == "fwd"])
q = np.array([e[1:] for e in ev if e[0] == "q"])
base = req[:, 0].min()
sel = lambda a, c=0: a[(a[:, c] - base >= lo) & (a[:, c] - base < hi)]
req, fw, q = sel(req), sel(fw), sel(q)
ok = req[req[:, 2] == 200]
sh = req[req[:, 2] == 503]
wall = fw[-1, 1] - fw[0, 0]
print(
    f"{len(fw)} forwards, mean size {fw[:, 3].mean():.1f}, {fw[:, 3].sum() / wall:.0f} strategies/s; 503/s {len(sh) / wall:.0f}"
)
print(
    f"forward wall {1e3 * np.mean(fw[:, 1] - fw[:, 0]):.1f} ms cpu {1e3 * fw[:, 2].mean():.1f} ms; busy {np.sum(fw[:, 1] - fw[:, 0]) / wall:.2f}"
)
# per cycle: from forward end k to forward start k+1
fe, fs = fw[:-1, 1], fw[1:, 0]
# admitted requests of the next batch: those whose entry lies in (fe_k - , fs_k+1]
first_adm, last_adm, last_sent = [], [], []
for a, b in zip(fe, fs):
    ins = ok[(ok[:, 0] > a - 0.0) & (ok[:, 0] <= b)]
    out = ok[(ok[:, 1] >= a) & (ok[:, 1] <= b)]
    if len(ins):
        first_adm.append(ins[:, 0].min() - a)
        last_adm.append(ins[:, 0].max() - a)
    if len(out):
        last_sent.append(out[:, 1].max() - a)
gap = fs - fe
print(
    f"gap fe->next fs: mean {1e3 * gap.mean():.2f} ms; last response sent +{1e3 * np.mean(last_sent):.2f}; first admission +{1e3 * np.mean(first_adm):.2f}, last admission +{1e3 * np.mean(last_adm):.2f}"
)
lat = ok[:, 1] - ok[:, 0]
print(
    f"server latency p50 {1e3 * np.median(lat):.1f} p99 {1e3 * np.quantile(lat, 0.99):.1f} ms; admitted during forwards: {sum(((ok[:, 0] > s) & (ok[:, 0] < e)).sum() for s, e in fw[:, :2]) / len(fw):.1f} per forward; 503 during forwards {sum(((sh[:, 0] > s) & (sh[:, 0] < e)).sum() for s, e in fw[:, :2]) / len(fw):.1f}"
)

fi = np.array([e[1:] for e in ev if e[0] == "fire"])
fi = fi[(fi[:, 0] - base >= lo) & (fi[:, 0] - base < hi)]
print(
    f"batcher: first taken -> fired mean {1e3 * np.mean(fi[:, 1] - fi[:, 0]):.2f} ms, want mean {fi[:, 3].mean():.1f}, size at fire {fi[:, 2].mean():.1f}"
)
fs_all = np.array([e[1] for e in ev if e[0] == "fwd"])
d = [fs_all[fs_all >= t].min() - t for t in fi[:, 1] if (fs_all >= t).any()]
print(f"fired -> forward started (planner thread got going): mean {1e3 * np.mean(d):.2f} ms max {1e3 * np.max(d):.2f}")
