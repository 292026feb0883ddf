"""Every ``chord::`` op, declared once with its fake (shape-only) implementation.

Kernels register against these names per device: the C++ extension for CPU
(``chord.backends.cpu``), Triton for CUDA (``chord.backends.cuda``); the pure-torch reference
(``chord.backends.reference``) is the CPU fallback when the extension is missing and the
ground truth in tests. Argument meanings are those of ``chord.format``.
"""
from __future__ import annotations

import torch

from .format import total_bytes

LIB = torch.library.Library("chord", "DEF")  # noqa: TOR901 - owner of the namespace

LIB.define(
    "quantize_pack(Tensor weight, Tensor perm, int[] buckets, str scheme) "
    "-> (Tensor qweight, Tensor scales, Tensor zeros)"
)
LIB.define(
    "mp_linear(Tensor x, Tensor qweight, Tensor scales, Tensor zeros, Tensor perm, "
    "int[] buckets, int K, Tensor? bias=None, int act_bits=0) -> Tensor"
)
# fused item scoring + top-k: (values float32 [M, k], indices int64 [M, k] item ids); candidates
# None (all N rows), int64 [C] (shared) or [M, C]; ties -> smaller item id first
LIB.define(
    "mp_topk(Tensor x, Tensor qweight, Tensor scales, Tensor zeros, Tensor perm, int[] buckets, int K, "
    "int k, Tensor? candidates=None, int act_bits=0) -> (Tensor values, Tensor indices)"
)


@torch.library.register_fake("chord::quantize_pack")
def _quantize_pack_fake(weight, perm, buckets, scheme):
    N, K = weight.shape
    qw = weight.new_empty((total_bytes(list(buckets), K),), dtype=torch.uint8)
    return qw, weight.new_empty((N,), dtype=torch.float32), weight.new_empty((N,), dtype=torch.float32)


@torch.library.register_fake("chord::mp_linear")
def _mp_linear_fake(x, qweight, scales, zeros, perm, buckets, K, bias=None, act_bits=0):
    torch._check(x.dim() == 2, lambda: f"chord::mp_linear: x must be 2-D [M, K], got {x.dim()}-D")
    return x.new_empty((x.shape[0], perm.shape[0]))


@torch.library.register_fake("chord::mp_topk")
def _mp_topk_fake(x, qweight, scales, zeros, perm, buckets, K, k, candidates=None, act_bits=0):
    torch._check(x.dim() == 2, lambda: f"chord::mp_topk: x must be 2-D [M, K], got {x.dim()}-D")
    M = x.shape[0]
    return x.new_empty((M, k), dtype=torch.float32), x.new_empty((M, k), dtype=torch.int64)
