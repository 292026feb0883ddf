"""``CloudService``: the cloud endpoint. A batch of (user embedding, device budget) requests in,
one strategy per user out, as ``Strategy`` objects or wire bytes (2 bits per channel + header)."""

from __future__ import annotations

import torch

from chord.quantize.strategy import Strategy, model_fingerprint

from .planner import CloudPlanner


class CloudService:
    """planner: a trained ``CloudPlanner``; backbone: the deployed backbone (its fingerprint is
    stamped on every strategy so a device never decodes codes meant for another model)."""

    def __init__(self, planner: CloudPlanner, backbone):
        self.planner = planner.eval()
        self.fingerprint = model_fingerprint(backbone)

    @torch.no_grad()
    def strategies(self, user_emb: torch.Tensor, budgets=None) -> list[Strategy]:
        """user_emb float [B, d_user]; budgets: None (planner default), a float, or float [B]."""
        if user_emb.dim() != 2:
            raise ValueError(f"user_emb: expected [B, d_user], got shape {list(user_emb.shape)}")
        codes = self.planner.plan(user_emb, budgets)
        return [Strategy(self.planner.split(c), self.planner.codebook) for c in codes]

    def respond(self, user_emb: torch.Tensor, budgets=None, *, names: bool = True) -> list[bytes]:
        """Wire bytes per user (``Strategy.to_bytes``)."""
        return [s.to_bytes(self.fingerprint, names=names) for s in self.strategies(user_emb, budgets)]
