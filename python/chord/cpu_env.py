"""Process-level settings for long CPU runs (called by the CLIs, never on import)."""

from __future__ import annotations

import ctypes

import torch


def configure_cpu(threads: int = 2) -> None:
    """Set torch threads and keep freed large buffers in the heap instead of returning them.

    glibc serves every allocation above 128 KiB-32 MiB with a fresh ``mmap``, so each batch's
    activations / [N, num_items] logits page-fault again, and the page faults can cost as much CPU
    time as the training step itself. Raising the mmap/trim thresholds makes the
    allocator reuse those pages. No-op where glibc's ``mallopt`` is unavailable.
    """
    torch.set_num_threads(threads)
    try:
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)
        libc.mallopt(M_TRIM_THRESHOLD, 1 << 31)
    except (OSError, AttributeError):
        pass
