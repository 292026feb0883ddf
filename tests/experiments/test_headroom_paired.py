"""The join of ``chord experiment`` ranks to ``chord headroom`` cells, and its paired statistics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chord.experiments import headroom_paired as hp
from chord.experiments import significance as sig

PAIR, KEY, N = "ml-100k/caser", "ml-100k/caser@3.0", 60


def _headroom_dir(tmp_path, rng, rows, fp32_all):
    d = tmp_path / "headroom"
    d.mkdir()
    ranks = {
        f"{KEY}|rows": rows.astype(np.int32),
        f"{KEY}|fp32": fp32_all[rows],
        f"{KEY}|population": rng.integers(0, 40, rows.size).astype(np.int32),
        f"{KEY}|oracle": rng.integers(0, 40, rows.size).astype(np.int32),
    }
    np.savez(d / "ranks.npz", **ranks)
    (d / "results.json").write_text(json.dumps({"cells": {KEY: {"search_items": 1}}}))
    return d, ranks


def _chord_dir(tmp_path, name, seed, fp32_all, rng, extra=()):
    d = tmp_path / name
    d.mkdir()
    ranks = {
        f"{PAIR}/fp32|full": fp32_all,
        f"{PAIR}/chord-pretrained@3.0|full": rng.integers(0, 40, N).astype(np.int32),
    }
    for m in extra:
        ranks[f"{PAIR}/{m}@3.0|full"] = rng.integers(0, 40, N).astype(np.int32)
    np.savez(d / "ranks.npz", **ranks)
    (d / "results.json").write_text(json.dumps({"cells": {f"{PAIR}/fp32": {"config": {"seed": seed}}}}))
    return d, ranks


def test_join_takes_the_sampled_rows_of_every_seed(tmp_path):
    rng = np.random.default_rng(0)
    fp32_all = rng.integers(0, 50, N).astype(np.int32)
    rows = np.sort(rng.choice(N, 20, replace=False))
    hd, hr = _headroom_dir(tmp_path, rng, rows, fp32_all)
    d1, r1 = _chord_dir(tmp_path, "s1", 1, fp32_all, rng, extra=("layerwise", "diet-pretrained"))
    d2, r2 = _chord_dir(tmp_path, "s2", 2, fp32_all, rng)
    res = hp.paired([hd], [d1, d2], resamples=200, seed=3)[KEY]
    assert res["users"] == 20
    seeds = res["chord_seeds"]
    assert [s["seed"] for s in seeds] == [1, 2]
    for s, r in zip(seeds, (r1, r2)):
        mine = sig.per_user(r[f"{PAIR}/chord-pretrained@3.0|full"][rows], "NDCG@10")
        assert s["NDCG@10"] == pytest.approx(mine.mean())
        pop = sig.per_user(hr[f"{KEY}|population"], "NDCG@10")
        assert s["minus"]["population"]["NDCG@10"] == sig.paired_bootstrap(mine, pop, resamples=200, seed=3)
    lw = sig.per_user(r1[f"{PAIR}/layerwise@3.0|full"][rows], "HR@10").mean()
    assert res["mean"]["layerwise"]["HR@10"] == pytest.approx(lw)
    assert res["mean"]["chord"]["NDCG@10"] == pytest.approx((seeds[0]["NDCG@10"] + seeds[1]["NDCG@10"]) / 2)
    pooled = res["chord_pooled"]
    assert set(pooled) == {"population", "layerwise", "diet-pretrained"}
    d = pooled["layerwise"]["NDCG@10"]
    assert d["seeds"] == 2 and d["lo"] <= d["diff"] <= d["hi"]
    assert d["diff"] == pytest.approx(res["mean"]["chord"]["NDCG@10"] - res["mean"]["layerwise"]["NDCG@10"])
    table = hp.markdown({KEY: res})
    # a run of another backbone in the list is passed over, not refused
    other = tmp_path / "sasrec"
    other.mkdir()
    np.savez(other / "ranks.npz", **{"ml-100k/sasrec/fp32|full": fp32_all})
    assert hp.paired([hd], [d1, other], resamples=50)[KEY]["mean"] == hp.paired([hd], [d1], resamples=50)[KEY]["mean"]
    # the same cell from two headroom dirs (e.g. a user sample and all users) keeps both
    both = hp.paired([hd, hd], [d1], resamples=50)
    assert list(both) == [KEY, f"{KEY} (20 users)"] and both[KEY]["budget"] == 3.0
    assert f"| {KEY} | seed 1 |" in table and f"| {KEY} | pooled (2 seeds) |" in table


def test_join_refuses_another_checkpoint_or_split(tmp_path):
    rng = np.random.default_rng(1)
    fp32_all = rng.integers(0, 50, N).astype(np.int32)
    rows = np.arange(0, N, 3)
    hd, _ = _headroom_dir(tmp_path, rng, rows, fp32_all)
    other = fp32_all.copy()
    other[rows[4]] += 1  # one sampled user ranks differently: another checkpoint
    d, _ = _chord_dir(tmp_path, "other", 1, other, rng)
    with pytest.raises(ValueError, match="fp32 test ranks differ .* on 1 of 20 users"):
        hp.paired([hd], [d])
    d2, _ = _chord_dir(tmp_path, "short", 1, fp32_all[:30], rng)
    with pytest.raises(ValueError, match="not the same split"):
        hp.paired([hd], [d2])
    with pytest.raises(FileNotFoundError, match="no ranks.npz"):
        hp.paired([hd], [tmp_path])


def test_seed_user_bootstrap():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(3, 200)), rng.normal(size=200)
    r = sig.seed_user_bootstrap(a, b, resamples=300, seed=5)
    assert r["diff"] == pytest.approx((a - b).mean()) and r["seeds"] == 3
    assert r == sig.seed_user_bootstrap(a, b, resamples=300, seed=5)  # seeded
    one = sig.seed_user_bootstrap(a[:1], b, resamples=300, seed=5)
    assert {k: one[k] for k in ("diff", "lo", "hi")} == {
        k: v for k, v in sig.paired_bootstrap(a[0], b, resamples=300, seed=5).items() if k in ("diff", "lo", "hi")
    }
    # seeds that disagree widen the interval over the same users
    shifted = a + np.array([-1.0, 0.0, 1.0])[:, None]
    wide = sig.seed_user_bootstrap(shifted, b, resamples=300, seed=5)
    assert wide["hi"] - wide["lo"] > r["hi"] - r["lo"]
    with pytest.raises(ValueError, match="expected a \\[S, n\\]"):
        sig.seed_user_bootstrap(a, b[:10])


def test_cli_joins_a_chord_experiment_of_the_same_checkpoint(tmp_path, capsys):
    """End to end: chord headroom and chord experiment on one checkpoint; --table --chord-results
    joins them (the fp32 check passes), writes the JSON and the budget-curve PNG."""
    import torch

    from chord.checkpoint import save_checkpoint
    from chord.cli import main
    from chord.models import build_model
    from tests.helpers import data_dir_or_skip

    data = str(data_dir_or_skip("ml-100k").parent)
    torch.manual_seed(0)
    m = build_model(
        {"model": "sasrec", "num_items": 1682, "dim": 8, "blocks": 1, "heads": 1, "ffn_hidden": 16, "max_len": 50}
    )
    save_checkpoint(tmp_path / "ckpt", m)
    save_checkpoint(tmp_path / "exp" / "ckpt" / "ml-100k_sasrec_fp32", m)  # the grid's fp32 slot
    hr = ["headroom", "--ckpt", str(tmp_path / "ckpt"), "--data-dir", data, "--users", "12", "--budgets", "2.0"]
    assert main(hr + ["--rounds", "1", "--oracle-rounds", "1", "--bootstrap", "50", "--out", str(tmp_path / "hr")]) == 0
    exp = ["experiment", "--data-dir", data, "--models", "sasrec", "--sweep", "2.0", "--budget", "2.0"]
    exp += ["--methods", "fp32", "layerwise", "chord-pretrained", "--chord-epochs", "1", "--threads", "1"]
    exp += ["--instances-per-epoch", "128", "--bootstrap", "50", "--out", str(tmp_path / "exp")]
    assert main(exp) == 0
    capsys.readouterr()
    tab = ["headroom", "--table", str(tmp_path / "hr"), "--chord-results", str(tmp_path / "exp"), "--bootstrap", "50"]
    tab += ["--paired-out", str(tmp_path / "paired.json"), "--curve", str(tmp_path / "curve.png")]
    assert main(tab) == 0
    out = capsys.readouterr().out
    assert "| ml-100k/sasrec@2.0 | seed 42 |" in out and "pooled" not in out  # one seed: no pooled row
    res = json.loads((tmp_path / "paired.json").read_text())["ml-100k/sasrec@2.0"]
    assert res["users"] == 12 and set(res["mean"]) >= {"fp32", "population", "oracle", "layerwise", "chord"}
    assert (tmp_path / "curve.png").stat().st_size > 1000


def test_each_seed_is_compared_with_its_own_population(tmp_path):
    rng = np.random.default_rng(4)
    fp32_all = rng.integers(0, 50, N).astype(np.int32)
    rows = np.arange(0, N, 2)
    hd, _ = _headroom_dir(tmp_path, rng, rows, fp32_all)
    runs = [_chord_dir(tmp_path, f"s{s}", s, fp32_all, rng, extra=("population-pretrained",)) for s in (1, 2)]
    res = hp.paired([hd], [d for d, _ in runs], resamples=100, seed=0)[KEY]
    key = f"{PAIR}/population-pretrained@3.0|full"
    for s, (_, r) in zip(res["chord_seeds"], runs):
        mine = sig.per_user(r[f"{PAIR}/chord-pretrained@3.0|full"][rows], "NDCG@10")
        own = sig.per_user(r[key][rows], "NDCG@10")
        assert s["minus"]["population-pretrained"]["NDCG@10"] == sig.paired_bootstrap(mine, own, resamples=100, seed=0)
    pops = [sig.per_user(r[key][rows], "NDCG@10").mean() for _, r in runs]
    assert res["mean"]["population-pretrained"]["NDCG@10"] == pytest.approx(np.mean(pops))
    d = res["chord_pooled"]["population-pretrained"]["NDCG@10"]
    assert d["diff"] == pytest.approx(res["mean"]["chord"]["NDCG@10"] - np.mean(pops))
