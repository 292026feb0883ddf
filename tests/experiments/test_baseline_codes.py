"""Baseline codes: the fast per-user random codes equal ``Strategy.random`` exactly."""

import pytest
import torch

from chord.codebook import Codebook
from chord.experiments import baseline_codes as bl
from chord.quantize.strategy import Strategy
from chord.system.cloud import channel_elems, codes_avg_bits
from tests.helpers import layer

SPECS = [layer("conv", "conv2d", (5, 1, 3, 7)), layer("a", "linear", (16, 12)), layer("b", "linear", (9, 40))]


@pytest.mark.parametrize("budget", [2.0, 2.5, 3.0, 6.0])
def test_random_codes_equal_strategy_random(budget):
    rc = bl.RandomCodes(SPECS, budget, 7, seed=3)
    sizes = {s.name: (s.channels, s.elems) for s in SPECS}
    for u in range(7):
        ref = bl.flat_codes(Strategy.random(sizes, budget, seed=3 * 1_000_003 + u), SPECS)
        assert torch.equal(rc.table[u], ref), u
    assert not torch.equal(rc.table[0], rc.table[1])
    assert torch.equal(rc(None, torch.tensor([4, 2])), rc.table[[4, 2]])
    bits = codes_avg_bits(rc.table, channel_elems(SPECS), Codebook.default())
    assert (bits <= budget + 40 * 8 / sum(s.numel for s in SPECS)).all()  # within one channel
    with pytest.raises(ValueError, match="budget"):
        bl.RandomCodes(SPECS, 9.0, 2)
