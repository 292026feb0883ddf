"""The on-device profiler: padding-invariant, last position, shared or own item table."""

import pytest
import torch
from torch import nn

from chord.system.device import Profiler


@pytest.mark.parametrize("extractor", ["gru", "mean"])
def test_left_padding_does_not_change_the_embedding(extractor):
    torch.manual_seed(0)
    p = Profiler(30, 8, d_item=6, hidden=10, extractor=extractor).eval()
    a = p(torch.tensor([[0, 0, 0, 4, 5, 6], [1, 2, 3, 4, 5, 6]]))
    b = p(torch.tensor([[4, 5, 6], [4, 5, 6]]))
    torch.testing.assert_close(a[0], b[0])
    assert not torch.allclose(a[1], b[1]), "older items must matter"
    assert a.shape == (2, 8) and torch.isfinite(a).all()


def test_gru_reads_the_most_recent_item_last_and_recent_window():
    torch.manual_seed(0)
    p = Profiler(30, 8, hidden=10, recent=3).eval()
    x = p(torch.tensor([[9, 9, 1, 2, 3]]))
    y = p(torch.tensor([[7, 7, 1, 2, 3]]))
    torch.testing.assert_close(x, y)  # only the 3 most recent items are read
    assert not torch.allclose(p(torch.tensor([[1, 2, 3]])), p(torch.tensor([[3, 2, 1]])))


def test_shared_table_is_not_a_profiler_parameter():
    emb = nn.Embedding(31, 6, padding_idx=0)
    p = Profiler(30, 8, item_emb=emb)
    assert all(t is not emb.weight for t in p.parameters())
    p(torch.tensor([[1, 2]])).sum().backward()
    assert emb.weight.grad is not None


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="extractor"):
        Profiler(3, extractor="lstm")
    with pytest.raises(ValueError, match="seqs"):
        Profiler(3)(torch.tensor([1.0, 2.0]))
