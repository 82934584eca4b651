"""Ids in URLs: whole numbers that every database the platform runs on can hold."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

# Primary keys are INTEGER: 32 bits on PostgreSQL (SQLite's 64 bits hold more).
MAX_ID = 2**31 - 1
ID_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


class IdConverter(IntegerConverter):
    """``<id:name>``: 1 to MAX_ID, so any other number is a 404 before a query is made."""

    regex = "[0-9]{1,10}"  # ASCII digits only, and no more than MAX_ID has

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=MAX_ID)


class IndexConverter(IntegerConverter):
    """``<index:name>``: a position counted from 0 (an episode's), 0 to MAX_ID."""

    regex = "[0-9]{1,10}"

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=0, max=MAX_ID)


def init_app(app: Flask) -> None:
    """Let the app's rules say ``<id:name>`` and ``<index:name>`` (before registering them)."""
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["index"] = IndexConverter
