"""What every chord model exposes, so trainer, evaluator and the quantization helpers can
treat SASRec and Caser alike (RecBole style: models only compute scores).

- ``model(seqs, users=None) -> user_repr`` float [B, d]: ``seqs`` int64 [B, l] left-padded item
  ids (0 = padding, the most recent item last); ``users`` int64 [B] (used by Caser only).
- ``model.score(user_repr, item_ids=None)``: None -> float [B, num_items + 1] where column i is
  item i (column 0 is the padding item: callers mask it); ``item_ids`` int64 [B, C] -> [B, C].
- ``model.item_emb``: the one ``nn.Embedding`` [num_items + 1, d] (row 0 = padding) used for the
  input and for scoring (tied).
- ``model.config``: plain dict; ``build_model(config)`` rebuilds the same architecture.
"""
from __future__ import annotations

import torch
from torch import nn


class SequentialRecommender(nn.Module):
    """Base class: tied item-embedding scoring shared by SASRec and Caser."""

    #: "sequence": trained on every position of a sequence (``encode`` -> [B, l, d]);
    #: "window": trained on (last L items -> next T items) instances.
    training_style = "sequence"

    def __init__(self, num_items: int, dim: int):
        super().__init__()
        if num_items < 1:
            raise ValueError(f"num_items: expected >= 1, got {num_items}")
        if dim < 1:
            raise ValueError(f"dim: expected >= 1, got {dim}")
        self.num_items = int(num_items)
        self.dim = int(dim)
        self.item_emb = nn.Embedding(self.num_items + 1, self.dim, padding_idx=0)

    def score(self, user_repr: torch.Tensor, item_ids: torch.Tensor | None = None) -> torch.Tensor:
        """user_repr float [B, d] -> scores [B, num_items + 1] (None) or [B, C] for item_ids [B, C]."""
        if item_ids is None:
            return user_repr @ self.item_emb.weight.t()
        cand = self.item_emb(item_ids)                         # [B, C, d]
        return torch.einsum("bd,bcd->bc", user_repr, cand)

    def check_seqs(self, seqs: torch.Tensor) -> None:
        if not isinstance(seqs, torch.Tensor) or seqs.dim() != 2 or seqs.dtype != torch.int64:
            got = f"{seqs.dtype} {list(seqs.shape)}" if isinstance(seqs, torch.Tensor) else type(seqs).__name__
            raise ValueError(f"seqs: expected an int64 tensor [B, l] of item ids, got {got}")
