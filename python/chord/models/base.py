"""What every chord model exposes, so trainer, evaluator and the quantization helpers can
treat SASRec and Caser alike (RecBole style: models only compute scores).

- ``model(seqs, users=None) -> user_repr`` float [B, d]: ``seqs`` int64 [B, l] left-padded item
  ids (0 = padding, the most recent item last); ``users`` int64 [B] (used by Caser only).
- ``model.score(user_repr, item_ids=None)``: None -> float [B, num_items + 1] where column i is
  item i (column 0 is the padding item: callers mask it); ``item_ids`` int64 [B, C] -> [B, C].
- ``model.item_emb``: the ``nn.Embedding`` [num_items + 1, d] (row 0 = padding) used for the
  input and, by default, for scoring (tied). ``model.out_emb`` / ``model.out_bias`` are None then;
  a model with an untied output (Caser ``head="untied"``) sets them to ``nn.Embedding``
  [num_items + 1, repr_dim] / [num_items + 1, 1] and ``score`` uses them instead. Code that
  relies on tied scoring (the fused runtime, the packed-table scoring path) checks
  ``out_emb is None``.
- ``model.config``: plain dict; ``build_model(config)`` rebuilds the same architecture.
"""

from __future__ import annotations

import torch
from torch import nn


def check_choice(name: str, value: object, choices: tuple | list) -> None:
    """ValueError naming the argument ``name`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")


def model_config(model: str, fields: dict, optional: dict[str, tuple]) -> dict:
    """A model's ``config`` (what ``build_model`` rebuilds it from): its name, ``fields``, then each
    ``optional`` {name: (value, default)} only where the value differs from the default, so the
    configs of checkpoints written before an option existed stay as they were."""
    return {"model": model, **fields, **{k: v for k, (v, default) in optional.items() if v != default}}


class SequentialRecommender(nn.Module):
    """Base class: item scoring shared by SASRec and Caser (tied item embedding, or the untied
    output table + item bias when a subclass sets ``out_emb`` / ``out_bias``)."""

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
        self.out_emb: nn.Module | None = None  # untied output table (None: score with item_emb)
        self.out_bias: nn.Module | None = None  # its item bias [num_items + 1, 1]

    def score(self, user_repr: torch.Tensor, item_ids: torch.Tensor | None = None) -> torch.Tensor:
        """user_repr float [B, d] -> scores [B, num_items + 1] (None) or [B, C] for item_ids [B, C]."""
        if self.out_emb is not None:
            return self._score_untied(user_repr, item_ids)
        if item_ids is None:
            return user_repr @ self.item_emb.weight.t()
        cand = self.item_emb(item_ids)  # [B, C, d]
        return torch.einsum("bd,bcd->bc", user_repr, cand)

    def chord_modules_swapped(self) -> None:
        """Hook called by ``chord.quantize_`` / ``dequantize_`` after swapping modules. With the
        default tied scoring and a quantized item table (a module with its own ``score``), route
        ``score`` to the table, which scores against the packed rows (``mp_linear`` / fused top-k)
        instead of dequantizing them; otherwise restore the class's ``score``. A subclass that
        overrides ``score`` keeps it (it reads ``item_emb`` through the module interface)."""
        self.__dict__.pop("score", None)
        table_score = getattr(self.item_emb, "score", None)
        if callable(table_score) and type(self).score is SequentialRecommender.score and self.out_emb is None:
            self.__dict__["score"] = table_score

    def _score_untied(self, user_repr, item_ids):
        if item_ids is None:  # through the module interface, so a swapped (quantized) table works too
            ids = torch.arange(self.num_items + 1, device=user_repr.device)
            w = self.out_emb.weight if isinstance(self.out_emb, nn.Embedding) else self.out_emb(ids)
            b = self.out_bias.weight if isinstance(self.out_bias, nn.Embedding) else self.out_bias(ids)
            return torch.addmm(b.view(1, -1), user_repr, w.t())
        cand = self.out_emb(item_ids)  # [B, C, repr_dim]
        return torch.einsum("bd,bcd->bc", user_repr, cand) + self.out_bias(item_ids).squeeze(-1)

    def check_seqs(self, seqs: torch.Tensor) -> None:
        if not isinstance(seqs, torch.Tensor) or seqs.dim() != 2 or seqs.dtype != torch.int64:
            got = f"{seqs.dtype} {list(seqs.shape)}" if isinstance(seqs, torch.Tensor) else type(seqs).__name__
            raise ValueError(f"seqs: expected an int64 tensor [B, l] of item ids, got {got}")
