"""The docs' maps point at files that exist: every backticked repository path in docs/ops.md
and docs/layout.md (new locations), and every relative link in README.md and docs/*.md."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATH = re.compile(r"`((?:python|csrc|chord_kernels|tests|scripts|benchmarks|reports|docs|tools)/[^`*<> ]*)`")
LINK = re.compile(r"\]\((?!https?://|#)([^)#\s]+)")


def _paths(text: str) -> list[str]:
    return sorted(set(PATH.findall(text)))


@pytest.mark.parametrize("page", ["docs/ops.md"])
def test_every_path_on_the_op_map_exists(page):
    missing = [p for p in _paths((ROOT / page).read_text()) if not (ROOT / p.rstrip("/")).exists()]
    assert not missing, f"{page} names paths that do not exist: {missing}"


def test_new_locations_in_the_layout_page_exist():
    text = (ROOT / "docs/layout.md").read_text()
    new = [m.group(1) for m in re.finditer(r"→ `([^`]+)`", text)]
    missing = [p for p in new if "/" in p and not (ROOT / p.rstrip("/")).exists()]
    assert new and not missing, f"docs/layout.md: new locations that do not exist: {missing}"


@pytest.mark.parametrize("page", ["README.md"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")))
def test_relative_links_resolve(page):
    base = (ROOT / page).parent
    missing = [t for t in LINK.findall((ROOT / page).read_text()) if not (base / t).exists()]
    assert not missing, f"{page}: broken links {missing}"


def test_readme_is_a_front_page():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
