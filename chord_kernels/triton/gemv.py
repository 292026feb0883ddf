"""GEMV family: y[m, :] = x[m, :] @ W_hat.T for small M, on CUDA cores.

One program owns BLOCK_N packed rows of one bucket and one activation row; it streams those
rows along K once (16-byte vector loads of the planar blocks), unpacks each byte tile in
registers into fp32 (2/4/1-bit: 1 + u/2^b straight from the mantissa bits; 8-bit: u via the
2^23 trick), multiplies by the matching activations and accumulates a 2-D fp32 tile that is
reduced once at the end. A K step is BLOCK_KB bytes of every row whatever its width (so
the tile, its registers and its layout are the same in every bucket; a 2-bit row simply
covers 4x the elements of an 8-bit one per step). The zero point and scale are applied in the epilogue:
y = scale * (sum_k x_k u_k - zero * sum_k x_k) (* per-row activation scale) + bias, and the
result is stored straight into its original column ``perm[row]`` (the row scatter is the
store). Pruned rows only write bias (or 0) and never touch ``qweight``.

No split-K: at the shapes this serves (N >= 4096 for the backbone layers, N = 10^6 for item
scoring) BLOCK_N <= 32 already gives >= 128 programs per bucket, enough to keep HBM busy, and
split-K would need atomics (run-to-run non-deterministic) or a second reduction launch.
"""

from __future__ import annotations

import triton
import triton.language as tl

from . import configs
from .layout import bucket_tile, planar_k, pruned_tile, row_bytes, unpack_f32, unpack_unit_f32


@triton.jit
def _gemv_tile(args, tile, start, rows, boff, BITS: tl.constexpr, HAS_BIAS: tl.constexpr, BLOCK_N: tl.constexpr,
    BLOCK_KB: tl.constexpr):  # fmt: skip
    """One BLOCK_N-row tile of one bucket (``layout.bucket_tile`` calls it with the ``args`` and the
    constexpr ``opts`` (the parameters after BITS) that ``mp_gemv_kernel`` passes)."""
    x_row, stride_xk, qw_ptr, sc_ptr, ze_ptr, perm_ptr, bias_ptr, y_row, xscale, K, one_bits = args
    EPB: tl.constexpr = 8 // BITS
    BKB: tl.constexpr = BLOCK_KB  # bytes of a row per K step, whatever the width
    rb = row_bytes(K, BITS)
    boff = boff.to(tl.int64) * 16  # offsets come in 16-byte units: alignment is visible
    r = tile * BLOCK_N + tl.arange(0, BLOCK_N)  # row inside the bucket
    rmask = r < rows
    c = tl.arange(0, BKB)
    w_ptrs = qw_ptr + boff + r[:, None].to(tl.int64) * rb + c[None, :]
    acc = tl.zeros([BLOCK_N, BKB], dtype=tl.float32)
    xs = tl.zeros([BKB], dtype=tl.float32)
    for kb in range(0, rb, BKB):
        wmask = rmask[:, None] & ((kb + c) < rb)[None, :]
        wb = tl.load(w_ptrs + kb, mask=wmask, other=0).to(tl.int32)
        for i in tl.static_range(EPB):
            k = kb * EPB + planar_k(c, i, BITS)
            xv = tl.load(x_row + k * stride_xk, mask=k < K, other=0.0).to(tl.float32)
            if BITS <= 4:
                acc += unpack_unit_f32(wb, one_bits, i, BITS) * xv[None, :]  # x * (1 + u / 2^BITS)
            else:
                acc += unpack_f32(wb, i, BITS) * xv[None, :]  # x * u
            xs += xv
    sx = tl.sum(xs, axis=0)
    if BITS <= 4:
        dot = (tl.sum(acc, axis=1) - sx) * (1 << BITS)
    else:
        dot = tl.sum(acc, axis=1)
    pr = start + r
    scale = tl.load(sc_ptr + pr, mask=rmask, other=0.0)
    zero = tl.load(ze_ptr + pr, mask=rmask, other=0.0)
    y = scale * (dot - zero * sx) * xscale
    orig = tl.load(perm_ptr + pr, mask=rmask, other=0)
    if HAS_BIAS:
        y += tl.load(bias_ptr + orig, mask=rmask, other=0.0).to(tl.float32)
    tl.store(y_row + orig, y.to(y_row.dtype.element_ty), mask=rmask)


@triton.jit
def _gemv_pruned_tile(perm_ptr, bias_ptr, y_row, tile, start, rows, HAS_BIAS: tl.constexpr, BLOCK_N: tl.constexpr):
    orig, y, rmask = pruned_tile(perm_ptr, bias_ptr, tile, start, rows, HAS_BIAS, BLOCK_N)
    tl.store(y_row + orig, y.to(y_row.dtype.element_ty), mask=rmask)


@triton.jit(
    do_not_specialize=["S8", "N8", "S4", "N4", "S2", "N2", "S1", "N1", "S0", "N0", "M_KEY", "N_KEY", "ONE_BITS"]
)
def mp_gemv_kernel(
    x_ptr, qw_ptr, sc_ptr, ze_ptr, perm_ptr, bias_ptr, xscale_ptr, y_ptr,
    K, stride_xm, stride_xk, stride_ym, ONE_BITS,
    S8, N8, O8, S4, N4, O4, S2, N2, O2, S1, N1, O1, S0, N0,  # per width: start row, rows, 16-byte offset
    M_KEY, N_KEY,  # autotuning keys only (bucketed M, N)
    W8: tl.constexpr, W4: tl.constexpr, W2: tl.constexpr, W1: tl.constexpr, HAS_BIAS: tl.constexpr,
    HAS_XSCALE: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_KB: tl.constexpr,
):  # fmt: skip
    """Grid (tiles over all buckets, M). x [M, K] fp32/fp16/bf16 (any strides); y [M, N]
    (row stride ``stride_ym``, unit column stride) in its own dtype; qweight uint8; scales,
    zeros fp32 [N]; perm int32 [N]; bias [N] any float (HAS_BIAS); xscale fp32 [M] (HAS_XSCALE:
    per-row activation scale of the int8-activation path); ONE_BITS must be 0x3F800000 (the bits
    of 1.0f, see ``layout.unpack_unit_f32``)."""
    t = tl.program_id(0)
    m = tl.program_id(1).to(tl.int64)
    x_row = x_ptr + m * stride_xm
    y_row = y_ptr + m * stride_ym
    xscale = 1.0
    if HAS_XSCALE:
        xscale = tl.load(xscale_ptr + m)
    args = (x_row, stride_xk, qw_ptr, sc_ptr, ze_ptr, perm_ptr, bias_ptr, y_row, xscale, K, ONE_BITS)
    geometry = ((S8, N8, O8), (S4, N4, O4), (S2, N2, O2), (S1, N1, O1))
    e1 = bucket_tile(_gemv_tile, args, (HAS_BIAS, BLOCK_N, BLOCK_KB), t, geometry, (W8, W4, W2, W1), BLOCK_N)
    if t >= e1:
        _gemv_pruned_tile(perm_ptr, bias_ptr, y_row, t - e1, S0, N0, HAS_BIAS, BLOCK_N)


#: Autotuned entry point (one config under the interpreter, see ``configs``).
mp_gemv = triton.autotune(
    configs=configs.to_triton(configs.gemv_configs(configs.interpreting(mp_gemv_kernel), configs.AUTOTUNE)),
    key=["M_KEY", "N_KEY", "K", "W8", "W4", "W2", "W1", "HAS_BIAS"],
    prune_configs_by={"early_config_prune": configs.prune_gemv},
)(mp_gemv_kernel)
