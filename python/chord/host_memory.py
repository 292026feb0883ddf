"""Host buffers for packed weights on transparent huge pages (2 MiB) where the OS offers them.

Why: a GEMV streams its whole weight once per call. On 4 KiB pages a 6 MB weight spans ~1,500
pages: a TLB miss and a page walk each, and the hardware prefetchers stop at every 4 KiB page
boundary. On 2 MiB pages the same read runs at the streaming-read roof of the huge-page buffer
(reports/2026-12-06-gemv-roof.md measures both). Linux hands out huge pages for an anonymous
private mapping that is ``madvise(MADV_HUGEPAGE)``-d before it is touched, when
``/sys/kernel/mm/transparent_hugepage/enabled`` is ``always`` or ``madvise``; elsewhere
(``never``, other systems, small buffers) this is plain ``torch.empty``: same results, only
slower to stream.
"""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import torch

HUGE_PAGE = 2 << 20
# below this a buffer gains little (a few pages) and would waste most of a 2 MiB page
MIN_BYTES = 2 * HUGE_PAGE
_THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def thp_mode() -> str | None:
    """The kernel's transparent-huge-page mode (``always``, ``madvise``, ``never``), or None
    where there is none (not Linux, or no THP support)."""
    try:
        text = _THP.read_text()
    except OSError:
        return None
    for word in text.split():
        if word.startswith("["):
            return word.strip("[]")
    return None


def hugepages_available() -> bool:
    """Whether :func:`empty_uint8` can put a buffer on huge pages here."""
    return (
        thp_mode() in ("always", "madvise")
        and hasattr(mmap, "MADV_HUGEPAGE")
        and hasattr(mmap, "MAP_ANONYMOUS")
        and hasattr(mmap, "MAP_PRIVATE")
    )


def empty_uint8(nbytes: int, hugepages: bool = True) -> torch.Tensor:
    """An uninitialised CPU uint8 tensor of ``nbytes`` (1-D), on 2 MiB pages when ``hugepages``
    and the OS offers them and the buffer is at least ``MIN_BYTES``; else ``torch.empty``.

    The huge-page buffer is a private anonymous mapping, 2 MiB-aligned, advised before first
    touch; the tensor keeps it alive (torch -> numpy -> mmap) and it is unmapped with the last
    reference. It behaves as any CPU tensor (views, ``clone``, pickling, safetensors).
    """
    nbytes = int(nbytes)
    if nbytes < 0:
        raise ValueError(f"nbytes: expected >= 0, got {nbytes}")
    if not hugepages or nbytes < MIN_BYTES or not hugepages_available():
        return torch.empty(nbytes, dtype=torch.uint8)
    # over-allocate one huge page so a 2 MiB-aligned start exists inside the mapping
    mm = mmap.mmap(-1, nbytes + HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        mm.madvise(mmap.MADV_HUGEPAGE)
    except OSError:  # refused (e.g. a seccomp filter): the mapping still works on 4 KiB pages
        pass
    base = np.frombuffer(mm, dtype=np.uint8)
    offset = (-base.ctypes.data) % HUGE_PAGE
    return torch.from_numpy(base[offset : offset + nbytes])


def to_hugepages(t: torch.Tensor) -> torch.Tensor:
    """A copy of a CPU uint8 tensor (flattened) in :func:`empty_uint8` memory; ``t`` itself when it
    is too small or huge pages are unavailable (nothing to gain from a copy)."""
    if t.device.type != "cpu" or t.dtype != torch.uint8:
        raise ValueError(f"t: expected a CPU uint8 tensor, got {t.dtype} on {t.device}")
    if t.numel() < MIN_BYTES or not hugepages_available():
        return t
    out = empty_uint8(t.numel())
    out.copy_(t.reshape(-1))
    return out
