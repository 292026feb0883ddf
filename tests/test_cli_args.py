"""The options shared by the chord subcommands (one definition each) and config_from_args."""

from __future__ import annotations

import argparse
import dataclasses
import importlib

import pytest

from chord import cli_args
from chord.cli import COMMANDS

#: subcommand -> the shared options it takes
SHARED = {
    "train": ("--data-dir", "--threads", "--mask-seen-target"),
    "eval": ("--data-dir", "--threads", "--mask-seen-target"),
    "demo": ("--data-dir", "--threads", "--bootstrap"),
    "experiment": ("--data-dir", "--threads", "--mask-seen-target", "--bootstrap"),
    "headroom": ("--data-dir", "--threads", "--mask-seen-target", "--bootstrap"),
}
HELPERS = {
    "--data-dir": cli_args.add_data_dir_argument,
    "--threads": cli_args.add_threads_argument,
    "--mask-seen-target": lambda p: cli_args.add_mask_seen_target_argument(p, "WHERE"),
    "--bootstrap": cli_args.add_bootstrap_argument,
}


def _action(add_arguments, flag: str) -> argparse.Action:
    p = argparse.ArgumentParser()
    add_arguments(p)
    (action,) = [a for a in p._actions if flag in a.option_strings]
    return action


def _meaning(a: argparse.Action) -> tuple:
    """What makes two definitions of one option the same (not its default or where it applies)."""
    return a.dest, a.type, a.nargs, a.const, type(a).__name__, a.help.split("(")[0]


@pytest.mark.parametrize("command", sorted(SHARED))
def test_every_subcommand_takes_the_one_definition_of_each_shared_option(command):
    module = importlib.import_module(COMMANDS[command].module)
    for flag in SHARED[command]:
        assert _meaning(_action(module.add_arguments, flag)) == _meaning(_action(HELPERS[flag], flag)), flag
    data_dir = _action(module.add_arguments, "--data-dir")
    assert data_dir.default is None and "$CHORD_DATA_DIR" in data_dir.help  # names the real default


@dataclasses.dataclass
class _Config:
    epochs: int = 1
    sweep: tuple = (1.0,)
    lr: float = 0.1
    progress: bool = True


def test_config_from_args_takes_options_named_after_fields():
    args = argparse.Namespace(epochs=7, sweep=[2.0, 3.0], lr=None, out="x", no_progress=True)
    cfg = cli_args.config_from_args(_Config, args, lr=0.5, progress=not args.no_progress)
    assert cfg == _Config(epochs=7, sweep=(2.0, 3.0), lr=0.5, progress=False)  # nargs lists -> tuples


def test_config_from_args_prefix_reads_only_prefixed_options():
    args = argparse.Namespace(epochs=7, chord_epochs=3, chord_lr=0.01)
    assert cli_args.config_from_args(_Config, args, prefix="chord_") == _Config(epochs=3, lr=0.01)


def test_train_cli_builds_the_config_and_model_its_options_name():
    from chord.train import TrainConfig, cli

    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    argv = ["--epochs", "5", "--batch-size", "32", "--mask-seen-target", "--all-positions", "--threads", "1"]
    args = p.parse_args(argv + ["--dim", "16", "--heads", "2", "--no-emb-scale"])
    cfg = cli_args.config_from_args(TrainConfig, args, progress=False)
    assert (cfg.epochs, cfg.batch_size, cfg.mask_seen_target, cfg.all_positions, cfg.threads) == (5, 32, True, True, 1)

    class _Data:
        num_items, num_users = 30, 9

    sasrec = cli.build_from_args(args, _Data)
    assert sasrec.config["dim"] == 16 and sasrec.config["heads"] == 2 and not sasrec.emb_scale
    caser = cli.build_from_args(p.parse_args(["--model", "caser", "--L", "3", "--caser-head", "untied"]), _Data)
    assert (caser.config["L"], caser.config["head"], caser.num_users) == (3, "untied", 9)
