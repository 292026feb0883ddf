"""Shared helpers for tests/quantize: random strategies and the float64 reference model."""
from __future__ import annotations

import copy

import torch
from torch import nn

from chord.layers import quantizable_layers
from chord.quantize import QUANTIZED_TYPES
from chord.strategy import Strategy


def random_strategy(model: nn.Module, seed: int = 0, embeddings: bool = True, codebook=None) -> Strategy:
    """Uniformly random codes 0..3 for every quantizable layer (pruned rows included)."""
    g = torch.Generator().manual_seed(seed)
    layers = quantizable_layers(model, embeddings=embeddings)
    return Strategy({n: torch.randint(0, 4, (li.channels,), generator=g, dtype=torch.uint8)
                     for n, li in layers.items()}, codebook)


def float64_reference(float_model: nn.Module, swapped: nn.Module) -> nn.Module:
    """A float64 copy of ``float_model`` whose weights are the swapped model's dequantized
    weights (float64), i.e. exactly what the swapped model claims to compute."""
    ref = copy.deepcopy(float_model).double().eval()
    mods = dict(ref.named_modules())
    with torch.no_grad():
        for name, m in swapped.named_modules():
            if isinstance(m, QUANTIZED_TYPES):
                mods[name].weight.copy_(m.dequantized_weight(torch.float64))
    return ref


def assert_close_to_reference(out: torch.Tensor, ref: torch.Tensor, rtol: float = 2e-5):
    """fp32 kernel output vs float64 oracle: error within fp32 accumulation noise relative to
    the output's magnitude."""
    assert out.shape == ref.shape
    assert torch.isfinite(out).all()
    scale = ref.abs().max().clamp_min(1e-6)
    err = (out.double() - ref).abs().max()
    assert err <= rtol * scale, f"max error {float(err):.3e} > {rtol} x {float(scale):.3e}"
