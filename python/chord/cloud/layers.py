"""Which layers of a backbone the cloud plans codes for, and their shapes.

The authoritative list comes from ``chord.quantize.layers.quantizable_layers`` (SWAP) when it is
available; this module reduces it to the few facts the cloud needs (a ``LayerSpec`` per layer),
and falls back to a local scan of ``nn.Linear`` / ``nn.Conv2d`` modules otherwise, so the cloud
side never depends on how the device packs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn


@dataclass(frozen=True)
class LayerSpec:
    """One quantizable layer: ``channels`` output channels of ``elems`` weight elements each.

    name: module name in the backbone (the key of a ``Strategy``); kind: "linear" | "conv2d";
    shape: the module's weight shape.
    """

    name: str
    kind: str
    shape: tuple[int, ...]

    @property
    def channels(self) -> int:
        return int(self.shape[0])

    @property
    def elems(self) -> int:
        n = 1
        for s in self.shape[1:]:
            n *= int(s)
        return n

    @property
    def numel(self) -> int:
        return self.channels * self.elems


def default_filter(module: nn.Module, name: str) -> bool:
    """Dense Linear / Conv2d weights only: embeddings, biases and norms stay float (method.md)."""
    return isinstance(module, (nn.Linear, nn.Conv2d))


def layer_specs(model: nn.Module, filter_fn: Callable[[nn.Module, str], bool] | None = None) -> list[LayerSpec]:
    """The quantizable layers of ``model`` in module order."""
    filter_fn = filter_fn or default_filter
    try:
        from chord.quantize.layers import quantizable_layers  # SWAP's authoritative scan
    except ImportError:
        quantizable_layers = None
    if quantizable_layers is not None:
        try:
            infos = quantizable_layers(model, filter_fn)
        except TypeError:
            infos = None
        if infos:
            specs = []
            for name, info in infos.items():
                mod = getattr(info, "module", None) or model.get_submodule(name)
                if not isinstance(mod, (nn.Linear, nn.Conv2d)):
                    continue  # embeddings / scoring tables: not planned by the cloud by default
                specs.append(LayerSpec(name, "conv2d" if isinstance(mod, nn.Conv2d) else "linear",
                                       tuple(mod.weight.shape)))
            return specs
    specs = []
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Linear, nn.Conv2d)) and filter_fn(mod, name):
            specs.append(LayerSpec(name, "conv2d" if isinstance(mod, nn.Conv2d) else "linear",
                                   tuple(mod.weight.shape)))
    if not specs:
        raise ValueError(f"model: no quantizable nn.Linear/nn.Conv2d layers found in {type(model).__name__}")
    return specs


def channel_sizes(specs: list[LayerSpec]) -> torch.Tensor:
    """float32 [sum C]: elements per channel, concatenated over layers (the budget weights)."""
    return torch.cat([torch.full((s.channels,), float(s.elems)) for s in specs])
