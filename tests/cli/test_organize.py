"""An organizer's commands (``aigc organize``, ``aigc challenge archive``) against a real
``aigc serve``, with the server fixtures of test_remote.py (through conftest.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import requests

from tests.cli.test_remote import (
    Cli,
    agent_folder,
    ok,
    refused,
    submitted_id,
    table_rows,
)

pytestmark = pytest.mark.slow

SPEC = """\
id: {id}
title: Organized from the command line
environment: {{id: CartPole-v1}}
phases:
  - {{id: dev, visibility: public, episodes: 3, seeds: {{first: 0}}}}
  - {{id: final, visibility: hidden, episodes: 3, seeds: {{first: 100}}}}
quotas: {{per_day: 5, total: 8}}
"""


def make_challenge(server: str, tmp_path: Path, challenge_id: str) -> Cli:
    """Create a challenge as olga; return olga's signed-in command."""
    olga = Cli(tmp_path / "olga.json")
    olga.login(server, "olga")
    spec = tmp_path / f"{challenge_id}.yaml"
    spec.write_text(SPEC.format(id=challenge_id))
    ok(olga("challenge", "create", spec))
    return olga


def test_organizer_lists_reruns_disqualifies_and_reveals(live_server: str, tmp_path: Path) -> None:
    olga = make_challenge(live_server, tmp_path, "org-cli")
    alice = Cli(tmp_path / "alice.json")
    alice.login(live_server, "alice")
    good = agent_folder(tmp_path, "good")
    dev = submitted_id(ok(alice("submit", good, "-c", "org-cli", "--wait")))
    final = submitted_id(ok(alice("submit", good, "-c", "org-cli", "-p", "final", "--wait")))

    listed = ok(olga("organize", "submissions", "org-cli"))
    rows = table_rows(listed)
    assert rows[str(dev)][1:5] == ["alice", "dev", "good", "finished"]
    assert rows[str(final)][1:5] == ["alice", "final", "good", "finished"]
    assert "2 submissions" in listed
    only_final = table_rows(ok(olga("organize", "submissions", "org-cli", "--phase", "final")))
    assert set(only_final) - {"id"} == {str(final)}
    assert "0 submissions" in ok(olga("organize", "submissions", "org-cli", "-s", "queued"))
    line = refused(olga("organize", "submissions", "no-such-challenge"))
    assert line.startswith("Error: there is no challenge 'no-such-challenge'")

    # Hidden until revealed: alice sees no score of the final phase.
    assert "the score of a hidden phase shows" in ok(alice("status", final))
    shown = ok(olga("organize", "reveal", "org-cli", "final"))
    assert shown.strip() == "phase org-cli/final is revealed: its leaderboard is public"
    assert "mean_return 500" in ok(alice("status", final))
    assert "revealed already" in refused(olga("organize", "reveal", "org-cli", "final"))
    assert "is public: there is nothing to reveal" in refused(
        olga("organize", "reveal", "org-cli", "dev")
    )

    rerun = ok(olga("organize", "rerun", dev)).strip()
    assert rerun == f"submission {dev} is queued again (version 1)"

    shown = ok(olga("organize", "disqualify", final, "--reason", "copied a baseline"))
    assert "disqualified: copied a baseline" in shown
    assert "disqualified: copied a baseline" in ok(alice("status", final))
    board = requests.get(
        f"{live_server}/api/v1/challenges/org-cli/leaderboard",
        params={"phase": "final"},
        timeout=30,
    ).json()
    assert board["rows"] == []


@pytest.mark.parametrize(
    "command",
    [
        ["organize", "submissions", "cartpole"],
        ["organize", "rerun", "1"],
        ["organize", "disqualify", "1", "--reason", "x"],
        ["organize", "reveal", "cartpole", "test"],
    ],
)
def test_participants_cannot_organize(live_server: str, cli: Cli, command: list[str]) -> None:
    cli.login(live_server, "bob")
    assert refused(cli(*command)) == "Error: only organizers may do this"


# --- what a participant may still submit -----------------------------------------------------


