"""CPU kernels for ``chord::`` ops: the C++ extension ``chord_kernels._cpu`` when it is built,
else the pure-torch reference (each op warns once on its first call: ``fallback``)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import host_memory, ops
from . import fallback, reference

try:
    from chord_kernels import _cpu  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised only on broken installs
    _cpu = None
    _IMPORT_ERROR = e
else:
    _IMPORT_ERROR = None

HAVE_CPP = _cpu is not None


def supported_isas() -> list[str]:
    """Every ISA the C++ kernels can run on this CPU, scalar first (``csrc/common/isa.h``):
    the values ``CHORD_CPU_ISA`` and every ``isa=`` argument accept here. ``[]`` without the
    extension."""
    return list(_cpu.cpu_isas()) if HAVE_CPP else []


def resolve_isa(isa: str = "auto") -> str:
    """The ISA a request runs on this CPU: ``"auto"`` is ``CHORD_CPU_ISA`` when set, else the best
    the CPU has. Raises ValueError (naming ``CHORD_CPU_ISA`` or ``isa`` and the accepted values)
    for an unknown name or an ISA this CPU lacks. Needs the extension."""
    if not HAVE_CPP:
        raise RuntimeError(f"resolve_isa: the C++ extension is not built ({_IMPORT_ERROR})")
    return str(_cpu.cpu_isa(isa))


def pool_stats() -> dict[str, int]:
    """What the C++ kernels' thread pool did since the process started (``csrc/common/parallel.h``):
    jobs run with its workers (``shared``), jobs run on the calling thread alone during a
    straggler pause (``alone``), stragglers that started a pause, shared jobs where a worker ran a
    task (``helped``), the callers' total wait for workers' tasks (``wait_us``), and the times an
    idle worker had gone to sleep and was woken for a job (``wakeups``; :func:`pool_spin` says how
    long it spins first). ``{}`` without the extension."""
    return dict(_cpu.pool_stats()) if HAVE_CPP and hasattr(_cpu, "pool_stats") else {}


def pool_spin() -> dict[str, int]:
    """How long the thread pool's idle workers spin before they sleep (``csrc/common/parallel.h``):
    the cap in microseconds (``cap_us``: ``CHORD_POOL_SPIN_US``, else :func:`set_pool_spin`, else
    1000), what an idle worker spins now (``window_us``: adapted to the gaps between calls, at most
    the cap), the workers started (``workers``) and asleep now (``sleeping``), and the CPU time the
    workers used (``worker_cpu_us``, -1 where the OS cannot say). ``pool_stats()["wakeups"]``
    counts the calls' worker wake-ups from sleep. ValueError for a bad ``CHORD_POOL_SPIN_US``;
    RuntimeError without the extension."""
    if not HAVE_CPP:
        raise RuntimeError(f"pool_spin: the C++ extension is not built ({_IMPORT_ERROR})")
    return dict(_cpu.pool_spin())


def set_pool_spin(spin_us: int) -> None:
    """Caps how long an idle worker of the thread pool spins before it sleeps, in whole
    microseconds (0: sleep at once, the least CPU and a wake-up per call; at most 1000000), from
    the next call on; it outranks ``CHORD_POOL_SPIN_US``. Below the cap the pool spins as long as
    the gaps between recent calls suggest. ValueError naming ``spin_us`` for anything but an int
    in that range; RuntimeError without the extension."""
    if isinstance(spin_us, bool) or not isinstance(spin_us, int):
        raise ValueError(f"spin_us: expected whole microseconds (an int), got {type(spin_us).__name__} {spin_us!r}")
    if not HAVE_CPP:
        raise RuntimeError(f"set_pool_spin: the C++ extension is not built ({_IMPORT_ERROR})")
    if not 0 <= spin_us <= 1_000_000:
        raise ValueError(f"spin_us: expected whole microseconds in [0, 1000000], got {spin_us}")
    _cpu.set_pool_spin(spin_us)


def _nthreads() -> int:
    # the extension's pool (csrc/common/parallel.h) runs as many threads as torch is set to use
    return max(1, torch.get_num_threads())


def quantize_pack(
    weight: torch.Tensor, perm: torch.Tensor, buckets: list[int], scheme: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """C++ ``chord::quantize_pack`` (AVX2 when the CPU has it), bit-identical to the reference.
    weight float [N, K] (widened to float32), perm int [N] -> (qweight uint8 [bytes], scales,
    zeros float32 [N]). Arguments pass ``chord.ops.check_quantize_pack`` first (perm is a
    permutation there, so narrowing it to int32 loses nothing); C++ checks NaN/Inf."""
    N, K = weight.shape
    w = weight.detach().to(torch.float32).contiguous()
    p = perm.detach().to(torch.int32).contiguous()
    buckets = [int(b) for b in buckets]
    # on 2 MiB pages where the OS offers them: the GEMV streams it at the page-walk-free roof
    qw = host_memory.empty_uint8(_cpu.packed_bytes(buckets, N, K))
    sc = torch.empty(N, dtype=torch.float32)
    ze = torch.empty(N, dtype=torch.float32)
    _cpu.quantize_pack(w.numpy(), p.numpy(), buckets, str(scheme), qw.numpy(), sc.numpy(), ze.numpy(), _nthreads())
    return qw, sc, ze


_DTYPE_CODE = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 2}


def _np(t: torch.Tensor):
    """numpy view of a CPU tensor, no copy; 16-bit floats as int16 (numpy lacks bfloat16)."""
    t = t.detach()
    return t.view(torch.int16).numpy() if t.dtype in (torch.float16, torch.bfloat16) else t.numpy()


def _mp_linear_impl(
    x: torch.Tensor, w: ops.Packed, bias: torch.Tensor | None = None, act_bits: int = 0
) -> torch.Tensor:
    """The registered CPU impl of ``torch.ops.chord.mp_linear`` (private: it trusts the op's checks;
    called directly with a perm that is not a permutation it would leave rows unwritten).
    C++ ``chord::mp_linear``: x [M, K] fp32/fp16/bf16 (any strides) -> y [M, N] in x.dtype.
    One fused kernel for every M (csrc/mp_linear/mp_linear.cpp; docs/kernels.md). The arguments
    pass the op's checks first (``chord.ops.as_kernel``: metadata, and that perm is a permutation,
    cached per perm tensor and version); C++ checks the packed tensors' sizes again and perm's
    range (memory safety), not the permutation a second time (an N-byte table per call)."""
    qweight, scales, zeros, perm, buckets, K = w
    M, N = x.shape[0], perm.shape[0]
    b = None
    if bias is not None:
        b = bias.detach().to(torch.float32).contiguous()
    y = torch.empty(M, N, dtype=x.dtype)
    if M:
        _cpu.mp_linear(
            _np(x),
            _DTYPE_CODE[x.dtype],
            _np(qweight),
            _np(scales),
            _np(zeros),
            _np(perm),
            [int(v) for v in buckets],
            int(K),
            None if b is None else b.numpy(),
            int(act_bits),
            _np(y),
            _nthreads(),
            perm_checked=True,
        )
    return y


# ---- eager fast path --------------------------------------------------------------------------
# torch.ops dispatch plus numpy views of every packed tensor and a per-call re-validation of the
# weight cost several times a small layer's kernel (reports/2026-12-07-comment-figures.md). Eager
# calls on plain CPU tensors go straight to the extension instead, with a weight validated once
# and cached; anything the dispatcher must see (torch.compile / export / jit tracing, fake or
# subclass tensors, dispatch or function modes, autograd) keeps the registered op.


class HandleCache:
    """Holder of a cached ``_cpu.PackedWeight``, numpy views of the packed tensors and what they
    were built from (the tensors, the bucket list, the [N, K] the packing was checked against),
    as ONE tuple (``entry``) replaced in one store: threads sharing a weight never read a handle
    with another weight's tensors. Copies and pickles come back empty (the handle is a view of
    its owner's tensors, never state worth saving)."""

    __slots__ = ("entry",)
    # q, s, z, p, buckets, version, handle, arrays, N, K
    _EMPTY = (None, None, None, None, None, -1, None, None, -1, -1)

    def __init__(self):
        self.entry = self._EMPTY

    @property
    def handle(self) -> object:
        return self.entry[6]

    @property
    def arrays(self) -> tuple | None:
        return self.entry[7]

    def __reduce__(self):
        return HandleCache, ()


