"""Errors of the REST API, answered as JSON: ``{"error": {"status", "message", ...}}``."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from aigc.platform import throttle
from aigc.platform.models import now

# Our own wording for HTTP errors on API paths; others keep werkzeug's.
HTTP_MESSAGES = {
    404: "no such API route or id: see /api/v1/openapi.json",
    413: "the upload is larger than the platform accepts: shrink the package",
}


class ApiError(Exception):
    """An error answered as ``{"error": {"status", "message", ...}}``.

    With ``retry_at`` (a 429, say) the answer also says when to try again: ``retry_at`` in
    the body and ``Retry-After`` in the headers.
    """

    def __init__(self, status: int, message: str, retry_at: datetime | None = None, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.retry_at, self.extra = status, message, retry_at, extra


def too_large(limit: int) -> str:
    """The refusal of a request body over the limit, with the limit and the body's size."""
    from aigc.platform.submission_actions import too_large as refusal

    if request.content_length:
        return refusal(request.content_length, limit)
    return (
        f"the upload is larger than the {limit} bytes ({limit / 2**20:.1f} MiB) the platform "
        "accepts: shrink the package (leave out what the agent does not load)"
    )


def exception_headers(error: HTTPException) -> list[tuple[str, str]]:
    """The headers an HTTP error carries besides its body's type: Allow on a 405, say."""
    return [
        (name, value)
        for name, value in error.get_headers(request.environ)
        if name.lower() != "content-type"
    ]


def _error_response(status: int, message: str, **extra: Any) -> Response:
    response = jsonify({"error": {"status": status, "message": message, **extra}})
    response.status_code = status
    return response


def api_error(error: ApiError) -> Response:
    """Answer an ApiError: 401s name the scheme, refusals with a time say when to retry."""
    extra = dict(error.extra)
    if error.retry_at is not None:
        extra["retry_at"] = error.retry_at.isoformat().replace("+00:00", "Z")
    response = _error_response(error.status, error.message, **extra)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if error.retry_at is not None:
        wait = (error.retry_at - now()).total_seconds()
        response.headers["Retry-After"] = str(max(0, math.ceil(wait)))
    return response


def throttled(error: throttle.Throttled) -> Response:
    return api_error(ApiError(429, str(error), retry_at=error.retry_at))


def http_error(error: HTTPException) -> Response:
    """Answer an HTTP error (no route, wrong method, too large) on an API path as JSON."""
    if error.code == 405:
        message = f"{request.method} is not allowed here: see /api/v1/openapi.json"
    elif error.description and error.description != type(error).description:
        message = error.description  # our own words, raised with the error
    else:
        message = HTTP_MESSAGES.get(error.code or 0, error.description or error.name)
    response = _error_response(error.code or 500, message)
    response.headers.extend(exception_headers(error))
    return response


def init_app(app: Flask) -> None:
    """Answer the API's own errors and the throttles' refusals as JSON."""
    app.register_error_handler(ApiError, api_error)
    app.register_error_handler(throttle.Throttled, throttled)
