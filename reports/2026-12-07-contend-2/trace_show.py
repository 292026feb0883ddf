"""Summarizes a pool trace (pool_trace2.diff: CHORD_POOL_TRACE=file), per task count: how often a worker joined, where the caller and worker ran (CPU 1 is the
busy loop's), job time and the caller's wait (us), stragglers. Usage: trace_show.py FILE [BUSY_CPU]"""

import sys

import numpy as np

a = np.loadtxt(sys.argv[1], dtype=np.int64, ndmin=2)
busy = int(sys.argv[2]) if len(sys.argv) > 2 else 1
# fields: t0 ntasks c_cpu0 c_cpu1 w_cpu w_join mine total t_free t_end strag
segs = [a[a[:, 1] == n] for n in sorted(set(a[:, 1].tolist()))]
for s in segs:
    if len(s) < 20:
        continue
    joined = s[:, 4] >= 0
    helped = s[:, 6] < s[:, 7]
    wait = (s[:, 9] - s[:, 8]) / 1e3
    tend = s[:, 9] / 1e3
    c_busy = s[:, 3] == busy
    w_busy = joined & (s[:, 4] == busy)
    same = joined & (s[:, 4] == s[:, 3])
    print(
        f"ntasks {s[0, 1]:5d} jobs {len(s):5d} joined {joined.mean():.2f} helped {helped.mean():.2f} "
        f"caller-on-busy {c_busy.mean():.2f} worker-on-busy {w_busy.mean():.2f} same-cpu {same.mean():.2f} "
        f"stragglers {s[:, 10].sum()}  t_end us p10/50/90 {np.percentile(tend, [10, 50, 90]).round(0)} "
        f"wait us p50/90/99 {np.percentile(wait, [50, 90, 99]).round(0)}"
    )
    for lab, m in (
        ("worker on busy", w_busy & ~c_busy),
        ("caller on busy", c_busy & joined & ~same),
        ("same cpu", same),
        ("no worker", ~joined),
    ):
        if m.sum() >= 3:
            print(
                f"    {lab:15s} n={m.sum():5d} t_end med {np.median(tend[m]):7.0f} p90 {np.percentile(tend[m], 90):7.0f}"
                f"  wait med {np.median(wait[m]):6.0f} p90 {np.percentile(wait[m], 90):6.0f}  strag {s[m, 10].sum()}"
            )
