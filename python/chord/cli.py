"""The ``chord`` command line. Each subcommand lives in its own module, imported only when
run (so ``chord --help`` stays fast): the module exposes ``add_arguments(parser)`` and
``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NamedTuple


class Command(NamedTuple):
    """A subcommand: the module that implements it, and its one-line help."""

    module: str
    help: str


COMMANDS = {
    "bench": Command("chord.bench.cli", "benchmark kernels/models; gate performance regressions"),
    "train": Command("chord.train.cli", "train an fp32 SASRec/Caser backbone"),
    "eval": Command("chord.eval.cli", "evaluate a checkpoint (full ranking and 1+99 sampled)"),
    "demo": Command("chord.demo", "end-to-end CHORD demo on the built-in ML-100K default"),
    "experiment": Command("chord.experiments.cli", "run the paper-style experiment grid"),
    "headroom": Command(
        "chord.experiments.headroom_run", "oracle per-user vs population strategy: the personalization headroom"
    ),
    "serve": Command("chord.serve.cli", "the cloud strategy service over HTTP (needs the serve extra)"),
    "export": Command("chord.export", "write the model file of the Python-free runtime (csrc/capi/chord.h)"),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="chord", description="chord: CHORD mixed-precision kernels, models and tools")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    argv = list(sys.argv[1:] if argv is None else argv)
    for name, command in COMMANDS.items():
        sub.add_parser(name, help=command.help, add_help=False)
    # build only the chosen subcommand's parser (imports its module)
    if argv and argv[0] in COMMANDS:
        name = argv[0]
        module = importlib.import_module(COMMANDS[name].module)
        p = argparse.ArgumentParser(prog=f"chord {name}", description=COMMANDS[name].help)
        module.add_arguments(p)
        args = p.parse_args(argv[1:])
        return int(module.run(args) or 0)
    parser.parse_args(argv)
    parser.print_help()
    return 0 if not argv else 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
