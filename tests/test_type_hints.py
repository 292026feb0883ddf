"""The public Python API keeps its type hints.

Every public function and method (name without a leading underscore, plus ``__init__``) of the
packages below annotates each parameter (``self``/``cls`` aside) and its return (``__init__``
aside). Read from the source (AST), so it needs neither the extension nor torch."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "python" / "chord"

#: the public API with hints: everything ``chord.__all__`` exports lives in these, plus the
#: CHORD system, checkpoints, the model-file export and the models
ANNOTATED = [
    "__init__.py",
    "ops.py",
    "functional.py",
    "format.py",
    "codebook.py",
    "mixed_weight.py",
    "checkpoint.py",
    "export.py",
    "backends",
    "quantize",
    "system",
    "models",
]


def _files() -> list[Path]:
    out = []
    for entry in ANNOTATED:
        p = PKG / entry
        out += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return out


def _unannotated(path: Path, root: Path = PKG.parents[1]) -> list[str]:
    bad = []

    def visit(body, prefix):
        for node in body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.name.startswith("_") and node.name != "__init__":
                    continue
                a = node.args
                missing = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs if p.annotation is None]
                missing = [m for m in missing if m not in ("self", "cls")]
                missing += [f"*{v.arg}" for v in (a.vararg, a.kwarg) if v is not None and v.annotation is None]
                if node.returns is None and node.name != "__init__":
                    missing.append("return")
                if missing:
                    bad.append(f"{path.relative_to(root)}:{node.lineno} {prefix}{node.name}: {missing}")

    visit(ast.parse(path.read_text()).body, "")
    return bad


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(PKG)))
def test_public_functions_are_annotated(path):
    bad = _unannotated(path)
    assert not bad, "public functions without type hints:\n" + "\n".join(bad)


def test_the_check_sees_a_missing_hint(tmp_path):
    """The checker itself: one unannotated parameter and one missing return are both reported;
    private helpers and ``self`` are not."""
    src = tmp_path / "python" / "chord" / "m.py"
    src.parent.mkdir(parents=True)
    src.write_text(
        "class A:\n"
        "    def f(self, x) -> int: ...\n"
        "    def _g(self, y): ...\n"
        "def h(z: int): ...\n"
        "def k(*args: int, **kw) -> None: ...\n"
    )
    bad = _unannotated(src, tmp_path)
    assert [b.split(" ", 1)[1] for b in bad] == ["A.f: ['x']", "h: ['return']", "k: ['*kw']"]


def test_every_export_of_chord_lives_in_a_checked_file():
    """``chord.__all__`` cannot grow a name from a module this test does not read."""
    tree = ast.parse((PKG / "__init__.py").read_text())
    checked = {p.relative_to(PKG).with_suffix("").as_posix().replace("/", ".") for p in _files()}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            mod = node.module
            assert mod in checked or any(c.startswith(mod + ".") for c in checked), mod
