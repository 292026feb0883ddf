"""What ``chord serve`` serves: a ``CloudService`` loaded from a CHORD checkpoint, or an untrained
planner of a given backbone shape (benchmarks and tests: the planner's cost does not depend on
its training)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from chord.system.cloud.service import CloudService

from . import defaults

#: where ``chord demo --checkpoint`` is pointed by the docs and ``chord serve`` looks first
DEMO_CHECKPOINT = Path("ckpt") / "demo"


def d_user_of(service: CloudService) -> int:
    """Width of the user embeddings the service's planner reads."""
    h = service.planner.hyper
    net = next(n for n in (h.element, h.filter, h.layer) if n is not None)
    return int(net.trunk[0].in_features)


def load_service(directory) -> CloudService:
    """``chord.json`` + ``chord.safetensors`` (``save_chord_checkpoint``) -> CloudService."""
    from chord.models import build_model
    from chord.system import ChordConfig, build_system, load_chord_state

    d = Path(directory)
    if not (d / "chord.json").is_file() or not (d / "chord.safetensors").is_file():
        raise FileNotFoundError(
            f"checkpoint: {d} holds no CHORD checkpoint (chord.json + chord.safetensors). Make one with "
            f"`chord demo --checkpoint {d}` (a few minutes), or serve an untrained planner with `chord serve --random`."
        )
    meta = json.loads((d / "chord.json").read_text())
    cfg = dict(meta["chord"])
    for k in ("codes", "tau"):
        if isinstance(cfg.get(k), list):
            cfg[k] = tuple(cfg[k])
    system = build_system(build_model(meta["backbone"]), ChordConfig(**cfg))
    load_chord_state(system, d)
    system.eval()
    return CloudService(system.planner, system.backbone, system.profiler)


def random_service(
    model: str = defaults.RANDOM_MODEL,
    num_items: int = defaults.RANDOM_NUM_ITEMS,
    *,
    seed: int = 0,
    dim: int = defaults.RANDOM_DIM,
    blocks: int = defaults.RANDOM_BLOCKS,
    d_user: int = 64,
    element_rank: int = 8,
) -> CloudService:
    """An untrained (seeded, hence reproducible) planner over a backbone of the default config
    (SASRec: ``dim`` wide, ``blocks`` deep; tests use a tiny one)."""
    from chord.models import build_model
    from chord.system import ChordConfig, build_system

    torch.manual_seed(seed)
    cfg = {"model": model, "num_items": int(num_items)}
    if model == "caser":
        cfg["num_users"] = 1000
    else:
        cfg.update(dim=int(dim), blocks=int(blocks))
    system = build_system(build_model(cfg), ChordConfig(d_user=d_user, element_rank=element_rank))
    # untrained heads start near zero (every channel equally important); spread them so that
    # different users really get different strategies (a batch mix-up must show in the codes)
    with torch.no_grad():
        for p in system.planner.hyper.parameters():
            p.normal_(0.0, 0.3)
    system.eval()
    return CloudService(system.planner, system.backbone, system.profiler)
