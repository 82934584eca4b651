"""Command lines for settings dataclasses: one ``--option`` per field, its docstring the help.

The baselines and the text environment's training scripts keep their settings as dataclasses
with a docstring under each field (in the manner of CleanRL); this turns them into options.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import itertools
from typing import Any, TypeVar, get_origin, get_type_hints

T = TypeVar("T")


def field_docs(cls: type) -> dict[str, str]:
    """Return each dataclass field's docstring: the string literal on the line below it."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = after.value.value
    return docs


def add_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add an option per field of ``cls``: ``--x/--no-x`` for a bool, several integers for a
    tuple, else one value of the field's type. An option left out parses as None."""
    docs, hints = field_docs(cls), get_type_hints(cls)
    for field in dataclasses.fields(cls):
        kind = hints[field.name]
        option = "--" + field.name.replace("_", "-")
        help_text = f"{docs.get(field.name, '')} (default: {field.default})"
        if kind is bool:
            parser.add_argument(option, action=argparse.BooleanOptionalAction, help=help_text)
        elif get_origin(kind) is tuple:
            parser.add_argument(option, type=int, nargs="+", help=help_text)
        else:
            parser.add_argument(option, type=kind, help=help_text)


def options_given(namespace: argparse.Namespace) -> dict[str, Any]:
    """The options a command line gave (lists as tuples), without those left out."""
    return {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in vars(namespace).items()
        if value is not None
    }


def parse_dataclass_args(cls: type[T], doc: str | None, argv: list[str] | None = None) -> T:
    """Parse a command line into the dataclass ``cls``, one ``--option`` per field; the first
    line of ``doc`` describes the command."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    add_options(parser, cls)
    return cls(**options_given(parser.parse_args(argv)))
