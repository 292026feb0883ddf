"""``chord.bench``: the benchmark and performance-regression tool behind ``chord bench``.

Modules: ``config`` (grids, TOML), ``timing`` (repeat-until-stable, pytest-benchmark stats),
``machine`` (facts, copy bandwidth), ``baselines`` / ``peer_ggml`` (what chord is compared
with), ``suites`` (kernels, scoring, adaptation, e2e), ``runner``, ``results`` (JSON),
``report`` (Markdown), ``plots`` (PNG), ``compare`` (the gate), ``callgrind`` (instruction
counts), ``cli``. Nothing here is imported by ``import chord``.
"""

from .config import BenchConfig
from .timing import TimingPolicy

__all__ = ["BenchConfig", "TimingPolicy"]
