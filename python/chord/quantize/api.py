"""``quantize_`` / ``dequantize_``: swap chord's mixed-precision modules into any torch model,
in place (torchao style), and back.

Which modules: ``nn.Linear`` -> :class:`MixedPrecisionLinear`, ``nn.Conv2d`` (groups=1) ->
:class:`MixedPrecisionConv2d`, ``nn.Embedding`` -> :class:`QuantizedEmbedding` (embeddings only
when a strategy names them or ``embeddings=True``: docs/method.md keeps tables float by default).
A model may define ``chord_modules_swapped()``: both functions call it after swapping (the
tied-embedding recommenders of ``chord.models`` route ``score`` to the packed item table there).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import torch
from torch import nn

from ..codebook import Codebook
from ..mixed_weight import check_codes
from .concurrency import guard_loads, has_lock, model_lock
from .layers import FilterFn, quantizable_layers
from .modules import SWAPS, MixedPrecisionConv2d, MixedPrecisionLinear, QuantizedEmbedding
from .strategy import Strategy

QUANTIZED_TYPES = (MixedPrecisionLinear, MixedPrecisionConv2d, QuantizedEmbedding)


def _codes_for(spec, channels: int, codebook: Codebook, name: str) -> torch.Tensor:
    """A per-module spec (bits int or codes tensor) -> uint8 codes [channels]."""
    if isinstance(spec, torch.Tensor):
        return check_codes(spec, channels, codebook, name=f"strategy[{name!r}]")
    if isinstance(spec, int) and not isinstance(spec, bool):
        if spec not in codebook.bits:
            raise ValueError(f"strategy[{name!r}]: bits {spec} is not a width of the codebook {codebook.bits}")
        return torch.full((channels,), codebook.bits.index(spec), dtype=torch.uint8)
    raise TypeError(
        f"strategy[{name!r}]: expected bits (int) or codes (uint8 tensor [{channels}]), got {type(spec).__name__}"
    )


def _set_submodule(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def _places(model: nn.Module, mod: nn.Module) -> list[tuple[nn.Module, str]]:
    """Every (parent, attribute) holding ``mod``: a module shared under several names is
    swapped under all of them (``named_modules`` lists it once)."""
    return [
        (parent, attr)
        for _, parent in model.named_modules(remove_duplicate=False)
        for attr, child in parent._modules.items()
        if child is mod
    ]


def quantize_(
    model: nn.Module,
    strategy: Strategy | Mapping | None = None,
    *,
    bits: int | None = None,
    filter_fn: FilterFn | None = None,
    embeddings: bool = False,
    codebook: Codebook | None = None,
    keep_float: bool = False,
    act_bits: int = 0,
) -> nn.Module:
    """Quantize ``model`` in place; returns it.

    Exactly one of:
      * ``strategy``: a :class:`~chord.Strategy` (codes per channel, keyed by module name) or a
        mapping ``{module name: bits | uint8 codes [C]}``; only the modules it names are swapped;
      * ``bits``: 8, 4 or 2 (any width of the codebook) for every Linear/Conv2d (and Embedding
        with ``embeddings=True``).
    ``filter_fn(module, name) -> bool`` restricts further. ``codebook`` defaults to the
    strategy's (else ``Codebook.default()``). ``keep_float=True`` keeps a reference (no copy) to
    each frozen float weight so the module can :meth:`repack` and ``dequantize_`` is exact.
    ``act_bits=8``: dynamic int8 activations. A module that is already swapped is re-packed
    from its kept float weight (or raises if none was kept).
    """
    if (strategy is None) == (bits is None):
        raise ValueError(
            f"quantize_: give exactly one of strategy= or bits=, got {'both' if strategy is not None else 'neither'}"
        )
    if isinstance(strategy, Strategy):
        codebook = codebook or strategy.codebook
        specs: Mapping = strategy.codes
    elif strategy is not None:
        if not isinstance(strategy, Mapping):
            raise TypeError(
                f"strategy: expected chord.Strategy or a mapping name -> bits/codes, got {type(strategy).__name__}"
            )
        specs = strategy
    codebook = codebook or Codebook.default()
    if bits is not None:
        if bits not in codebook.bits or bits == 0:
            raise ValueError(f"bits: expected one of {sorted(set(codebook.bits) - {0})}, got {bits!r}")
        layers = quantizable_layers(model, filter_fn, embeddings=embeddings)
        specs = {n: bits for n in layers}
    else:
        layers = quantizable_layers(model, filter_fn, embeddings=True)
        allowed = layers if filter_fn is None else quantizable_layers(model, embeddings=True)
        modules = dict(model.named_modules())
        for n in specs:
            if n not in allowed:
                what = f"a {type(modules[n]).__name__}" if n in modules else "no module"
                raise KeyError(
                    f"strategy: {n!r} is {what}, not a quantizable layer of the model (Linear, "
                    f"Conv2d with groups=1, Embedding; known: {list(allowed)[:8]}"
                    f"{'...' if len(allowed) > 8 else ''})"
                )
    # all or nothing: every code list checked, then every new packing built (a NaN weight in any
    # layer raises here, the model untouched), then all swapped in one step under the model's lock
    plan = [(layers[n], _codes_for(spec, layers[n].channels, codebook, n)) for n, spec in specs.items() if n in layers]
    built = []
    with torch.no_grad():
        for info, codes in plan:
            mod = info.module
            if isinstance(mod, QUANTIZED_TYPES):
                built.append((mod, mod.staged(mod.packed_from_float(codes, codebook)), None))
            else:
                new = SWAPS[info.kind].from_float(mod, codes, codebook, keep_float=keep_float, act_bits=act_bits)
                built.append((mod, None, new))
        places = {id(mod): _places(model, mod) for mod, _, new in built if new is not None}
        guard_loads(model)
        swap = model_lock(model).write() if keep_float or has_lock(model) else contextlib.nullcontext()
        with swap:
            for mod, staged, new in built:
                if new is None:
                    mod.install(staged)
                else:
                    for parent, attr in places[id(mod)]:
                        parent._modules[attr] = new
            _notify_swapped(model)
    return model


def dequantize_(model: nn.Module) -> nn.Module:
    """Replace every chord module by its float module, in place; returns ``model``.

    Weights come from the kept frozen float weight when the module was swapped with
    ``keep_float=True`` (exact restore: the very same tensor), else from the dequantized packed
    weight (what the quantized model computed with; the original float values are gone).
    """
    for name, mod in list(model.named_modules()):
        if isinstance(mod, QUANTIZED_TYPES):
            _set_submodule(model, name, mod.to_float())
    _notify_swapped(model)
    return model


def _notify_swapped(model: nn.Module) -> None:
    """Call the model's ``chord_modules_swapped()`` hook, if it has one, after modules were swapped
    (``chord.models`` uses it to score against a quantized item table directly). ``quantize_``
    knows no model zoo: a model opts in by defining the hook."""
    hook = getattr(model, "chord_modules_swapped", None)
    if callable(hook):
        hook()
