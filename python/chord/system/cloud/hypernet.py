"""The three cloud hypernetworks: user embedding -> element, filter and layer scores.

Each is its own small MLP (user embedding -> hidden -> scores): element-level emits one score
per weight element of every planned layer, filter-level one per output channel, layer-level one
per layer. Output heads start near zero so that, before training, every channel looks equally
important and the budget alone sets the tiers.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from chord.quantize.layers import LayerInfo


class ScoreNet(nn.Module):
    """MLP: float [B, d_user] -> float [B, out]."""

    def __init__(self, d_user: int, hidden: int, out: int, init_std: float = 1e-2):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(d_user, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU())
        self.head = nn.Linear(hidden, out)
        nn.init.normal_(self.head.weight, std=init_std)
        nn.init.zeros_(self.head.bias)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(u))


class HyperNetworks(nn.Module):
    """Element-, filter- and layer-level hypernetworks over ``specs``.

    forward(u float [B, d_user]) -> (element scores: list of [B, C_l, K_l], filter scores: list of
    [B, C_l], layer scores [B, L]). A level switched off returns None in its place.

    element_rank: 0 = a direct head with one output per weight element; r > 0 = the element
    scores of layer l are the product of two emitted factors [C_l, r] x [r, K_l] (still one
    score per element, r * (C_l + K_l) outputs instead of C_l * K_l: the head is 5-20x smaller
    for SASRec/Caser layers, which dominates the cost of a training step on CPU).
    """

    def __init__(
        self,
        specs: list[LayerInfo],
        d_user: int,
        hidden: int = 128,
        element: bool = True,
        filter: bool = True,  # noqa: A002 - the method's level names
        layer: bool = True,
        element_rank: int = 8,
    ):
        super().__init__()
        self.specs = list(specs)
        if element_rank < 0:
            raise ValueError(f"element_rank: expected >= 0, got {element_rank}")
        self.element_rank = int(element_rank)
        r = self.element_rank
        self._elem_sizes = (
            [s.numel for s in specs] if r == 0 else [n for s in specs for n in (s.channels * r, r * s.elems)]
        )
        self.element = (
            ScoreNet(d_user, hidden, sum(self._elem_sizes), init_std=1e-2 if r == 0 else 0.3) if element else None
        )
        self.filter = ScoreNet(d_user, hidden, sum(s.channels for s in specs)) if filter else None
        self.layer = ScoreNet(d_user, hidden, len(specs)) if layer else None

    def forward(
        self, u: torch.Tensor, element_reduce: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> tuple[list[torch.Tensor] | None, list[torch.Tensor] | None, torch.Tensor | None]:
        """element_reduce: None, or a function (element scores [B, C_l, K_l] -> [B, C_l]) applied
        layer by layer (inference only, no autograd): the element output is then the list of its
        results, computed through one reused scratch buffer instead of holding every layer's
        [B, C_l, K_l] scores at once. The function may overwrite its argument."""
        if u.dim() != 2:
            raise ValueError(f"u: expected user embeddings [B, d_user], got shape {list(u.shape)}")
        B = u.shape[0]
        elem = filt = lay = None
        if self.element is not None:
            # torch.split, not slicing: its backward concatenates instead of zero-filling a
            # full-size gradient per layer
            parts = torch.split(self.element(u), self._elem_sizes, dim=1)
            r = self.element_rank
            if element_reduce is not None:
                if torch.is_grad_enabled():
                    raise RuntimeError("element_reduce: inference only (call under torch.no_grad())")
                elem = self._reduced_elements(parts, B, element_reduce)
            elif r == 0:
                elem = [p.reshape(B, s.channels, s.elems) for p, s in zip(parts, self.specs)]
            else:
                elem = [
                    torch.bmm(a.reshape(B, s.channels, r), b.reshape(B, r, s.elems)) / r**0.5
                    for a, b, s in zip(parts[0::2], parts[1::2], self.specs)
                ]
        if self.filter is not None:
            filt = list(torch.split(self.filter(u), [s.channels for s in self.specs], dim=1))
        if self.layer is not None:
            lay = self.layer(u)
        return elem, filt, lay

    def _reduced_elements(self, parts, B: int, reduce) -> list[torch.Tensor]:
        """Per layer: element scores (the same arithmetic as ``forward``) -> ``reduce`` -> [B, C_l]."""
        r = self.element_rank
        if r == 0:  # the scores are views of the head's output: reduce them as they are
            return [reduce(p.reshape(B, s.channels, s.elems).contiguous()) for p, s in zip(parts, self.specs)]
        # one scratch buffer for every layer's product: a fresh [B, C, K] per layer costs page
        # faults (glibc hands buffers this large out by mmap) as much as the product itself
        scratch = torch.empty(B * max(s.numel for s in self.specs), dtype=parts[0].dtype, device=parts[0].device)
        out = []
        for a, b, s in zip(parts[0::2], parts[1::2], self.specs):
            e = scratch[: B * s.numel].view(B, s.channels, s.elems)
            torch.bmm(a.reshape(B, s.channels, r), b.reshape(B, r, s.elems), out=e)
            out.append(reduce(e.div_(r**0.5)))
        return out
