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


@pytest.mark.data
@pytest.mark.parametrize("kind", ["sasrec", "caser"])
@pytest.mark.parametrize("loss", ["bce", "ce"])
def test_one_epoch_smoke_train_on_real_slice(beauty_slice, kind, loss, tmp_path):
    torch.manual_seed(0)
    model = small(kind, beauty_slice)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = TrainConfig(loss=loss, epochs=1, batch_size=64, progress=False)
    out = Trainer(cfg, log=lambda s: None).fit(model, LeaveOneOut(beauty_slice), tmp_path / "ck")
    assert out["epochs_run"] == 1 and out["best_epoch"] == 1
    assert np.isfinite(out["history"][0]["loss"])
    assert not torch.equal(before["item_emb.weight"], model.state_dict()["item_emb.weight"])
    assert set(out["test"]) == {"full", "sampled"} and out["test"]["full"]["users"] == 300
    assert (tmp_path / "ck" / "model.safetensors").is_file()


def test_loss_decreases_and_early_stopping_on_learnable_toy():
    """Users cycle through item blocks: next item = current + 1. The model must learn it."""
    seqs = [np.arange(s, s + 12) % 40 + 1 for s in range(0, 200)]
    items = np.concatenate(seqs)
    ds = SequenceDataset("cycle", 40, items, np.arange(0, items.size + 1, 12))
    torch.manual_seed(0)
    model = SASRec(40, 16, 1, 1, 0.0, 12)
    cfg = TrainConfig(loss="ce", epochs=30, batch_size=32, lr=5e-3, patience=2, progress=False, eval_negatives=10)
    out = Trainer(cfg, log=lambda s: None).fit(model, LeaveOneOut(ds))
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
    rc = main(
        [
            "train",
            "--model",
            "caser",
            "--dataset",
            "beauty",
            "--data-dir",
            d,
            "--max-users",
            "200",
            "--epochs",
            "1",
            "--dim",
            "8",
            "--L",
            "3",
            "--loss",
            "bce",
            "--out",
            str(tmp_path / "ck"),
            "--no-progress",
        ]
    )
    assert rc == 0
    res = json.loads((tmp_path / "ck" / "results.json").read_text())
    assert res["dataset"].startswith("beauty") and "full" in res["test"]
    rc = main(
        [
            "train",
            "--model",
            "sasrec",
            "--dataset",
            "beauty",
            "--data-dir",
            d,
            "--max-users",
            "200",
            "--epochs",
            "1",
            "--dim",
            "8",
            "--max-len",
            "10",
            "--out",
            str(tmp_path / "sas"),
            "--no-progress",
        ]
    )
    assert rc == 0
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
    from chord.train.trainer import load_optimizer_state

    seqs = [np.arange(s, s + 10) % 30 + 1 for s in range(60)]
    items = np.concatenate(seqs)
    ds = SequenceDataset("cycle", 30, items, np.arange(0, items.size + 1, 10))
    split = LeaveOneOut(ds)
    torch.manual_seed(0)
    m = SASRec(30, 8, 1, 1, 0.0, 10)
    cfg = dict(loss="ce", batch_size=16, lr=5e-3, patience=100, progress=False, eval_negatives=5)
    first = Trainer(TrainConfig(epochs=2, **cfg), log=lambda s: None).fit(m, split, tmp_path)
    model, meta = load_checkpoint(tmp_path)
    meta["optimizer"] = load_optimizer_state(tmp_path)
    assert meta["optimizer"] is not None
    out = Trainer(TrainConfig(epochs=4, **cfg), log=lambda s: None).fit(model, split, None, resume=meta)
    b = first["best_epoch"]
    assert [h["epoch"] for h in out["history"]] == list(range(1, 5))[:b] + list(range(b + 1, 5))
    assert out["history"][-1]["epoch"] == 4 and out["train_seconds"] >= first["train_seconds"]


def _cycle_split(n_users=60, length=10, n_items=30):
    seqs = [np.arange(s, s + length) % n_items + 1 for s in range(n_users)]
    items = np.concatenate(seqs)
    return LeaveOneOut(SequenceDataset("cycle", n_items, items, np.arange(0, items.size + 1, length)))


