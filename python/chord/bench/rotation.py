"""How many bytes a benchmark case cycles through so that every call reads from memory, not from
a cache: one rule for the cases' weight rotation and for the read roofs that divide them.

This host's 32 MiB AMD L3 keeps part of a cyclic working set it cannot hold: a 64 MB rotation
(2 x L3) left part of an M = 1 weight cached (reports/2026-12-06-gemv-2.md), and a streaming read
cycled over 48-64 MiB still ran at up to 48 GB/s on one thread against ~33 GB/s from DRAM
(reports/2026-12-07-roof-3.md). So the kernels suite rotates at least max(256 MiB, 4 x the
last-level cache), and a read probe that gives those cases their roof must cycle through as many
bytes, or it measures a roof partly served by the cache the case was kept out of.
"""

from __future__ import annotations

import math

#: the kernels suite's rotation: >= max(KERNEL_MIN_MB MiB, KERNEL_FACTOR x last-level cache)
#: (``BenchConfig.kernel_rotate_mb`` / ``kernel_rotate_factor`` default to these)
KERNEL_MIN_MB = 256
KERNEL_FACTOR = 4.0


def target_bytes(llc_bytes: int, factor: float, min_bytes: int = 0) -> int:
    """Bytes to rotate through: ``factor`` x the last-level cache, at least ``min_bytes``."""
    return int(max(min_bytes, factor * llc_bytes))


def kernel_target_bytes(llc_bytes: int) -> int:
    """The kernels suite's default target (:data:`KERNEL_MIN_MB`, :data:`KERNEL_FACTOR`)."""
    return target_bytes(llc_bytes, KERNEL_FACTOR, KERNEL_MIN_MB << 20)


def n_sets(set_bytes: float, target: int, max_sets: int | None = None) -> int:
    """Copies of a ``set_bytes`` buffer to cycle through so that together they are >= ``target``
    bytes: at least 2, at most ``max_sets`` (None: no cap). The total stays below the target plus
    one set."""
    n = max(2, math.ceil(target / max(1.0, set_bytes)))
    return int(n if max_sets is None else min(max_sets, n))


def probe_footprint_bytes(slice_bytes: int, target: int) -> int:
    """Bytes a read probe cycles through when each read takes ``slice_bytes``: whole slices, as
    many as a case rotates copies of a weight that size (:func:`n_sets` against the same
    ``target``), so a slice is read again only after as many bytes as the case's weight is.
    Uncapped: where a case's ``max_sets`` cap leaves its rotation short of the target (weights
    under ~1 MiB), its row runs partly from cache, and the roof it is divided by stays the memory's
    (the report marks a fraction above 100 %)."""
    return n_sets(slice_bytes, target) * int(slice_bytes)
