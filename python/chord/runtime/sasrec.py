"""Fused SASRec inference (csrc/runtime_sasrec.*): ``compile_sasrec(model) -> FusedSASRec``.

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
import operator

import torch
from torch import nn

from ..models.base import SequentialRecommender
from ..models.sasrec import CausalSelfAttention, FeedForward, SASRec, SASRecBlock
from ..quantize.modules import MixedPrecisionLinear, QuantizedEmbedding

try:
    from chord_kernels import _cpu
except ImportError:  # pragma: no cover - only on installs without the C++ extension
    _cpu = None


class UnsupportedModelError(TypeError):
    """The model holds something the fused runtime cannot run exactly."""


class StaleRuntimeError(RuntimeError):
    """The model's modules or tensors changed since the runner read them; re-compile."""


def _fail(msg: str):
    raise UnsupportedModelError(msg)


def _np(t: torch.Tensor, name: str, dtype=torch.float32):
    """A zero-copy numpy view of a CPU tensor of ``dtype`` (contiguous copy only if needed)."""
    if t.device.type != "cpu":
        _fail(f"{name}: expected a CPU tensor, got device {t.device}")
    if t.dtype != dtype:
        _fail(f"{name}: expected {dtype}, got {t.dtype}")
    t = t.detach()
    return (t if t.is_contiguous() else t.contiguous()).numpy()


_version = operator.attrgetter("_version")


class _Watch:
    """What the runner read, to detect that the model changed under it (cheaply)."""

    def __init__(self):
        self.slots: list[tuple[dict, str, object]] = []     # (container dict, key, object)
        self.tensors: list[tuple[torch.Tensor, int]] = []    # (tensor, its _version)

    def module(self, parent: nn.Module, name: str) -> nn.Module:
        m = parent._modules[name]
        self.slots.append((parent._modules, name, m))
        return m

    def tensor(self, mod: nn.Module, name: str) -> torch.Tensor | None:
        d = mod._parameters if name in mod._parameters else mod._buffers
        t = d.get(name)
        self.slots.append((d, name, t))
        if t is not None:
            self.tensors.append((t, t._version))
        return t

    def freeze(self) -> None:
        """Flatten for :meth:`stale`: C-level map() loops over plain tuples (a few us per call)."""
        self._dicts = tuple(d for d, _, _ in self.slots)
        self._keys = tuple(k for _, k, _ in self.slots)
        self._objs = tuple(o for _, _, o in self.slots)
        self._ts = tuple(t for t, _ in self.tensors)
        self._versions = tuple(v for _, v in self.tensors)

    def stale(self) -> str | None:
        try:   # tuple == compares identical objects without calling their __eq__
            same = tuple(map(dict.get, self._dicts, self._keys)) == self._objs
        except Exception:   # a replaced tensor's elementwise __eq__
            same = False
        if not same:
            k = next(k for d, k, o in self.slots if d.get(k) is not o)
            return f"{k!r} was replaced"
        if tuple(map(_version, self._ts)) != self._versions:
            return "a weight was modified in place"
        return None


def _linear_spec(w: _Watch, parent: nn.Module, attr: str, path: str) -> dict:
    mod = w.module(parent, attr)
    if type(mod) is nn.Linear:
        weight, bias = w.tensor(mod, "weight"), w.tensor(mod, "bias")
        return {"kind": "fp32", "weight": _np(weight, f"{path}.weight"),
                "bias": None if bias is None else _np(bias, f"{path}.bias")}
    if type(mod) is MixedPrecisionLinear:
        bias = w.tensor(mod, "bias")
        tiny = w.tensor(mod, "tiny_weight")
        bias_np = None if bias is None else _np(bias, f"{path}.bias")
        if tiny is not None and mod.act_bits == 0:
            # the module itself runs F.linear with its dequantized weight here (tiny layers)
            return {"kind": "fp32", "weight": _np(tiny, f"{path}.tiny_weight"), "bias": bias_np}
        return {"kind": "packed", **_packed(w, mod, path), "K": mod.qweight_k, "act_bits": int(mod.act_bits),
                "bias": bias_np}
    _fail(f"{path}: expected nn.Linear or chord MixedPrecisionLinear, got {type(mod).__name__}")


def _packed(w: _Watch, mod, path: str) -> dict:
    out = {}
    for name, dt in (("qweight", torch.uint8), ("scales", torch.float32), ("zeros", torch.float32),
                     ("perm", torch.int32)):
        out[name] = _np(w.tensor(mod, name), f"{path}.{name}", dt)
    out["buckets"] = [int(b) for b in mod.buckets]
    return out


def _table_spec(w: _Watch, parent: nn.Module, attr: str) -> dict:
    mod = w.module(parent, attr)
    if type(mod) is nn.Embedding:
        if mod.max_norm is not None:
            _fail(f"{attr}: max_norm renormalizes rows at lookup; not supported")
        return {"kind": "fp32", "weight": _np(w.tensor(mod, "weight"), f"{attr}.weight")}
    if type(mod) is QuantizedEmbedding:
        return {"kind": "packed", **_packed(w, mod, attr), "K": mod.embedding_dim, "act_bits": int(mod.act_bits)}
    _fail(f"{attr}: expected nn.Embedding or chord QuantizedEmbedding, got {type(mod).__name__}")


