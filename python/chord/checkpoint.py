"""Model checkpoints: ``model.safetensors`` (weights) + ``config.json`` (model/train config, results) in a
directory. Written by the trainer, read by ``chord eval``, the experiments and the demo (apart from
:mod:`chord.train`, so evaluation does not depend on training)."""
from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file, save_file

from .models import build_model

WEIGHTS = "model.safetensors"
CONFIG = "config.json"


def save_checkpoint(directory, model, extra: dict | None = None) -> Path:
    """Write ``model``'s weights and ``{"model": model.config, **extra}`` into ``directory``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(d / WEIGHTS), metadata={"model": model.config["model"]})
    meta = {"model": model.config, **(extra or {})}
    (d / CONFIG).write_text(json.dumps(meta, indent=2, default=float))
    return d


def load_checkpoint(directory, map_location: str = "cpu"):
    """-> (model in eval mode, full config dict) from a directory written by :func:`save_checkpoint`."""
    d = Path(directory)
    if not (d / WEIGHTS).is_file() or not (d / CONFIG).is_file():
        raise FileNotFoundError(f"directory: expected {WEIGHTS} and {CONFIG} in {d}")
    meta = json.loads((d / CONFIG).read_text())
    model = build_model(meta["model"])
    state = load_file(str(d / WEIGHTS), device=map_location)
    model.load_state_dict(state)
    return model.eval(), meta

