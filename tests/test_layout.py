"""The package's layout: no import circle anywhere in ``aigc/``, and imports point one way.

The direction is docs/architecture.md's: ``envs`` <- ``submissions`` <- ``leaderboard`` <-
``platform``; ``baselines`` may use ``envs`` and ``submissions``; ``cli`` may use all. The
leaves at the top (``aigc``, ``aigc.safe_text``, ``aigc.dataclass_args``, ``aigc.extras``) serve
everyone.
Nothing under ``envs``, ``submissions`` or ``leaderboard`` imports the server's libraries:
they run on a participant's laptop with no server.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "aigc"


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
    found = sorted(one_circle(graph, c) for c in cycles(graph))
    assert not found, "import circles: " + "; ".join(found)


# What each part of aigc may import of aigc, besides itself and the shared leaves.
MAY_IMPORT = {
    "envs": set(),
    "submissions": {"envs"},
    "leaderboard": {"envs", "submissions"},
    "platform": {"envs", "submissions", "leaderboard"},
    "baselines": {"envs", "submissions"},
    "cli": {"envs", "submissions", "leaderboard", "platform", "baselines"},
}
LEAVES = {"aigc", "aigc.safe_text", "aigc.dataclass_args", "aigc.extras", "aigc.__main__"}
SERVER_LIBRARIES = {"flask", "werkzeug", "sqlalchemy", "alembic", "celery", "psycopg", "waitress"}


def part(module: str) -> str | None:
    """The part of aigc a module belongs to (envs, submissions, ...), None for a leaf."""
    return None if module in LEAVES else module.split(".")[1]


def test_every_module_belongs_to_a_part_with_a_rule() -> None:
    parts = {part(name) for name in module_files()} - {None}
    assert parts == set(MAY_IMPORT), (
        f"parts without a rule in MAY_IMPORT: {parts ^ set(MAY_IMPORT)}"
    )


def test_imports_point_one_way() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if part(module) is not None
        and part(target) not in {None, part(module)} | MAY_IMPORT[str(part(module))]
    ]
    assert not wrong, "imports against the direction of docs/architecture.md: " + "; ".join(wrong)


def external(path: Path) -> set[str]:
    """The top-level names of every library a module imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.partition(".")[0])
    return names


def test_the_plain_libraries_import_no_server_library() -> None:
    wrong = [
        f"{name} imports {', '.join(sorted(external(path) & SERVER_LIBRARIES))}"
        for name, path in module_files().items()
        if part(name) in {"envs", "submissions", "leaderboard"}
        and external(path) & SERVER_LIBRARIES
    ]
    assert not wrong, "; ".join(wrong)


def test_the_web_package_s_init_only_registers() -> None:
    # Sign-in, CSRF, guards, formatting and headers each have a module of their own.
    tree = ast.parse((PACKAGE / "platform" / "web" / "__init__.py").read_text(encoding="utf-8"))
    defined = [
        node.name if isinstance(node, ast.FunctionDef | ast.ClassDef) else type(node).__name__
        for node in tree.body
        if not isinstance(node, ast.Import | ast.ImportFrom | ast.Expr)  # the docstring
    ]
    assert defined == ["register"]
