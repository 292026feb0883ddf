"""Kernel suite: ``chord.mp_linear`` at each shape x bit mix x activation path x threads,
against torch fp32, torch dynamic int8, ATen int8/int4 weight-only kernels, (``--peer ggml``)
llama.cpp's k-quant mat-vec and (``--peer torchao``) torchao's int8 dynamic / int4 weight-only
linears, all timed in the same run on the same fp32 weights."""

from __future__ import annotations

import gc

import chord

from .. import peer_ggml, peer_torchao
from ..baselines import BASELINES
from ..config import PATHS, avg_bits, mix_codes, parse_mix, parse_shape
from ..timed import Timed
from .common import chord_linear, clone_packed, max_rel_err, seeded_randn

#: bytes per weight element each implementation streams (sizes the rotation before building it)
_BYTES_PER_WEIGHT = {
    "torch_fp32": 4,
    "torch_fp16": 2,
    "torch_dynamic_int8": 1,
    "aten_int8pack_mm": 1,
    "aten_int4pack_mm": 0.53,
    "ggml_q2_k": 0.33,
    "ggml_q4_k": 0.56,
    "ggml_q8_0": 1.06,
    **{k: v[2] for k, v in peer_torchao.CONFIGS.items()},
}


#: cases with M up to this are memory-bound (a GEMV streams its weight once and does little per
#: byte): every implementation in their groups is timed between two read-roof probes
#: (``RunContext.time(adjacent_roof=...)``), reading as many bytes as chord's largest packed weight
MEMORY_BOUND_MAX_M = 1


def peer_impls(peers) -> list[str]:
    out = []
    for p in peers:
        if p == "ggml":
            out += list(peer_ggml.GGML_TYPES)
        elif p == "torchao":
            out += list(peer_torchao.CONFIGS)
        elif p in peer_ggml.GGML_TYPES or p in peer_torchao.CONFIGS:
            out.append(p)
        else:
            raise ValueError(
                f"peers: expected 'ggml', 'torchao' or one of "
                f"{sorted(peer_ggml.GGML_TYPES) + sorted(peer_torchao.CONFIGS)}, got {p!r}"
            )
    return out


def run(ctx) -> None:
    cfg = ctx.cfg
    dev = cfg.device
    peers = peer_impls(cfg.peers)
    for si, spec in enumerate(cfg.shapes):
        M, K, N = parse_shape(spec)
        w = seeded_randn(N, K, seed=cfg.seed + 1000 * si, device=dev)
        x = seeded_randn(M, K, seed=cfg.seed + 1000 * si + 1, device=dev)
        packs = {}
        for mspec in cfg.mixes:
            label, mix = parse_mix(mspec)
            codes = mix_codes(mix, N, seed=cfg.seed)
            packs[label] = (chord.pack(w, codes), mix)
        # weights are prepared once per shape and timed at every thread count (quantizing a
        # baseline's rotation sets can take longer than timing it)
        prepared: dict = {}
        refs: dict = {}
        ggml_q: dict = {}  # ggml's quantized weights, per kind

        def cached(key, make):
            if key not in prepared:
                prepared[key] = make()
            return prepared[key]

        # one slice size for the whole group: chord and its peers get roofs that compare
        roof = max(mw.nbytes for mw, _ in packs.values()) if M <= MEMORY_BOUND_MAX_M else None
        base = {"M": M, "K": K, "N": N, "threads": None}
        items = []
        for b in cfg.baselines:
            if b not in BASELINES:
                raise ValueError(f"baselines: expected some of {sorted(BASELINES)}, got {b!r}")
            n = ctx.n_sets(_BYTES_PER_WEIGHT[b] * N * K, kernels=True)
            items.append(
                Timed(
                    b,
                    "baseline",
                    base,
                    lambda t, b=b, n=n: cached(b, lambda: BASELINES[b](w, x, n)),
                    adjacent_roof=roof,
                )
            )
        for p in peers:
            n = ctx.n_sets(_BYTES_PER_WEIGHT[p] * N * K, kernels=True)
            if p in peer_torchao.CONFIGS:  # torch's intra-op threads: prepared once
                items.append(
                    Timed(
                        p,
                        "peer",
                        base,
                        lambda t, p=p, n=n: cached(p, lambda: peer_torchao.torchao_linear(p, w, x, n)),
                        adjacent_roof=roof,
                    )
                )
                continue
            # ggml's thread pool is per thread count: prepared per t, quantized once
            for pages in cfg.peer_pages:
                # "own": ggml's allocation (as llama.cpp mallocs); "2m": 2 MiB pages, as
                # chord.pack places chord's packed weights (like for like)
                items.append(
                    Timed(
                        p,
                        "peer",
                        base if pages == "own" else dict(base, pages=pages),
                        lambda t, p=p, n=n, pages=pages: peer_ggml.ggml_matmul(
                            p, w, x, n, t, hugepages=pages == "2m", qcache=ggml_q
                        ),
                        adjacent_roof=roof,
                    )
                )
        for label, (mw, mix) in packs.items():
            for path in cfg.paths:
                n = ctx.n_sets(mw.nbytes, kernels=True)
                extra = {"mix": label, "avg_bits": avg_bits(mix), "path": path}

                def prepare(t, label=label, mw=mw, act_bits=PATHS[path], n=n, extra=extra):
                    # sanity: the timed kernel must compute what the format means (a kernel
                    # that raises here is reported unavailable, the run goes on)
                    y = chord.mp_linear(x, mw, act_bits=act_bits)
                    if label not in refs:
                        refs[label] = x.double() @ mw.dequantize().double().T
                    extra["max_rel_err"] = max_rel_err(y, refs[label])
                    copies = cached(("chord", label), lambda: clone_packed(mw, n))
                    return chord_linear(mw, x, act_bits, n, copies)

                items.append(
                    Timed("chord", "chord", dict(base, mix=label, path=path), prepare, extra=extra, adjacent_roof=roof)
                )
        ctx.time_case("kernels", lambda t: f"kernels M={M} K={K} N={N} t={t}", items)
        del items
        del prepared, refs, ggml_q
        del w, x, packs
        gc.collect()
