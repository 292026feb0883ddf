"""``chord::mp_topk`` on the GPU: fused unpack + score + top-k over the packed item table.

The result is the CPU op's (csrc/topk/topk.cpp): the top-k of the float64 scores
x_ref . W_hat (x_ref = x, or its per-row int8 quantization with act_bits = 8), ordered by
descending score, equal scores -> smaller item id first, NaN below every number. The [M, N]
score matrix never exists in global memory. Three steps:

1. **Scan** (``topk_scan_kernel``, the fused kernel): a program owns BLOCK_N packed rows of
   one bucket and BLOCK_M users; it unpacks the rows in registers, scores them (``tl.dot`` on
   fp16 operands with fp32 accumulation; one user at a time on CUDA cores when M = 1) and puts
   a rigorous interval [s - e, s + e] around each approximate score s (``_bounds``). Only rows
   whose upper bound reaches the user's threshold ``tau`` leave the program: appended (score,
   bound, packed row) to a per-user candidate buffer at a slot taken with one atomic per user
   and tile that has any (most tiles have none). tau is a lower bound on the user's k-th best
   exact score, so no top-k row is dropped.
2. **Threshold**: tau comes from a first scan of an evenly spread sample of tiles with no
   threshold (its k-th largest lower bound). When a user's buffer overflows, tau is raised to
   the k-th largest lower bound among what was stored and that user is rescanned with a 4x
   buffer; twice at most, then the exact chunked path (near-constant scores, warned once).
3. **Merge** (host-side torch + ``topk_rescore_kernel``): the final tau is the k-th largest
   lower bound among the stored candidates; the survivors (typically k plus a few) are
   rescored in float64 from the packed bytes, joined by the k smallest pruned ids (exact score
   0, never scanned), ranked, and the k best returned.

Candidate lists (shared [C] or per-row [M, C]) skip the scan: every (user, candidate) pair is
rescored in float64 (the [M, C] input is the size of the output of that step).

Error bound of the scan (per user m, row n of width b): the kernel scores fp16 activations
xh = fp16(x_ref / p) (p a power of two, so |xh| <= 1) against the exact integers u, and
s = p * scale * (fl32(xh . u) - zero * sum xh). With D = sum |x_ref / p - xh| (exact on the
host), A = sum |xh| and K' the padded K,
|s - exact| <= |scale| (2^b - 1 + |zero|) * p * ((K' + 64) 2^-20 A + D) = a_n * G_m,
16x the textbook fp32 accumulation bound (tensor-core accumulation order and rounding are
unspecified) plus the fp32 epilogue's roundings; G_m is rounded up on the host.
"""

from __future__ import annotations

import warnings

import torch
import triton
import triton.language as tl

from chord import format as fmt
from chord import ops

from . import configs
from .configs import check_runnable
from .layout import bucket_args, bucket_tile, num_tiles, planar_k, row_bytes, unpack_f32


