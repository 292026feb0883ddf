"""Counters, histograms and gauges of the server, reported by ``GET /metrics`` as plain JSON or in
the Prometheus text exposition format (version 0.0.4), summed over every worker process.

Each worker keeps its figures in one float64 vector. With several workers (``chord serve
--workers N``) the vector is a memory-mapped file ``worker-<pid>.f64`` in a directory the
supervisor makes for this server, and whichever worker takes a scrape reads every worker's file
and sums them, so one scrape reports the whole server (the idea of prometheus_client's
multiprocess mode, without the dependency: a handful of counters and two histograms). Counters
of a worker that died still count (they are totals for the server); gauges (queue depth, oldest
wait, rate) come from live workers only. Each file has one writer, its worker's event loop, and
8-byte aligned stores are not torn, so a reader sees each value whole; a scrape is not one
instant across workers (a request may be counted in ``requests`` but not yet in ``latency``).
Without a directory (one worker) the vector is plain memory.
"""

from __future__ import annotations

import bisect
import os
import time
from pathlib import Path

import numpy as np

#: upper bounds (ms) of the latency buckets; the last bucket is open
LATENCY_BUCKETS_MS = (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
#: upper bounds of the batch-size histogram in the Prometheus output (JSON has exact counts)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
#: the statuses the strategy endpoint answers (499: the client hung up); any other is "other"
STATUSES = (200, 400, 409, 413, 422, 499, 500, 503)

# offsets of the fixed fields of a worker's vector
_PID, _STARTED, _DEPTH, _OLDEST, _RATE, _STRATEGIES, _LAT_SUM, _LAT_N, _IN_PROGRESS = range(9)
_STATUS0 = 9
_LAT0 = _STATUS0 + len(STATUSES) + 1
_BATCH0 = _LAT0 + len(LATENCY_BUCKETS_MS) + 1


def _num(v) -> str:
    """A sample value as Prometheus writes it (integers without a fraction, floats with repr)."""
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 2**53):
        return str(int(v))
    return repr(float(v))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process holds the pid: not our worker any more
        return False
    return True