@pytest.mark.parametrize("kind", ["sasrec", "caser"])
def test_weight_decay_shrinks_the_weights(kind):
    """Same seed, same data: only --weight-decay differs, and the trained weights come out smaller."""
    split = _cycle_split()
    norms = {}
    for wd in (0.0, 0.5):
        torch.manual_seed(0)
        m = SASRec(30, 8, 1, 1, 0.0, 10) if kind == "sasrec" else Caser(30, 8, L=3, num_users=60)
        cfg = TrainConfig(
            loss="bce",
            epochs=3,
            batch_size=16,
            lr=1e-2,
            weight_decay=wd,
            patience=100,
            progress=False,
            eval_negatives=5,
            threads=1,
        )
        out = Trainer(cfg, log=lambda s: None).fit(m, split)
        assert out["train"]["weight_decay"] == wd
        norms[wd] = float(m.item_emb.weight.detach().norm())
    assert norms[0.5] < 0.8 * norms[0.0]


def test_resume_applies_the_new_lr_and_continues_the_random_streams(tmp_path, monkeypatch):
    from chord.train import trainer as trainer_mod
    from chord.train.trainer import load_optimizer_state

    split = _cycle_split()
    torch.manual_seed(0)
    cfg = dict(loss="bce", batch_size=16, patience=100, progress=False, eval_negatives=5, threads=1)
    Trainer(TrainConfig(epochs=1, lr=5e-3, **cfg), log=lambda s: None).fit(
        SASRec(30, 8, 1, 1, 0.0, 10), split, tmp_path
    )
    seeds, lrs, betas = [], [], []
    real_seed = trainer_mod.seed_everything
    monkeypatch.setattr(trainer_mod, "seed_everything", lambda s: seeds.append(s) or real_seed(s))
    real_step = torch.optim.Adam.step

    def step(self, *a, **k):
        lrs.append(self.param_groups[0]["lr"])
        betas.append(self.param_groups[0]["betas"])
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    model, meta = load_checkpoint(tmp_path)
    meta["optimizer"] = load_optimizer_state(tmp_path)
    assert meta["optimizer"]["param_groups"][0]["lr"] == 5e-3
    Trainer(TrainConfig(epochs=3, lr=1e-4, betas=(0.9, 0.95), **cfg), log=lambda s: None).fit(
        model, split, None, resume=meta
    )
    assert lrs and set(lrs) == {1e-4}  # not the checkpoint's 5e-3
    assert set(betas) == {(0.9, 0.95)}  # not the checkpoint's (0.9, 0.98)
    assert seeds == [42 + 1]  # epoch 2's stream, not epoch 1's again


