"""Under CI=true a missing extension or tool fails the run instead of skipping (tests/conftest.py):
planted skips of every kind, run in a child pytest with and without CI=true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PLANTED = {
    "test_marks.py": """
import pytest
pytestmark = pytest.mark.skipif(True, reason="planted: extension not built")
def test_module_skipif(): pass
""",
    "test_inline.py": """
import pytest
def test_inline_skip(): pytest.skip("planted: valgrind missing")
@pytest.mark.optional
def test_optional_skip(): pytest.skip("planted: no GPU")
def test_runs(): pass
""",
    "test_module_level.py": """
import pytest
pytest.importorskip("chord_no_such_module_planted")
def test_never(): pass
""",
}


def _run(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess:
    for name, text in PLANTED.items():
        (tmp_path / name).write_text(text)
    # the hooks under test, and nothing else of tests/conftest.py's fixtures
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_configure, pytest_make_collect_report, pytest_runtest_makereport  "
        "# noqa: F401\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rA",
            "-p",
            "no:cacheprovider",
            "--continue-on-collection-errors",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_under_ci_every_unmarked_skip_fails(tmp_path):
    r = _run(tmp_path, ci=True)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "FAILED" in out and "planted: extension not built" in out and "planted: valgrind missing" in out
    assert "chord_no_such_module_planted" in out and "ERROR" in out  # module-level skip: collection error
    assert "SKIPPED" in out and "planted: no GPU" in out  # marked optional: still a skip
    assert "PASSED" in out


def test_outside_ci_skips_stay_skips_with_reasons(tmp_path):
    r = _run(tmp_path, ci=False)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "FAILED" not in out and "ERROR" not in out
    for reason in (
        "planted: extension not built",
        "planted: valgrind missing",
        "planted: no GPU",
        "chord_no_such_module_planted",
    ):
        assert reason in out