# -- the scan ----------------------------------------------------------------------------------
@triton.jit
def _scan_tile(args, tile, start, rows, boff, BITS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    BLOCK_KB: tl.constexpr, USE_DOT: tl.constexpr, DOT_PREC: tl.constexpr):  # fmt: skip
    """One tile of one bucket (``layout.bucket_tile`` calls it with the ``args`` and the
    constexpr ``opts`` (the parameters after BITS) that ``topk_scan_kernel`` passes)."""
    (xh_ptr, stride_xm, M, K, qw_ptr, sc_ptr, ze_ptr, post_ptr, xs_ptr, g_ptr, tau_ptr, cnt_ptr, bs_ptr, be_ptr,
     br_ptr, CAP, pid_m) = args  # fmt: skip
    EPB: tl.constexpr = 8 // BITS
    UMAX: tl.constexpr = (1 << BITS) - 1
    rb = row_bytes(K, BITS)
    boff = boff.to(tl.int64) * 16
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    mmask = offs_m < M
    r = tile * BLOCK_N + tl.arange(0, BLOCK_N)
    rmask = r < rows
    c = tl.arange(0, BLOCK_KB)
    x_rows = xh_ptr + offs_m[:, None].to(tl.int64) * stride_xm  # [BLOCK_M, 1]
    if USE_DOT:
        # xh is zero padded to a multiple of 128 columns: no mask along k
        w_ptrs = qw_ptr + boff + r[None, :].to(tl.int64) * rb + c[:, None]  # [BLOCK_KB, BLOCK_N]
        acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
        for kb in range(0, rb, BLOCK_KB):
            wb = tl.load(w_ptrs + kb, mask=((kb + c) < rb)[:, None] & rmask[None, :], other=0).to(tl.int32)
            for i in tl.static_range(EPB):
                k = kb * EPB + planar_k(c, i, BITS)
                a = tl.load(x_rows + k[None, :], mask=mmask[:, None], other=0.0)
                b = unpack_f32(wb, i, BITS).to(a.dtype)  # u < 256: exact in fp16
                acc = tl.dot(a, b, acc, input_precision=DOT_PREC)
    else:
        # one user (BLOCK_M = 1): CUDA cores, a [BLOCK_N, BLOCK_KB] fp32 tile reduced at the end
        w_ptrs = qw_ptr + boff + r[:, None].to(tl.int64) * rb + c[None, :]  # [BLOCK_N, BLOCK_KB]
        acc2 = tl.zeros([BLOCK_N, BLOCK_KB], dtype=tl.float32)
        for kb in range(0, rb, BLOCK_KB):
            wb = tl.load(w_ptrs + kb, mask=rmask[:, None] & ((kb + c) < rb)[None, :], other=0).to(tl.int32)
            for i in tl.static_range(EPB):
                k = kb * EPB + planar_k(c, i, BITS)
                xv = tl.load(x_rows + k[None, :], mask=mmask[:, None], other=0.0).to(tl.float32)
                acc2 += unpack_f32(wb, i, BITS) * xv
        acc = tl.sum(acc2, axis=1)[None, :]
    pr = start + r
    sc = tl.load(sc_ptr + pr, mask=rmask, other=0.0)
    z = tl.load(ze_ptr + pr, mask=rmask, other=0.0)
    post = tl.load(post_ptr + offs_m, mask=mmask, other=0.0)
    xs = tl.load(xs_ptr + offs_m, mask=mmask, other=0.0)
    g = tl.load(g_ptr + offs_m, mask=mmask, other=0.0)
    tau = tl.load(tau_ptr + offs_m, mask=mmask, other=float("inf"))
    s = (acc - z[None, :] * xs[:, None]) * sc[None, :] * post[:, None]
    # + 1e-36: in the subnormal range fp32 rounding is absolute (<= 2^-150 per operation), not
    # relative, so tiny activations x tiny scales stay inside the bound
    e = (tl.abs(sc) * (UMAX + tl.abs(z)))[None, :] * g[:, None] + 1e-36
    up = s + e
    # NaN scores stay candidates (ranked last by the merge, as the CPU op does)
    keep = ((up >= tau[:, None]) | (up != up)) & mmask[:, None] & rmask[None, :]
    ki = keep.to(tl.int32)
    n_keep = tl.sum(ki, axis=1)  # [BLOCK_M]
    if tl.max(n_keep, axis=0) > 0:
        base = tl.atomic_add(cnt_ptr + offs_m, n_keep, mask=mmask & (n_keep > 0))
        pos = base[:, None] + tl.cumsum(ki, axis=1) - 1
        ok = keep & (pos < CAP)
        slot = offs_m[:, None].to(tl.int64) * CAP + pos
        tl.store(bs_ptr + slot, s, mask=ok)
        tl.store(be_ptr + slot, e, mask=ok)
        tl.store(br_ptr + slot, (pr[None, :] + tl.zeros([BLOCK_M, BLOCK_N], tl.int32)), mask=ok)


