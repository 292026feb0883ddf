"""1-epoch smoke training on a slice of a real dataset, both losses and both models;
checkpoint round trip; the train/eval CLIs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from chord.checkpoint import load_checkpoint, save_checkpoint
from chord.cli import main
from chord.data import LeaveOneOut, SequenceDataset, load_dataset
from chord.eval import Evaluator
from chord.models import Caser, SASRec
from chord.train import TrainConfig, Trainer
from tests.helpers import data_dir_or_skip


@pytest.fixture(scope="module")
def beauty_slice():
    return load_dataset("beauty", data_dir_or_skip()).head(300)


def small(kind, ds):
    if kind == "sasrec":
        return SASRec(ds.num_items, 16, 1, 2, 0.1, 20)
    return Caser(ds.num_items, 16, L=3, n_v=2, n_h=2, dropout=0.1, num_users=ds.num_users)


def fit(model, split, out=None, resume=None, **cfg):
    """``Trainer.fit`` without a progress bar or log lines; ``cfg``: TrainConfig fields."""
    return Trainer(TrainConfig(progress=False, **cfg), log=lambda s: None).fit(model, split, out, resume=resume)


def cycle_split(n_users=60, length=10, n_items=30):
    """User ``s`` walks items s+1, s+2, ... (mod ``n_items``): next item = current + 1, learnable."""
    seqs = [np.arange(s, s + length) % n_items + 1 for s in range(n_users)]
    items = np.concatenate(seqs)
    return LeaveOneOut(SequenceDataset("cycle", n_items, items, np.arange(0, items.size + 1, length)))


def train_cli(*args, users=100):
    """``chord train`` on the first ``users`` users of Beauty, 1 thread, no progress bar; asserts rc 0."""
    base = ["train", "--dataset", "beauty", "--data-dir", str(data_dir_or_skip()), "--max-users", str(users)]
    assert main([*base, "--no-progress", "--threads", "1", *args]) == 0


def load_resumable(path):
    """A checkpoint's model and its meta with the saved optimizer state, as a resume takes it."""
    from chord.train.trainer import load_optimizer_state

    model, meta = load_checkpoint(path)
    meta["optimizer"] = load_optimizer_state(path)
    assert meta["optimizer"] is not None
    return model, meta


@pytest.mark.data
@pytest.mark.parametrize("kind", ["sasrec", "caser"])
@pytest.mark.parametrize("loss", ["bce", "ce"])
def test_one_epoch_smoke_train_on_real_slice(beauty_slice, kind, loss, tmp_path):
    torch.manual_seed(0)
    model = small(kind, beauty_slice)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = fit(model, LeaveOneOut(beauty_slice), tmp_path / "ck", loss=loss, epochs=1, batch_size=64)
    assert out["epochs_run"] == 1 and out["best_epoch"] == 1
    assert np.isfinite(out["history"][0]["loss"])
    assert not torch.equal(before["item_emb.weight"], model.state_dict()["item_emb.weight"])
    assert set(out["test"]) == {"full", "sampled"} and out["test"]["full"]["users"] == 300
    assert (tmp_path / "ck" / "model.safetensors").is_file()


def test_loss_decreases_and_early_stopping_on_learnable_toy():
    """Users cycle through item blocks: next item = current + 1. The model must learn it."""
    split = cycle_split(n_users=200, length=12, n_items=40)
    torch.manual_seed(0)
    model = SASRec(40, 16, 1, 1, 0.0, 12)
    out = fit(model, split, loss="ce", epochs=30, batch_size=32, lr=5e-3, patience=2, eval_negatives=10)
    assert out["history"][-1]["loss"] < out["history"][0]["loss"] * 0.5
    assert out["test"]["full"]["HR@5"] > 0.9
    assert out["epochs_run"] < 30 and out["stop_reason"].startswith("early stop")


def test_checkpoint_round_trip(tmp_path):
    for i, model in enumerate(
        (
            SASRec(30, 8, 1, 1, 0.0, 6, norm="pre"),
            Caser(30, 8, L=2, num_users=4),
            Caser(30, 8, L=2, num_users=4, head="untied", dropout_pos="before_fc1"),
        )
    ):
        save_checkpoint(tmp_path / str(i), model, {"dataset": "x", "note": [1, 2]})
        back, meta = load_checkpoint(tmp_path / str(i))
        assert meta["dataset"] == "x" and meta["model"] == model.config
        for k, v in model.state_dict().items():
            assert torch.equal(v, back.state_dict()[k])
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_checkpoint(tmp_path / "missing")


def test_config_validation():
    with pytest.raises(ValueError, match="loss"):
        TrainConfig(loss="mse")
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)


