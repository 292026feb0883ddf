"""The formatting applied tree-wide stays applied: ruff (lint + format) over the Python files and
clang-format over the C/C++ files, at the versions pinned in constraints.txt; and the
pre-commit hooks run those same versions.

Under CI=true a missing tool fails (``helpers.missing``); the ``[test]`` extra installs both."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.helpers import missing

ROOT = Path(__file__).resolve().parents[1]
C_SUFFIXES = (".c", ".cc", ".cpp", ".h", ".hpp", ".inc")


def _pins() -> dict[str, str]:
    """{package: version} of the ``name==version`` lines of constraints.txt."""
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        m = re.match(r"([A-Za-z0-9_.-]+)==([^\s#]+)", line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        missing(f"{name} is not on PATH (pip install -c constraints.txt -e '.[test]')")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    pinned = _pins()[name]
    if pinned not in version.split():
        missing(f"{name} {version.strip()!r} is not the pinned {pinned}: its output may differ")
    return exe


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def _tracked_c_files() -> list[str]:
    files = _run(["git", "ls-files", "-z"]).stdout.split("\0")
    return [f for f in files if f.endswith(C_SUFFIXES) and (ROOT / f).is_file()]


def test_ruff_check():
    r = _run([_tool("ruff"), "check", "--no-cache", "."])
    assert r.returncode == 0, f"ruff check found problems (fix: ruff check --fix FILES):\n{r.stdout}{r.stderr}"


def test_ruff_format():
    r = _run([_tool("ruff"), "format", "--check", "--no-cache", "."])
    assert r.returncode == 0, f"files not formatted (fix: ruff format FILES):\n{r.stdout}{r.stderr}"


def test_clang_format():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the C/C++ files are the ones git tracks")
    files = _tracked_c_files()
    assert len(files) > 20, files  # the listing itself works: csrc/ alone has dozens
    r = _run([_tool("clang-format"), "--dry-run", "-Werror", *files])
    assert r.returncode == 0, f"C/C++ files not formatted (fix: clang-format -i FILES):\n{r.stderr[-6000:]}"


def test_pre_commit_revs_match_pins():
    """pre-commit formats with the same versions the tests check with."""
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    pins = _pins()
    for repo, package in (("astral-sh/ruff-pre-commit", "ruff"), ("mirrors-clang-format", "clang-format")):
        m = re.search(re.escape(repo) + r"\s*\n\s*rev:\s*v?(\S+)", config)
        assert m, f".pre-commit-config.yaml: no rev for {repo}"
        assert m.group(1) == pins[package], f"{repo}: rev {m.group(1)} but constraints.txt pins {pins[package]}"


def test_test_extra_installs_the_pinned_tools():
    """.ci/run installs ``.[test]`` under constraints.txt, so the extra must name both tools."""
    test_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    names = {re.split(r"[<>=!~ ]", req, maxsplit=1)[0].lower() for req in test_extra}
    assert {"ruff", "clang-format"} <= names, test_extra


def test_text_files_as_the_pre_commit_hooks_leave_them():
    """What the pre-commit hooks beside the formatters check (trailing-whitespace,
    end-of-file-fixer outside the write-once reports/; check-added-large-files at 1024 KB), so the
    tree passes ``pre-commit run --all-files`` without pre-commit installed."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the files are the ones git tracks")
    ragged, big = [], []
    for f in _run(["git", "ls-files", "-z"]).stdout.split("\0"):
        path = ROOT / f
        if not f or not path.is_file():
            continue
        data = path.read_bytes()
        if len(data) > 1024 * 1024:
            big.append(f)
        if f.startswith("reports/") or not data or b"\0" in data[:8192]:
            continue
        lines = data.split(b"\n")
        if not data.endswith(b"\n") or data.endswith(b"\n\n") or any(ln != ln.rstrip(b" \t") for ln in lines):
            ragged.append(f)
    assert not big, f"files over 1024 KB (results belong in reports/, ranks and npz outside git): {big}"
    assert not ragged, f"trailing whitespace or not one final newline: {ragged}"