# (module-level names: a dotted lookup per name adds up on a path called per layer; dynamo
# knows these functions by identity, so tracing through the aliases behaves the same)
_is_compiling = torch.compiler.is_compiling
_is_grad_enabled = torch.is_grad_enabled
_tracing_state = torch._C._get_tracing_state
_dispatch_stack_len = torch._C._len_torch_dispatch_stack
_function_mode_on = torch._C._is_torch_function_mode_enabled
_Tensor = torch.Tensor
_Parameter = torch.nn.Parameter
_strided = torch.strided
_get_num_threads = torch.get_num_threads  # (>= 1: torch refuses set_num_threads(0))


def eager_ok(x: object) -> bool:
    """THE "safe to bypass the dispatcher" predicate, for every eager fast path (mp_linear,
    the swapped modules, mp_topk, QuantizedEmbedding lookups): x is a plain eager strided CPU
    tensor (raw memory means its values: no lazy negation bit), no autograd, no tracing, no
    dispatch or function mode, and the C++ extension is built."""
    # is_compiling first: under dynamo it folds to True before any tensor query is traced
    return (
        HAVE_CPP
        and not _is_compiling()
        and type(x) is _Tensor
        and x.is_cpu
        and x.layout is _strided
        and not x.is_neg()
        and not (x.requires_grad and _is_grad_enabled())
        and _tracing_state() is None
        and not _dispatch_stack_len()
        and not _function_mode_on()
    )


