"""``chord experiment --quick`` on a slice of ML-100K: table, JSON, PNGs, resumability."""

import json

import numpy as np
import pytest
import torch

from chord.cli import main
from chord.eval.metrics import metrics_from_ranks
from chord.experiments.table import table
from tests.helpers import data_dir_or_skip


def quick_argv(tmp_path, model: str, methods: list[str], sweep: list[str], *extra: str) -> list[str]:
    """``chord experiment --quick`` on the first 40 users of ML-100K, one thread, into ``tmp_path``."""
    data = data_dir_or_skip("ml-100k").parent
    common = ["--data-dir", str(data), "--out", str(tmp_path), "--max-users", "40", "--threads", "1"]
    return ["experiment", "--quick", *common, "--models", model, "--methods", *methods, "--sweep", *sweep, *extra]


def test_quick_grid_writes_results_and_resumes(tmp_path, capsys):
    methods = ["fp32", "ptq2", "layerwise", "random", "population", "chord-pretrained"]
    argv = quick_argv(tmp_path, "sasrec", methods, ["2.0", "3.0"])
    assert main(argv) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    cells = res["cells"]
    for key in (
        "fp32",
        "ptq2",
        "layerwise@3.0",
        "random@3.0",
        "population-pretrained@3.0",
        "chord-pretrained@3.0",
        "chord-pretrained@2.0",
        "chord-pretrained/device",
    ):
        assert f"ml-100k/sasrec/{key}" in cells, key
    for key, v in cells.items():
        assert v["runtime_s"] >= 0
        if "test" in v:
            assert set(v["test"]) == {"full", "sampled"}
            if key.endswith("@3.0"):  # random codes hold the budget to within one channel
                assert v["avg_bits"] <= 3.0 + (0.01 if "random" in key else 1e-6), key
    dev = cells["ml-100k/sasrec/chord-pretrained/device"]
    assert dev["wire_bytes_compact"] < dev["wire_bytes"] < dev["fp32_weight_bytes"] / 100
    assert (tmp_path / "budget_sweep.png").stat().st_size > 1000
    assert any(p.name.startswith("heatmap_") for p in tmp_path.glob("*.png"))
    assert "chord-pretrained@3.0" in (tmp_path / "table.md").read_text()
    # per-user test ranks beside results.json reproduce every cell's metrics
    ranks = dict(np.load(tmp_path / "ranks.npz"))
    for key, v in cells.items():
        if "test" in v:
            for mode in ("full", "sampled"):
                r = ranks[f"{key}|{mode}"]
                assert r.shape == (v["test"][mode]["users"],)
                m = metrics_from_ranks(torch.from_numpy(r.astype(np.int64)))
                assert m["NDCG@10"] == pytest.approx(v["test"][mode]["NDCG@10"]), (key, mode)
    sig = res["significance"]["ml-100k/sasrec"]["chord-pretrained@3.0"]
    assert {"fp32", "ptq2", "layerwise@3.0", "random@3.0", "population-pretrained@3.0"} <= set(sig)
    assert "chord-pretrained@2.0" not in sig  # other budgets are not compared
    ref, full = (
        cells["ml-100k/sasrec/chord-pretrained@3.0"]["test"]["full"],
        cells["ml-100k/sasrec/ptq2"]["test"]["full"],
    )
    d = sig["ptq2"]["NDCG@10"]
    assert d["diff"] == pytest.approx(ref["NDCG@10"] - full["NDCG@10"])
    assert d["lo"] <= d["diff"] <= d["hi"] and d["users"] == 40
    assert "| ml-100k/sasrec | chord-pretrained@3.0 | ptq2 |" in (tmp_path / "table.md").read_text()
    # resumable: a second run with other flags recomputes nothing it has, adds what it lacks, and
    # every cell keeps the config of the run that produced it (not the later run's flags)
    before = {k: v["runtime_s"] for k, v in cells.items()}
    assert all(v["run"] == 0 and v["config"]["bootstrap"] == 1000 for v in cells.values())
    argv2 = argv + ["--bootstrap", "200"]
    argv2.insert(argv2.index("fp32") + 1, "ptq4")
    argv2.insert(argv2.index("fp32") + 1, "diet-pretrained")
    assert main(argv2) == 0
    res2 = json.loads((tmp_path / "results.json").read_text())
    after = res2["cells"]
    assert {k: v["runtime_s"] for k, v in after.items() if k in before} == before
    assert all(after[k]["run"] == 0 and after[k]["config"]["bootstrap"] == 1000 for k in before)
    new = after["ml-100k/sasrec/ptq4"]
    assert new["run"] == 1 and new["config"]["bootstrap"] == 200 and "ptq4" in new["config"]["methods"]
    assert [r["config"]["bootstrap"] for r in res2["meta"]["runs"]] == [1000, 200]
    # DIET's binary masks on the same trained backbone, served at every swept budget
    for b in (2.0, 3.0):
        diet = after[f"ml-100k/sasrec/diet-pretrained@{b}"]
        assert diet["run"] == 1 and diet["avg_bits"] <= b + 1e-6 and diet["trained_at"] == 3.0
    assert (tmp_path / "ckpt" / "ml-100k_sasrec_diet-pretrained_3.0" / "chord.safetensors").exists()
    assert "| ml-100k/sasrec | fp32 |" in table(res)
    capsys.readouterr()


def test_quick_warm_start_from_layerwise(tmp_path, capsys):
    argv = quick_argv(tmp_path, "caser", ["fp32", "chord-pretrained"], ["3.0"], "--warm-start", "layerwise")
    assert main(argv) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    assert "ml-100k/caser/layerwise-sensitivity" in res["cells"]  # measured for the warm start only
    assert "ml-100k/caser/layerwise@3.0" not in res["cells"]
    assert "ml-100k/caser/chord-pretrained@3.0" in res["cells"]
    assert (tmp_path / "ckpt" / "ml-100k_caser_chord-pretrained_3.0_warm-layerwise" / "chord.safetensors").exists()
    assert "config" not in res["meta"] and res["meta"]["runs"][-1]["config"]["warm_start"] == "layerwise"
    assert res["cells"]["ml-100k/caser/chord-pretrained@3.0"]["config"]["warm_start"] == "layerwise"
    capsys.readouterr()


def test_quick_shrink_is_selected_on_validation_and_deviation_reaches_the_trainer(tmp_path, capsys):
    argv = quick_argv(
        tmp_path,
        "caser",
        ["fp32", "chord-pretrained"],
        ["2.0"],
        "--chord-shrink",
        "1",
        "0",
        "--chord-channel-shrink",
        "0",
        "1",
        "--chord-deviation",
        "0.1",
    )
    assert main(argv) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    for b in ("2.0", "3.0"):
        cell = res["cells"][f"ml-100k/caser/chord-pretrained@{b}"]
        valid = cell["shrink"]["valid_ndcg10"]
        assert set(valid) == {"0.0,0.0", "0.0,1.0", "1.0,0.0", "1.0,1.0"}
        pairs = sorted((tuple(map(float, k.split(","))) for k in valid), key=sum)
        best = max(pairs, key=lambda gc: valid[f"{gc[0]},{gc[1]}"])  # ties: the smaller total shrink
        assert (cell["shrink"]["selected"], cell["shrink"]["selected_channel"]) == best
        assert cell["train"]["chord"]["deviation"] == 0.1
    assert res["meta"]["runs"][-1]["config"]["shrink"] == [1.0, 0.0]
    assert res["meta"]["runs"][-1]["config"]["channel_shrink"] == [0.0, 1.0]
    capsys.readouterr()
