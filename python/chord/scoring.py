"""Quantized item scoring with fused top-k (``chord::mp_topk``).

Scores user representations against a mixed-precision item table (a ``MixedWeight`` [N, K]
whose rows are items) and returns the k best items per user, without materializing the
[M, N] score matrix on CPU (the C++ kernel scores cache-sized blocks of packed rows and keeps
per-thread top-k heaps).

The C++ kernel is exact: an approximate scan (int8 activations with AVX-512 VNNI, else float32
dots) keeps every item whose rigorous error interval can still reach the k-th best, and those few
survivors are rescored in float64. So the ranking is that of the float64 scores
``x . W_hat`` (or ``sx * xq . W_hat`` with ``act_bits=8``), on every ISA and thread count.

Order: descending (float64) score; **equal scores -> smaller item id first**. Values are those
float64 scores rounded to float32. Pruned item rows score exactly 0.
"""
from __future__ import annotations

import torch

from .mixed_weight import MixedWeight

try:
    from .backends import cpu as _cpu_module
    _cpu_backend = _cpu_module if _cpu_module.HAVE_CPP and hasattr(_cpu_module._cpu, "mp_topk") else None
except ImportError:  # pragma: no cover - broken installs only
    _cpu_backend = None

_ACT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _eager_cpu(x) -> bool:
    """True for a plain CPU tensor outside any tracing (torch.compile, dispatch modes) while the
    C++ kernel is built: such calls may skip the torch.library dispatcher."""
    return (_cpu_backend is not None and type(x) is torch.Tensor and x.device.type == "cpu"
            and not torch.compiler.is_compiling() and not torch._C._len_torch_dispatch_stack())


def check_topk_args(x, mw, k, candidates, act_bits, check_finite: bool = True) -> None:
    """Raise a clear TypeError / ValueError for anything ``mp_topk`` cannot score
    (``check_finite=False``: the C++ kernel checks x for NaN/Inf itself)."""
    if not isinstance(mw, MixedWeight):
        raise TypeError(f"mw: expected chord.MixedWeight (the item table), got {type(mw).__name__}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x: expected a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in _ACT_DTYPES:
        raise TypeError(f"x: expected dtype float32, float16 or bfloat16, got {x.dtype}")
    if x.dim() not in (1, 2) or x.shape[-1] != mw.K:
        raise ValueError(f"x: expected shape [{mw.K}] or [M, {mw.K}] (K of the item table), got {list(x.shape)}")
    if x.device != mw.device:
        raise ValueError(f"x: expected device {mw.device} (the item table's), got {x.device}")
    if check_finite and not bool(torch.isfinite(x).all()):
        raise ValueError("x: contains NaN or Inf")
    if act_bits not in (0, 8) or isinstance(act_bits, bool):
        raise ValueError(f"act_bits: expected 0 (exact activations) or 8 (dynamic int8), got {act_bits!r}")
    M = 1 if x.dim() == 1 else x.shape[0]
    n = mw.N
    if candidates is not None:
        if not isinstance(candidates, torch.Tensor):
            raise TypeError(f"candidates: expected a torch.Tensor of item ids or None, got {type(candidates).__name__}")
        if candidates.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8, torch.int8):
            raise TypeError(f"candidates: expected an integer dtype (int64 item ids), got {candidates.dtype}")
        if candidates.dim() not in (1, 2) or (candidates.dim() == 2 and candidates.shape[0] != M):
            raise ValueError(f"candidates: expected [C] (shared) or [{M}, C] (one list per row of x), "
                             f"got {list(candidates.shape)}")
        if candidates.device != mw.device:
            raise ValueError(f"candidates: expected device {mw.device}, got {candidates.device}")
        n = candidates.shape[-1]
        if candidates.numel():
            lo, hi = int(candidates.min()), int(candidates.max())
            if lo < 0 or hi >= mw.N:
                raise ValueError(f"candidates: item ids must be in [0, {mw.N}), got range [{lo}, {hi}]")
    if not isinstance(k, int) or isinstance(k, bool):
        raise TypeError(f"k: expected an int, got {type(k).__name__}")
    if not 1 <= k <= n:
        raise ValueError(f"k: expected 1 <= k <= {n} ({'candidates per row' if candidates is not None else 'item rows'}), "
                         f"got {k}")


def mp_topk(x: torch.Tensor, mw: MixedWeight, k: int, candidates: torch.Tensor | None = None,
            act_bits: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k items of ``x @ mw.dequantize().T`` per row of x.

    x: [M, K] (or [K]) float32/float16/bfloat16 user representations, on mw's device.
    mw: the item table, [N, K] (one packed row per item).
    k: items to return, 1 <= k <= N (or C).
    candidates: None (all N items), int [C] (one list for every row) or int [M, C] item ids.
    act_bits: 0 (exact activations) or 8 (per-row dynamic int8 activations, as ``mp_linear``).

    Returns (values float32 [M, k], indices int64 [M, k] item ids), descending, ties by smaller
    id; [k] each for a 1-D x.
    """
    eager_cpu = _eager_cpu(x)
    check_topk_args(x, mw, k, candidates, act_bits, check_finite=not eager_cpu)
    x2 = x.reshape(1, -1) if x.dim() == 1 else x
    if x2.shape[0] == 0:
        return (torch.empty(0, k, dtype=torch.float32, device=x.device),
                torch.empty(0, k, dtype=torch.int64, device=x.device))
    cand = None if candidates is None else candidates.to(torch.int64)
    # Plain eager CPU call: straight to the C++ backend (the dispatcher costs ~10 us, a tenth of
    # a 100k-item scan); traced / compiled / subclassed calls go through the registered op.
    op = _cpu_backend.mp_topk if eager_cpu else torch.ops.chord.mp_topk
    vals, idx = op(x2, mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.K, k, cand, act_bits)
    if x.dim() == 1:
        return vals[0], idx[0]
    return vals, idx
