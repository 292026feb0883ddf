"""Every ``chord::`` op, declared once: its schema, its argument checks and its fake
(shape-only) implementation.

Kernels register against these names per device through :func:`register_kernel` (the C++
extension for CPU in ``chord.backends.cpu``, Triton for CUDA in ``chord.backends.cuda``; the
pure-torch reference ``chord.backends.reference`` is the CPU fallback and the ground truth in
tests), which runs the op's checks before the kernel: every backend sees arguments of the
declared dtypes, shapes and one device. The fakes run the same metadata checks, so a tensor on
another device (``meta`` included) is an error under tracing too, never an uninitialized result.
The argument list lives in the schema only: kernels, checks and fakes all take the arguments as
:func:`op_args` gives them (defaults filled in, a packed weight as one :class:`Packed`).

Checked per call on this path: metadata (dtype, rank, length, device, the bucket table against
N and K, sizes within :data:`MAX_DIM`) -- O(1) in the tensor sizes; values: ``perm`` is a
permutation (O(N), once per perm tensor and version, cached on the tensor). The eager fast path
(``chord.functional``) runs the same checks, the packed-weight ones once per packed weight.
Argument meanings are those of ``chord.format``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from .format import BUCKET_ORDER, row_bytes

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

#: activation dtypes of mp_linear / mp_topk
ACT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
#: weight dtypes quantize_pack reads (widened to float32 exactly)
WEIGHT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)
#: largest N (rows; perm is int32) and K (row length) of a packed weight, and largest k
MAX_DIM = 2**31 - 1
SCHEMES = ("sym", "asym")


class Packed(NamedTuple):
    """A packed weight as the ops take it: the six schema arguments of mp_linear / mp_topk, in
    schema order (meanings: ``chord.format``). Kernels, fakes and checks receive one ``Packed``
    in their place (:func:`op_args`); any 6-tuple in this order serves where a Packed is asked
    for and is unpacked (the eager hot paths pass a plain tuple: building a NamedTuple per call
    costs more than unpacking one). ``MixedWeight.packed`` makes one from a MixedWeight."""

    qweight: torch.Tensor
    scales: torch.Tensor
    zeros: torch.Tensor
    perm: torch.Tensor
    buckets: list[int]
    K: int


def _fail(exc: type, op: str, msg: str):
    raise exc(f"{op}: {msg}")


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, torch.SymInt)) and not isinstance(v, bool)


def _shape(t: torch.Tensor) -> list[int]:
    return list(t.shape)


def check_dim(op: str, name: str, v: Any, lo: int = 1, hi: int = MAX_DIM) -> int:
    """A size argument: a Python int in [lo, hi]."""
    if not _is_int(v):
        _fail(TypeError, op, f"{name}: expected an int, got {type(v).__name__}")
    if not lo <= v <= hi:
        _fail(ValueError, op, f"{name}: expected {lo} <= {name} <= {hi}, got {v}")
    return v


def check_act_bits(op: str, act_bits: Any) -> None:
    if not _is_int(act_bits) or act_bits not in (0, 8):
        _fail(ValueError, op, f"act_bits: expected 0 (exact activations) or 8 (dynamic int8), got {act_bits!r}")


def check_buckets(op: str, buckets: Sequence[int], K: int, N: int | None = None) -> tuple[int, int]:
    """The flat ``[bits, rows, ...]`` table: widths in ``BUCKET_ORDER``, counts in 0..MAX_DIM,
    rows summing to N (when given). Python ints: no sum can wrap. Returns (rows, total bytes)."""
    if not isinstance(buckets, (list, tuple)):
        _fail(TypeError, op, f"buckets: expected a flat [bits, rows, ...] list, got {type(buckets).__name__}")
    if len(buckets) % 2:
        _fail(ValueError, op, f"buckets: expected a flat [bits, rows, ...] list, got odd length {len(buckets)}")
    rows = nbytes = 0
    for i in range(0, len(buckets), 2):
        b, n = buckets[i], buckets[i + 1]
        if not _is_int(b) or b not in BUCKET_ORDER:
            _fail(ValueError, op, f"buckets[{i}]: expected a width in {BUCKET_ORDER}, got {b!r}")
        if not _is_int(n) or not 0 <= n <= MAX_DIM:
            _fail(ValueError, op, f"buckets[{i + 1}]: expected a row count in 0..{MAX_DIM}, got {n!r}")
        rows += n
        nbytes += n * row_bytes(K, b)
    if N is not None and rows != N:
        _fail(ValueError, op, f"buckets: rows sum to {rows}, expected N = {N} (rows of the weight)")
    if rows > MAX_DIM:
        _fail(ValueError, op, f"buckets: rows sum to {rows}, more than {MAX_DIM}")
    return rows, nbytes


def _check_tensor(op: str, name: str, t: Any, dtypes: tuple, ndim: int, device: torch.device) -> None:
    if not isinstance(t, torch.Tensor):
        _fail(TypeError, op, f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    if t.dtype not in dtypes:
        want = " or ".join(str(d).replace("torch.", "") for d in dtypes)
        _fail(TypeError, op, f"{name}: expected dtype {want}, got {t.dtype}")
    if t.dim() != ndim:
        _fail(ValueError, op, f"{name}: expected a {ndim}-D tensor, got shape {_shape(t)}")
    if t.device != device:
        _fail(ValueError, op, f"{name}: expected device {device} (x's), got {t.device}")


def check_packed(op: str, w: Packed, device: torch.device) -> int:
    """Metadata of a packed weight (dtype, rank, length, device; the bucket table against K and
    N = len(scales); qweight's byte count). Returns N."""
    qweight, scales, zeros, perm, buckets, K = w
    check_dim(op, "K", K)
    _check_tensor(op, "qweight", qweight, (torch.uint8,), 1, device)
    _check_tensor(op, "scales", scales, (torch.float32,), 1, device)
    _check_tensor(op, "zeros", zeros, (torch.float32,), 1, device)
    _check_tensor(op, "perm", perm, (torch.int32,), 1, device)
    N = scales.shape[0]
    if N < 1:
        _fail(ValueError, op, "scales: expected N >= 1 entries (one per row), got 0")
    if zeros.shape[0] != N or perm.shape[0] != N:
        _fail(
            ValueError,
            op,
            f"zeros, perm: expected {N} entries each (as scales), got {zeros.shape[0]} and {perm.shape[0]}",
        )
    _, nbytes = check_buckets(op, buckets, K, N)
    if qweight.shape[0] != nbytes:
        _fail(ValueError, op, f"qweight: expected {nbytes} bytes for these buckets and K = {K}, got {qweight.shape[0]}")
    return N


def check_activations(op: str, x: torch.Tensor, K: int, device: torch.device, ndims: tuple[int, ...]) -> None:
    """x: a tensor of an ``ACT_DTYPES`` dtype, rank in ``ndims`` (0 in ndims: any rank >= 1),
    last dim K, on ``device``."""
    if not isinstance(x, torch.Tensor):
        _fail(TypeError, op, f"x: expected a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in ACT_DTYPES:
        _fail(TypeError, op, f"x: expected dtype float32, float16 or bfloat16, got {x.dtype}")
    d = x.dim()
    if d == 0 or (d not in ndims and not (0 in ndims and d >= 1)) or x.shape[-1] != K:  # (0-d: no last dim)
        want = " or ".join(f"[{K}]" if n == 1 else f"[M, {K}]" if n == 2 else f"[..., {K}]" for n in ndims)
        _fail(ValueError, op, f"x: expected shape {want} (K of the weight), got {_shape(x)}")
    if x.device != device:
        _fail(ValueError, op, f"x: expected device {device} (the weight's), got {x.device}")


def check_bias(op: str, bias: torch.Tensor | None, N: int, device: torch.device) -> None:
    if bias is None:
        return
    if not isinstance(bias, torch.Tensor) or bias.dim() != 1 or bias.shape[0] != N:
        got = _shape(bias) if isinstance(bias, torch.Tensor) else type(bias).__name__
        _fail(ValueError, op, f"bias: expected shape [{N}], got {got}")
    if not bias.dtype.is_floating_point:
        _fail(TypeError, op, f"bias: expected a float dtype, got {bias.dtype}")
    if bias.device != device:
        _fail(ValueError, op, f"bias: expected device {device} (the weight's), got {bias.device}")


def check_k(op: str, k: int, n: int, what: str) -> None:
    if not _is_int(k):
        _fail(TypeError, op, f"k: expected an int, got {type(k).__name__}")
    if not 1 <= k <= n:
        _fail(ValueError, op, f"k: expected 1 <= k <= {n} ({what}), got {k}")


def check_candidates(
    op: str,
    candidates: torch.Tensor | None,
    M: int,
    device: torch.device,
    dtypes: tuple[torch.dtype, ...] = (torch.int64,),
) -> int | None:
    """None, or item ids [C] (shared) / [M, C]. Returns C (None without candidates). Id ranges
    are a value check, made by the kernels (the C++ one names the flat position)."""
    if candidates is None:
        return None
    if not isinstance(candidates, torch.Tensor):
        _fail(
            TypeError, op, f"candidates: expected a torch.Tensor of item ids or None, got {type(candidates).__name__}"
        )
    if candidates.dtype not in dtypes:
        _fail(TypeError, op, f"candidates: expected an integer dtype (int64 item ids), got {candidates.dtype}")
    if candidates.dim() not in (1, 2) or (candidates.dim() == 2 and candidates.shape[0] != M):
        _fail(
            ValueError,
            op,
            f"candidates: expected [C] (shared) or [{M}, C] (one list per row of x), got {_shape(candidates)}",
        )
    if candidates.device != device:
        _fail(ValueError, op, f"candidates: expected device {device} (the item table's), got {candidates.device}")
    return candidates.shape[-1]


# ---- per-op checks (metadata: safe on fake tensors) -----------------------------------------
def _check_x_and_weight(op: str, x: torch.Tensor, w: Packed) -> int:
    """x [M, K] against a packed [N, K] weight on x's device (mp_linear and mp_topk); returns N."""
    check_dim(op, "K", w.K)
    if not isinstance(w.qweight, torch.Tensor):
        _fail(TypeError, op, f"qweight: expected a torch.Tensor, got {type(w.qweight).__name__}")
    check_activations(op, x, w.K, w.qweight.device, (2,))
    return check_packed(op, w, x.device)


def check_mp_linear(x: torch.Tensor, w: Packed, bias: torch.Tensor | None = None, act_bits: int = 0) -> int:
    """``chord::mp_linear`` arguments (as :func:`op_args` gives them); returns N."""
    op = "chord::mp_linear"
    N = _check_x_and_weight(op, x, w)
    check_bias(op, bias, N, x.device)
    check_act_bits(op, act_bits)
    return N


def check_mp_topk(x: torch.Tensor, w: Packed, k: int, candidates: torch.Tensor | None = None, act_bits: int = 0) -> int:
    """``chord::mp_topk`` arguments (as :func:`op_args` gives them); returns N."""
    op = "chord::mp_topk"
    N = _check_x_and_weight(op, x, w)
    C = check_candidates(op, candidates, x.shape[0], x.device)
    check_k(op, k, N if C is None else C, "item rows" if C is None else "candidates per row")
    check_act_bits(op, act_bits)
    return N


def check_quantize_pack(weight: torch.Tensor, perm: torch.Tensor, buckets: Sequence[int], scheme: str) -> int:
    """``chord::quantize_pack`` arguments (perm int32 or int64, never narrowed); returns N."""
    op = "chord::quantize_pack"
    if not isinstance(weight, torch.Tensor):
        _fail(TypeError, op, f"weight: expected a torch.Tensor, got {type(weight).__name__}")
    if weight.dtype not in WEIGHT_DTYPES:
        _fail(
            TypeError, op, f"weight: expected a float dtype {tuple(str(d) for d in WEIGHT_DTYPES)}, got {weight.dtype}"
        )
    if weight.dim() != 2:
        _fail(ValueError, op, f"weight: expected 2-D [N, K], got shape {_shape(weight)}")
    N, K = weight.shape
    check_dim(op, "N (weight rows)", N)
    check_dim(op, "K (weight columns)", K)
    _check_tensor(op, "perm", perm, (torch.int32, torch.int64), 1, weight.device)
    if perm.shape[0] != N:
        _fail(ValueError, op, f"perm: expected {N} entries (one per weight row), got {perm.shape[0]}")
    check_buckets(op, buckets, K, N)
    if scheme not in SCHEMES:
        _fail(ValueError, op, f"scheme: expected one of {SCHEMES}, got {scheme!r}")
    return N


# ---- value checks (real tensors only) --------------------------------------------------------
def check_permutation(op: str, perm: torch.Tensor, N: int) -> None:
    """perm holds each of 0..N-1 exactly once (a duplicate would silently drop a row). O(N), once
    per tensor and version: the result is cached on the tensor (inference tensors, which have no
    version counter, are checked every time).

    In numpy, single-threaded: as torch ops (a copy, min, max, an index_put and all() on a
    100k-row perm) each was a parallel region of torch's OpenMP pool, and beside a busy core each
    region's barrier waits for a descheduled worker: re-packing a 100k-item table was slower at 2
    threads than at 1 (reports/2026-12-06-contended.md)."""
    key = None if perm.is_inference() else perm._version
    if key is not None and perm.__dict__.get("_chord_perm_ok") == key:
        return
    p = perm.detach().cpu().numpy()
    if N and (int(p.min()) < 0 or int(p.max()) >= N):
        _fail(ValueError, op, f"perm: values must be rows in 0..{N - 1}, got range [{int(p.min())}, {int(p.max())}]")
    seen = np.zeros(N, dtype=bool)
    seen[p] = True
    if not seen.all():
        _fail(ValueError, op, f"perm: not a permutation of 0..{N - 1} (row {int(np.flatnonzero(~seen)[0])} is missing)")
    if key is not None:
        perm.__dict__["_chord_perm_ok"] = key


def _quantize_pack_values(weight, perm, buckets, scheme) -> None:
    check_permutation("chord::quantize_pack", perm, check_quantize_pack(weight, perm, buckets, scheme))


def _mp_linear_values(x, w, bias, act_bits) -> None:
    check_permutation("chord::mp_linear", w.perm, check_mp_linear(x, w, bias, act_bits))


def _mp_topk_values(x, w, k, candidates, act_bits) -> None:
    N = check_mp_topk(x, w, k, candidates, act_bits)
    check_permutation("chord::mp_topk", w.perm, N)
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        row = int(torch.nonzero(~finite.all(1))[0])
        _fail(ValueError, "chord::mp_topk", f"x: contains NaN or Inf (row {row})")
    if candidates is not None and candidates.numel():
        flat = candidates.reshape(-1)
        bad = ((flat < 0) | (flat >= N)).nonzero()
        if bad.numel():
            i = int(bad[0])
            _fail(
                ValueError,
                "chord::mp_topk",
                f"candidates: item id {int(flat[i])} (flat position {i}) is out of range [0, {N})",
            )


def _quantize_pack_outputs(out, weight, perm, buckets, scheme) -> None:
    """Scales and zero points finite by construction: a row whose range overflows float32
    (asym: max - min > 3.4e38) is an error naming it, never a MixedWeight with an inf scale."""
    _, scales, zeros = out
    if scales.is_cpu and bool(np.isfinite(scales.numpy()).all() & np.isfinite(zeros.numpy()).all()):
        return  # (numpy: no torch thread pool woken beside the C++ kernels)
    ok = torch.isfinite(scales) & torch.isfinite(zeros)
    if not bool(ok.all()):
        i = int((~ok).nonzero()[0])
        row = int(perm[i])
        _fail(
            ValueError,
            "chord::quantize_pack",
            f"weight: row {row} cannot be quantized with finite {scheme} scale/zero point (scale "
            f"{float(scales[i])}, zero {float(zeros[i])}): its value range overflows float32",
        )


# ---- arguments as every backend takes them ------------------------------------------------------
#: the ops whose schema holds a packed weight: the index of its first argument (qweight)
_PACKED_AT = {"mp_linear": 1, "mp_topk": 1}


@functools.cache
def _defaults(name: str) -> tuple:
    """The schema's argument names and default values (the one place the argument list lives)."""
    args = getattr(torch.ops.chord, name).default._schema.arguments
    return tuple(a.name for a in args), tuple(a.default_value for a in args)


def op_args(name: str, args: tuple, kwargs: dict | None = None) -> tuple:
    """The arguments of a ``chord::name`` call as the dispatcher hands them to a kernel or fake
    (trailing defaults may be left out, rarely by keyword) -> every argument in schema order,
    defaults filled in, a packed weight's six as one :class:`Packed`. What every check, fake and
    registered kernel receives: no backend restates the schema."""
    names, defaults = _defaults(name)
    if len(args) < len(names):
        kwargs = kwargs or {}
        args = (*args, *(kwargs.get(n, d) for n, d in zip(names[len(args) :], defaults[len(args) :])))
    i = _PACKED_AT.get(name)
    if i is None:
        return tuple(args)
    return (*args[:i], Packed(*args[i : i + 6]), *args[i + 6 :])


def flat_args(name: str, args: tuple) -> tuple:
    """The inverse of :func:`op_args`: the packed weight's six arguments in place of its Packed
    (any 6-tuple), for kernels with the flat schema signature (the Triton entry points)."""
    i = _PACKED_AT.get(name)
    return tuple(args) if i is None else (*args[:i], *args[i], *args[i + 1 :])


_OUTPUT_CHECKS: dict[str, Callable[..., None]] = {"quantize_pack": _quantize_pack_outputs}

_FULL_CHECKS: dict[str, Callable[..., None]] = {
    "quantize_pack": _quantize_pack_values,
    "mp_linear": _mp_linear_values,
    "mp_topk": _mp_topk_values,
}


def check_call(name: str, *args: Any) -> None:
    """Every check of a ``chord::name`` call (metadata and values, as :func:`as_kernel` runs them),
    on its arguments in schema order with a packed weight as its six tensors/values: for kernels
    that are also called directly, not only through the op (the Triton entry points)."""
    _FULL_CHECKS[name](*op_args(name, args))


def as_kernel(name: str, impl: Callable[..., Any]) -> Callable[..., Any]:
    """``impl`` (taking the arguments as :func:`op_args` gives them) as a kernel of ``chord::name``
    takes them from the dispatcher, behind the op's checks (metadata and values) and, for
    quantize_pack, a check of its outputs."""
    check = _FULL_CHECKS[name]
    after = _OUTPUT_CHECKS.get(name)

    @functools.wraps(impl)
    def kernel(*args, **kwargs):
        args = op_args(name, args, kwargs)
        check(*args)
        out = impl(*args)
        if after is not None:
            after(out, *args)
        return out

    return kernel


def register_kernel(name: str, device_type: str, impl: Callable[..., Any]) -> None:
    """Register ``impl`` as the ``device_type`` kernel of ``chord::name`` (see :func:`as_kernel`)."""
    torch.library.register_kernel(f"chord::{name}", device_type, as_kernel(name, impl))


_FAKES: dict[str, Callable[..., Any]] = {}


def fake_impl(name: str) -> Callable[..., Any]:
    """The fake of ``chord::name`` as registered (taking the dispatcher's arguments): for tests
    that copy a schema into their own namespace."""
    return _FAKES[name]


def _register_fake(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@_register_fake(name)``: the fake of ``chord::name``, taking :func:`op_args`'s arguments."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def fake(*args, **kwargs):
            return fn(*op_args(name, args, kwargs))

        torch.library.register_fake(f"chord::{name}", fake)
        _FAKES[name] = fake
        return fn

    return deco


# ---- fakes ----------------------------------------------------------------------------------
@_register_fake("quantize_pack")
def _quantize_pack_fake(weight, perm, buckets, scheme):
    check_quantize_pack(weight, perm, buckets, scheme)
    N, K = weight.shape
    _, nbytes = check_buckets("chord::quantize_pack", buckets, K, N)
    qw = weight.new_empty((nbytes,), dtype=torch.uint8)
    return qw, weight.new_empty((N,), dtype=torch.float32), weight.new_empty((N,), dtype=torch.float32)


@_register_fake("mp_linear")
def _mp_linear_fake(x, w, bias, act_bits):
    return x.new_empty((x.shape[0], check_mp_linear(x, w, bias, act_bits)))


@_register_fake("mp_topk")
def _mp_topk_fake(x, w, k, candidates, act_bits):
    check_mp_topk(x, w, k, candidates, act_bits)
    M = x.shape[0]
    return x.new_empty((M, k), dtype=torch.float32), x.new_empty((M, k), dtype=torch.int64)
