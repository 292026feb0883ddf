"""Rank tiers: per-channel importance -> 2-bit codes that meet an average-bit budget.

Each channel c gets a continuous *bit target* t_c (a monotone function of its importance). A
per-user offset lambda (one per user for the global scope, one per user and layer for the
per-layer scope) shifts every target; a channel's width is the allowed width nearest to
t_c + lambda (thresholds at the midpoints between consecutive allowed widths). The offset is the
largest one whose average bits, weighted by channel size, stay within the budget (bisection).
This is reverse water-filling: since the width is monotone in the target, the result is a rank
tiering (a more important channel never gets fewer bits), and the tier sizes adapt to how
spread the user's importances are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from chord.codebook import Codebook
from chord.quantize.layers import LayerInfo

_BISECT_STEPS = 30


def allowed_widths(
    codebook: Codebook, codes: tuple[int, ...] | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(codes sorted by width, widths float tensor, thresholds float tensor) for the allowed codes.

    ``codes`` restricts the choice (e.g. ``(0, 3)`` for DIET-style binary masks); widths must
    be distinct among the allowed codes.
    """
    codes = tuple(range(len(codebook.bits))) if codes is None else tuple(int(c) for c in codes)
    if not codes or any(c < 0 or c >= len(codebook.bits) for c in codes):
        raise ValueError(f"codes: expected a non-empty subset of 0..{len(codebook.bits) - 1}, got {codes}")
    order = sorted(set(codes), key=lambda c: codebook.bits[c])
    widths = [float(codebook.bits[c]) for c in order]
    if len(set(widths)) != len(widths):
        raise ValueError(f"codes: allowed codes {order} map to repeated widths {widths} in {codebook.bits}")
    w = torch.tensor(widths)
    thr = (w[1:] + w[:-1]) / 2
    return torch.tensor(order, dtype=torch.long), w, thr


def _tier_index(x: torch.Tensor, thr: torch.Tensor) -> torch.Tensor:
    """Index (into the allowed widths) of the width nearest to each target."""
    return torch.bucketize(x, thr.to(x.device), right=True)


def solve_offsets(
    target: torch.Tensor,
    sizes: torch.Tensor,
    budget: float | torch.Tensor,
    widths: torch.Tensor,
    thr: torch.Tensor,
    groups: torch.Tensor | None = None,
    num_groups: int = 1,
    *,
    sorted_search: bool = True,
) -> torch.Tensor:
    """Largest offsets meeting the budget.

    target float [B, N]; sizes float [N] (elements per channel); budget: float or float [B]
    (average bits); groups long [N] in 0..G-1 (None: one group = global). Returns lambda [B, G].

    sorted_search: for the global scope, count each bisection step's bits on the targets sorted
    once per user (a binary search per threshold, O(T log N) per user and step instead of a
    bucketize over all N channels). It returns the very same offsets as the plain loop
    (``sorted_search=False``, the reference the tests compare with): each step still adds the
    same float32 offset to every target, rounding is monotone so the sorted sums keep their
    order, and the bits used are integers summed exactly (the fast path is only taken when the
    widths and sizes are integers whose total stays below 2**24, where float32 sums are exact
    in any order).
    """
    target = target.detach().float()
    B, N = target.shape
    dev = target.device
    sizes = sizes.to(dev, torch.float32)
    widths, thr = widths.to(dev), thr.to(dev)
    G = num_groups
    if groups is None:
        groups = torch.zeros(N, dtype=torch.long, device=dev)
        G = 1
    groups = groups.to(dev)
    bud = torch.as_tensor(budget, dtype=torch.float32, device=dev).expand(B)
    lo_w = float(widths[0])
    if bool((bud < lo_w - 1e-6).any()):
        raise ValueError(f"budget: {float(bud.min()):.3f} average bits is below the narrowest allowed width {lo_w}")
    gsize = torch.zeros(G, device=dev).index_add_(0, groups, sizes)  # [G]
    cap = bud[:, None] * gsize[None, :]  # [B, G] bits allowed
    # bracket: lo -> every channel at the narrowest width, hi -> every channel at the widest
    tmin = torch.full((B, G), float("inf"), device=dev).scatter_reduce(1, groups.expand(B, N), target, "amin")
    tmax = torch.full((B, G), float("-inf"), device=dev).scatter_reduce(1, groups.expand(B, N), target, "amax")
    lo = float(thr[0]) - tmax - 1.0 if thr.numel() else -tmax
    hi = float(thr[-1]) - tmin + 1.0 if thr.numel() else -tmin
    if (
        sorted_search
        and G == 1
        and thr.numel()
        and _exact_integer_bits(sizes, widths)
        and bool(target.isfinite().all())
    ):
        used_at = _sorted_bits_counter(target, sizes, widths, thr)
    elif G == 1:  # global scope: plain broadcasts and row sums

        def used_at(mid):
            return (widths[_tier_index(target + mid, thr)] * sizes).sum(1, keepdim=True)
    else:

        def used_at(mid):
            bits = widths[_tier_index(target + mid.gather(1, groups.expand(B, N)), thr)] * sizes
            return torch.zeros(B, G, device=dev).index_add_(1, groups, bits)

    cap = cap + 1e-3
    for _ in range(_BISECT_STEPS):
        mid = (lo + hi) / 2
        ok = used_at(mid) <= cap
        lo = torch.where(ok, mid, lo)
        hi = torch.where(ok, hi, mid)
    return lo


