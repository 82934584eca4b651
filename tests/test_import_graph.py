"""No import circles: every import in aigc/ counts, inside functions and TYPE_CHECKING too.

The graph is read from the source (nothing is imported): a module depends on each module
it names in an ``import`` or ``from ... import``, wherever the statement stands. Each
package of aigc/ is one case, failing on any circle that passes through it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

AIGC = Path(__file__).parents[1] / "aigc"


def module_names(root: Path) -> dict[str, Path]:
    """Every module under ``root`` (a package folder) by its dotted name."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Which of the package's modules each of its modules imports."""
    modules = module_names(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                graph[name] |= {alias.name for alias in node.names if alias.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parents, *([node.module] if node.module else [])])
                for alias in node.names:
                    # ``from package import module`` names the module; else the names are in base.
                    target = f"{base}.{alias.name}"
                    if target in modules:
                        graph[name].add(target)
                    elif base in modules:
                        graph[name].add(base)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module, or of one importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1 or module in graph[module]:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def packages() -> list[str]:
    return sorted(p.name for p in AIGC.iterdir() if (p / "__init__.py").is_file())


@pytest.mark.parametrize("package", packages())
def test_no_import_circle_passes_through(package: str) -> None:
    through = [
        group
        for group in circles(import_graph(AIGC))
        if any(m.startswith(f"aigc.{package}.") or m == f"aigc.{package}" for m in group)
    ]
    assert through == [], f"import circles through aigc.{package}: {through}"


def test_the_walk_finds_circles_through_type_checking_and_function_imports(
    tmp_path: Path,
) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n"
    )
    (package / "b.py").write_text("def f():\n    from . import a\n")
    (package / "sub" / "c.py").write_text("from ..sub import d\n")
    (package / "sub" / "d.py").write_text("import pkg.sub.c\n")
    (package / "e.py").write_text("from pkg import a, b\n")  # depends on a circle, is in none
    assert circles(import_graph(package)) == [["pkg.a", "pkg.b"], ["pkg.sub.c", "pkg.sub.d"]]
