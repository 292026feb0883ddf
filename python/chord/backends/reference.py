"""The reference: pure-torch implementations of the ``chord::`` ops, the per-channel
quantizer they are built on, and the one top-k oracle.

Slow and simple on purpose: the meaning of each op, the CPU fallback when the C++ extension
is missing, and (in float64) the ground truth tests compare kernels against.

Quantizer (the reference the C++ packer must match bit for bit):
Arithmetic is float32 with IEEE division (no reciprocal multiply) and round-half-to-even
(``torch.round`` / C ``nearbyint``), so every implementation produces identical integers.

sym,  b >= 2 : s = max|w| / (2^(b-1) - 1);  q = clip(round(w / s), ±(2^(b-1)-1));  u = q + 2^(b-1), zero = 2^(b-1)
sym,  b == 1 : s = 2 * mean|w|;             u = (w >= 0);                          zero = 0.5   (w_hat = ±mean|w|)
               (sum|w| in float64 in a fixed order, see _abs_sum_f64)
asym, b >= 1 : s = (max - min) / (2^b - 1); zero = round(-min / s) (b >= 2, any integer, stored as float32;
               exact -min/s for b = 1)
               u = clip(round(w / s) + zero, 0, 2^b - 1)
A row of zeros gets scale 0 (w_hat = 0). Pruned (b = 0): scale = zero = 0, no integers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..format import bucket_spans, pack_ints, row_bytes, unpack_ints
from ..ops import Packed

if TYPE_CHECKING:  # mixed_weight imports this module (its dequantizer) on use
    from ..mixed_weight import MixedWeight

# ---- quantizer ------------------------------------------------------------------------------


def quantize_rows(w: torch.Tensor, bits: int, scheme: str = "sym") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """float32 [n, K] -> (u uint8 [n, K], scale float32 [n], zero float32 [n])."""
    w = w.to(torch.float32)
    n, K = w.shape
    if bits == 0:
        z = torch.zeros(n, dtype=torch.float32, device=w.device)
        return torch.zeros(n, K, dtype=torch.uint8, device=w.device), z, z.clone()
    if scheme == "sym":
        if bits == 1:
            s = (2.0 * _abs_sum_f64(w) / K).to(torch.float32)
            u = (w >= 0).to(torch.uint8)
            return u, s.to(torch.float32), torch.full((n,), 0.5, device=w.device)
        qmax = float(2 ** (bits - 1) - 1)
        s = w.abs().amax(1) / qmax
        safe = torch.where(s > 0, s, torch.ones_like(s))
        q = torch.clamp(torch.round(w / safe[:, None]), -qmax, qmax)
        u = (q + 2 ** (bits - 1)).to(torch.uint8)
        return u, s, torch.full((n,), float(2 ** (bits - 1)), device=w.device)
    if scheme == "asym":
        umax = float(2**bits - 1)
        lo, hi = w.amin(1), w.amax(1)
        s = (hi - lo) / umax
        s = torch.where(s > 0, s, lo.abs())  # constant row: represent it exactly
        safe = torch.where(s > 0, s, torch.ones_like(s))
        z = -lo / safe
        if bits >= 2:
            # integer zero point, NOT clamped to [0, 2^b - 1]: a row that excludes 0 (all
            # positive, e.g. [3, 4]) needs z < 0, and a clamp collapsed it to w_hat = [1, 1, ...]
            z = torch.round(z)
        # + 0.0: a canonical +0.0 zero point (amin may return -0.0 or 0.0 for a row holding both)
        z = torch.where(s > 0, z, torch.zeros_like(z)) + 0.0
        if bits >= 2:  # integer zero point: round the quotient, then shift
            u = torch.round(w / safe[:, None]) + z[:, None]
        else:  # 1-bit: threshold at the midpoint
            u = torch.round(w / safe[:, None] + z[:, None])
        u = torch.clamp(u, 0.0, umax)
        return u.to(torch.uint8), s, z
    raise ValueError(f"scheme: expected 'sym' or 'asym', got {scheme!r}")


def _abs_sum_f64(w: torch.Tensor) -> torch.Tensor:
    """sum_k |w_k| per row in float64, in a fixed order every implementation can follow (torch's
    own sum order depends on the CPU's vector width): 8 interleaved lanes (k % 8), each summed
    sequentially (CPU cumsum is sequential; CUDA's is a parallel scan, hence the CPU detour),
    combined as ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7))."""
    a = w.abs().to(device="cpu", dtype=torch.float64)
    n, K = a.shape
    a = torch.nn.functional.pad(a, (0, (-K) % 8))
    lanes = a.view(n, -1, 8).cumsum(1)[:, -1]
    t = lanes[:, :4] + lanes[:, 4:]
    t = t[:, :2] + t[:, 2:]
    return (t[:, 0] + t[:, 1]).to(w.device)


def dequantize_rows(u: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    """(u - zero) * scale as float32 [n, K]."""
    return (u.to(torch.float32) - zero[:, None]) * scale[:, None]


def fake_quantize(w: torch.Tensor, bits: int, scheme: str = "sym") -> torch.Tensor:
    """Quantize-dequantize rows of ``w`` at one width (used by training-time simulations)."""
    u, s, z = quantize_rows(w, bits, scheme)
    return dequantize_rows(u, s, z).to(w.dtype)


# ---- ops ------------------------------------------------------------------------------------


def quantize_pack(
    weight: torch.Tensor, perm: torch.Tensor, buckets: list[int], scheme: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    N, K = weight.shape
    w = weight.to(torch.float32)[perm.long()]
    chunks, scales, zeros = [], [], []
    for bits, start, n, _ in bucket_spans(list(buckets), K):
        u, s, z = quantize_rows(w[start : start + n], bits, scheme)
        chunks.append(pack_ints(u, bits).reshape(-1))
        scales.append(s)
        zeros.append(z)
    dev = weight.device
    qw = torch.cat(chunks) if chunks else torch.empty(0, dtype=torch.uint8, device=dev)
    sc = torch.cat(scales) if scales else torch.empty(0, device=dev)
    ze = torch.cat(zeros) if zeros else torch.empty(0, device=dev)
    return qw, sc.to(torch.float32), ze.to(torch.float32)


def dequantize_packed(w: Packed, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The [N, K] weight a packed blob (``chord.ops.Packed`` or any 6-tuple in its order) stands
    for, in original row order."""
    qweight, scales, zeros, perm, buckets, K = w
    N = perm.shape[0]
    out = torch.zeros(N, K, dtype=dtype, device=qweight.device)
    for bits, start, n, off in bucket_spans(list(buckets), K):
        if bits == 0 or n == 0:
            continue
        rb = row_bytes(K, bits)
        u = unpack_ints(qweight[off : off + n * rb].view(n, rb), bits, K).to(dtype)
        rows = perm[start : start + n].long()
        out[rows] = (u - zeros[start : start + n, None].to(dtype)) * scales[start : start + n, None].to(dtype)
    return out


