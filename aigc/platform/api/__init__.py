"""The REST API under ``/api/v1``: token auth, JSON in and out, JSON errors.

Routes are declared per feature (``*_routes.py``) with :mod:`aigc.platform.api.routes`;
:func:`register` attaches them and the API's error handling to an app.
"""

from __future__ import annotations

from flask import Flask

from aigc.platform import ids
from aigc.platform.api import (
    account_routes,
    challenge_routes,
    episode_routes,
    errors,
    openapi,
    submission_routes,
)
from aigc.platform.api.routes import RouteDoc, RouteTable, attach_all

TABLES: tuple[RouteTable, ...] = (
    account_routes.routes,
    challenge_routes.routes,
    episode_routes.routes,
    openapi.routes,
    submission_routes.routes,
)


def route_docs() -> list[RouteDoc]:
    """Every route of the API, as declared."""
    return [doc for table in TABLES for doc in table.docs()]


def register(app: Flask) -> None:
    """Attach the API and its JSON error handling to the app."""
    ids.init_app(app)
    attach_all(app, TABLES)
    errors.init_app(app)
