"""Argument checks the Triton entry points share (``dispatch``, ``topk``, ``quantize_pack``).

Each message starts with the op's name and names the argument, what was expected and what was
given, as the CPU op's do. The ``chord::`` op layer (``chord.ops``) checks its own arguments
before it reaches these kernels; these checks cover direct callers (tests, benchmarks).
"""

from __future__ import annotations

import torch


def check_matrix(op: str, name: str, t, cols: int | None, what: str, dtypes: tuple | None = None) -> None:
    """``t`` a 2-D tensor of a float dtype (one of ``dtypes`` when given) with ``cols`` columns
    (any number when None); ``what`` says where ``cols`` comes from (e.g. "K of the weight")."""
    if not isinstance(t, torch.Tensor) or t.dim() != 2:
        got = list(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise ValueError(f"{op}: {name}: expected a 2-D tensor, got {got}")
    if dtypes is not None and t.dtype not in dtypes:
        want = " or ".join(str(d).replace("torch.", "") for d in dtypes)
        raise TypeError(f"{op}: {name}: expected dtype {want}, got {t.dtype}")
    if not t.dtype.is_floating_point:
        raise TypeError(f"{op}: {name}: expected a float dtype, got {t.dtype}")
    if cols is not None and t.shape[1] != cols:
        raise ValueError(f"{op}: {name}: expected shape [M, {cols}] ({what}), got {list(t.shape)}")


def check_packed(op: str, x: torch.Tensor, qweight, scales, zeros, perm, nbytes: int) -> int:
    """The packed weight's tensors: 1-D, their dtypes, N = len(perm) entries (``nbytes`` for
    qweight), on x's device. Returns N."""
    N = perm.shape[0] if perm.dim() == 1 else -1
    want = {
        "qweight": (qweight, torch.uint8, nbytes),
        "scales": (scales, torch.float32, N),
        "zeros": (zeros, torch.float32, N),
        "perm": (perm, torch.int32, N),
    }
    for name, (t, dt, n) in want.items():
        if t.dtype != dt or t.dim() != 1 or t.numel() != n:
            raise ValueError(
                f"{op}: {name}: expected 1-D {dt} with {n} entries, got {t.dim()}-D {t.dtype} with {t.numel()}"
            )
        if t.device != x.device:
            raise ValueError(f"{op}: {name}: expected device {x.device} (x's), got {t.device}")
    return N


def check_act_bits(op: str, act_bits) -> None:
    if act_bits not in (0, 8):
        raise ValueError(f"{op}: act_bits: expected 0 (exact activations) or 8 (dynamic int8), got {act_bits}")


def check_runnable(op: str, name: str, device: torch.device, interpreting: bool) -> None:
    """The kernels run on CUDA tensors, and on CPU tensors under the Triton interpreter only."""
    if device.type == "cpu" and not interpreting:
        raise RuntimeError(
            "chord_kernels.triton: CPU tensors run only under the Triton interpreter; set "
            "TRITON_INTERPRET=1 before chord_kernels.triton is first imported"
        )
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"{op}: {name}: expected a CUDA tensor (or CPU under TRITON_INTERPRET=1), got device {device}")
