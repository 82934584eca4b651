"""Who may open a page: decorators for signed-in and organizer pages, and safe returns."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import abort, redirect, request, url_for

from aigc.platform.web.signin import current_user


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
