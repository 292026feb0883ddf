"""SASRec (Kang & McAuley, ICDM 2018): causal self-attention over the item sequence.

Attention is written with four separate ``nn.Linear`` (Q, K, V, out) — not
``nn.MultiheadAttention``, whose fused in-projection cannot be swapped per layer — and the
point-wise feed-forward uses ``nn.Linear`` (the original's 1x1 Conv1d is the same map).
Two layouts (``norm``):

- ``"query"`` (kang205/SASRec, pmixer port): Q = LN(x); x = Q + Attn(Q, x, x); x = LN(x);
  x = x + FFN(x); one final LN. Only the queries are normalized before attention.
- ``"pre"``: x = x + Attn(LN(x)); x = x + FFN(LN(x)); final LN (standard pre-LN transformer).
- ``"post"`` (BERT-style, as S3-Rec's SASRec baseline): the embedding sum is layer-normed, then
  x = LN(x + Attn(x)); x = LN(x + FFN(x)); no final LN (the last block already ends in one).

``act`` is the FFN activation: ``"relu"`` (kang205) or ``"gelu"`` (S3-Rec, erf form).
Three more S3-Rec details are options (defaults = kang205): ``init="normal"`` (every Linear and
Embedding weight ~ N(0, 0.02), Linear biases 0, instead of xavier matrices), ``emb_scale=False``
(no sqrt(d) factor on the item embeddings) and ``ffn_dropout="output"`` (FFN dropout after the
second linear only, not also after the activation).

Everything is out-of-place so ``torch.func.functional_call`` works with substituted weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import SequentialRecommender, check_choice, model_config


class CausalSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        if dim % heads:
            raise ValueError(f"heads: expected a divisor of dim={dim}, got {heads}")
        self.heads = heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, q_in: torch.Tensor, kv_in: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """q_in, kv_in [B, l, d]; mask bool [B, 1, l, l] (True = may attend) -> [B, l, d]."""
        B, l, d = q_in.shape
        h = self.heads

        def split(t):
            return t.view(B, l, h, d // h).transpose(1, 2)

        q, k, v = split(self.q_proj(q_in)), split(self.k_proj(kv_in)), split(self.v_proj(kv_in))
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(o.transpose(1, 2).reshape(B, l, d))


ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}
FFN_DROPOUT = ("both", "output")  # after the activation and fc2 (kang205) / after fc2 only (S3-Rec)
INITS = ("xavier", "normal")
NORMS = ("query", "pre", "post")


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float, act: str = "relu", dropout_at: str = "both"):
        super().__init__()
        check_choice("act", act, sorted(ACTIVATIONS))
        check_choice("ffn_dropout", dropout_at, FFN_DROPOUT)
        self.act, self.dropout_at = act, dropout_at
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = ACTIVATIONS[self.act](self.fc1(x))
        if self.dropout_at == "both":
            h = self.drop(h)
        return self.drop(self.fc2(h))


class SASRecBlock(nn.Module):
    def __init__(
        self,
        dim: int,
        heads: int,
        dropout: float,
        norm: str,
        ffn_hidden: int,
        act: str = "relu",
        ffn_dropout: str = "both",
    ):
        super().__init__()
        self.norm = norm
        self.attn_norm = nn.LayerNorm(dim, eps=1e-8)
        self.attn = CausalSelfAttention(dim, heads, dropout)
        self.ffn_norm = nn.LayerNorm(dim, eps=1e-8)
        self.ffn = FeedForward(dim, ffn_hidden, dropout, act, ffn_dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        if self.norm == "query":
            q = self.attn_norm(x)
            x = q + self.drop(self.attn(q, x, mask))
            x = self.ffn_norm(x)
            x = x + self.ffn(x)
        elif self.norm == "post":
            x = self.attn_norm(x + self.drop(self.attn(x, x, mask)))
            x = self.ffn_norm(x + self.ffn(x))
        else:
            y = self.attn_norm(x)
            x = x + self.drop(self.attn(y, y, mask))
            x = x + self.ffn(self.ffn_norm(x))
        return x * keep


class SASRec(SequentialRecommender):
    """SASRec; ``forward(seqs) -> [B, d]`` (last position), ``encode(seqs) -> [B, l, d]`` (all).

    Args: num_items; dim (d, 64); blocks (2); heads (1); dropout (0.2); max_len (50; inputs may be
    shorter — they are treated as the right end of a ``max_len`` window); norm ("query" | "pre" |
    "post"); ffn_hidden (defaults to dim, as in the original); act ("relu" | "gelu"); init
    ("xavier" | "normal"); emb_scale (True: item embeddings * sqrt(d)); ffn_dropout ("both" |
    "output").
    """

    def __init__(
        self,
        num_items: int,
        dim: int = 64,
        blocks: int = 2,
        heads: int = 1,
        dropout: float = 0.2,
        max_len: int = 50,
        norm: str = "query",
        ffn_hidden: int | None = None,
        num_users: int = 0,
        act: str = "relu",
        init: str = "xavier",
        emb_scale: bool = True,
        ffn_dropout: str = "both",
    ):
        super().__init__(num_items, dim)
        check_choice("norm", norm, NORMS)
        check_choice("act", act, sorted(ACTIVATIONS))
        check_choice("init", init, INITS)
        check_choice("ffn_dropout", ffn_dropout, FFN_DROPOUT)
        if max_len < 1 or blocks < 1:
            raise ValueError(f"max_len, blocks: expected >= 1, got {max_len}, {blocks}")
        self.max_len = int(max_len)
        self.config = model_config(
            "sasrec",
            dict(
                num_items=int(num_items),
                dim=int(dim),
                blocks=int(blocks),
                heads=int(heads),
                dropout=float(dropout),
                max_len=int(max_len),
                norm=norm,
                ffn_hidden=int(ffn_hidden or dim),
            ),
            {
                "act": (act, "relu"),
                "init": (init, "xavier"),
                "emb_scale": (bool(emb_scale), True),
                "ffn_dropout": (ffn_dropout, "both"),
            },
        )
        self.init, self.emb_scale = init, bool(emb_scale)
        self.pos_emb = nn.Embedding(self.max_len, dim)
        self.emb_drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            SASRecBlock(dim, heads, dropout, norm, ffn_hidden or dim, act, ffn_dropout) for _ in range(blocks)
        )
        # post-LN normalizes the embedding sum instead of the output; the module keeps one name
        # (final_norm) and its place in the state dict either way
        self.final_norm = nn.LayerNorm(dim, eps=1e-8)
        self.norm = norm
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.init == "normal":  # S3-Rec (BERT): N(0, 0.02) Linear/Embedding weights, zero Linear biases
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(m.weight, 0.0, 0.02)
                if isinstance(m, nn.Linear):
                    nn.init.zeros_(m.bias)
        else:  # xavier for every matrix as in kang205/pmixer
            for _name, p in self.named_parameters():
                if p.dim() > 1:
                    nn.init.xavier_normal_(p)
        # padding row zero
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def encode(self, seqs: torch.Tensor) -> torch.Tensor:
        """seqs int64 [B, l] (l <= max_len, left-padded) -> float [B, l, d]; padded positions are 0."""
        self.check_seqs(seqs)
        B, l = seqs.shape
        if l > self.max_len:
            raise ValueError(f"seqs: expected length <= max_len={self.max_len}, got {l}")
        pos = torch.arange(self.max_len - l, self.max_len, device=seqs.device)
        x = self.item_emb(seqs)
        if self.emb_scale:
            x = x * math.sqrt(self.dim)
        x = x + self.pos_emb(pos)
        # dtype from x, not item_emb.weight: a quantized table's .weight dequantizes the whole table
        keep = (seqs != 0).unsqueeze(-1).to(x.dtype)  # [B, l, 1]
        if self.norm == "post":
            x = self.final_norm(x)
        x = self.emb_drop(x) * keep
        causal = torch.ones(l, l, dtype=torch.bool, device=seqs.device).tril()
        # keys that are padding are hidden; the diagonal stays open so a padded query never sees
        # an all-masked row (its output is zeroed by `keep` anyway)
        mask = causal & ((seqs != 0).unsqueeze(1) | torch.eye(l, dtype=torch.bool, device=seqs.device))
        mask = mask.unsqueeze(1)  # [B, 1, l, l]
        for block in self.blocks:
            x = block(x, mask, keep)
        return x if self.norm == "post" else self.final_norm(x)

    def forward(self, seqs: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        """seqs int64 [B, l] -> user representation float [B, d] (hidden state at the last position)."""
        return self.encode(seqs)[:, -1, :]