def packed_handle(cache: HandleCache, w: ops.Packed, N: int | None = None) -> tuple:
    """The validated ``_cpu.PackedWeight`` of a packed weight's tensors, rebuilt (and
    re-validated: the op's metadata checks, then C++ checks sizes and that perm is a permutation)
    when any of them is replaced (``.to()``, ``set_packed``) or written in place
    (``load_state_dict``: version counters only grow, so their sum changes), the bucket list is
    replaced, or the caller's K or N differ from those the packing was checked against (a
    ``MixedWeight`` whose ``shape`` was reassigned: the kernel would read K elements of a shorter
    x, or leave columns of a wider y unwritten). Inference tensors (``torch.inference_mode``) have
    no version counter: their handle re-checks perm's range on every call (memory safety; other
    in-place edits of them go unseen). N: the rows the caller believes the weight has (its
    shape), checked against the packing. Returns the cache entry: ``entry[6]`` the handle,
    ``entry[7]`` the numpy views, ``entry[8]``/``entry[9]`` the checked N and K."""
    qweight, scales, zeros, perm, buckets, K = w
    e = cache.entry
    if (
        e[0] is qweight
        and e[1] is scales
        and e[2] is zeros
        and e[3] is perm
        and e[4] is buckets
        and e[9] == K
        and (N is None or e[8] == N)
    ):
        v = e[5]  # (same tensors: same inference-ness)
        if v is None or v == qweight._version + scales._version + zeros._version + perm._version:
            return e
    n = ops.check_packed("chord::mp_linear", w, qweight.device)
    if N is not None and n != N:
        raise ValueError(
            f"chord::mp_linear: shape: the weight claims N = {N} rows, its packing holds {n} "
            "(len(scales), the buckets' rows)"
        )
    if qweight.is_inference() or scales.is_inference() or zeros.is_inference() or perm.is_inference():
        version = None  # no version counter (reading _version would raise: an exception per call)
    else:
        version = qweight._version + scales._version + zeros._version + perm._version
    arrays = (_np(qweight), _np(scales), _np(zeros), _np(perm))
    handle = _cpu.PackedWeight(*arrays, [int(v) for v in buckets], int(K), version is None)
    e = cache.entry = (qweight, scales, zeros, perm, buckets, version, handle, arrays, n, int(K))
    return e