def quantize_activations_int8(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row symmetric dynamic int8: sx = max|x| / 127 (fp32), xq = round(x / sx) (IEEE
    division, half-to-even), so C++ and reference produce the same integers."""
    x = x.to(torch.float32)
    sx = x.abs().amax(1) / 127.0
    safe = torch.where(sx > 0, sx, torch.ones_like(sx))
    xq = torch.clamp(torch.round(x / safe[:, None]), -127, 127)
    return xq, sx


def mp_linear(
    x: torch.Tensor,
    w: Packed,
    bias: torch.Tensor | None = None,
    act_bits: int = 0,
    compute_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """y = x @ W_hat.T (+ bias) in x.dtype. ``compute_dtype=torch.float64`` gives the test oracle.

    act_bits=8: x is first replaced by its per-row int8 quantization (see
    :func:`quantize_activations_int8`), exactly as the C++ integer path does.
    """
    if act_bits not in (0, 8):
        raise ValueError(f"act_bits: expected 0 (exact) or 8, got {act_bits}")
    cdt = compute_dtype or torch.float32
    wd = dequantize_packed(w, dtype=cdt)
    if act_bits == 8:
        xq, sx = quantize_activations_int8(x)
        y = (xq.to(cdt) @ wd.T) * sx.to(cdt)[:, None]
    else:
        y = x.to(cdt) @ wd.T
    if bias is not None:
        y = y + bias.to(cdt)
    return y if compute_dtype is not None else y.to(x.dtype)


def mp_topk(
    x: torch.Tensor,
    w: Packed,
    k: int,
    candidates: torch.Tensor | None = None,
    act_bits: int = 0,
    compute_dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k item scoring: the k best scores of ``x @ W_hat.T`` per row of x, over all N item
    rows (``candidates=None``) or over item ids ``candidates`` int64 [C] (shared) / [M, C].

    Returns (values [M, k] float32 — or ``compute_dtype`` when given, the test oracle —,
    indices int64 [M, k] original item ids). Order: descending score; **equal scores -> smaller
    item id first** (a stable sort over ids in ascending order); **NaN below every number**
    (-inf included; a NaN score comes only from a NaN scale or zero passed to the raw op). The
    rule of the C++ kernel (``topk::ranks_before``) and the Triton one, so they agree exactly
    whenever their scores do. Materializes [M, N] scores: reference only.
    """
    if not 1 <= k:
        raise ValueError(f"k: expected >= 1, got {k}")
    cdt = compute_dtype or torch.float32
    scores = mp_linear(x, w, None, act_bits, compute_dtype=cdt)
    M, N = scores.shape
    if candidates is None:
        ids = torch.arange(N, device=scores.device).expand(M, N)
    else:
        ids = candidates.long()
        ids = ids.expand(M, -1) if ids.dim() == 1 else ids
        ids = torch.sort(ids, dim=1, stable=True).values  # ascending ids: ties resolve to the smaller
        scores = scores.gather(1, ids)
    if k > ids.shape[1]:
        raise ValueError(f"k: expected <= {ids.shape[1]} (items scored), got {k}")
    # two stable sorts, least significant key first: score (NaN as -inf), then NaN last
    nan = torch.isnan(scores)
    pos = torch.sort(torch.where(nan, float("-inf"), scores), dim=1, descending=True, stable=True).indices
    pos = pos.gather(1, torch.sort(nan.gather(1, pos).to(torch.int8), dim=1, stable=True).indices)[:, :k]
    return scores.gather(1, pos), ids.gather(1, pos)


def topk_reference(
    x: torch.Tensor, mw: MixedWeight, k: int, candidates: torch.Tensor | None = None, act_bits: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """THE top-k oracle for a ``chord.MixedWeight`` item table: :func:`mp_topk` in float64 ->
    (scores float64 [B, k], ids int64 [B, k]); x [B, K]; candidates None, int [C] (shared) or
    int [B, C]. Same tie rule as every kernel: descending score, equal scores -> smaller id."""
    cand = None if candidates is None else candidates.long()
    return mp_topk(x, mw.packed, k, cand, act_bits, compute_dtype=torch.float64)
