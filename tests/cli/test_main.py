"""The ``aigc`` group: every command on it, and none of the heavy libraries loaded to list them."""

from __future__ import annotations

import json
import subprocess
import sys

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
