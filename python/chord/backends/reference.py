"""Pure-torch reference implementations of the ``chord::`` ops.

Slow and simple on purpose: the meaning of each op, the CPU fallback when the C++ extension
is missing, and (in float64) the ground truth tests compare kernels against.
"""
from __future__ import annotations

import torch

from ..format import bucket_spans, pack_ints, row_bytes, unpack_ints
from ..quantizer import quantize_rows


def quantize_pack(weight, perm, buckets, scheme):
    N, K = weight.shape
    w = weight.to(torch.float32)[perm.long()]
    chunks, scales, zeros = [], [], []
    for bits, start, n, _ in bucket_spans(list(buckets), K):
        u, s, z = quantize_rows(w[start:start + n], bits, scheme)
        chunks.append(pack_ints(u, bits).reshape(-1))
        scales.append(s)
        zeros.append(z)
    dev = weight.device
    qw = torch.cat(chunks) if chunks else torch.empty(0, dtype=torch.uint8, device=dev)
    sc = torch.cat(scales) if scales else torch.empty(0, device=dev)
    ze = torch.cat(zeros) if zeros else torch.empty(0, device=dev)
    return qw, sc.to(torch.float32), ze.to(torch.float32)


def dequantize_packed(qweight, scales, zeros, perm, buckets, K, dtype=torch.float32):
    """The [N, K] weight a packed blob stands for, in original row order."""
    N = perm.shape[0]
    w = torch.zeros(N, K, dtype=dtype, device=qweight.device)
    for bits, start, n, off in bucket_spans(list(buckets), K):
        if bits == 0 or n == 0:
            continue
        rb = row_bytes(K, bits)
        u = unpack_ints(qweight[off:off + n * rb].view(n, rb), bits, K).to(dtype)
        rows = perm[start:start + n].long()
        w[rows] = (u - zeros[start:start + n, None].to(dtype)) * scales[start:start + n, None].to(dtype)
    return w


def quantize_activations_int8(x: torch.Tensor):
    """Per-row symmetric dynamic int8: sx = max|x| / 127 (fp32), xq = round(x / sx) (IEEE
    division, half-to-even), so C++ and reference produce the same integers."""
    x = x.to(torch.float32)
    sx = x.abs().amax(1) / 127.0
    safe = torch.where(sx > 0, sx, torch.ones_like(sx))
    xq = torch.clamp(torch.round(x / safe[:, None]), -127, 127)
    return xq, sx


def mp_linear(x, qweight, scales, zeros, perm, buckets, K, bias=None, act_bits=0, compute_dtype=None):
    """y = x @ W_hat.T (+ bias) in x.dtype. ``compute_dtype=torch.float64`` gives the test oracle.

    act_bits=8: x is first replaced by its per-row int8 quantization (see
    :func:`quantize_activations_int8`), exactly as the C++ integer path does.
    """
    if act_bits not in (0, 8):
        raise ValueError(f"act_bits: expected 0 (exact) or 8, got {act_bits}")
    cdt = compute_dtype or torch.float32
    w = dequantize_packed(qweight, scales, zeros, perm, buckets, K, dtype=cdt)
    if act_bits == 8:
        xq, sx = quantize_activations_int8(x)
        y = (xq.to(cdt) @ w.T) * sx.to(cdt)[:, None]
    else:
        y = x.to(cdt) @ w.T
    if bias is not None:
        y = y + bias.to(cdt)
    return y if compute_dtype is not None else y.to(x.dtype)


def mp_topk(x, qweight, scales, zeros, perm, buckets, K, k, candidates=None, act_bits=0, compute_dtype=None):
    """Top-k item scoring: the k best scores of ``x @ W_hat.T`` per row of x, over all N item
    rows (``candidates=None``) or over item ids ``candidates`` int64 [C] (shared) / [M, C].

    Returns (values [M, k] float32 — or ``compute_dtype`` when given, the test oracle —,
    indices int64 [M, k] original item ids). Order: descending score; **equal scores -> smaller
    item id first** (a stable sort over ids in ascending order), the rule the C++ kernel follows,
    so the two agree exactly whenever their scores do. Materializes [M, N] scores: reference only.
    """
    if not 1 <= k:
        raise ValueError(f"k: expected >= 1, got {k}")
    cdt = compute_dtype or torch.float32
    scores = mp_linear(x, qweight, scales, zeros, perm, buckets, K, None, act_bits, compute_dtype=cdt)
    M, N = scores.shape
    if candidates is None:
        ids = torch.arange(N, device=scores.device).expand(M, N)
    else:
        ids = candidates.long()
        ids = ids.expand(M, -1) if ids.dim() == 1 else ids
        ids = torch.sort(ids, dim=1, stable=True).values          # ascending ids: ties resolve to the smaller
        scores = scores.gather(1, ids)
    if k > ids.shape[1]:
        raise ValueError(f"k: expected <= {ids.shape[1]} (items scored), got {k}")
    pos = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]
    return scores.gather(1, pos), ids.gather(1, pos)
