"""One strategy for everybody, shipped as a file: the deployment the evidence supports where
per-user codes do not beat a single strategy (docs/method.md, reports/2026-12-07-headroom-3.md).

``chord demo --checkpoint DIR`` writes, beside the planner, the one strategy it measured at each
budget as strategy wire bytes: ``DIR/population/<budget>.strategy`` (``Strategy.to_bytes``, the
backbone's fingerprint stamped). ``chord serve`` answers ``GET /v1/strategy/population?budget=B``
with them; the bytes are the same for every device of that backbone, so a static file server or a
CDN can ship them as well. A device applies them as any strategy (``Device.adapt``): nothing
about the user leaves the device and the cloud runs no planner per user.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch

from chord.quantize.strategy import Strategy, StrategyError

from .planner import CloudPlanner

#: the checkpoint's sub-folder holding one ``<budget>.strategy`` file per budget
POPULATION_DIR = "population"


def budget_name(budget: float) -> str:
    """File stem of a budget: ``2`` for 2.0 bits, ``2.5`` for 2.5 (``float`` reads it back)."""
    return f"{float(budget):g}"


def save_population(
    directory: str | os.PathLike, planner: CloudPlanner, fingerprint: bytes, codes: Mapping[float, torch.Tensor]
) -> list[Path]:
    """Write ``codes[budget]`` (long [N], the planner's channel order) as wire bytes under
    ``directory/population/``, one file per budget, each replaced atomically. -> the paths."""
    d = Path(directory) / POPULATION_DIR
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for budget, c in sorted(codes.items()):
        wire = Strategy(planner.split(c), planner.codebook).to_bytes(fingerprint)
        path = d / f"{budget_name(budget)}.strategy"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(wire)
        os.replace(tmp, path)  # a reader sees the old file or the new one, never half of one
        paths.append(path)
    return paths


def load_population(directory: str | os.PathLike, fingerprint: bytes) -> dict[float, bytes]:
    """``{budget: wire bytes}`` from ``directory/population/`` ({} when the checkpoint has none).
    Every file must decode as a strategy for the backbone of ``fingerprint``: a file for another
    model, or a corrupt one, is a ValueError naming it (a server must not start with it)."""
    d = Path(directory) / POPULATION_DIR
    if not d.is_dir():
        return {}
    out: dict[float, bytes] = {}
    for path in sorted(d.glob("*.strategy")):
        try:
            budget = float(path.stem)
        except ValueError:
            raise ValueError(f"{path}: expected a file named <budget bits>.strategy, e.g. 2.5.strategy") from None
        data = path.read_bytes()
        try:
            Strategy.from_bytes(data, fingerprint)
        except (StrategyError, ValueError) as e:
            raise ValueError(f"{path}: not a strategy for this checkpoint's backbone: {e}") from None
        out[budget] = data
    return out
