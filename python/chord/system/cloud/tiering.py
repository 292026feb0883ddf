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

import torch

from chord.codebook import Codebook

_BISECT_STEPS = 30


def allowed_widths(codebook: Codebook, codes: tuple[int, ...] | None = None):
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
    budget,
    widths: torch.Tensor,
    thr: torch.Tensor,
    groups: torch.Tensor | None = None,
    num_groups: int = 1,
) -> torch.Tensor:
    """Largest offsets meeting the budget.

    target float [B, N]; sizes float [N] (elements per channel); budget: float or float [B]
    (average bits); groups long [N] in 0..G-1 (None: one group = global). Returns lambda [B, G].
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
    for _ in range(_BISECT_STEPS):
        mid = (lo + hi) / 2
        if G == 1:  # global scope: plain broadcasts and row sums
            used = (widths[_tier_index(target + mid, thr)] * sizes).sum(1, keepdim=True)
        else:
            bits = widths[_tier_index(target + mid.gather(1, groups.expand(B, N)), thr)] * sizes
            used = torch.zeros(B, G, device=dev).index_add_(1, groups, bits)
        ok = used <= cap + 1e-3
        lo = torch.where(ok, mid, lo)
        hi = torch.where(ok, hi, mid)
    return lo


def tier_codes(
    target: torch.Tensor,
    sizes: torch.Tensor,
    budget,
    codebook: Codebook,
    codes: tuple[int, ...] | None = None,
    groups: torch.Tensor | None = None,
    num_groups: int = 1,
) -> torch.Tensor:
    """target float [B, N] -> codes long [B, N] meeting ``budget`` average bits (see module doc)."""
    order, widths, thr = allowed_widths(codebook, codes)
    lam = solve_offsets(target, sizes, budget, widths, thr, groups, num_groups)
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


def channel_elems(layers) -> torch.Tensor:
    """float32 [sum C]: weight elements per channel of ``layers`` (LayerInfo list), concatenated in
    order: the weights of the average-bit budget."""
    return torch.cat([torch.full((s.channels,), float(s.elems)) for s in layers])


def codes_avg_bits(codes: torch.Tensor, sizes: torch.Tensor, codebook: Codebook) -> torch.Tensor:
    """codes long [B, N] -> float [B] average bits per weight element (weighted by channel size)."""
    w = torch.tensor(codebook.bits, dtype=torch.float32, device=codes.device)[codes.long()]
    s = sizes.to(codes.device, torch.float32)
    return (w * s).sum(-1) / s.sum()
