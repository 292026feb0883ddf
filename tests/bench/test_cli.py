"""``chord bench`` end to end on a tiny grid (every suite, seconds), and its argument errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from chord.bench import results
from chord.bench.config import BenchConfig, load_toml, mix_codes, parse_mix, parse_shape

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "benchmarks" / "grids" / "smoke.toml"


def _run(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "chord", "bench", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_cli_smoke_every_suite(tmp_path):
    r = _run("--grid", str(SMOKE), "--out", str(tmp_path), "--mixes", "mix3")
    assert r.returncode == 0, r.stderr[-3000:]
    doc = results.load(tmp_path / "results.json")
    suites = {b["extra_info"]["suite"] for b in doc["benchmarks"]}
    assert suites == {"kernels", "scoring", "adaptation", "e2e"}
    chord_kernels = [
        b for b in doc["benchmarks"] if b["extra_info"]["impl"] == "chord" and b["extra_info"]["suite"] == "kernels"
    ]
    assert len(chord_kernels) == 2 * 2  # 2 shapes x 1 mix x 2 paths
    for b in chord_kernels:
        ex = b["extra_info"]
        assert ex["ratios"]["torch_fp32"] > 0 and ex["rel_to_ref"] > 0 and ex["GBps"] > 0
        assert ex["roofline_fraction"] > 0 and ex["max_rel_err"] < 0.05
    impls = {b["extra_info"]["impl"] for b in doc["benchmarks"]}
    assert {"chord_pack", "chord_adapt", "chord_topk", "chord_model", "fp32_model"} <= impls
    assert doc["machine_info"]["cpu"]["brand_raw"] and doc["commit_info"]["id"]
    assert doc["chord"]["bandwidth"]["1"]["copy_GBps"] > 0
    assert doc["chord"]["errors"] == []  # every checked kernel agreed with its reference
    checked = ("chord", "chord_topk", "chord_pack", "chord_adapt", "chord_model")  # every chord call, every suite
    assert all(b["extra_info"]["checked"] for b in doc["benchmarks"] if b["extra_info"]["impl"] in checked)
    assert {b["options"]["timer"] for b in doc["benchmarks"]} == {"perf_counter"}  # CPU rounds
    md = (tmp_path / "report.md").read_text()
    assert "### kernels" in md and "| **chord** | mix3 exact |" in md and md in r.stdout
    # the text log names each row as the tables do: the e2e suite's four chord_model rows per case
    # differ only in path and scope (they were four bare "chord_model" lines), and the figure is
    # the run's statistic, named (the default: the median)
    log = r.stderr.splitlines()
    for path in ("exact", "act8"):
        for scope in ("backbone", "backbone+items"):
            want = f"  chord_model mix3 {path} {scope} "
            assert sum(line.startswith(want) for line in log) == 2, (want, r.stderr[-3000:])  # sasrec, caser
    timed = [line for line in log if line.endswith("rounds)")]
    assert timed and all(re.match(r"  \S.* median +[0-9.]+ ms[ ,]", line) for line in timed), timed[:3]
    assert "*backbone*: the backbone's Linear/Conv2d layers swapped" in md  # the e2e legend
    for png in ("speedup_vs_m.png", "bandwidth.png"):
        assert (tmp_path / png).stat().st_size > 1000
    # the int4 baseline cannot take K=64: reported as unavailable, with the reason
    assert any(u["impl"] == "aten_int4pack_mm" and "K % 128" in u["reason"] for u in doc["chord"]["unavailable"])


def test_cli_interleaved_thread_counts(tmp_path):
    """``--interleave-threads`` (on by default with ``--contend``): the same records as a run row
    after row (one per implementation and thread count, same names), each saying it was timed
    interleaved, and the report and log say how the counts were timed."""
    r = _run(
        "--grid",
        str(SMOKE),
        "--suites",
        "kernels,scoring,adaptation",
        "--shapes",
        "1x64x64",
        "--mixes",
        "mix3",
        "--threads",
        "1,2",
        "--interleave-threads",
        "--no-plots",
        "--out",
        str(tmp_path),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    doc = results.load(tmp_path / "results.json")
    assert doc["chord"]["interleaved_threads"] is True and doc["chord"]["config"]["interleave_threads"] is True
    recs = doc["benchmarks"]
    by = {}
    for b in recs:
        assert b["extra_info"]["interleaved_threads"] == [1, 2], b["name"]
        key = b["name"].replace("threads=2", "threads=1")
        by.setdefault(key, set()).add(b["params"]["threads"])
    assert by and all(v == {1, 2} for v in by.values()), by
    assert {"chord", "chord_topk", "chord_pack", "chord_adapt"} <= {b["extra_info"]["impl"] for b in recs}
    md = (tmp_path / "report.md").read_text()
    assert "timed **interleaved**" in md
    assert "kernels M=1 K=64 N=64 t=1,2 (the thread counts' rounds interleaved)" in r.stderr
    assert re.search(r"^  t=2 chord mix3 act8 +median", r.stderr, re.M), r.stderr[-2000:]


@pytest.mark.parametrize(
    "args,msg",
    [
        (["--shapes", "1x4096"], "shape: expected MxKxN"),
        (["--mixes", "2:0.5,4:0.4"], "fractions must sum to 1"),
        (["--mixes", "3:1.0"], "widths must be in"),
        (["--suites", "kernel"], "suites: expected some of"),
        (["--paths", "int4"], "paths: expected some of"),
        (["--threads", "0"], "threads: expected positive"),
        (["--roof-probe", "-1"], "roof_probe_s: expected >= 0"),
        (["--update-baseline"], "only with --callgrind"),
        (["--results", "x.json"], "only with --compare"),
    ],
)
def test_cli_bad_arguments(args, msg, capsys):
    import argparse

    from chord.bench.cli import add_arguments, run

    p = argparse.ArgumentParser()
    add_arguments(p)
    assert run(p.parse_args([*args, "--no-plots", "--out", "/nonexistent-never-written"])) == 2
    assert msg in capsys.readouterr().err


def test_toml_grid(tmp_path):
    cfg = load_toml(SMOKE)
    assert cfg.shapes == ("1x64x64", "4x64x32") and cfg.threads == (1,) and cfg.policy.max_rounds == 5
    bad = tmp_path / "bad.toml"
    bad.write_text('[kernels]\nshape = ["1x2x3"]\n')
    with pytest.raises(ValueError, match="unknown key 'shape'"):
        load_toml(bad)
    bad.write_text("[kernelz]\n")
    with pytest.raises(ValueError, match=r"unknown section \[kernelz\]"):
        load_toml(bad)
    bad.write_text("[timing]\nmax_time = 1\n")
    with pytest.raises(ValueError, match=r"\[timing\]"):
        load_toml(bad)


def test_mixes_and_shapes():
    label, mix = parse_mix("mix3")
    assert mix == {2: 0.75, 4: 0.125, 8: 0.125}
    codes = mix_codes(mix, 4096)
    assert [int((codes == c).sum()) for c in (1, 2, 3)] == [3072, 512, 512]
    assert not bool((codes[:3072] == 1).all())  # shuffled, not sorted by width
    assert parse_mix("2:0.5,8:0.5")[1] == {2: 0.5, 8: 0.5}
    assert parse_shape("16x4096x1024") == (16, 4096, 1024) and parse_shape("64x32", 2) == (64, 32)
    assert json.dumps(BenchConfig().as_dict())  # serializable into the results file