def mp_linear_eager(
    x: torch.Tensor, handle: object, N: int, K: int, bias: torch.Tensor | None = None, act_bits: int = 0
) -> torch.Tensor:
    """``chord::mp_linear`` for x [..., K] (float32/16/bf16, a plain CPU tensor: ``eager_ok``)
    -> [..., N] in x.dtype, through a cached handle. The caller has checked x's dtype and K,
    and bias (shape [N], CPU) if given. Same kernels, same results as the registered op."""
    # (sizes as int arguments: a tuple/Size argument, or a .view() after, costs more;
    # new_empty: x's dtype and device without torch.empty's keyword parsing)
    d = x.dim()
    if d == 2:
        M = x.shape[0]
        sr, sc = x.stride()
        y = x.new_empty(M, N)
    elif d == 3 and x.is_contiguous():  # [B, l, K] (a sequence model's layers): no shape slicing
        B, L, _ = x.shape
        M, sr, sc = B * L, K, 1
        y = x.new_empty(B, L, N)
    else:
        y = torch.empty(*x.shape[:-1], N, dtype=x.dtype)
        if x.is_contiguous():
            M, sr, sc = x.numel() // K, K, 1
        else:  # a view when the leading dims merge, else a copy: strides as they come
            x = x.reshape(-1, K)
            M = x.shape[0]
            sr, sc = x.stride()
    if M == 0:
        return y
    b = 0
    if bias is not None:
        if bias.dtype is not torch.float32 or not bias.is_contiguous() or bias.is_neg():
            # (resolve_neg: a lazily negated view's memory holds the values un-negated)
            bias = bias.detach().resolve_neg().to(torch.float32).contiguous()
        b = bias.data_ptr()
    _cpu.mp_linear_ptr(
        handle, x.data_ptr(), _DTYPE_CODE[x.dtype], M, sr, sc, b, act_bits, y.data_ptr(), N, _get_num_threads()
    )
    return y


_f32 = torch.float32
_ACT_BITS = frozenset((0, 8))


def linear_cached(
    cache: HandleCache,
    bufs: dict,
    buckets: list[int],
    x: torch.Tensor,
    bias: torch.Tensor | None,
    act_bits: int,
    N: int,
    K: int,
) -> torch.Tensor | None:
    """An eager linear call on a cached handle in one step, or None when it needs the general
    path (``functional.linear_packed``: its checks raise naming the argument, or it handles the
    case). The common call of ``chord.mp_linear`` on a ``MixedWeight`` (``bufs``: its instance
    dict) and of a swapped layer (``bufs``: its ``_buffers``) once their handle is built.
    Taken when the packed tensors in ``bufs`` and ``buckets`` are the very tensors and list
    ``cache`` was validated for, at this N and K (same objects, versions and shape, as
    :func:`packed_handle` tests), x is ``eager_ok``, [M, K] (any strides) or [B, l, K] whose
    leading dims merge into one row stride, act_bits is 0 or 8 and bias is None or a float32
    contiguous [N] CPU tensor or Parameter (not a subclass, not a lazily negated view) that needs
    no autograd. Same kernel, same arguments, so bit-identical to the general path.
    (One function, no tuples built: a sequence model's layers are small enough that the general
    path's Python was half of a layer call, reports/2026-12-07-e2e-2.md; at M = 1 4096^2 each
    call follows a 6 MB weight stream that evicts this code's data, and every layer and torch
    call skipped counts, reports/2026-12-07-m1-overhead-1.md.)"""
    # eager_ok first: under dynamo it folds to False before any tensor below is traced
    if not eager_ok(x) or act_bits not in _ACT_BITS or type(act_bits) is not int:
        return None
    e = cache.entry
    q, s, z, p = bufs["qweight"], bufs["scales"], bufs["zeros"], bufs["perm"]
    if (
        e[0] is not q
        or e[1] is not s
        or e[2] is not z
        or e[3] is not p
        or e[4] is not buckets
        or e[8] != N
        or e[9] != K
    ):
        return None
    v = e[5]
    if v is not None and v != q._version + s._version + z._version + p._version:
        return None
    dt = x.dtype
    code = 0 if dt is _f32 else _DTYPE_CODE.get(dt)
    if code is None:
        return None
    b = 0
    if bias is not None:
        tb = type(bias)  # (exact types: isinstance on a Parameter goes through the metaclass's check)
        if not (
            (tb is _Parameter or tb is _Tensor)
            and bias.dtype is _f32
            and bias.is_cpu
            and bias.ndim == 1
            and bias.shape[0] == N
            and bias.is_contiguous()
            and not bias.is_neg()
            and not (_is_grad_enabled() and bias.requires_grad)
        ):
            return None
        b = bias.data_ptr()
    sh = x.shape
    d = len(sh)
    if d == 2:
        M, k = sh
        if k != K:
            return None
        sr, sc = x.stride()
        y = x.new_empty(M, N)
    elif d == 3:  # [B, l, K] (a sequence model's layers; Caser's overlapping filter windows at B = 1)
        B, L, k = sh
        if k != K:
            return None
        if x.is_contiguous():  # (the common case: one call, no stride tuple)
            sr, sc = K, 1
        else:
            s0, sr, sc = x.stride()
            if B > 1 and s0 != L * sr:  # leading dims that do not merge: the general path
                return None
        M = B * L
        y = x.new_empty(B, L, N)
    else:
        return None
    if M:
        _cpu.mp_linear_ptr(e[6], x.data_ptr(), code, M, sr, sc, b, act_bits, y.data_ptr(), N, _get_num_threads())
    return y


