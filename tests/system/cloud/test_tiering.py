"""Rank tiers: budgets are met, ranks respected, scopes and allowed codes honoured."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from chord.codebook import Codebook
from chord.system.cloud.tiering import allowed_widths, codes_avg_bits, ordinal_probs, solve_offsets, tier_codes

CB = Codebook.default()


def _widths(codes):
    return torch.tensor(CB.bits)[codes]


@settings(max_examples=40, deadline=None)
@given(B=st.integers(1, 4), N=st.integers(2, 60), budget=st.floats(0.0, 8.0), seed=st.integers(0, 2**31 - 1))
def test_global_budget_met_and_rank_monotone(B, N, budget, seed):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(B, N, generator=g) * 3
    sizes = torch.randint(1, 50, (N,), generator=g).float()
    codes = tier_codes(t, sizes, budget, CB)
    ab = codes_avg_bits(codes, sizes, CB)
    assert bool((ab <= budget + 1e-4).all())
    # never more than one channel's upgrade below the budget (8 bits x the largest channel)
    assert bool((ab >= budget - 8 * sizes.max() / sizes.sum() - 1e-4).all())
    w = _widths(codes)
    order = torch.argsort(t, dim=1)
    ws = torch.gather(w, 1, order)
    assert bool((ws[:, 1:] >= ws[:, :-1]).all()), "a more important channel got fewer bits"


def test_per_layer_scope_meets_budget_in_every_layer():
    torch.manual_seed(0)
    t = torch.randn(3, 30) * 2
    sizes = torch.ones(30) * 16
    groups = torch.repeat_interleave(torch.arange(3), 10)
    codes = tier_codes(t, sizes, 3.0, CB, groups=groups, num_groups=3)
    for l in range(3):
        ab = codes_avg_bits(codes[:, l * 10 : (l + 1) * 10], sizes[:10], CB)
        assert bool((ab <= 3.0 + 1e-4).all()) and bool((ab >= 3.0 - 8 / 10 - 1e-4).all())


def test_allowed_codes_only_and_per_user_budgets():
    torch.manual_seed(1)
    t = torch.randn(2, 64)
    sizes = torch.full((64,), 8.0)
    codes = tier_codes(t, sizes, 3.0, CB, codes=(0, 3))
    assert set(codes.unique().tolist()) <= {0, 3}
    codes = tier_codes(t, sizes, torch.tensor([2.0, 6.0]), CB)
    ab = codes_avg_bits(codes, sizes, CB)
    assert abs(float(ab[0]) - 2.0) < 0.2 and abs(float(ab[1]) - 6.0) < 0.2


def test_budget_below_narrowest_width_is_rejected():
    with pytest.raises(ValueError, match="budget"):
        tier_codes(torch.randn(1, 4), torch.ones(4), 1.0, CB, codes=(1, 2, 3))
    with pytest.raises(ValueError, match="codes"):
        allowed_widths(CB, (5,))


def test_ordinal_probs_are_distributions_and_peak_at_the_tier():
    _, w, thr = allowed_widths(CB)
    x = torch.tensor([-5.0, 2.0, 4.0, 9.0])
    p = ordinal_probs(x, thr, 0.1)
    assert torch.allclose(p.sum(-1), torch.ones(4))
    assert (p >= 0).all()
    assert p.argmax(-1).tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("distinct_sizes", [1, 3, 300], ids=["one-size", "few-sizes", "many-sizes"])
def test_sorted_search_gives_the_plain_bisection_offsets_bit_for_bit(distinct_sizes):
    """The planner's fast offset search (targets sorted once, per size group or with a
    permutation) against the plain bisection loop it replaces: the same float32 offsets, hence
    the same codes, on random targets with ties, per-user budgets and allowed-code subsets."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small ops: a thread pool on a busy machine only adds waiting
    try:
        _compare_offset_searches(distinct_sizes)
    finally:
        torch.set_num_threads(threads)


def _compare_offset_searches(distinct_sizes: int) -> None:
    for trial in range(24):
        g = torch.Generator().manual_seed(1000 * distinct_sizes + trial)
        B = int(torch.randint(1, 40, (1,), generator=g))
        N = int(torch.randint(1, 500, (1,), generator=g))
        t = torch.randn(B, N, generator=g) * float(torch.rand(1, generator=g) * 6 + 0.01)
        if trial % 3 == 0:
            t = (t * 2).round() / 2  # many exact ties
        if trial % 5 == 0:
            t[:, : N // 2] = t[:, :1]
        sizes = torch.randint(1, 300, (distinct_sizes,), generator=g).float()[
            torch.randint(0, distinct_sizes, (N,), generator=g)
        ]
        order, widths, thr = allowed_widths(CB, [None, (0, 3), (1, 2, 3), (0, 2)][trial % 4])
        budget = torch.rand(B, generator=g) * (widths[-1] - widths[0]) + widths[0]
        fast = solve_offsets(t, sizes, budget, widths, thr)
        plain = solve_offsets(t, sizes, budget, widths, thr, sorted_search=False)
        assert torch.equal(fast, plain), f"trial {trial}: offsets differ by {float((fast - plain).abs().max())}"
        assert torch.equal(
            tier_codes(t, sizes, budget, CB, order.tolist()), order[torch.bucketize(t + plain, thr, right=True)]
        )
