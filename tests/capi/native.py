"""Helpers of the native (Python-free) tests: tools/arm/ci.sh and the CI-or-skip rule."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CI_SH = ROOT / "tools" / "arm" / "ci.sh"
IN_CI = os.environ.get("CI") == "true"


def missing(why: str):
    """Outside CI a missing toolchain skips with the reason; under CI=true it is a failure."""
    if IN_CI:
        pytest.fail(f"CI=true: {why}")
    pytest.skip(why)


def ci(*args, env=None, timeout=900):
    return subprocess.run(
        ["bash", str(CI_SH), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
