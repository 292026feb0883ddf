"""tools/mp_linear_percall.py, through the two report probes that run it: one JSON line per case,
with the fields each report's tables were read from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chord.backends import cpu as cpu_backend

ROOT = Path(__file__).resolve().parents[2]
FIELDS = ["tree", "shape", "mix", "act_bits", "hot_min", "hot_med", "rot_min", "rot_med", "cpp_min", "cpp_med"]


@pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")
@pytest.mark.parametrize(
    "report, extra", [("2026-12-06-exact-small-shapes", []), ("2026-12-06-avx2-pinned", ["t", "isa"])]
)
def test_report_probe_prints_one_line_per_case(report, extra):
    env = dict(os.environ, TREE="x", REPS="3", SHAPES="1x64x32,2x64x16", MIXES="u8", PATHS="0,8")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "python"), str(ROOT), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "percall.py"],
        cwd=ROOT / "reports" / report,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(s) for s in out.stdout.splitlines()]
    assert [(d["shape"], d["act_bits"]) for d in lines] == [
        ("1x64x32", 0),
        ("1x64x32", 8),
        ("2x64x16", 0),
        ("2x64x16", 8),
    ]
    assert all(list(d) == FIELDS + extra for d in lines)
    assert all(0 < d["cpp_min"] <= d["cpp_med"] and 0 < d["hot_min"] <= d["hot_med"] for d in lines)
