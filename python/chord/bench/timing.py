"""Timing: repeat a call until its median is stable, and summarize the samples with the
statistics pytest-benchmark writes (same keys, same quartile method), so our JSON reads in
its tools and ours alike.

A benchmarked callable takes the round index ``i`` and uses weight set ``i % n_sets``: rotating
through several copies of the weights whose total exceeds the last-level cache, so a kernel
is timed streaming its weights from memory, as in a real forward pass, not from a warm cache.
"""

from __future__ import annotations

import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class TimingPolicy:
    """When to stop sampling. A round is ``iterations`` calls (chosen so a round lasts at
    least ``min_round_s``: timer resolution and call overhead stay below 1 %). Sampling stops
    once ``min_rounds`` and ``min_time_s`` are met and the 95 % confidence interval of the
    median is within ``rel_ci`` of it, or at ``max_rounds`` / ``max_time_s``.
    """

    warmup: int = 2
    min_rounds: int = 7
    max_rounds: int = 400
    min_time_s: float = 0.15
    max_time_s: float = 1.5
    rel_ci: float = 0.02
    min_round_s: float = 2e-4

    @staticmethod
    def quick() -> TimingPolicy:
        """For smoke tests: a handful of rounds, fractions of a second."""
        return TimingPolicy(warmup=1, min_rounds=3, max_rounds=5, min_time_s=0.0, max_time_s=0.2, rel_ci=1.0)

    def as_dict(self) -> dict:
        return asdict(self)


def median_ci(sorted_data: list[float], z: float = 1.96) -> tuple[float, float]:
    """Distribution-free ~95 % confidence interval of the median (order statistics)."""
    n = len(sorted_data)
    if n < 3:
        return sorted_data[0], sorted_data[-1]
    half = z * math.sqrt(n) / 2
    lo = max(0, int(math.floor(n / 2 - half)))
    hi = min(n - 1, int(math.ceil(n / 2 + half)))
    return sorted_data[lo], sorted_data[hi]


