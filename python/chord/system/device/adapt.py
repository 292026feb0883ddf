"""``Device``: one device of the deployment (docs/method.md §2, §5).

It holds the shared frozen backbone (packed by SWAP's ``DeviceModel``), the profiler, its own
resource budget (average bits it asks the cloud for) and an optional width remap applied when it
decodes (e.g. a weak device maps 8 -> 4 bits). The round trip is ``request`` (user embedding +
budget to the cloud) -> ``adapt`` (strategy bytes -> packed weights, no autograd) -> ``rerank``
(one forward pass).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping

import torch
from torch import nn

from chord.quantize import AdaptStats, DeviceModel
from chord.quantize.strategy import model_fingerprint


class Device:
    """backbone: the deployed float backbone (deep-copied: the device packs its own copy);
    profiler: the trained profiler (copied); budget: average bits this device asks for;
    remap: device-side width remap; act_bits: 0 or 8 (int8 activations in the kernels)."""

    def __init__(
        self,
        backbone: nn.Module,
        profiler: nn.Module,
        *,
        budget: float = 3.0,
        remap: Mapping[int, int] | None = None,
        act_bits: int = 0,
    ):
        if budget <= 0:
            raise ValueError(f"budget: expected a positive average bit-width, got {budget}")
        model = copy.deepcopy(backbone).eval()
        self.profiler = copy.deepcopy(profiler).eval()
        if getattr(self.profiler, "shared", False):  # read the device's own copy of the table
            object.__setattr__(self.profiler, "_shared_emb", model.item_emb)
        self.budget = float(budget)
        self.fingerprint = model_fingerprint(model)  # before packing: the float structure the cloud hashes
        self.dm = DeviceModel(model, remap=remap, act_bits=act_bits)
        self.last_adapt: AdaptStats | None = None

    @torch.no_grad()
    def request(self, recent_items: torch.Tensor) -> tuple[torch.Tensor, float]:
        """recent_items int64 [l] or [1, l] (left-padded) -> (user embedding [1, d_user], budget):
        all that leaves the device."""
        seq = recent_items.view(1, -1) if recent_items.dim() == 1 else recent_items
        return self.profiler(seq), self.budget

    def fetch(
        self, url: str, recent_items: torch.Tensor, *, send: str = "embedding", timeout: float = 2.0, retries: int = 3
    ) -> bytes:
        """``request`` over the network -> strategy wire bytes for ``adapt``, from the strategy
        service at ``url`` (``chord serve``). send: "embedding" (profile ``recent_items`` here and
        POST the embedding: the item ids stay on the device) or "items" (POST the item ids; the
        cloud's copy of the profiler computes the same embedding). Budget and this device's model
        fingerprint go along. timeout: seconds per attempt; retries: further attempts on
        connection errors / 503 / 5xx (never on 4xx). Raises ``chord.serve.client.ServeError``."""
        from chord.serve.client import request_strategy

        if send == "items":
            return request_strategy(
                url, None, self.budget, self.fingerprint, timeout=timeout, retries=retries, recent_items=recent_items
            )
        if send != "embedding":
            raise ValueError(f"send: expected 'embedding' or 'items', got {send!r}")
        emb, budget = self.request(recent_items)
        return request_strategy(url, emb, budget, self.fingerprint, timeout=timeout, retries=retries)

    def fetch_population(self, url: str, *, timeout: float = 2.0, retries: int = 3) -> bytes:
        """The server's one strategy for everybody at this device's budget -> wire bytes for
        ``adapt`` (``chord.system.cloud.population``): nothing about the user leaves the device.
        timeout / retries / errors as :meth:`fetch`."""
        from chord.serve.client import request_population_strategy

        return request_population_strategy(url, self.budget, self.fingerprint, timeout=timeout, retries=retries)

    def adapt(self, strategy_bytes: bytes) -> AdaptStats:
        """Decode (with this device's remap), quantize and pack the frozen weights, swap in."""
        self.last_adapt = self.dm.apply(strategy_bytes)
        return self.last_adapt

    @torch.no_grad()
    def rerank(
        self, seq: torch.Tensor, candidates: torch.Tensor | None = None, k: int = 10, users: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, float]:
        """seq int64 [B, l]; candidates int64 [B, C] or None (all items); users int64 [B]: the
        device's own user index, for backbones with user embeddings (Caser) -> (top-k ids [B, k],
        scores [B, k], seconds). Padding (item 0) is never returned for full ranking."""
        t0 = time.perf_counter()
        model = self.dm.model
        rep = model(seq, users=users)
        scores = model.score(rep, candidates)
        if candidates is None:
            scores[:, 0] = float("-inf")
        k = min(k, scores.shape[1])
        val, idx = torch.topk(scores, k, dim=1)
        ids = idx if candidates is None else torch.gather(candidates, 1, idx)
        return ids, val, time.perf_counter() - t0
