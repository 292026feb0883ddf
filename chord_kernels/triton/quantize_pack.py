"""``chord::quantize_pack`` on the GPU: frozen float weights [N, K] x one width per row -> the
packed planar rows of ``chord.format``, bit-identical to the CPU packer (csrc/quantize_pack/)
and to the pure-torch reference (``chord.backends.reference``).

One program owns BLOCK_R packed rows of one bucket (tile -> bucket as in ``layout.bucket_tile``)
and reads each row twice: once for the statistics its quantizer needs (max |w|, min, max, and
for 1-bit symmetric rows sum |w| in float64 over 8 interleaved lanes, each summed in k order,
combined in the fixed tree of ``quantizer._abs_sum_f64``), once to quantize and pack 16-byte
planar blocks. The arithmetic is the CPU's: float32 with IEEE division (``tl.math.div_rn``,
never a reciprocal), round half to even, clamp as ``min(max(x, lo), hi)``; the fp32 kernel is
launched without FMA contraction so no rounding step is fused away.

Round half to even is ``rint_f32`` below (the 2^23 trick) rather than libdevice's ``rint``: the
Triton interpreter has no libdevice, and the tests must run the same code CI runs.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from chord import format as fmt
from chord import ops

from . import configs
from .configs import check_runnable
from .layout import bucket_args, bucket_tile, num_tiles, planar_k, row_bytes

_SCHEMES = {"sym": 0, "asym": 1}


@triton.jit
def rint_f32(x):
    """Round half to even of fp32 ``x`` (as C ``nearbyint`` / ``torch.round``): |x| + 2^23 lands
    on the integer grid with the FPU's round-to-nearest-even; |x| >= 2^23 is already integral.
    The sign is put back, so rint(-0.3) = -0.0 as nearbyint gives."""
    a = tl.abs(x)
    r = (a + 8388608.0) - 8388608.0
    r = tl.where(a < 8388608.0, r, a)
    return tl.where(x < 0, -r, r)


@triton.jit
def _clamp(x, lo, hi):
    # torch.clamp / the C++ clampf: min(max(x, lo), hi), keeping x when it equals a bound
    x = tl.where(x < lo, lo, x)
    return tl.where(hi < x, hi, x)


@triton.jit
def _pack_tile(args, tile, start, rows, boff, BITS: tl.constexpr, ASYM: tl.constexpr, BLOCK_R: tl.constexpr,
    BLOCK_K: tl.constexpr, BLOCK_KB: tl.constexpr):  # fmt: skip
    """One tile of one bucket (``layout.bucket_tile`` calls it with the ``args`` and the
    constexpr ``opts`` (the parameters after BITS) that ``quantize_pack_kernel`` passes)."""
    w_ptr, ldw, perm_ptr, qw_ptr, sc_ptr, ze_ptr, K = args
    EPB: tl.constexpr = 8 // BITS
    UMAX: tl.constexpr = (1 << BITS) - 1  # asym: u in [0, 2^b - 1]
    QMAX: tl.constexpr = (1 << (BITS - 1)) - 1  # sym: |q| <= 2^(b-1) - 1
    OFF: tl.constexpr = 1 << (BITS - 1)  # sym: u = q + 2^(b-1)
    rb = row_bytes(K, BITS)
    boff = boff.to(tl.int64) * 16
    r = tile * BLOCK_R + tl.arange(0, BLOCK_R)
    rmask = r < rows
    orig = tl.load(perm_ptr + start + r, mask=rmask, other=0)
    w_rows = w_ptr + orig.to(tl.int64)[:, None] * ldw  # [BLOCK_R, 1]

    # -- pass 1: the row statistics (order-free max/min, except the 1-bit float64 lane sums)
    if ASYM:
        lo = tl.full([BLOCK_R], float("inf"), tl.float32)
        hi = tl.full([BLOCK_R], float("-inf"), tl.float32)
        ck = tl.arange(0, BLOCK_K)
        for k0 in range(0, K, BLOCK_K):
            kk = k0 + ck
            m2 = rmask[:, None] & (kk < K)[None, :]
            v = tl.load(w_rows + kk[None, :], mask=m2, other=0.0)
            lo = tl.minimum(lo, tl.min(tl.where(m2, v, float("inf")), axis=1))
            hi = tl.maximum(hi, tl.max(tl.where(m2, v, float("-inf")), axis=1))
        lo = tl.where(rmask, lo, 0.0)  # rows past the end
        hi = tl.where(rmask, hi, 0.0)
        s = tl.math.div_rn(hi - lo, tl.full([BLOCK_R], UMAX, tl.float32))
        s = tl.where(s > 0, s, tl.abs(lo))  # constant row: exactly
        safe = tl.where(s > 0, s, 1.0)
        z = tl.math.div_rn(-lo, safe)
        if BITS >= 2:
            z = rint_f32(z)  # integer, unclamped
        z = tl.where(s > 0, z, 0.0) + 0.0  # canonical +0.0
        scale = s
        zero = z
    elif BITS == 1:
        # s = 2 * mean|w|: 8 lanes (k % 8), each summed sequentially in float64
        c8 = tl.arange(0, 8)
        lanes = tl.zeros([BLOCK_R, 8], dtype=tl.float64)
        for k0 in range(0, K, 8):
            kk = k0 + c8
            v = tl.load(w_rows + kk[None, :], mask=rmask[:, None] & (kk < K)[None, :], other=0.0)
            lanes += tl.abs(v).to(tl.float64)
        # lane j alone (a masked sum adds only zeros to it: exact), then the fixed tree
        l0 = tl.sum(tl.where(c8[None, :] == 0, lanes, 0.0), axis=1)
        l1 = tl.sum(tl.where(c8[None, :] == 1, lanes, 0.0), axis=1)
        l2 = tl.sum(tl.where(c8[None, :] == 2, lanes, 0.0), axis=1)
        l3 = tl.sum(tl.where(c8[None, :] == 3, lanes, 0.0), axis=1)
        l4 = tl.sum(tl.where(c8[None, :] == 4, lanes, 0.0), axis=1)
        l5 = tl.sum(tl.where(c8[None, :] == 5, lanes, 0.0), axis=1)
        l6 = tl.sum(tl.where(c8[None, :] == 6, lanes, 0.0), axis=1)
        l7 = tl.sum(tl.where(c8[None, :] == 7, lanes, 0.0), axis=1)
        tot = ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))
        kf = tl.full([BLOCK_R], 0.0, tl.float64) + K
        scale = ((tot * 2.0) / kf).to(tl.float32)  # float64 division is IEEE (div.rn.f64)
        zero = tl.full([BLOCK_R], 0.5, tl.float32)
        safe = tl.full([BLOCK_R], 1.0, tl.float32)
    else:
        amax = tl.zeros([BLOCK_R], dtype=tl.float32)
        ck = tl.arange(0, BLOCK_K)
        for k0 in range(0, K, BLOCK_K):
            kk = k0 + ck
            v = tl.load(w_rows + kk[None, :], mask=rmask[:, None] & (kk < K)[None, :], other=0.0)
            amax = tl.maximum(amax, tl.max(tl.abs(v), axis=1))
        scale = tl.math.div_rn(amax, tl.full([BLOCK_R], QMAX, tl.float32))
        safe = tl.where(scale > 0, scale, 1.0)
        zero = tl.full([BLOCK_R], OFF, tl.float32)

    # -- pass 2: quantize and pack 16-byte planar blocks
    c = tl.arange(0, BLOCK_KB)
    q_rows = qw_ptr + boff + r.to(tl.int64)[:, None] * rb
    for kb in range(0, rb, BLOCK_KB):
        byte = tl.zeros([BLOCK_R, BLOCK_KB], dtype=tl.int32)
        for i in tl.static_range(EPB):
            k = kb * EPB + planar_k(c, i, BITS)
            kin = (k < K)[None, :]
            v = tl.load(w_rows + k[None, :], mask=rmask[:, None] & kin, other=0.0)
            if ASYM:
                qq = tl.math.div_rn(v, safe[:, None])
                if BITS >= 2:
                    u = rint_f32(qq) + zero[:, None]  # round the quotient, then shift
                else:
                    u = rint_f32(qq + zero[:, None])  # 1-bit: threshold at the midpoint
                u = _clamp(u, 0.0, UMAX)
            elif BITS == 1:
                u = tl.where(v >= 0, 1.0, 0.0)
            else:
                q = _clamp(rint_f32(tl.math.div_rn(v, safe[:, None])), -QMAX, QMAX)
                u = q + OFF
            u = tl.where(kin, u.to(tl.int32), 0)  # padding holds u = 0
            byte = byte | (u << (i * BITS))
        bmask = rmask[:, None] & ((kb + c) < rb)[None, :]
        tl.store(q_rows + kb + c[None, :], byte.to(tl.uint8), mask=bmask)
    tl.store(sc_ptr + start + r, scale, mask=rmask)
    tl.store(ze_ptr + start + r, zero, mask=rmask)


@triton.jit(do_not_specialize=["S8", "N8", "S4", "N4", "S2", "N2", "S1", "N1"])
def quantize_pack_kernel(
    w_ptr, perm_ptr, qw_ptr, sc_ptr, ze_ptr,
    K, ldw,
    S8, N8, O8, S4, N4, O4, S2, N2, O2, S1, N1, O1,  # per width: start row, rows, 16-byte offset
    W8: tl.constexpr, W4: tl.constexpr, W2: tl.constexpr, W1: tl.constexpr, ASYM: tl.constexpr,
    BLOCK_R: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_KB: tl.constexpr,
):  # fmt: skip
    """1-D grid over the row tiles of the non-pruned buckets. w fp32 [N, K] (row stride ldw,
    unit column stride); perm int32 [N]; qweight uint8 (the table's total bytes); scales,
    zeros fp32 [N] (pruned rows are left to the caller: 0)."""
    t = tl.program_id(0)
    args = (w_ptr, ldw, perm_ptr, qw_ptr, sc_ptr, ze_ptr, K)
    geometry = ((S8, N8, O8), (S4, N4, O4), (S2, N2, O2), (S1, N1, O1))
    bucket_tile(_pack_tile, args, (ASYM, BLOCK_R, BLOCK_K, BLOCK_KB), t, geometry, (W8, W4, W2, W1), BLOCK_R)


# -- host side ------------------------------------------------------------------------------------
def quantize_pack(weight: torch.Tensor, perm: torch.Tensor, buckets, scheme: str, *, config: dict | None = None):
    """weight float [N, K] (any float dtype, widened to float32 exactly; any row stride), perm
    int [N] (a permutation: packed row i holds original row perm[i]), buckets the flat table,
    scheme "sym"/"asym" -> (qweight uint8 [total_bytes], scales float32 [N], zeros float32 [N]),
    bit-identical to the CPU op. The arguments are checked as the op checks them (``chord.ops``);
    a NaN/Inf weight is an error as in the C++ packer (one device sync). ``config`` (BLOCK_R, BLOCK_K, BLOCK_KB, num_warps) is for tests."""
    from .dispatch import INTERPRET

    buckets = [int(b) for b in buckets]
    ops.check_call("quantize_pack", weight, perm, buckets, scheme)
    check_runnable("chord::quantize_pack", "weight", weight.device, INTERPRET)
    N, K = weight.shape
    dev = weight.device
    p = perm.detach().to(dtype=torch.int32).contiguous()
    w = weight.detach().to(torch.float32)
    if w.stride(1) != 1 or w.stride(0) < K:
        w = w.contiguous()
    finite = torch.isfinite(w)
    if not bool(finite.all()):
        row = int(torch.nonzero(~finite.all(1))[0])
        col = int(torch.nonzero(~finite[row])[0])
        v = float(w[row, col])
        raise ValueError(f"quantize_pack: weight contains {'NaN' if v != v else 'Inf'} (at row {row}, col {col})")
    qw = torch.empty(fmt.total_bytes(buckets, K), dtype=torch.uint8, device=dev)
    sc = torch.zeros(N, dtype=torch.float32, device=dev)
    ze = torch.zeros(N, dtype=torch.float32, device=dev)
    bargs = {k: v for k, v in bucket_args(buckets, K).items() if not k.endswith("0")}
    cfg = dict(config or configs.pack_config(INTERPRET))
    nw = cfg.pop("num_warps")
    n_t = num_tiles({**bargs, "N0": 0}, cfg["BLOCK_R"])
    if n_t:
        extra = {} if INTERPRET else {"enable_fp_fusion": False}
        quantize_pack_kernel[(n_t,)](
            w,
            p,
            qw if qw.numel() else sc,
            sc,
            ze,
            K,
            w.stride(0),
            **bargs,
            ASYM=_SCHEMES[scheme] == 1,
            num_warps=nw,
            **cfg,
            **extra,
        )
    return qw, sc, ze