def _norm_spec(w: _Watch, parent: nn.Module, attr: str, dim: int, path: str) -> dict:
    mod = w.module(parent, attr)
    if type(mod) is not nn.LayerNorm:
        _fail(f"{path}: expected nn.LayerNorm, got {type(mod).__name__}")
    if tuple(mod.normalized_shape) != (dim,):
        _fail(f"{path}: expected normalized_shape ({dim},), got {tuple(mod.normalized_shape)}")
    wt, b = w.tensor(mod, "weight"), w.tensor(mod, "bias")
    return {"weight": None if wt is None else _np(wt, f"{path}.weight"),
            "bias": None if b is None else _np(b, f"{path}.bias"), "eps": float(mod.eps), "dim": dim}


def _check_model(model: SASRec) -> None:
    cls = type(model)
    for meth in ("forward", "encode"):
        if getattr(cls, meth) is not getattr(SASRec, meth):
            _fail(f"model: {cls.__name__}.{meth} overrides SASRec.{meth}; the fused runtime computes SASRec's")
    if getattr(cls, "score") is not SequentialRecommender.score:
        _fail(f"model: {cls.__name__}.score overrides the tied-embedding score")
    if model.training:
        _fail("model: in training mode (dropout would be active); call model.eval() first")
    if torch.nn.modules.module._global_forward_hooks or torch.nn.modules.module._global_forward_pre_hooks:
        _fail("model: global module forward hooks are registered; the fused runtime would skip them")
    for name, m in model.named_modules():
        if m._forward_hooks or m._forward_pre_hooks:
            _fail(f"model: module {name or '<root>'!r} has forward hooks; the fused runtime would skip them")
    for i, blk in enumerate(model.blocks):
        if type(blk) is not SASRecBlock:
            _fail(f"blocks.{i}: expected chord SASRecBlock, got {type(blk).__name__}")
        if type(blk.attn) is not CausalSelfAttention:
            _fail(f"blocks.{i}.attn: expected chord CausalSelfAttention, got {type(blk.attn).__name__}")
        if type(blk.ffn) is not FeedForward:   # FeedForward's activation is ReLU, fixed
            _fail(f"blocks.{i}.ffn: expected chord FeedForward (ReLU), got {type(blk.ffn).__name__}")
        if blk.norm != model.config["norm"]:
            _fail(f"blocks.{i}.norm: {blk.norm!r} differs from the model's {model.config['norm']!r}")


def _spec(model: SASRec, w: _Watch) -> dict:
    _check_model(model)
    cfg = model.config
    d = model.dim
    if cfg["norm"] not in ("query", "pre"):
        _fail(f"config['norm']: expected 'query' or 'pre', got {cfg['norm']!r}")
    blocks = []
    for i, blk in enumerate(model.blocks):
        p = f"blocks.{i}"
        blocks.append({
            "attn_norm": _norm_spec(w, blk, "attn_norm", d, f"{p}.attn_norm"),
            "ffn_norm": _norm_spec(w, blk, "ffn_norm", d, f"{p}.ffn_norm"),
            **{k: _linear_spec(w, blk.attn, k, f"{p}.attn.{k}") for k in ("q_proj", "k_proj", "v_proj", "out_proj")},
            **{k: _linear_spec(w, blk.ffn, k, f"{p}.ffn.{k}") for k in ("fc1", "fc2")},
        })
        w.module(model.blocks, str(i))
        w.module(blk, "attn")
        w.module(blk, "ffn")
        if blk.attn.heads != cfg["heads"]:
            _fail(f"{p}.attn.heads: {blk.attn.heads} differs from config heads={cfg['heads']}")
    w.module(model, "blocks")
    return {
        "config": {"num_items": model.num_items, "dim": d, "heads": int(cfg["heads"]), "max_len": model.max_len,
                   "ffn_hidden": int(cfg["ffn_hidden"]), "norm": cfg["norm"],
                   "emb_scale": float(torch.tensor(math.sqrt(d), dtype=torch.float32))},
        "item_emb": _table_spec(w, model, "item_emb"),
        "pos_emb": _table_spec(w, model, "pos_emb"),
        "blocks": blocks,
        "final_norm": _norm_spec(w, model, "final_norm", d, "final_norm"),
    }


