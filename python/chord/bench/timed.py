"""One implementation of a benchmark case, described once and timed at every thread count of
the run by ``RunContext.time_case`` (row after row, or with the counts' rounds interleaved)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .baselines import Prepared
from .timing import TimingPolicy


@dataclass
class Timed:
    """One implementation of a case, to be timed at each of the run's thread counts
    (:meth:`RunContext.time_case`). ``params`` holds a ``"threads"`` key (any value): each
    count's record gets the count there, in the same place, so names are the same as
    :meth:`RunContext.time` gives. ``prepare(t)`` runs under ``t`` threads."""

    impl: str
    role: str
    params: dict
    prepare: Callable[[int], Prepared]
    policy: TimingPolicy | None = None
    extra: dict | None = None
    adjacent_roof: int | None = None

    def params_at(self, t: int) -> dict:
        if "threads" not in self.params:
            raise ValueError(f"params: expected a 'threads' key to fill per thread count, got {sorted(self.params)}")
        return {k: (t if k == "threads" else v) for k, v in self.params.items()}
