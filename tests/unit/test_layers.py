"""The package's layers (pyproject's import-linter contract) hold, and no two modules import each other.

`lint-imports` checks the layers; the test that breaks them on a copy proves it is looking.
Cycles are found on grimp's graph (import-linter's own), every import counted: module
level, inside functions, under `if TYPE_CHECKING`.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "remediations"
LINT_IMPORTS = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the package under `root`, with `root`'s pyproject.toml."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([LINT_IMPORTS, "--no-cache", "--no-logo"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_layer_contracts_are_kept() -> None:
    res = lint_imports(ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "KEPT" in res.stdout and ", 0 broken" in res.stdout, res.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    copy = tmp_path / "project"
    shutil.copytree(PACKAGE, copy / "remediations",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    result = copy / "remediations" / "core" / "result.py"
    result.write_text(result.read_text() + "\nimport remediations.cli  # noqa: E402\n")

    res = lint_imports(copy)

    assert res.returncode == 1, res.stdout + res.stderr
    assert "BROKEN" in res.stdout and "1 broken" in res.stdout, res.stdout
    assert "remediations.core.result -> remediations.cli" in res.stdout, res.stdout


# -- cycles -----------------------------------------------------------------------------------

def _lazy_lines(init: Path) -> set[int]:
    """Lines of a package `__init__`'s imports that do not run when it is imported.

    Those under `if TYPE_CHECKING:` and inside functions (the root package's lazy
    re-exports): a package naming its own submodules there is no import cycle.
    """
    tree = ast.parse(init.read_text())
    lazy: set[int] = set()

    def imports(nodes: list[ast.stmt]) -> Iterator[int]:
        for node in nodes:
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    yield sub.lineno

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lazy.update(imports(node.body))
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            lazy.update(imports(node.body))
    return lazy


def import_edges() -> dict[str, set[str]]:
    """importer -> modules it imports, within the package; a package's lazy re-exports left out."""
    graph = grimp.build_graph("remediations", include_external_packages=False)
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        edges[module] = set()
        init = PACKAGE.parent.joinpath(*module.split("."), "__init__.py")
        lazy = _lazy_lines(init) if init.exists() else set()
        for imported in graph.find_modules_directly_imported_by(module):
            if lazy and imported.startswith(module + "."):
                details = graph.get_import_details(importer=module, imported=imported)
                if details and all(d["line_number"] in lazy for d in details):
                    continue
            edges[module].add(imported)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), and self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, ()):
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(edges) + 100))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _describe(component: list[str], edges: dict[str, set[str]]) -> str:
    inside = set(component)
    links = [f"{a} -> {b}" for a in component for b in sorted(edges[a] & inside)]
    return "cycle " + ", ".join(component) + ": " + "; ".join(links)


def test_no_module_imports_one_that_imports_it_back() -> None:
    edges = import_edges()
    assert "remediations.core.errors" in edges and len(edges) > 50  # the graph is the package
    found = cycles(edges)
    assert not found, "\n".join(_describe(c, edges) for c in found)


@pytest.mark.parametrize("edges,expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
    ({"a": {"a"}}, [["a"]]),
])
def test_the_cycle_finder_finds_cycles(edges: dict[str, set[str]],
                                       expected: list[list[str]]) -> None:
    assert cycles(edges) == expected