def _mp_topk_impl(
    x: torch.Tensor, w: ops.Packed, k: int, candidates: torch.Tensor | None = None, act_bits: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The registered CPU impl of ``torch.ops.chord.mp_topk`` (private, as ``_mp_linear_impl``).
    C++ ``chord::mp_topk``: fused scoring + top-k, never materializing [M, N] scores.
    x float [M, K] (widened to float32 exactly) -> (values float32 [M, k], indices int64 [M, k]);
    ties -> smaller item id first (as the reference). Arguments pass ``chord.ops.check_mp_topk``
    first (perm a permutation there; C++ checks x finite and candidate ids in range)."""
    *tensors, buckets, K = w
    arrays = tuple(t.detach().numpy() for t in tensors)  # qweight, scales, zeros, perm
    return mp_topk_arrays(x, arrays, buckets, K, k, candidates, act_bits)


def mp_topk_arrays(
    x: torch.Tensor,
    arrays: tuple,
    buckets: list[int],
    K: int,
    k: int,
    candidates: torch.Tensor | None = None,
    act_bits: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``mp_topk`` on numpy views (qweight, scales, zeros, perm) of a checked packed weight (perm
    a permutation: C++ skips that O(N) pass); the eager fast path passes the cached views of
    ``packed_handle``."""
    xf = x.detach().to(torch.float32).contiguous()
    M = xf.shape[0]
    vals = torch.empty(M, k, dtype=torch.float32)
    idx = torch.empty(M, k, dtype=torch.int64)
    cand = None if candidates is None else candidates.detach().to(torch.int64).contiguous().numpy()
    _cpu.mp_topk(
        xf.numpy(),
        *arrays,
        [int(b) for b in buckets],
        int(K),
        int(k),
        cand,
        int(act_bits),
        vals.numpy(),
        idx.numpy(),
        _nthreads(),
        perm_checked=True,  # by the op layer (once per perm version) or packed_handle (once per weight)
    )
    return vals, idx


def kernels() -> dict[str, Callable]:
    """op name -> the CPU implementation registered for it: the C++ kernel, or the reference
    wrapped to warn once (``fallback``) when the extension (or its op) is missing."""
    why = f"C++ extension unavailable: {_IMPORT_ERROR}" if not HAVE_CPP else ""
    fused_topk = HAVE_CPP and hasattr(_cpu, "mp_topk")
    have = {"quantize_pack": HAVE_CPP, "mp_linear": HAVE_CPP, "mp_topk": fused_topk}
    cpp = {"quantize_pack": quantize_pack, "mp_linear": _mp_linear_impl, "mp_topk": _mp_topk_impl}
    return {
        f"chord::{name}": cpp[name]
        if ok
        else fallback.reference_kernel(
            f"chord::{name}", "cpu", getattr(reference, name), why or f"this build of the C++ extension has no {name}"
        )
        for name, ok in have.items()
    }


def _register() -> None:
    for op, fn in kernels().items():  # behind the op's checks (chord.ops)
        ops.register_kernel(op.split("::")[1], "cpu", fn)


_register()
