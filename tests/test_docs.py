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


def test_every_declared_op_has_a_full_row_on_the_op_map():
    """Each ``chord::`` op that ``python/chord/ops.py`` defines has a row on docs/ops.md naming a
    path in every column: declaration, user API, CPU kernel and registration, Triton kernel and
    registration, reference, tests (a new op cannot land without saying where its parts are)."""
    declared = re.findall(r'LIB\.define\(\s*"(\w+)\(', (ROOT / "python/chord/ops.py").read_text())
    rows = {}
    for line in (ROOT / "docs/ops.md").read_text().splitlines():
        m = re.match(r"\| `chord::(\w+)` \|(.*)\|$", line)
        if m:
            rows[m.group(1)] = m.group(2).split("|")
    assert declared and set(declared) == set(rows), f"ops declared {declared}, rows on docs/ops.md {sorted(rows)}"
    for op, cells in rows.items():
        empty = [i for i, c in enumerate(cells) if not PATH.search(c)]
        assert len(cells) == 8 and not empty, f"docs/ops.md row {op}: columns without a path: {empty}"


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


#: repository-wide checks at tests/ top level (not tests of one module)
REPO_CHECKS = {
    "test_import_graph.py",
    "test_docs.py",
    "test_ci_skips.py",
    "test_style.py",
    "test_type_hints.py",
    "test_packaging.py",
}


def _mirrors_source(test: Path) -> bool:
    """docs/ops.md, "Test rule": tests/<path>/test_<module>[_aspect].py tests python/chord/<path>/<module>.py."""
    rel = test.relative_to(ROOT / "tests")
    pkg, stem = rel.parent, rel.stem[len("test_") :]
    if str(pkg) == "." and rel.name in REPO_CHECKS:
        return True
    if str(pkg) == "bench" and stem.startswith("gate"):
        return True
    if pkg.parts[:1] == ("adversarial",) or (len(pkg.parts) == 1 and (ROOT / "csrc" / pkg).is_dir()):
        return True  # the cross-cutting adversarial suite; a C++ component tested through its own interface
    top = pkg.parts[:1]
    base = ROOT / pkg if top in (("chord_kernels",), ("tools",), ("scripts",)) else ROOT / "python" / "chord" / pkg
    if top == ("chord_kernels",):
        base = ROOT / "chord_kernels"
    parts = stem.split("_")
    names = ["_".join(parts[:i]) for i in range(len(parts), 0, -1)]
    return any((base / f"{n}.py").exists() or (base / n).is_dir() for n in names) or stem == pkg.name


def test_tests_mirror_the_source():
    stray = [str(t.relative_to(ROOT)) for t in sorted((ROOT / "tests").rglob("test_*.py")) if not _mirrors_source(t)]
    assert not stray, f"test files that follow no rule of docs/ops.md (Test rule): {stray}"


def test_every_dated_report_is_on_the_reports_index():
    """reports/README.md lists every dated report (a newcomer finds a measurement from the index),
    and each row's link resolves."""
    index = (ROOT / "reports/README.md").read_text()
    linked = set(LINK.findall(index))
    reports = {p.name for p in (ROOT / "reports").glob("20*.md")}
    assert not sorted(reports - linked), f"reports/README.md does not list: {sorted(reports - linked)}"
    dangling = sorted(x for x in linked if not (ROOT / "reports" / x).exists())
    assert not dangling, f"reports/README.md links to missing files: {dangling}"
