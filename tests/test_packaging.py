"""Habits kept in config (issue 14, item 6): one version source, a license the metadata names,
a changelog with an open section."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import chord

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_one_version_source():
    """``chord.__version__`` is the version: pyproject reads it, setup.py states none, and the
    installed metadata (``pip install -e .``) agrees."""
    assert "version" not in PROJECT["project"] and "version" in PROJECT["project"]["dynamic"]
    assert PROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "chord.__version__"}
    assert not re.search(r"\bversion\s*=", (ROOT / "setup.py").read_text())
    assert re.fullmatch(r"\d+\.\d+\.\d+(\S*)", chord.__version__)
    assert importlib.metadata.version("chord") == chord.__version__


def test_license_is_the_one_the_metadata_names():
    assert PROJECT["project"]["license"] == "MIT" and PROJECT["project"]["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_changelog_has_an_unreleased_section():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(r"^## \[Unreleased\]$", text, re.M), "CHANGELOG.md: no '## [Unreleased]' section"
