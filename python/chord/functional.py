"""The functional API over a ``MixedWeight``: :func:`pack`, :func:`mp_linear`, :func:`mp_topk`.

Each call checks its arguments with the op's checks (``chord.ops``) and then either runs the
registered ``chord::`` op (through the torch dispatcher: torch.compile, export, tracing,
autograd, fake and subclass tensors, CUDA) or -- for a plain eager CPU call
(``backends.cpu.eager_ok``, the one "safe to bypass the dispatcher" predicate) -- goes straight
to the C++ extension through :func:`bypass_handle`, the one eager-bypass helper, also used by
the swapped modules (``chord.quantize.modules``). The dispatcher costs more per call than a
small layer's kernel (reports/2026-12-07-comment-figures.md); the bypass keeps the packed weight
validated once and cached.

Per call: x's type, dtype, shape and device; bias; act_bits; k and candidates' shape. Once per
packed weight (cached until a tensor is replaced or written in place): the packed tensors'
dtypes, lengths, device, the bucket table and that perm is a permutation.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from . import ops
from .backends import cpu as cpu_backend
from .codebook import Codebook
from .mixed_weight import MixedWeight, check_codes, plan_buckets

_LINEAR = "chord::mp_linear"
_TOPK = "chord::mp_topk"
_PACK = "chord.pack"
_ACT_DTYPES = frozenset(ops.ACT_DTYPES)
_BIAS_DTYPES = frozenset((torch.float32, torch.float16, torch.bfloat16, torch.float64))
_ACT_BITS = frozenset((0, 8))


def bypass_handle(owner: dict, x: torch.Tensor, w: ops.Packed, N: int) -> tuple | None:
    """The cache entry (``backends.cpu.packed_handle``: the validated C++ handle and numpy views
    of the packed tensors) of a packed weight ``w`` when this call may bypass the dispatcher
    (``cpu_backend.eager_ok(x)`` and a CPU weight), else None. ``owner`` is the ``__dict__`` of
    the object holding the weight (a ``MixedWeight`` or a swapped module): the cache lives there
    and dies with it. (:func:`linear_packed` inlines these lines: one Python call fewer per layer
    call.)"""
    if not (w[0].is_cpu and cpu_backend.eager_ok(x)):
        return None
    cache = owner.get("_cpu_handle")
    if cache is None:
        cache = owner["_cpu_handle"] = cpu_backend.HandleCache()
    return cpu_backend.packed_handle(cache, w, N)


def check_linear_call(
    x: torch.Tensor,
    qweight: torch.Tensor,
    K: int,
    N: int,
    bias: torch.Tensor | None,
    act_bits: int,
    op: str = _LINEAR,
) -> None:
    """Per-call checks of a linear call on x [..., K] against a packed [N, K] weight (the packed
    tensors themselves are checked once per weight, by the op or ``packed_handle``)."""
    dev = qweight.device
    ops.check_activations(op, x, K, dev, (0,))
    ops.check_bias(op, bias, N, dev)
    ops.check_act_bits(op, act_bits)


def linear_packed(
    owner: dict, x: torch.Tensor, w: ops.Packed, N: int, bias: torch.Tensor | None = None, act_bits: int = 0
) -> torch.Tensor:
    """x [..., K] -> [..., N] in x.dtype: ``chord::mp_linear`` on a packed weight ``w`` (a
    ``chord.ops.Packed`` or a plain 6-tuple in its order) held by ``owner`` (see
    :func:`bypass_handle`), checked per call, bypassing the dispatcher when safe."""
    qweight, scales, _, _, _, K = w
    # The common call (eager CPU tensors, valid arguments) is checked by one expression of
    # attribute reads (the full checks compare torch.device objects and cost a few times more);
    # anything else gets them, and they raise naming the argument, or pass (CUDA, traced calls).
    if qweight.is_cpu and cpu_backend.eager_ok(x):
        if not (
            x.dtype in _ACT_DTYPES
            and x.ndim
            and x.shape[-1] == K
            and act_bits in _ACT_BITS
            and type(act_bits) is int
            and (
                bias is None
                or (
                    isinstance(bias, torch.Tensor)
                    and bias.is_cpu
                    and bias.ndim == 1
                    and bias.shape[0] == N
                    and bias.dtype in _BIAS_DTYPES
                )
            )
        ):
            check_linear_call(x, qweight, K, N, bias, act_bits)
        if bias is None or not (bias.requires_grad and torch.is_grad_enabled()):
            cache = owner.get("_cpu_handle")
            if cache is None:
                cache = owner["_cpu_handle"] = cpu_backend.HandleCache()
            e = cpu_backend.packed_handle(cache, w, N)  # the one cache-hit test (same tensors, versions)
            return cpu_backend.mp_linear_eager(x, e[6], N, K, bias, act_bits)
    else:
        check_linear_call(x, qweight, K, N, bias, act_bits)
    _check_rows(scales, N)
    lead = x.shape[:-1]
    x2 = x.reshape(-1, K)
    if x2.shape[0] == 0:
        return x.new_zeros(*lead, N)
    y = torch.ops.chord.mp_linear(x2, *w, bias, act_bits)
    return y.reshape(*lead, N)


#: rows of x with a larger magnitude are scaled by a power of two before mp_topk: the kernel's
#: float32 scan (x . u, u up to 255, K terms) must not overflow; the ranking is scale-invariant
_TOPK_SCALE_ABOVE = 2.0**64


def _scaled_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x float [M, K] -> (x * 2**-shift per row, shift int [M]) with every row's max |x| below 2,
    exactly (power-of-two scaling); ValueError when a row's range is so wide that scaling would
    round its smallest entries (the ranking could then change)."""
    xf = x.to(torch.float32)
    amax = xf.abs().amax(1)
    shift = (torch.frexp(amax).exponent - 1).clamp(min=0)
    xs = torch.ldexp(xf, -shift[:, None].to(torch.float32))
    exact = torch.ldexp(xs, shift[:, None].to(torch.float32)) == xf
    if not bool(exact.all()):
        r = int((~exact.all(1)).nonzero()[0])
        raise ValueError(
            f"{_TOPK}: x: row {r} spans magnitudes from {float(amax[r]):.3g} down to entries that "
            "cannot be scaled without rounding; mp_topk cannot rank it exactly (rescale x)"
        )
    return xs, shift


