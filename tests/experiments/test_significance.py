"""Paired bootstrap CIs (chord.experiments.significance) against hand-computed cases."""

import math

import numpy as np
import pytest
import torch

from chord.eval.metrics import metrics_from_ranks
from chord.experiments.significance import compare, format_ci, paired_bootstrap, per_user


def test_per_user_metrics_by_hand():
    ranks = [0, 1, 9, 10, 500]
    assert per_user(ranks, "HR@10").tolist() == [1, 1, 1, 0, 0]
    nd = per_user(ranks, "NDCG@10")
    assert nd[0] == 1.0
    assert nd[1] == pytest.approx(1 / math.log2(3))
    assert nd[2] == pytest.approx(1 / math.log2(11))
    assert nd[3] == 0.0 and nd[4] == 0.0
    with pytest.raises(ValueError, match="metric"):
        per_user(ranks, "MRR")


def test_per_user_mean_equals_metrics_from_ranks():
    r = torch.randint(0, 40, (300,), generator=torch.Generator().manual_seed(1))
    m = metrics_from_ranks(r, (10,))
    assert per_user(r.numpy(), "HR@10").mean() == pytest.approx(m["HR@10"])
    assert per_user(r.numpy(), "NDCG@10").mean() == pytest.approx(m["NDCG@10"])


def test_constant_difference_has_a_point_interval():
    a = np.array([0.5, 0.2, 0.9, 0.1])
    r = paired_bootstrap(a + 0.25, a, resamples=200)
    assert r["diff"] == pytest.approx(0.25)
    assert r["lo"] == pytest.approx(0.25) and r["hi"] == pytest.approx(0.25)
    assert r["significant"]


def test_two_users_by_hand():
    # d = (1, 0): a resample's mean is 0, 0.5 or 1 with probability 1/4, 1/2, 1/4, so the
    # 2.5 / 97.5 percentiles of 1000 resamples are 0 and 1, and the interval includes 0
    r = paired_bootstrap([1.0, 0.0], [0.0, 0.0], resamples=1000, seed=3)
    assert r["diff"] == 0.5
    assert (r["lo"], r["hi"]) == (0.0, 1.0)
    assert not r["significant"]


def test_pairing_removes_the_shared_user_effect():
    # users differ a lot, b is a + 0.01 on every user: unpaired this would be noise, paired it is exact
    rng = np.random.default_rng(0)
    a = rng.random(500)
    r = paired_bootstrap(a, a + 0.01)
    assert r["hi"] == pytest.approx(-0.01) and r["significant"]


def test_interval_matches_the_normal_approximation_and_is_seeded():
    rng = np.random.default_rng(7)
    d = rng.choice([-1.0, 0.0, 1.0], size=2000, p=[0.3, 0.4, 0.3])
    r = paired_bootstrap(d, np.zeros_like(d), resamples=2000, seed=5)
    half = 1.96 * d.std() / math.sqrt(d.size)
    assert (r["hi"] - r["lo"]) / 2 == pytest.approx(half, rel=0.1)
    assert r["lo"] < r["diff"] < r["hi"]
    assert paired_bootstrap(d, np.zeros_like(d), resamples=2000, seed=5) == r
    assert paired_bootstrap(d, np.zeros_like(d), resamples=2000, seed=6) != r


def test_compare_and_format():
    ranks = {"chord": np.array([0, 0, 20, 20]), "ptq2": np.array([20, 20, 20, 20])}
    out = compare(ranks, "chord", ["chord", "ptq2", "missing"], resamples=100)
    assert list(out) == ["ptq2"]
    assert out["ptq2"]["HR@10"]["diff"] == 0.5
    assert out["ptq2"]["NDCG@10"]["diff"] == 0.5
    assert format_ci({"diff": 0.5, "lo": 0.25, "hi": 1.0, "significant": True}) == "+0.5000 [+0.2500, +1.0000]*"
    with pytest.raises(KeyError, match="reference"):
        compare(ranks, "nope", ["ptq2"])
    with pytest.raises(ValueError, match="a, b"):
        paired_bootstrap([1.0, 2.0], [1.0])
