"""Accounts in the browser: sign up, log in, log out."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from aigc.platform import auth, throttle
from aigc.platform.api.routes import client_address
from aigc.platform.context import platform
from aigc.platform.models import PARTICIPANT
from aigc.platform.web.guards import local_path
from aigc.platform.web.signin import current_user, log_in, log_out

bp = Blueprint("accounts", __name__)
SIGNUP_CLOSED = "sign-up is closed here: ask an organizer for an account"


def _next() -> str:
    return local_path(request.values.get("next")) or url_for("pages.home")


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Any:
    """Create a participant account and sign in with it."""
    p = platform()
    if not p.settings.open_signup:
        return render_template("signup.html", closed=SIGNUP_CLOSED, username=""), 403
    if current_user() is not None and request.method == "GET":
        return redirect(_next())
    username = request.form.get("username", "").strip()
    if request.method == "GET":
        return render_template("signup.html", username=username)
    password = request.form.get("password", "")
    if password != request.form.get("confirm", ""):
        return _refused("signup.html", "the passwords differ: type the same one twice", username)
    try:
        limit = throttle.sign_up_per_address(p.settings.signups_per_hour)
        throttle.attempt(p.db, [(limit, client_address())])
    except throttle.Throttled as exc:
        return _throttled("signup.html", exc, username)
    with p.db.session() as session:
        try:
            user = auth.create_user(session, username, password, PARTICIPANT)
        except auth.AuthError as exc:
            return _refused("signup.html", str(exc), username)
        log_in(session, user)
    flash(f"Welcome, {username}: your account is ready.")
    return redirect(_next())


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in with a username and password, then go back where the visitor came from."""
    if request.method == "GET":
        if current_user() is not None:
            return redirect(_next())
        return render_template("login.html", username="")
    p = platform()
    username = request.form.get("username", "").strip()
    try:
        # As the API does: refused before any password is hashed while a limit is used up.
        counted = throttle.attempt(p.db, throttle.sign_in_limits(username, client_address()))
    except throttle.Throttled as exc:
        return _throttled("login.html", exc, username)
    with p.db.session() as session:
        user = auth.authenticate(session, username, request.form.get("password", ""))
        if user is None:
            return _refused("login.html", "wrong username or password", username)
        counted.forget(session)
        log_in(session, user)
    return redirect(_next())


@bp.post("/logout")
def logout() -> Any:
    """Sign out (on the server: a copy of the cookie signs no one in) and go home."""
    log_out()
    flash("You are signed out.")
    return redirect(url_for("pages.home"))


def _refused(template: str, message: str, username: str) -> Any:
    return render_template(template, error=message, username=username), 400


def _throttled(template: str, exc: throttle.Throttled, username: str) -> Any:
    page = render_template(template, error=str(exc), username=username)
    return page, 429, {"Retry-After": str(exc.retry_after)}
