"""Accounts: sign-up, API tokens, the current user, teams."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Response
from sqlalchemy import select

from aigc.platform import auth
from aigc.platform.api import (
    ApiError,
    bearer_token,
    json_body,
    json_fields,
    platform,
    require_user,
    route,
    text_field,
)
from aigc.platform.api.render import team_json, user_json
from aigc.platform.models import PARTICIPANT, Team

CREDENTIALS = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Credentials"}}},
}


@route(
    "/users",
    "POST",
    "Create a participant account",
    "anyone",
    request_body=CREDENTIALS,
    response="User",
    errors=(400, 403, 409),
    success=201,
)
def sign_up() -> Any:
    if not platform().settings.open_signup:
        raise ApiError(403, "sign-up is closed here: ask an organizer for an account")
    data = json_body()
    with platform().db.session() as session:
        try:
            user = auth.create_user(
                session, text_field(data, "username"), text_field(data, "password"), PARTICIPANT
            )
        except auth.AuthError as exc:
            raise ApiError(409 if "taken" in str(exc) else 400, str(exc)) from None
        return user_json(user), 201


@route(
    "/tokens",
    "POST",
    "Sign in: trade a username and password for an API token",
    "anyone",
    request_body=CREDENTIALS,
    response="Token",
    errors=(400, 401),
    success=201,
)
def sign_in() -> Any:
    data = json_body()
    with platform().db.session() as session:
        user = auth.authenticate(
            session, text_field(data, "username"), text_field(data, "password")
        )
        if user is None:
            raise ApiError(401, "wrong username or password")
        token = auth.issue_token(session, user, str(data.get("name", "")))
        return {"token": token, "user": user_json(user)}, 201


@route(
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


@route("/me", "GET", "Show the signed-in user", "user", response="User", errors=(401,))
def me() -> Any:
    with platform().db.session() as session:
        return user_json(require_user(session))


@route(
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
    name = text_field(json_body(), "name").strip()
    if not 2 <= len(name) <= 64:
        raise ApiError(400, "a team name has 2 to 64 characters")
    with platform().db.session() as session:
        user = require_user(session)
        if user.team is not None:
            raise ApiError(409, f"you are in team {user.team.name!r}: leave it first")
        if session.scalar(select(Team).where(Team.name == name)) is not None:
            raise ApiError(409, f"the team name {name!r} is taken: choose another")
        team = Team(name=name, join_code=secrets.token_urlsafe(12))
        session.add(team)
        session.flush()
        user.team = team
        session.flush()
        return team_json(team, with_code=True), 201


@route(
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
        if user.team is not None:
            raise ApiError(409, f"you are in team {user.team.name!r}: leave it first")
        team = session.scalar(select(Team).where(Team.join_code == code))
        if team is None:
            raise ApiError(404, "no team has this join code: ask a member for the current one")
        user.team = team
        session.flush()
        return team_json(team, with_code=True)


@route(
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


@route("/me/team", "DELETE", "Leave your team", "user", errors=(401, 404), success=204)
def leave_team() -> Any:
    with platform().db.session() as session:
        user = require_user(session)
        if user.team is None:
            raise ApiError(404, "you are in no team")
        user.team = None
    return Response(status=204)
