"""``mp_linear``: y = x @ W_hat.T + bias for a packed ``MixedWeight``."""
from __future__ import annotations

import torch

from .backends import cpu as cpu_backend
from .mixed_weight import MixedWeight

_ACT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def check_linear_args(x, mw, bias, act_bits):
    if not isinstance(mw, MixedWeight):
        raise TypeError(f"mw: expected chord.MixedWeight, got {type(mw).__name__}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x: expected a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in _ACT_DTYPES:
        raise TypeError(f"x: expected dtype float32, float16 or bfloat16, got {x.dtype}")
    if x.dim() < 1 or x.shape[-1] != mw.K:
        raise ValueError(f"x: expected shape [..., {mw.K}] (K of the weight), got {list(x.shape)}")
    on_cpu = x.is_cpu and mw.qweight.is_cpu  # (comparing torch.device objects costs ~1 us)
    if not on_cpu and x.device != mw.device:
        raise ValueError(f"x: expected device {mw.device} (the weight's), got {x.device}")
    if bias is not None:
        if not isinstance(bias, torch.Tensor) or bias.shape != (mw.N,):
            raise ValueError(f"bias: expected shape [{mw.N}], got "
                             f"{list(bias.shape) if isinstance(bias, torch.Tensor) else type(bias).__name__}")
        if not bias.dtype.is_floating_point:
            raise TypeError(f"bias: expected a float dtype, got {bias.dtype}")
        if not (on_cpu and bias.is_cpu) and bias.device != mw.device:
            raise ValueError(f"bias: expected device {mw.device}, got {bias.device}")
    if act_bits not in (0, 8):
        raise ValueError(f"act_bits: expected 0 (exact activations) or 8 (dynamic int8), got {act_bits}")


def mp_linear(x: torch.Tensor, mw: MixedWeight, bias: torch.Tensor | None = None, act_bits: int = 0) -> torch.Tensor:
    """x [..., K] (fp32/fp16/bf16) -> [..., N] in x.dtype, equal to ``x @ mw.dequantize().T + bias``.

    ``act_bits=8`` quantizes each row of x to int8 on the fly (per-row symmetric) and uses
    integer dot products: faster on CPU, error bounded by the activation rounding.
    """
    check_linear_args(x, mw, bias, act_bits)
    if cpu_backend.eager_ok(x) and mw.qweight.is_cpu:
        cache = mw.__dict__.get("_cpu_handle")
        if cache is None:
            cache = mw.__dict__["_cpu_handle"] = cpu_backend.HandleCache()
        h = cpu_backend.packed_handle(cache, mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.K)
        return cpu_backend.mp_linear_eager(x, h, mw.N, mw.K, bias, act_bits)
    lead = x.shape[:-1]
    x2 = x.reshape(-1, mw.K)
    if x2.shape[0] == 0:
        return x.new_zeros(*lead, mw.N)
    y = torch.ops.chord.mp_linear(x2, mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.K, bias, act_bits)
    return y.reshape(*lead, mw.N)