def test_submit_and_status_say_what_is_left_of_the_quotas(live_server: str, tmp_path: Path) -> None:
    make_challenge(live_server, tmp_path, "org-quota")
    sam = Cli(tmp_path / "sam.json")
    sam.login(live_server, "sam")
    output = ok(sam("submit", agent_folder(tmp_path, "good"), "-c", "org-quota"))
    assert "quota of org-quota/dev: 4 left today, 7 of 8 in total" in output
    shown = ok(sam("status", "--challenge", "org-quota"))
    assert "quota of org-quota/dev: 4 left today, 7 of 8 in total" in shown
    assert "quota of org-quota/final: 5 left today, 8 of 8 in total" in shown


def test_an_oversized_package_is_refused_before_it_is_sent(
    live_server: str, cli: Cli, tmp_path: Path
) -> None:
    cli.login(live_server, "sam")
    folder = agent_folder(tmp_path, "good", challenge="cartpole")
    (folder / "weights.bin").write_bytes(os.urandom(64 * 2**20 + 1))  # does not compress
    line = refused(cli("submit", folder))
    assert re.fullmatch(
        r"Error: the package archive has \d+ bytes, more than the 67108864 the server allows "
        r"\(64\.0 MiB\): leave out data and checkpoints it does not need",
        line,
    ), line
    mine = requests.get(
        f"{live_server}/api/v1/submissions",
        headers={"Authorization": f"Bearer {cli.token}"},
        params={"challenge": "cartpole"},
        timeout=30,
    ).json()["submissions"]
    assert all(s["package"]["size_bytes"] < 2**20 for s in mine)


def test_rows_of_an_earlier_version_are_marked_and_a_phase_reruns_at_once(
    live_server: str, tmp_path: Path
) -> None:
    olga = make_challenge(live_server, tmp_path, "org-versions")
    alice = Cli(tmp_path / "alice.json")
    alice.login(live_server, "alice")
    ok(alice("submit", agent_folder(tmp_path, "good"), "-c", "org-versions", "--wait"))
    spec = tmp_path / "org-versions.yaml"
    spec.write_text(
        SPEC.format(id="org-versions").replace(
            "episodes: 3, seeds: {first: 0}", "episodes: 4, seeds: {first: 0}"
        )
    )
    assert "to version 2" in ok(olga("challenge", "update", spec))

    board = ok(alice("leaderboard", "org-versions"))
    assert table_rows(board)["1"][1] == "alice (v1)"
    assert "(vN): scored under version N of the challenge, before its current version 2" in board

    before = ok(alice("status", "--challenge", "org-versions"))
    line = ok(olga("organize", "rerun-phase", "org-versions", "dev")).strip()
    assert line == "1 submissions of org-versions/dev are queued again, on version 2"
    assert "quota of org-versions/dev: 4 left today, 7 of 8 in total" in before
    assert "quota of org-versions/dev: 4 left today, 7 of 8 in total" in ok(
        alice("status", "--challenge", "org-versions")
    )
    assert "only organizers may do this" in refused(
        alice("organize", "rerun-phase", "org-versions", "dev")
    )


def test_organizer_archives_and_unarchives_a_challenge(live_server: str, tmp_path: Path) -> None:
    olga = make_challenge(live_server, tmp_path, "org-archive")
    alice = Cli(tmp_path / "alice.json")
    alice.login(live_server, "alice")
    good = agent_folder(tmp_path, "good")
    ok(alice("submit", good, "-c", "org-archive", "--wait"))
    line = ok(olga("challenge", "archive", "org-archive")).strip()
    assert line == (
        "archived challenge org-archive: it takes no more submissions "
        "(aigc challenge unarchive org-archive brings it back)"
    )
    assert "org-archive" not in table_rows(ok(alice("challenges")))
    assert refused(alice("submit", good, "-c", "org-archive")) == (
        "Error: challenge 'org-archive' is archived: it takes no more submissions"
    )
    bob = Cli(tmp_path / "bob.json")  # never submitted to it
    bob.login(live_server, "bob")
    assert refused(bob("submit", good, "-c", "org-archive")) == (
        "Error: challenge 'org-archive' is archived: it takes no more submissions"
    )
    assert table_rows(ok(alice("leaderboard", "org-archive")))["1"][1] == "alice"  # kept
    assert "archived already" in refused(olga("challenge", "archive", "org-archive"))
    assert "only organizers may do this" in refused(alice("challenge", "unarchive", "org-archive"))
    back = ok(olga("challenge", "unarchive", "org-archive")).strip()
    assert back == "challenge org-archive is back: listed and open to submissions"
    assert "org-archive" in table_rows(ok(alice("challenges")))