def _check_rows(scales: torch.Tensor, N: int) -> None:
    if isinstance(scales, torch.Tensor) and scales.dim() == 1 and scales.shape[0] != N:
        raise ValueError(f"shape: the weight claims N = {N} rows, its packing holds {scales.shape[0]} (len(scales))")


def _check_mw(mw, what: str = "") -> None:
    if not isinstance(mw, MixedWeight):
        raise TypeError(f"mw: expected chord.MixedWeight{what}, got {type(mw).__name__}")


def mp_linear(x: torch.Tensor, mw: MixedWeight, bias: torch.Tensor | None = None, act_bits: int = 0) -> torch.Tensor:
    """x [..., K] (fp32/fp16/bf16) -> [..., N] in x.dtype, equal to ``x @ mw.dequantize().T + bias``.

    ``act_bits=8`` quantizes each row of x to int8 on the fly (per-row symmetric) and uses
    integer dot products: faster on CPU, error bounded by the activation rounding.
    """
    # (a plain tuple: cheaper per call than mw.packed's NamedTuple; a MixedWeight's fields read
    # from its instance dict, a subclass's through its attributes, which it may override)
    if type(mw) is MixedWeight:
        d = mw.__dict__
        N, K = d["shape"]
        cache = d.get("_cpu_handle")
        if cache is not None:  # the common call once the handle is built: one step, as a swapped layer's
            y = cpu_backend.linear_cached(cache, d, d["buckets"], x, bias, act_bits, N, K)
            if y is not None:
                return y
        w = (d["qweight"], d["scales"], d["zeros"], d["perm"], d["buckets"], K)
    else:
        _check_mw(mw)
        d = mw.__dict__
        N, K = mw.N, mw.K
        w = (mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, K)
    return linear_packed(d, x, w, N, bias, act_bits)


