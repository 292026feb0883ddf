"""CUDA kernels for ``chord::`` ops, from the Triton kernels in ``chord_kernels.triton``.

Triton is imported on the first CUDA call, never at ``import chord`` (no device probing, no
triton import cost on CPU-only machines). Without triton, each CUDA op runs the pure-torch
reference on the GPU and says so (``fallback``): a warning on its first call, and a count that
``chord bench`` reads to label the result.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from .. import ops
from . import fallback, reference

_kernels = None
_triton_error = ""


def _triton():
    """The ``chord_kernels.triton`` package, or None when triton is unavailable."""
    global _kernels, _triton_error
    if _kernels is None:
        # only triton itself may be missing: a broken chord_kernels.triton must fail loudly, not
        # pass for "triton unavailable" and serve every call from the reference
        if importlib.util.find_spec("triton") is None:
            _triton_error = "triton unavailable: the triton package is not installed"
            _kernels = False
        else:
            import chord_kernels.triton as kernels

            _kernels = kernels
    return _kernels or None


def _triton_or_reference(name: str, triton_name: str) -> Callable[..., Any]:
    """The CUDA kernel of ``chord::name``: ``chord_kernels.triton.<triton_name>`` (which takes the
    flat schema arguments), or the reference when triton is unavailable. Takes the arguments as
    ``chord.ops.op_args`` gives them, as the reference does."""
    op, ref = f"chord::{name}", getattr(reference, name)

    def kernel(*args: Any) -> Any:
        kernels = _triton()
        if kernels is None:
            fallback.served_by_reference(op, "cuda", _triton_error)
            return ref(*args)
        return getattr(kernels, triton_name)(*ops.flat_args(name, args))

    kernel.__name__ = kernel.__qualname__ = name
    kernel.__doc__ = f"CUDA ``{op}``: the Triton ``{triton_name}`` (same meaning and results as the CPU op)."
    return kernel


#: the fused Triton GEMV/GEMM kernels
mp_linear = _triton_or_reference("mp_linear", "mp_linear_packed")
#: the fused Triton scan + exact merge
mp_topk = _triton_or_reference("mp_topk", "mp_topk_packed")
#: the Triton packer, bit-identical to the CPU one
quantize_pack = _triton_or_reference("quantize_pack", "quantize_pack")


def kernels() -> dict[str, Callable[..., Any]]:
    """op name -> the CUDA implementation registered for it."""
    return {"chord::quantize_pack": quantize_pack, "chord::mp_linear": mp_linear, "chord::mp_topk": mp_topk}


def _register() -> None:
    for op, fn in kernels().items():  # behind the op's checks (chord.ops)
        ops.register_kernel(op.split("::")[1], "cuda", fn)


_register()
