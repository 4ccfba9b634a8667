"""The shape of the package: no import cycles (module or package level), small modules.

The import graph is read from the source with ``ast``: every ``import`` and
``from ... import`` anywhere in a module (top level, inside functions, under
``TYPE_CHECKING``), resolved to the ``harness`` modules it names. A cycle is a defect
even when a function-level import keeps it from failing at import time: it means two
modules cannot be understood, tested or moved apart.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "harness"
MAX_LINES = 400
LINE_ALLOWANCES: dict[str, str] = {}
"""Path (relative to the repository) -> why that file may be longer than MAX_LINES."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str, known: Mapping[str, Path]) -> bool:
    return known[name].name == "__init__.py"


def imported_modules(name: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The ``harness`` modules that module ``name`` imports, anywhere in its source."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if is_package(name, known) else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # "from a.b import c" imports a.b, and a.b.c too when c is a module
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]  # "import a.b.c" of a non-module attribute
            if target and target != name and target != "harness":
                out.add(target)
    return out


def module_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported_modules(name, path, known) for name, path in known.items()}


def package_of(name: str, known: Mapping[str, Path]) -> str:
    """The package a module belongs to; a module directly in ``harness`` (``clock``,
    ``runner``) is a node of its own, as ``harness`` is the project, not a layer of it."""
    parent = name if is_package(name, known) else name.rpartition(".")[0]
    return name if parent == "harness" else parent


def package_graph() -> dict[str, set[str]]:
    """Package -> the packages its modules import (a package's own modules are inside it)."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, targets in module_graph().items():
        src = package_of(name, known)
        edges = graph.setdefault(src, set())
        for target in targets:
            dst = package_of(target, known)
            if dst != src:
                edges.add(dst)
    return graph


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle (as a closed path) if the graph has any, by depth-first search."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


# ------------------------------------------------------------------ the checker itself


def test_the_cycle_finder_finds_a_cycle_and_names_it() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"y"}, "y": {"y"}}) == ["y", "y"]


def test_imports_are_resolved_wherever_they_are_written(tmp_path: Path) -> None:
    known = {"harness.a": tmp_path / "a.py", "harness.b": tmp_path / "b.py", "harness.c": tmp_path / "c.py",
             "harness.pkg": tmp_path / "pkg" / "__init__.py", "harness.pkg.d": tmp_path / "pkg" / "d.py"}
    src = tmp_path / "a.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "import numpy\n"
        "if TYPE_CHECKING:\n    from harness.b import Thing\n"
        "def f():\n    import harness.c\n    from harness.pkg import d\n"
    )
    assert imported_modules("harness.a", src, known) == {"harness.b", "harness.c", "harness.pkg", "harness.pkg.d"}


# ------------------------------------------------------------------ the package


def test_no_import_cycle_between_modules() -> None:
    cycle = find_cycle(module_graph())
    assert cycle is None, "import cycle between modules: " + " -> ".join(cycle or ())


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph()
    assert "harness.records" in graph and "harness.callers.browser" in graph  # the graph is real
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle between packages: " + " -> ".join(cycle or ())


@pytest.mark.parametrize("suffix", [".py", ".js"])
def test_no_module_over_the_line_limit(suffix: str) -> None:
    files = sorted(PACKAGE.rglob(f"*{suffix}"))
    assert files
    over = {str(p.relative_to(ROOT)): n for p in files
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    unexplained = {p: n for p, n in over.items() if p not in LINE_ALLOWANCES}
    assert not unexplained, f"modules over {MAX_LINES} lines (split them, or add an allowance with the reason): {unexplained}"
    stale = [p for p in LINE_ALLOWANCES if p.endswith(suffix) and p not in over]
    assert not stale, f"allowances no longer needed: {stale}"


def test_every_design_note_the_code_points_to_is_in_the_repository() -> None:
    cited = {m for p in PACKAGE.rglob("*.py") for m in re.findall(r"docs/[\w.-]+\.md", p.read_text())}
    assert len(cited) >= 3  # the docstrings do point to the notes
    missing = sorted(c for c in cited if not (ROOT / c).is_file())
    assert not missing, f"docstrings point to notes that do not exist: {missing}"
    stale = [p for p in PACKAGE.rglob("*.py") if re.search(r"design section \d", p.read_text())]
    assert not stale, f"docstrings still point to sections of a document outside the repository: {stale}"
