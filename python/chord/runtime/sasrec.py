"""Fused SASRec inference (csrc/runtime/runtime_sasrec.*): ``compile_sasrec(model) -> FusedSASRec``.

What is read, once: every ``nn.Linear`` (fp32) or ``MixedPrecisionLinear`` (its packed
``MixedWeight`` buffers and ``act_bits``), the item and position tables (``nn.Embedding`` or
``QuantizedEmbedding``), the layer norms, and the config (dim, heads, max_len, norm layout,
FFN width). Arrays are passed to C++ as zero-copy numpy views of the model's tensors; the
fp32 Linear weights are transposed into the runner (small), tables are never copied.

Exactly what ``model(seqs)`` computes in eval mode, up to float32 rounding order (layer-norm
moments in float64, attention softmax in float32); packed layers run the same
``chord::mp_linear`` kernel as the swapped modules. Faster because it is one native call and
because it skips padding positions (they never influence the result) and, in the last block,
every query but the last position's.
"""

from __future__ import annotations

import math

import torch

from ..models.base import SequentialRecommender
from ..models.sasrec import CausalSelfAttention, FeedForward, SASRec, SASRecBlock
from .base import (
    FusedRunner,
    Watch,
    _cpu,
    check_hooks,
    fail,
    linear_spec,
    norm_spec,
    table_spec,
)


def _check_model(model: SASRec) -> None:
    cls = type(model)
    for meth in ("forward", "encode"):
        if getattr(cls, meth) is not getattr(SASRec, meth):
            fail(f"model: {cls.__name__}.{meth} overrides SASRec.{meth}; the fused runtime computes SASRec's")
    if cls.score is not SequentialRecommender.score:
        fail(f"model: {cls.__name__}.score overrides the tied-embedding score")
    if model.training:
        fail("model: in training mode (dropout would be active); call model.eval() first")
    check_hooks(model)
    for i, blk in enumerate(model.blocks):
        if type(blk) is not SASRecBlock:
            fail(f"blocks.{i}: expected chord SASRecBlock, got {type(blk).__name__}")
        if type(blk.attn) is not CausalSelfAttention:
            fail(f"blocks.{i}.attn: expected chord CausalSelfAttention, got {type(blk.attn).__name__}")
        if type(blk.ffn) is not FeedForward:
            fail(f"blocks.{i}.ffn: expected chord FeedForward (ReLU), got {type(blk.ffn).__name__}")
        if blk.ffn.act != "relu":  # the native runner computes ReLU only
            fail(f"blocks.{i}.ffn.act: the fused runtime supports 'relu', got {blk.ffn.act!r}")
        if blk.norm != model.config["norm"]:
            fail(f"blocks.{i}.norm: {blk.norm!r} differs from the model's {model.config['norm']!r}")


def _spec(model: SASRec, w: Watch) -> dict:
    _check_model(model)
    cfg = model.config
    d = model.dim
    if cfg["norm"] not in ("query", "pre"):
        fail(f"config['norm']: expected 'query' or 'pre', got {cfg['norm']!r}")
    blocks = []
    for i, blk in enumerate(model.blocks):
        p = f"blocks.{i}"
        blocks.append(
            {
                "attn_norm": norm_spec(w, blk, "attn_norm", d, f"{p}.attn_norm"),
                "ffn_norm": norm_spec(w, blk, "ffn_norm", d, f"{p}.ffn_norm"),
                **{k: linear_spec(w, blk.attn, k, f"{p}.attn.{k}") for k in ("q_proj", "k_proj", "v_proj", "out_proj")},
                **{k: linear_spec(w, blk.ffn, k, f"{p}.ffn.{k}") for k in ("fc1", "fc2")},
            }
        )
        w.module(model.blocks, str(i))
        w.module(blk, "attn")
        w.module(blk, "ffn")
        if blk.attn.heads != cfg["heads"]:
            fail(f"{p}.attn.heads: {blk.attn.heads} differs from config heads={cfg['heads']}")
    w.module(model, "blocks")
    return {
        "config": {
            "num_items": model.num_items,
            "dim": d,
            "heads": int(cfg["heads"]),
            "max_len": model.max_len,
            "ffn_hidden": int(cfg["ffn_hidden"]),
            "norm": cfg["norm"],
            # emb_scale=False models (S3-Rec) add the position to the unscaled embedding
            "emb_scale": float(torch.tensor(math.sqrt(d), dtype=torch.float32)) if model.emb_scale else 1.0,
        },
        "item_emb": table_spec(w, model, "item_emb"),
        "pos_emb": table_spec(w, model, "pos_emb"),
        "blocks": blocks,
        "final_norm": norm_spec(w, model, "final_norm", d, "final_norm"),
    }


class FusedSASRec(FusedRunner):
    """A compiled SASRec: ``represent(seqs)`` == ``model(seqs)``; ``topk(seqs, k, candidates)``.

    Calls on one runner from several threads are serialized (shared scratch). Results never
    depend on the thread count; a row's result in another batch agrees to float32 rounding.
    """

    def __init__(self, model: SASRec, *, isa: str = "auto", check_stale: bool = True, on_stale: str = "raise"):
        self._compile(model, _spec, _cpu.SASRecRunner, isa, check_stale, on_stale)
        self.max_len = model.max_len

    def _facts(self, spec: dict) -> None:
        super()._facts(spec)
        self.packed_layers = sum(
            b[k]["kind"] == "packed"
            for b in spec["blocks"]
            for k in ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")
        )

    def represent(self, seqs: torch.Tensor) -> torch.Tensor:
        """seqs int64 [B, l] (left-padded, 0 = padding) -> user representations float32 [B, d]."""
        seqs = self._check(seqs)
        out = torch.empty(seqs.shape[0], self.dim, dtype=torch.float32)
        self._run("represent", seqs.numpy(), out.numpy())
        return out

    def topk(self, seqs: torch.Tensor, k: int, candidates: torch.Tensor | None = None):
        """Rerank: (scores float32 [B, k], item ids int64 [B, k]) of the user representation
        against the item table -- every item except the padding item 0 (``candidates`` None),
        or int64 candidate ids [C] (shared) / [B, C]. Descending score; equal scores -> smaller
        id first. A quantized table runs ``chord::mp_topk`` (its scores are exactly
        ``chord.mp_topk``'s); an fp32 table a float32 scan."""
        seqs = self._check(seqs)
        cand, values, ids = self._topk_args(seqs, k, candidates)
        self._run("topk", seqs.numpy(), k, cand, values.numpy(), ids.numpy())
        return values, ids

    def __repr__(self) -> str:
        return (
            f"FusedSASRec(dim={self.dim}, items={self.num_items}, packed_layers={self.packed_layers}, "
            f"item_table={self.item_table}, isa={self.isa})"
        )


def compile_sasrec(
    model: SASRec, *, isa: str = "auto", check_stale: bool = True, on_stale: str = "raise"
) -> FusedSASRec:
    """See :func:`chord.runtime.compile`."""
    if not isinstance(model, SASRec):
        fail(f"model: expected chord.models.SASRec, got {type(model).__name__}")
    return FusedSASRec(model, isa=isa, check_stale=check_stale, on_stale=on_stale)
