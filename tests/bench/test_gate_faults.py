"""The gate cannot be fooled (planted faults): a case that vanishes from the new run fails it, a
kernel computing a wrong answer is an error (no time, non-zero exit), the top-k must return the
float64 reference's ids, the ggml peer must match fp32, and a call served by the pure-torch
reference is labelled as such."""

from __future__ import annotations

import pytest
import torch

import chord
from chord.backends import fallback
from chord.bench import checks, compare, runner
from chord.bench.config import BenchConfig
from chord.bench.suites import scoring
from chord.bench.timing import TimingPolicy

MIXES = {"mix3": 0.2, "u4": 0.3, "u8": 0.5}


# -- the ratio gate ----------------------------------------------------------------------------
def test_case_missing_from_new_run_fails_the_gate_even_without_strict(make_doc):
    base = make_doc(MIXES, seed=1)
    new = make_doc({"mix3": 0.2, "u8": 0.5}, seed=2)  # u4's kernel raised -> listed unavailable
    new["chord"]["unavailable"].append(
        {
            "suite": "kernels",
            "group": "kernels M=1 K=4096 N=4096 t=1",
            "impl": "chord",
            "reason": "failed: RuntimeError: planted",
        }
    )
    comps = compare.compare(new, base, 0.10)
    missing = [c for c in comps if c.status == compare.MISSING]
    assert [c.name.split("mix=")[1].split("-")[0] for c in missing] == ["u4"]
    assert "planted" in missing[0].reason
    assert compare.gate(comps) == 1 and compare.gate(comps, strict=True) == 1


def test_missing_reference_fails_every_case(make_doc):
    base = make_doc(MIXES, seed=3)
    new = make_doc(MIXES, seed=4)
    new["benchmarks"] = [b for b in new["benchmarks"] if b["extra_info"]["impl"] != "torch_fp32"]
    comps = compare.compare(new, base, 0.10)
    assert {c.status for c in comps} == {compare.MISSING} and len(comps) == 3
    assert compare.gate(comps) == 1


def test_error_recorded_in_new_run_fails_the_gate(make_doc):
    base = make_doc(MIXES, seed=5)
    new = make_doc(MIXES, seed=6)
    new["chord"]["errors"] = [{"suite": "kernels", "group": "g", "impl": "chord", "reason": "planted wrong answer"}]
    comps = compare.compare(new, base, 0.10)
    assert [c.status for c in comps if c.status != compare.OK] == [compare.ERROR]
    assert compare.gate(comps) == 1


# -- the checks, on planted wrong results --------------------------------------------------------
def _mw(N=48, K=96, seed=0, mix=(0, 1, 2, 3)):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(N, K, generator=g)
    codes = torch.tensor([mix[i % len(mix)] for i in range(N)], dtype=torch.uint8)
    return chord.pack(w, codes), torch.randn(5, K, generator=g)


@pytest.mark.parametrize("act_bits", [0, 8])
def test_mp_linear_check_passes_the_kernel_and_catches_a_planted_error(act_bits):
    mw, x = _mw(seed=act_bits)
    check = checks.mp_linear_check(x, mw, act_bits)
    y = chord.mp_linear(x, mw, act_bits=act_bits)
    check(y)  # the real kernel is within the bound
    bad = y.clone()
    bad[2, 7] += 1e-3 * float(y.abs().max())  # one output off by 0.1 % of the range
    with pytest.raises(checks.WrongResult, match=r"outside the float64 reference's error bound; first at \[2, 7\]"):
        check(bad)
    nan = y.clone()
    nan[0, 0] = float("nan")
    with pytest.raises(checks.WrongResult):
        check(nan)


def test_mp_topk_check_requires_the_reference_ids():
    mw, x = _mw(N=300, K=64, seed=3)
    check = checks.mp_topk_check(x, mw, 10)
    vals, ids = chord.mp_topk(x, mw, 10)
    check((vals, ids))
    swapped = ids.clone()
    swapped[1, [3, 4]] = swapped[1, [4, 3]]  # two neighbours in the wrong order
    with pytest.raises(checks.WrongResult, match="ids differ from the float64 reference's .first in row 1"):
        check((vals, swapped))


def test_ggml_style_check_bounds_relative_error():
    g = torch.Generator().manual_seed(4)
    ref = torch.randn(3, 40, generator=g)
    check = checks.rel_error_check(ref, checks.GGML_TOL["ggml_q8_0"], "ggml_q8_0")
    check(ref + 0.005 * torch.randn(3, 40, generator=g))  # ~0.5 %: what Q8_0 gives
    with pytest.raises(checks.WrongResult, match="relative error"):
        check(ref + 0.2 * torch.randn(3, 40, generator=g))
    with pytest.raises(checks.WrongResult, match="shape"):
        check(ref[:2])


@pytest.mark.optional
@pytest.mark.skipif(
    not __import__("chord.bench.peer_ggml", fromlist=["x"]).available(),
    reason="ggml-python (the [peer] extra) is not installed",
)
def test_ggml_peer_output_is_checked():
    from chord.bench import peer_ggml

    g = torch.Generator().manual_seed(5)
    w, x = torch.randn(64, 256, generator=g), torch.randn(2, 256, generator=g)
    prep = peer_ggml.ggml_matmul("ggml_q8_0", w, x, 2, 1)
    prep.check(prep.fn(0))
    import ctypes

    import ggml

    _, yt = prep.keepalive[0][0]  # planted: the graph's output of set 0 zeroed
    ctypes.memset(ggml.ggml_get_data(yt), 0, 4 * 2 * 64)
    with pytest.raises(checks.WrongResult, match="relative error to the fp32 product"):
        prep.check(None)


