"""Helpers of the native (Python-free) tests: running tools/arm/ci.sh."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CI_SH = ROOT / "tools" / "arm" / "ci.sh"


def ci(*args, env=None, timeout=900):
    return subprocess.run(
        ["bash", str(CI_SH), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
