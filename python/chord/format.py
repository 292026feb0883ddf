"""The packed mixed-precision format: the contract between Python, C++ and Triton.

Everything that knows the byte layout reads it from here; the C++ kernels read it from
csrc/common/format.h, its one mirror (tests/test_format_header.py checks that they agree).

A weight W [N, K] with one bit-width per output row is stored as
  * ``perm``   int32 [N]   packed row i holds original row ``perm[i]``. Rows are grouped into
                           *buckets* of equal width, in BUCKET_ORDER (widest first, pruned last),
                           stable inside a bucket (ascending original row).
  * ``buckets`` the bucket table, a flat python list ``[bits0, rows0, bits1, rows1, ...]``
                           (only non-empty buckets). Row starts and byte offsets follow from it.
  * ``qweight`` uint8 [total_bytes]  the buckets' rows, concatenated; a row of a b-bit bucket
                           takes ``row_bytes(K, b)`` bytes; pruned rows take none.
  * ``scales``, ``zeros``  float32 [N]  per packed row: w = (u - zero) * scale for the stored
                           unsigned integer u in [0, 2^b). Symmetric: zero = 2^(b-1)
                           (u = q + 2^(b-1), |q| <= 2^(b-1)-1); 1-bit: zero = 0.5. Pruned rows:
                           scale = zero = 0.

Inside a row, K is padded to a multiple of ``block_elems(b) = 16 * (8 // b)`` with u = 0, and
each block of 16 bytes is *planar*: byte j of a block holds elements j, j+16, j+32, ... of the
block in bits [0,b), [b,2b), ... So one shift+mask of 16 (or 32) loaded bytes yields 16 (32)
consecutive elements: SIMD unpacking needs no shuffles and int8 activations can be laid out
to match. Padding elements (u = 0) must meet zero-padded activations: kernels never let
elements >= K contribute.

Because y = scale * (sum_k x_k u_k - zero * sum_k x_k), a kernel can run the dot product on the
raw unsigned integers and fold the zero point into the epilogue.
"""

from __future__ import annotations

import torch

FORMAT_VERSION = 1
BLOCK_BYTES = 16
#: bucket order inside a packed weight: widest first, pruned last
BUCKET_ORDER = (8, 4, 2, 1, 0)


def elems_per_byte(bits: int) -> int:
    return 8 // bits


def block_elems(bits: int) -> int:
    """Elements in one 16-byte planar block of a ``bits``-wide row."""
    return BLOCK_BYTES * (8 // bits)


def padded_k(K: int, bits: int) -> int:
    if bits == 0:
        return 0
    be = block_elems(bits)
    return (K + be - 1) // be * be


def row_bytes(K: int, bits: int) -> int:
    """Bytes of one packed row of width ``bits`` (0 for pruned rows)."""
    return 0 if bits == 0 else padded_k(K, bits) * bits // 8


def bucket_spans(buckets: list[int], K: int) -> list[tuple[int, int, int, int]]:
    """``[(bits, row_start, rows, byte_offset), ...]`` from the flat bucket table."""
    if len(buckets) % 2:
        raise ValueError(f"buckets: expected a flat [bits, rows, ...] list, got odd length {len(buckets)}")
    out, row, off = [], 0, 0
    for i in range(0, len(buckets), 2):
        b, n = int(buckets[i]), int(buckets[i + 1])
        # checked before row_bytes: a width outside the codebook (e.g. from a corrupt file)
        # would otherwise divide by zero there instead of naming the entry
        if b not in BUCKET_ORDER or n < 0:
            raise ValueError(
                f"buckets[{i}:{i + 2}]: expected a width in {BUCKET_ORDER} and rows >= 0, got bits {b}, rows {n}"
            )
        out.append((b, row, n, off))
        row += n
        off += n * row_bytes(K, b)
    return out


def total_bytes(buckets: list[int], K: int) -> int:
    return sum(n * row_bytes(K, b) for b, _, n, _ in bucket_spans(buckets, K))


def pack_ints(u: torch.Tensor, bits: int) -> torch.Tensor:
    """uint8 [n, K] unsigned ints < 2^bits -> uint8 [n, row_bytes(K, bits)] (planar blocks)."""
    n, K = u.shape
    if bits == 0:
        return torch.empty(n, 0, dtype=torch.uint8, device=u.device)
    epb, kp = 8 // bits, padded_k(K, bits)
    up = torch.zeros(n, kp, dtype=torch.int32, device=u.device)
    up[:, :K] = u.to(torch.int32)
    # [n, blocks, epb, 16]: element (blk, i, j) -> byte j of block blk, bits i*b
    up = up.view(n, kp // (epb * BLOCK_BYTES), epb, BLOCK_BYTES)
    shifts = (torch.arange(epb, device=u.device, dtype=torch.int32) * bits).view(1, 1, epb, 1)
    packed = (up << shifts).sum(dim=2)
    return packed.to(torch.uint8).reshape(n, kp * bits // 8)


def unpack_ints(packed: torch.Tensor, bits: int, K: int) -> torch.Tensor:
    """Inverse of :func:`pack_ints`: uint8 [n, row_bytes] -> uint8 [n, K]."""
    n = packed.shape[0]
    if bits == 0:
        return torch.zeros(n, K, dtype=torch.uint8, device=packed.device)
    epb, kp = 8 // bits, padded_k(K, bits)
    p = packed.to(torch.int32).view(n, kp // (epb * BLOCK_BYTES), 1, BLOCK_BYTES)
    shifts = (torch.arange(epb, device=packed.device, dtype=torch.int32) * bits).view(1, 1, epb, 1)
    u = (p >> shifts) & ((1 << bits) - 1)
    return u.reshape(n, kp)[:, :K].to(torch.uint8)
