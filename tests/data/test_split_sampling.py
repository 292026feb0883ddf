"""Leave-one-out split and negative-sampler invariants."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chord.data import LeaveOneOut, NegativeSampler, SequenceDataset, pad_left


def make(seqs, num_items=None):
    items = np.concatenate([np.array(s) for s in seqs])
    off = np.concatenate([[0], np.cumsum([len(s) for s in seqs])])
    return SequenceDataset("t", num_items or int(items.max()), items, off)


def test_leave_one_out_targets_histories_and_short_users():
    ds = make([[1, 2, 3, 4, 5], [6, 7], [8, 9, 10]])
    s = LeaveOneOut(ds, min_len=3)
    assert s.eval_users.tolist() == [0, 2]  # user 1 (2 items) is train-only
    assert s.targets("test").tolist() == [5, 10] and s.targets("valid").tolist() == [4, 9]
    assert s.history("test", 4).tolist() == [[1, 2, 3, 4], [0, 0, 8, 9]]
    assert s.history("valid", 2).tolist() == [[2, 3], [0, 8]]
    off, it = s.history_csr("test")
    assert off.tolist() == [0, 4, 6] and it.tolist() == [1, 2, 3, 4, 8, 9]
    toff, titems = s.train_csr()
    assert toff.tolist() == [0, 3, 5, 6] and titems.tolist() == [1, 2, 3, 6, 7, 8]
    users, x, y = s.sequence_matrices(3)
    # user 2's training part is [8] (< 2 items): dropped; user 1 trains on its whole sequence
    assert users.tolist() == [0, 1]
    assert x.tolist() == [[0, 1, 2], [0, 0, 6]] and y.tolist() == [[0, 2, 3], [0, 0, 7]]
    u, wx, wy = s.window_matrices(2, targets=2)
    assert u.tolist() == [0, 0, 1]
    assert wx.tolist() == [[0, 1], [1, 2], [0, 6]] and wy.tolist() == [[2, 3], [3, 0], [7, 0]]
    with pytest.raises(ValueError, match="min_len"):
        LeaveOneOut(ds, min_len=2)


def test_all_positions_chunks_cover_every_training_target_once():
    ds = make([list(range(1, 12)), [20, 21, 22, 23]])  # training parts: 1..9 and 20, 21
    s = LeaveOneOut(ds)
    users, x, y = s.sequence_matrices(3, all_positions=True)
    assert users.tolist() == [0, 0, 0, 1]
    assert y.tolist() == [[7, 8, 9], [4, 5, 6], [0, 2, 3], [0, 0, 21]]
    assert x.tolist() == [[6, 7, 8], [3, 4, 5], [0, 1, 2], [0, 0, 20]]
    _, _, y_last = s.sequence_matrices(3)
    assert y_last.tolist() == [[7, 8, 9], [0, 0, 21]]


def test_no_target_leaks_into_training_on_random_data():
    rng = np.random.default_rng(0)
    seqs = [rng.permutation(np.arange(1, 60))[: rng.integers(1, 30)] for _ in range(200)]
    ds = make(seqs, 59)
    s = LeaveOneOut(ds)
    _, x, y = s.sequence_matrices(50)
    for row, u in enumerate(s.sequence_matrices(50)[0].tolist()):
        seq = seqs[u].tolist()
        train = seq[:-2] if len(seq) >= 3 else seq
        assert [v for v in x[row].tolist() if v] == train[:-1][-50:]
        assert [v for v in y[row].tolist() if v] == train[1:][-50:]


def test_pad_left_truncates_to_the_most_recent():
    items = np.arange(1, 11)
    assert pad_left(items, np.array([0, 8]), np.array([10, 10]), 3).tolist() == [[8, 9, 10], [0, 9, 10]]


@pytest.fixture
def sampler_setup():
    rng = np.random.default_rng(1)
    seqs = [rng.choice(np.arange(1, 121), size=rng.integers(1, 100), replace=True) for _ in range(64)]
    ds = make(seqs, 120)
    return seqs, NegativeSampler(ds.offsets, ds.items, 120)


def test_sample_unique_excludes_history_no_duplicates_and_is_seeded(sampler_setup):
    seqs, smp = sampler_setup
    users = torch.arange(64)
    need = min(20, min(120 - len(set(s.tolist())) for s in seqs))
    a = smp.sample_unique(users, need, torch.Generator().manual_seed(3))
    b = smp.sample_unique(users, need, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    for u, row in enumerate(a.tolist()):
        assert len(set(row)) == need and not set(row) & set(seqs[u].tolist())
        assert all(1 <= v <= 120 for v in row)


def test_sample_unique_fills_when_almost_nothing_is_left():
    ds = make([list(range(1, 98))], 100)  # only 98, 99, 100 left
    smp = NegativeSampler(ds.offsets, ds.items, 100)
    out = smp.sample_unique(torch.tensor([0]), 3, torch.Generator().manual_seed(0))
    assert sorted(out[0].tolist()) == [98, 99, 100]
    with pytest.raises(ValueError, match="only 3 items"):
        smp.sample_unique(torch.tensor([0]), 4)
    out = smp.sample_unique(torch.tensor([0]), 2, exclude=torch.tensor([99]))
    assert sorted(out[0].tolist()) == [98, 100]


def test_sample_training_negatives_exclude_user_items(sampler_setup):
    seqs, smp = sampler_setup
    users = torch.arange(64)
    neg = smp.sample(users, (7, 3), torch.Generator().manual_seed(0))
    assert neg.shape == (64, 7, 3)
    for u in range(64):
        assert not set(neg[u].flatten().tolist()) & set(seqs[u].tolist())
    assert smp.contains(users, torch.tensor(seqs[0][:1]).expand(64, 1))[0, 0]
