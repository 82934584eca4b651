"""The REST API under ``/api/v1``: token auth, JSON in and out, JSON errors.

Every route is declared with :func:`route`, which records what the OpenAPI document at
``/api/v1/openapi.json`` says about it, so the document and the routes cannot drift apart.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from aigc.platform import auth, ids, throttle
from aigc.platform.models import User, now

API_PREFIX = "/api/v1"
api = Blueprint("api", __name__, url_prefix=API_PREFIX)


class ApiError(Exception):
    """An error answered as ``{"error": {"status", "message", ...}}``.

    With ``retry_at`` (a 429, say) the answer also says when to try again: ``retry_at`` in
    the body and ``Retry-After`` in the headers.
    """

    def __init__(self, status: int, message: str, retry_at: datetime | None = None, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.retry_at, self.extra = status, message, retry_at, extra


@dataclass(frozen=True)
class RouteDoc:
    rule: str
    method: str
    endpoint: str
    summary: str
    access: str  # "anyone", "user" or "organizer"
    request: dict[str, Any] | None = None  # OpenAPI requestBody
    response: str | None = None  # name of a schema in openapi.SCHEMAS
    errors: tuple[int, ...] = ()
    parameters: list[dict[str, Any]] = field(default_factory=list)  # query parameters
    success: int = 200
    content: dict[str, Any] = field(default_factory=dict)  # other media types of the success


ROUTES: list[RouteDoc] = []


def route(
    rule: str,
    method: str,
    summary: str,
    access: str,
    *,
    request_body: dict[str, Any] | None = None,
    response: str | None = None,
    errors: tuple[int, ...] = (),
    parameters: list[dict[str, Any]] | None = None,
    success: int = 200,
    content: dict[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view on the API blueprint and document it.

    The declared access is enforced before the view runs, so no view reads a request
    body from someone it would refuse, and the document cannot promise other than is done.
    Path parameters are documented from the rule itself; ``parameters`` lists the query's.
    """
    if any(p["in"] == "path" for p in parameters or ()):
        raise ValueError(f"{rule}: path parameters are documented from the rule, not declared")

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        guarded = view
        if access != "anyone":

            @functools.wraps(view)
            def guarded(**kwargs: Any) -> Any:
                with platform().db.session() as session:
                    require_user(session, organizer=access == "organizer")
                return view(**kwargs)

        api.add_url_rule(rule, endpoint=view.__name__, view_func=guarded, methods=[method])
        ROUTES.append(
            RouteDoc(
                rule=rule,
                method=method,
                endpoint=view.__name__,
                summary=summary,
                access=access,
                request=request_body,
                response=response,
                errors=errors,
                parameters=parameters or [],
                success=success,
                content=content or {},
            )
        )
        return view

    return decorate


def json_fields(*required: str) -> dict[str, Any]:
    """The OpenAPI requestBody of a JSON object with these required text fields."""
    schema = {
        "type": "object",
        "required": list(required),
        "properties": {name: {"type": "string", "minLength": 1} for name in required},
    }
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def platform() -> Any:
    """The platform object of the running app (settings, database, storage, queue)."""
    return current_app.extensions["aigc"]


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def viewer(session: Session) -> User | None:
    """The user the request's token belongs to, or None for anonymous requests."""
    token = bearer_token()
    if token is None:
        return None
    try:
        user = auth.user_for_token(session, token)
    except auth.TokenExpired as exc:
        raise ApiError(401, str(exc)) from None
    if user is None:
        raise ApiError(401, "the API token is invalid or revoked: sign in again (aigc login)")
    return user


def require_user(session: Session, organizer: bool = False) -> User:
    user = viewer(session)
    if user is None:
        raise ApiError(
            401, "sign in first: send 'Authorization: Bearer <token>' (aigc login gets a token)"
        )
    if organizer and not user.is_organizer:
        raise ApiError(403, "only organizers may do this")
    return user


def client_address() -> str:
    """The address the request came from (behind proxies, see AIGC_TRUSTED_PROXIES)."""
    return request.remote_addr or "unknown"


def json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(
            400, "send a JSON object as the request body (Content-Type: application/json)"
        )
    return data


def text_field(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"the field {name!r} is missing or not text")
    return value


def exception_headers(error: HTTPException) -> list[tuple[str, str]]:
    """The headers an HTTP error carries besides its body's type: Allow on a 405, say."""
    return [
        (name, value)
        for name, value in error.get_headers(request.environ)
        if name.lower() != "content-type"
    ]


def _error_response(status: int, message: str, **extra: Any) -> Any:
    response = jsonify({"error": {"status": status, "message": message, **extra}})
    response.status_code = status
    return response


def register(app: Flask) -> None:
    """Attach the API and its JSON error handling to the app."""
    from aigc.platform.api import (  # noqa: F401
        account_routes,
        challenge_routes,
        openapi,
        submission_routes,
    )

    ids.init_app(app)
    app.register_blueprint(api)

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Any:
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

    @app.errorhandler(throttle.Throttled)
    def throttled(error: throttle.Throttled) -> Any:
        return api_error(ApiError(429, str(error), retry_at=error.retry_at))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        if not request.path.startswith(API_PREFIX):
            return error
        messages = {
            404: "no such API route or id: see /api/v1/openapi.json",
            405: f"{request.method} is not allowed here: see /api/v1/openapi.json",
            413: "the upload is larger than the platform accepts: shrink the package",
        }
        message = messages.get(error.code or 0, error.description or error.name)
        response = _error_response(error.code or 500, message)
        response.headers.extend(exception_headers(error))
        return response
