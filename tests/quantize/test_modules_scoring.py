"""Quantized item scoring: top-k of the packed item table equals the float64 reference top-k.

Ties: the kernel orders equal scores by smaller item id (``chord.mp_topk``); the oracle
``topk_reference`` applies the same rule. Exact ties arise from pruned rows (score exactly 0);
near-ties between float32 kernel scores and float64 oracle scores can swap places, so random
cases compare values and the oracle scores of the returned ids, and a constructed exact-tie
case compares ids.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from chord import Codebook, mp_topk
from chord.backends.reference import topk_reference
from chord.quantize import QuantizedEmbedding


def _table(N, K, seed, scheme="sym"):
    torch.manual_seed(seed)
    emb = nn.Embedding(N, K)
    return QuantizedEmbedding.from_float(emb, torch.randint(0, 4, (N,), dtype=torch.uint8), Codebook(scheme=scheme))


def _check(vals, ids, x, mw, k, candidates=None):
    rv, rid = topk_reference(x, mw, k, candidates)
    scale = rv.abs().max().clamp_min(1e-6)
    tol = 1e-5 * scale
    assert vals.shape == ids.shape == (x.shape[0], k)
    assert (vals.double() - rv).abs().max() <= tol  # same k-th best values
    table = mw.dequantize(torch.float64)
    own = torch.einsum("bd,bkd->bk", x.double(), table[ids])  # oracle scores of returned ids
    assert (own - vals.double()).abs().max() <= tol
    for row, _r in zip(ids, rid):
        assert row.unique().numel() == k
    if candidates is not None:
        cand = candidates.expand(x.shape[0], -1) if candidates.dim() == 1 else candidates
        assert all(set(i.tolist()) <= set(c.tolist()) for i, c in zip(ids, cand))


@pytest.mark.parametrize("N,K,B,k", [(1, 8, 1, 1), (257, 64, 3, 10), (1000, 33, 5, 50), (64, 16, 2, 64)])
@pytest.mark.parametrize("scheme", ["sym", "asym"])
def test_topk_all_items(N, K, B, k, scheme):
    q = _table(N, K, N + K, scheme)
    x = torch.randn(B, K)
    vals, ids = q.topk(x, k)
    _check(vals, ids, x, q.mw, k)


@pytest.mark.parametrize("shared", [True, False])
def test_topk_candidates(shared):
    q = _table(500, 48, 7)
    x = torch.randn(4, 48)
    cand = torch.randperm(500)[:100] if shared else torch.stack([torch.randperm(500)[:100] for _ in range(4)])
    vals, ids = q.topk(x, 10, cand)
    _check(vals, ids, x, q.mw, 10, cand)


def test_topk_exact_ties_smaller_id_first():
    torch.manual_seed(0)
    N, K = 40, 16
    emb = nn.Embedding(N, K)
    with torch.no_grad():
        emb.weight.copy_(-emb.weight.abs() - 0.1)  # every kept row scores < 0 for x > 0
    codes = torch.full((N,), 2, dtype=torch.uint8)
    pruned = torch.tensor([3, 5, 11, 17, 29, 31])
    codes[pruned] = 0  # these score exactly 0: a 6-way tie on top
    q = QuantizedEmbedding.from_float(emb, codes)
    x = torch.rand(2, K) + 0.5
    vals, ids = mp_topk(x, q.mw, 8)
    assert torch.equal(ids[:, :6], pruned.expand(2, -1))
    assert (vals[:, :6] == 0).all() and (vals[:, 6:] < 0).all()
    rv, rid = topk_reference(x, q.mw, 8)
    assert torch.equal(ids[:, :6], rid[:, :6])
