"""Window-to-window spread of chord bench's adjacent read-roof probe (read_roof.AdjacentProbe):
back to back, windows of WIN seconds at 1 and 2 threads, reading 6.3 MB (mix3 4096²) and
24 MiB (mix3 8192²) per read; one line per round of the four, best GB/s and best variant.

    PYTHONPATH=<tree>/python:<tree> python noise.py SECONDS WIN
"""

import sys
import time

from chord.bench import machine, read_roof

probe = read_roof.AdjacentProbe(machine.last_level_cache_bytes())
seconds, win = float(sys.argv[1]), float(sys.argv[2])
t0 = time.perf_counter()
while time.perf_counter() - t0 < seconds:
    row = []
    for t in (1, 2):
        for nb in (6_600_000, 25_500_000):
            r = probe(t, nb, win)
            row.append(f"t{t} {nb >> 20}M {r['GBps']:5.1f} {r['variant']:8s} n={r['reads']}")
    print(f"{time.perf_counter() - t0:6.1f} | " + " | ".join(row), flush=True)