@triton.jit(do_not_specialize=["S8", "N8", "O8", "S4", "N4", "O4", "S2", "N2", "O2", "S1", "N1", "O1", "CAP", "M"])
def topk_scan_kernel(
    xh_ptr, qw_ptr, sc_ptr, ze_ptr, post_ptr, xs_ptr, g_ptr, tau_ptr, tiles_ptr, cnt_ptr, bs_ptr, be_ptr, br_ptr,
    M, K, stride_xm, CAP,
    S8, N8, O8, S4, N4, O4, S2, N2, O2, S1, N1, O1,  # per width: start row, rows, 16-byte offset
    W8: tl.constexpr, W4: tl.constexpr, W2: tl.constexpr, W1: tl.constexpr, USE_LIST: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_KB: tl.constexpr, USE_DOT: tl.constexpr,
    DOT_PREC: tl.constexpr,
):  # fmt: skip
    """1-D grid of cdiv(M, BLOCK_M) x tiles (M fastest: the programs sharing a weight tile run
    together). xh [M, >= padded K] fp16 (fp32 holding fp16 values under the interpreter), zero
    padded; post, xs, g, tau fp32 [M] (power-of-two activation scale, sum xh, bound factor G,
    threshold); tiles int32 (USE_LIST: the tile ids to scan); cnt int32 [M] (zeroed by the
    caller; counts every kept row, also past CAP); bs, be fp32 and br int32 [M, CAP]: score,
    bound and packed row of the kept rows (the first CAP of them)."""
    pid = tl.program_id(0)
    num_m = tl.cdiv(M, BLOCK_M)
    pid_m = pid % num_m
    t = pid // num_m
    if USE_LIST:
        t = tl.load(tiles_ptr + t)
    args = (xh_ptr, stride_xm, M, K, qw_ptr, sc_ptr, ze_ptr, post_ptr, xs_ptr, g_ptr, tau_ptr, cnt_ptr, bs_ptr,
            be_ptr, br_ptr, CAP, pid_m)  # fmt: skip
    geometry = ((S8, N8, O8), (S4, N4, O4), (S2, N2, O2), (S1, N1, O1))
    bucket_tile(
        _scan_tile, args, (BLOCK_M, BLOCK_N, BLOCK_KB, USE_DOT, DOT_PREC), t, geometry, (W8, W4, W2, W1), BLOCK_N
    )


# -- exact rescoring ---------------------------------------------------------------------------
@triton.jit
def _span_pick(r, S, N, val, cur):
    return tl.where((r >= S) & (r < S + N), val, cur)


