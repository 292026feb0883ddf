"""The on-device profiler: recent items -> item embeddings -> feature extractor -> last position
-> MLP -> user embedding (docs/method.md §2). Only this embedding leaves the device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

EXTRACTORS = ("gru", "mean")


class Profiler(nn.Module):
    """seqs int64 [B, l] (left-padded with 0, most recent last) -> user embedding float [B, d_user].

    item_emb: the item table to read (pass the backbone's ``item_emb`` to share it — the device
    already holds it — or None for an own table of ``num_items + 1`` rows x ``d_item``);
    extractor: "gru" (default; the hidden state after the most recent item) or "mean" (masked
    mean of the item embeddings); recent: how many of the most recent items are read.
    """

    def __init__(
        self,
        num_items: int,
        d_user: int = 64,
        *,
        item_emb: nn.Embedding | None = None,
        d_item: int = 64,
        hidden: int = 64,
        extractor: str = "gru",
        recent: int = 50,
    ):
        super().__init__()
        if extractor not in EXTRACTORS:
            raise ValueError(f"extractor: expected one of {EXTRACTORS}, got {extractor!r}")
        if recent < 1:
            raise ValueError(f"recent: expected >= 1, got {recent}")
        self.shared = item_emb is not None
        if self.shared:
            # keep it out of this module's parameters: the owner (the backbone) holds it
            object.__setattr__(self, "_shared_emb", item_emb)
            d_item = item_emb.embedding_dim
        else:
            self.own_emb = nn.Embedding(num_items + 1, d_item, padding_idx=0)
            nn.init.normal_(self.own_emb.weight, std=d_item**-0.5)
            with torch.no_grad():
                self.own_emb.weight[0].zero_()
        self.extractor = extractor
        self.recent = int(recent)
        self.gru = nn.GRU(d_item, hidden, batch_first=True) if extractor == "gru" else None
        d_feat = hidden if extractor == "gru" else d_item
        self.mlp = nn.Sequential(nn.Linear(d_feat, hidden), nn.GELU(), nn.Linear(hidden, d_user))
        self.d_user = int(d_user)

    @property
    def item_emb(self) -> nn.Embedding:
        return self._shared_emb if self.shared else self.own_emb

    def forward(self, seqs: torch.Tensor) -> torch.Tensor:
        if not isinstance(seqs, torch.Tensor) or seqs.dim() != 2 or seqs.dtype != torch.int64:
            raise ValueError(
                f"seqs: expected int64 [B, l] item ids, got "
                f"{getattr(seqs, 'dtype', type(seqs).__name__)} {list(getattr(seqs, 'shape', []))}"
            )
        seqs = seqs[:, -self.recent :]
        mask = seqs != 0
        lengths = mask.sum(1)
        x = self.item_emb(seqs)  # [B, l, d_item]
        if self.extractor == "mean":
            feat = (x * mask[..., None]).sum(1) / lengths.clamp_min(1)[:, None]
        else:
            # left padding -> right padding so the packed GRU ends exactly at the most recent item
            l = seqs.shape[1]
            shift = (l - lengths).clamp(max=l - 1)
            idx = (torch.arange(l, device=seqs.device)[None, :] + shift[:, None]) % l
            xr = torch.gather(x, 1, idx[..., None].expand_as(x))
            packed = nn.utils.rnn.pack_padded_sequence(
                xr, lengths.clamp_min(1).cpu(), batch_first=True, enforce_sorted=False
            )
            _, h = self.gru(packed)
            feat = h[-1]  # hidden at the last position
            feat = feat * (lengths > 0)[:, None]
        return self.mlp(F.layer_norm(feat, feat.shape[-1:]))
