"""The web pages: HTML for participants and organizers, beside the JSON API.

Who is signed in is a row on the server (``WebSession``) whose key rides in Flask's signed
session cookie: signing out deletes the row, so no copy of the cookie works afterwards, and
the row expires after ``AIGC_TOKEN_DAYS`` like an API token. The API never reads that cookie
(it takes bearer tokens only), so a forged cross-site request cannot act through it; the
pages' own forms each carry the session's CSRF token, checked before any POST view runs.
Pages are sent with a strict Content-Security-Policy: scripts and styles come from our
own static files only, nothing from elsewhere, nothing inline.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from aigc.platform import auth, ids
from aigc.platform.api import API_PREFIX, exception_headers
from aigc.platform.models import User

if TYPE_CHECKING:
    from aigc.platform.app import Platform

log = logging.getLogger("aigc.web")
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
CSRF_FIELD = "csrf_token"
SESSION_KEY = "sign_in"  # the key of the browser's WebSession row
FORM_EXPIRED = "the form expired: reload the page and try again"
ACTIVE = ("queued", "running")
# Our own wording for error pages; a view's abort(code, description) says more.
ERRORS = {
    400: ("Bad request", "the request could not be understood: go back and try again"),
    403: ("Forbidden", "only organizers may open this page"),
    404: ("Not found", "there is no such page: the menu above leads to the existing ones"),
    405: ("Method not allowed", "this page cannot be used that way: follow a link or a form"),
    413: ("Too large", "the upload is larger than the platform accepts: shrink the package"),
    500: ("Server error", "something went wrong on our side: try again in a moment"),
}

assets = Blueprint(
    "web", __name__, static_folder="static", static_url_path="/assets", template_folder="templates"
)


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


def platform() -> Platform:
    """The platform object of the running app (settings, database, storage, queue, boards)."""
    return cast("Platform", current_app.extensions["aigc"])


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
    session[CSRF_FIELD] = secrets.token_urlsafe(32)
    g.pop("viewer", None)


def log_out() -> None:
    """End the browser's sign-in on the server, then forget it here."""
    key = session.get(SESSION_KEY)
    if isinstance(key, str):
        with platform().db.session() as db:
            auth.end_web_session(db, key)
    session.clear()
    g.viewer = None


def csrf_token() -> str:
    """The session's CSRF token, made on first use."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def _check_csrf() -> None:
    if request.method != "POST" or request.blueprint not in WEB_BLUEPRINTS:
        return
    expected = session.get(CSRF_FIELD)
    given = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token", "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected, given):
        abort(400, description=FORM_EXPIRED)


def local_path(target: str | None) -> str | None:
    """Return the target if it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 33 for c in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def _login_redirect() -> Any:
    here = request.full_path if request.query_string else request.path
    return redirect(url_for("accounts.login", next=here))


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send anonymous visitors to the login page, and back here after it."""

    @functools.wraps(view)
    def guarded(**kwargs: Any) -> Any:
        if current_user() is None:
            return _login_redirect()
        return view(**kwargs)

    return guarded


def organizers_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Anonymous visitors log in first; participants get a 403 page."""

    @functools.wraps(view)
    def guarded(**kwargs: Any) -> Any:
        viewer = current_user()
        if viewer is None:
            return _login_redirect()
        if not viewer.is_organizer:
            abort(403)
        return view(**kwargs)

    return guarded


def send(p: Platform, submission_id: int) -> None:
    """Hand a committed submission to the queue, as the API does.

    The stored row is what counts: if the queue cannot take it now, the submission stays
    queued and the workers' sweep sends it later, so the request still succeeds.
    """
    try:
        p.queue.enqueue(submission_id)
    except Exception:
        log.exception("submission %s is stored but not yet sent to the queue", submission_id)


def inline_svg(svg: str) -> Markup:
    """Mark one of our plots safe for inlining (HTML needs no namespace URL on <svg>)."""
    return Markup(svg.replace(' xmlns="http://www.w3.org/2000/svg"', "", 1))


class FragmentCache:
    """Rendered pieces of pages (SVG charts, say) by key; least recently used go first."""

    def __init__(self, size: int = 512):
        self.size = size
        self.items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = make()
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


def fragments() -> FragmentCache:
    return cast(FragmentCache, current_app.extensions["aigc_web"])


def when(moment: datetime | None) -> str:
    """A timestamp as people read it, in UTC."""
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "—"


def number(value: float | None, digits: int | None = None) -> str:
    """A score with as many decimals as its size needs (or ``digits``)."""
    if value is None:
        return "—"
    if digits is None:
        digits = decimals(abs(value))
    return f"{value:.{digits}f}"


def decimals(size: float) -> int:
    return 1 if size >= 100 else 2 if size >= 1 else 3


def _security_headers(response: Any) -> Any:
    if not request.path.startswith(API_PREFIX):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
    return response


def error_page(error: HTTPException) -> Any:
    code = error.code or 500
    title, message = ERRORS.get(code, (error.name, error.description or error.name))
    if error.description and error.description != type(error).description:
        message = error.description
    headers = exception_headers(error)
    try:
        return render_template("error.html", code=code, title=title, message=message), code, headers
    except Exception:  # the page itself failed (the database is down, say): say it plainly
        log.exception("the error page for %s could not be rendered", code)
        plain = [*headers, ("Content-Type", "text/plain; charset=utf-8")]
        return f"{code} {title}: {message}", code, plain


def _template_globals() -> dict[str, Any]:
    return {
        "viewer": current_user(),
        "open_signup": platform().settings.open_signup,
    }


WEB_BLUEPRINTS: set[str] = set()


def register(app: Flask) -> None:
    """Attach the pages, their session handling and HTML error pages to the app."""
    from aigc.platform.web import (
        account_pages,
        challenge_pages,
        leaderboard_page,
        organizer_pages,
        submission_pages,
    )

    ids.init_app(app)
    blueprints = [
        assets,
        challenge_pages.bp,
        account_pages.bp,
        submission_pages.bp,
        leaderboard_page.bp,
        organizer_pages.bp,
    ]
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
        WEB_BLUEPRINTS.add(blueprint.name)
    app.extensions["aigc_web"] = FragmentCache()
    app.before_request(_check_csrf)
    app.after_request(_security_headers)
    app.context_processor(_template_globals)
    app.add_template_filter(when, "when")
    app.add_template_filter(number, "number")
    app.add_template_global(local_path, "local_path")
    app.add_template_global(csrf_token, "csrf_token")
    app.add_template_global(challenge_pages.phase_dates, "phase_dates")

    api_handler = app.error_handler_spec[None][None].get(HTTPException)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        if request.path.startswith(API_PREFIX):
            return api_handler(error) if api_handler else error
        return error_page(error)
