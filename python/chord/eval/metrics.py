"""Ranking metrics from ranks (RecBole style: the evaluator produces ranks, metrics read them).

A rank is 0-based: the number of candidates that beat the positive. Ties are pessimistic:
every other candidate whose score is >= the positive's counts as ranked above it, so a model
that outputs a constant scores rank C - 1, never 0.
"""

from __future__ import annotations

import torch

DEFAULT_KS = (5, 10, 20)


def ranks_from_scores(scores: torch.Tensor, pos_index: torch.Tensor | int = 0) -> torch.Tensor:
    """scores float [B, C], pos_index int64 [B] (or an int): column of each row's positive
    -> int64 [B] pessimistic 0-based rank. Candidates scored -inf never count unless the positive
    is -inf too; a NaN positive gets the worst rank C - 1."""
    if scores.dim() != 2:
        raise ValueError(f"scores: expected [B, C], got {list(scores.shape)}")
    B, C = scores.shape
    idx = torch.as_tensor(pos_index, dtype=torch.int64, device=scores.device).expand(B).view(B, 1)
    if int(idx.min()) < 0 or int(idx.max()) >= C:
        raise ValueError(f"pos_index: expected values in 0..{C - 1}, got {int(idx.min())}..{int(idx.max())}")
    pos = scores.gather(1, idx)
    rank = (scores >= pos).sum(1) - 1  # the positive itself is always >= itself
    return torch.where(torch.isnan(pos.view(B)), torch.full_like(rank, C - 1), rank)


def hit_rate(ranks: torch.Tensor, k: int) -> float:
    """HR@k: fraction of rows whose positive is in the top k."""
    return float((ranks < k).double().mean()) if ranks.numel() else float("nan")


def ndcg(ranks: torch.Tensor, k: int) -> float:
    """NDCG@k with one relevant item: mean of 1 / log2(rank + 2) over rows with rank < k."""
    if not ranks.numel():
        return float("nan")
    r = ranks.double()
    return float(torch.where(r < k, 1.0 / torch.log2(r + 2.0), torch.zeros_like(r)).mean())


def mrr(ranks: torch.Tensor) -> float:
    return float((1.0 / (ranks.double() + 1.0)).mean()) if ranks.numel() else float("nan")


def metrics_from_ranks(ranks: torch.Tensor, ks=DEFAULT_KS) -> dict[str, float]:
    """-> {"HR@k": .., "NDCG@k": .. for k in ks, "MRR": ..}."""
    out = {}
    for k in ks:
        out[f"HR@{k}"] = hit_rate(ranks, k)
    for k in ks:
        out[f"NDCG@{k}"] = ndcg(ranks, k)
    out["MRR"] = mrr(ranks)
    return out
