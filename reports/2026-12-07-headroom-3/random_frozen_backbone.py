"""The random-frozen backbone of a ``chord experiment --methods chord-random`` run, as a checkpoint
``chord headroom --ckpt`` reads (issue 19: the headroom on the paper's random-frozen backbone).

The dense weights are the ones the runner draws from ``--seed`` and never trains
(``Runner.random_backbone``: ``torch.manual_seed(seed)``, then ``build_model``); the item table (and
any other backbone tensor CHORD trained) comes from the run's ``chord.safetensors``.

usage: python random_frozen_backbone.py RUN/ckpt/<tag> SEED OUT_DIR
"""

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from chord.checkpoint import save_checkpoint
from chord.models import build_model

run_ckpt, seed, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
meta = json.loads((run_ckpt / "chord.json").read_text())
torch.manual_seed(seed)
model = build_model(meta["backbone"])
trained = {
    k.removeprefix("backbone."): v
    for k, v in load_file(str(run_ckpt / "chord.safetensors")).items()
    if k.startswith("backbone.")
}
unknown = sorted(set(trained) - set(model.state_dict()))
if unknown or "item_emb.weight" not in trained:
    raise SystemExit(f"{run_ckpt}: backbone tensors {unknown} unknown, or no trained item table")
model.load_state_dict(trained, strict=False)
save_checkpoint(out, model, {"random_frozen": {"source": str(run_ckpt), "seed": seed, "trained": sorted(trained)}})
print(f"{out}: dense weights from seed {seed}, trained: {sorted(trained)}")
