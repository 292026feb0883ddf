"""Counters and histograms of one server process, reported as plain JSON by ``GET /metrics``.

Per process: with several uvicorn workers each worker answers for itself (a scraper sees one
worker per request); summing across workers is the monitoring system's job.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter

#: upper bounds (ms) of the latency buckets; the last bucket is open
LATENCY_BUCKETS_MS = (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


class Histogram:
    """Counts of values in buckets with the given upper bounds (plus one open bucket)."""

    def __init__(self, bounds):
        self.bounds = tuple(float(b) for b in bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, v: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, v)] += 1
        self.total += v
        self.n += 1

    def quantile(self, q: float) -> float | None:
        """Upper bound of the bucket holding quantile q (None when empty or in the open bucket)."""
        if self.n == 0:
            return None
        need, seen = q * self.n, 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= need:
                return self.bounds[i] if i < len(self.bounds) else None
        return None

    def as_dict(self) -> dict:
        labels = [f"le_{b:g}" for b in self.bounds] + ["inf"]
        return {
            "buckets": dict(zip(labels, self.counts)),
            "count": self.n,
            "mean": self.total / self.n if self.n else None,
            "p50_le": self.quantile(0.5),
            "p99_le": self.quantile(0.99),
        }


class Metrics:
    """Requests by status, batch sizes (exact counts per size), request latency (ms)."""

    def __init__(self):
        self.started = time.time()
        self.status = Counter()
        self.batch_sizes = Counter()
        self.latency_ms = Histogram(LATENCY_BUCKETS_MS)
        self.strategies = 0

    def request_done(self, status: int, seconds: float | None = None) -> None:
        self.status[int(status)] += 1
        if seconds is not None:
            self.latency_ms.observe(seconds * 1e3)

    def batch_done(self, size: int) -> None:
        self.batch_sizes[int(size)] += 1
        self.strategies += int(size)

    def as_dict(self, **extra) -> dict:
        return {
            "uptime_s": time.time() - self.started,
            "requests": {str(k): v for k, v in sorted(self.status.items())},
            "strategies": self.strategies,
            "batches": sum(self.batch_sizes.values()),
            "batch_size": {str(k): v for k, v in sorted(self.batch_sizes.items())},
            "latency_ms": self.latency_ms.as_dict(),
            **extra,
        }
