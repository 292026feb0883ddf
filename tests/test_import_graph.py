"""The package imports without cycles, never guards its own modules with try/except ImportError,
and a module name used in several packages means the same kind of thing in each.

Reads every module of ``python/chord`` (AST only), builds the graph of imports between chord's
modules (module-level imports; a package counts as its ``__init__``), and fails on any cycle.
Function-level (deferred) imports are listed apart: they may point upward but not form a cycle
either."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: the project's two import roots: the chord package and the kernels package beside it
PACKAGES = {"chord": REPO / "python", "chord_kernels": REPO}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg, root in PACKAGES.items():
        for p in sorted((root / pkg).rglob("*.py")):
            parts = list(p.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = p
    return out


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _type_checking_imports(tree: ast.Module) -> list[ast.stmt]:
    """Imports under ``if TYPE_CHECKING:``: annotations only, never run, so never part of a cycle."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            out += [n for n in ast.walk(ast.Module(body=node.body, type_ignores=[])) if isinstance(n, ast.stmt)]
    return out


def _edges(modules: dict[str, Path], deferred: bool):
    """{module: {imported chord module}}; ``from pkg import name`` counts a submodule ``pkg.name``
    when it exists, else ``pkg``."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for m, p in modules.items():
        tree = ast.parse(p.read_text())
        type_only = {id(n) for n in _type_checking_imports(tree)}
        nodes = ast.walk(tree) if deferred else tree.body
        for node in nodes:
            if id(node) in type_only:
                continue
            targets = []
            if isinstance(node, ast.ImportFrom):
                base = _resolve(m, p.name == "__init__.py", node)
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    targets.append(sub if sub in modules else base)
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != m and t.startswith("chord"):
                    graph[m].add(t)
    return graph


def _cycle(graph):
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for d in sorted(graph[n]):
            if state.get(d) == 1:
                return stack[stack.index(d) :] + [d]
            if d not in state:
                c = visit(d)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def _without_parent_packages(graph):
    """Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first; a package's
    ``__init__`` re-exporting its own submodules is not a cycle. Drop edges from a package to
    its own descendants and from a module to its own ancestors."""
    return {m: {t for t in ts if not t.startswith(m + ".") and not m.startswith(t + ".")} for m, ts in graph.items()}


def test_no_import_cycle_at_module_level():
    graph = _without_parent_packages(_edges(_modules(), deferred=False))
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"


def test_no_import_cycle_counting_deferred_imports():
    graph = _without_parent_packages(_edges(_modules(), deferred=True))
    assert _cycle(graph) is None, f"import cycle (deferred imports included): {' -> '.join(_cycle(graph))}"


#: the one allowed guarded import: the compiled extension, whose absence chord.backends.cpu
#: reports (HAVE_CPP, the reason in its errors) and every other module reads from there
ALLOWED_GUARDED = {("python/chord/backends/cpu.py", "chord_kernels._cpu")}


def _guarded_project_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of each import of chord or chord_kernels inside ``try:`` whose handlers
    catch ImportError (or its subclass ModuleNotFoundError)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Try):
            continue
        caught = " ".join(ast.unparse(h.type) for h in node.handlers if h.type is not None)
        if "ImportError" not in caught and "ModuleNotFoundError" not in caught:
            continue
        for sub in ast.walk(ast.Module(body=node.body, type_ignores=[])):
            names = []
            if isinstance(sub, ast.ImportFrom):
                base = ("." * sub.level) + (sub.module or "")
                names = [f"{base}.{a.name}" if base.endswith("chord_kernels") else base for a in sub.names]
            elif isinstance(sub, ast.Import):
                names = [a.name for a in sub.names]
            out += [(sub.lineno, n) for n in names if n.startswith((".", "chord"))]
    return out


def test_no_defensive_import_of_the_project():
    """``try: import chord... except ImportError`` hides breakage (it hid a module that never
    existed, and would pass a broken ``chord_kernels.triton`` off as "triton unavailable").
    Checked over every Python file of the repository: the packages, tests, tools, scripts and the
    reports' probes. The compiled extension in ``chord.backends.cpu`` is the one exception."""
    files = [p for p in sorted(REPO.rglob("*.py")) if not p.relative_to(REPO).parts[0].startswith(("build", "."))]
    bad = []
    for p in files:
        rel = str(p.relative_to(REPO))
        bad += [f"{rel}:{line} {n}" for line, n in _guarded_project_imports(p) if (rel, n) not in ALLOWED_GUARDED]
    assert len(files) > 100 and not bad, f"defensive imports of the project: {bad}"


def test_public_names_survive_moves():
    """Every name ``chord/__init__.py`` exported before the layout moves (issue 14) still works."""
    import chord

    # the snapshot taken before the moves (not read from chord.__all__: a name dropped there must fail here)
    names = (
        "Codebook MixedWeight FormatError pack mp_linear FORMAT_VERSION Strategy StrategyError "
        "model_fingerprint LayerInfo quantizable_layers quantize_ dequantize_ DeviceModel mp_topk __version__"
    ).split()
    assert [n for n in names if not hasattr(chord, n)] == []
    assert set(chord.__all__) >= set(names) - {"__version__"}


#: module names (files and packages) that stand in more than one package, and the one meaning they
#: share there; a name another package reuses for something else gets a name of its own instead
#: (docs/layout.md lists the renames: chord.serve.metrics -> counters, experiments.baselines ->
#: baseline_codes, serve.model -> service_loader, system.trainer -> chord_trainer)
SHARED_NAMES = {
    "cli": "the command line of its package's subcommand (chord.cli: the chord command itself)",
    "base": "what every model (models) or every fused runner (runtime) of its package shares",
    "sasrec": "its package's SASRec: the model (models), its fused runner (runtime)",
    "caser": "its package's Caser: the model (models), its fused runner (runtime)",
    "runner": "runs its package's work: the experiment grid (experiments), the bench suites (bench)",
    "results": "its package's result files (bench, serve)",
    "plots": "its package's figures (bench, experiments)",
}


def test_a_module_name_in_several_packages_means_one_thing():
    where: dict[str, list[str]] = {}
    for m, p in _modules().items():
        if p.name != "__main__.py" and "." in m:
            where.setdefault(m.rpartition(".")[2], []).append(m)
    shared = {name: ms for name, ms in where.items() if len(ms) > 1}
    unexplained = {name: ms for name, ms in shared.items() if name not in SHARED_NAMES}
    assert not unexplained, f"one name, several modules: give each its own name or say what they share: {unexplained}"
    stale = sorted(set(SHARED_NAMES) - set(shared))
    assert not stale, f"SHARED_NAMES lists names that no longer stand in several packages: {stale}"
