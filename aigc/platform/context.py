"""What every view and task of one app needs, and the one way to reach it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from flask import Flask, current_app

from aigc.platform.board_cache import BoardCache
from aigc.platform.db import Database
from aigc.platform.lru import LRU
from aigc.platform.queue import Queue
from aigc.platform.settings import Settings
from aigc.platform.storage import PackageStore

EXTENSION = "aigc"
FRAGMENTS = 512  # rendered pieces of pages kept


@dataclass
class Platform:
    """Settings, database, package storage, queue and caches: one per app."""

    settings: Settings
    db: Database
    store: PackageStore
    queue: Queue
    boards: BoardCache = field(default_factory=BoardCache)
    # Rendered pieces of pages (SVG charts, say) by key.
    fragments: LRU[tuple[Any, ...], Any] = field(default_factory=lambda: LRU(FRAGMENTS))

    def attach(self, app: Flask) -> None:
        """Make this the platform of ``app``."""
        app.extensions[EXTENSION] = self


def platform(app: Flask | None = None) -> Platform:
    """The platform of ``app``, or of the app handling the current request."""
    return cast(Platform, (app or current_app).extensions[EXTENSION])
