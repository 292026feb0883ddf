"""CUDA kernels for ``chord::`` ops, from the Triton kernels in ``chord_kernels.triton``.

Triton is imported on the first CUDA call, never at ``import chord`` (no device probing, no
triton import cost on CPU-only machines). Without triton, CUDA tensors fall back to the
pure-torch reference with a warning, once.
"""
from __future__ import annotations

import warnings

import torch

from . import reference

_kernels = None


def _triton():
    """The ``chord_kernels.triton`` package, or None when triton is unavailable."""
    global _kernels
    if _kernels is None:
        try:
            import chord_kernels.triton as kernels
            _kernels = kernels
        except ImportError as e:
            warnings.warn(f"chord: triton unavailable ({e}); CUDA ops use the slow pure-torch reference",
                          RuntimeWarning, stacklevel=3)
            _kernels = False
    return _kernels or None


def mp_linear(x, qweight, scales, zeros, perm, buckets, K, bias=None, act_bits=0):
    """CUDA ``chord::mp_linear``: the fused Triton GEMV/GEMM kernels (same meaning as the CPU op)."""
    kernels = _triton()
    if kernels is None:
        return reference.mp_linear(x, qweight, scales, zeros, perm, buckets, K, bias, act_bits)
    return kernels.mp_linear_packed(x, qweight, scales, zeros, perm, buckets, K, bias, act_bits)


def mp_topk(x, qweight, scales, zeros, perm, buckets, K, k, candidates=None, act_bits=0):
    """CUDA ``chord::mp_topk``: the fused Triton scan + exact merge (same results as the CPU op)."""
    kernels = _triton()
    if kernels is None:
        return reference.mp_topk(x, qweight, scales, zeros, perm, buckets, K, k, candidates, act_bits)
    return kernels.mp_topk_packed(x, qweight, scales, zeros, perm, buckets, K, k, candidates, act_bits)


def quantize_pack(weight, perm, buckets, scheme):
    """CUDA ``chord::quantize_pack``: the Triton packer, bit-identical to the CPU one."""
    kernels = _triton()
    if kernels is None:
        return reference.quantize_pack(weight, perm, buckets, scheme)
    return kernels.quantize_pack(weight, perm, buckets, scheme)


def _register():
    torch.library.register_kernel("chord::quantize_pack", "cuda", quantize_pack)
    torch.library.register_kernel("chord::mp_linear", "cuda", mp_linear)
    torch.library.register_kernel("chord::mp_topk", "cuda", mp_topk)


_register()
