"""How personalized a set of strategies is: do different users get different codes?

The population strategy scores 0 on every measure; per-user random codes score near the maximum.
All measures are over the channels of the planned layers, one row of codes per user.
"""

from __future__ import annotations

import torch


@torch.no_grad()
def personalization(codes: torch.Tensor, sizes: torch.Tensor | None = None, num_codes: int = 4) -> dict:
    """codes long [U, N] (one strategy per user); sizes float [N] (elements per channel, for the
    size-weighted figure; None = all 1). Returns

    - ``varying_channels``: fraction of channels whose code is not the same for every user;
    - ``varying_weights``: the same, weighted by channel size (fraction of weight elements);
    - ``code_entropy_bits``: mean over channels of the entropy of that channel's code across users
      (0 .. log2(num_codes) bits);
    - ``pairwise_disagreement``: expected fraction of channels on which two users drawn at random
      (with replacement) get different codes, sum_c (1 - sum_k p_ck^2) / N;
    - ``distinct_fraction``: distinct strategies / users (1 = everybody has their own);
    - ``users``: U.
    """
    if codes.dim() != 2 or codes.shape[0] < 1:
        raise ValueError(f"codes: expected long [users, channels] with users >= 1, got shape {list(codes.shape)}")
    codes = codes.long()
    U, N = codes.shape
    if int(codes.min()) < 0 or int(codes.max()) >= num_codes:
        raise ValueError(f"codes: expected values in 0..{num_codes - 1}, got {int(codes.min())}..{int(codes.max())}")
    sizes = torch.ones(N) if sizes is None else sizes.to(torch.float64).cpu()
    if sizes.shape != (N,):
        raise ValueError(f"sizes: expected shape [{N}], got {list(sizes.shape)}")
    counts = torch.nn.functional.one_hot(codes.cpu(), num_codes).sum(0).to(torch.float64)  # [N, K]
    p = counts / U
    varying = (p.max(-1).values < 1.0).to(torch.float64)
    ent = -(p * torch.log2(p.clamp_min(1e-300))).sum(-1)
    return {
        "varying_channels": float(varying.mean()),
        "varying_weights": float((varying * sizes).sum() / sizes.sum()),
        "code_entropy_bits": float(ent.mean()),
        "pairwise_disagreement": float((1 - (p * p).sum(-1)).mean()),
        "distinct_fraction": len({tuple(r) for r in codes.tolist()}) / U,
        "users": U,
    }
