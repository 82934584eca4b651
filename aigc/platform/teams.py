"""Teams: make one, join one with its code, leave it. A team shares its quotas and its
place on every leaderboard."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from aigc.platform.models import Team, User

NAME_CHARS = (2, 64)


class TeamRefused(Exception):
    """A team change the platform will not make; ``status`` is its HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _not_in_one(user: User) -> None:
    if user.team is not None:
        raise TeamRefused(409, f"you are in team {user.team.name!r}: leave it first")


def create(session: Session, user: User, name: str) -> Team:
    """Make a team of this name with the user in it."""
    name = name.strip()
    low, high = NAME_CHARS
    if not low <= len(name) <= high:
        raise TeamRefused(400, f"a team name has {low} to {high} characters")
    _not_in_one(user)
    if session.scalar(select(Team).where(Team.name == name)) is not None:
        raise TeamRefused(409, f"the team name {name!r} is taken: choose another")
    team = Team(name=name, join_code=secrets.token_urlsafe(12))
    session.add(team)
    session.flush()
    user.team = team
    session.flush()
    return team


def join(session: Session, user: User, code: str) -> Team:
    """Put the user in the team whose join code this is."""
    _not_in_one(user)
    team = session.scalar(select(Team).where(Team.join_code == code.strip()))
    if team is None:
        raise TeamRefused(404, "no team has this join code: ask a member for the current one")
    user.team = team
    session.flush()
    return team


def leave(user: User) -> str:
    """Take the user out of their team; return its name."""
    if user.team is None:
        raise TeamRefused(404, "you are in no team")
    name = user.team.name
    user.team = None
    return name
