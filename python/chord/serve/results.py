"""Result files of the serve benchmarks (``loadgen``, ``planner_cost``): the figures plus what
explains them, the command, the commit and the machine's load when they were taken."""

from __future__ import annotations

import json
import os
import sys
import time

import torch


def write_results(path, prog: str, argv, **payload) -> None:
    """JSON ``{"meta": {...}, **payload}`` at ``path``; prog: how the tool is run (``python -m
    chord.serve.loadgen``); argv: its arguments (None: ``sys.argv[1:]``)."""
    from chord.bench.machine import commit_info, load_average

    meta = {
        "command": " ".join([prog, *(argv if argv is not None else sys.argv[1:])]),
        "commit": commit_info()["id"],
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_average": load_average(),
    }
    with open(path, "w") as f:
        json.dump({"meta": meta, **payload}, f, indent=1)
