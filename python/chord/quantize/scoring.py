"""Quantized item scoring: scores of user representations against a mixed-precision item
table, and their top-k.

``mp_topk`` dispatches to the fused C++ kernel ``chord.scoring.mp_topk`` (scores candidates
block by block, keeps a running top-k, never materializes the [B, num_items] score matrix) when
it is available, else to :func:`mp_topk_reference` (full scores + ``torch.topk``).

Ties: values are exact float32 scores; among equal scores the order of ids is
implementation-defined (``torch.topk`` for the reference). Pruned rows score exactly 0, so
they tie with each other: tests compare values, and ids only through the scores they have.
"""
from __future__ import annotations

import torch

from ..linear import mp_linear
from ..mixed_weight import MixedWeight


def _check(x, mw, k, candidates):
    if not isinstance(mw, MixedWeight):
        raise TypeError(f"mw: expected chord.MixedWeight, got {type(mw).__name__}")
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != mw.K:
        got = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x: expected [B, {mw.K}] user representations, got {got}")
    n = mw.N if candidates is None else candidates.shape[-1]
    if not isinstance(k, int) or not 1 <= k <= n:
        raise ValueError(f"k: expected an int in 1..{n} (items scored), got {k!r}")
    if candidates is not None:
        if candidates.dtype not in (torch.int64, torch.int32) or candidates.dim() not in (1, 2):
            raise ValueError(f"candidates: expected int64 [C] or [B, C] item ids, got {candidates.dtype} {list(candidates.shape)}")
        if candidates.dim() == 2 and candidates.shape[0] != x.shape[0]:
            raise ValueError(f"candidates: expected {x.shape[0]} rows (one per user), got {candidates.shape[0]}")


def mp_topk_reference(x: torch.Tensor, mw: MixedWeight, k: int, candidates: torch.Tensor | None = None,
                      act_bits: int = 0):
    """x float [B, K]; candidates None (all N rows), int64 [C] (shared) or [B, C] ->
    (scores float32 [B, k] descending, ids int64 [B, k] item rows of ``mw``)."""
    _check(x, mw, k, candidates)
    scores = mp_linear(x.to(torch.float32), mw, None, act_bits)          # [B, N]
    if candidates is None:
        return torch.topk(scores, k, dim=1)
    cand = candidates.long()
    if cand.dim() == 1:
        cand = cand.expand(x.shape[0], -1)
    vals, pos = torch.topk(scores.gather(1, cand), k, dim=1)
    return vals, cand.gather(1, pos)


def mp_topk(x: torch.Tensor, mw: MixedWeight, k: int, candidates: torch.Tensor | None = None, act_bits: int = 0):
    """(scores float32 [B, k], ids int64 [B, k]): the top-k of ``x @ mw.dequantize().T`` over all
    rows or over ``candidates``. Fused C++ kernel when built, else the reference."""
    fused = _fused()
    if fused is not None:
        return fused(x, mw, k, candidates=candidates, act_bits=act_bits)
    return mp_topk_reference(x, mw, k, candidates, act_bits)


def _fused():
    try:
        from ..scoring import mp_topk as fused  # chord.scoring: the C++ fused scorer
    except ImportError:
        return None
    return fused
