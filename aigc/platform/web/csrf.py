"""Cross-site request forgery: every form of the pages carries the session's token.

The token is checked before any POST view of the pages runs; the API takes bearer tokens,
never the cookie, so a forged request cannot act through it and it needs no token.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Collection

from flask import abort, request, session

CSRF_FIELD = "csrf_token"
FORM_EXPIRED = "the form expired: reload the page and try again"


def new_csrf_token() -> str:
    """Give the session a fresh token (on signing in: the old one is worth nothing)."""
    token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def csrf_token() -> str:
    """The session's CSRF token, made on first use."""
    token = session.get(CSRF_FIELD)
    return token if isinstance(token, str) else new_csrf_token()


def checker(blueprints: Collection[str]) -> Callable[[], None]:
    """A before-request check of the token on POSTs to these blueprints' views."""

    def check_csrf() -> None:
        if request.method != "POST" or request.blueprint not in blueprints:
            return
        expected = session.get(CSRF_FIELD)
        given = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token", "")
        if not isinstance(expected, str) or not hmac.compare_digest(expected, given):
            abort(400, description=FORM_EXPIRED)

    return check_csrf
