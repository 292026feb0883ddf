"""Reading ``chord.format``'s packed layout from Triton: bucket table -> kernel arguments, the
tile -> bucket lookup, and the in-register planar unpack shared by every kernel family.

The kernels read the canonical layout as it is (no GPU-specific copy): a packed row is
contiguous along K in 16-byte planar blocks, so a [rows, bytes] tile is one 16-byte vector per
thread per row segment, and one shift + mask of a byte tile yields 16 *consecutive* elements per
16 bytes. We therefore never reshape the unpacked values: for shift i, byte column c of the tile
holds element ``(c // 16) * block_elems + i * 16 + c % 16`` and the kernels gather the matching
activations instead (x is small and cache resident; the weights are what streams from HBM).

One launch covers every bucket: program ``t`` of the N axis finds its bucket by comparing ``t``
with the cumulative tile counts of the (at most four) live widths, passed as scalars. See the
README section "Backends and dispatch" for why this beats one launch per bucket.
"""

from __future__ import annotations

import triton
import triton.language as tl

from chord import format as fmt

#: widths the kernels are specialized for, in ``format.BUCKET_ORDER`` (pruned handled apart)
WIDTHS = (8, 4, 2, 1)


def bucket_args(buckets, K: int) -> dict:
    """Flat ``[bits, rows, ...]`` -> the scalar kernel arguments describing each width's rows.

    Returns ``{"S8", "N8", "O8", ..., "S0", "N0", "W8", ..., "W1"}``: start row, row count and
    byte offset *in 16-byte units* of each width's bucket (0 rows when absent), the start/count
    of the pruned rows, and constexpr presence flags (so absent widths compile out). Offsets
    travel in 16-byte units so the compiler sees their alignment (``tl.multiple_of`` on a scalar
    argument does not reach the load's axis analysis) and emits 16-byte vector loads.
    """
    args = {}
    for b in WIDTHS + (0,):
        args[f"S{b}"], args[f"N{b}"] = 0, 0
        if b:
            args[f"O{b}"], args[f"W{b}"] = 0, False
    for bits, start, n, off in fmt.bucket_spans(list(buckets), K):
        if bits not in WIDTHS + (0,):
            raise ValueError(f"buckets: width {bits} is not supported by the Triton kernels {WIDTHS + (0,)}")
        args[f"S{bits}"], args[f"N{bits}"] = start, n
        if bits:
            assert off % fmt.BLOCK_BYTES == 0, "format: bucket byte offsets are whole 16-byte blocks"
            args[f"O{bits}"], args[f"W{bits}"] = off // fmt.BLOCK_BYTES, n > 0
    return args


def only_bucket(bucket_kwargs: dict, bits: int) -> dict:
    """The kernel arguments of one width's bucket alone (for one launch per bucket)."""
    out = dict(bucket_kwargs)
    for b in WIDTHS + (0,):
        if b != bits:
            out[f"N{b}"] = 0
            if b:
                out[f"W{b}"] = False
    return out


def num_tiles(bucket_kwargs: dict, block_n: int) -> int:
    """Programs along N: each live width's rows in ``block_n`` tiles, then the pruned rows."""
    return sum(triton.cdiv(bucket_kwargs[f"N{b}"], block_n) for b in WIDTHS + (0,))


@triton.jit
def row_bytes(K, BITS: tl.constexpr):
    """Bytes of one packed row (``format.row_bytes``): K padded to whole 16-byte blocks."""
    EPB: tl.constexpr = 8 // BITS
    return tl.cdiv(K, 16 * EPB) * 16


