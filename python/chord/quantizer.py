"""Per-output-channel uniform quantizers (pure torch): the reference the C++ packer must match
bit for bit.

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

import torch


def quantize_rows(w: torch.Tensor, bits: int, scheme: str = "sym"):
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
        umax = float(2 ** bits - 1)
        lo, hi = w.amin(1), w.amax(1)
        s = (hi - lo) / umax
        s = torch.where(s > 0, s, lo.abs())          # constant row: represent it exactly
        safe = torch.where(s > 0, s, torch.ones_like(s))
        z = -lo / safe
        if bits >= 2:
            # integer zero point, NOT clamped to [0, 2^b - 1]: a row that excludes 0 (all
            # positive, e.g. [3, 4]) needs z < 0, and a clamp collapsed it to w_hat = [1, 1, ...]
            z = torch.round(z)
        # + 0.0: a canonical +0.0 zero point (amin may return -0.0 or 0.0 for a row holding both)
        z = torch.where(s > 0, z, torch.zeros_like(z)) + 0.0
        if bits >= 2:   # integer zero point: round the quotient, then shift
            u = torch.round(w / safe[:, None]) + z[:, None]
        else:           # 1-bit: threshold at the midpoint
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
