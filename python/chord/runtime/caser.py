"""Fused Caser inference (csrc/runtime/runtime_caser.*): ``compile_caser(model) -> FusedCaser``.

Reads the vertical filter and every horizontal filter (``nn.Conv2d`` or
``MixedPrecisionConv2d``, as the linear map over their im2col rows), ``fc1`` / ``fc2``
(``nn.Linear`` or ``MixedPrecisionLinear``) and the item / user tables (``nn.Embedding`` or
``QuantizedEmbedding``). Exactly ``model(seqs, users)`` in eval mode up to float32 rounding
order; packed layers run the same ``chord::mp_linear`` kernel as the swapped modules.
"""

from __future__ import annotations

import torch

from ..models.base import SequentialRecommender
from ..models.caser import Caser
from .base import FusedRunner, Watch, _cpu, check_hooks, conv_spec, fail, linear_spec, table_spec


def _spec(model: Caser, w: Watch) -> dict:
    cls = type(model)
    if cls.forward is not Caser.forward:
        fail(f"model: {cls.__name__}.forward overrides Caser.forward; the fused runtime computes Caser's")
    if cls.score is not SequentialRecommender.score:
        fail(f"model: {cls.__name__}.score overrides the tied-embedding score")
    if model.out_emb is not None:
        fail(
            f"model: Caser head={model.head!r} scores against a separate output table + item bias; "
            "the fused runtime runs the tied-embedding head only (head='fc2')"
        )
    if model.training:
        fail("model: in training mode (dropout would be active); call model.eval() first")
    check_hooks(model)
    spec = {
        "config": {
            "num_items": model.num_items,
            "dim": model.dim,
            "L": model.L,
            "n_v": model.n_v,
            "n_h": model.n_h,
            "num_users": model.num_users,
        },
        "item_emb": table_spec(w, model, "item_emb"),
        "conv_h": [conv_spec(w, model.conv_h, str(i), f"conv_h.{i}") for i in range(len(model.conv_h))],
        "fc1": linear_spec(w, model, "fc1", "fc1"),
    }
    w.module(model, "conv_h")
    if model.n_v:
        spec["conv_v"] = conv_spec(w, model, "conv_v", "conv_v")
    if model.num_users:
        spec["user_emb"] = table_spec(w, model, "user_emb")
        spec["fc2"] = linear_spec(w, model, "fc2", "fc2")
    return spec


class FusedCaser(FusedRunner):
    """A compiled Caser: ``represent(seqs, users)`` == ``model(seqs, users)``;
    ``topk(seqs, k, candidates, users)``. Inputs of any length (the last L items are used)."""

    def __init__(self, model: Caser, *, isa: str = "auto", check_stale: bool = True, on_stale: str = "raise"):
        self._compile(model, _spec, _cpu.CaserRunner, isa, check_stale, on_stale)
        self.num_users = model.num_users

    def _users(self, users, B: int):
        if self.num_users == 0:
            return None
        if not isinstance(users, torch.Tensor) or users.dtype != torch.int64 or users.shape != (B,):
            got = f"{users.dtype} {list(users.shape)}" if isinstance(users, torch.Tensor) else type(users).__name__
            raise ValueError(f"users: expected int64 [{B}] user indices (this Caser has user embeddings), got {got}")
        return users.contiguous().numpy()

    def represent(self, seqs: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        """seqs int64 [B, l] (left-padded), users int64 [B] (with user embeddings) -> float32 [B, d]."""
        seqs = self._check(seqs)
        u = self._users(users, seqs.shape[0])
        out = torch.empty(seqs.shape[0], self.dim, dtype=torch.float32)
        self._run("represent", seqs.numpy(), u, out.numpy())
        return out

    def topk(
        self, seqs: torch.Tensor, k: int, candidates: torch.Tensor | None = None, users: torch.Tensor | None = None
    ):
        """As :meth:`FusedSASRec.topk` (all items but the padding item 0, or candidates)."""
        seqs = self._check(seqs)
        u = self._users(users, seqs.shape[0])
        cand, values, ids = self._topk_args(seqs, k, candidates)
        self._run("topk", seqs.numpy(), u, k, cand, values.numpy(), ids.numpy())
        return values, ids

    def __repr__(self) -> str:
        return f"FusedCaser(dim={self.dim}, items={self.num_items}, item_table={self.item_table}, isa={self.isa})"


def compile_caser(model: Caser, *, isa: str = "auto", check_stale: bool = True, on_stale: str = "raise") -> FusedCaser:
    """See :func:`chord.runtime.compile`."""
    if not isinstance(model, Caser):
        fail(f"model: expected chord.models.Caser, got {type(model).__name__}")
    return FusedCaser(model, isa=isa, check_stale=check_stale, on_stale=on_stale)