class Metrics:
    """Requests by status, strategies, batch sizes (exact counts per size up to ``max_batch``),
    request latency (ms buckets) and the batcher's gauges, of this worker; ``snapshot`` sums
    them over every worker sharing ``directory`` (None: this process only)."""

    def __init__(self, max_batch: int = 256, directory: str | os.PathLike | None = None):
        if int(max_batch) < 1:
            raise ValueError(f"max_batch: expected >= 1, got {max_batch}")
        self.max_batch = int(max_batch)
        self.directory = Path(directory) if directory is not None else None
        n = _BATCH0 + self.max_batch + 1
        if self.directory is None:
            self.v = np.zeros(n)
        else:
            path = self.directory / f"worker-{os.getpid()}.f64"
            self.v = np.memmap(path, dtype=np.float64, mode="w+", shape=(n,))
        self.v[_PID] = os.getpid()
        self.v[_STARTED] = time.time()
        self._status_index = {s: i for i, s in enumerate(STATUSES)}

    @property
    def started(self) -> float:
        return float(self.v[_STARTED])

    # -- recording (the worker's event loop) ---------------------------------------------------
    def request_done(self, status: int, seconds: float | None = None) -> None:
        self.v[_STATUS0 + self._status_index.get(int(status), len(STATUSES))] += 1
        if seconds is not None:
            ms = seconds * 1e3
            self.v[_LAT0 + bisect.bisect_left(LATENCY_BUCKETS_MS, ms)] += 1
            self.v[_LAT_SUM] += ms
            self.v[_LAT_N] += 1

    def batch_done(self, size: int) -> None:
        self.v[_BATCH0 + min(int(size), self.max_batch)] += 1
        self.v[_STRATEGIES] += int(size)

    def set_queue(self, depth: int, oldest_arrival: float | None) -> None:
        """depth: requests waiting; oldest_arrival: ``time.monotonic()`` of the oldest one (None:
        none waits). Monotonic, not perf_counter: another worker computes the wait from it."""
        self.v[_DEPTH] = depth
        self.v[_OLDEST] = oldest_arrival if oldest_arrival is not None else 0.0

    def set_rate(self, rate: float | None) -> None:
        self.v[_RATE] = rate or 0.0

    def set_in_progress(self, n: int) -> None:
        """Strategy requests this worker has admitted and not answered yet."""
        self.v[_IN_PROGRESS] = n

    # -- reading --------------------------------------------------------------------------------
    def _vectors(self) -> list[np.ndarray]:
        """This worker's vector and every other worker's in the directory (as copies)."""
        if self.directory is None:
            return [np.array(self.v)]
        out = []
        for path in sorted(self.directory.glob("worker-*.f64")):
            try:
                v = np.fromfile(path, dtype=np.float64)
            except OSError:  # removed while listing (the server is stopping)
                continue
            if v.size == self.v.size:  # a file being created is still empty
                out.append(v)
        return out

    def snapshot(self) -> dict:
        """The server's figures: counters summed over every worker, gauges over the live ones."""
        vs = self._vectors()
        live = [v for v in vs if int(v[_PID]) == os.getpid() or _alive(int(v[_PID]))]
        total = np.sum(vs, axis=0) if vs else np.zeros_like(self.v)
        now = time.monotonic()
        oldest = [v[_OLDEST] for v in live if v[_OLDEST] > 0]
        status = {s: int(total[_STATUS0 + i]) for i, s in enumerate(STATUSES) if total[_STATUS0 + i]}
        if total[_STATUS0 + len(STATUSES)]:
            status["other"] = int(total[_STATUS0 + len(STATUSES)])
        return {
            "started": min((float(v[_STARTED]) for v in vs), default=self.started),
            "pids": sorted(int(v[_PID]) for v in live),
            "status": status,
            "strategies": int(total[_STRATEGIES]),
            "batch_size": {k: int(n) for k, n in enumerate(total[_BATCH0:]) if n},
            "latency_counts": [int(n) for n in total[_LAT0:_BATCH0]],
            "latency_sum_ms": float(total[_LAT_SUM]),
            "latency_n": int(total[_LAT_N]),
            "queue_depth": int(sum(v[_DEPTH] for v in live)),
            "in_progress": int(sum(v[_IN_PROGRESS] for v in live)),
            "oldest_wait_s": max(now - o for o in oldest) if oldest else 0.0,
            "strategies_per_s": float(sum(v[_RATE] for v in live)) or None,
        }

    def as_dict(self, snap: dict | None = None, **extra) -> dict:
        s = snap or self.snapshot()
        counts, n = s["latency_counts"], s["latency_n"]
        labels = [f"le_{b:g}" for b in LATENCY_BUCKETS_MS] + ["inf"]
        return {
            "uptime_s": time.time() - s["started"],
            "workers": len(s["pids"]),
            "pids": s["pids"],
            "requests": {str(k): v for k, v in s["status"].items()},
            "strategies": s["strategies"],
            "batches": sum(s["batch_size"].values()),
            "batch_size": {str(k): v for k, v in s["batch_size"].items()},
            "latency_ms": {
                "buckets": dict(zip(labels, counts)),
                "count": n,
                "mean": s["latency_sum_ms"] / n if n else None,
                "p50_le": bucket_quantile_ms(counts, 0.5),
                "p99_le": bucket_quantile_ms(counts, 0.99),
            },
            "queue_depth": s["queue_depth"],
            "in_progress": s["in_progress"],
            "oldest_wait_ms": s["oldest_wait_s"] * 1e3,
            "strategies_per_s": s["strategies_per_s"],
            **extra,
        }

    def prometheus(self, gauges: dict[str, tuple[str, float | None]] | None = None) -> str:
        """The Prometheus text format of the whole server (no per-worker labels: one scrape is the
        server). gauges: {name: (help, value)} added as further gauges."""
        s = self.snapshot()
        out = [
            "# HELP chord_serve_requests_total Requests answered, by HTTP status (499: the client hung up).",
            "# TYPE chord_serve_requests_total counter",
        ]
        out += [f'chord_serve_requests_total{{status="{k}"}} {n}' for k, n in s["status"].items()]
        out += [
            "# HELP chord_serve_strategies_total Strategies computed by the planner.",
            "# TYPE chord_serve_strategies_total counter",
            f"chord_serve_strategies_total {s['strategies']}",
            "# HELP chord_serve_batch_size Requests per planner forward.",
            "# TYPE chord_serve_batch_size histogram",
        ]
        sizes = s["batch_size"]
        for b in BATCH_BUCKETS:
            out.append(f'chord_serve_batch_size_bucket{{le="{b}"}} {sum(n for k, n in sizes.items() if k <= b)}')
        out += [
            f'chord_serve_batch_size_bucket{{le="+Inf"}} {sum(sizes.values())}',
            f"chord_serve_batch_size_sum {s['strategies']}",
            f"chord_serve_batch_size_count {sum(sizes.values())}",
            "# HELP chord_serve_request_seconds Latency of answered (200) requests, arrival to answer.",
            "# TYPE chord_serve_request_seconds histogram",
        ]
        seen = 0
        for bound, n in zip(LATENCY_BUCKETS_MS, s["latency_counts"]):
            seen += n
            out.append(f'chord_serve_request_seconds_bucket{{le="{_num(bound / 1e3)}"}} {seen}')
        out += [
            f'chord_serve_request_seconds_bucket{{le="+Inf"}} {s["latency_n"]}',
            f"chord_serve_request_seconds_sum {_num(s['latency_sum_ms'] / 1e3)}",
            f"chord_serve_request_seconds_count {s['latency_n']}",
        ]
        server_gauges = {
            "chord_serve_workers": ("Live worker processes.", len(s["pids"])),
            "chord_serve_queue_depth": ("Requests waiting for a planner forward, all workers.", s["queue_depth"]),
            "chord_serve_requests_in_progress": (
                "Strategy requests admitted and not answered yet, all workers.",
                s["in_progress"],
            ),
            "chord_serve_oldest_wait_seconds": ("Wait so far of the oldest queued request.", s["oldest_wait_s"]),
            "chord_serve_strategies_per_second": (
                "Recent planner throughput (EWMA), all workers.",
                s["strategies_per_s"],
            ),
            "chord_serve_uptime_seconds": ("Seconds since the first worker started.", time.time() - s["started"]),
        }
        for name, (help_, value) in {**server_gauges, **(gauges or {})}.items():
            if value is None:
                continue
            out += [f"# HELP {name} {help_}", f"# TYPE {name} gauge", f"{name} {_num(value)}"]
        return "\n".join(out) + "\n"


def bucket_quantile_ms(counts: list[int], q: float) -> float | None:
    """Upper bound (ms) of the latency bucket holding quantile q (None when empty or open-ended)."""
    n = sum(counts)
    if n == 0:
        return None
    need, seen = q * n, 0
    for i, c in enumerate(counts):
        seen += c
        if seen >= need:
            return float(LATENCY_BUCKETS_MS[i]) if i < len(LATENCY_BUCKETS_MS) else None
    return None
