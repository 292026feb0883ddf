"""CUDA kernels for ``chord::`` ops, from the Triton kernels in ``chord_kernels.triton``.
Triton is imported on first use, never at ``import chord`` (no device probing at import)."""
from __future__ import annotations

import torch

from . import reference


def _register():
    # filled in by the Triton work (issue 3); until then CUDA tensors use the reference
    torch.library.register_kernel("chord::quantize_pack", "cuda", reference.quantize_pack)
    torch.library.register_kernel("chord::mp_linear", "cuda", reference.mp_linear)


_register()
