"""Which modules of a model are quantizable, and what a channel of each is.

A *channel* is the unit that gets one 2-bit code (docs/method.md, "What a channel is"):
  * ``nn.Linear``  weight [out, in]          -> channel = output row,    elems = in
  * ``nn.Conv2d``  weight [out, in/g, kh, kw] -> channel = output filter, elems = in/g * kh * kw
  * ``nn.Embedding`` weight [num, dim]        -> channel = row (one item), elems = dim
    (excluded by default: embedding tables stay float unless asked for)
  * grouped ``nn.Conv2d`` (groups > 1) is not enumerated

Modules already swapped by :func:`chord.quantize_` report the same facts (they carry
``chord_layer_kind`` and ``chord_weight_shape``), so the enumeration -- and the model
fingerprint built from it -- is identical before and after swapping.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from torch import nn

KINDS = ("linear", "conv2d", "embedding")

#: ``filter_fn(module, name) -> bool`` (torchao's argument order)
FilterFn = Callable[[nn.Module, str], bool]


@dataclass(frozen=True)
class LayerInfo:
    """One quantizable layer.

    name: fully qualified module name (``model.get_submodule(name)`` returns it);
    kind: one of ``KINDS``; channels: number of output channels C (codes per layer);
    elems: weight elements per channel K (so the layer holds C*K weights);
    shape: the float weight's shape.
    """

    name: str
    module: nn.Module
    kind: str
    channels: int
    elems: int
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return self.channels * self.elems


#: what the size helpers accept: a model, ``{name: LayerInfo}``, an iterable of LayerInfo, or
#: ``{name: (channels, elems)}`` (see :func:`channel_sizes`)
Layers = nn.Module | Mapping[str, LayerInfo] | Mapping[str, tuple[int, int]] | Iterable[LayerInfo]


def layer_kind(module: nn.Module) -> str | None:
    """'linear' / 'conv2d' / 'embedding' for a module we can quantize, else None."""
    kind = getattr(module, "chord_layer_kind", None)
    if kind is not None:
        return kind
    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, nn.Conv2d):
        return "conv2d"
    if isinstance(module, nn.Embedding):
        return "embedding"
    return None


def weight_shape(module: nn.Module) -> tuple[int, ...]:
    shape = getattr(module, "chord_weight_shape", None)
    if shape is not None:
        return tuple(int(s) for s in shape)
    return tuple(int(s) for s in module.weight.shape)


def layer_info(name: str, module: nn.Module) -> LayerInfo:
    kind = layer_kind(module)
    if kind is None:
        raise TypeError(f"module {name!r}: expected nn.Linear, nn.Conv2d or nn.Embedding, got {type(module).__name__}")
    shape = weight_shape(module)
    return LayerInfo(name, module, kind, shape[0], math.prod(shape[1:]), shape)


def quantizable_layers(
    model: nn.Module, filter_fn: FilterFn | None = None, *, embeddings: bool = False
) -> dict[str, LayerInfo]:
    """Quantizable layers of ``model`` in ``named_modules()`` order (deterministic).

    Embedding tables are included only with ``embeddings=True``; ``filter_fn(module, name)``
    further chooses. A module reachable under several names (shared) is listed once, under
    its first name.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    out: dict[str, LayerInfo] = {}
    for name, mod in model.named_modules():
        kind = layer_kind(mod)
        if kind is None or (kind == "embedding" and not embeddings):
            continue
        if kind == "conv2d" and getattr(mod, "groups", 1) != 1:
            continue  # a grouped filter sees only its group: not one channel of a [C, K] matrix
        if filter_fn is not None and not filter_fn(mod, name):
            continue
        out[name] = layer_info(name, mod)
    return out


def channel_sizes(layers: Layers) -> dict[str, tuple[int, int]]:
    """Normalize ``layers`` to ``{name: (channels, elems)}``.

    Accepts a model, a ``{name: LayerInfo}`` mapping, an iterable of LayerInfo, or a
    ``{name: (channels, elems)}`` mapping.
    """
    if isinstance(layers, nn.Module):
        layers = quantizable_layers(layers)
    if isinstance(layers, Mapping):
        items = list(layers.items())
    elif isinstance(layers, Iterable):
        items = [(li.name, li) for li in layers]
    else:
        raise TypeError(
            f"layers: expected a model, {{name: LayerInfo}} or {{name: (channels, elems)}}, got {type(layers).__name__}"
        )
    out = {}
    for name, v in items:
        if isinstance(v, LayerInfo):
            out[name] = (v.channels, v.elems)
        else:
            try:
                c, k = (int(x) for x in v)
            except (TypeError, ValueError) as e:
                raise TypeError(f"layers[{name!r}]: expected LayerInfo or (channels, elems), got {v!r}") from e
            out[name] = (c, k)
    return out


def total_channels(layers: Layers) -> int:
    return sum(c for c, _ in channel_sizes(layers).values())
