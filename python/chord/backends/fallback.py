"""Say so when a call is served by the pure-torch reference instead of a kernel.

Every backend routes such a call through :func:`served_by_reference` (or registers an op through
:func:`reference_kernel`): the first call per (op, device) raises a :class:`FallbackWarning`, and
every call is counted, so a harness (``chord bench``) can tell which ops a timed call really ran
(:func:`counts`) and label the result as the reference instead of a kernel.
"""

from __future__ import annotations

import functools
import warnings
from collections import Counter
from collections.abc import Callable


class FallbackWarning(RuntimeWarning):
    """A chord op asked for a kernel ran the slow pure-torch reference instead."""


_warned: set[tuple[str, str]] = set()
_reasons: dict[tuple[str, str], str] = {}
_calls: Counter = Counter()


def served_by_reference(op: str, device: str, reason: str) -> None:
    """Record one call of ``op`` on ``device`` served by the reference; warn the first time."""
    key = (op, device)
    _calls[key] += 1
    _reasons[key] = reason
    if key not in _warned:
        _warned.add(key)
        warnings.warn(
            f"chord: {op} on {device} runs the slow pure-torch reference, not a kernel ({reason})",
            FallbackWarning,
            stacklevel=3,
        )


def reference_kernel(op: str, device: str, fn: Callable, reason: str) -> Callable:
    """``fn`` (a reference implementation) wrapped to report each call as a fallback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        served_by_reference(op, device, reason)
        return fn(*args, **kwargs)

    return wrapper


def counts() -> dict[tuple[str, str], int]:
    """(op, device) -> calls served by the reference so far (compare two snapshots)."""
    return dict(_calls)


def reason(op: str, device: str) -> str | None:
    return _reasons.get((op, device))


def since(before: dict[tuple[str, str], int]) -> dict[str, str]:
    """``"op@device" -> reason`` for every (op, device) with more fallback calls than in ``before``."""
    return {f"{op}@{dev}": _reasons[(op, dev)] for (op, dev), n in _calls.items() if n > before.get((op, dev), 0)}


def reset() -> None:
    """Forget what was warned and counted (tests)."""
    _warned.clear()
    _reasons.clear()
    _calls.clear()
