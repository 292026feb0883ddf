"""CUDA kernels for ``chord::`` ops, from the Triton kernels in ``chord_kernels.triton``.

Triton is imported on the first CUDA call, never at ``import chord`` (no device probing, no
triton import cost on CPU-only machines). Without triton, CUDA tensors fall back to the
pure-torch reference with a warning, once.
"""
from __future__ import annotations

import warnings

import torch

from . import reference

_triton_impl = None


def _triton():
    """``chord_kernels.triton.mp_linear_packed``, or None when triton is unavailable."""
    global _triton_impl
    if _triton_impl is None:
        try:
            from chord_kernels.triton import mp_linear_packed
            _triton_impl = mp_linear_packed
        except ImportError as e:
            warnings.warn(f"chord: triton unavailable ({e}); CUDA mp_linear uses the slow pure-torch "
                          "reference", RuntimeWarning, stacklevel=3)
            _triton_impl = False
    return _triton_impl or None


def mp_linear(x, qweight, scales, zeros, perm, buckets, K, bias=None, act_bits=0):
    """CUDA ``chord::mp_linear``: the fused Triton kernels (same meaning as the CPU op)."""
    impl = _triton()
    if impl is None:
        return reference.mp_linear(x, qweight, scales, zeros, perm, buckets, K, bias, act_bits)
    return impl(x, qweight, scales, zeros, perm, buckets, K, bias, act_bits)


def _register():
    # quantize_pack runs once per adaptation: the reference (torch ops on the GPU) suffices.
    torch.library.register_kernel("chord::quantize_pack", "cuda", reference.quantize_pack)
    torch.library.register_kernel("chord::mp_linear", "cuda", mp_linear)
    # no Triton top-k yet: the reference (dequantize + matmul + topk on the GPU) keeps the op usable
    torch.library.register_kernel("chord::mp_topk", "cuda", reference.mp_topk)


_register()