@triton.jit
def planar_k(c, i, BITS: tl.constexpr):
    """Element index (along K) held by shift ``i`` of byte ``c`` of a row (format.py)."""
    EPB: tl.constexpr = 8 // BITS
    return (c // 16) * (16 * EPB) + i * 16 + (c % 16)


@triton.jit
def unpack_f32(wb, i: tl.constexpr, BITS: tl.constexpr):
    """int32 tile of packed bytes -> fp32 tile of the unsigned integers at shift ``i``.

    The int->float conversion is the 2^23 mantissa trick (one OR + one FADD, exact for any
    u < 2^23) instead of I2F, whose throughput on Hopper is a quarter of the FP32 pipe.
    """
    MASK: tl.constexpr = (1 << BITS) - 1
    u = (wb >> (i * BITS)) & MASK
    return (u | 0x4B000000).to(tl.float32, bitcast=True) - 8388608.0


@triton.jit
def unpack_unit_f32(wb, one_bits, i: tl.constexpr, BITS: tl.constexpr):
    """int32 tile of packed bytes -> fp32 tile of 1 + u / 2^BITS (u at shift ``i``), exactly.

    u goes straight into the top mantissa bits of 1.0f: one shift + one LOP3 (and | or), no
    conversion and no subtraction, so a GEMV's inner loop is shift, LOP3, FFMA. ``one_bits`` is
    the bit pattern of 1.0f (0x3F800000) passed as a *runtime* value: with two immediates
    ptxas emits two LOP3s per element, with one in a register it fuses them. The caller
    recovers sum x*u = 2^BITS * (sum x*w' - sum x) in the epilogue; that amplifies fp32 rounding
    by ~2^BITS, so use it for BITS <= 4 only (<= 16x, far below the 1e-5 fp32 tolerance).
    """
    MASK: tl.constexpr = (1 << BITS) - 1
    POS: tl.constexpr = 23 - BITS  # u's lowest bit lands on mantissa bit 23 - BITS
    if POS >= i * BITS:
        v = (wb << (POS - i * BITS)) & (MASK << POS)
    else:
        v = (wb >> (i * BITS - POS)) & (MASK << POS)
    return (v | one_bits).to(tl.float32, bitcast=True)


@triton.jit
def dot_offset(BITS: tl.constexpr, DOT_DTYPE: tl.constexpr):
    """What ``unpack_dot`` adds to u: 1024 (fp16), 128 (bf16, <= 4 bits), else 0."""
    if DOT_DTYPE == tl.float16:
        return 1024.0
    elif DOT_DTYPE == tl.bfloat16 and BITS <= 4:
        return 128.0
    else:
        return 0.0


@triton.jit
def unpack_dot(wb, i: tl.constexpr, BITS: tl.constexpr, DOT_DTYPE: tl.constexpr):
    """int32 tile of packed bytes -> tl.dot operand holding ``dot_offset + u`` exactly.

    fp16: u OR-ed under the exponent of 1024.0h (0x6400) is 1024 + u (exact for u < 1024); bf16
    (<= 4 bits) likewise under 128.0 (0x4300). One shift + one LOP3 + a 16-bit narrowing per
    element, against shift, LOP3s, FADD and a float narrowing for the fp32 route. The caller
    subtracts ``dot_offset * sum(x)`` in the epilogue: the cancellation costs ~offset x fp32
    rounding (<= 1e-4 relative), far below fp16/bf16 output rounding; fp32 dots stay exact.
    """
    MASK: tl.constexpr = (1 << BITS) - 1
    if DOT_DTYPE == tl.float16:
        v = ((wb >> (i * BITS)) & MASK) | 0x6400
        return v.to(tl.int16).to(tl.float16, bitcast=True)
    elif DOT_DTYPE == tl.bfloat16 and BITS <= 4:
        v = ((wb >> (i * BITS)) & MASK) | 0x4300
        return v.to(tl.int16).to(tl.bfloat16, bitcast=True)
    else:
        return unpack_f32(wb, i, BITS).to(DOT_DTYPE)


@triton.jit
def pruned_tile(perm_ptr, bias_ptr, tile, start, rows, HAS_BIAS: tl.constexpr, BLOCK_N: tl.constexpr):
    """Tile ``tile`` of the pruned rows (packed rows ``start``, ``start + rows``): their original
    rows, their outputs (the bias, or 0; fp32) and the mask of the rows that exist."""
    r = tile * BLOCK_N + tl.arange(0, BLOCK_N)
    rmask = r < rows
    orig = tl.load(perm_ptr + start + r, mask=rmask, other=0)
    y = tl.zeros([BLOCK_N], dtype=tl.float32)
    if HAS_BIAS:
        y += tl.load(bias_ptr + orig, mask=rmask, other=0.0).to(tl.float32)
    return orig, y, rmask


@triton.jit
def bucket_tile(TILE: tl.constexpr, args, opts: tl.constexpr, t, geometry, live: tl.constexpr, BLOCK: tl.constexpr):
    """Run grid tile ``t`` of the N axis in the bucket that owns it.

    The widths come in table order (8/4/2/1 bits), ``cdiv(rows, BLOCK)`` tiles each; the owner
    gets ``TILE(args, tile, start, rows, boff, BITS, *opts)`` with the tile's index inside it.
    ``args``: the runtime values the tile function reads; ``opts``: its constexpr parameters
    (after BITS); ``geometry``: ((S8, N8, O8), ..., (S1, N1, O1)), each width's start row, rows
    and 16-byte offset (``bucket_args``); ``live``: the constexpr flags (W8, W4, W2, W1), so an
    absent width compiles to nothing. One place for the lookup every kernel family shares.
    Returns the first pruned tile (tiles from there on hold the pruned rows)."""
    lo = 0
    for i in tl.static_range(4):
        start, rows, boff = geometry[i]
        hi = lo + tl.cdiv(rows, BLOCK)
        if live[i]:
            if (t >= lo) & (t < hi):
                TILE(args, t - lo, start, rows, boff, 8 >> i, *opts)
        lo = hi
    return lo
