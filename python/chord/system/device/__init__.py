"""Device side of CHORD: the profiler (user embedding from recent items) and ``Device``
(request -> adapt from strategy bytes -> rerank)."""

from .adapt import Device
from .profiler import EXTRACTORS, Profiler

__all__ = ["Device", "Profiler", "EXTRACTORS"]
