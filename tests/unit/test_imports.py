"""No import circles in any of our packages, counting the imports inside functions too: an
import hidden in a function body still ties two modules together, it only hides the knot."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("signup_core", "signup_api", "signup_worker", "signupctl")


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Each module of the packages -> the modules of the packages it imports, anywhere in it."""
    files = {module_name(root, p): p for pkg in packages for p in (root / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for target in _targets(node, package):
                found = _ours(target, files)
                if found is not None and found != name:
                    graph[name].add(found)
    return graph


def _targets(node: ast.AST, package: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = package.split(".")
        base = base[: len(base) - (node.level - 1)]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    # `from pkg import x` imports the module pkg.x when there is one, else a name of pkg.
    return [f"{module}.{alias.name}" for alias in node.names] + [module]


def _ours(target: str, files: dict[str, Path]) -> str | None:
    """The module of ours a dotted name lands in (its longest prefix that is one), if any."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in files:
            return candidate
    return None


def tangles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of modules that import each other, directly or not (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One concrete cycle through each tangle."""
    return [_cycle_in(graph, group) for group in tangles(graph)]


def _cycle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """Walk inside the group until a module repeats: the walk from there is a cycle."""
    path = [min(group)]
    while True:
        step = min(w for w in graph[path[-1]] if w in group)
        if step in path:
            return [*path[path.index(step) :], step]
        path.append(step)


def test_no_import_cycles():
    graph = import_graph(ROOT, PACKAGES)
    found = [
        f"{' -> '.join(_cycle_in(graph, group))}  (tangle: {', '.join(sorted(group))})"
        for group in tangles(graph)
    ]
    assert not found, "import cycles:\n" + "\n".join(found)


def test_every_package_is_in_the_graph():
    graph = import_graph(ROOT, PACKAGES)
    for package in PACKAGES:
        assert package in graph
    # The edges are really there: the worker's entry point imports its middleware.
    assert "signup_worker.resources" in graph["signup_worker.broker"]


def test_the_graph_sees_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("from ..c import thing\n")
    (pkg / "c.py").write_text("import os\n\ndef g():\n    from pkg import a\n")
    (pkg / "d.py").write_text("from . import a\n")
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.a"] == {"pkg.sub.b", "pkg.sub"}
    assert graph["pkg.sub.b"] == {"pkg.c"}
    assert graph["pkg.d"] == {"pkg.a", "pkg"}
    assert cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]]


def test_signupctl_starts_without_the_clients_only_some_commands_use():
    # Every `signupctl` call imports every command's module; the Redis client and dnspython
    # (doctor's checks) were a third of each call's start-up.
    import subprocess
    import sys

    heavy = ("redis", "dns", "dramatiq", "starlette", "jinja2", "httpx")
    probe = f"import signupctl, sys; print([m for m in {heavy!r} if m in sys.modules])"
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    assert shown == "[]"
