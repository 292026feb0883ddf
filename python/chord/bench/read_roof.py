"""The read-only memory roof of a GEMV: a streaming-read probe in C++ (``_cpu.read_stream``:
widest loads into independent accumulators, optional software prefetch) over a buffer many
times the last-level cache, on 4 KiB pages and on 2 MiB huge pages (``chord.host_memory``).

The roof is the best of these variants at the run's thread count: the most the memory system
delivered to a pure reader, which is what a GEMV that only streams its weight can approach.
A library ``sum`` is not that roof: it spends instructions per byte (torch's fp32 ``sum`` reached
~2/3 of the probe's figure; reports/2026-12-06-gemv-roof.md), so a kernel's "% of roof" against
it overstates how close the kernel is.
"""

from __future__ import annotations

import time

import torch

from chord import host_memory
from chord.backends import cpu as cpu_backend

#: (label, prefetch distance in bytes, non-temporal hint, streams in lockstep)
VARIANTS = (
    ("loads", 0, False, 1),
    ("pf512", 512, False, 1),
    ("pf4k", 4096, False, 1),
    ("nta512", 512, True, 1),
    ("4streams", 0, False, 4),
)


def stream_read(nbytes: int, threads: int, repeats: int = 20, chunk_bytes: int = 8 << 20) -> dict[str, float]:
    """GB/s (bytes / time) of every probe variant, ``{"4k/loads": ..., "2m/loads": ...}``; empty
    without the C++ extension. Timed like ``machine.copy_bandwidth``: per ``chunk_bytes`` slice,
    best of ``repeats`` per slice, summed (a preempted pass on a shared machine does not hide
    the bandwidth, and every slice still comes from DRAM: the rest of the buffer evicted it).
    The ``2m`` buffer is on huge pages only where the OS offers them (else it is left out)."""
    if not cpu_backend.HAVE_CPP:
        return {}
    read = cpu_backend._cpu.read_stream
    bufs = {"4k": torch.ones(nbytes, dtype=torch.uint8)}
    if host_memory.hugepages_available():
        bufs["2m"] = host_memory.empty_uint8(nbytes)
        bufs["2m"].fill_(1)  # fault the pages in
    out = {}
    for page, t in bufs.items():
        a = t.numpy()
        spans = [(i, min(nbytes, i + chunk_bytes)) for i in range(0, nbytes, chunk_bytes)]
        for label, dist, nta, streams in VARIANTS:
            best = [float("inf")] * len(spans)
            for _ in range(repeats):
                for j, (lo, hi) in enumerate(spans):
                    t0 = time.perf_counter()
                    read(a[lo:hi], threads, dist, nta, streams)
                    best[j] = min(best[j], time.perf_counter() - t0)
            out[f"{page}/{label}"] = nbytes / sum(best) / 1e9
    return out
