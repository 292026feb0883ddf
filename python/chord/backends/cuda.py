"""CUDA kernels for ``chord::`` ops, from the Triton kernels in ``chord_kernels.triton``.

Triton is imported on the first CUDA call, never at ``import chord`` (no device probing, no
triton import cost on CPU-only machines). Without triton, each CUDA op runs the pure-torch
reference on the GPU and says so (``fallback``): a warning on its first call, and a count that
``chord bench`` reads to label the result.
"""

from __future__ import annotations

import torch

from .. import ops
from . import fallback, reference

_kernels = None
_triton_error = ""


def _triton():
    """The ``chord_kernels.triton`` package, or None when triton is unavailable."""
    global _kernels, _triton_error
    if _kernels is None:
        try:
            import chord_kernels.triton as kernels

            _kernels = kernels
        except ImportError as e:
            _triton_error = f"triton unavailable: {e}"
            _kernels = False
    return _kernels or None


def mp_linear(
    x: torch.Tensor,
    qweight: torch.Tensor,
    scales: torch.Tensor,
    zeros: torch.Tensor,
    perm: torch.Tensor,
    buckets: list[int],
    K: int,
    bias: torch.Tensor | None = None,
    act_bits: int = 0,
) -> torch.Tensor:
    """CUDA ``chord::mp_linear``: the fused Triton GEMV/GEMM kernels (same meaning as the CPU op)."""
    kernels = _triton()
    if kernels is None:
        fallback.served_by_reference("chord::mp_linear", "cuda", _triton_error)
        return reference.mp_linear(x, qweight, scales, zeros, perm, buckets, K, bias, act_bits)
    return kernels.mp_linear_packed(x, qweight, scales, zeros, perm, buckets, K, bias, act_bits)


def mp_topk(
    x: torch.Tensor,
    qweight: torch.Tensor,
    scales: torch.Tensor,
    zeros: torch.Tensor,
    perm: torch.Tensor,
    buckets: list[int],
    K: int,
    k: int,
    candidates: torch.Tensor | None = None,
    act_bits: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """CUDA ``chord::mp_topk``: the fused Triton scan + exact merge (same results as the CPU op)."""
    kernels = _triton()
    if kernels is None:
        fallback.served_by_reference("chord::mp_topk", "cuda", _triton_error)
        return reference.mp_topk(x, qweight, scales, zeros, perm, buckets, K, k, candidates, act_bits)
    return kernels.mp_topk_packed(x, qweight, scales, zeros, perm, buckets, K, k, candidates, act_bits)


def quantize_pack(
    weight: torch.Tensor, perm: torch.Tensor, buckets: list[int], scheme: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """CUDA ``chord::quantize_pack``: the Triton packer, bit-identical to the CPU one."""
    kernels = _triton()
    if kernels is None:
        fallback.served_by_reference("chord::quantize_pack", "cuda", _triton_error)
        return reference.quantize_pack(weight, perm, buckets, scheme)
    return kernels.quantize_pack(weight, perm, buckets, scheme)


def kernels() -> dict:
    """op name -> the CUDA implementation registered for it."""
    return {"chord::quantize_pack": quantize_pack, "chord::mp_linear": mp_linear, "chord::mp_topk": mp_topk}


def _register() -> None:
    for op, fn in kernels().items():  # behind the op's checks (chord.ops)
        ops.register_kernel(op.split("::")[1], "cuda", fn)


_register()
