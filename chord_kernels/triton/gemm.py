"""GEMM family: y = x @ W_hat.T for larger M, on tensor cores (``tl.dot``).

A program owns a [BLOCK_M, BLOCK_N] output tile of one bucket. Per K step it loads a
[BLOCK_K / epb bytes, BLOCK_N] tile of packed bytes once and, for each of the epb shifts,
unpacks it in registers into the dot dtype (``layout.unpack_dot``: offset + u, exact) and issues one
``tl.dot([BLOCK_M, BLOCK_K/epb] activations, [BLOCK_K/epb, BLOCK_N] integers)`` against the
activations gathered at the planar positions of that shift (``layout.planar_k``), accumulating
in fp32. Running the dot on the raw unsigned integers keeps every operand exact in fp16/bf16
for every scheme (an asymmetric zero point need not be a small integer); the zero point is
folded in the epilogue with the row sums of x, accumulated alongside by a dot with ones:
y = scale * (acc - zero * sum_k x) (* activation scale) + bias, stored at ``perm[row]``.

Program ids run M-blocks fastest, so the programs sharing a weight tile run together and the
weights come from HBM once (later M-blocks hit L2).
"""

from __future__ import annotations

import triton
import triton.language as tl

from . import configs
from .layout import bucket_tile, dot_offset, planar_k, pruned_tile, row_bytes, unpack_dot


@triton.jit
def _gemm_tile(args, tile, start, rows, boff, BITS: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_XSCALE: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, DOT_DTYPE: tl.constexpr,
    DOT_PREC: tl.constexpr):  # fmt: skip
    """One tile of one bucket (``layout.bucket_tile`` calls it with the ``args`` and the
    constexpr ``opts`` (the parameters after BITS) that ``mp_gemm_kernel`` passes)."""
    (x_ptr, stride_xm, stride_xk, M, qw_ptr, sc_ptr, ze_ptr, perm_ptr, bias_ptr, xscale_ptr, y_ptr, stride_ym, K,
     pid_m) = args  # fmt: skip
    EPB: tl.constexpr = 8 // BITS
    BKB: tl.constexpr = BLOCK_K // EPB
    rb = row_bytes(K, BITS)
    boff = boff.to(tl.int64) * 16  # offsets come in 16-byte units: alignment is visible
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    mmask = offs_m < M
    r = tile * BLOCK_N + tl.arange(0, BLOCK_N)
    rmask = r < rows
    c = tl.arange(0, BKB)
    w_ptrs = qw_ptr + boff + r[None, :].to(tl.int64) * rb + c[:, None]  # [BKB, BLOCK_N]
    x_rows = x_ptr + offs_m[:, None].to(tl.int64) * stride_xm  # [BLOCK_M, 1]
    acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
    # sum_k x rides on the tensor cores as a dot with a ones tile: no reduction inside the loop
    # (triton 3.7's OptimizeThreadLocality pass crashes on a tl.sum of a dot operand in the
    # loop for fp32 dots), and under TF32 it sums the same rounded x as the main dot
    ones = tl.full([BKB, 16], 1.0, DOT_DTYPE)
    xs_acc = tl.zeros([BLOCK_M, 16], dtype=tl.float32)
    for kb in range(0, rb, BKB):
        wmask = ((kb + c) < rb)[:, None] & rmask[None, :]
        wb = tl.load(w_ptrs + kb, mask=wmask, other=0).to(tl.int32)
        for i in tl.static_range(EPB):
            k = kb * EPB + planar_k(c, i, BITS)
            a = tl.load(x_rows + k[None, :] * stride_xk, mask=mmask[:, None] & (k < K)[None, :], other=0.0)
            a = a.to(DOT_DTYPE)
            b = unpack_dot(wb, i, BITS, DOT_DTYPE)  # dot_offset + u, exact
            acc = tl.dot(a, b, acc, input_precision=DOT_PREC)
            xs_acc = tl.dot(a, ones, xs_acc, input_precision=DOT_PREC)
    xs = tl.sum(xs_acc, axis=1) * (1.0 / 16)  # 16 equal columns: exact
    pr = start + r
    scale = tl.load(sc_ptr + pr, mask=rmask, other=0.0)
    zero = tl.load(ze_ptr + pr, mask=rmask, other=0.0)
    y = (acc - xs[:, None] * (zero + dot_offset(BITS, DOT_DTYPE))[None, :]) * scale[None, :]
    if HAS_XSCALE:
        y = y * tl.load(xscale_ptr + offs_m, mask=mmask, other=0.0)[:, None]
    orig = tl.load(perm_ptr + pr, mask=rmask, other=0)
    if HAS_BIAS:
        y += tl.load(bias_ptr + orig, mask=rmask, other=0.0).to(tl.float32)[None, :]
    y_ptrs = y_ptr + offs_m[:, None].to(tl.int64) * stride_ym + orig[None, :]
    tl.store(y_ptrs, y.to(y_ptr.dtype.element_ty), mask=mmask[:, None] & rmask[None, :])


