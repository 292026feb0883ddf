"""``DeviceModel``: the device side of CHORD's adaptation (docs/method.md §5).

The device holds the frozen fp32 backbone once and the current packed weights. A strategy
arrives as bytes; :meth:`DeviceModel.apply` decodes it (checking it was made for this model),
applies the device's own budget remap, re-quantizes every named layer from its frozen float
weight with the C++ packer (``chord.pack``), and swaps the packed buffers in -- no autograd,
no retraining. The previous packed buffers are released on swap, so re-adapting does not grow
memory; the float weights are never copied (the swapped modules reference them).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from ..codebook import Codebook
from ..functional import pack_checked
from ..mixed_weight import MixedWeight, check_codes
from .api import quantize_
from .concurrency import model_lock
from .layers import FilterFn, channel_sizes, quantizable_layers
from .strategy import Strategy, model_fingerprint


@dataclass
class AdaptStats:
    """Timings (seconds, ``time.perf_counter``) and sizes of one :meth:`DeviceModel.apply`."""

    decode_s: float
    pack_s: dict[str, float] = field(default_factory=dict)  # per layer: quantize + pack + swap
    total_s: float = 0.0
    avg_bits: float = 0.0
    packed_bytes: int = 0  # packed weights held after the swap (all quantized layers)
    wire_bytes: int = 0  # size of the strategy bytes received

    def __str__(self) -> str:
        slow = sorted(self.pack_s.items(), key=lambda kv: -kv[1])[:3]
        return (
            f"adapt: total {self.total_s * 1e3:.2f} ms (decode {self.decode_s * 1e3:.3f} ms, "
            f"pack {sum(self.pack_s.values()) * 1e3:.2f} ms over {len(self.pack_s)} layers; slowest "
            + ", ".join(f"{n} {t * 1e3:.2f} ms" for n, t in slow)
            + f"), avg {self.avg_bits:.3f} bits, {self.packed_bytes} packed bytes, {self.wire_bytes} wire bytes"
        )


class DeviceModel:
    """A model whose quantizable layers are re-packed from frozen fp32 weights per strategy.

    Args:
        model: float model (modified in place: its layers are swapped, parameters frozen).
        embeddings: also quantize ``nn.Embedding`` tables (e.g. the item table for scoring).
        filter_fn: ``(module, name) -> bool`` choosing the layers (default: all Linear/Conv2d).
        remap: the device's budget remap of widths, e.g. ``{8: 4}`` (applied to every strategy).
        initial_bits: width of every channel until the first strategy arrives.
        act_bits: 0 (exact activations) or 8 (dynamic int8).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        embeddings: bool = False,
        filter_fn: FilterFn | None = None,
        remap: Mapping[int, int] | None = None,
        initial_bits: int = 8,
        act_bits: int = 0,
    ):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        self.fingerprint = model_fingerprint(model)
        layers = quantizable_layers(model, filter_fn, embeddings=embeddings)
        if not layers:
            raise ValueError("model: no quantizable layers selected (check filter_fn / embeddings)")
        self.layer_sizes = channel_sizes(layers)
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        # the frozen weights, by reference: the swapped modules keep the same tensors
        self.frozen: dict[str, torch.Tensor] = {n: li.module.weight.detach() for n, li in layers.items()}
        for n, w in self.frozen.items():  # checked once: frozen weights never change
            if w.dtype != torch.float32 or not w.is_contiguous():
                raise TypeError(f"model: layer {n!r}: expected a contiguous float32 weight, got {w.dtype}")
            if not bool(torch.isfinite(w).all()):
                raise ValueError(f"model: layer {n!r}: weight contains NaN or Inf")
        self.remap = dict(remap) if remap else None
        self.act_bits = act_bits
        first = self._remapped(Strategy.uniform(layers, initial_bits))
        quantize_(model, first, keep_float=True, act_bits=act_bits)
        self.model = model
        self.modules = {n: model.get_submodule(n) for n in layers}
        self.strategy = first

    def _remapped(self, s: Strategy) -> Strategy:
        return s.remap(self.remap) if self.remap else s

    @torch.no_grad()
    def apply(self, strategy: bytes | Strategy) -> AdaptStats:
        """Decode ``strategy`` (wire bytes, or a Strategy), remap, pack every layer it names from
        the frozen weights and swap the packed weights in. Returns timings and sizes."""
        t0 = time.perf_counter()
        if isinstance(strategy, Strategy):
            s, wire = strategy, 0
            s._sizes(self.layer_sizes)  # same channel counts, known layers
        else:
            s = Strategy.from_bytes(strategy, expected_fingerprint=self.fingerprint, layer_infos=self.layer_sizes)
            wire = len(strategy)
        s = self._remapped(s)
        t1 = time.perf_counter()
        stats = AdaptStats(decode_s=t1 - t0, wire_bytes=wire)
        # build every new packing first (the model keeps serving the old one), then swap them
        # all in one step under the model's lock: a concurrent forward sees all old or all new
        staged = []
        for name, codes in s.codes.items():
            ta = time.perf_counter()
            mod = self.modules[name]
            staged.append((mod, mod.staged(_pack_frozen(self.frozen[name], codes, s.codebook))))
            stats.pack_s[name] = time.perf_counter() - ta
        merged = dict(self.strategy.codes)
        merged.update(s.codes)
        new_strategy = Strategy(merged, s.codebook)
        with model_lock(self.model).write():
            for mod, st in staged:
                mod.install(st)
            self.strategy = new_strategy
        stats.total_s = time.perf_counter() - t0
        stats.avg_bits = self.strategy.avg_bits(self.layer_sizes)
        stats.packed_bytes = self.packed_bytes
        return stats

    @property
    def packed_bytes(self) -> int:
        """Bytes of the packed weights currently held (``MixedWeight.nbytes`` summed)."""
        return sum(m.mw.nbytes for m in self.modules.values())

    @property
    def codebook(self) -> Codebook:
        return self.strategy.codebook

    def __call__(self, *args, **kwargs):
        return self.model(*args, **kwargs)

    def __repr__(self) -> str:
        return (
            f"DeviceModel({type(self.model).__name__}, layers={len(self.modules)}, "
            f"fingerprint={self.fingerprint.hex()}, remap={self.remap}, strategy={self.strategy!r})"
        )


def _pack_frozen(weight: torch.Tensor, codes: torch.Tensor, codebook: Codebook) -> MixedWeight:
    """``chord.pack`` for a frozen weight already validated (contiguous float32, finite) at
    construction: the same C++ ``chord::quantize_pack`` kernel, without re-scanning the
    weight for NaN/Inf on every adaptation."""
    w = weight.reshape(weight.shape[0], -1)
    return pack_checked(w, check_codes(codes, w.shape[0], codebook), codebook)