@pytest.mark.data
def test_train_and_eval_cli(tmp_path, capsys):
    d = str(data_dir_or_skip())
    common = ["--epochs", "1", "--dim", "8"]
    train_cli("--model", "caser", *common, "--L", "3", "--loss", "bce", "--out", str(tmp_path / "ck"), users=200)
    res = json.loads((tmp_path / "ck" / "results.json").read_text())
    assert res["dataset"].startswith("beauty") and "full" in res["test"]
    train_cli("--model", "sasrec", *common, "--max-len", "10", "--out", str(tmp_path / "sas"), users=200)
    capsys.readouterr()
    rc = main(
        ["eval", str(tmp_path / "sas"), "--data-dir", d, "--modes", "sampled", "--json", str(tmp_path / "e.json")]
    )
    assert rc == 0 and "sampled" in capsys.readouterr().out
    e = json.loads((tmp_path / "e.json").read_text())
    assert e["results"]["sampled"]["users"] == 200  # evaluated on the slice it was trained on


def test_evaluator_accepts_checkpointed_model(tmp_path):
    rng = np.random.default_rng(0)
    seqs = [rng.permutation(np.arange(1, 31))[:8] for _ in range(20)]
    items = np.concatenate(seqs)
    ds = SequenceDataset("t", 30, items, np.arange(0, items.size + 1, 8))
    m = SASRec(30, 8, 1, 1, 0.0, 6)
    save_checkpoint(tmp_path, m)
    back, _ = load_checkpoint(tmp_path)
    ev = Evaluator(LeaveOneOut(ds), 6, num_negatives=5)
    assert torch.equal(ev.ranks(m, "test"), ev.ranks(back, "test"))


def test_resume_continues_from_the_best_epoch(tmp_path):
    split = cycle_split()
    torch.manual_seed(0)
    cfg = dict(loss="ce", batch_size=16, lr=5e-3, patience=100, eval_negatives=5)
    first = fit(SASRec(30, 8, 1, 1, 0.0, 10), split, tmp_path, epochs=2, **cfg)
    model, meta = load_resumable(tmp_path)
    out = fit(model, split, resume=meta, epochs=4, **cfg)
    b = first["best_epoch"]
    assert [h["epoch"] for h in out["history"]] == list(range(1, 5))[:b] + list(range(b + 1, 5))
    assert out["history"][-1]["epoch"] == 4 and out["train_seconds"] >= first["train_seconds"]


@pytest.mark.parametrize("kind", ["sasrec", "caser"])
def test_weight_decay_shrinks_the_weights(kind):
    """Same seed, same data: only --weight-decay differs, and the trained weights come out smaller."""
    split = cycle_split()
    norms = {}
    for wd in (0.0, 0.5):
        torch.manual_seed(0)
        m = SASRec(30, 8, 1, 1, 0.0, 10) if kind == "sasrec" else Caser(30, 8, L=3, num_users=60)
        cfg = dict(loss="bce", epochs=3, batch_size=16, lr=1e-2, patience=100, eval_negatives=5, threads=1)
        out = fit(m, split, weight_decay=wd, **cfg)
        assert out["train"]["weight_decay"] == wd
        norms[wd] = float(m.item_emb.weight.detach().norm())
    assert norms[0.5] < 0.8 * norms[0.0]


def test_resume_applies_the_new_lr_and_continues_the_random_streams(tmp_path, monkeypatch):
    from chord.train import trainer as trainer_mod

    split = cycle_split()
    torch.manual_seed(0)
    cfg = dict(loss="bce", batch_size=16, patience=100, eval_negatives=5, threads=1)
    fit(SASRec(30, 8, 1, 1, 0.0, 10), split, tmp_path, epochs=1, lr=5e-3, **cfg)
    seeds, lrs, betas = [], [], []
    real_seed = trainer_mod.seed_everything
    monkeypatch.setattr(trainer_mod, "seed_everything", lambda s: seeds.append(s) or real_seed(s))
    real_step = torch.optim.Adam.step

    def step(self, *a, **k):
        lrs.append(self.param_groups[0]["lr"])
        betas.append(self.param_groups[0]["betas"])
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    model, meta = load_resumable(tmp_path)
    assert meta["optimizer"]["param_groups"][0]["lr"] == 5e-3
    fit(model, split, resume=meta, epochs=3, lr=1e-4, betas=(0.9, 0.95), **cfg)
    assert lrs and set(lrs) == {1e-4}  # not the checkpoint's 5e-3
    assert set(betas) == {(0.9, 0.95)}  # not the checkpoint's (0.9, 0.98)
    assert seeds == [42 + 1]  # epoch 2's stream, not epoch 1's again


