"""Teams in the browser: your team with its members and join code; create, join, leave."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from aigc.platform import teams
from aigc.platform.context import platform
from aigc.platform.web.guards import signed_in
from aigc.platform.web.submission_pages import viewing_user

bp = Blueprint("teams", __name__)


@bp.get("/team")
@signed_in
def show() -> Any:
    """Your team, its members and its join code; or the forms to make or join one."""
    with platform().db.session() as session:
        team = viewing_user(session).team
        found = None
        if team is not None:
            members = sorted(member.username for member in team.members)
            found = {"name": team.name, "code": team.join_code, "members": members}
    return render_template(
        "team.html", team=found, low=teams.NAME_CHARS[0], high=teams.NAME_CHARS[1]
    )


def _change(change: Any, done: str) -> Any:
    """Apply a team change; flash ``done`` (formatted with its result) or why it was refused."""
    try:
        with platform().db.session() as session:
            result = change(session, viewing_user(session))
    except teams.TeamRefused as exc:
        flash(exc.message, "error")
    else:
        flash(done.format(result))
    return redirect(url_for("teams.show"))


@bp.post("/team/create")
@signed_in
def create() -> Any:
    """Make a team and join it."""
    name = request.form.get("name", "")
    return _change(
        lambda session, user: teams.create(session, user, name).name,
        "Team {} is made: give its join code to your teammates.",
    )


@bp.post("/team/join")
@signed_in
def join() -> Any:
    """Join a team with its code."""
    code = request.form.get("code", "")
    return _change(
        lambda session, user: teams.join(session, user, code).name, "You are in team {} now."
    )


@bp.post("/team/leave")
@signed_in
def leave() -> Any:
    """Leave your team (its submissions stay the team's)."""
    return _change(lambda _session, user: teams.leave(user), "You left team {}.")
