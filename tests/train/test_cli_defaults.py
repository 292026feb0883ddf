"""`chord train`'s model options default to the models' own constructor defaults."""

import argparse

import pytest

from chord.models.caser import Caser
from chord.models.sasrec import SASRec
from chord.train import cli


def parsed_defaults() -> dict:
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    return vars(p.parse_args([]))


@pytest.mark.parametrize(
    ("cls", "names"),
    [
        (SASRec, cli.SASREC_OPTIONS),
        # --dropout serves both models with SASRec's default (its help says so); Caser's own is RecBole's
        (Caser, tuple(n for n in cli.CASER_OPTIONS if n != "dropout")),
    ],
)
def test_model_options_default_to_the_constructor(cls, names):
    args, own = parsed_defaults(), cli.constructor_defaults(cls)
    assert {n: args[n] for n in names} == {n: own[n] for n in names}


def test_constructor_defaults_reads_keywords_only_with_defaults():
    class M:
        def __init__(self, a, b: int = 3, *, c="x"):
            pass

    assert cli.constructor_defaults(M) == {"b": 3, "c": "x"}


def test_caser_head_and_dropout_position_default_to_the_constructor():
    args, own = parsed_defaults(), cli.constructor_defaults(Caser)
    assert (args["caser_head"], args["dropout_pos"]) == (own["head"], own["dropout_pos"])
