"""Pieces the suites share: seeded weights, packed-weight rotation, chord mat-mul callables."""

from __future__ import annotations

import torch

import chord
from chord import host_memory

from .. import checks
from ..baselines import Prepared


def seeded_randn(*shape: int, seed: int, device: str = "cpu") -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).to(device)


def clone_packed(mw: chord.MixedWeight, n: int, hugepages: bool = True) -> list[chord.MixedWeight]:
    """``mw`` and ``n - 1`` copies of it in distinct memory (same bytes: caches key on
    addresses, so rotating copies defeats them as well as distinct weights would).
    ``hugepages=False``: the copies' packed bytes on 4 KiB pages whatever their size."""
    out = [mw]
    for _ in range(n - 1):
        out.append(
            chord.MixedWeight(
                # placed as chord.pack places a weight (2 MiB pages where offered), not by clone()
                host_memory.empty_uint8(mw.qweight.numel(), hugepages).copy_(mw.qweight)
                if mw.qweight.device.type == "cpu"
                else mw.qweight.clone(),
                mw.scales.clone(),
                mw.zeros.clone(),
                mw.perm.clone(),
                mw.codes,
                list(mw.buckets),
                mw.shape,
                mw.codebook,
            )
        )
    return out


def chord_linear(
    mw: chord.MixedWeight, x: torch.Tensor, act_bits: int, n_sets: int, copies: list | None = None
) -> Prepared:
    """``chord.mp_linear`` (the public API, checks included) over ``n_sets`` rotated copies
    (or over ``copies``, made earlier by :func:`clone_packed`)."""
    mws = copies if copies is not None else clone_packed(mw, n_sets)
    n = len(mws)
    return Prepared(
        lambda i: chord.mp_linear(x, mws[i % n], act_bits=act_bits),
        mw.nbytes,
        n,
        f"chord.mp_linear act_bits={act_bits}",
        check=checks.mp_linear_check(x, mw, act_bits),
        check_what="float64 reference within its error bound",
    )


def max_rel_err(y: torch.Tensor, ref: torch.Tensor) -> float:
    """max |y - ref| / max |ref|: a one-number sanity check that a timed kernel is right."""
    return float((y.double() - ref.double()).abs().max() / ref.double().abs().max().clamp_min(1e-30))