def mp_topk(
    x: torch.Tensor, mw: MixedWeight, k: int, candidates: torch.Tensor | None = None, act_bits: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k items of ``x @ mw.dequantize().T`` per row of x (``chord::mp_topk``).

    x: [M, K] (or [K]) float32/float16/bfloat16 user representations, on mw's device.
    mw: the item table, [N, K] (one packed row per item).
    k: items to return, 1 <= k <= N (or C).
    candidates: None (all N items), int [C] (one list for every row) or int [M, C] item ids.
    act_bits: 0 (exact activations) or 8 (per-row dynamic int8 activations, as ``mp_linear``).

    Returns (values float32 [M, k], indices int64 [M, k] item ids), descending, ties by smaller
    id; [k] each for a 1-D x. Exact: the ranking of the float64 scores ``x . W_hat`` (or
    ``sx * xq . W_hat`` with ``act_bits=8``) on every ISA and thread count (the C++ kernel
    rescores every item its approximate scan cannot rule out in float64). Values are those
    scores rounded to float32. Pruned item rows score exactly 0.
    """
    _check_mw(mw, " (the item table)")
    qweight = mw.qweight
    dev = qweight.device
    ops.check_activations(_TOPK, x, mw.K, dev, (1, 2))
    if isinstance(x, torch.Tensor) and x.requires_grad:
        x = x.detach()  # not differentiable: a plain tensor may take the fast path
    if act_bits != 0:
        ops.check_act_bits(_TOPK, act_bits)
    M = 1 if x.dim() == 1 else x.shape[0]
    C = ops.check_candidates(
        _TOPK, candidates, M, dev, (torch.int64, torch.int32, torch.int16, torch.uint8, torch.int8)
    )
    ops.check_k(_TOPK, k, mw.N if C is None else C, "item rows" if C is None else "candidates per row")
    x2 = x.reshape(1, -1) if x.dim() == 1 else x
    if M == 0:
        return (torch.empty(0, k, dtype=torch.float32, device=dev), torch.empty(0, k, dtype=torch.int64, device=dev))
    cand = candidates if candidates is None or candidates.dtype is torch.int64 else candidates.to(torch.int64)
    # Plain eager CPU call: straight to the C++ backend (the dispatcher's cost is a visible part
    # of even a 100k-item scan); traced / compiled / subclassed calls go through the registered op.
    shift = None
    if x2.dtype is torch.float32 and cpu_backend.eager_ok(x2):
        a = x2.numpy()  # (numpy: single-threaded, see _all_finite)
        big = max(-float(a.min()), float(a.max()))
    else:
        lo, hi = torch.aminmax(x2)
        big = max(-float(lo), float(hi))
    if big > _TOPK_SCALE_ABOVE:
        x2, shift = _scaled_rows(x2)
    w = mw.packed
    entry = bypass_handle(mw.__dict__, x2, w, mw.N)
    if entry is not None:
        vals, idx = cpu_backend.mp_topk_arrays(x2, entry[7], mw.buckets, mw.K, k, cand, act_bits)
    else:
        _check_rows(mw.scales, mw.N)
        vals, idx = torch.ops.chord.mp_topk(x2, *w, k, cand, act_bits)
    if shift is not None:  # back to x's scale: exact in float64, one rounding to float32 (or inf)
        vals = torch.ldexp(vals.double(), shift[:, None].to(torch.float64)).to(torch.float32)
    if x.dim() == 1:
        return vals[0], idx[0]
    return vals, idx


def _all_finite(w: torch.Tensor) -> bool:
    """True when w (float32) holds no NaN/Inf: one pass, no [N, K] temporary. On CPU a numpy sum
    (single-threaded): a torch reduction here would run torch's OpenMP pool, whose workers keep
    spinning after the region and starve the threads of the C++ kernel that follows (beside one
    busy core a 2-thread pack could take many times a 1-thread one:
    reports/2026-12-07-comment-figures.md)."""
    if w.device.type == "cpu":
        # NaN and Inf propagate through the sum; a finite sum proves every element finite. An
        # overflowing sum of huge finite values is re-checked exactly.
        with np.errstate(all="ignore"):  # (NaN/overflow in the sum is the signal, not a warning)
            total = w.numpy().sum()
        return bool(np.isfinite(total)) or bool(torch.isfinite(w).all())
    lo, hi = torch.aminmax(w)  # NaN propagates through min/max
    return bool(torch.isfinite(lo) & torch.isfinite(hi))


#: how the C++ packer (csrc/quantize_pack/quantize_pack.cpp) names the first NaN/Inf of a weight
_KERNEL_NONFINITE = re.compile(r"weight contains (?:NaN|Inf) \(at row (\d+), col (\d+)\)")


def pack(weight: torch.Tensor, codes: torch.Tensor, codebook: Codebook | None = None) -> MixedWeight:
    """Quantize a frozen float weight [N, K] channel by channel from its codes, and pack it.

    This is the on-device adaptation step: it runs the ``chord::quantize_pack`` kernel of the
    weight's device (C++ on CPU), no autograd. Raises ValueError for NaN/Inf weights and for
    rows whose scale would not be finite (asym range beyond float32).
    """
    codebook = codebook or Codebook.default()
    if not isinstance(codebook, Codebook):
        raise TypeError(f"codebook: expected chord.Codebook, got {type(codebook).__name__}")
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight: expected a torch.Tensor, got {type(weight).__name__}")
    if weight.dtype not in ops.WEIGHT_DTYPES:
        raise TypeError(f"weight: expected a float dtype {ops.WEIGHT_DTYPES}, got {weight.dtype}")
    if weight.dim() != 2:
        raise ValueError(f"weight: expected 2-D [N, K], got shape {list(weight.shape)}")
    N, K = weight.shape
    if N == 0 or K == 0:
        raise ValueError(f"weight: dimensions must be non-empty, got shape {list(weight.shape)}")
    if isinstance(codes, torch.Tensor) and codes.device != weight.device and codes.device.type != "cpu":
        raise ValueError(f"codes: expected device {weight.device} or cpu, got {codes.device}")
    codes = check_codes(codes, N, codebook)
    with torch.no_grad():
        w = weight.detach().to(torch.float32).contiguous()
        if w.device.type != "cpu" or not cpu_backend.HAVE_CPP:
            if not _all_finite(w):
                bad = torch.nonzero(~torch.isfinite(w))[0].tolist()
                raise ValueError(f"weight: contains NaN or Inf (first at row {bad[0]}, col {bad[1]})")
            return pack_checked(w, codes, codebook)
        # The C++ packer tests every row for NaN/Inf as it reads it (a separate pass over the
        # weight here was a large part of a pack, on one thread) and names the first one,
        # in row-major order of the original weight; its outputs are fresh tensors, dropped.
        try:
            return pack_checked(w, codes, codebook)
        except ValueError as e:
            m = _KERNEL_NONFINITE.search(str(e))
            if m is None:
                raise
            raise ValueError(f"weight: contains NaN or Inf (first at row {m[1]}, col {m[2]})") from None


def pack_checked(w: torch.Tensor, codes: torch.Tensor, codebook: Codebook) -> MixedWeight:
    """:func:`pack` for a weight already known to be float32 [N, K], contiguous and finite, with
    checked uint8 codes [N] (``check_codes``): what ``DeviceModel`` re-packs on every adaptation."""
    N, K = w.shape
    perm, buckets = plan_buckets(codes, codebook)
    perm = perm.to(w.device)
    qw, sc, ze = torch.ops.chord.quantize_pack(w, perm, buckets, codebook.scheme)
    return MixedWeight(qw, sc, ze, perm, codes.to(w.device), buckets, (N, K), codebook)
