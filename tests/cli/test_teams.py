"""``aigc team`` against a real ``aigc serve`` (the server fixtures of test_remote.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_remote import Cli, ok, refused

pytestmark = pytest.mark.slow


def test_make_join_show_and_leave_a_team(live_server: str, tmp_path: Path) -> None:
    alice, bob = Cli(tmp_path / "alice.json"), Cli(tmp_path / "bob.json")
    alice.login(live_server, "alice")
    bob.login(live_server, "bob")
    made = ok(alice("team", "create", "Pole \x1b[31mvaulters")).splitlines()
    assert made[0] == "team Pole \\x1b[31mvaulters: alice"  # the escape shown, not obeyed
    code = made[1].removeprefix("teammates join with: aigc team join ")
    assert "taken: choose another" in refused(bob("team", "create", "Pole \x1b[31mvaulters"))
    assert "no team has this join code" in refused(bob("team", "join", "wrong-code"))
    assert ok(bob("team", "join", code)).splitlines()[0] == (
        "team Pole \\x1b[31mvaulters: alice, bob"
    )
    assert "you are in team" in refused(bob("team", "join", code))
    assert ok(alice("team", "show")).splitlines()[0].endswith(": alice, bob")
    assert ok(bob("team", "leave")).strip() == "you left team Pole \\x1b[31mvaulters"
    assert refused(bob("team", "show")) == (
        "Error: you are in no team: create one or join one with its code"
    )
    assert refused(bob("team", "leave")).startswith("Error: you are in no team")
    ok(alice("team", "leave"))
    assert "a team name has 2 to 64 characters" in refused(alice("team", "create", "x"))
