"""Adaptation suite: the on-device step.

* ``chord.pack`` (frozen fp32 weights x codes -> packed weights) at each weight shape x bit
  mix x threads; against a plain copy of the fp32 weights (the memory floor: pack must at least
  read them), torch's fused per-channel int8 quantizer (``torch.quantize_per_channel``), and
  chord's pure-torch reference packer.
* ``chord.DeviceModel.apply``: a whole SASRec / Caser (backbone + item table) re-packed from
  its frozen weights for a new strategy, against copying those weights.
"""

from __future__ import annotations

import copy

import torch

import chord
from chord.backends import reference
from chord.quantize import DeviceModel
from chord.quantize.strategy import Strategy

from .. import checks
from ..baselines import Prepared, Unavailable
from ..config import avg_bits, mix_codes, parse_mix, parse_shape
from ..timed import Timed
from ..timing import TimingPolicy
from .common import seeded_randn
from .e2e import build_model

#: the reference packer takes seconds per 4096^2 weight: a few rounds say enough
_SLOW = TimingPolicy(warmup=1, min_rounds=2, max_rounds=5, min_time_s=0.0, max_time_s=1.0, rel_ci=1.0)


def _weights(w, n):
    ws = [w.clone() for _ in range(n)]
    return ws, len(ws)


def run(ctx) -> None:
    cfg = ctx.cfg
    for si, spec in enumerate(cfg.adaptation_shapes):
        K, N = parse_shape(spec, 2)
        w = seeded_randn(N, K, seed=cfg.seed + 2000 + si, device=cfg.device)
        fp32_bytes = N * K * 4
        n = ctx.n_sets(fp32_bytes)
        ws, n = _weights(w, n)
        codes = {parse_mix(m)[0]: (mix_codes(parse_mix(m)[1], N, seed=cfg.seed), parse_mix(m)[1]) for m in cfg.mixes}
        base = {"K": K, "N": N, "threads": None}

        def copy_prep(t):
            outs = [torch.empty_like(w) for _ in range(2)]
            return Prepared(lambda i: outs[i % 2].copy_(ws[i % n]), fp32_bytes, n, "fp32 copy_ (memory floor)")

        items = [Timed("torch_copy", "baseline", base, copy_prep)]
        if cfg.device == "cpu":
            ax = torch.zeros(N, dtype=torch.int64)

            def qpc(t, w=w, ax=ax):
                s = w.abs().amax(1) / 127
                return Prepared(
                    lambda i: torch.quantize_per_channel(ws[i % n], s, ax, 0, torch.qint8),
                    fp32_bytes,
                    n,
                    "torch.quantize_per_channel qint8 (given scales)",
                )

            items.append(Timed("torch_quantize_per_channel", "baseline", base, qpc))
        for j, (label, (c, mix)) in enumerate(codes.items()):
            items.append(
                Timed(
                    "chord_pack",
                    "chord",
                    dict(base, mix=label),
                    lambda t, c=c: Prepared(
                        lambda i: chord.pack(ws[i % n], c),
                        fp32_bytes,
                        n,
                        "chord.pack",
                        check=checks.pack_check(ws[0], c),
                        check_what="sampled rows bit-identical to the reference packer",
                    ),
                    extra={"mix": label, "avg_bits": avg_bits(mix)},
                )
            )
            if j:
                continue
            # the reference packer takes seconds and hardly depends on the mix: timed once
            # (first mix), and it applies to every mix of the group
            perm, buckets = chord.mixed_weight.plan_buckets(c, chord.Codebook.default())
            perm = perm.to(w.device)

            def ref_pack(t, perm=perm, buckets=buckets, label=label):
                return Prepared(
                    lambda i: reference.quantize_pack(ws[i % n], perm, buckets, "sym"),
                    fp32_bytes,
                    n,
                    f"pure-torch reference packer (timed at mix {label})",
                )

            items.append(Timed("reference_pack", "baseline", base, ref_pack, policy=_SLOW))
        ctx.time_case("adaptation", lambda t, K=K, N=N: f"adaptation K={K} N={N} t={t}", items)
        del items
        del w, ws
    _models(ctx)


def _check_applied(dm, strategy) -> None:
    """After ``dm.apply(strategy)``: every layer holds the packing of its frozen weight."""
    for name, codes in strategy.codes.items():
        checks.packed_rows_check(dm.modules[name].mw, dm.frozen[name], codes, f"DeviceModel.apply: {name}")


def _models(ctx) -> None:
    cfg = ctx.cfg
    for name in cfg.e2e_models:
        try:
            model = build_model(name, cfg.scoring_rows, cfg.seed).to(cfg.device)
        except Unavailable as e:
            ctx.unavailable("adaptation", name, "chord_adapt", str(e))
            continue
        pristine = copy.deepcopy(model)  # DeviceModel swaps layers in place
        try:
            dm0 = DeviceModel(model, embeddings=True)
            fbytes = sum(t.numel() * 4 for t in dm0.frozen.values())
            n = ctx.n_sets(fbytes)
            dms = [dm0] + [DeviceModel(copy.deepcopy(pristine), embeddings=True) for _ in range(n - 1)]
        except Exception as e:  # noqa: BLE001 - a model DeviceModel cannot take is reported
            ctx.unavailable("adaptation", name, "chord_adapt", f"DeviceModel failed: {type(e).__name__}: {e}")
            continue
        del pristine
        base = {"model": name, "items": cfg.scoring_rows, "threads": None}

        def copy_all(t):
            outs = [[torch.empty_like(f) for f in dm.frozen.values()] for dm in dms]

            def fn(i):
                for o, f in zip(outs[i % n], dms[i % n].frozen.values()):
                    o.copy_(f)

            return Prepared(fn, fbytes, n, "copy_ of every frozen fp32 weight (memory floor)")

        items = [Timed("torch_copy", "baseline", base, copy_all)]
        for mspec in cfg.e2e_mixes:
            label, mix = parse_mix(mspec)
            strategy = Strategy(
                {ln: mix_codes(mix, int(f.shape[0]), seed=cfg.seed + j) for j, (ln, f) in enumerate(dm0.frozen.items())}
            )
            items.append(
                Timed(
                    "chord_adapt",
                    "chord",
                    dict(base, mix=label),
                    lambda t, strategy=strategy: Prepared(
                        lambda i: dms[i % n].apply(strategy),
                        fbytes,
                        n,
                        "DeviceModel.apply(strategy): every layer + item table re-packed",
                        check=lambda _stats: _check_applied(dms[0], strategy),
                        check_what="every layer's sampled rows bit-identical to the reference packer",
                    ),
                    extra={"mix": label, "avg_bits": avg_bits(mix)},
                )
            )
        ctx.time_case("adaptation", lambda t: f"adaptation model={name} items={cfg.scoring_rows} t={t}", items)
        del items
