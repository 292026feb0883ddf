"""Fixtures for the chord bench tests: synthetic results documents with known timings."""

from __future__ import annotations

import numpy as np
import pytest

from chord.bench import machine, results
from chord.bench.timing import summarize


def synthetic_doc(
    rel: dict[str, float],
    noise: float = 0.01,
    rounds: int = 25,
    seed: int = 0,
    ref_median: float = 1e-3,
    N: int = 4096,
) -> dict:
    """A results document with one kernels group (shape 1 x 4096 x ``N``): a torch_fp32 reference
    and one chord case per entry of ``rel`` (case time / reference time), per-round samples with
    relative noise."""
    rng = np.random.default_rng(seed)

    def samples(med):
        return list(med * (1 + noise * rng.standard_normal(rounds)))

    doc = results.new_document({"node": "test"}, {"id": "0" * 40, "dirty": False}, {})
    g = f"kernels M=1 K=4096 N={N} t=1"
    base = {"M": 1, "K": 4096, "N": N, "threads": 1}
    doc["benchmarks"].append(
        results.make_record("kernels", g, "torch_fp32", "baseline", base, summarize(samples(ref_median)))
    )
    for mix, r in rel.items():
        doc["benchmarks"].append(
            results.make_record(
                "kernels",
                g,
                "chord",
                "chord",
                dict(base, mix=mix, path="exact"),
                summarize(samples(ref_median * r)),
                {"mix": mix},
            )
        )
    results.add_ratios(doc["benchmarks"], {"kernels": "torch_fp32"})
    return doc


@pytest.fixture
def make_doc():
    return synthetic_doc


@pytest.fixture
def fast_bandwidth(monkeypatch):
    """The run-level bandwidth without measuring it: copy 10 GB/s, read 10 GB/s."""
    monkeypatch.setattr(
        machine, "copy_bandwidth", lambda nbytes=None, device="cpu": {"copy_GBps": 10.0, "read_GBps": 10.0}
    )
