"""Caser (Tang & Wang, WSDM 2018): convolutional sequence embedding of the last L items.

The L x d embedding "image" of the last L items goes through ``n_v`` vertical filters
(``nn.Conv2d(1, n_v, (L, 1))``) and, for every height h in 1..L, ``n_h`` horizontal filters
(``nn.Conv2d(1, n_h, (h, d))``, ReLU, max-pooled over time). Their concatenation -> ``fc1``
(ReLU) -> z [B, d]. Two heads:

- ``head="fc2"`` (default; RecBole's variant): with user embeddings [z; P_u] -> ``fc2`` (ReLU)
  -> user representation [B, d], scored against the tied item embedding.
- ``head="untied"`` (the original, graytowne/caser_pytorch): the representation is [z; P_u]
  [B, 2d] (z alone without user embeddings), scored against a separate output table
  ``out_emb`` [num_items + 1, 2d] plus an item bias ``out_bias`` [num_items + 1, 1] (no fc2).

``dropout_pos``: ``"after_fc1"`` (default, on z; what this code always did) or ``"before_fc1"``
(on the concatenated filter outputs, as both the original and RecBole do). ``T`` is the number
of next items each training window predicts (used by the trainer).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import SequentialRecommender, check_choice, model_config

HEADS = ("fc2", "untied")
DROPOUT_POSITIONS = ("after_fc1", "before_fc1")


class Caser(SequentialRecommender):
    training_style = "window"

    def __init__(
        self,
        num_items: int,
        dim: int = 64,
        L: int = 5,
        T: int = 1,
        n_v: int = 4,
        n_h: int = 16,
        dropout: float = 0.4,
        num_users: int = 0,
        max_len: int | None = None,
        head: str = "fc2",
        dropout_pos: str = "after_fc1",
    ):
        super().__init__(num_items, dim)
        if L < 1 or T < 1 or n_v < 0 or n_h < 0 or (n_v == 0 and n_h == 0):
            raise ValueError(f"L, T >= 1 and n_v, n_h >= 0 (not both 0) expected, got L={L} T={T} n_v={n_v} n_h={n_h}")
        check_choice("head", head, HEADS)
        check_choice("dropout_pos", dropout_pos, DROPOUT_POSITIONS)
        self.L, self.T, self.n_v, self.n_h = int(L), int(T), int(n_v), int(n_h)
        self.max_len = self.L
        self.num_users = int(num_users)
        self.head, self.dropout_pos = head, dropout_pos
        self.config = model_config(
            "caser",
            dict(
                num_items=int(num_items),
                dim=int(dim),
                L=self.L,
                T=self.T,
                n_v=self.n_v,
                n_h=self.n_h,
                dropout=float(dropout),
                num_users=self.num_users,
            ),
            {"head": (head, "fc2"), "dropout_pos": (dropout_pos, "after_fc1")},
        )
        self.conv_v = nn.Conv2d(1, n_v, (L, 1)) if n_v else None
        self.conv_h = nn.ModuleList(nn.Conv2d(1, n_h, (h, dim)) for h in range(1, L + 1)) if n_h else nn.ModuleList()
        self.fc1 = nn.Linear(n_v * dim + n_h * L, dim)
        self.user_emb = nn.Embedding(self.num_users, dim) if self.num_users else None
        self.fc2 = nn.Linear(2 * dim, dim) if self.num_users and head == "fc2" else None
        if head == "untied":
            out_dim = 2 * dim if self.num_users else dim
            self.out_emb = nn.Embedding(self.num_items + 1, out_dim)
            self.out_bias = nn.Embedding(self.num_items + 1, 1)
        self.drop = nn.Dropout(dropout)
        self.reset_parameters()

    @property
    def repr_dim(self) -> int:
        """Width of ``forward``'s output: 2d for the untied head with user embeddings, else d."""
        return self.out_emb.embedding_dim if self.out_emb is not None else self.dim

    def reset_parameters(self) -> None:
        nn.init.normal_(self.item_emb.weight, 0.0, 1.0 / self.dim)
        if self.user_emb is not None:
            nn.init.normal_(self.user_emb.weight, 0.0, 1.0 / self.dim)
        if self.out_emb is not None:  # as the original: W2 ~ N(0, 1/(2d)), b2 = 0
            nn.init.normal_(self.out_emb.weight, 0.0, 1.0 / self.out_emb.embedding_dim)
            nn.init.zeros_(self.out_bias.weight)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def forward(self, seqs: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        """seqs int64 [B, l] left-padded (the last L columns are used; shorter inputs are padded)
        -> float [B, repr_dim] (d; 2d for the untied head with user embeddings); ``users`` int64 [B] (0-based) required when built with num_users > 0."""
        self.check_seqs(seqs)
        if seqs.shape[1] >= self.L:
            seqs = seqs[:, -self.L :]
        else:
            seqs = F.pad(seqs, (self.L - seqs.shape[1], 0))
        E = self.item_emb(seqs).unsqueeze(1)  # [B, 1, L, d]
        parts = []
        if self.conv_v is not None:
            parts.append(self.conv_v(E).flatten(1))  # [B, n_v * d]
        for conv in self.conv_h:
            h = F.relu(conv(E).squeeze(3))  # [B, n_h, L - h + 1]
            parts.append(h.amax(dim=2))  # [B, n_h]
        h = torch.cat(parts, 1)
        if self.dropout_pos == "before_fc1":
            z = F.relu(self.fc1(self.drop(h)))
        else:
            z = self.drop(F.relu(self.fc1(h)))
        if self.user_emb is None:
            return z
        if users is None:
            raise ValueError("users: expected int64 [B] user indices (this Caser has user embeddings), got None")
        x = torch.cat([z, self.user_emb(users)], 1)
        return x if self.fc2 is None else F.relu(self.fc2(x))
