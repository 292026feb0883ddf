"""Host side of the Triton kernels: argument checks, GEMV-vs-GEMM choice, launch.

``mp_linear_packed`` has the signature and meaning of the ``chord::mp_linear`` op (it is the
op's CUDA implementation); ``mp_linear`` is the same on a ``MixedWeight``. On CPU tensors they
run only when the kernels were built under ``TRITON_INTERPRET=1`` (how CI tests them).
"""

from __future__ import annotations

import functools

import torch
import triton
import triton.language as tl

from chord import format as fmt
from chord import ops

from . import configs
from .configs import check_runnable
from .gemm import mp_gemm, mp_gemm_kernel
from .gemv import mp_gemv, mp_gemv_kernel
from .layout import WIDTHS, bucket_args, num_tiles, only_bucket

INTERPRET = configs.interpreting(mp_gemv_kernel)
_TL = {torch.float32: tl.float32, torch.float16: tl.float16, torch.bfloat16: tl.bfloat16}


def dot_config(x_dtype: torch.dtype, interpret: bool = INTERPRET):
    """(DOT_DTYPE, DOT_PREC) of the GEMM family for activations of ``x_dtype``.

    fp16/bf16 run the dot in their own type (u < 256 is exact in both). fp32 follows torch's
    own matmul setting: ``torch.get_float32_matmul_precision() == "highest"`` (torch's default)
    gives IEEE fp32, "high"/"medium" allow TF32. The interpreter has no bf16 arithmetic, so there
    bf16 is computed in fp32 (same result up to rounding).
    """
    if x_dtype == torch.float32 or (interpret and x_dtype == torch.bfloat16):
        prec = "ieee" if interpret or torch.get_float32_matmul_precision() == "highest" else "tf32"
        return tl.float32, prec
    return _TL[x_dtype], "tf32"


@functools.lru_cache(maxsize=1024)
def _layout(buckets: tuple, K: int):
    """(total packed bytes, kernel bucket arguments): cached, the host cost of a call matters
    at M = 1 where the kernel itself takes microseconds."""
    return fmt.total_bytes(list(buckets), K), bucket_args(buckets, K)


def _check(x, qweight, scales, zeros, perm, buckets, K, bias, act_bits):
    # the op's metadata checks only: no host sync, so a call can be captured in a CUDA graph
    # (benchmarks/gpu); perm's values are checked on the op's path (chord::mp_linear)
    ops.check_mp_linear(x, ops.Packed(qweight, scales, zeros, perm, buckets, K), bias, act_bits)
    check_runnable("chord::mp_linear", "x", x.device, INTERPRET)


def choose_path(M: int) -> str:
    """ "gemv" (CUDA cores, one activation row per program) or "gemm" (tensor cores)."""
    return "gemv" if M <= configs.GEMV_MAX_M else "gemm"


