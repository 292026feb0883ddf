"""``ChordSystem``: frozen backbone + on-device profiler + cloud planner, trained end to end.

Looks like a chord model to the evaluator (``forward(seqs, users) -> [B, d]``, ``score``), so
personalized mixed precision is evaluated by the same code as the fp32 backbone. Every user's
forward runs the backbone with that user's quantized weights (``chord.system.per_user``), which
equal what the device packs (``chord.backends.reference`` is the packer's reference).

``CodesModel`` does the same for any other source of codes (uniform, random, layer-wise,
population strategies): the baselines share the exact forward.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from chord.codebook import Codebook
from chord.quantize.layers import FilterFn, LayerInfo
from chord.quantize.strategy import Strategy
from chord.system.cloud import CloudPlanner, Combination, planned_layers
from chord.system.device.profiler import Profiler

from .copies import QuantizedCopies
from .per_user import per_user_weights


def shared_codes_forward(
    backbone: nn.Module,
    copies: QuantizedCopies,
    codes: torch.Tensor,
    seqs: torch.Tensor,
    users: torch.Tensor | None = None,
) -> torch.Tensor:
    """One strategy for the whole batch (codes long [N]): the backbone's own forward with the
    quantized weights swapped in (``functional_call``), instead of materializing a copy per user
    (uniform / layer-wise / population rows; ~B times less weight traffic)."""
    w = copies.weights(copies.codes_to_onehot(codes.view(1, -1)))
    params = {f"{name}.weight": v[0] for name, v in w.items()}
    return torch.func.functional_call(backbone, params, (seqs,), {"users": users})


class CodesModel(nn.Module):
    """backbone run with per-user codes from ``codes_fn(seqs, users) -> long [B, N]``."""

    def __init__(
        self,
        backbone: nn.Module,
        codes_fn: Callable,
        specs: list[LayerInfo] | None = None,
        codebook: Codebook | None = None,
    ):
        super().__init__()
        self.backbone = backbone
        self.specs = specs or planned_layers(backbone)
        self.copies = QuantizedCopies(backbone, self.specs, codebook)
        self.codes_fn = codes_fn
        # a new nn.Module starts in training mode; callers that restore this wrapper's mode
        # (Evaluator.ranks) would then switch a frozen eval backbone's dropout on for its next user
        # (the headroom oracle search read a dropout-noisy objective after each round's scoring)
        self.train(backbone.training)

    def forward(self, seqs: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        codes = self.codes_fn(seqs, users)
        if codes.dim() == 1:
            return shared_codes_forward(self.backbone, self.copies, codes, seqs, users)
        w = self.copies.weights(self.copies.codes_to_onehot(codes))
        with per_user_weights(self.backbone, w):
            return self.backbone(seqs, users=users)

    def score(self, rep: torch.Tensor, item_ids: torch.Tensor | None = None) -> torch.Tensor:
        return self.backbone.score(rep, item_ids)


class ChordSystem(nn.Module):
    """backbone (dense weights frozen), profiler and planner.

    backbone: a chord model (SASRec/Caser); train_item_emb: also train the backbone's item table
    (docs/method.md: trained by default; option frozen); share_profiler_emb: the profiler reads the
    backbone's item table (default) or owns one; planner_kw / profiler_kw: forwarded.
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        d_user: int = 64,
        budget: float = 3.0,
        codebook: Codebook | None = None,
        scope: str = "global",
        codes: tuple[int, ...] | None = None,
        combination: Combination | None = None,
        hidden: int = 128,
        train_item_emb: bool = True,
        share_profiler_emb: bool = True,
        extractor: str = "gru",
        recent: int = 20,
        element_rank: int = 8,
        filter_fn: FilterFn | None = None,
    ):
        super().__init__()
        self.backbone = backbone
        self.codebook = codebook or Codebook.default()
        self.specs = planned_layers(backbone, filter_fn)
        for name, p in backbone.named_parameters():
            p.requires_grad_(train_item_emb and name == "item_emb.weight")
        self.copies = QuantizedCopies(backbone, self.specs, self.codebook)
        self.profiler = Profiler(
            backbone.num_items,
            d_user,
            item_emb=backbone.item_emb if share_profiler_emb else None,
            d_item=backbone.item_emb.embedding_dim,
            extractor=extractor,
            recent=recent,
        )
        self.planner = CloudPlanner(
            self.specs,
            d_user,
            codebook=self.codebook,
            budget=budget,
            scope=scope,
            codes=codes,
            hidden=hidden,
            combination=combination,
            element_rank=element_rank,
        )
        self.eval_budget = float(budget)
        self.population_codes: torch.Tensor | None = None  # set -> every user gets these codes

    # -- deployment path (what the evaluator calls) ------------------------------------------------
    def user_embedding(self, seqs: torch.Tensor) -> torch.Tensor:
        return self.profiler(seqs)

    def plan(self, seqs: torch.Tensor, budget: float | torch.Tensor | None = None) -> torch.Tensor:
        """seqs [B, l] -> codes long [B, N] (device profiles, then cloud plans)."""
        if self.population_codes is not None:
            return self.population_codes.to(seqs.device).expand(seqs.shape[0], -1)
        return self.planner.plan(self.profiler(seqs), self.eval_budget if budget is None else budget)

    def forward(self, seqs: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        if self.population_codes is not None:
            return shared_codes_forward(self.backbone, self.copies, self.population_codes.to(seqs.device), seqs, users)
        with torch.no_grad():
            codes = self.plan(seqs)
        w = self.copies.weights(self.copies.codes_to_onehot(codes))
        with per_user_weights(self.backbone, w):
            return self.backbone(seqs, users=users)

    def score(self, rep: torch.Tensor, item_ids: torch.Tensor | None = None) -> torch.Tensor:
        return self.backbone.score(rep, item_ids)

    # -- training path -----------------------------------------------------------------------------
    def relaxed_forward(
        self, seqs: torch.Tensor, users: torch.Tensor | None = None, *, with_targets: bool = False, **relax: Any
    ) -> tuple[torch.Tensor, ...]:
        """-> (user repr [B, d], expected avg bits [B], hard codes [B, N]), plus the bit targets
        float [B, N] before noise and offset if ``with_targets``; differentiable in the planner, the
        profiler and (if trained) the item table. ``relax``: the keywords of
        :meth:`CloudPlanner.relax` (budget, tau, noise, mode, implicit_offset)."""
        u = self.profiler(seqs)
        t = self.planner.targets(u)
        y, exp_bits, hard = self.planner.relax(u, targets=t, **relax)
        w = self.copies.weights(y)
        with per_user_weights(self.backbone, w):
            rep = self.backbone(seqs, users=users)
        return (rep, exp_bits, hard, t) if with_targets else (rep, exp_bits, hard)

    def strategies(self, seqs: torch.Tensor, budget: float | torch.Tensor | None = None) -> list[Strategy]:
        """seqs [B, l] -> list of B ``chord.Strategy`` (one per user)."""
        codes = self.plan(seqs, budget)
        return [Strategy(self.planner.split(c), self.codebook) for c in codes]
