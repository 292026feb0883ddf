"""Item-scoring suite: a user vector x [B, dim] against an item table [rows, dim] (100,000 x
64 by default) quantized per item row at each bit mix: scores with ``chord.mp_linear``, and
scores + top-k with ``chord.mp_topk``; against fp32
``F.linear`` and ``F.linear`` + ``torch.topk``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import chord
from chord import mp_topk

from .. import checks
from ..baselines import Prepared
from ..config import avg_bits, mix_codes, parse_mix
from ..timed import Timed
from .common import chord_linear, clone_packed, max_rel_err, seeded_randn


def _topk_prepared(mw, x, k, n_sets) -> Prepared:
    mws = clone_packed(mw, n_sets)
    n = len(mws)
    mp_topk(x, mws[0], k)  # fail here (-> unavailable) rather than inside the timer
    # what served the call is labelled by the runner (a reference fallback is counted there)
    return Prepared(
        lambda i: mp_topk(x, mws[i % n], k),
        mw.nbytes,
        n,
        f"mp_topk k={k}",
        check=checks.mp_topk_check(x, mw, k),
        check_what="float64 reference top-k ids",
    )


def _fp32(table, x, n_sets, k=None) -> Prepared:
    ts = [table.clone() for _ in range(n_sets)]
    n = len(ts)
    if k is None:
        return Prepared(lambda i: F.linear(x, ts[i % n]), table.numel() * 4, n, "F.linear fp32")
    return Prepared(
        lambda i: torch.topk(F.linear(x, ts[i % n]), k, dim=-1),
        table.numel() * 4,
        n,
        f"F.linear fp32 + torch.topk k={k}",
    )


def run(ctx) -> None:
    cfg = ctx.cfg
    rows, dim, k = cfg.scoring_rows, cfg.scoring_dim, cfg.topk
    table = seeded_randn(rows, dim, seed=cfg.seed + 7, device=cfg.device)
    packs = {}
    for mspec in cfg.mixes:
        label, mix = parse_mix(mspec)
        packs[label] = (chord.pack(table, mix_codes(mix, rows, seed=cfg.seed)), mix)
    for B in cfg.scoring_batch:
        x = seeded_randn(B, dim, seed=cfg.seed + 8 + B, device=cfg.device)
        base = {"B": B, "rows": rows, "dim": dim, "threads": None}
        n = ctx.n_sets(table.numel() * 4)
        items = [Timed("torch_fp32", "baseline", base, lambda t, n=n: _fp32(table, x, n))]
        if k:
            items.append(Timed("torch_fp32_topk", "baseline", dict(base, k=k), lambda t, n=n: _fp32(table, x, n, k)))
        for label, (mw, mix) in packs.items():
            n = ctx.n_sets(mw.nbytes)
            extra = {"mix": label, "avg_bits": avg_bits(mix)}
            checked = dict(extra)

            def scores(t, mw=mw, n=n, checked=checked):
                y = chord.mp_linear(x, mw)  # sanity check inside: a failure is reported, not fatal
                checked["max_rel_err"] = max_rel_err(y, x.double() @ mw.dequantize(torch.float64).T)
                return chord_linear(mw, x, 0, n)

            items.append(Timed("chord", "chord", dict(base, mix=label, op="scores"), scores, extra=checked))
            if k:
                items.append(
                    Timed(
                        "chord_topk",
                        "chord",
                        dict(base, mix=label, op="topk", k=k),
                        lambda t, mw=mw, n=n: _topk_prepared(mw, x, k, n),
                        extra=extra,
                    )
                )
        ctx.time_case("scoring", lambda t, B=B: f"scoring B={B} rows={rows} dim={dim} t={t}", items)
