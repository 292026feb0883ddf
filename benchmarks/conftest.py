"""pytest-benchmark suite of chord (not collected by the default ``python -m pytest``, whose
testpaths is ``tests``). Run, under the benchmark lock on a shared machine::

    flock /tmp/chord-bench.lock python -m pytest benchmarks --benchmark-only \
        --benchmark-group-by=group --benchmark-json=bench_out/pytest-bench.json [--chord-threads 2] [-k M1]

The ``chord bench`` command measures the same cases with repeat-until-stable timing, same-run
ratios and roofline; these files are for pytest-benchmark's own tooling (``--benchmark-compare``,
histograms, saved runs under .benchmarks/).
"""

from __future__ import annotations

import itertools

import pytest
import torch

from chord.bench import machine
from chord.bench.runner import num_threads


def pytest_addoption(parser):
    parser.addoption("--chord-threads", type=int, default=1, help="threads for chord and torch (default 1)")


@pytest.fixture(scope="session")
def threads(request):
    return request.config.getoption("--chord-threads")


@pytest.fixture(scope="session")
def bandwidth(threads):
    with num_threads(threads):
        return machine.copy_bandwidth()


@pytest.fixture(scope="session")
def n_sets():
    """Copies of a weight to rotate so their total is >= 2x the last-level cache."""
    llc = machine.last_level_cache_bytes()
    return lambda nbytes: int(min(32, max(2, -(-2 * llc // max(1, int(nbytes))))))


@pytest.fixture
def run_prepared(benchmark, threads, bandwidth):
    """Time a ``chord.bench.baselines.Prepared`` (rotating its weight sets) and record
    effective GB/s and roofline fraction in extra_info."""

    def go(prep, **extra):
        counter = itertools.count()
        with num_threads(threads), torch.inference_mode():
            benchmark(lambda: prep.fn(next(counter)))
        med = benchmark.stats.stats.median
        benchmark.extra_info.update(
            extra,
            threads=threads,
            n_sets=prep.n_sets,
            bytes_read=prep.bytes_read,
            GBps=prep.bytes_read / med / 1e9,
            copy_GBps=bandwidth["copy_GBps"],
            roofline_fraction=prep.bytes_read / med / 1e9 / bandwidth["copy_GBps"],
        )

    return go