class FusedSASRec:
    """A compiled SASRec: ``represent(seqs)`` == ``model(seqs)``; ``topk(seqs, k, candidates)``.

    Calls on one runner from several threads are serialized (shared scratch). Results never
    depend on the thread count; a row's result in another batch agrees to float32 rounding.
    """

    def __init__(self, model: SASRec, *, isa: str = "auto", check_stale: bool = True):
        if _cpu is None:  # pragma: no cover
            raise RuntimeError("chord.runtime needs the C++ extension chord_kernels._cpu (build it: "
                               "python setup.py build_ext --inplace)")
        self._watch = _Watch()
        spec = _spec(model, self._watch)
        self._watch.freeze()
        try:
            self._runner = _cpu.SASRecRunner(spec, isa)
        except ValueError as e:
            raise UnsupportedModelError(str(e)) from e
        self.check_stale = bool(check_stale)
        self.num_items, self.dim, self.max_len = model.num_items, model.dim, model.max_len
        self.item_table = "packed" if spec["item_emb"]["kind"] == "packed" else "fp32"
        self.packed_layers = sum(b[k]["kind"] == "packed" for b in spec["blocks"]
                                 for k in ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"))

    @property
    def isa(self) -> str:
        return self._runner.isa

    def is_stale(self) -> str | None:
        """None while the model is unchanged, else why it is stale."""
        return self._watch.stale()

    def _check(self, seqs) -> torch.Tensor:
        if self.check_stale:
            why = self._watch.stale()
            if why:
                raise StaleRuntimeError(f"chord.runtime: the model changed since compile ({why}; e.g. "
                                        "DeviceModel.apply / quantize_ re-swapped it): call chord.runtime.compile again")
        if not isinstance(seqs, torch.Tensor) or seqs.dim() != 2 or seqs.dtype != torch.int64:
            got = f"{seqs.dtype} {list(seqs.shape)}" if isinstance(seqs, torch.Tensor) else type(seqs).__name__
            raise ValueError(f"seqs: expected an int64 tensor [B, l] of item ids, got {got}")
        if seqs.device.type != "cpu":
            raise ValueError(f"seqs: expected a CPU tensor, got device {seqs.device}")
        if not 1 <= seqs.shape[1] <= self.max_len:
            raise ValueError(f"seqs: expected length 1 <= l <= max_len={self.max_len}, got {seqs.shape[1]}")
        return seqs if seqs.is_contiguous() else seqs.contiguous()

    def represent(self, seqs: torch.Tensor) -> torch.Tensor:
        """seqs int64 [B, l] (left-padded, 0 = padding) -> user representations float32 [B, d]."""
        seqs = self._check(seqs)
        out = torch.empty(seqs.shape[0], self.dim, dtype=torch.float32)
        self._runner.represent(seqs.numpy(), out.numpy(), max(1, torch.get_num_threads()))
        return out

    def topk(self, seqs: torch.Tensor, k: int, candidates: torch.Tensor | None = None):
        """Rerank: (scores float32 [B, k], item ids int64 [B, k]) of the user representation
        against the item table -- every item except the padding item 0 (``candidates`` None),
        or int64 candidate ids [C] (shared) / [B, C]. Descending score; equal scores -> smaller
        id first. A quantized table runs ``chord::mp_topk`` (its scores are exactly
        ``chord.scoring.mp_topk``'s); an fp32 table a float32 scan."""
        seqs = self._check(seqs)
        if not isinstance(k, int) or isinstance(k, bool):
            raise TypeError(f"k: expected an int, got {type(k).__name__}")
        cand = None
        if candidates is not None:
            if not isinstance(candidates, torch.Tensor) or candidates.dtype != torch.int64:
                got = candidates.dtype if isinstance(candidates, torch.Tensor) else type(candidates).__name__
                raise TypeError(f"candidates: expected an int64 tensor of item ids or None, got {got}")
            if candidates.dim() not in (1, 2) or (candidates.dim() == 2 and candidates.shape[0] != seqs.shape[0]):
                raise ValueError(f"candidates: expected [C] (shared) or [{seqs.shape[0]}, C], got {list(candidates.shape)}")
            cand = candidates.contiguous().numpy()
        avail = (self.num_items if cand is None else cand.shape[-1])
        if not 1 <= k <= avail:
            raise ValueError(f"k: expected 1 <= k <= {avail} ({'candidates per row' if cand is not None else 'items'}), got {k}")
        B = seqs.shape[0]
        values = torch.empty(B, k, dtype=torch.float32)
        ids = torch.empty(B, k, dtype=torch.int64)
        self._runner.topk(seqs.numpy(), k, cand, values.numpy(), ids.numpy(), max(1, torch.get_num_threads()))
        return values, ids

    def __repr__(self) -> str:
        return (f"FusedSASRec(dim={self.dim}, items={self.num_items}, packed_layers={self.packed_layers}, "
                f"item_table={self.item_table}, isa={self.isa})")


def compile_sasrec(model: SASRec, *, isa: str = "auto", check_stale: bool = True) -> FusedSASRec:
    """See :func:`chord.runtime.compile`."""
    if not isinstance(model, SASRec):
        _fail(f"model: expected chord.models.SASRec, got {type(model).__name__}")
    return FusedSASRec(model, isa=isa, check_stale=check_stale)
