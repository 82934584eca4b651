"""Declaring the REST API's routes, and reading who asks and what they send.

Each feature module declares its routes on its own :class:`RouteTable`; the tables are
attached to the app by :func:`aigc.platform.api.register`, which also keeps what they
declare for the OpenAPI document, so the document and the routes cannot drift apart.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from flask import Blueprint, Flask, request
from sqlalchemy.orm import Session

from aigc.platform import auth
from aigc.platform.api.errors import ApiError
from aigc.platform.context import platform
from aigc.platform.models import User

API_PREFIX = "/api/v1"
DOCUMENTED = "aigc_api_routes"  # the app's extension holding every registered RouteDoc


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


class RouteTable:
    """The routes of one feature: declared with :meth:`route`, attached by the app factory."""

    def __init__(self) -> None:
        self.routes: list[tuple[RouteDoc, Callable[..., Any]]] = []

    def route(
        self,
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
        """Declare a view and document it.

        The declared access is enforced before the view runs, so no view reads a request
        body from someone it would refuse, and the document cannot promise other than is
        done. Path parameters are documented from the rule itself; ``parameters`` lists
        the query's.
        """
        if any(p["in"] == "path" for p in parameters or ()):
            raise ValueError(f"{rule}: path parameters are documented from the rule, not declared")

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            doc = RouteDoc(
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
            self.routes.append((doc, _guarded(view, access)))
            return view

        return decorate

    def docs(self) -> list[RouteDoc]:
        return [doc for doc, _view in self.routes]

    def attach(self, blueprint: Blueprint) -> None:
        """Add the table's views to the API's blueprint."""
        for doc, view in self.routes:
            blueprint.add_url_rule(
                doc.rule, endpoint=doc.endpoint, view_func=view, methods=[doc.method]
            )


def _guarded(view: Callable[..., Any], access: str) -> Callable[..., Any]:
    if access == "anyone":
        return view

    @functools.wraps(view)
    def guarded(**kwargs: Any) -> Any:
        with platform().db.session() as session:
            require_user(session, organizer=access == "organizer")
        return view(**kwargs)

    return guarded


def attach_all(app: Flask, tables: Sequence[RouteTable]) -> None:
    """Serve every table's routes under API_PREFIX and keep their documentation."""
    blueprint = Blueprint("api", __name__, url_prefix=API_PREFIX)
    for table in tables:
        table.attach(blueprint)
    app.register_blueprint(blueprint)
    app.extensions[DOCUMENTED] = [doc for table in tables for doc in table.docs()]


def documented(app: Flask) -> list[RouteDoc]:
    """Every route registered on the app's API, as declared."""
    return cast(list[RouteDoc], app.extensions[DOCUMENTED])


def json_fields(*required: str) -> dict[str, Any]:
    """The OpenAPI requestBody of a JSON object with these required text fields."""
    schema = {
        "type": "object",
        "required": list(required),
        "properties": {name: {"type": "string", "minLength": 1} for name in required},
    }
    return {"required": True, "content": {"application/json": {"schema": schema}}}


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
