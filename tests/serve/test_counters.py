"""Server metrics summed over worker processes through the shared directory (in process plus one
short-lived writer process standing in for a worker that died)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from chord.serve.counters import LATENCY_BUCKETS_MS, Metrics

_DEAD_WORKER = """
import sys, time
from chord.serve.counters import Metrics
m = Metrics(8, sys.argv[1])
m.request_done(200, 0.003)
m.request_done(200, 0.030)
m.request_done(422)
m.batch_done(2)
m.set_queue(5, time.monotonic() - 60)
m.set_rate(1000.0)
m.set_in_progress(7)
"""


def test_counters_sum_over_workers_and_gauges_come_from_live_ones(tmp_path):
    subprocess.run([sys.executable, "-c", _DEAD_WORKER, str(tmp_path)], check=True, timeout=120)
    m = Metrics(8, tmp_path)
    m.request_done(200, 0.004)
    m.request_done(503)
    m.batch_done(1)
    m.set_queue(2, time.monotonic() - 0.5)
    m.set_rate(250.0)
    m.set_in_progress(3)
    s = m.as_dict()
    assert s["requests"] == {"200": 3, "422": 1, "503": 1}
    assert s["strategies"] == 3 and s["batch_size"] == {"1": 1, "2": 1} and s["batches"] == 2
    assert s["latency_ms"]["count"] == 3
    assert s["latency_ms"]["mean"] == pytest.approx((3 + 30 + 4) / 3)
    buckets = s["latency_ms"]["buckets"]
    assert buckets["le_5"] == 2 and buckets["le_50"] == 1 and sum(buckets.values()) == 3
    # gauges: the dead worker's queue of 5 (waiting 60 s), its rate and its 7 requests in progress
    # are not the server's now
    assert s["workers"] == 1 and s["queue_depth"] == 2 and s["strategies_per_s"] == 250.0
    assert s["in_progress"] == 3
    assert 400 < s["oldest_wait_ms"] < 5000
    text = m.prometheus()
    assert 'chord_serve_requests_total{status="200"} 3' in text
    assert "chord_serve_batch_size_sum 3" in text and "chord_serve_workers 1" in text
    assert "chord_serve_requests_in_progress 3" in text


def test_without_a_directory_only_this_process_counts(tmp_path):
    subprocess.run([sys.executable, "-c", _DEAD_WORKER, str(tmp_path)], check=True, timeout=120)
    m = Metrics(8)
    m.request_done(200, 0.0001)
    m.request_done(777)  # a status the endpoint never answers still counts, as "other"
    s = m.as_dict()
    assert s["requests"] == {"200": 1, "other": 1}
    assert s["latency_ms"]["buckets"][f"le_{LATENCY_BUCKETS_MS[0]:g}"] == 1
    assert s["strategies"] == 0 and s["queue_depth"] == 0 and s["strategies_per_s"] is None


def test_bad_max_batch_is_refused():
    with pytest.raises(ValueError, match="max_batch"):
        Metrics(0)
