"""The participant's and organizer's ``aigc`` commands against a real ``aigc serve``.

Most commands run in-process through Click's test runner (each test keeps its sign-in in its
own file, named by AIGC_CONFIG); one whole flow runs as real ``python -m aigc`` processes.
The servers are real processes on free ports, one per module and kind of database (and one
more for cancellation, whose hanging agents would keep the shared server's workers busy).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click.testing
import pytest
import requests
import sqlalchemy as sa

import aigc.cli
from aigc.submissions.challenge import builtin_challenge_ids
from tests.platform.conftest import zip_agent
from tests.servers import (
    SLOW_CHALLENGE,
    ServerProcess,
    create_user,
    free_port,
    platform_env,
    run_aigc,
)
from tests.submissions.conftest import AGENTS, HOSTILE
from tests.waiting import wait_for

# Real server processes on free ports: each test takes seconds.
pytestmark = pytest.mark.slow

MARKER = "aigc-test-marker: hello from act"
WARNING = "aigc-test-marker: \x1b[31mwarned\x1b[0m on stderr"
PRINTER_AGENT = f'''\
import sys
import time


class Agent:
    """Pushes left every step, and says so once on stdout, then once on stderr."""

    def __init__(self, observation_space, action_space):
        self.spoke = False

    def act(self, observation):
        if not self.spoke:
            print({MARKER!r}, flush=True)
            time.sleep(0.3)  # the two streams are read apart: let the first line arrive first
            print({WARNING!r}, file=sys.stderr, flush=True)
            self.spoke = True
        return 0
'''
DEMO_SPEC = """\
id: cli-demo
title: CLI demo
description: A small CartPole challenge made from the command line.
environment:
  id: CartPole-v1
phases:
  - {id: dev, visibility: public, episodes: 5, seeds: {first: 0}}
metrics:
  primary: mean_return
"""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def new_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], str]]:
    """Makes empty databases of one kind for this module's servers, dropped at the end.

    conftest's ``database_url`` gives one database per test; a server that several tests
    share needs one that lives as long as the server, made the same way.
    """
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("db")
        yield lambda: f"sqlite:///{folder / f'aigc-{secrets.token_hex(4)}.db'}"
        return
    admin: sa.Engine = request.getfixturevalue("postgres_admin")
    made: list[str] = []

    def make() -> str:
        name = f"aigc_test_{secrets.token_hex(6)}"
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return admin.url.set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as connection:
        for name in made:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def start_platform(
    new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory, **settings: str
) -> ServerProcess:
    """A real aigc serve with an organizer (olga) and participants (alice, bob, sam)."""
    workdir = tmp_path_factory.mktemp("srv")
    # TMPDIR: the evaluations' temporary folders stay in the test's folder (its path is
    # short, so the agents' Unix socket paths stay under their 108-byte limit).
    (workdir / "tmp").mkdir()
    env = platform_env(workdir / "data", new_database(), TMPDIR=str(workdir / "tmp"), **settings)
    server = ServerProcess(env, workdir).wait_ready()
    try:
        create_user(env, "olga", "olga-password", organizer=True)
        for name in ("alice", "bob", "sam"):
            create_user(env, name, f"{name}-password")
    except BaseException:
        print(server.stop())
        raise
    return server


@pytest.fixture(scope="module")
def live_server(
    new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a real aigc serve shared by the module's tests (they do not interfere)."""
    server = start_platform(new_database, tmp_path_factory)
    yield server.url
    print(server.stop())  # shown with a failing test's captured output


class Cli:
    """Runs ``aigc`` in-process with its own sign-in file."""

    def __init__(self, config: Path):
        self.config = config

    def __call__(self, *args: object) -> click.testing.Result:
        return click.testing.CliRunner().invoke(
            aigc.cli.main, [str(a) for a in args], env={"AIGC_CONFIG": str(self.config)}
        )

    def login(self, server: str, name: str, password: str | None = None) -> click.testing.Result:
        result = self(
            "login", "--server", server, "-u", name, "--password", password or f"{name}-password"
        )
        assert result.exit_code == 0, result.output
        return result

    @property
    def token(self) -> str:
        return str(json.loads(self.config.read_text())["token"])


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "login.json")


