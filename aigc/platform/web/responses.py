"""What every page's response carries: security headers, and error pages in our words.

Pages are sent with a strict Content-Security-Policy: scripts and styles come from our
own static files only, nothing from elsewhere, nothing inline.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import render_template, request
from werkzeug.exceptions import HTTPException

from aigc.platform.api.errors import exception_headers, too_large
from aigc.platform.api.routes import API_PREFIX

log = logging.getLogger("aigc.web")
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
# Our own wording for error pages; a view's abort(code, description) says more.
ERRORS = {
    400: ("Bad request", "the request could not be understood: go back and try again"),
    403: ("Forbidden", "only organizers may open this page"),
    404: ("Not found", "there is no such page: the menu above leads to the existing ones"),
    405: ("Method not allowed", "this page cannot be used that way: follow a link or a form"),
    413: ("Too large", "the upload is larger than the platform accepts: shrink the package"),
    500: ("Server error", "something went wrong on our side: try again in a moment"),
}


def security_headers(response: Any) -> Any:
    """Add the pages' policy headers (the API's JSON answers are left as they are)."""
    if not request.path.startswith(API_PREFIX):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
    return response


def error_page(error: HTTPException) -> Any:
    """Answer an HTTP error with a page (or plain text, if even the page fails)."""
    code = error.code or 500
    title, message = ERRORS.get(code, (error.name, error.description or error.name))
    if error.description and error.description != type(error).description:
        message = error.description
    elif code == 413:
        from aigc.platform.context import platform

        message = too_large(platform().settings.max_upload_bytes)
    headers = exception_headers(error)
    try:
        return render_template("error.html", code=code, title=title, message=message), code, headers
    except Exception:  # the page itself failed (the database is down, say): say it plainly
        log.exception("the error page for %s could not be rendered", code)
        plain = [*headers, ("Content-Type", "text/plain; charset=utf-8")]
        return f"{code} {title}: {message}", code, plain
