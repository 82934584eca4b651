"""Who is signed in to the pages: a row on the server whose key rides in the session cookie.

Who is signed in is a row on the server (``WebSession``) whose key rides in Flask's signed
session cookie: signing out deletes the row, so no copy of the cookie works afterwards, and
the row expires after ``AIGC_TOKEN_DAYS`` like an API token. The API never reads that
cookie (it takes bearer tokens only).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, cast

from flask import g, session
from sqlalchemy.orm import Session

from aigc.platform import auth
from aigc.platform.context import platform
from aigc.platform.models import User
from aigc.platform.web.csrf import new_csrf_token

SESSION_KEY = "sign_in"  # the key of the browser's WebSession row


@dataclass(frozen=True)
class Viewer:
    """The signed-in user as the pages need them (loaded once per request)."""

    id: int
    username: str
    role: str
    team: str | None

    @property
    def is_organizer(self) -> bool:
        return self.role == "organizer"


def _fingerprint(user: User) -> str:
    # A new password ends the sessions signed in with the old one.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def current_user() -> Viewer | None:
    """Return who is signed in, or None (one query per request, only when asked)."""
    if "viewer" not in g:
        g.viewer = None
        key = session.get(SESSION_KEY)
        if isinstance(key, str):
            with platform().db.session() as db:
                user = auth.user_for_web_session(db, key)
                if user is not None and hmac.compare_digest(
                    _fingerprint(user), str(session.get("auth", ""))
                ):
                    team = user.team.name if user.team else None
                    g.viewer = Viewer(user.id, user.username, user.role, team)
            if g.viewer is None:
                session.clear()
    return cast("Viewer | None", g.viewer)


def log_in(db: Session, user: User) -> None:
    """Start a fresh session for the user (a new CSRF token too), ending the browser's last."""
    previous = session.get(SESSION_KEY)
    if isinstance(previous, str):
        auth.end_web_session(db, previous)
    session.clear()
    session[SESSION_KEY] = auth.start_web_session(db, user, platform().settings.token_lifetime)
    session["auth"] = _fingerprint(user)
    new_csrf_token()
    g.pop("viewer", None)


def log_out() -> None:
    """End the browser's sign-in on the server, then forget it here."""
    key = session.get(SESSION_KEY)
    if isinstance(key, str):
        with platform().db.session() as db:
            auth.end_web_session(db, key)
    session.clear()
    g.viewer = None


def template_globals() -> dict[str, Any]:
    """What every page's template may use: the viewer, and whether sign-up is open."""
    return {"viewer": current_user(), "open_signup": platform().settings.open_signup}