# -- the runner: a wrong kernel is an error, not a number ----------------------------------------
def _tiny(**kw):
    cfg = BenchConfig(
        suites=("kernels",),
        threads=(1,),
        shapes=("2x64x32",),
        mixes=("mix3",),
        paths=("exact", "act8"),
        baselines=("torch_fp32",),
        policy=TimingPolicy.quick(),
        scoring_rows=300,
        topk=5,
    )
    for k, v in kw.items():
        cfg = cfg.__class__(**{**cfg.__dict__, k: v})
    return cfg


def test_runner_checks_real_kernels_and_records_what_it_checked(fast_bandwidth):
    doc = runner.run(_tiny(suites=("kernels", "scoring")), log=lambda s: None)
    assert doc["chord"]["errors"] == []
    chord_recs = [b for b in doc["benchmarks"] if b["extra_info"]["role"] == "chord"]
    assert len(chord_recs) == 2 + 2  # kernels: 2 paths; scoring: scores + top-k
    assert all(b["extra_info"]["checked"] for b in chord_recs)


def test_runner_turns_a_planted_wrong_kernel_into_an_error(fast_bandwidth, monkeypatch):
    real = chord.mp_linear

    def off_by_a_bit(x, mw, *a, **kw):
        y = real(x, mw, *a, **kw)
        return y + 1e-3 * y.abs().max()

    from chord.bench.suites import common

    monkeypatch.setattr(common.chord, "mp_linear", off_by_a_bit)
    doc = runner.run(_tiny(), log=lambda s: None)
    assert [e["impl"] for e in doc["chord"]["errors"]] == ["chord", "chord"]
    assert "error bound" in doc["chord"]["errors"][0]["reason"]
    assert not [b for b in doc["benchmarks"] if b["extra_info"]["impl"] == "chord"], "no time for a wrong answer"


def test_runner_turns_planted_wrong_topk_ids_into_an_error(fast_bandwidth, monkeypatch):
    real = scoring.mp_topk

    def shuffled(x, mw, k, *a, **kw):
        v, i = real(x, mw, k, *a, **kw)
        return v, i.flip(-1)

    monkeypatch.setattr(scoring, "mp_topk", shuffled)
    doc = runner.run(_tiny(suites=("scoring",)), log=lambda s: None)
    assert [e["impl"] for e in doc["chord"]["errors"]] == ["chord_topk"]
    assert "ids differ" in doc["chord"]["errors"][0]["reason"]


def test_bench_cli_exits_nonzero_on_an_error(fast_bandwidth, monkeypatch, tmp_path, capsys):
    import argparse

    from chord.bench import cli

    real = chord.mp_linear
    from chord.bench.suites import common

    monkeypatch.setattr(common.chord, "mp_linear", lambda x, mw, *a, **kw: real(x, mw, *a, **kw) * 1.01)
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    rc = cli.run(
        p.parse_args(
            [
                "--suites",
                "kernels",
                "--shapes",
                "2x64x32",
                "--mixes",
                "mix3",
                "--paths",
                "exact",
                "--baselines",
                "torch_fp32",
                "--threads",
                "1",
                "--quick",
                "--no-plots",
                "--out",
                str(tmp_path),
            ]
        )
    )
    assert rc == 1
    assert "ERROR: chord" in capsys.readouterr().err
    assert "ERRORS: wrong answers" in (tmp_path / "report.md").read_text()


# -- no silent fallback in the bench -------------------------------------------------------------
def test_runner_labels_a_reference_served_call(fast_bandwidth):
    from chord.bench.baselines import Prepared

    fallback.reset()
    ctx = runner.RunContext(_tiny(), log=lambda s: None)

    def prepare():
        def fn(i):
            fallback.served_by_reference("chord::mp_topk", "cuda", "planted: no CUDA kernel")
            return torch.zeros(1)

        return Prepared(fn, 4, 1, "mp_topk k=5")

    with pytest.warns(fallback.FallbackWarning):
        rec = ctx.time("scoring", "g", "chord_topk", "chord", {"B": 1}, 1, prepare, TimingPolicy.quick())
    assert rec["extra_info"]["fallback"] == {"chord::mp_topk@cuda": "planted: no CUDA kernel"}
    assert "[pure-torch reference: chord::mp_topk@cuda" in rec["extra_info"]["note"]
    fallback.reset()


def test_cuda_rounds_are_timed_with_cuda_events(monkeypatch):
    """--device cuda: a round is the time between two CUDA events (planted fake events on CPU)."""
    from chord.bench import timing

    made = []

    class FakeEvent:
        def __init__(self, enable_timing=False):
            assert enable_timing
            made.append(self)
            self.t = None

        def record(self):
            self.t = len(made)

        def synchronize(self):
            pass

        def elapsed_time(self, end):
            return 2.0  # ms per round, whatever the wall clock says

    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    out = timing.measure(
        lambda i: None,
        TimingPolicy(warmup=1, min_rounds=3, max_rounds=3, min_time_s=0.0, max_time_s=0.05, rel_ci=1.0),
        device="cuda",
    )
    assert made and out["median"] == pytest.approx(2e-3 / out["iterations"])