@triton.jit(do_not_specialize=["S8", "N8", "O8", "S4", "N4", "O4", "S2", "N2", "O2", "S1", "N1", "O1", "n"])
def topk_rescore_kernel(
    pm_ptr, pr_ptr, n, xr_ptr, stride_xr, qw_ptr, sc_ptr, ze_ptr, out_ptr, K,
    S8, N8, O8, S4, N4, O4, S2, N2, O2, S1, N1, O1,  # per width: start row, rows, 16-byte offset
    BLOCK_P: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    """out[i] = float64 score of packed row pr[i] for user pm[i]: scale * sum_k xr[m, k] (u_k -
    zero), read from the packed bytes (the width of each row from the bucket spans, at run
    time); pruned rows score exactly 0. pm, pr int32 [n]; xr float64 [M, K] (row stride
    stride_xr); out float64 [n]."""
    p = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)
    pmask = p < n
    m = tl.load(pm_ptr + p, mask=pmask, other=0).to(tl.int64)
    r = tl.load(pr_ptr + p, mask=pmask, other=0)
    bits = _span_pick(r, S8, N8, 8, tl.zeros_like(r))
    bits = _span_pick(r, S4, N4, 4, bits)
    bits = _span_pick(r, S2, N2, 2, bits)
    bits = _span_pick(r, S1, N1, 1, bits)
    rb = tl.where(bits > 0, tl.cdiv(K * tl.maximum(bits, 1), 128) * 16, 0)  # row_bytes for every width
    off = _span_pick(r, S8, N8, O8.to(tl.int64) * 16 + (r - S8).to(tl.int64) * rb, tl.zeros_like(r).to(tl.int64))
    off = _span_pick(r, S4, N4, O4.to(tl.int64) * 16 + (r - S4).to(tl.int64) * rb, off)
    off = _span_pick(r, S2, N2, O2.to(tl.int64) * 16 + (r - S2).to(tl.int64) * rb, off)
    off = _span_pick(r, S1, N1, O1.to(tl.int64) * 16 + (r - S1).to(tl.int64) * rb, off)
    live = pmask & (bits > 0)
    epb = tl.where(bits == 8, 1, tl.where(bits == 4, 2, tl.where(bits == 2, 4, 8)))
    mask_u = (1 << bits) - 1
    z = tl.load(ze_ptr + r, mask=live, other=0.0).to(tl.float64)
    sc = tl.load(sc_ptr + r, mask=live, other=0.0).to(tl.float64)
    ck = tl.arange(0, BLOCK_K)
    acc = tl.zeros([BLOCK_P, BLOCK_K], dtype=tl.float64)
    for k0 in range(0, K, BLOCK_K):
        kk = (k0 + ck)[None, :]
        lm = live[:, None] & (kk < K)
        be = 16 * epb[:, None]
        byte_i = (kk // be) * 16 + kk % 16
        shift = ((kk % be) // 16) * bits[:, None]
        wb = tl.load(qw_ptr + off[:, None] + byte_i, mask=lm, other=0).to(tl.int32)
        u = ((wb >> shift) & mask_u[:, None]).to(tl.float64)
        xv = tl.load(xr_ptr + m[:, None] * stride_xr + kk, mask=lm, other=0.0)
        acc += tl.where(lm, xv * (u - z[:, None]), 0.0)
    score = tl.where(live, sc * tl.sum(acc, axis=1), 0.0)
    tl.store(out_ptr + p, score, mask=pmask)


# -- host side ---------------------------------------------------------------------------------
_warned_exact = False


def _interpreting() -> bool:
    return configs.interpreting(topk_scan_kernel)


def _check(x, qweight, scales, zeros, perm, buckets, K, k, candidates, act_bits):
    ops.check_call("mp_topk", x, qweight, scales, zeros, perm, buckets, K, k, candidates, act_bits)
    check_runnable("chord::mp_topk", "x", x.device, _interpreting())


def _prepare(x, act_bits, K):
    """(x_ref float64 [M, Kp], xh [M, Kp] dot operand, post, xs, G float32 [M]); Kp = K padded
    to 128 (every width's padded K), zero filled."""
    M = x.shape[0]
    Kp = fmt.padded_k(K, 1)
    xf = x.detach().to(torch.float32)  # (finite: chord.ops checked it)
    if act_bits == 8:
        from chord.backends.reference import quantize_activations_int8

        xq, sx = quantize_activations_int8(xf)
        xr = xq.double() * sx.double()[:, None]
        post = sx.double()
        xt = xq.double()  # |q| <= 127: exact in fp16
    else:
        xr = xf.double()
        amax = xr.abs().amax(1)
        post = torch.where(amax > 0, torch.exp2(torch.ceil(torch.log2(amax.clamp_min(1e-300)))), torch.ones_like(amax))
        xt = xr / post[:, None]  # power of two: exact, |xt| <= 1
    xh = xt.to(torch.float16)
    xh64 = xh.double()
    D = (xt - xh64).abs().sum(1)
    A = xh64.abs().sum(1)
    E = (Kp + 64) * 2.0**-20 * A
    G = (post * (E + D) * (1 + 2.0**-10)).to(torch.float32)
    G = torch.nextafter(G, torch.full_like(G, float("inf")))  # rounded up
    xs = xh64.sum(1).to(torch.float32)
    dot_dt = torch.float32 if _interpreting() else torch.float16
    xhp = torch.zeros(M, Kp, dtype=dot_dt, device=x.device)
    xhp[:, :K] = xh.to(dot_dt)
    xrp = torch.zeros(M, Kp, dtype=torch.float64, device=x.device)
    xrp[:, :K] = xr
    return xrp, xhp, post.to(torch.float32), xs, G


def _rescore(tab, m_idx, rows, xr):
    """float64 scores of packed rows ``rows`` of ``tab`` for users ``m_idx`` (int tensors, same shape)."""
    qweight, scales, zeros, bargs, K = tab.qweight, tab.scales, tab.zeros, tab.bargs, tab.K
    shape = rows.shape
    pm = m_idx.reshape(-1).to(torch.int32).contiguous()
    pr = rows.reshape(-1).to(torch.int32).contiguous()
    n = pr.numel()
    out = torch.empty(n, dtype=torch.float64, device=xr.device)
    if n:
        cfg = configs.rescore_config(_interpreting())
        nw = cfg.pop("num_warps")
        qw = qweight if qweight.numel() else scales
        topk_rescore_kernel[(triton.cdiv(n, cfg["BLOCK_P"]),)](
            pm,
            pr,
            n,
            xr,
            xr.stride(0),
            qw,
            scales,
            zeros,
            out,
            K,
            **{k: v for k, v in bargs.items() if k[0] in "SNO" and k[1] != "0"},
            num_warps=nw,
            **cfg,
        )
    return out.view(shape)


def _order(scores, ids, valid, k):
    """Positions of the k best of each row of [M, R] entries, in the CPU op's order: valid
    first; descending score, NaN after every number; equal scores -> smaller id first (three
    stable sorts, least significant key first)."""
    cls = torch.where(valid, torch.isnan(scores).to(torch.int8), torch.full_like(scores, 2, dtype=torch.int8))
    key = torch.where(cls == 0, scores, torch.full_like(scores, float("-inf")))
    o = torch.sort(ids, dim=1, stable=True).indices
    o = o.gather(1, torch.sort(key.gather(1, o), dim=1, descending=True, stable=True).indices)
    return o.gather(1, torch.sort(cls.gather(1, o), dim=1, stable=True).indices)[:, :k]


def _rank(scores, ids, valid, k):
    """(values float32 [M, k], ids int64 [M, k]) of the k best entries (see ``_order``)."""
    o = _order(scores, ids, valid, k)
    return scores.gather(1, o).to(torch.float32), ids.gather(1, o)


def _kth_lower(lo, k):
    """k-th largest of each row of ``lo`` (NaN counted as -inf; -inf when fewer than k)."""
    lo = torch.nan_to_num(lo, nan=float("-inf"))
    if lo.shape[1] < k:
        return torch.full((lo.shape[0],), float("-inf"), device=lo.device)
    return torch.topk(lo, k, dim=1).values[:, -1]


class _Table:
    """The packed table's arguments, resolved once per call."""

    def __init__(self, qweight, scales, zeros, perm, buckets, K):
        self.qweight, self.scales, self.zeros, self.perm, self.K = (
            qweight.contiguous(),
            scales.contiguous(),
            zeros.contiguous(),
            perm.contiguous(),
            K,
        )
        self.bargs = bucket_args([int(b) for b in buckets], K)
        self.spans = fmt.bucket_spans([int(b) for b in buckets], K)
        self.N = perm.shape[0]


def _scan(tab, xh, post, xs, G, tau, cap, cfg, tiles=None):
    """One scan launch: returns (count int64 [M], score, bound fp32 [M, cap], packed row int64 [M, cap])."""
    M = xh.shape[0]
    dev = xh.device
    # per-user vectors may be strided views (topk values, row subsets): the kernel reads them flat
    post, xs, G, tau = (t.to(torch.float32).contiguous() for t in (post, xs, G, tau))
    cnt = torch.zeros(M, dtype=torch.int32, device=dev)
    bs = torch.empty(M, cap, dtype=torch.float32, device=dev)
    be = torch.empty(M, cap, dtype=torch.float32, device=dev)
    br = torch.empty(M, cap, dtype=torch.int32, device=dev)
    c = dict(cfg)
    nw, ns = c.pop("num_warps"), c.pop("num_stages")
    n_t = num_tiles({**tab.bargs, "N0": 0}, c["BLOCK_N"]) if tiles is None else tiles.numel()
    if n_t and M:
        grid = (triton.cdiv(M, c["BLOCK_M"]) * n_t,)
        topk_scan_kernel[grid](
            xh,
            tab.qweight if tab.qweight.numel() else tab.scales,
            tab.scales,
            tab.zeros,
            post,
            xs,
            G,
            tau,
            tiles if tiles is not None else cnt,
            cnt,
            bs,
            be,
            br,
            M,
            tab.K,
            xh.stride(0),
            cap,
            **{k: v for k, v in tab.bargs.items() if k[1] != "0"},
            USE_LIST=tiles is not None,
            DOT_PREC="ieee" if xh.dtype == torch.float32 else "tf32",
            num_warps=nw,
            num_stages=ns,
            **c,
        )
    return cnt.long(), bs, be, br.long()


def _exact_all(tab, users, xr, k):
    """Exact top-k of every row for ``users`` by chunked float64 rescoring (the path for
    near-constant scores, where no threshold prunes): (scores fp64, ids, valid) [U, <= 2k]."""
    dev = xr.device
    U = users.numel()
    rows_np = torch.cat(
        [torch.arange(s, s + n, device=dev) for b, s, n, _ in tab.spans if b and n]
        or [torch.zeros(0, dtype=torch.int64, device=dev)]
    )
    best_s = torch.zeros(U, 0, dtype=torch.float64, device=dev)
    best_i = torch.zeros(U, 0, dtype=torch.int64, device=dev)
    best_v = torch.zeros(U, 0, dtype=torch.bool, device=dev)
    chunk = max(1024, (1 << 22) // max(1, U))
    for c0 in range(0, rows_np.numel(), chunk):
        rows = rows_np[c0 : c0 + chunk]
        sc = _rescore(tab, users[:, None].expand(U, rows.numel()), rows[None, :].expand(U, rows.numel()), xr)
        ids = tab.perm[rows].long()[None, :].expand(U, -1)
        s = torch.cat([best_s, sc], 1)
        i = torch.cat([best_i, ids], 1)
        v = torch.cat([best_v, torch.ones_like(sc, dtype=torch.bool)], 1)
        o = _order(s, i, v, min(k, s.shape[1]))
        best_s, best_i, best_v = s.gather(1, o), i.gather(1, o), v.gather(1, o)
    return best_s, best_i, best_v


def mp_topk_packed(
    x,
    qweight,
    scales,
    zeros,
    perm,
    buckets,
    K,
    k,
    candidates=None,
    act_bits=0,
    *,
    sample_rows: int | None = None,
    cap: int | None = None,
    config: dict | None = None,
):
    """``chord::mp_topk`` (same arguments, same results as the CPU op): x float [M, K] ->
    (values float32 [M, k], indices int64 [M, k] item ids). candidates None (all N rows), int
    [C] (shared) or [M, C]. ``sample_rows`` (rows scored to set the first threshold), ``cap``
    (candidate slots per user) and ``config`` (scan block sizes) exist for tests and benchmarks."""
    buckets = [int(b) for b in buckets]
    _check(x, qweight, scales, zeros, perm, buckets, K, k, candidates, act_bits)
    M, dev = x.shape[0], x.device
    if M == 0:
        return torch.empty(0, k, dtype=torch.float32, device=dev), torch.empty(0, k, dtype=torch.int64, device=dev)
    tab = _Table(qweight, scales, zeros, perm, buckets, K)
    xr, xh, post, xs, G = _prepare(x, act_bits, K)
    if candidates is not None:
        return _topk_candidates(tab, xr, candidates, k)
    users = torch.arange(M, device=dev)
    n_live = sum(n for b, _, n, _ in tab.spans if b)
    cfg = dict(config or dict(configs.topk_config(M, _interpreting()), BLOCK_KB=configs.topk_block_kb(K)))
    bn = cfg["BLOCK_N"]
    n_tiles = num_tiles({**tab.bargs, "N0": 0}, bn)
    sample_rows = max(4 * k, sample_rows if sample_rows is not None else configs.topk_sample_rows(n_live, k))
    ninf = torch.full((M,), float("-inf"), device=dev)
    if n_live <= sample_rows:
        tau = ninf  # small table: every row is a candidate
        cap = max(1, n_live)
    else:
        n_s = max(1, min(n_tiles, triton.cdiv(sample_rows, bn)))
        tiles = torch.linspace(0, n_tiles - 1, n_s, device=dev).round().to(torch.int32).unique()
        cnt, bs, be, _ = _scan(tab, xh, post, xs, G, ninf, tiles.numel() * bn, cfg, tiles)
        slot = torch.arange(tiles.numel() * bn, device=dev)[None, :]
        lo = torch.where(slot < cnt[:, None], bs - be, torch.full_like(bs, float("-inf")))
        tau = _kth_lower(lo, k)
        if cap is None:
            cap = configs.topk_cap(n_live, k, sample_rows)
    cnt, bs, be, br = _scan(tab, xh, post, xs, G, tau, cap, cfg)
    exact_users = torch.zeros(M, dtype=torch.bool, device=dev)
    for _ in range(2):  # overflowing users: raise tau, rescan
        over = cnt > cap
        if not bool(over.any()):
            break
        ou = torch.nonzero(over).flatten()
        slot = torch.arange(cap, device=dev)[None, :]
        lo = torch.where(slot < cnt[ou, None], bs[ou] - be[ou], torch.full_like(bs[ou], float("-inf")))
        tau_o = torch.maximum(tau[ou], _kth_lower(lo, k))
        cap2 = cap * 4
        c2, s2, e2, r2 = _scan(tab, xh[ou], post[ou], xs[ou], G[ou], tau_o, cap2, cfg)
        pad = lambda t, v: torch.cat([t, torch.full((M, cap2 - cap), v, dtype=t.dtype, device=dev)], 1)  # noqa: E731, B023 - used at once
        bs, be, br = pad(bs, 0.0), pad(be, 0.0), pad(br, 0)
        bs[ou], be[ou], br[ou], cnt[ou] = s2, e2, r2, c2
        tau = tau.clone()
        tau[ou] = tau_o
        cap = cap2
    over = cnt > cap
    if bool(over.any()):
        exact_users = over
    # merge: final threshold, float64 rescoring of the survivors
    slot = torch.arange(cap, device=dev)[None, :]
    stored = slot < cnt.clamp(max=cap)[:, None]
    up, lo = bs + be, bs - be
    tau_f = torch.maximum(tau, _kth_lower(torch.where(stored, lo, torch.full_like(lo, float("-inf"))), k))
    sel = stored & ((up >= tau_f[:, None]) | torch.isnan(up)) & ~exact_users[:, None]
    n_sel = sel.sum(1)
    R = int(n_sel.max()) if M else 0
    order = torch.sort(sel.to(torch.int8), dim=1, descending=True, stable=True).indices[:, :R]
    valid = sel.gather(1, order)
    rows = br.gather(1, order).clamp(0, tab.N - 1)
    mi = users[:, None].expand(M, R)
    scores = torch.zeros(M, R, dtype=torch.float64, device=dev)
    if R:
        scores[valid] = _rescore(tab, mi[valid], rows[valid], xr)
    ids = perm.long()[rows]
    if bool(exact_users.any()):
        global _warned_exact
        if not _warned_exact:
            _warned_exact = True
            warnings.warn(
                "chord::mp_topk (CUDA): near-constant scores defeat the scan's threshold; "
                "those users are ranked by the exact chunked float64 path (slower)",
                RuntimeWarning,
                stacklevel=2,
            )
        eu = torch.nonzero(exact_users).flatten()
        es, ei, ev = _exact_all(tab, eu, xr, k)
        w = max(R, es.shape[1])
        widen = lambda t, v: torch.cat([t, torch.full((M, w - t.shape[1]), v, dtype=t.dtype, device=dev)], 1)  # noqa: E731
        scores, ids, valid = widen(scores, 0.0), widen(ids, 0), widen(valid, False)
        scores[eu, : es.shape[1]], ids[eu, : es.shape[1]], valid[eu, : es.shape[1]] = es, ei, ev
    # pruned items score exactly 0 and are never scanned: only the k smallest ids can matter
    pruned = [perm[s : s + n] for b, s, n, _ in tab.spans if b == 0 and n]
    if pruned:
        pids = torch.sort(torch.cat(pruned).long()).values[:k]
        scores = torch.cat([scores, torch.zeros(M, pids.numel(), dtype=torch.float64, device=dev)], 1)
        ids = torch.cat([ids, pids[None, :].expand(M, -1)], 1)
        valid = torch.cat([valid, torch.ones(M, pids.numel(), dtype=torch.bool, device=dev)], 1)
    return _rank(scores, ids, valid, k)


def _topk_candidates(tab, xr, candidates, k):
    """Candidate lists: every (user, candidate) pair rescored exactly, then ranked."""
    M, dev = xr.shape[0], xr.device
    # ids in range and perm a permutation: chord.ops checked both, so every id has a packed row
    cand = candidates.detach().long()
    inv = torch.empty(tab.N, dtype=torch.int64, device=dev)
    inv[tab.perm.long()] = torch.arange(tab.N, device=dev)
    cand = cand.expand(M, -1) if cand.dim() == 1 else cand
    rows = inv[cand]
    scores = _rescore(tab, torch.arange(M, device=dev)[:, None].expand_as(rows), rows, xr)
    return _rank(scores, cand, torch.ones_like(rows, dtype=torch.bool), k)
