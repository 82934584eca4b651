"""The one least-recently-used cache of the platform: aigc/platform/lru.py."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from aigc.platform.lru import LRU

PLATFORM = Path(__file__).parents[2] / "aigc" / "platform"
STDLIB_CACHES = {("collections", "OrderedDict"), ("functools", "lru_cache"), ("functools", "cache")}


def test_the_least_recently_used_value_goes_first() -> None:
    cache: LRU[str, int] = LRU(2)
    made: list[str] = []

    def make(key: str, value: int) -> int:
        made.append(key)
        return value

    assert cache.get("a", lambda: make("a", 1)) == 1
    assert cache.get("b", lambda: make("b", 2)) == 2
    assert cache.get("a", lambda: make("a", -1)) == 1  # kept: made once, now the latest
    assert cache.get("c", lambda: make("c", 3)) == 3  # full: "b" goes
    assert len(cache) == 2
    assert cache.get("b", lambda: make("b", 20)) == 20
    assert made == ["a", "b", "c", "b"]


def test_a_cache_holds_at_least_one_value() -> None:
    with pytest.raises(ValueError, match="holds at least 1 value, not 0"):
        LRU(0)


def kept_caches(source: str) -> list[int]:
    """The lines that make a cache of their own: an OrderedDict or functools' caches."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module in {"collections", "functools"}:
            names = {alias.name for alias in node.names}
            if names & {"OrderedDict", "lru_cache", "cache"}:
                found.append(node.lineno)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in STDLIB_CACHES
        ):
            found.append(node.lineno)
    return found


def test_the_check_finds_a_cache_of_its_own() -> None:
    source = (
        "import functools\n"
        "from collections import OrderedDict\n"
        "@functools.lru_cache(8)\n"
        "def f(cache):\n"
        "    return cache.get(1)\n"
    )
    assert kept_caches(source) == [2, 3]


def test_no_other_platform_module_keeps_a_cache_of_its_own() -> None:
    own = [
        f"{path.relative_to(PLATFORM.parents[1])}:{line}"
        for path in sorted(PLATFORM.rglob("*.py"))
        if path != PLATFORM / "lru.py"
        for line in kept_caches(path.read_text(encoding="utf-8"))
    ]
    assert own == [], f"caches beside aigc/platform/lru.py: {own}"