@pytest.mark.data
def test_cli_resume_keeps_the_checkpoint_lr_unless_given(tmp_path, capsys):
    a = str(tmp_path / "a")
    model = ["--model", "caser", "--dim", "8", "--L", "3", "--epochs", "1"]
    opt = ["--lr", "3e-3", "--weight-decay", "1e-5", "--adam-beta2", "0.999"]
    train_cli(*model, *opt, "--mask-seen-target", "--out", a)
    assert json.loads((tmp_path / "a" / "config.json").read_text())["train"]["mask_seen_target"]
    capsys.readouterr()
    train_cli("--epochs", "2", "--resume", a, "--out", str(tmp_path / "b"))
    assert "test (caser, " in capsys.readouterr().out  # the checkpoint's model, not --model's default
    kept = json.loads((tmp_path / "b" / "config.json").read_text())["train"]
    assert (kept["lr"], kept["weight_decay"], kept["betas"]) == (3e-3, 1e-5, [0.9, 0.999])
    train_cli("--epochs", "2", "--resume", a, "--lr", "1e-4", "--out", str(tmp_path / "c"))
    assert json.loads((tmp_path / "c" / "config.json").read_text())["train"]["lr"] == 1e-4


def test_mask_seen_target_reaches_validation_and_test(tmp_path):
    """Every user's last two items repeat history items: with the option, both stages score zero."""
    seqs = [np.array([(u + j) % 20 + 1 for j in range(6)] + [u % 20 + 1, (u + 1) % 20 + 1]) for u in range(40)]
    items = np.concatenate(seqs)
    split = LeaveOneOut(SequenceDataset("rep", 20, items, np.arange(0, items.size + 1, 8)))
    res = {}
    for flag in (False, True):
        torch.manual_seed(0)
        cfg = dict(loss="ce", epochs=1, batch_size=16, eval_negatives=5, threads=1)
        res[flag] = fit(SASRec(20, 8, 1, 1, 0.0, 8), split, mask_seen_target=flag, **cfg)
    assert res[True]["valid"]["HR@20"] == res[True]["test"]["full"]["HR@20"] == 0.0
    assert res[False]["valid"]["HR@20"] == res[False]["test"]["full"]["HR@20"] == 1.0
    assert res[True]["train"]["mask_seen_target"]


@pytest.mark.data
def test_cli_sasrec_post_ln_gelu_and_beta2(tmp_path):
    """--norm post --act gelu --init normal --no-emb-scale --ffn-dropout output --adam-beta2 reach
    the model config and the saved Adam state;
    a resume records another --adam-beta2 (that Adam then uses it: the resume test above)."""
    a = str(tmp_path / "a")
    shape = ["--model", "sasrec", "--dim", "8", "--heads", "2", "--ffn-hidden", "32", "--max-len", "10"]
    variant = ["--norm", "post", "--act", "gelu", "--init", "normal", "--no-emb-scale", "--ffn-dropout", "output"]
    train_cli("--epochs", "1", *shape, *variant, "--adam-beta2", "0.999", "--out", a)
    model, meta = load_resumable(a)
    assert (model.config["norm"], model.config["act"], model.config["ffn_hidden"]) == ("post", "gelu", 32)
    assert (model.init, model.emb_scale, model.blocks[0].ffn.dropout_at) == ("normal", False, "output")
    assert tuple(meta["optimizer"]["param_groups"][0]["betas"]) == (0.9, 0.999)
    train_cli("--epochs", "2", "--resume", a, "--adam-beta2", "0.98", "--out", str(tmp_path / "b"))
    assert json.loads((tmp_path / "b" / "config.json").read_text())["train"]["betas"] == [0.9, 0.98]


@pytest.mark.data
@pytest.mark.parametrize("loss", ["bce", "ce"])
def test_cli_caser_untied_head_and_dropout_position(tmp_path, loss):
    """--caser-head untied --dropout-pos before_fc1 --T 3 reach the model config, train with both
    losses (targets scored against the output table + item bias) and survive a resume."""
    a = str(tmp_path / "a")
    objective = ["--loss", loss, "--num-negatives", "3"]
    shape = ["--model", "caser", "--dim", "8", "--L", "3", "--T", "3"]
    train_cli(*objective, *shape, "--epochs", "1", "--caser-head", "untied", "--dropout-pos", "before_fc1", "--out", a)
    model, meta = load_checkpoint(a)
    assert (model.head, model.dropout_pos, model.T, model.repr_dim) == ("untied", "before_fc1", 3, 16)
    assert not torch.equal(model.out_bias.weight, torch.zeros_like(model.out_bias.weight))  # trained
    train_cli(*objective, "--resume", a, "--epochs", "2", "--out", str(tmp_path / "b"))
    back, meta = load_checkpoint(tmp_path / "b")
    assert back.config == model.config and meta["epochs_run"] == 2
