"""Accounts: sign-up, API tokens, the current user, teams."""

from __future__ import annotations

from typing import Any

from flask import Response

from aigc.platform import auth, teams, throttle
from aigc.platform.api.errors import ApiError
from aigc.platform.api.render import team_json, user_json, when
from aigc.platform.api.routes import (
    RouteTable,
    bearer_token,
    client_address,
    json_body,
    json_fields,
    require_user,
    text_field,
)
from aigc.platform.context import platform
from aigc.platform.models import PARTICIPANT, now

routes = RouteTable()

CREDENTIALS = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Credentials"}}},
}
NEW_ACCOUNT = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewAccount"}}},
}


@routes.route(
    "/users",
    "POST",
    "Create a participant account (a few an hour from one address)",
    "anyone",
    request_body=NEW_ACCOUNT,
    response="User",
    errors=(400, 403, 409, 429),
    success=201,
)
def sign_up() -> Any:
    p = platform()
    if not p.settings.open_signup:
        raise ApiError(403, "sign-up is closed here: ask an organizer for an account")
    data = json_body()
    username, password = text_field(data, "username"), text_field(data, "password")
    limit = throttle.sign_up_per_address(p.settings.signups_per_hour)
    throttle.attempt(p.db, [(limit, client_address())])
    with p.db.session() as session:
        try:
            user = auth.create_user(session, username, password, PARTICIPANT)
        except auth.AuthError as exc:
            raise ApiError(409 if "taken" in str(exc) else 400, str(exc)) from None
        return user_json(user), 201


@routes.route(
    "/tokens",
    "POST",
    "Sign in: trade a username and password for an API token (failures are throttled)",
    "anyone",
    request_body=CREDENTIALS,
    response="Token",
    errors=(400, 401, 429),
    success=201,
)
def sign_in() -> Any:
    data = json_body()
    username, password = text_field(data, "username"), text_field(data, "password")
    p = platform()
    # Refused here, before any password is hashed, while either limit is used up.
    counted = throttle.attempt(p.db, throttle.sign_in_limits(username, client_address()))
    with p.db.session() as session:
        user = auth.authenticate(session, username, password)
        if user is None:
            raise ApiError(401, "wrong username or password")
        # Only this attempt is forgotten: earlier failures from here, or for this name, stay.
        counted.forget(session)
        expires_at = now() + p.settings.token_lifetime
        token = auth.issue_token(session, user, str(data.get("name", "")), expires_at)
        return {"token": token, "expires_at": when(expires_at), "user": user_json(user)}, 201


@routes.route(
    "/tokens/current",
    "DELETE",
    "Sign out: revoke the token of this request",
    "user",
    errors=(401,),
    success=204,
)
def sign_out() -> Any:
    with platform().db.session() as session:
        require_user(session)
        auth.revoke_token(session, bearer_token() or "")
    return Response(status=204)


@routes.route("/me", "GET", "Show the signed-in user", "user", response="User", errors=(401,))
def me() -> Any:
    with platform().db.session() as session:
        return user_json(require_user(session))


@routes.route(
    "/teams",
    "POST",
    "Create a team and join it",
    "user",
    response="Team",
    request_body=json_fields("name"),
    errors=(400, 401, 409),
    success=201,
)
def create_team() -> Any:
    name = text_field(json_body(), "name")
    with platform().db.session() as session:
        user = require_user(session)
        try:
            team = teams.create(session, user, name)
        except teams.TeamRefused as exc:
            raise ApiError(exc.status, exc.message) from None
        return team_json(team, with_code=True), 201


@routes.route(
    "/teams/join",
    "POST",
    "Join a team with its join code",
    "user",
    response="Team",
    request_body=json_fields("code"),
    errors=(400, 401, 404, 409),
)
def join_team() -> Any:
    code = text_field(json_body(), "code")
    with platform().db.session() as session:
        user = require_user(session)
        try:
            team = teams.join(session, user, code)
        except teams.TeamRefused as exc:
            raise ApiError(exc.status, exc.message) from None
        return team_json(team, with_code=True)


@routes.route(
    "/me/team",
    "GET",
    "Show your team with its join code",
    "user",
    response="Team",
    errors=(401, 404),
)
def my_team() -> Any:
    with platform().db.session() as session:
        user = require_user(session)
        if user.team is None:
            raise ApiError(404, "you are in no team: create one or join one with its code")
        return team_json(user.team, with_code=True)


@routes.route("/me/team", "DELETE", "Leave your team", "user", errors=(401, 404), success=204)
def leave_team() -> Any:
    with platform().db.session() as session:
        try:
            teams.leave(require_user(session))
        except teams.TeamRefused as exc:
            raise ApiError(exc.status, exc.message) from None
    return Response(status=204)
