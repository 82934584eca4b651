"""The ``aigc`` group: every command on it, and none of the heavy libraries loaded to list them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

# What the platform, the text models and the sandbox need; a command loads them when it runs.
HEAVY = ("torch", "flask", "sqlalchemy", "celery", "alembic", "waitress", "docker")
COMMANDS = {
    # an agent on this machine (aigc.cli.develop)
    "init-agent", "check", "evaluate", "sandbox",
    # training (aigc.cli.training)
    "train", "baselines",
    # running a platform (aigc.cli.operate)
    "serve", "worker", "admin",
    # working with a platform server (aigc.cli.remote)
    "login", "logout", "challenges", "challenge", "submit", "status", "logs", "cancel",
    "leaderboard",
    # replays and samples (aigc.cli.replays)
    "replay", "samples",
    # a participant's team (aigc.cli.teams)
    "team",
    # an organizer's work on a platform server (aigc.cli.organize)
    "organize",
}  # fmt: skip


def loaded_by(code: str) -> list[str]:
    """The heavy libraries in sys.modules after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(set({HEAVY}) & set(sys.modules))))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_command_loads_no_heavy_library() -> None:
    assert loaded_by("import aigc.cli") == []


def test_help_of_every_command_loads_no_heavy_library() -> None:
    shown = "from click.testing import CliRunner\nfrom aigc.cli import main\n" + "".join(
        f"assert CliRunner().invoke(main, [{name!r}, '--help']).exit_code == 0\n"
        for name in sorted(COMMANDS)
    )
    assert loaded_by(shown) == []


def test_help_lists_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aigc", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    listing = done.stdout.partition("\nCommands:\n")[2]
    assert {line.split()[0] for line in listing.splitlines() if line.strip()} == COMMANDS


def test_the_listing_says_what_each_command_says_of_itself() -> None:
    """``aigc --help`` lists the commands from a table, without importing them: the table's
    line for each is the first line of the command's own docstring."""
    from aigc.cli import COMMANDS, main

    for name, (_, _, summary) in COMMANDS.items():
        command = main.get_command(click.Context(main), name)
        assert command is not None and command.name == name
        assert (command.help or "").splitlines()[0] == summary, name


# Beside the heavy libraries, what a command that only talks to a server has no use for.
NOT_FOR_THE_SERVER_COMMANDS = (*HEAVY, "gymnasium", "numpy", "matplotlib", "tokenizers")
# And what --version and the group's --help have no use for either.
NOT_FOR_THE_LISTING = (*NOT_FOR_THE_SERVER_COMMANDS, "requests", "rich", "yaml")


def loaded_at_exit(args: list[str], tmp_path: Path) -> tuple[int, list[str]]:
    """Run ``aigc ARGS`` in a fresh interpreter; return its exit status and every module it
    had loaded when it ended."""
    record = tmp_path / "modules.json"
    code = (
        "import atexit, json, pathlib, sys\n"
        f"record = pathlib.Path({str(record)!r})\n"
        "atexit.register(lambda: record.write_text(json.dumps(list(sys.modules))))\n"
        "from aigc.cli import main\n"
        f"main({args!r}, prog_name='aigc')\n"
    )
    environment = {**os.environ, "AIGC_CONFIG": str(tmp_path / "login.json")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=environment
    )
    return done.returncode, json.loads(record.read_text())


def top_level(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return sorted({m.partition(".")[0] for m in modules} & set(names))


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_version_and_help_load_click_only(args: list[str], tmp_path: Path) -> None:
    status, modules = loaded_at_exit(args, tmp_path)
    assert status == 0
    assert top_level(modules, NOT_FOR_THE_LISTING) == []


# A server that is not there, on loopback: each command gets as far as the request.
NOBODY = "http://127.0.0.1:9"


@pytest.mark.parametrize(
    "args",
    [
        ["login", "--server", NOBODY, "-u", "alice", "--password", "secret"],
        ["status"],
        ["status", "3"],
        ["logs", "3"],
        ["leaderboard", "cartpole"],
        ["leaderboard", "cartpole", "--server", NOBODY],
        ["status", "--help"],
    ],
)
def test_the_server_commands_load_no_heavy_library(args: list[str], tmp_path: Path) -> None:
    (tmp_path / "login.json").write_text(
        json.dumps({"server": NOBODY, "username": "alice", "token": "t"})
    )
    status, modules = loaded_at_exit(args, tmp_path)
    assert status == (0 if "--help" in args else 1)
    assert "requests" in modules or "--help" in args  # it did try the server
    assert top_level(modules, NOT_FOR_THE_SERVER_COMMANDS) == []


def test_evaluating_cartpole_loads_no_text_model_nor_server_library(tmp_path: Path) -> None:
    folder = tmp_path / "my-agent"
    status, _ = loaded_at_exit(["init-agent", str(folder), "-c", "cartpole"], tmp_path)
    assert status == 0
    status, modules = loaded_at_exit(
        ["evaluate", str(folder), "--sandbox", "local", "-n", "5"], tmp_path
    )
    assert status == 0
    assert "gymnasium" in modules  # it did evaluate here
    assert top_level(modules, (*HEAVY, "tokenizers", "vaderSentiment", "matplotlib")) == []
