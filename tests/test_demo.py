"""``chord demo`` end to end on a tiny budget: the printed table, the equal-bit intervals, the
honest verdict line, the device round trip through the fused runtime, the latency rows (or their
withholding on a busy machine), results.json and the PNGs; and the same command prints the same
accuracy table again (work is budgeted in epochs and steps, never in minutes)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from chord import demo
from tests.helpers import data_dir_or_skip

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--fp32-epochs",
    "1",
    "--fp32-batch",
    "256",
    "--chord-epochs",
    "1",
    "--chord-steps",
    "2",
    "--chord-batch",
    "64",
    "--eval-users",
    "120",
    "--users",
    "2",
    "--bootstrap",
    "50",
    "--no-progress",
    "--seed",
    "7",
]


def test_demo_end_to_end_tiny_and_repeatable(tmp_path):
    data = str(data_dir_or_skip("ml-100k").parent)
    a = tmp_path / "a"
    r = subprocess.run(
        [sys.executable, "-m", "chord", "demo", "--data-dir", data, *TINY, "--latency-calls", "50", "--out", str(a)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout
    for label in (
        "fp32 backbone",
        "uniform PTQ 8-bit",
        "uniform PTQ 2-bit",
        "PTQ 2/4-bit split",
        "CHORD @ 2 bits",
        "CHORD @ 3 bits",
    ):
        assert label in out, label
    assert "seed 7" in out and "120 test users" in out
    assert "chord@2 - ptq2" in out and "chord@3 - ptq-split" in out and "What this shows: " in out
    assert ("Rerank latency" in out) != ("Latency withheld" in out)  # numbers, or the busy warning
    doc = json.loads((a / "results.json").read_text())
    rows = {row["key"]: row for row in doc["table"]}
    assert set(rows) == {
        "fp32",
        "ptq8",
        "ptq4",
        "ptq2",
        demo.BASELINE_SPLIT,
        "chord@2",
        "chord@3",
        "population@2",
        "population@3",
    }
    assert "one strategy @ 3 bits" in out and "Per-user codes vs one strategy: " in out
    for b in (2, 3):
        assert rows[f"population@{b}"]["avg_bits"] <= b + 1e-9
        ci = doc["per_user_vs_population"][f"chord@{b} - population@{b}"]["NDCG@10"]
        assert ci["diff"] == pytest.approx(
            rows[f"chord@{b}"]["test"]["full"]["NDCG@10"] - rows[f"population@{b}"]["test"]["full"]["NDCG@10"]
        )
    assert doc["personal_verdict"] in out
    assert rows[demo.BASELINE_SPLIT]["avg_bits"] == pytest.approx(3.0)
    for row in doc["table"]:
        for mode in ("full", "sampled"):
            assert 0.0 <= row["test"][mode]["NDCG@10"] <= row["test"][mode]["HR@10"] <= 1.0
    for name in ("chord@2 - ptq2", "chord@3 - ptq-split"):
        ci = doc["equal_bits"][name]["NDCG@10"]
        assert ci["lo"] <= ci["diff"] <= ci["hi"] and ci["users"] == 120 and ci["resamples"] == 50
        chord_key, base_key = name.split(" - ")
        assert ci["diff"] == pytest.approx(
            rows[chord_key]["test"]["full"]["NDCG@10"] - rows[base_key]["test"]["full"]["NDCG@10"]
        )
    dev = doc["device"]
    assert len(dev["users"]) == 2
    for u in dev["users"]:
        assert u["fused_equals_eager"] and u["compact_bytes"] < u["wire_bytes"] < dev["fp32_weight_bytes"] / 100
    lat = dev["latency"]
    assert set(lat) == {"fp32 eager", "fp32 torch.compile", "CHORD eager (swapped model)", "CHORD fused runtime"}
    assert all(v["calls"] == 50 and 0 < v["q1_ms"] <= v["median_ms"] <= v["q3_ms"] for v in lat.values())
    assert dev["latency_reliable"] == (not dev["busy"])
    assert doc["config"]["seed"] == 7 and doc["fp32_train"]["epochs_run"] == 1
    for png in ("accuracy_vs_bits.png", "bits_heatmap.png"):
        assert (a / png).stat().st_size > 5000
    # the same command (without latency) prints the same accuracy table
    p = argparse.ArgumentParser()
    demo.add_arguments(p)
    b = tmp_path / "b"
    ckpt = tmp_path / "ckpt"
    assert (
        demo.run(
            p.parse_args(
                ["--data-dir", data, *TINY, "--latency-calls", "0", "--out", str(b), "--checkpoint", str(ckpt)]
            )
        )
        == 0
    )
    again = json.loads((b / "results.json").read_text())
    assert again["table"] == doc["table"] and again["equal_bits"] == doc["equal_bits"]
    # --checkpoint saves what `chord serve` serves: it loads and plans strategies that decode
    import torch

    from chord.quantize.strategy import Strategy
    from chord.serve.service_loader import d_user_of, load_service

    svc = load_service(ckpt)
    wire = svc.respond(torch.randn(2, d_user_of(svc)), 3.0)
    assert len(wire) == 2 and Strategy.from_bytes(wire[0], svc.fingerprint).num_channels > 0
    # ... and the one strategy for everybody at each budget, for the backbone the service serves
    from chord.system.cloud.population import load_population

    population = load_population(ckpt, svc.fingerprint)
    assert sorted(population) == sorted(float(b) for b in doc["budgets"])
    assert all(Strategy.from_bytes(w, svc.fingerprint).num_channels > 0 for w in population.values())


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["--fp32-epochs", "0"], "--fp32-epochs"),
        (["--budgets", "9"], "--budgets"),
        (["--latency-calls", "-1"], "--latency-calls"),
    ],
)
def test_demo_rejects_bad_budgets(argv, msg):
    p = argparse.ArgumentParser()
    demo.add_arguments(p)
    with pytest.raises(SystemExit, match=msg):
        demo.run(p.parse_args(argv))
