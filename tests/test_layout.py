"""The package's layout: no import circle anywhere in ``aigc/``."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "aigc"

# The circles left in aigc.platform, which its restructuring removes: the API blueprints and
# their package, and the application factory and the web pages. Once they are gone this set
# is empty, and the test fails until it says so.
REMAINING_CYCLES = {
    frozenset(
        {
            "aigc.platform.api",
            "aigc.platform.api.accounts",
            "aigc.platform.api.challenges",
            "aigc.platform.api.openapi",
            "aigc.platform.api.submissions",
        }
    ),
    frozenset(
        {
            "aigc.platform.app",
            "aigc.platform.web",
            "aigc.platform.web.accounts",
            "aigc.platform.web.boards",
            "aigc.platform.web.organize",
            "aigc.platform.web.pages",
            "aigc.platform.web.submissions",
        }
    ),
}


def module_files() -> dict[str, Path]:
    """Every importable module under aigc/, by dotted name (folders without __init__ skipped)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        folders = (PACKAGE.parent.joinpath(*parts[:end]) for end in range(1, len(parts)))
        if not all((folder / "__init__.py").is_file() for folder in folders):
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported(name: str, path: Path, modules: set[str]) -> Iterator[str]:
    """The modules of aigc that one module imports anywhere: at the top, in functions, under
    ``if TYPE_CHECKING:``. ``from package import module`` counts as importing the module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import aigc.x.y` names aigc.x.y
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: set(imported(name, path, set(files))) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def one_circle(graph: dict[str, set[str]], component: frozenset[str]) -> str:
    """A path round one circle of a component, e.g. ``a -> b -> a``."""
    start = min(component)
    path, seen = [start], {start}
    while True:
        step = min(t for t in graph[path[-1]] if t in component)
        if step in seen:
            return " -> ".join([*path[path.index(step) :], step])
        path.append(step)
        seen.add(step)


def test_the_import_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import aigc.a.b\n"
        "from aigc.c import d, CONSTANT\n"
        "from . import e\n"
        "if TYPE_CHECKING:\n"
        "    from aigc.f import Thing\n"
        "def later():\n"
        "    from .g import h\n"
    )
    modules = {"aigc", "aigc.a", "aigc.a.b", "aigc.c", "aigc.c.d", "aigc.f", "aigc.x"}
    modules |= {"aigc.x.mod", "aigc.x.e", "aigc.x.g"}
    found = set(imported("aigc.x.mod", source, modules))
    assert found == {"aigc.a.b", "aigc.c.d", "aigc.c", "aigc.x.e", "aigc.f", "aigc.x.g"}


def test_no_import_cycles() -> None:
    graph = import_graph()
    found = cycles(graph)
    unexpected = sorted(one_circle(graph, c) for c in found - REMAINING_CYCLES)
    assert not unexpected, "import circles: " + "; ".join(unexpected)
    gone = sorted(", ".join(sorted(c)) for c in REMAINING_CYCLES - found)
    assert not gone, "these circles are gone, remove them from REMAINING_CYCLES: " + "; ".join(gone)
