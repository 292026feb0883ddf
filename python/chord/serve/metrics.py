"""Counters and histograms of one server process, reported by ``GET /metrics`` as plain JSON or in
the Prometheus text exposition format (version 0.0.4).

Per process: with several uvicorn workers each worker answers for itself (a scraper sees one
worker per request; the ``pid`` label tells them apart); summing across workers is the
monitoring system's job. The Prometheus text is written here rather than by ``prometheus_client``:
a handful of counters, gauges and two histograms do not justify a dependency.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter

#: upper bounds (ms) of the latency buckets; the last bucket is open
LATENCY_BUCKETS_MS = (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
#: upper bounds of the batch-size histogram in the Prometheus output (JSON has exact counts)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def _num(v) -> str:
    """A sample value as Prometheus writes it (integers without a fraction, floats with repr)."""
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 2**53):
        return str(int(v))
    return repr(float(v))


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

    def prometheus(self, gauges: dict[str, tuple[str, float | None]], labels: dict[str, str]) -> str:
        """The Prometheus text format. gauges: {name: (help, value)} added as gauges; labels: added
        to every sample (e.g. the worker's pid)."""
        lab = ",".join(f'{k}="{v}"' for k, v in labels.items())

        def sample(name, value, extra=""):
            inner = ",".join(x for x in (lab, extra) if x)
            return f"{name}{{{inner}}} {_num(value)}" if inner else f"{name} {_num(value)}"

        out = [
            "# HELP chord_serve_requests_total Requests answered, by HTTP status (499: the client hung up).",
            "# TYPE chord_serve_requests_total counter",
        ]
        out += [sample("chord_serve_requests_total", n, f'status="{k}"') for k, n in sorted(self.status.items())]
        out += [
            "# HELP chord_serve_strategies_total Strategies computed by the planner.",
            "# TYPE chord_serve_strategies_total counter",
            sample("chord_serve_strategies_total", self.strategies),
            "# HELP chord_serve_batch_size Requests per planner forward.",
            "# TYPE chord_serve_batch_size histogram",
        ]
        seen = 0
        for b in BATCH_BUCKETS:
            seen = sum(n for k, n in self.batch_sizes.items() if k <= b)
            out.append(sample("chord_serve_batch_size_bucket", seen, f'le="{b}"'))
        total = sum(self.batch_sizes.values())
        out += [
            sample("chord_serve_batch_size_bucket", total, 'le="+Inf"'),
            sample("chord_serve_batch_size_sum", self.strategies),
            sample("chord_serve_batch_size_count", total),
            "# HELP chord_serve_request_seconds Latency of answered (200) requests, arrival to answer.",
            "# TYPE chord_serve_request_seconds histogram",
        ]
        seen = 0
        for bound, n in zip(self.latency_ms.bounds, self.latency_ms.counts):
            seen += n
            out.append(sample("chord_serve_request_seconds_bucket", seen, f'le="{_num(bound / 1e3)}"'))
        out += [
            sample("chord_serve_request_seconds_bucket", self.latency_ms.n, 'le="+Inf"'),
            sample("chord_serve_request_seconds_sum", self.latency_ms.total / 1e3),
            sample("chord_serve_request_seconds_count", self.latency_ms.n),
        ]
        for name, (help_, value) in gauges.items():
            if value is None:
                continue
            out += [f"# HELP {name} {help_}", f"# TYPE {name} gauge", sample(name, value)]
        return "\n".join(out) + "\n"

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
