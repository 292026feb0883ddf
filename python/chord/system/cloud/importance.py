"""Combining element, filter and layer scores into one importance per output channel.

Default (docs/method.md §3): importance = mean_k sigmoid(element score) over the channel's elements
x sigmoid(filter score) x layer weight, with the layer weight sigmoid(layer score). Computed in
log space (a sum of log terms), which ranks identically and feeds the bit targets directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

ELEMENT_REDUCE = ("mean_sigmoid", "mean_logsigmoid", "none")
LAYER_WEIGHT = ("sigmoid", "softmax", "none")


@dataclass(frozen=True)
class Combination:
    """How the three levels combine (all configurable; defaults follow docs/method.md)."""

    element: str = "mean_sigmoid"  # one of ELEMENT_REDUCE
    use_filter: bool = True
    layer: str = "sigmoid"  # one of LAYER_WEIGHT

    def __post_init__(self):
        if self.element not in ELEMENT_REDUCE:
            raise ValueError(f"Combination.element: expected one of {ELEMENT_REDUCE}, got {self.element!r}")
        if self.layer not in LAYER_WEIGHT:
            raise ValueError(f"Combination.layer: expected one of {LAYER_WEIGHT}, got {self.layer!r}")


def element_term(e: torch.Tensor, comb: Combination, *, inplace: bool = False) -> torch.Tensor:
    """One layer's element scores float [B, C, K] -> its log-space term float [B, C] (natural log).
    inplace: may overwrite ``e`` (inference; the same values as without)."""
    if comb.element == "mean_sigmoid":
        s = torch.sigmoid_(e) if inplace else torch.sigmoid(e)
        return torch.log(s.mean(-1).clamp_min(1e-12))
    return F.logsigmoid(e).mean(-1)


def log_importance(
    elem: list[torch.Tensor] | None,
    filt: list[torch.Tensor] | None,
    lay: torch.Tensor | None,
    comb: Combination,
    channels: list[int],
    *,
    elem_reduced: bool = False,
) -> torch.Tensor:
    """Scores (see ``HyperNetworks.forward``) -> log2 importance float [B, sum C] (<= 0 for the
    default, whose importance lies in (0, 1]). elem_reduced: ``elem`` already holds each layer's
    :func:`element_term` [B, C_l] (``HyperNetworks.forward`` with ``element_reduce``)."""
    parts = []
    L = len(channels)
    if comb.layer == "softmax" and lay is not None:
        lw = F.log_softmax(lay, -1) + math.log(L)  # mean weight 1 across layers
    elif comb.layer == "sigmoid" and lay is not None:
        lw = F.logsigmoid(lay)
    else:
        lw = None
    B = next(t for t in (elem[0] if elem else None, filt[0] if filt else None, lay) if t is not None).shape[0]
    for i, C in enumerate(channels):
        term = torch.zeros(B, C, device=(lay if lay is not None else (filt or elem)[0]).device)
        if elem is not None and comb.element != "none":
            term = term + (elem[i] if elem_reduced else element_term(elem[i], comb))
        if filt is not None and comb.use_filter:
            term = term + F.logsigmoid(filt[i])
        if lw is not None:
            term = term + lw[:, i : i + 1]
        parts.append(term)
    return torch.cat(parts, -1) / math.log(2.0)
