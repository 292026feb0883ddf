"""The personalization measures: zero for one shared strategy, high for independent random codes."""

import pytest
import torch

from chord.experiments.personalization import personalization


def test_shared_strategy_scores_zero_and_random_codes_score_high():
    torch.manual_seed(0)
    one = torch.randint(0, 4, (1, 50)).expand(30, -1)
    p = personalization(one)
    assert p["varying_channels"] == 0 and p["code_entropy_bits"] == 0 and p["pairwise_disagreement"] == 0
    assert p["distinct_fraction"] == pytest.approx(1 / 30)
    rnd = personalization(torch.randint(0, 4, (400, 50)))
    assert rnd["varying_channels"] == 1 and rnd["distinct_fraction"] == 1
    assert 1.9 < rnd["code_entropy_bits"] <= 2 and 0.7 < rnd["pairwise_disagreement"] <= 0.75


def test_exact_values_and_size_weighting():
    codes = torch.tensor([[0, 1, 3], [0, 2, 3], [0, 1, 3], [0, 2, 3]])
    p = personalization(codes, torch.tensor([1.0, 3.0, 4.0]))
    assert p["varying_channels"] == pytest.approx(1 / 3)
    assert p["varying_weights"] == pytest.approx(3 / 8)
    assert p["code_entropy_bits"] == pytest.approx(1 / 3)  # one channel at 1 bit
    assert p["pairwise_disagreement"] == pytest.approx(0.5 / 3)
    assert p["distinct_fraction"] == pytest.approx(0.5)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="codes"):
        personalization(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="codes"):
        personalization(torch.full((2, 3), 4))
    with pytest.raises(ValueError, match="sizes"):
        personalization(torch.zeros(2, 3, dtype=torch.long), torch.ones(4))
