"""Command-line options that mean the same in every ``chord`` subcommand that takes them, each
defined once: the dataset and where it lives, torch threads, the full-ranking mask of repeated
targets and the bootstrap resamples; and :func:`config_from_args`, which fills a config
dataclass from the options named after its fields. A subcommand whose flag means something else
(``chord bench --threads``: the thread counts to time) defines its own.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, TypeVar

from .data.registry import KNOWN

Parser = argparse.ArgumentParser | argparse._ArgumentGroup
C = TypeVar("C")


def add_data_dir_argument(p: Parser) -> None:
    """``--data-dir`` (dest ``data_dir``, for ``chord.data.load_dataset``), its default described
    as ``chord.data.registry.default_data_dir`` computes it."""
    p.add_argument(
        "--data-dir",
        default=None,
        help="root holding <name>/ (default: $CHORD_DATA_DIR, else ../shared/data or ./shared/data when present)",
    )


def add_dataset_arguments(p: Parser, default: str | None, default_help: str | None = None) -> None:
    """``--dataset`` (a name known to ``chord.data`` or a path; ``default_help`` says what the
    default means when it is not a name) and ``--data-dir``."""
    p.add_argument(
        "--dataset",
        default=default,
        help=f"{', '.join(KNOWN)} or a path (default: {default_help or default})",
    )
    add_data_dir_argument(p)


def add_threads_argument(p: Parser, default: int = 2, why: str | None = None) -> None:
    """``--threads``: torch threads for training and evaluation (``chord.cpu_env.configure_cpu``),
    or per worker of ``chord serve``; ``why``: what the help says about the default instead."""
    p.add_argument(
        "--threads",
        type=int,
        default=default,
        help=f"torch threads ({why or 'part of what fixes the numbers: float sums depend on how work is split'})",
    )


def add_mask_seen_target_argument(p: Parser, where: str) -> None:
    """``--mask-seen-target`` (the evaluator's ``mask_seen_target``); ``where``: the rankings it
    applies to in this command."""
    p.add_argument(
        "--mask-seen-target",
        action="store_true",
        help=f"full ranking ({where}): a target that repeats a history item is masked too, so it counts as "
        "a miss (S3-Rec's full sort; Yelp repeats items)",
    )


def add_bootstrap_argument(p: Parser) -> None:
    """``--bootstrap``: resamples of ``chord.experiments.significance``'s paired bootstrap."""
    p.add_argument(
        "--bootstrap", type=int, default=1000, help="paired-bootstrap resamples over test users (the intervals)"
    )


def config_from_args(cls: type[C], args: argparse.Namespace, prefix: str = "", **given: Any) -> C:
    """``cls`` (a dataclass) from every option of ``args`` named ``<prefix><field>`` after one of
    its fields (``--chord-lr`` sets ``lr`` with ``prefix="chord_"``; lists, from ``nargs``, as
    tuples), then ``given`` (fields computed from other options) over them."""
    opts = vars(args)
    taken = {}
    for f in dataclasses.fields(cls):
        if prefix + f.name in opts:
            v = opts[prefix + f.name]
            taken[f.name] = tuple(v) if isinstance(v, list) else v
    return cls(**{**taken, **given})
