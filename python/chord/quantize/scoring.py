"""Quantized item scoring for swapped models: the top-k of user representations against a
mixed-precision item table.

The fast path is ``chord.scoring.mp_topk`` (C++ fused scoring + top-k, no [B, N] score
matrix; exact: the top-k of the float64 scores, see ``chord.scoring``). :func:`topk_reference` is the oracle tests compare against: float64 scores of the
dequantized table, then ``torch.topk``-style ordering with the same tie rule as the kernel
(descending score, equal scores -> smaller item id first).
"""
from __future__ import annotations

import torch

from ..mixed_weight import MixedWeight

try:
    from ..scoring import mp_topk
except ImportError:  # pragma: no cover - only while chord.scoring is absent from a checkout
    def mp_topk(x, mw, k, candidates=None, act_bits=0):
        """Fallback: full float32 scores (``mp_linear``) + the reference ordering."""
        from ..linear import mp_linear
        scores = mp_linear(x, mw, None, act_bits).to(torch.float64)
        ids = torch.arange(mw.N, device=x.device).expand(x.shape[0], -1)
        if candidates is not None:
            ids = candidates.long().expand(x.shape[0], -1) if candidates.dim() == 1 else candidates.long()
            scores = scores.gather(1, ids)
        vals, order = _order(scores, ids, k)
        return vals.to(torch.float32), order

__all__ = ["mp_topk", "topk_reference"]


def topk_reference(x: torch.Tensor, mw: MixedWeight, k: int, candidates: torch.Tensor | None = None):
    """float64 oracle: (scores float64 [B, k], ids int64 [B, k]); x [B, K]; candidates None,
    int [C] (shared) or int [B, C]."""
    table = mw.dequantize(torch.float64)
    scores = x.to(torch.float64) @ table.T                                 # [B, N]
    ids = torch.arange(mw.N).expand(x.shape[0], -1)
    if candidates is not None:
        cand = candidates.long()
        ids = cand.expand(x.shape[0], -1) if cand.dim() == 1 else cand
        scores = scores.gather(1, ids)
    return _order(scores, ids, k)


def _order(scores, ids, k):
    """Top-k by descending score, equal scores -> smaller id first."""
    by_id = torch.argsort(ids, dim=1, stable=True)
    scores, ids = scores.gather(1, by_id), ids.gather(1, by_id)
    order = torch.argsort(-scores, dim=1, stable=True)[:, :k]
    return scores.gather(1, order), ids.gather(1, order)
