"""``chord export``: the model file of the Python-free runtime (``csrc/capi/chord.h``).

A model file is a safetensors file: the float32 tensors a fused runner reads (every layer's
weight and bias, layer norms, the item / position / user tables; conv filters as their
``[out, in * kh * kw]`` im2col matrix), named by the model's state-dict names, plus one JSON
document in ``__metadata__["chord"]``::

    {"format": "chord.model", "version": 1, "arch": "sasrec" | "caser",
     "fingerprint": "<16 hex digits: chord.model_fingerprint(model)>",
     "layers": [{"name", "kind", "channels", "elems"}, ...],   # what a strategy codes
     "spec": {...}}                                            # chord.runtime.model_spec, arrays -> tensor names

``layers`` are the quantizable layers of ``chord.DeviceModel(model, embeddings=...)`` in the same
order (their frozen weight is the tensor ``<name>.weight``); the device packs them from the
strategy bytes it receives. docs/mobile.md documents the format.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from torch import nn

from .quantize.api import QUANTIZED_TYPES
from .quantize.layers import quantizable_layers
from .quantize.strategy import Strategy, model_fingerprint

FORMAT = "chord.model"
VERSION = 1

# spec entry -> module path, for the entries whose key differs from the module's name
_SASREC_PATHS = {
    "q_proj": "attn.q_proj",
    "k_proj": "attn.k_proj",
    "v_proj": "attn.v_proj",
    "out_proj": "attn.out_proj",
    "fc1": "ffn.fc1",
    "fc2": "ffn.fc2",
    "attn_norm": "attn_norm",
    "ffn_norm": "ffn_norm",
}


def _entry(d: dict, path: str, tensors: dict) -> dict:
    """A spec entry with its arrays moved into ``tensors`` as ``<path>.<field>``."""
    out = {}
    for key, v in d.items():
        if isinstance(v, np.ndarray):
            name = f"{path}.{key}"
            tensors[name] = np.ascontiguousarray(v, dtype=np.float32)
            out[key] = name
        else:
            out[key] = v
    return out


def model_header(model: nn.Module, *, embeddings: bool = False) -> tuple[dict, dict]:
    """(header JSON, tensors) of the model file of a float ``SASRec`` / ``Caser``."""
    from . import runtime
    from .models import Caser, SASRec

    if isinstance(model, SASRec):
        arch = "sasrec"
    elif isinstance(model, Caser):
        arch = "caser"
    else:
        raise TypeError(f"model: expected a chord.models.SASRec or Caser, got {type(model).__name__}")
    for name, mod in model.named_modules():
        if isinstance(mod, QUANTIZED_TYPES):
            raise ValueError(
                f"model: {name!r} is already quantized; export the float backbone "
                "(the device packs it from the strategies it receives)"
            )
    model.eval()
    spec = runtime.model_spec(model)
    tensors: dict[str, np.ndarray] = {}
    out = {"config": dict(spec["config"])}
    if arch == "sasrec":
        for key in ("item_emb", "pos_emb", "final_norm"):
            out[key] = _entry(spec[key], key, tensors)
        out["blocks"] = [
            {k: _entry(v, f"blocks.{i}.{_SASREC_PATHS[k]}", tensors) for k, v in b.items()}
            for i, b in enumerate(spec["blocks"])
        ]
    else:
        for key in ("item_emb", "user_emb", "conv_v", "fc1", "fc2"):
            if key in spec:
                out[key] = _entry(spec[key], key, tensors)
        out["conv_h"] = [_entry(h, f"conv_h.{i}", tensors) for i, h in enumerate(spec["conv_h"])]
    layers = quantizable_layers(model, embeddings=embeddings)
    for name, li in layers.items():
        w = tensors.get(f"{name}.weight")
        if w is None or tuple(w.shape) != (li.channels, li.elems):
            raise ValueError(f"model: quantizable layer {name!r} is not a weight the fused runtime reads")
    header = {
        "format": FORMAT,
        "version": VERSION,
        "arch": arch,
        "fingerprint": model_fingerprint(model).hex(),
        "layers": [
            {"name": n, "kind": li.kind, "channels": li.channels, "elems": li.elems} for n, li in layers.items()
        ],
        "spec": out,
    }
    return header, tensors


def export_model(model: nn.Module, path: str | os.PathLike, *, embeddings: bool = False) -> dict:
    """Write the model file of a float ``model`` to ``path``; returns its header.
    ``embeddings``: the strategies quantize the tables too (``DeviceModel(embeddings=True)``)."""
    from safetensors.numpy import save_file

    header, tensors = model_header(model, embeddings=embeddings)
    save_file(tensors, str(path), metadata={"chord": json.dumps(header)})
    return header


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="directory written by `chord train --out` (model.safetensors + config.json)")
    p.add_argument("-o", "--out", required=True, help="model file to write (e.g. model.chord)")
    p.add_argument(
        "--embeddings",
        action="store_true",
        help="strategies also code the item (and user) tables (DeviceModel(embeddings=True))",
    )
    p.add_argument(
        "--demo-strategy",
        default=None,
        metavar="PATH",
        help="also write random strategy bytes for this model (to try the runtime without the cloud)",
    )
    p.add_argument("--avg-bits", type=float, default=3.0, help="average bits of --demo-strategy")
    p.add_argument("--seed", type=int, default=0, help="seed of --demo-strategy")


def run(args: argparse.Namespace) -> int:
    from .checkpoint import load_checkpoint

    model, _ = load_checkpoint(args.checkpoint)
    header = export_model(model, args.out, embeddings=args.embeddings)
    size = Path(args.out).stat().st_size
    print(
        f"wrote {args.out}: {header['arch']}, {len(header['layers'])} quantizable layers, {size} bytes, "
        f"fingerprint {header['fingerprint']}"
    )
    if args.demo_strategy:
        layers = quantizable_layers(model, embeddings=args.embeddings)
        s = Strategy.random(layers, args.avg_bits, seed=args.seed)
        Path(args.demo_strategy).write_bytes(s.to_bytes(model_fingerprint(model)))
        print(f"wrote {args.demo_strategy}: {s!r}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    import sys

    p = argparse.ArgumentParser(prog="chord export")
    add_arguments(p)
    sys.exit(run(p.parse_args()))
