"""``CloudService``: the cloud endpoint. A batch of (user embedding, device budget) requests in,
one strategy per user out, as ``Strategy`` objects or wire bytes (2 bits per channel + header)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import torch
from torch import nn

from chord.quantize.strategy import Strategy, model_fingerprint

from .planner import CloudPlanner


class CloudService:
    """planner: a trained ``CloudPlanner``; backbone: the deployed backbone (its fingerprint is
    stamped on every strategy so a device never decodes codes meant for another model);
    profiler: the trained profiler when the cloud also holds it (devices may then send their recent
    item ids instead of a user embedding), else None."""

    def __init__(self, planner: CloudPlanner, backbone: nn.Module, profiler: nn.Module | None = None):
        self.planner = planner.eval()
        self.fingerprint = model_fingerprint(backbone)
        self.profiler = profiler.eval() if profiler is not None else None
        self._head_cache: dict[bool, tuple[bytes, int]] = {}

    @torch.no_grad()
    def strategies(self, user_emb: torch.Tensor, budgets: float | torch.Tensor | None = None) -> list[Strategy]:
        """user_emb float [B, d_user]; budgets: None (planner default), a float, or float [B]."""
        return [Strategy(self.planner.split(c), self.planner.codebook) for c in self._codes(user_emb, budgets)]

    @torch.no_grad()
    def respond(
        self, user_emb: torch.Tensor, budgets: float | torch.Tensor | None = None, *, names: bool = True
    ) -> list[bytes]:
        """Wire bytes per user: exactly ``Strategy.to_bytes`` of each of :meth:`strategies`, made for
        the whole batch at once (a strategy's header is the same for every user of this planner;
        only the packed codes and the CRC differ)."""
        codes = self._codes(user_emb, budgets)
        head, crc_head = self._head(names)
        c = codes.to(torch.uint8).numpy()
        B, N = c.shape
        if N % 4:
            c = np.concatenate([c, np.zeros((B, (-N) % 4), dtype=np.uint8)], axis=1)
        # code i in bits [2*(i%4), 2*(i%4)+2) of byte i//4 (chord.quantize.strategy's layout)
        packed = c[:, 0::4] | (c[:, 1::4] << 2) | (c[:, 2::4] << 4) | (c[:, 3::4] << 6)
        out = []
        for row in packed:
            body = row.tobytes()
            out.append(head + body + struct.pack("<I", zlib.crc32(body, crc_head)))
        return out

    @property
    def num_items(self) -> int | None:
        """Largest item id the profiler reads (ids 1..num_items; 0 pads), None without a profiler."""
        return None if self.profiler is None else int(self.profiler.item_emb.num_embeddings) - 1

    @torch.no_grad()
    def profile(self, seqs: torch.Tensor) -> torch.Tensor:
        """seqs int64 [B, l] recent item ids (left-padded with 0, most recent last) -> user
        embeddings float [B, d_user], as the device's profiler computes them."""
        if self.profiler is None:
            raise ValueError("seqs: this service holds no profiler; send user embeddings")
        return self.profiler(seqs)

    def _codes(self, user_emb: torch.Tensor, budgets) -> torch.Tensor:
        if user_emb.dim() != 2:
            raise ValueError(f"user_emb: expected [B, d_user], got shape {list(user_emb.shape)}")
        return self.planner.plan(user_emb, budgets).cpu()

    def _head(self, names: bool) -> tuple[bytes, int]:
        """(the wire bytes before the packed codes, their CRC32), from one encoded strategy."""
        if names not in self._head_cache:
            p = self.planner
            zeros = Strategy(p.split(torch.zeros(p.num_channels, dtype=torch.long)), p.codebook)
            wire = zeros.to_bytes(self.fingerprint, names=names)
            head = wire[: len(wire) - (2 * p.num_channels + 7) // 8 - 4]
            self._head_cache[names] = (head, zlib.crc32(head))
        return self._head_cache[names]
