"""csrc/common/parallel.cpp, the one thread pool, on its own: tests/common/cpp/pool_check.cpp
(every task once on an unshared slot at 0-4 threads and in each hand-out order, also while a
worker or the caller sleeps holding a task; exceptions; nested calls; and the straggler pause:
after a job where the caller waited for a worker's task longer than the worker's tasks saved it,
the next job runs on the caller alone and later jobs on the workers, while a job where the caller
itself was slow pauses nothing; the idle policy: the adaptive spin window, the cap, sleeping after
the cap with no CPU used, and, in a fresh process, jobs ~300 us apart caught without a wake-up)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.helpers import missing

ROOT = Path(__file__).resolve().parents[2]
CXX = os.environ.get("CXX", "c++")


def test_pool_check(tmp_path):
    if shutil.which(CXX) is None:
        missing(f"needs a C++ compiler ({CXX})")
    exe = tmp_path / "pool_check"
    subprocess.run(
        [
            CXX,
            "-O1",
            "-std=c++17",
            f"-I{ROOT / 'csrc'}",
            str(ROOT / "tests/common/cpp/pool_check.cpp"),
            str(ROOT / "csrc/common/parallel.cpp"),
            "-pthread",
            "-o",
            str(exe),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("ok "), r.stdout + r.stderr
    # a fresh process: no earlier call started more workers than CPUs (those spin the floor only)
    r = subprocess.run([str(exe), "spin"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.splitlines()[-1].startswith("ok "), r.stdout + r.stderr
