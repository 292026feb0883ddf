"""Does this host's last-level cache serve part of a cyclic streaming read larger than itself?

Part 1: the extension's read probe (``read_stream``, 4 KiB software prefetch, 2 MiB pages) reads
SLICE-byte slices cycled through footprints of several sizes, interleaved window by window; per
round the best read's GB/s of each footprint. Part 2: chord bench's adjacent probe with the
footprint it had before this report (a 128 MiB buffer: max(128 MiB, 4 x slice, 4 x L3)) against
the one it has now (``rotation.probe_footprint_bytes``: the kernels cases' rotation), interleaved.

    PYTHONPATH=$PWD/python:$PWD python reports/2026-12-07-roof-3/footprint.py THREADS SLICE_MB ROUNDS
"""

from __future__ import annotations

import statistics
import sys
import time

from chord import host_memory
from chord.backends import cpu as cpu_backend
from chord.bench import machine, read_roof

SIZES_MIB = (24, 32, 48, 64, 96, 128, 256, 512)


class OldFootprint(read_roof.AdjacentProbe):
    """The probe as it was before this report: reads cycled through its whole 128 MiB buffer."""

    def footprint(self, slice_bytes: int) -> int:
        return max(128 << 20, 4 * slice_bytes, 4 * self.llc_bytes) // slice_bytes * slice_bytes


def sweep(threads: int, slice_bytes: int, rounds: int, window_s: float = 0.3) -> None:
    read = cpu_backend._cpu.read_stream
    bufs = {}
    for mib in SIZES_MIB:
        t = host_memory.empty_uint8(mib << 20, True)
        t.fill_(1)
        bufs[mib] = [t, t.numpy(), 0]
    got = {mib: [] for mib in SIZES_MIB}
    for _ in range(rounds):
        row = []
        for mib, b in bufs.items():
            a, best, end = b[1], float("inf"), time.perf_counter() + window_s
            while time.perf_counter() < end:
                lo = b[2] if b[2] + slice_bytes <= a.size else 0
                b[2] = lo + slice_bytes
                t0 = time.perf_counter()
                read(a[lo : lo + slice_bytes], threads, 4096, False, 1)
                best = min(best, time.perf_counter() - t0)
            got[mib].append(slice_bytes / best / 1e9)
            row.append(f"{mib}M {got[mib][-1]:5.1f}")
        print(time.strftime("%H:%M:%S"), "  ".join(row), flush=True)
    for mib, v in got.items():
        print(f"  footprint {mib:4d} MiB: GB/s min {min(v):5.1f} median {statistics.median(v):5.1f} max {max(v):5.1f}")


def probe_ab(threads: int, slice_bytes: int, rounds: int) -> None:
    llc = machine.last_level_cache_bytes()
    probes = {"old (128 MiB)": OldFootprint(llc), "new (rotation)": read_roof.AdjacentProbe(llc)}
    got = {k: [] for k in probes}
    fp = {}
    for _ in range(rounds):
        for name, p in probes.items():
            r = p(threads, slice_bytes, 0.1)
            got[name].append(r["GBps"])
            fp[name] = r.get("footprint_bytes") or p.footprint(r["slice_bytes"])
    for name, v in got.items():
        print(
            f"  {name:15s} footprint {fp[name] / 2**20:5.0f} MiB: GB/s min {min(v):5.1f} "
            f"median {statistics.median(v):5.1f} max {max(v):5.1f} ({len(v)} windows)"
        )


if __name__ == "__main__":
    threads, slice_mb, rounds = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    n = int(slice_mb * 1e6)
    print(f"# threads {threads}, slice {n} bytes, last-level cache {machine.last_level_cache_bytes() >> 20} MiB")
    print("## 1. cyclic footprints")
    sweep(threads, n, rounds)
    print("## 2. the adjacent probe, old footprint against new, 0.1 s windows interleaved")
    probe_ab(threads, n, 3 * rounds)
