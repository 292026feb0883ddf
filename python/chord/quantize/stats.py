"""Size accounting for swapped models."""

from __future__ import annotations

from torch import nn

from .api import QUANTIZED_TYPES


def model_bytes(model: nn.Module) -> dict[str, int]:
    """Bytes a device must hold to run ``model``: ``packed`` (``MixedWeight.nbytes`` of every
    swapped module: packed integers, scales, zeros, permutation), ``float`` (every parameter not
    replaced by a packed weight: biases, norms, float tables; shared tensors counted once) and
    ``total``. Kept frozen float weights (``keep_float``) are not counted: they are the device's
    re-packing source, not what inference reads. Tiny weights also count their
    dequantized fp32 copy (see ``MixedPrecisionLinear``)."""
    packed, seen, flt = 0, set(), 0
    for m in model.modules():
        if isinstance(m, QUANTIZED_TYPES):
            packed += m.mw.nbytes
            if getattr(m, "tiny_weight", None) is not None:  # the dequantized copy of a tiny weight
                packed += m.tiny_weight.numel() * m.tiny_weight.element_size()
    for p in model.parameters():
        if p.data_ptr() in seen:
            continue
        seen.add(p.data_ptr())
        flt += p.numel() * p.element_size()
    return {"packed": packed, "float": flt, "total": packed + flt}
