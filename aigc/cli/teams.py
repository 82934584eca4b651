"""``aigc team``: make, join, show and leave a team on the server."""

from __future__ import annotations

from typing import Any

import click

from aigc.cli.console import out, shown
from aigc.cli.remote import _call, _client


@click.group()
def team() -> None:
    """Your team on the server: a team shares its quotas and its place on the boards."""


def _show(body: dict[str, Any]) -> None:
    out.print(f"team {shown(body['name'])}: {', '.join(shown(m) for m in body['members'])}")
    out.print(f"teammates join with: aigc team join {shown(body['join_code'])}")


@team.command("create")
@click.argument("name")
def team_create(name: str) -> None:
    """Make a team called NAME and join it."""
    _show(_call(_client(), "POST", "/teams", json_body={"name": name}))


@team.command("join")
@click.argument("code")
def team_join(code: str) -> None:
    """Join the team whose join code is CODE."""
    _show(_call(_client(), "POST", "/teams/join", json_body={"code": code}))


@team.command("show")
def team_show() -> None:
    """Show your team, its members and its join code."""
    _show(_call(_client(), "GET", "/me/team"))


@team.command("leave")
def team_leave() -> None:
    """Leave your team."""
    client = _client()
    name = _call(client, "GET", "/me/team")["name"]
    _call(client, "DELETE", "/me/team")
    out.print(f"you left team {shown(name)}")
