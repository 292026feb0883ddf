"""CHORD training: only the profiler/planner/item table move, the bit budget holds, checkpoints
round-trip."""

import dataclasses
import inspect

import torch

from chord.models import SASRec
from chord.system import ChordConfig, ChordSystem, ChordTrainer, build_system, load_chord_state
from chord.system.chord_trainer import RELAX_FIELDS, SYSTEM_FIELDS
from chord.system.cloud.planner import CloudPlanner
from tests.helpers import tiny_split


def _cfg(**kw):
    base = dict(epochs=2, batch_size=16, d_user=8, hidden=16, history=8, progress=False, patience=5, threads=1)
    base.update(kw)
    return ChordConfig(**base)


def test_training_moves_only_trainable_parts_and_checkpoints(tmp_path):
    split = tiny_split()
    torch.manual_seed(0)
    bb = SASRec(split.num_items, dim=16, max_len=8)
    frozen = {k: v.clone() for k, v in bb.state_dict().items() if k != "item_emb.weight"}
    emb0 = bb.item_emb.weight.detach().clone()
    system = build_system(bb, _cfg())
    before = {k: v.clone() for k, v in system.planner.state_dict().items()}
    summary = ChordTrainer(_cfg(), log=lambda *_: None).fit(system, split, out_dir=tmp_path)
    assert summary["epochs_run"] == 2 and summary["valid"] is not None
    assert all(h["loss"] == h["loss"] for h in summary["history"])  # finite
    for k, v in bb.state_dict().items():
        if k != "item_emb.weight":
            assert torch.equal(v, frozen[k]), f"frozen backbone weight {k} changed"
    assert not torch.equal(bb.item_emb.weight, emb0)
    assert any(not torch.equal(v, before[k]) for k, v in system.planner.state_dict().items())
    assert (tmp_path / "chord.safetensors").exists() and (tmp_path / "chord.json").exists()
    # reload into a fresh system built from the same seed: identical plans and outputs
    torch.manual_seed(0)
    bb2 = SASRec(split.num_items, dim=16, max_len=8)
    system2 = build_system(bb2, _cfg())
    load_chord_state(system2, tmp_path)
    seqs = split.history("test", 8)
    system.eval(), system2.eval()
    assert torch.equal(system.plan(seqs), system2.plan(seqs))
    torch.testing.assert_close(system(seqs), system2(seqs))


def test_penalty_mode_and_binary_masks_train():
    split = tiny_split(users=12)
    torch.manual_seed(0)
    system = build_system(SASRec(split.num_items, dim=16, max_len=8), _cfg(mode="penalty", epochs=1))
    s = ChordTrainer(_cfg(mode="penalty", epochs=1), log=lambda *_: None).fit(system, split)
    assert s["history"][0]["expected_bits"] > 0
    torch.manual_seed(0)
    diet = build_system(SASRec(split.num_items, dim=16, max_len=8), _cfg(codes=(0, 3), epochs=1))
    ChordTrainer(_cfg(codes=(0, 3), epochs=1), log=lambda *_: None).fit(diet, split)
    codes = diet.eval().plan(split.history("test", 8))
    assert set(codes.unique().tolist()) <= {0, 3}


def test_config_field_groups_name_config_fields_and_the_keywords_they_fill():
    """SYSTEM_FIELDS go to ChordSystem, RELAX_FIELDS to CloudPlanner.relax, each under its own name."""
    fields = {f.name for f in dataclasses.fields(ChordConfig)}
    system_kw = set(inspect.signature(ChordSystem).parameters)
    relax_kw = set(inspect.signature(CloudPlanner.relax).parameters)
    assert set(SYSTEM_FIELDS) <= fields & system_kw, set(SYSTEM_FIELDS) - (fields & system_kw)
    assert set(RELAX_FIELDS) <= fields & relax_kw, set(RELAX_FIELDS) - (fields & relax_kw)
    cfg = _cfg(d_user=12, extractor="mean", recent=7)
    system = build_system(SASRec(tiny_split().num_items, dim=16, max_len=8), cfg)
    assert (system.profiler.d_user, system.profiler.extractor, system.profiler.recent) == (12, "mean", 7)
