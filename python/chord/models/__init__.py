"""Models (scoring only): SASRec and Caser. See :mod:`chord.models.base` for the interface."""

from __future__ import annotations

from .base import SequentialRecommender
from .caser import Caser
from .sasrec import SASRec

MODELS = {"sasrec": SASRec, "caser": Caser}


def build_model(config: dict) -> SequentialRecommender:
    """Rebuild a model from its ``config`` dict (``model.config``), e.g. from a checkpoint."""
    cfg = dict(config)
    name = cfg.pop("model", None)
    if name not in MODELS:
        raise ValueError(f"config['model']: expected one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name](**cfg)


__all__ = ["SequentialRecommender", "SASRec", "Caser", "MODELS", "build_model"]