@triton.jit
def _gemm_pruned_tile(
    perm_ptr,
    bias_ptr,
    y_ptr,
    stride_ym,
    M,
    pid_m,
    tile,
    start,
    rows,
    HAS_BIAS: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    mmask = offs_m < M
    orig, yr, rmask = pruned_tile(perm_ptr, bias_ptr, tile, start, rows, HAS_BIAS, BLOCK_N)
    y = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32) + yr[None, :]
    y_ptrs = y_ptr + offs_m[:, None].to(tl.int64) * stride_ym + orig[None, :]
    tl.store(y_ptrs, y.to(y_ptr.dtype.element_ty), mask=mmask[:, None] & rmask[None, :])


@triton.jit(do_not_specialize=["S8", "N8", "S4", "N4", "S2", "N2", "S1", "N1", "S0", "N0", "M_KEY", "N_KEY"])
def mp_gemm_kernel(
    x_ptr, qw_ptr, sc_ptr, ze_ptr, perm_ptr, bias_ptr, xscale_ptr, y_ptr,
    M, K, stride_xm, stride_xk, stride_ym,
    S8, N8, O8, S4, N4, O4, S2, N2, O2, S1, N1, O1, S0, N0,  # per width: start row, rows, 16-byte offset
    M_KEY, N_KEY,  # autotuning keys only (bucketed M, N)
    W8: tl.constexpr, W4: tl.constexpr, W2: tl.constexpr, W1: tl.constexpr, HAS_BIAS: tl.constexpr,
    HAS_XSCALE: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    DOT_DTYPE: tl.constexpr, DOT_PREC: tl.constexpr,
):  # fmt: skip
    """1-D grid of cdiv(M, BLOCK_M) x (tiles over all buckets), M fastest. Tensors as in
    ``gemv.mp_gemv_kernel``; DOT_DTYPE is the operand type of ``tl.dot`` (x's dtype on GPU),
    DOT_PREC its fp32 input precision ("ieee" or "tf32")."""
    pid = tl.program_id(0)
    num_m = tl.cdiv(M, BLOCK_M)
    pid_m = pid % num_m
    t = pid // num_m
    args = (x_ptr, stride_xm, stride_xk, M, qw_ptr, sc_ptr, ze_ptr, perm_ptr, bias_ptr, xscale_ptr, y_ptr,
            stride_ym, K, pid_m)  # fmt: skip
    geometry = ((S8, N8, O8), (S4, N4, O4), (S2, N2, O2), (S1, N1, O1))
    e1 = bucket_tile(
        _gemm_tile,
        args,
        (HAS_BIAS, HAS_XSCALE, BLOCK_M, BLOCK_N, BLOCK_K, DOT_DTYPE, DOT_PREC),
        t,
        geometry,
        (W8, W4, W2, W1),
        BLOCK_N,
    )
    if t >= e1:
        _gemm_pruned_tile(perm_ptr, bias_ptr, y_ptr, stride_ym, M, pid_m, t - e1, S0, N0, HAS_BIAS, BLOCK_M, BLOCK_N)


#: Autotuned entry point (one config under the interpreter, see ``configs``).
mp_gemm = triton.autotune(
    configs=configs.to_triton(configs.gemm_configs(configs.interpreting(mp_gemm_kernel), configs.AUTOTUNE)),
    key=["M_KEY", "N_KEY", "K", "W8", "W4", "W2", "W1", "HAS_BIAS", "DOT_PREC"],
    prune_configs_by={"early_config_prune": configs.prune_gemm},
)(mp_gemm_kernel)
