"""Accounts in the browser: sign up, log in, log out."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from aigc.platform import auth
from aigc.platform.models import PARTICIPANT
from aigc.platform.web import current_user, local_path, log_in, log_out, platform

bp = Blueprint("accounts", __name__)
SIGNUP_CLOSED = "sign-up is closed here: ask an organizer for an account"


def _next() -> str:
    return local_path(request.values.get("next")) or url_for("pages.home")


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Any:
    """Create a participant account and sign in with it."""
    if not platform().settings.open_signup:
        return render_template("signup.html", closed=SIGNUP_CLOSED, username=""), 403
    if current_user() is not None and request.method == "GET":
        return redirect(_next())
    username = request.form.get("username", "").strip()
    if request.method == "GET":
        return render_template("signup.html", username=username)
    password = request.form.get("password", "")
    if password != request.form.get("confirm", ""):
        return _refused("signup.html", "the passwords differ: type the same one twice", username)
    with platform().db.session() as session:
        try:
            user = auth.create_user(session, username, password, PARTICIPANT)
        except auth.AuthError as exc:
            return _refused("signup.html", str(exc), username)
        log_in(user)
    flash(f"Welcome, {username}: your account is ready.")
    return redirect(_next())


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in with a username and password, then go back where the visitor came from."""
    if request.method == "GET":
        if current_user() is not None:
            return redirect(_next())
        return render_template("login.html", username="")
    username = request.form.get("username", "").strip()
    with platform().db.session() as session:
        user = auth.authenticate(session, username, request.form.get("password", ""))
        if user is None:
            return _refused("login.html", "wrong username or password", username)
        log_in(user)
    return redirect(_next())


@bp.post("/logout")
def logout() -> Any:
    """Sign out and go to the home page."""
    log_out()
    flash("You are signed out.")
    return redirect(url_for("pages.home"))


def _refused(template: str, message: str, username: str) -> Any:
    return render_template(template, error=message, username=username), 400