def mp_linear_packed(
    x,
    qweight,
    scales,
    zeros,
    perm,
    buckets,
    K,
    bias=None,
    act_bits=0,
    *,
    out: torch.Tensor | None = None,
    path: str | None = None,
    config: dict | None = None,
    launch: str = "fused",
) -> torch.Tensor:
    """x [M, K] fp32/fp16/bf16 (any strides) -> y [M, N] in x.dtype, ``x @ W_hat.T + bias``.

    Packed arguments as in ``chord.format``. ``act_bits=8`` first quantizes each row of x to
    int8 (per-row symmetric, ``chord.backends.reference.quantize_activations_int8``) exactly as
    the CPU path does; the integers are exact in the dot dtype, the row scale is applied in the
    epilogue. ``out`` (optional [M, N] tensor of x's dtype with unit column stride) receives the
    result; ``path`` forces "gemv"/"gemm"; ``config`` (a dict of block sizes, num_warps,
    num_stages) bypasses autotuning; ``launch="per_bucket"`` runs one launch per bucket instead of
    one for all (the alternative the README weighs): these exist for tests and benchmarks.
    """
    buckets = [int(b) for b in buckets]
    _check(x, qweight, scales, zeros, perm, buckets, K, bias, act_bits)
    M, N = x.shape[0], perm.shape[0]
    if out is None:
        y = torch.empty(M, N, dtype=x.dtype, device=x.device)
    else:
        if out.shape != (M, N) or out.dtype != x.dtype or out.device != x.device or (M and N and out.stride(1) != 1):
            raise ValueError(
                f"out: expected a [{M}, {N}] {x.dtype} tensor on {x.device} with unit column "
                f"stride, got {list(out.shape)} {out.dtype} on {out.device} strides {out.stride()}"
            )
        y = out
    if M == 0 or N == 0:
        return y
    xscale = None
    if act_bits == 8:
        from chord.backends.reference import quantize_activations_int8

        xq, xscale = quantize_activations_int8(x)
        # |xq| <= 127 is exact in fp16; fp32 under the interpreter (no fp16 math needed there)
        x = xq.to(torch.float32 if INTERPRET else torch.float16)
        xscale = xscale.to(torch.float32).contiguous()
    if launch not in ("fused", "per_bucket"):
        raise ValueError(f"launch: expected 'fused' or 'per_bucket', got {launch!r}")
    bargs = _layout(tuple(buckets), K)[1]
    # Triton rejects null pointers: unused/empty buffers get a valid dummy (never read).
    dummy = scales if scales.numel() else y
    args = dict(
        x_ptr=x,
        qw_ptr=qweight if qweight.numel() else dummy,
        sc_ptr=scales,
        ze_ptr=zeros,
        perm_ptr=perm,
        bias_ptr=bias.contiguous() if bias is not None else dummy,
        xscale_ptr=xscale if xscale is not None else dummy,
        y_ptr=y,
        K=K,
        stride_xm=x.stride(0),
        stride_xk=x.stride(1),
        stride_ym=y.stride(0),
        M_KEY=configs.bucket_m(M),
        N_KEY=configs.bucket_n(N),
        HAS_BIAS=bias is not None,
        HAS_XSCALE=xscale is not None,
    )
    path = path or choose_path(M)
    if path not in ("gemv", "gemm"):
        raise ValueError(f"path: expected 'gemv', 'gemm' or None, got {path!r}")
    if path == "gemv" and M > 65535:
        raise ValueError(f"path='gemv' supports M <= 65535 (grid limit), got M={M}")
    if path == "gemm":
        dd, dp = dot_config(x.dtype)
        args.update(M=M, DOT_DTYPE=dd, DOT_PREC=dp)
    if launch == "fused":
        parts = [bargs]
    else:
        parts = [only_bucket(bargs, b) for b in WIDTHS + (0,) if bargs[f"N{b}"]]
    for part in parts:
        if path == "gemv":
            grid = lambda meta, p=part: (num_tiles(p, meta["BLOCK_N"]), M)  # noqa: E731
            _launch(mp_gemv, mp_gemv_kernel, grid, {**args, **part, "ONE_BITS": 0x3F800000}, config)
        else:
            grid = lambda meta, p=part: (triton.cdiv(M, meta["BLOCK_M"]) * num_tiles(p, meta["BLOCK_N"]),)  # noqa: E731
            _launch(mp_gemm, mp_gemm_kernel, grid, {**args, **part}, config)
    return y


def _launch(tuned, raw, grid, args, config):
    if config is None:
        tuned[grid](**args)
        return
    kw = dict(config)
    if "BLOCK_KB" in kw and (kw["BLOCK_KB"] < 16 or kw["BLOCK_KB"] % 16):
        raise ValueError(f"config: BLOCK_KB={kw['BLOCK_KB']} must be a positive multiple of 16 (planar blocks)")
    if "BLOCK_K" in kw and kw["BLOCK_K"] < configs.min_block_k(args):
        raise ValueError(
            f"config: BLOCK_K={kw['BLOCK_K']} is below {configs.min_block_k(args)}, "
            "16 bytes of the narrowest live width"
        )
    raw[grid](**args, **kw)


def mp_linear(x: torch.Tensor, mw, bias: torch.Tensor | None = None, act_bits: int = 0, **kw) -> torch.Tensor:
    """x [..., K] fp32/fp16/bf16 -> [..., N] in x.dtype for a ``chord.MixedWeight`` ``mw``:
    ``x @ mw.dequantize().T + bias`` through the Triton kernels (no op dispatch)."""
    from chord.functional import check_linear_call
    from chord.mixed_weight import MixedWeight

    if not isinstance(mw, MixedWeight):
        raise TypeError(f"mw: expected chord.MixedWeight, got {type(mw).__name__}")
    check_linear_call(x, mw.qweight, mw.K, mw.N, bias, act_bits)
    lead = x.shape[:-1]
    y = mp_linear_packed(
        x.reshape(-1, mw.K), mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.K, bias, act_bits, **kw
    )
    return y.reshape(*lead, mw.N)