def ok(result: click.testing.Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def refused(result: click.testing.Result) -> str:
    """A refusal: exit status 1 and one line, no traceback."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def table_rows(output: str) -> dict[str, list[str]]:
    """The rows of a printed table, by their first cell (wrapped continuation lines skipped)."""
    rows = {}
    for line in output.splitlines():
        if line.startswith("│"):
            cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
            if cells[0]:
                rows[cells[0]] = cells
    return rows


def assert_signed_out(cli: Cli) -> None:
    """No token is kept, only the server of the last sign-in."""
    assert set(json.loads(cli.config.read_text())) == {"server"}


def submitted_id(output: str) -> int:
    """N of the "submitted as N to ..." line."""
    line = next(line for line in output.splitlines() if line.startswith("submitted as "))
    return int(line.split()[2])


def agent_folder(tmp_path: Path, name: str, challenge: str | None = None) -> Path:
    """A copy of a test agent package (without caches), optionally naming its challenge."""
    folder = tmp_path / name
    shutil.copytree(AGENTS / name, folder, ignore=shutil.ignore_patterns("__pycache__"))
    if challenge:
        with (folder / "aigc.toml").open("a") as manifest:
            manifest.write(f'challenge = "{challenge}"\n')
    return folder


def printer_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "printer"
    folder.mkdir()
    (folder / "aigc.toml").write_text('name = "printer"\nentry_point = "agent:Agent"\n')
    (folder / "agent.py").write_text(PRINTER_AGENT)
    return folder


# --- signing in and out ----------------------------------------------------------------------


def test_login_keeps_the_token_readable_by_the_user_only(live_server: str, cli: Cli) -> None:
    output = cli.login(live_server, "alice").output
    assert output.strip() == (
        f"signed in to {live_server} as alice (participant); token kept in {cli.config}"
    )
    assert stat.S_IMODE(cli.config.stat().st_mode) == 0o600
    kept = json.loads(cli.config.read_text())
    assert kept["server"] == live_server and kept["username"] == "alice"
    me = requests.get(
        f"{live_server}/api/v1/me", headers={"Authorization": f"Bearer {kept['token']}"}, timeout=30
    )
    assert me.status_code == 200 and me.json()["username"] == "alice"


def test_organizer_login_says_the_role(live_server: str, cli: Cli) -> None:
    assert "as olga (organizer)" in cli.login(live_server, "olga").output


def test_wrong_password_is_one_line(live_server: str, cli: Cli) -> None:
    line = refused(cli("login", "--server", live_server, "-u", "alice", "--password", "nope"))
    assert line == "Error: wrong username or password"
    assert not cli.config.exists()


def test_login_to_a_server_that_does_not_answer(cli: Cli) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    line = refused(cli("login", "--server", dead, "-u", "alice", "--password", "x"))
    assert f"cannot reach {dead}" in line and "aigc serve" in line


def test_challenges_lists_the_servers_challenges(live_server: str, cli: Cli) -> None:
    cli.login(live_server, "alice")
    rows = table_rows(ok(cli("challenges")))
    assert set(builtin_challenge_ids()) <= set(rows) and len(builtin_challenge_ids()) == 8
    assert rows["cartpole"][2] == "CartPole-v1"
    assert rows["cartpole"][3].startswith("dev (public,")  # the phases (wrapped at 80 columns)


def test_challenges_when_not_signed_in_lists_the_built_in_ones(cli: Cli) -> None:
    output = ok(cli("challenges"))
    assert "not signed in (aigc login)" in output
    listed = [line.strip() for line in output.splitlines()[1:]]
    assert listed == builtin_challenge_ids()


@pytest.mark.parametrize("command", [["status"], ["status", "1"], ["logs", "1"], ["cancel", "1"]])
def test_commands_that_need_a_sign_in_say_so(cli: Cli, command: list[str]) -> None:
    assert "not signed in: run aigc login --server URL first" in refused(cli(*command))


def test_logout_revokes_the_token(live_server: str, cli: Cli, tmp_path: Path) -> None:
    cli.login(live_server, "bob")
    token = cli.token
    elsewhere = Cli(tmp_path / "copy.json")  # the same sign-in, kept by another program
    shutil.copy(cli.config, elsewhere.config)

    assert ok(cli("logout")).strip() == f"signed out of {live_server}"
    assert_signed_out(cli)
    assert "not signed in" in refused(cli("status"))
    assert ok(cli("logout")).strip() == "not signed in"

    answer = requests.get(
        f"{live_server}/api/v1/submissions",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 401
    assert "invalid or revoked" in answer.json()["error"]["message"]
    assert "invalid or revoked: sign in again (aigc login)" in refused(elsewhere("status"))


def test_login_keeps_when_the_token_expires(live_server: str, cli: Cli) -> None:
    cli.login(live_server, "alice")
    expires = datetime.fromisoformat(json.loads(cli.config.read_text())["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)


def test_logout_after_the_token_was_revoked_elsewhere_just_signs_out(
    live_server: str, cli: Cli
) -> None:
    cli.login(live_server, "sam")
    revoked = requests.delete(
        f"{live_server}/api/v1/tokens/current",
        headers={"Authorization": f"Bearer {cli.token}"},
        timeout=30,
    )
    assert revoked.status_code == 204
    assert ok(cli("logout")).strip() == f"signed out of {live_server}"
    assert_signed_out(cli)


def test_logout_from_a_server_that_does_not_answer_forgets_the_token_and_says_so(
    cli: Cli,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    cli.config.write_text(
        json.dumps(
            {
                "server": dead,
                "username": "alice",
                "token": "aigc_kept-from-before",
                "expires_at": "2027-01-31T10:00:00Z",
            }
        )
    )
    lines = ok(cli("logout")).strip().splitlines()
    assert lines == [
        f"signed out here only: {dead} did not answer, so the token stays valid there "
        "until 2027-01-31"
    ]
    assert_signed_out(cli)
    assert ok(cli("logout")).strip() == "not signed in"


def test_a_server_without_a_scheme_is_http(live_server: str, cli: Cli, tmp_path: Path) -> None:
    bare = live_server.removeprefix("http://")
    output = ok(cli("login", "--server", bare, "-u", "alice", "--password", "alice-password"))
    assert output.startswith(f"signed in to {live_server} as alice")
    assert json.loads(cli.config.read_text())["server"] == live_server
    anonymous = Cli(tmp_path / "nobody.json")
    board = ok(anonymous("leaderboard", "cartpole", "--server", bare + "/"))
    assert board.startswith("cartpole/dev: mean_return")


@pytest.mark.parametrize("address", ["ftp://127.0.0.1:21", "http://", "127.0.0.1:8000/api"])
def test_what_is_no_server_address_is_refused_in_one_line(cli: Cli, address: str) -> None:
    for command in (["login", "-u", "alice", "--password", "x"], ["leaderboard", "cartpole"]):
        line = refused(cli(*command, "--server", address))
        assert "is not a server address: give HOST:PORT or http(s)://HOST:PORT" in line


def test_logout_keeps_the_server_for_the_next_login(live_server: str, cli: Cli) -> None:
    cli.login(live_server, "bob")
    assert ok(cli("logout")).strip() == f"signed out of {live_server}"
    assert_signed_out(cli)
    again = ok(cli("login", "-u", "alice", "--password", "alice-password"))
    assert again.startswith(f"signed in to {live_server} as alice")


# --- submitting ------------------------------------------------------------------------------


def test_submit_a_folder_and_wait_for_the_score(live_server: str, cli: Cli, tmp_path: Path) -> None:
    cli.login(live_server, "alice")
    output = ok(cli("submit", agent_folder(tmp_path, "good"), "--challenge", "cartpole", "--wait"))
    number = submitted_id(output)
    assert f"submitted as {number} to cartpole/dev: queued" in output
    assert f"submission {number}: cartpole/dev — finished" in output
    assert "mean_return 500" in output and "over 100 episodes" in output

    shown = ok(cli("status", number))
    assert f"submission {number}: cartpole/dev — finished" in shown
    row = table_rows(ok(cli("status")))[str(number)]
    assert row[1:5] == ["cartpole/dev", "good", "finished", "500"]
    body = requests.get(
        f"{live_server}/api/v1/submissions/{number}",
        headers={"Authorization": f"Bearer {cli.token}"},
        timeout=30,
    ).json()
    assert body["package"]["filename"].endswith(".zip")  # the client zipped the folder


def test_leaderboard_in_three_formats(live_server: str, cli: Cli, tmp_path: Path) -> None:
    cli.login(live_server, "alice")
    ok(cli("submit", agent_folder(tmp_path, "good"), "--challenge", "acrobot", "--wait"))
    table = ok(cli("leaderboard", "acrobot"))
    assert "acrobot/dev: mean_return (higher is better)" in table
    assert "alice" in table_rows(table).get("1", [])
    exported = ok(cli("leaderboard", "acrobot", "--format", "csv"))
    assert exported.startswith("rank,name,")
    assert exported.splitlines()[0].endswith(",std_return,success_rate,mean_length")
    document = json.loads(ok(cli("leaderboard", "acrobot", "--format", "json")))
    assert document["rows"][0]["name"] == "alice" and document["rows"][0]["rank"] == 1
    # The challenge's other reported metrics come with every row, and as table columns.
    assert document["columns"] == ["std_return", "success_rate", "mean_length"]
    length = document["rows"][0]["metrics"]["mean_length"]
    assert length > 0 and f"{length:.4g}" in table
    # Public boards need no sign-in; hidden ones say why they are closed.
    anonymous = Cli(tmp_path / "nobody")
    shown = ok(anonymous("leaderboard", "acrobot", "--server", live_server))
    assert "alice" in shown
    line = refused(anonymous("leaderboard", "acrobot", "--phase", "test", "--server", live_server))
    assert "hidden until the organizers reveal it" in line


def test_submit_archives_without_waiting(live_server: str, cli: Cli, tmp_path: Path) -> None:
    cli.login(live_server, "alice")
    archive = tmp_path / "good.zip"
    archive.write_bytes(zip_agent("good", top_folder="good"))
    tarball = tmp_path / "good.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for path in (AGENTS / "good").iterdir():
            if path.is_file():
                tar.add(path, path.name)

    numbers = []
    for package in (archive, tarball):
        output = ok(cli("submit", package, "-c", "cartpole"))
        number = submitted_id(output)
        assert f"submitted as {number} to cartpole/dev: queued" in output
        assert f"follow it with aigc status {number}" in output
        numbers.append(number)

    rows = table_rows(ok(cli("status")))
    for number, filename in zip(numbers, ("good.zip", "good.tar.gz"), strict=True):
        assert rows[str(number)][1:3] == ["cartpole/dev", "good"]
        assert f"submission {number}: cartpole/dev — " in ok(cli("status", number))
        body = requests.get(
            f"{live_server}/api/v1/submissions/{number}",
            headers={"Authorization": f"Bearer {cli.token}"},
            timeout=30,
        ).json()
        assert body["package"]["filename"] == filename
    only_cartpole = table_rows(ok(cli("status", "--challenge", "cartpole")))
    assert {str(n) for n in numbers} <= set(only_cartpole)
    assert table_rows(ok(cli("status", "--challenge", "taxi"))) == {}


def test_logs_show_what_the_agent_printed(live_server: str, cli: Cli, tmp_path: Path) -> None:
    cli.login(live_server, "alice")
    output = ok(cli("submit", printer_folder(tmp_path), "-c", "cartpole", "--wait"))
    number = submitted_id(output)
    assert "finished" in output
    logs = ok(cli("logs", number))
    # In the order written, each line marked with its stream, escapes shown as text.
    assert f"out| {MARKER}\nerr| aigc-test-marker: \\x1b[31mwarned\\x1b[0m on stderr\n" in logs


# What a terminal must never receive from someone else's text: C0 controls but newline and
# tab, DEL, C1 controls (the 8-bit CSI among them) and the bidirectional controls.
TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_what_participants_wrote_reaches_the_terminal_escaped(
    live_server: str, cli: Cli, tmp_path: Path
) -> None:
    cli.login(live_server, "bob")
    team = requests.post(
        f"{live_server}/api/v1/teams",
        json={"name": "\x1b[32mwinners\x1b[0m \u202eevil"},
        headers={"Authorization": f"Bearer {cli.token}"},
        timeout=30,
    )
    assert team.status_code == 201, team.text
    noisy = tmp_path / "binary_output"
    shutil.copytree(HOSTILE / "binary_output", noisy)
    printed = ok(cli("submit", noisy, "-c", "cartpole", "--wait"))
    number = submitted_id(printed)
    logs = ok(cli("logs", number))
    assert "PASSED all checks" in logs and "\\x1b[2J" in logs and "\\u202e" in logs
    failing = tmp_path / "escape_failure"
    shutil.copytree(HOSTILE / "escape_failure", failing)
    result = cli("submit", failing, "-c", "cartpole", "--wait")
    assert result.exit_code == 1, result.output
    status = ok(cli("status", submitted_id(result.output)))
    assert "agent_error: the agent raised RuntimeError in act" in status
    assert "\\x1b[2J\\x1b]0;owned\\x07\\x9b31m red \\u202eevil\\u2066" in status
    assert "[/bold]" in status  # rich markup in a message is shown, not applied
    outputs = {
        "submit": printed,
        "logs": logs,
        "submit failing": result.output,
        "status": status,
        "status list": ok(cli("status")),
        "leaderboard": ok(cli("leaderboard", "cartpole")),
        "csv": ok(cli("leaderboard", "cartpole", "--format", "csv")),
        "json": ok(cli("leaderboard", "cartpole", "--format", "json")),
    }
    assert "\\x1b[32mwinners" in outputs["leaderboard"]
    for command, output in outputs.items():
        assert not TERMINAL_CONTROLS.search(output), (command, output)


def test_another_participants_submission_is_not_theirs(
    live_server: str, cli: Cli, tmp_path: Path
) -> None:
    cli.login(live_server, "alice")
    number = submitted_id(ok(cli("submit", printer_folder(tmp_path), "-c", "cartpole")))
    bob = Cli(tmp_path / "bob.json")
    bob.login(live_server, "bob")
    for command in (["status", number], ["logs", number], ["cancel", number]):
        assert f"you have no submission {number}" in refused(bob(*command))


def test_wait_on_a_failing_agent_exits_1_with_the_reason(
    live_server: str, cli: Cli, tmp_path: Path
) -> None:
    cli.login(live_server, "alice")
    result = cli("submit", agent_folder(tmp_path, "crash_init"), "-c", "cartpole", "--wait")
    assert result.exit_code == 1, result.output
    number = submitted_id(result.output)
    assert f"submission {number}: cartpole/dev — failed" in result.output
    assert "agent_start_failed: the agent raised ValueError in __init__" in result.output
    assert "weights.npy is missing" in result.output
    assert "agent_start_failed" in ok(cli("status", number))


def test_a_wait_that_runs_out_of_time_exits_124_and_the_evaluation_goes_on(
    live_server: str, cli: Cli, tmp_path: Path
) -> None:
    cli.login(live_server, "alice")
    result = cli("submit", agent_folder(tmp_path, "good"), "-c", "cartpole", "--timeout", "0")
    assert result.exit_code == 124, result.output
    number = submitted_id(result.output)
    assert f"submission {number} is still queued after 0 s: it goes on" in result.output
    assert f"follow it with aigc status {number}" in result.output
    # Not cancelled: it is scored as any other.
    wait_for(lambda: "— finished" in ok(cli("status", number)), 120, "its score")
    # A timeout the evaluation beats changes nothing.
    again = tmp_path / "again"
    again.mkdir()
    output = ok(cli("submit", agent_folder(again, "good"), "-c", "cartpole", "--timeout", "300"))
    assert f"submission {submitted_id(output)}: cartpole/dev — finished" in output


def test_the_challenge_named_in_aigc_toml_is_the_default(
    live_server: str, cli: Cli, tmp_path: Path
) -> None:
    cli.login(live_server, "alice")
    output = ok(cli("submit", agent_folder(tmp_path, "good", challenge="cartpole"), "--wait"))
    assert f"submitted as {submitted_id(output)} to cartpole/dev" in output
    assert "finished" in output


def test_no_challenge_anywhere_names_the_option(live_server: str, cli: Cli, tmp_path: Path) -> None:
    cli.login(live_server, "alice")
    line = refused(cli("submit", agent_folder(tmp_path, "good")))
    assert "--challenge" in line and "aigc.toml" in line


def test_bad_uploads_are_refused_in_one_line(live_server: str, cli: Cli, tmp_path: Path) -> None:
    cli.login(live_server, "alice")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "agent.py").write_text("class Agent: pass\n")
    assert "aigc.toml" in refused(cli("submit", empty, "-c", "cartpole"))

    text = tmp_path / "agent.zip"
    text.write_text("not an archive\n")
    assert "is not a .zip or .tar.gz archive" in refused(cli("submit", text, "-c", "cartpole"))

    no_module = agent_folder(tmp_path, "good")
    (no_module / "agent.py").unlink()
    (no_module / "other.py").write_text("x = 1\n")
    assert "entry point module 'agent' not found" in refused(
        cli("submit", no_module, "-c", "cartpole")
    )

    line = refused(cli("submit", agent_folder(tmp_path, "crash_init"), "-c", "no-such-thing"))
    assert "there is no challenge 'no-such-thing'" in line
    line = refused(cli("submit", printer_folder(tmp_path), "-c", "cartpole", "-p", "final"))
    assert "has no phase 'final'" in line


def test_a_folder_with_a_symbolic_link_is_refused_in_one_line(
    live_server: str, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.login(live_server, "alice")
    folder = agent_folder(tmp_path, "good")
    (folder / "weights.npy").symlink_to(folder / "agent.py")
    client_tmp = tmp_path / "client-tmp"
    client_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(client_tmp))  # where the client zips folders
    line = refused(cli("submit", folder, "-c", "cartpole"))
    assert "weights.npy is a symbolic link: replace it with the file itself" in line
    assert list(client_tmp.iterdir()) == []


# --- organizers ------------------------------------------------------------------------------


def test_organizer_creates_and_updates_a_challenge(
    live_server: str, cli: Cli, tmp_path: Path
) -> None:
    cli.login(live_server, "olga")
    spec = tmp_path / "cli-demo.yaml"
    spec.write_text(DEMO_SPEC)
    assert ok(cli("challenge", "create", spec)).strip() == "created challenge cli-demo (version 1)"
    line = refused(cli("challenge", "create", spec))
    assert "exists: update it instead (aigc challenge update)" in line

    spec.write_text(DEMO_SPEC.replace("title: CLI demo", "title: CLI demo, second edition"))
    output = ok(cli("challenge", "update", spec)).strip()
    assert output == "updated challenge cli-demo to version 2"
    output = ok(cli("challenge", "update", spec)).strip()
    assert output == "challenge cli-demo is unchanged (version 2)"

    assert table_rows(ok(cli("challenges")))["cli-demo"][2] == "CartPole-v1"
    shown = requests.get(f"{live_server}/api/v1/challenges/cli-demo", timeout=30).json()
    assert shown["title"] == "CLI demo, second edition" and shown["version"] == 2

    # Participants can submit to it at once.
    alice = Cli(tmp_path / "alice.json")
    alice.login(live_server, "alice")
    output = ok(alice("submit", agent_folder(tmp_path, "good"), "-c", "cli-demo", "--wait"))
    assert "cli-demo/dev — finished" in output and "over 5 episodes" in output


def test_an_invalid_spec_is_refused_before_any_request(
    live_server: str, cli: Cli, tmp_path: Path
) -> None:
    cli.login(live_server, "olga")
    spec = tmp_path / "broken.yaml"
    spec.write_text(
        DEMO_SPEC.replace("id: cli-demo", "id: cli-broken").replace("episodes: 5", "episodes: 0")
    )
    # Point the sign-in at a port nothing listens on: any request would fail to connect.
    kept = json.loads(cli.config.read_text())
    cli.config.write_text(json.dumps({**kept, "server": f"http://127.0.0.1:{free_port()}"}))
    for command in ("create", "update"):
        line = refused(cli("challenge", command, spec))
        assert line.startswith(f"Error: {spec}: phases[0].episodes: expected a whole number")
        assert "cannot reach" not in line
    listed = requests.get(f"{live_server}/api/v1/challenges", timeout=30).json()["challenges"]
    assert "cli-broken" not in {c["id"] for c in listed}


def test_a_participant_cannot_create_a_challenge(
    live_server: str, cli: Cli, tmp_path: Path
) -> None:
    cli.login(live_server, "bob")
    spec = tmp_path / "mine.yaml"
    spec.write_text(DEMO_SPEC.replace("id: cli-demo", "id: bobs-own"))
    assert refused(cli("challenge", "create", spec)) == "Error: only organizers may do this"
    assert refused(cli("challenge", "update", spec)).startswith("Error: ")


# --- cancelling ------------------------------------------------------------------------------


SLEEPY_AGENT = """\
import time


class Agent:
    \"\"\"Balances the pole, thinking 0.1 s over every step: 500 steps take a while.\"\"\"

    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        time.sleep(0.1)
        return int(observation[2] + 0.5 * observation[3] > 0)
"""


@pytest.fixture(scope="module")
def busy_server(
    new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A server of its own: the agents of the cancel test keep both its workers busy.

    AIGC_LEASE_S=4 makes the heartbeat, which notices a cancel, beat every second.
    """
    server = start_platform(new_database, tmp_path_factory, AIGC_LEASE_S="4")
    yield server.url
    print(server.stop())  # also ends the agent that hangs


def test_cancel_queued_and_running_submissions(busy_server: str, tmp_path: Path) -> None:
    olga = Cli(tmp_path / "olga.json")
    olga.login(busy_server, "olga")
    spec = tmp_path / "cli-slow.yaml"
    spec.write_text(SLOW_CHALLENGE)
    ok(olga("challenge", "create", spec))

    cli = Cli(tmp_path / "alice.json")
    cli.login(busy_server, "alice")

    def status_of(number: int) -> str:
        answer = requests.get(
            f"{busy_server}/api/v1/submissions/{number}",
            headers={"Authorization": f"Bearer {cli.token}"},
            timeout=30,
        )
        return str(answer.json()["status"])

    sleepy = tmp_path / "sleepy"
    sleepy.mkdir()
    (sleepy / "aigc.toml").write_text('name = "sleepy"\nentry_point = "agent:Agent"\n')
    (sleepy / "agent.py").write_text(SLEEPY_AGENT)
    slow = submitted_id(ok(cli("submit", sleepy, "-c", "cli-slow")))
    hung = submitted_id(ok(cli("submit", agent_folder(tmp_path, "hang"), "-c", "cli-slow")))
    for number in (slow, hung):
        wait_for(lambda n=number: status_of(n) == "running", 60, f"submission {number} to run")

    # Both workers are busy: the next submission waits in the queue, and cancels at once.
    queued = submitted_id(ok(cli("submit", agent_folder(tmp_path, "good"), "-c", "cli-slow")))
    assert status_of(queued) == "queued"
    assert f"submission {queued}: cli-slow/dev — cancelled" in ok(cli("cancel", queued))
    assert f"submission {queued}: cli-slow/dev — cancelled" in ok(cli("status", queued))
    assert table_rows(ok(cli("status")))[str(queued)][3] == "cancelled"
    line = refused(cli("cancel", queued))
    assert f"submission {queued} is cancelled: nothing to cancel" in line

    # A running one is asked to stop, and does within moments.
    assert f"cancel requested: submission {slow} stops within moments" in ok(cli("cancel", slow))
    wait_for(lambda: status_of(slow) == "cancelled", 60, "the running submission to stop")
    shown = ok(cli("status", slow))
    assert f"submission {slow}: cli-slow/dev — cancelled" in shown
    assert "cancelled: cancelled while it ran" in shown
    assert status_of(hung) == "running"  # the other worker's evaluation goes on
    # Even an agent that never answers is stopped at once, not at its step deadline.
    ok(cli("cancel", hung))
    wait_for(lambda: status_of(hung) == "cancelled", 30, "the hung submission to stop")


# --- the same flow as real processes ---------------------------------------------------------


def test_a_participant_session_as_real_processes(live_server: str, tmp_path: Path) -> None:
    client_tmp = tmp_path / "client-tmp"
    client_tmp.mkdir()
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIGC_")} | {
        "AIGC_CONFIG": str(tmp_path / "sam.json"),
        "TMPDIR": str(client_tmp),
    }

    def aigc(*args: object) -> tuple[int, str, str]:
        done = run_aigc(*args, env=env)
        return done.returncode, done.stdout, done.stderr

    code, out, err = aigc(
        "login", "--server", live_server, "-u", "sam", "--password", "sam-password"
    )
    assert code == 0, out + err
    assert f"signed in to {live_server} as sam (participant)" in out

    code, out, err = aigc("submit", printer_folder(tmp_path), "--challenge", "cartpole", "--wait")
    assert code == 0, out + err
    number = submitted_id(out)
    assert f"submission {number}: cartpole/dev — finished" in out and "mean_return" in out
    assert "Traceback" not in err
    assert list(client_tmp.iterdir()) == []  # the archive made of the folder is gone

    code, out, err = aigc("status")
    assert code == 0, out + err
    assert table_rows(out)[str(number)][1:4] == ["cartpole/dev", "printer", "finished"]
    code, out, err = aigc("status", number)
    assert code == 0 and f"submission {number}: cartpole/dev — finished" in out, out + err
    code, out, err = aigc("logs", number)
    assert code == 0 and MARKER in out, out + err

    code, out, err = aigc("logout")
    assert code == 0 and f"signed out of {live_server}" in out, out + err
    code, out, err = aigc("status")
    assert code == 1 and "not signed in" in err, out + err
