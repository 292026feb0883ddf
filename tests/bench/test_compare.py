"""The --compare gate on synthetic results: planted regressions are caught, noise is not."""

from __future__ import annotations

import pytest

from chord.bench import compare, results
from chord.bench.cli import add_arguments, run

MIXES = {"mix3": 0.2, "u4": 0.3, "u8": 0.5}


def _scaled(rel, factor, which):
    return {m: r * (factor if m == which else 1.0) for m, r in rel.items()}


def test_planted_20pct_regression_is_caught(make_doc):
    base = make_doc(MIXES, seed=1)
    new = make_doc(_scaled(MIXES, 1.20, "u4"), seed=2)
    comps = compare.compare(new, base, 0.10)
    by = {c.name: c for c in comps}
    bad = [c for c in comps if c.status == compare.REGRESSED]
    assert [c.name for c in bad] == ["kernels[chord-M=1-K=4096-N=4096-threads=1-mix=u4-path=exact]"]
    assert bad[0].change == pytest.approx(0.20, abs=0.03)
    assert bad[0].ci[0] > 0.10
    assert all(c.status == compare.OK for n, c in by.items() if n != bad[0].name)
    assert compare.gate(comps) == 1


@pytest.mark.parametrize("seed", range(5))
def test_2pct_noise_is_not_flagged(make_doc, seed):
    base = make_doc(MIXES, seed=10 + seed, noise=0.02)
    new = make_doc(_scaled(MIXES, 1.02, "mix3"), seed=20 + seed, noise=0.02)
    comps = compare.compare(new, base, 0.10)
    assert {c.status for c in comps} == {compare.OK}
    assert compare.gate(comps, strict=True) == 0


def test_machine_speed_cancels_out(make_doc):
    """A machine 2x slower overall (reference included) is not a regression: ratios are compared."""
    base = make_doc(MIXES, seed=3)
    new = make_doc(MIXES, seed=4, ref_median=2e-3)
    assert compare.gate(compare.compare(new, base, 0.10)) == 0


def test_noisy_change_above_threshold_is_inconclusive_not_failed(make_doc):
    base = make_doc(MIXES, seed=5, noise=0.30, rounds=5)
    new = make_doc(_scaled(MIXES, 1.15, "u8"), seed=6, noise=0.30, rounds=5)
    comps = {c.name.split("mix=")[1].split("-")[0]: c for c in compare.compare(new, base, 0.10)}
    c = comps["u8"]
    assert c.ci[0] < 0.10 < c.ci[1]
    assert c.status in (compare.INCONCLUSIVE, compare.OK)


def test_improvement_new_and_missing(make_doc):
    base = make_doc({"mix3": 0.2, "u8": 0.5}, seed=7)
    new = make_doc({"mix3": 0.1, "u4": 0.3}, seed=8)
    st = {c.name.split("mix=")[1].split("-")[0]: c.status for c in compare.compare(new, base, 0.10)}
    assert st == {"mix3": compare.IMPROVED, "u4": compare.NEW, "u8": compare.MISSING}


@pytest.mark.parametrize("spec,want", [("10%", 0.10), ("0.25", 0.25), ("5 %", 0.05), ("abc", None), ("0", None)])
def test_parse_threshold(spec, want):
    if want is None:
        with pytest.raises(ValueError, match="max-regression"):
            compare.parse_threshold(spec)
    else:
        assert compare.parse_threshold(spec) == pytest.approx(want)


def _cli(argv):
    import argparse

    p = argparse.ArgumentParser()
    add_arguments(p)
    return run(p.parse_args(argv))


def test_cli_compare_files_exit_status_and_names(make_doc, tmp_path, capsys):
    base = results.save(make_doc(MIXES, seed=1), tmp_path / "base.json")
    good = results.save(make_doc(MIXES, seed=2), tmp_path / "good.json")
    bad = results.save(make_doc(_scaled(MIXES, 1.25, "mix3"), seed=3), tmp_path / "bad.json")
    assert _cli(["--results", str(good), "--compare", str(base), "--max-regression", "10%"]) == 0
    assert _cli(["--results", str(bad), "--compare", str(base), "--max-regression", "10%"]) == 1
    captured = capsys.readouterr()
    assert "GATE FAILED: 1 case(s) exceed 10%" in captured.err and "mix=mix3" in captured.err
    # a 30 % threshold lets the 25 % regression through
    assert _cli(["--results", str(bad), "--compare", str(base), "--max-regression", "30%"]) == 0


def test_cli_compare_rejects_bad_baseline(tmp_path, capsys):
    p = tmp_path / "x.json"
    p.write_text('{"benchmarks": 3}')
    assert _cli(["--results", str(p), "--compare", str(p)]) == 2
    assert "benchmarks: expected a list" in capsys.readouterr().err
    assert _cli(["--results", str(tmp_path / "none.json"), "--compare", str(p)]) == 2


def _on_cpu(doc, flags, l1d, model="AMD EPYC"):
    doc["machine_info"].update(
        {"cpu": {"brand_raw": model, "flags": flags}, "caches": {"L1d": l1d, "L3": 32 << 20}, "cpu_count": 2}
    )
    return doc


def test_machine_differences_name_what_changed(make_doc):
    # the 2026-11-28 ci_ratios baseline and this session's came from hosts that differ like this
    base = _on_cpu(make_doc(MIXES, seed=1), ["avx2", "avx512f", "avx512_vnni", "avx_vnni"], 48 << 10)
    new = _on_cpu(make_doc(MIXES, seed=2), ["avx2", "avx512f", "avx512_vnni"], 32 << 10)
    assert compare.machine_differences(new, base) == ["CPU flags: without avx_vnni", "L1d cache: 48 KiB -> 32 KiB"]
    assert compare.machine_differences(base, base) == []
    other = _on_cpu(make_doc(MIXES, seed=3), ["avx2", "fma"], 48 << 10, model="Intel Xeon")
    assert compare.machine_differences(other, base) == [
        "CPU model: AMD EPYC -> Intel Xeon",
        "CPU flags: without avx512_vnni, avx512f, avx_vnni with fma",
    ]
    assert compare.machine_differences(make_doc(MIXES), base) == []  # a document that does not say


def test_cli_compare_notes_another_cpu_beside_the_verdict(make_doc, tmp_path, capsys):
    base = results.save(_on_cpu(make_doc(MIXES, seed=1), ["avx2", "avx_vnni"], 48 << 10), tmp_path / "base.json")
    same = results.save(_on_cpu(make_doc(MIXES, seed=2), ["avx2", "avx_vnni"], 48 << 10), tmp_path / "same.json")
    moved = results.save(
        _on_cpu(make_doc(_scaled(MIXES, 1.25, "mix3"), seed=3), ["avx2"], 32 << 10), tmp_path / "moved.json"
    )
    assert _cli(["--results", str(same), "--compare", str(base)]) == 0
    assert "another CPU" not in capsys.readouterr().out
    assert _cli(["--results", str(moved), "--compare", str(base), "--max-regression", "10%"]) == 1  # still fails
    out = capsys.readouterr().out
    assert "note: the baseline was measured on another CPU (CPU flags: without avx_vnni; L1d cache" in out
    assert f"--json {base}" in out
