"""The Flask application factory: settings, database, package storage and queue, wired together.

Start-up (migrating, loading challenges, seeding baselines, taking back the queue) is
:mod:`aigc.platform.startup`'s; this builds the app it serves.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from aigc.platform import api, web
from aigc.platform.api import errors as api_errors
from aigc.platform.api.routes import API_PREFIX
from aigc.platform.context import Platform, platform
from aigc.platform.db import Database
from aigc.platform.queue import CeleryQueue, InProcessQueue, Queue, make_celery
from aigc.platform.settings import Settings
from aigc.platform.storage import PackageStore
from aigc.platform.submission_actions import FORM_OVERHEAD, too_large
from aigc.platform.web import responses


def make_queue(settings: Settings, db: Database, store: PackageStore) -> Queue:
    """Celery through the broker when one is configured, else the in-process pool."""
    if settings.broker_url:
        return CeleryQueue(make_celery(settings))
    return InProcessQueue(db, settings, store)


def http_error(error: HTTPException) -> Any:
    """An HTTP error in the words of the part that was asked: JSON for the API, else a page."""
    if error.code == 413 and request.content_length is not None:
        limit = platform().settings.max_upload_bytes
        error = RequestEntityTooLarge(too_large(request.content_length, limit))
    if request.path.startswith(API_PREFIX):
        return api_errors.http_error(error)
    return responses.error_page(error)


def create_app(settings: Settings | None = None, queue: Queue | None = None) -> Flask:
    """Create the app; the database must be migrated (:func:`aigc.platform.startup.start`
    does it)."""
    settings = settings or Settings.from_env()
    db = Database(settings.database_url)
    store = PackageStore(settings.storage_dir, settings.archive_limits)
    app = Flask("aigc")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + FORM_OVERHEAD,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
        # The cookie's signature lapses with the sign-in it carries (the server ends it too).
        PERMANENT_SESSION_LIFETIME=settings.token_lifetime,
    )
    if settings.trusted_proxies:
        # The client's address and scheme as the proxies in front say (the throttles count
        # per address); without proxies these headers are anyone's to forge and are ignored.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    Platform(settings, db, store, queue or make_queue(settings, db, store)).attach(app)
    api.register(app)
    web.register(app)
    app.register_error_handler(HTTPException, http_error)
    return app
