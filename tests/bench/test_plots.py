"""Plots render from a results document: PNG files written, non-empty, real PNGs."""

from __future__ import annotations

import pytest

from chord.bench import plots, results
from chord.bench.timing import summarize

pytest.importorskip("matplotlib")


def _doc():
    doc = results.new_document({}, {}, {})
    doc["chord"]["bandwidth"] = {"1": {"copy_GBps": 30.0}, "2": {"copy_GBps": 40.0}}
    for t in (1, 2):
        for M in (1, 16, 256):
            g = f"kernels M={M} K=4096 N=4096 t={t}"
            base = {"M": M, "K": 4096, "N": 4096, "threads": t}
            recs = [results.make_record("kernels", g, "torch_fp32", "baseline", base, summarize([4e-3 * M**0.5]))]
            for i, mix in enumerate(("mix3", "u8")):
                for path in ("exact", "act8"):
                    recs.append(
                        results.make_record(
                            "kernels",
                            g,
                            "chord",
                            "chord",
                            dict(base, mix=mix, path=path),
                            summarize([1e-3 * (i + 1) * M**0.6]),
                        )
                    )
            for r in recs:
                results.add_bandwidth(r, 6_000_000, doc["chord"]["bandwidth"][str(t)])
            doc["benchmarks"] += recs
    results.add_ratios(doc["benchmarks"], {"kernels": "torch_fp32"})
    return doc


def test_plots_written(tmp_path):
    made = plots.write_all(_doc(), tmp_path)
    assert sorted(p.name for p in made) == ["bandwidth.png", "speedup_vs_m.png"]
    for p in made:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_plots_skip_when_nothing_to_plot(tmp_path):
    assert plots.write_all(results.new_document({}, {}, {}), tmp_path) == []
