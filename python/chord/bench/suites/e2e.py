"""End-to-end suite: one device forward of SASRec / Caser, user representation + scores over
the whole item table (what reranking needs), fp32 against the same model after
``chord.quantize_`` at each bit mix: the backbone's Linear/Conv2d layers ("backbone") and the
backbone plus the item table ("backbone+items", scoring then reads the packed table)."""

from __future__ import annotations

import copy

import torch

from chord.models import MODELS
from chord.quantize import dequantize_, quantizable_layers, quantize_

from .. import checks
from ..baselines import Prepared, Unavailable
from ..config import PATHS, avg_bits, mix_codes, parse_mix
from ..timed import Timed

SEQ_LEN = 50


def build_model(name: str, num_items: int, seed: int):
    if name not in MODELS:
        raise ValueError(f"e2e_models: expected some of {sorted(MODELS)}, got {name!r}")
    torch.manual_seed(seed)
    kw = {"max_len": SEQ_LEN} if name == "sasrec" else {}
    return MODELS[name](num_items, dim=64, **kw).eval()


def _param_bytes(model) -> int:
    return sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))


def _forward(models_, seqs):
    n = len(models_)

    def fn(i):
        m = models_[i % n]
        return m.score(m(seqs))

    return fn


#: relative error of a quantized model's scores to the float64 model with its dequantized weights:
#: float32 rounding (exact path), or the per-row int8 activations of every layer (act8)
TOL = {"exact": 1e-4, "act8": 0.1}


def _dequantized_f64(q, seqs):
    """Scores of ``q`` computed in float64 from its dequantized weights (the e2e check's reference)."""
    ref = dequantize_(copy.deepcopy(q)).to(torch.float64)
    with torch.no_grad():
        return ref.score(ref(seqs))


def _quantized(model, mix, embeddings: bool, act_bits: int, seed: int):
    m = copy.deepcopy(model)
    strategy = {
        name: mix_codes(mix, info.channels, seed=seed + j)
        for j, (name, info) in enumerate(quantizable_layers(m, None, embeddings=embeddings).items())
    }
    return quantize_(m, strategy, act_bits=act_bits)


def run(ctx) -> None:
    cfg = ctx.cfg
    items = cfg.scoring_rows
    for name in cfg.e2e_models:
        try:
            model = build_model(name, items, cfg.seed).to(cfg.device)
        except Unavailable as e:
            ctx.unavailable("e2e", name, "all", str(e))
            continue
        g = torch.Generator().manual_seed(cfg.seed + 11)
        seqs = torch.randint(1, items + 1, (cfg.e2e_batch, SEQ_LEN), generator=g).to(cfg.device)
        fp32_bytes = _param_bytes(model)
        base = {"model": name, "B": cfg.e2e_batch, "items": items, "threads": None}

        def fp32(t, model=model, seqs=seqs, fp32_bytes=fp32_bytes):
            ms = [copy.deepcopy(model) for _ in range(ctx.n_sets(fp32_bytes))]
            return Prepared(_forward(ms, seqs), fp32_bytes, len(ms), "fp32 model: forward + full scores")

        timed = [Timed("fp32_model", "baseline", base, fp32)]
        for mspec in cfg.e2e_mixes:
            label, mix = parse_mix(mspec)
            for scope, emb in (("backbone", False), ("backbone+items", True)):
                for path in cfg.paths:

                    def quant(t, model=model, seqs=seqs, mix=mix, emb=emb, path=path, scope=scope):
                        q = _quantized(model, mix, emb, PATHS[path], cfg.seed)
                        qb = _param_bytes(q)
                        ms = [q] + [copy.deepcopy(q) for _ in range(ctx.n_sets(qb) - 1)]
                        return Prepared(
                            _forward(ms, seqs),
                            qb,
                            len(ms),
                            f"quantize_ {scope}, {path}",
                            check=checks.model_check(_dequantized_f64(q, seqs), TOL[path], "e2e scores"),
                            check_what=f"float64 dequantized model, relative error <= {TOL[path]:g}",
                        )

                    timed.append(
                        Timed(
                            "chord_model",
                            "chord",
                            dict(base, mix=label, scope=scope, path=path),
                            quant,
                            extra={"mix": label, "avg_bits": avg_bits(mix), "scope": scope, "path": path},
                        )
                    )
        ctx.time_case("e2e", lambda t, name=name: f"e2e {name} B={cfg.e2e_batch} items={items} t={t}", timed)
        del timed