def _quartiles(data: list[float]) -> tuple[float, float]:
    """Q1, Q3 exactly as pytest-benchmark computes them (Wikipedia methods 2 and 3)."""
    n = len(data)
    if n == 1:
        return data[0], data[0]
    if n % 2:
        k, r = n // 4, n % 4
        if r == 1:
            return 0.25 * data[k - 1] + 0.75 * data[k], 0.75 * data[3 * k] + 0.25 * data[3 * k + 1]
        return 0.75 * data[k] + 0.25 * data[k + 1], 0.25 * data[3 * k + 1] + 0.75 * data[3 * k + 2]
    return statistics.median(data[: n // 2]), statistics.median(data[n // 2 :])


def summarize(data: list[float], iterations: int = 1) -> dict:
    """Seconds per call -> pytest-benchmark's ``stats`` dict (plus ``data``, ``iterations``)."""
    if not data:
        raise ValueError("summarize: expected at least one sample, got none")
    s = sorted(data)
    n = len(s)
    mean = statistics.fmean(s)
    sd = statistics.stdev(s) if n > 1 else 0.0
    q1, q3 = _quartiles(s)
    iqr = q3 - q1
    lo15 = next((v for v in s if v >= q1 - 1.5 * iqr), s[0])
    hi15 = next((v for v in reversed(s) if v <= q3 + 1.5 * iqr), s[-1])
    iqr_out = sum(1 for v in s if v < q1 - 1.5 * iqr or v > q3 + 1.5 * iqr)
    sd_out = sum(1 for v in s if v < mean - sd or v > mean + sd)
    median = statistics.median(s)
    return {
        "min": s[0],
        "max": s[-1],
        "mean": mean,
        "stddev": sd,
        "rounds": n,
        "median": median,
        "iqr": iqr,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": iqr_out,
        "stddev_outliers": sd_out,
        "outliers": f"{sd_out};{iqr_out}",
        "ld15iqr": lo15,
        "hd15iqr": hi15,
        "ops": 1.0 / mean if mean > 0 else float("inf"),
        "total": sum(s) * iterations,
        "data": list(data),
        "iterations": iterations,
    }


def _synchronizer(device: str) -> Callable[[], None]:
    if device == "cuda":
        return torch.cuda.synchronize
    return lambda: None


class _Clock:
    """Seconds of a round of calls. CPU: ``perf_counter``. CUDA: CUDA events recorded on the
    current stream around the round (GPU time between the two events, so host-side launch gaps
    count only where they starve the GPU), read after synchronizing."""

    def __init__(self, device: str):
        self.cuda = device == "cuda"
        self.name = "cuda_event" if self.cuda else "perf_counter"  # recorded in each result

    def start(self):
        if self.cuda:
            ev = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            ev[0].record()
            return ev
        return time.perf_counter()

    def seconds(self, started) -> float:
        if self.cuda:
            started[1].record()
            started[1].synchronize()
            return started[0].elapsed_time(started[1]) / 1e3
        return time.perf_counter() - started


def measure(fn: Callable[[int], object], policy: TimingPolicy = TimingPolicy(), device: str = "cpu") -> dict:
    """Time ``fn(i)`` (i = call index, for weight rotation) under ``policy``; returns
    :func:`summarize` of seconds per call, with ``converged`` (median CI within ``rel_ci``) and
    ``timer`` (what measured the rounds: ``perf_counter``, ``cuda_event``, or
    ``perf_counter+synchronize`` for one slow CUDA call)."""
    sync = _synchronizer(device)
    calls = 0
    one = 0.0
    # at least two warm-up calls: a first call may pay one-time costs (lazy imports: the first
    # call of a torch.library op imports torch._dynamo, seconds) that say nothing about the op
    for w in range(max(2, policy.warmup)):
        t0 = time.perf_counter()
        fn(calls)
        calls += 1
        sync()
        one = time.perf_counter() - t0
        if w >= 1 and one > policy.max_time_s / 2:  # a slow warm call is its own warm-up
            break
    # calls slower than the whole budget: a few rounds, not min_rounds (bounds a run that
    # meets a pathological baseline, e.g. a kernel taking seconds at large M)
    min_rounds = policy.min_rounds if one * policy.min_rounds <= 4 * policy.max_time_s else min(policy.min_rounds, 3)
    if one > 4 * policy.max_time_s and policy.min_rounds > 1:
        # seconds per warm call (a pathological baseline): that call is the measurement
        out = summarize([one])
        out["converged"] = False
        out["single_call"] = True
        out["timer"] = "perf_counter" + ("+synchronize" if device == "cuda" else "")
        return out
    iterations = max(1, min(1000, int(math.ceil(policy.min_round_s / max(one, 1e-9)))))
    data: list[float] = []
    start = time.perf_counter()
    converged = False
    clock = _Clock(device)
    while True:
        sync()
        t = clock.start()
        for _ in range(iterations):
            fn(calls)
            calls += 1
        data.append(clock.seconds(t) / iterations)
        n, elapsed = len(data), time.perf_counter() - start
        if n >= min_rounds and elapsed >= policy.min_time_s:
            lo, hi = median_ci(sorted(data))
            med = statistics.median(data)
            converged = (hi - lo) / 2 <= policy.rel_ci * med
            if converged or n >= policy.max_rounds or elapsed >= policy.max_time_s:
                break
        elif n >= policy.max_rounds or (elapsed >= policy.max_time_s and n >= min(3, min_rounds)):
            break
    out = summarize(data, iterations)
    out["converged"] = converged
    out["timer"] = clock.name
    return out


def measure_interleaved(
    fns: dict,
    policy: TimingPolicy = TimingPolicy(),
    device: str = "cpu",
    enter: Callable[[object], None] = lambda key: None,
    leave: Callable[[object], None] = lambda key: None,
) -> dict:
    """:func:`measure` for several variants of one call at once, round by round: ``fns`` maps a
    key (a thread count) to ``fn(i)``; ``enter(key)`` runs before and ``leave(key)`` after each of
    that key's warm-up and timed rounds, outside the timed window (the runner sets the thread
    count there and reads the pool's counters). The keys' rounds alternate and their order
    reverses every other round (a b, b a, a b, ...), so a neighbour that takes a core for a while,
    or the scheduler's placement of this thread, falls on every key alike instead of on whichever
    was timed during it; every key gets the same number of rounds, each after one untimed call
    (as in a row timed alone, the round's calls find the threads warm). ``i`` counts calls over all
    keys (one weight-rotation sequence, so no key re-reads the sets another just read). Sampling
    stops when every key has met ``min_rounds`` / ``min_time_s`` and its median's CI, or at
    ``max_rounds`` per key or ``max_time_s`` x the number of keys (the budget of timing them one
    after the other). Returns {key: :func:`measure`'s dict}."""
    if not fns:
        raise ValueError("fns: expected at least one variant to time, got none")
    sync = _synchronizer(device)
    keys = list(fns)
    calls = 0
    one: dict = {}
    for k in keys:
        enter(k)
        try:
            for w in range(max(2, policy.warmup)):
                t0 = time.perf_counter()
                fns[k](calls)
                calls += 1
                sync()
                one[k] = time.perf_counter() - t0
                if w >= 1 and one[k] > policy.max_time_s / 2:
                    break
        finally:
            leave(k)
    out: dict = {}
    for k in keys:  # a pathological variant: its warm call is its measurement, as in measure()
        if one[k] > 4 * policy.max_time_s and policy.min_rounds > 1:
            out[k] = summarize([one[k]])
            out[k].update(
                converged=False, single_call=True, timer="perf_counter" + ("+synchronize" if device == "cuda" else "")
            )
    live = [k for k in keys if k not in out]
    if not live:
        return out
    slow = any(one[k] * policy.min_rounds > 4 * policy.max_time_s for k in live)
    min_rounds = min(policy.min_rounds, 3) if slow else policy.min_rounds
    iterations = {k: max(1, min(1000, int(math.ceil(policy.min_round_s / max(one[k], 1e-9))))) for k in live}
    data: dict = {k: [] for k in live}
    budget = policy.max_time_s * len(live)
    clock = _Clock(device)
    start = time.perf_counter()
    r = 0
    while True:
        for k in live if r % 2 == 0 else live[::-1]:
            enter(k)
            try:
                # one untimed call first: the count just changed, and the pool's workers slept
                # through the other count's round (a row timed alone runs its calls back to back,
                # workers still spinning; without it every 1-call round at 2 threads paid a wake-up)
                fns[k](calls)
                calls += 1
                sync()
                t = clock.start()
                for _ in range(iterations[k]):
                    fns[k](calls)
                    calls += 1
                data[k].append(clock.seconds(t) / iterations[k])
            finally:
                leave(k)
        r += 1
        elapsed = time.perf_counter() - start
        if r >= min_rounds and elapsed >= policy.min_time_s:
            conv = {}
            for k in live:
                lo, hi = median_ci(sorted(data[k]))
                conv[k] = (hi - lo) / 2 <= policy.rel_ci * statistics.median(data[k])
            if all(conv.values()) or r >= policy.max_rounds or elapsed >= budget:
                break
        elif r >= policy.max_rounds or (elapsed >= budget and r >= min(3, min_rounds)):
            conv = {k: False for k in live}
            break
    for k in live:
        out[k] = summarize(data[k], iterations[k])
        out[k]["converged"] = conv[k]
        out[k]["timer"] = clock.name
    return {k: out[k] for k in keys}


def run_facts(threads: int) -> dict:
    """What a measurement script records about its run: Python, torch, CPU and thread count."""
    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cpu": platform.processor(),
        "threads": threads,
    }


def per_call(
    fn: Callable[[int], object], n: int, warmup: int = 0, clock: Callable[[], float] = time.perf_counter
) -> list[float]:
    """Seconds of ``n`` single calls ``fn(i)``, i = 0..n-1, each timed alone by ``clock`` after
    ``warmup`` untimed calls, sorted: for probes that want the min, median or a quantile of single
    calls rather than :func:`measure`'s rounds. ``time.thread_time`` as the clock counts this
    thread's CPU time only, which an oversubscribed machine does not inflate as it does wall time."""
    if n < 1:
        raise ValueError(f"n: expected at least one timed call, got {n}")
    for i in range(warmup):
        fn(i)
    out = []
    for i in range(n):
        t0 = clock()
        fn(i)
        out.append(clock() - t0)
    return sorted(out)


def per_call_for(fn: Callable[[int], object], seconds: float, start: int = 0) -> list[float]:
    """Seconds of single calls ``fn(i)``, i = start, start + 1, ..., each timed alone, for
    ``seconds`` of wall time, sorted (``len`` of it: how many calls ran): :func:`per_call` bounded
    by time instead of by a count, for probes that watch a rate over windows of fixed length."""
    out = []
    end = time.perf_counter() + seconds
    i = start
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
        i += 1
    return sorted(out)


def per_call_threads(
    fn: Callable[[int], object], n: int, threads: tuple[int, ...] = (1, 2), warmup: int = 0
) -> dict[int, list[float]]:
    """{t: seconds of ``n`` single calls ``fn(i)`` at ``torch.set_num_threads(t)``, sorted} for each
    t in ``threads``: the counts alternate call by call and their order reverses every other round
    (1 2, 2 1, 1 2, ...), so drift and a busy neighbour fall on every count alike; i counts the timed
    calls from 0. ``warmup`` untimed calls at each count first. Leaves torch at the last count."""
    if n < 1:
        raise ValueError(f"n: expected at least one timed call per thread count, got {n}")
    for t in threads:
        torch.set_num_threads(t)
        for j in range(warmup):
            fn(j)
    out: dict[int, list[float]] = {t: [] for t in threads}
    i = 0
    for r in range(n):
        for t in threads if r % 2 == 0 else threads[::-1]:
            torch.set_num_threads(t)
            t0 = time.perf_counter()
            fn(i)
            out[t].append(time.perf_counter() - t0)
            i += 1
    return {t: sorted(v) for t, v in out.items()}


def threads_row(name: str, by_t: dict[int, list[float]], p90: bool = False) -> str:
    """One printed line of :func:`per_call_threads`' result for two thread counts a, b: min and
    median milliseconds at each (``p90``: b's 90th percentile too, numpy's linear method), then
    b/a of the mins and of the medians."""
    (ta, sa), (tb, sb) = by_t.items()
    a, b = [x * 1e3 for x in sa], [x * 1e3 for x in sb]
    ma, mb = statistics.median(a), statistics.median(b)
    q90 = statistics.quantiles(b, n=10, method="inclusive")[8] if len(b) > 1 else b[0]
    tail = f" p90 {q90:8.2f}" if p90 else ""
    return (
        f"{name:6s} t{ta} min {min(a):8.2f} med {ma:8.2f} | t{tb} min {min(b):8.2f} med {mb:8.2f}{tail}"
        f" | t{tb}/t{ta} min {min(b) / min(a):.2f} med {mb / ma:.2f}"
    )
