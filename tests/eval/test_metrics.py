"""Metric functions against hand-computed cases (ties, positive not first)."""

from __future__ import annotations

import math

import pytest
import torch

from chord.eval.metrics import hit_rate, metrics_from_ranks, ndcg, ranks_from_scores


def test_rank_when_positive_is_not_first():
    scores = torch.tensor(
        [
            [0.1, 0.9, 0.5, 0.3],  # positive at column 2: only 0.9 beats it -> 1
            [0.8, 0.2, 0.1, 0.7],
        ]
    )  # positive at column 3: 0.8 beats it -> 1
    assert ranks_from_scores(scores, torch.tensor([2, 3])).tolist() == [1, 1]
    assert ranks_from_scores(scores, torch.tensor([1, 0])).tolist() == [0, 0]
    assert ranks_from_scores(scores, 0).tolist() == [3, 0]


def test_ties_are_pessimistic():
    scores = torch.tensor([[1.0, 1.0, 1.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    # row 0: positive at 1 ties with two others -> rank 2; row 1: constant scores -> worst rank 3
    assert ranks_from_scores(scores, torch.tensor([1, 2])).tolist() == [2, 3]


def test_minus_inf_candidates_never_count_and_nan_positive_is_worst():
    scores = torch.tensor([[float("-inf"), 0.5, float("-inf")], [float("nan"), 1.0, 2.0]])
    assert ranks_from_scores(scores, torch.tensor([1, 0])).tolist() == [0, 2]


def test_hand_computed_hr_and_ndcg():
    ranks = torch.tensor([0, 1, 4, 9, 30])
    assert hit_rate(ranks, 1) == pytest.approx(0.2)
    assert hit_rate(ranks, 5) == pytest.approx(0.6)
    assert hit_rate(ranks, 10) == pytest.approx(0.8)
    want10 = (1 + 1 / math.log2(3) + 1 / math.log2(6) + 1 / math.log2(11)) / 5
    assert ndcg(ranks, 10) == pytest.approx(want10)
    assert ndcg(ranks, 5) == pytest.approx((1 + 1 / math.log2(3) + 1 / math.log2(6)) / 5)
    m = metrics_from_ranks(ranks)
    assert list(m)[:6] == ["HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20"]
    assert m["NDCG@10"] == pytest.approx(want10)


def test_bad_arguments():
    with pytest.raises(ValueError, match="pos_index"):
        ranks_from_scores(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="scores"):
        ranks_from_scores(torch.zeros(3), 0)
