"""The read-only memory roof of a GEMV: a streaming-read probe in C++ (``_cpu.read_stream``:
widest loads into independent accumulators, optional software prefetch) over a buffer many
times the last-level cache (the kernels suite's rotation target: ``rotation``), on 4 KiB pages and on 2 MiB huge pages (``chord.host_memory``).

The roof is the best of these variants at the run's thread count: the most the memory system
delivered to a pure reader, which is what a GEMV that only streams its weight can approach.
A library ``sum`` is not that roof: it spends instructions per byte (torch's fp32 ``sum`` reached
~2/3 of the probe's figure; reports/2026-12-06-gemv-roof.md), so a kernel's "% of roof" against
it overstates how close the kernel is.

:class:`AdjacentProbe` takes the same probe in a short window beside one case's rounds: this
host's memory path for two streams switches between ~70 and ~40 GB/s for tens of seconds at a
time (reports/2026-12-07-gemv-6.md), so a roof measured once per run can come from another mode
than the case it divides.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from chord import host_memory
from chord.backends import cpu as cpu_backend

from . import rotation

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


def page_kind(hugepages: bool = True) -> str:
    """The page size a buffer from ``host_memory.empty_uint8(n, hugepages)`` lands on here (for
    buffers of at least ``host_memory.MIN_BYTES``): ``"2m"`` or ``"4k"``."""
    return "2m" if hugepages and host_memory.hugepages_available() else "4k"


class AdjacentProbe:
    """The streaming-read probe in a short window, for a read roof taken beside a case.

    One call reads ``slice_bytes`` slices of a buffer, cycling through
    :func:`rotation.probe_footprint_bytes` of it (whole slices, >= ``target_bytes``: as many bytes
    as the case rotates its weight copies through, so a slice comes from as far back as the
    case's weight does), every :data:`VARIANTS` in turn for ``seconds``, on ``threads`` threads;
    the result is the best read's GB/s (bytes / time of one read). ``target_bytes`` defaults to the
    kernels suite's rotation target for a cache of ``llc_bytes``
    (:func:`rotation.kernel_target_bytes`). A footprint of 4 x this host's 32 MiB L3 was not
    enough: the L3 kept part of it, and probes beside M = 1 rows read up to 53 GB/s on one thread
    (reports/2026-12-07-roof-3.md). The buffer is on the page kind of chord's packed weights
    (2 MiB pages where offered: ``chord.host_memory``), allocated once and grown when a larger
    footprint asks. ``slice_bytes`` is capped at ``max_slice_bytes``: past the last-level cache a
    longer read streams at the same rate and would only make the buffer larger.
    """

    def __init__(
        self,
        llc_bytes: int,
        hugepages: bool = True,
        max_slice_bytes: int = 64 << 20,
        clock: Callable[[], float] = time.perf_counter,
        target_bytes: int | None = None,
    ):
        self.llc_bytes = int(llc_bytes)
        self.target_bytes = int(target_bytes) if target_bytes is not None else rotation.kernel_target_bytes(llc_bytes)
        self.hugepages = hugepages
        self.page = page_kind(hugepages)
        self.max_slice_bytes = int(max_slice_bytes)
        self.clock = clock
        self._buf = None
        self._cursor = 0

    @staticmethod
    def available() -> bool:
        return bool(cpu_backend.HAVE_CPP)

    def footprint(self, slice_bytes: int) -> int:
        """Bytes the reads of ``slice_bytes`` (already capped) cycle through."""
        return rotation.probe_footprint_bytes(slice_bytes, self.target_bytes)

    def _buffer(self, need: int):
        if self._buf is None or self._buf.size < need:
            self._buf = None  # the old buffer goes before the new one is faulted in
            t = host_memory.empty_uint8(need, self.hugepages)
            t.fill_(1)  # fault the pages in, outside any timed window
            self._buf, self._cursor = t.numpy(), 0
        return self._buf

    def __call__(self, threads: int, slice_bytes: int, seconds: float) -> dict | None:
        """``{"GBps", "variant", "reads", "slice_bytes", "footprint_bytes", "page", "seconds"}``, or
        None without the C++ extension."""
        if not self.available():
            return None
        read = cpu_backend._cpu.read_stream
        n = max(4096, min(int(slice_bytes), self.max_slice_bytes))
        footprint = self.footprint(n)
        buf = self._buffer(footprint)
        best, best_label, reads = float("inf"), "", 0
        end = self.clock() + seconds
        # at least two reads of every variant, however short the window
        while reads < 2 * len(VARIANTS) or self.clock() < end:
            label, dist, nta, streams = VARIANTS[reads % len(VARIANTS)]
            # one cursor across windows: each read takes the bytes read longest ago (about a
            # footprint ago), also when the previous window read another slice size (every
            # footprint is >= the target)
            lo = self._cursor if self._cursor + n <= footprint else 0
            self._cursor = lo + n
            t0 = time.perf_counter()
            read(buf[lo : lo + n], threads, dist, nta, streams)
            dt = time.perf_counter() - t0
            if dt < best:
                best, best_label = dt, label
            reads += 1
        return {
            "GBps": n / best / 1e9,
            "variant": best_label,
            "reads": reads,
            "slice_bytes": n,
            "footprint_bytes": footprint,
            "page": self.page,
            "seconds": seconds,
        }
