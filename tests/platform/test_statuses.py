"""A submission's statuses are written out once, in aigc/platform/statuses.py."""

from __future__ import annotations

import ast
from pathlib import Path

from aigc.platform.statuses import ACTIVE, ENDED, SubmissionStatus

PACKAGE = Path(__file__).parents[2] / "aigc"
HOME = PACKAGE / "platform" / "statuses.py"
VALUES = {status.value for status in SubmissionStatus}


def retyped(source: str) -> list[int]:
    """The lines where a module spells out statuses again: a tuple, list, set or dict's keys
    holding two or more of them, or a comparison with one (``status == "finished"``)."""

    def is_status(node: ast.AST | None) -> bool:
        return isinstance(node, ast.Constant) and node.value in VALUES

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items: list[ast.expr | None] = list(node.elts)
        elif isinstance(node, ast.Dict):
            items = list(node.keys)
        elif isinstance(node, ast.Compare):
            items = [node.left, *node.comparators] if len(node.comparators) == 1 else []
            if any(is_status(item) for item in items):
                found.append(node.lineno)
            continue
        else:
            continue
        if sum(is_status(item) for item in items) >= 2:
            found.append(node.lineno)
    return sorted(found)


def test_the_check_finds_statuses_written_out_again() -> None:
    source = (
        'DONE = ("finished", "failed")\n'
        'COLOURS = {"finished": "green", "failed": "red"}\n'
        'if status == "running":\n'
        "    pass\n"
        'WORDS = ("apple", "running")  # one status among other words is no list of them\n'
        "if status == SubmissionStatus.RUNNING:\n"
        "    pass\n"
    )
    assert retyped(source) == [1, 2, 3]


def test_no_module_but_statuses_writes_the_statuses_out() -> None:
    # The platform, its pages and API, and the aigc commands take them from one enum (the
    # rest of aigc knows no submission statuses; "running" there is a container's state).
    places = [
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for part in ("platform", "cli")
        for path in sorted((PACKAGE / part).rglob("*.py"))
        if path != HOME
        for line in retyped(path.read_text(encoding="utf-8"))
    ]
    assert places == [], "statuses written out again (use aigc.platform.statuses): " + ", ".join(
        places
    )


def test_active_and_ended_split_the_statuses() -> None:
    assert set(SubmissionStatus) == ACTIVE | ENDED and not ACTIVE & ENDED