def _exact_integer_bits(sizes: torch.Tensor, widths: torch.Tensor) -> bool:
    """Whether every partial sum of widths x sizes is an integer float32 holds exactly."""
    return (
        bool((sizes == sizes.round()).all())
        and bool((widths == widths.round()).all())
        and float(sizes.double().sum()) * float(widths.abs().max()) < 2**24
    )


#: most distinct channel sizes counted group by group (past it: one sort with a permutation)
_MAX_SIZE_GROUPS = 16


def _sort_rows(x: torch.Tensor) -> torch.Tensor:
    """Each row of x float32 [B, n] sorted ascending (numpy's vectorized sort on CPU: several
    times faster than torch.sort for rows of a few hundred)."""
    if x.device.type == "cpu":
        return torch.from_numpy(np.sort(x.numpy(), axis=1))
    return x.sort(dim=1).values


def _sorted_bits_counter(target: torch.Tensor, sizes: torch.Tensor, widths: torch.Tensor, thr: torch.Tensor):
    """mid float [B, 1] -> bits used float32 [B, 1] at offset mid (global scope), from the targets
    sorted once: the channels at or above threshold k after adding mid form a suffix of the
    sorted order (fl(t + mid) is monotone in t), found by one binary search per threshold.

    Channels are grouped by size (a backbone has few distinct channel sizes), so each group's
    count above a threshold times its size is its elements there; with many distinct sizes, one
    sort carries the sizes along (a permutation and a cumulative sum)."""
    B, N = target.shape
    w = widths.double()
    dw = (w[1:] - w[:-1])[None, :]  # [1, T]
    q = thr[None, :].expand(B, thr.numel()).contiguous()
    total = float(sizes.double().sum())
    distinct = torch.unique(sizes)
    if distinct.numel() <= _MAX_SIZE_GROUPS:
        groups = [(float(s), _sort_rows(target[:, sizes == s].contiguous())) for s in distinct]
        dwc = dw.reshape(-1, 1)  # [T, 1]
        # all channels at the widest width, minus what each threshold a channel misses takes away
        top = float(w[-1]) * total

        def used_at(mid: torch.Tensor) -> torch.Tensor:
            used = top
            for size, ts in groups:
                # pos_k = channels below threshold k: bucketize(right=True) puts a channel at
                # tier >= k exactly when fl(t + mid) >= thr_k, and the sorted row keeps that a prefix
                pos = torch.searchsorted(ts + mid, q, right=False)
                used = used - size * (pos.double() @ dwc)
            return used.float()

        return used_at
    ts, perm = target.sort(dim=1)
    before = torch.zeros(B, N + 1, dtype=torch.float64, device=ts.device)  # elements before each position
    torch.cumsum(sizes.double()[perm], dim=1, out=before[:, 1:])

    def used_at(mid: torch.Tensor) -> torch.Tensor:
        pos = torch.searchsorted(ts + mid, q, right=False)
        above = total - before.gather(1, pos)
        return (w[0] * total + (dw * above).sum(1, keepdim=True)).float()

    return used_at


def tier_codes(
    target: torch.Tensor,
    sizes: torch.Tensor,
    budget: float | torch.Tensor,
    codebook: Codebook,
    codes: tuple[int, ...] | None = None,
    groups: torch.Tensor | None = None,
    num_groups: int = 1,
    *,
    sorted_search: bool = True,
) -> torch.Tensor:
    """target float [B, N] -> codes long [B, N] meeting ``budget`` average bits (see module doc;
    sorted_search: see :func:`solve_offsets`)."""
    order, widths, thr = allowed_widths(codebook, codes)
    lam = solve_offsets(target, sizes, budget, widths, thr, groups, num_groups, sorted_search=sorted_search)
    B, N = target.shape
    g = (groups if groups is not None else torch.zeros(N, dtype=torch.long)).to(target.device)
    idx = _tier_index(target.detach().float() + lam.gather(1, g.expand(B, N)), thr)
    return order.to(target.device)[idx]


def ordinal_probs(x: torch.Tensor, thr: torch.Tensor, tau: float) -> torch.Tensor:
    """Soft tier membership: x float [..., N] (offset targets) -> probs [..., N, T] over the
    allowed widths, with P(width index >= k) = sigmoid((x - thr_k) / tau)."""
    if thr.numel() == 0:
        return torch.ones(*x.shape, 1, dtype=x.dtype, device=x.device)
    ge = torch.sigmoid((x[..., None] - thr.to(x.device)) / tau)  # [..., T-1]
    one = torch.ones_like(ge[..., :1])
    zero = torch.zeros_like(ge[..., :1])
    upper = torch.cat([one, ge], -1)
    lower = torch.cat([ge, zero], -1)
    return (upper - lower).clamp_min(0)


def channel_elems(layers: Sequence[LayerInfo]) -> torch.Tensor:
    """float32 [sum C]: weight elements per channel of ``layers`` (LayerInfo list), concatenated in
    order: the weights of the average-bit budget."""
    return torch.cat([torch.full((s.channels,), float(s.elems)) for s in layers])


def codes_avg_bits(codes: torch.Tensor, sizes: torch.Tensor, codebook: Codebook) -> torch.Tensor:
    """codes long [B, N] -> float [B] average bits per weight element (weighted by channel size)."""
    w = torch.tensor(codebook.bits, dtype=torch.float32, device=codes.device)[codes.long()]
    s = sizes.to(codes.device, torch.float32)
    return (w * s).sum(-1) / s.sum()
