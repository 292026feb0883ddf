"""Results JSON: pytest-benchmark's layout plus chord's fields; schema checks; ratios."""

from __future__ import annotations

import json
import math
import statistics

import pytest

from chord.bench import results
from chord.bench.timing import TimingPolicy, measure, median_ci, summarize


def test_summarize_matches_pytest_benchmark_stats():
    pb = pytest.importorskip("pytest_benchmark.stats")
    for n in (1, 2, 5, 8, 13, 40):
        data = [1 + ((i * 7919) % 13) / 10 for i in range(n)]
        ours = summarize(data)
        theirs = pb.Stats()
        for v in data:
            theirs.update(v)
        # every statistic the results schema shares with pytest-benchmark (not the raw samples)
        for k in (k for k in results.STAT_KEYS if k not in ("data", "iterations")):
            assert ours[k] == pytest.approx(getattr(theirs, k)), (n, k)


def test_summarize_rejects_empty():
    with pytest.raises(ValueError, match="at least one sample"):
        summarize([])


def test_median_ci_brackets_median():
    data = sorted(float(i) for i in range(101))
    lo, hi = median_ci(data)
    assert lo < statistics.median(data) < hi
    assert hi - lo < 30


def test_measure_rotates_and_stops():
    seen = []
    st = measure(
        lambda i: seen.append(i),
        TimingPolicy(
            warmup=2, min_rounds=4, max_rounds=6, min_time_s=0.0, max_time_s=5.0, rel_ci=1e-9, min_round_s=0.0
        ),
    )
    assert 4 <= st["rounds"] <= 6
    assert seen == list(range(len(seen)))  # call index increases: weight sets rotate
    assert st["min"] <= st["median"] <= st["max"] and len(st["data"]) == st["rounds"]


def test_document_round_trip_and_schema(make_doc, tmp_path):
    doc = make_doc({"mix3": 0.25, "u8": 0.5})
    assert results.validate(doc) == []
    path = results.save(doc, tmp_path / "r.json")
    back = results.load(path)
    assert back["benchmarks"][1]["extra_info"]["rel_to_ref"] == pytest.approx(
        doc["benchmarks"][1]["extra_info"]["rel_to_ref"]
    )
    raw = json.loads(path.read_text())
    for key in ("machine_info", "commit_info", "benchmarks", "datetime", "version"):  # pytest-benchmark's
        assert key in raw
    b = raw["benchmarks"][1]
    assert set(b) >= {"group", "name", "fullname", "params", "param", "extra_info", "options", "stats"}
    assert b["extra_info"]["ratios"]["torch_fp32"] == pytest.approx(1 / b["extra_info"]["rel_to_ref"])


def test_schema_errors_are_named(make_doc):
    doc = make_doc({"mix3": 0.25})
    del doc["benchmarks"][1]["stats"]["median"]
    doc["benchmarks"][0]["extra_info"]["role"] = "boss"
    doc["benchmarks"].append(dict(doc["benchmarks"][0]))
    errs = results.validate(doc)
    assert any("stats: missing 'median'" in e for e in errs)
    assert any("role" in e and "boss" in e for e in errs)
    assert any("duplicate name" in e for e in errs)
    assert results.validate([]) == ["top level: expected an object, got list"]


def test_ratios_only_against_matching_baselines():
    recs = []
    g = "adaptation K=8 N=8 t=1"
    st = summarize([2.0])
    recs.append(results.make_record("adaptation", g, "torch_copy", "baseline", {"K": 8}, summarize([1.0])))
    recs.append(
        results.make_record("adaptation", g, "reference_pack", "baseline", {"K": 8, "mix": "a"}, summarize([8.0]))
    )
    recs.append(
        results.make_record("adaptation", g, "reference_pack", "baseline", {"K": 8, "mix": "b"}, summarize([4.0]))
    )
    recs.append(results.make_record("adaptation", g, "chord_pack", "chord", {"K": 8, "mix": "b"}, st))
    results.add_ratios(recs, {"adaptation": "torch_copy"})
    ex = recs[-1]["extra_info"]
    assert ex["ratios"] == {"torch_copy": 0.5, "reference_pack": 2.0}  # mix b's reference, not mix a's
    assert ex["rel_to_ref"] == 2.0


def test_bandwidth_and_roofline():
    rec = results.make_record("kernels", "g", "chord", "chord", {"M": 1}, summarize([1e-3]))
    results.add_bandwidth(rec, 10_000_000, {"copy_GBps": 20.0, "read_GBps": 40.0})
    ex = rec["extra_info"]
    assert ex["GBps"] == pytest.approx(10.0) and ex["roofline_fraction"] == pytest.approx(0.5)
    assert ex["roofline_ms"] == pytest.approx(0.5)
    # a GEMV only reads: its roof is the read-only bandwidth
    assert ex["read_roofline_fraction"] == pytest.approx(0.25) and ex["read_roofline_ms"] == pytest.approx(0.25)


def test_non_finite_values_become_null(tmp_path, make_doc):
    doc = make_doc({"mix3": 0.25})
    doc["chord"]["x"] = math.inf
    text = results.save(doc, tmp_path / "r.json").read_text()
    assert "Infinity" not in text and json.loads(text)["chord"]["x"] is None


def test_ratios_with_min_statistic():
    recs = [
        results.make_record("kernels", "g", "torch_fp32", "baseline", {"M": 1}, summarize([4.0, 9.0, 9.0])),
        results.make_record("kernels", "g", "chord", "chord", {"M": 1, "mix": "a"}, summarize([1.0, 1.5, 1.5])),
    ]
    results.add_ratios(recs, {"kernels": "torch_fp32"}, stat="min")
    assert recs[1]["extra_info"]["ratios"]["torch_fp32"] == 4.0 and recs[1]["extra_info"]["ratio_stat"] == "min"
    results.add_ratios(recs, {"kernels": "torch_fp32"})
    assert recs[1]["extra_info"]["ratios"]["torch_fp32"] == 6.0
    with pytest.raises(ValueError, match="stat"):
        results.add_ratios(recs, {}, stat="mean")


def test_measure_single_call_when_far_over_budget():
    import time

    calls = []
    st = measure(lambda i: (calls.append(i), time.sleep(0.05)), TimingPolicy(warmup=2, min_rounds=5, max_time_s=0.01))
    assert len(calls) == 2 and st["rounds"] == 1 and st["converged"] is False  # 2 warm-ups, no rounds
