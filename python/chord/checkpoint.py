"""Model checkpoints: ``model.safetensors`` (weights) + ``config.json`` (model/train config, results) in a
directory. Written by the trainer, read by ``chord eval``, the experiments and the demo (apart from
:mod:`chord.train`, so evaluation does not depend on training).

Loading checks before it allocates: both files are regular files, ``config.json`` is UTF-8 JSON
holding an object with a ``model`` object, the model it describes is built on the ``meta``
device first (no memory) and its tensors' names and shapes must equal those in the
safetensors header (whose sizes the file's length bounds), and the buffers it would allocate
beyond the file stay under :data:`MAX_EXTRA_BYTES`. Every error names the file and the field.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from .models import build_model

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
#: largest config.json read
MAX_CONFIG_BYTES = 16 << 20
#: bytes a model may allocate beyond the tensors its weights file holds (non-persistent buffers)
MAX_EXTRA_BYTES = 256 << 20


class CheckpointError(ValueError):
    """A checkpoint directory whose files do not describe a loadable model; names file and field."""


def save_checkpoint(directory: str | os.PathLike, model: nn.Module, extra: dict | None = None) -> Path:
    """Write ``model``'s weights and ``{"model": model.config, **extra}`` into ``directory``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(d / WEIGHTS), metadata={"model": model.config["model"]})
    meta = {"model": model.config, **(extra or {})}
    (d / CONFIG).write_text(json.dumps(meta, indent=2, default=float))
    return d


def _regular(path: Path) -> int:
    try:
        st = os.stat(path)
    except OSError as e:
        raise FileNotFoundError(f"{path}: cannot read ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"{path}: not a regular file")
    return st.st_size


def read_config(path: Path) -> dict:
    """config.json -> its object, with the ``model`` entry checked to be an object."""
    size = _regular(path)
    if size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{path}: {size} bytes, more than the {MAX_CONFIG_BYTES} a config may take")
    try:
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise CheckpointError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except (json.JSONDecodeError, RecursionError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got a {type(meta).__name__}")
    if not isinstance(meta.get("model"), dict):
        raise CheckpointError(
            f"{path}: field 'model': expected an object (the model config), got {type(meta.get('model')).__name__}"
        )
    return meta


def _header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    _regular(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None


def load_checkpoint(directory: str | os.PathLike, map_location: str = "cpu") -> tuple[nn.Module, dict]:
    """-> (model in eval mode, full config dict) from a directory written by :func:`save_checkpoint`."""
    d = Path(directory)
    if not (d / WEIGHTS).is_file() or not (d / CONFIG).is_file():
        raise FileNotFoundError(f"directory: expected {WEIGHTS} and {CONFIG} in {d}")
    meta = read_config(d / CONFIG)
    shapes = _header_shapes(d / WEIGHTS)
    try:
        with torch.device("meta"):  # shapes only: nothing allocated yet
            probe = build_model(meta["model"])
    except (TypeError, ValueError, RuntimeError, OverflowError) as e:
        raise CheckpointError(f"{d / CONFIG}: field 'model': does not describe a model ({e})") from None
    want = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    for k in sorted(set(want) | set(shapes)):
        if want.get(k) != shapes.get(k):
            raise CheckpointError(
                f"{d / WEIGHTS}: tensor {k!r} has shape {shapes.get(k)}, the model in {CONFIG} expects {want.get(k)}"
            )
    extra = sum(t.numel() * t.element_size() for t in probe.buffers()) - sum(
        probe.state_dict()[k].numel() * probe.state_dict()[k].element_size()
        for k in want
        if k in dict(probe.named_buffers())
    )
    if extra > MAX_EXTRA_BYTES:
        raise CheckpointError(
            f"{d / CONFIG}: field 'model': the model would allocate {extra} bytes of buffers "
            f"beyond its weights (limit {MAX_EXTRA_BYTES})"
        )
    del probe
    model = build_model(meta["model"])
    try:
        state = load_file(str(d / WEIGHTS), device=map_location)
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{d / WEIGHTS}: not a readable safetensors file ({e})") from None
    model.load_state_dict(state)
    return model.eval(), meta