@pytest.mark.data
def test_cli_resume_keeps_the_checkpoint_lr_unless_given(tmp_path, capsys):
    d = str(data_dir_or_skip())
    base = ["train", "--dataset", "beauty", "--data-dir", d, "--max-users", "100", "--no-progress", "--threads", "1"]
    assert (
        main(
            base
            + [
                "--model",
                "caser",
                "--dim",
                "8",
                "--L",
                "3",
                "--epochs",
                "1",
                "--lr",
                "3e-3",
                "--weight-decay",
                "1e-5",
                "--adam-beta2",
                "0.999",
                "--mask-seen-target",
                "--out",
                str(tmp_path / "a"),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "a" / "config.json").read_text())["train"]["mask_seen_target"]
    capsys.readouterr()
    assert main(base + ["--epochs", "2", "--resume", str(tmp_path / "a"), "--out", str(tmp_path / "b")]) == 0
    assert "test (caser, " in capsys.readouterr().out  # the checkpoint's model, not --model's default
    kept = json.loads((tmp_path / "b" / "config.json").read_text())["train"]
    assert (kept["lr"], kept["weight_decay"], kept["betas"]) == (3e-3, 1e-5, [0.9, 0.999])
    assert (
        main(base + ["--epochs", "2", "--resume", str(tmp_path / "a"), "--lr", "1e-4", "--out", str(tmp_path / "c")])
        == 0
    )
    assert json.loads((tmp_path / "c" / "config.json").read_text())["train"]["lr"] == 1e-4


def test_mask_seen_target_reaches_validation_and_test(tmp_path):
    """Every user's last two items repeat history items: with the option, both stages score zero."""
    seqs = [np.array([(u + j) % 20 + 1 for j in range(6)] + [u % 20 + 1, (u + 1) % 20 + 1]) for u in range(40)]
    items = np.concatenate(seqs)
    split = LeaveOneOut(SequenceDataset("rep", 20, items, np.arange(0, items.size + 1, 8)))
    res = {}
    for flag in (False, True):
        torch.manual_seed(0)
        cfg = TrainConfig(
            loss="ce", epochs=1, batch_size=16, progress=False, eval_negatives=5, threads=1, mask_seen_target=flag
        )
        res[flag] = Trainer(cfg, log=lambda s: None).fit(SASRec(20, 8, 1, 1, 0.0, 8), split)
    assert res[True]["valid"]["HR@20"] == res[True]["test"]["full"]["HR@20"] == 0.0
    assert res[False]["valid"]["HR@20"] == res[False]["test"]["full"]["HR@20"] == 1.0
    assert res[True]["train"]["mask_seen_target"]


@pytest.mark.data
def test_cli_sasrec_post_ln_gelu_and_beta2(tmp_path):
    """--norm post --act gelu --init normal --no-emb-scale --ffn-dropout output --adam-beta2 reach
    the model config and the saved Adam state;
    a resume records another --adam-beta2 (that Adam then uses it: the resume test above)."""
    from chord.train.trainer import load_optimizer_state

    base = [
        "train",
        "--dataset",
        "beauty",
        "--data-dir",
        str(data_dir_or_skip()),
        "--max-users",
        "100",
        "--no-progress",
        "--threads",
        "1",
        "--epochs",
        "1",
    ]
    assert (
        main(
            base
            + [
                "--model",
                "sasrec",
                "--dim",
                "8",
                "--heads",
                "2",
                "--ffn-hidden",
                "32",
                "--max-len",
                "10",
                "--norm",
                "post",
                "--act",
                "gelu",
                "--adam-beta2",
                "0.999",
                "--init",
                "normal",
                "--no-emb-scale",
                "--ffn-dropout",
                "output",
                "--out",
                str(tmp_path / "a"),
            ]
        )
        == 0
    )
    model, meta = load_checkpoint(tmp_path / "a")
    assert (model.config["norm"], model.config["act"], model.config["ffn_hidden"]) == ("post", "gelu", 32)
    assert (model.init, model.emb_scale, model.blocks[0].ffn.dropout_at) == ("normal", False, "output")
    assert tuple(load_optimizer_state(tmp_path / "a")["param_groups"][0]["betas"]) == (0.9, 0.999)
    assert (
        main(
            base
            + ["--resume", str(tmp_path / "a"), "--epochs", "2", "--adam-beta2", "0.98", "--out", str(tmp_path / "b")]
        )
        == 0
    )
    assert json.loads((tmp_path / "b" / "config.json").read_text())["train"]["betas"] == [0.9, 0.98]


@pytest.mark.data
@pytest.mark.parametrize("loss", ["bce", "ce"])
def test_cli_caser_untied_head_and_dropout_position(tmp_path, loss):
    """--caser-head untied --dropout-pos before_fc1 --T 3 reach the model config, train with both
    losses (targets scored against the output table + item bias) and survive a resume."""
    base = [
        "train",
        "--dataset",
        "beauty",
        "--data-dir",
        str(data_dir_or_skip()),
        "--max-users",
        "100",
        "--no-progress",
        "--threads",
        "1",
        "--loss",
        loss,
        "--num-negatives",
        "3",
    ]
    assert (
        main(
            base
            + [
                "--model",
                "caser",
                "--dim",
                "8",
                "--L",
                "3",
                "--T",
                "3",
                "--epochs",
                "1",
                "--caser-head",
                "untied",
                "--dropout-pos",
                "before_fc1",
                "--out",
                str(tmp_path / "a"),
            ]
        )
        == 0
    )
    model, meta = load_checkpoint(tmp_path / "a")
    assert (model.head, model.dropout_pos, model.T, model.repr_dim) == ("untied", "before_fc1", 3, 16)
    assert not torch.equal(model.out_bias.weight, torch.zeros_like(model.out_bias.weight))  # trained
    assert main(base + ["--resume", str(tmp_path / "a"), "--epochs", "2", "--out", str(tmp_path / "b")]) == 0
    back, meta = load_checkpoint(tmp_path / "b")
    assert back.config == model.config and meta["epochs_run"] == 2
