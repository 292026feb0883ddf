import sys

import numpy as np

a = np.loadtxt(sys.argv[1], dtype=np.int64, ndmin=2)
# fields t0 ntasks helpers c_cpu0 c_cpu1 w_cpu0 w_cpu1 w_join c_tasks w_tasks c_free t_end c_cpu_ns w_cpu_ns w_runend
segs = []
start = 0
for i in range(1, len(a) + 1):
    if i == len(a) or a[i, 1] != a[start, 1] or a[i, 0] - a[i - 1, 0] > 2e9:
        segs.append(a[start:i])
        start = i
for s in segs:
    if len(s) < 5:
        continue
    nt = s[0, 1]
    wj = s[:, 7]
    joined = wj >= 0
    same = joined & (s[:, 5] == s[:, 3])
    print(
        f"ntasks {nt} helpers {s[0, 2]}: n={len(s)} joined {joined.mean():.2f} same-cpu {same.mean():.2f} caller-cpu1 {(s[:, 3] == 1).mean():.2f}  t_end us p10/50/90 {np.percentile(s[:, 11] / 1e3, [10, 50, 90]).round(1)}  wait p50/90/99 {np.percentile((s[:, 11] - s[:, 10]) / 1e3, [50, 90, 99]).round(1)} caller cpu frac p10/50 {np.percentile(s[:, 12] / s[:, 11], [10, 50]).round(2)}"
    )
    for lab, m in (("same", same), ("diff", joined & ~same), ("nojoin", ~joined)):
        if m.sum():
            print(
                f"     {lab}: n={m.sum()} t_end med {np.median(s[m, 11]) / 1e3:.1f} us p90 {np.percentile(s[m, 11], 90) / 1e3:.1f}, wait med {np.median(s[m, 11] - s[m, 10]) / 1e3:.1f} p90 {np.percentile((s[m, 11] - s[m, 10]), 90) / 1e3:.1f}, worker share {np.median(s[m, 9] / nt):.2f}, join med {np.median(wj[m]) / 1e3 if lab != 'nojoin' else 0:.1f}"
            )
