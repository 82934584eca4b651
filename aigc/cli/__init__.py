"""The ``aigc`` command: one group, its commands taken from one module per audience.

- :mod:`aigc.cli.develop`: write, check and evaluate an agent on this machine.
- :mod:`aigc.cli.training`: train agents and build the platform's baselines.
- :mod:`aigc.cli.operate`: run and administer a platform server.
- :mod:`aigc.cli.replays`: replays and per-episode results, from a result file or the
  server.
- :mod:`aigc.cli.remote`: a participant's or organizer's work on a platform server, through
  the REST client of :mod:`aigc.cli.client`.
- :mod:`aigc.cli.challenges`: an organizer's check of a challenge or bundle on this machine
  (``aigc challenge check``), and a participant's download of a server's challenge
  (``aigc challenge get``), kept by :mod:`aigc.cli.local_challenges`.
- :mod:`aigc.cli.teams`: a participant's team on a platform server.
- :mod:`aigc.cli.organize`: an organizer's work on everyone's submissions and on phases.

:mod:`aigc.cli.console` holds what they all print with. A command's module is imported
only when that command runs (or its own ``--help`` is asked for), and each command imports
the heavy parts (torch, Flask, SQLAlchemy, Docker) when it runs: ``aigc --help`` and
``aigc --version`` load nothing but click.
"""

from __future__ import annotations

import importlib

import click

from aigc import __version__

# name: (module, function, the first line of its docstring: what `aigc --help` lists).
# tests/cli/test_main.py checks each line against the command's own docstring.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init-agent": (
        "develop",
        "init_agent",
        "Write a working random agent package into DIRECTORY.",
    ),
    "check": (
        "develop",
        "check",
        "Check an agent package (folder, .zip or .tar.gz) before submitting it.",
    ),
    "evaluate": (
        "develop",
        "evaluate",
        "Evaluate an agent package on a challenge phase, exactly as the platform does.",
    ),
    "sandbox": (
        "develop",
        "sandbox",
        "Manage the Docker sandbox: its image and leftover containers.",
    ),
    "train": (
        "training",
        "train",
        "Train ALGORITHM (qlearning, dqn, ppo, ppo-text) on a challenge; write an agent package.",
    ),
    "baselines": ("training", "baselines", "Build the platform's baseline agents."),
    "serve": (
        "operate",
        "serve",
        "Run the platform: web API and, without a broker, the evaluation workers too.",
    ),
    "worker": (
        "operate",
        "worker",
        "Run a Celery worker that evaluates submissions from the broker (AIGC_BROKER_URL).",
    ),
    "admin": (
        "operate",
        "admin",
        "Administer the platform's database directly (uses the AIGC_* settings).",
    ),
    "login": (
        "remote",
        "login",
        "Sign in to a platform server and keep the token for the other commands.",
    ),
    "logout": (
        "remote",
        "logout",
        "Revoke the kept token on the server and forget it here (the server is kept).",
    ),
    "challenges": (
        "remote",
        "list_challenges",
        "List the server's challenges (the built-in ones when not signed in).",
    ),
    "challenge": (
        "remote",
        "challenge",
        "Check, create, update, show or archive a challenge: YAML spec or bundle (organizers).",
    ),
    "submit": (
        "remote",
        "submit",
        "Submit an agent folder or archive to a challenge phase on the server.",
    ),
    "status": (
        "remote",
        "status",
        "Show one submission, or list yours and what is left of your quotas.",
    ),
    "logs": (
        "remote",
        "logs",
        "Print what a submission's agent wrote, in order, each line marked out| or err| (capped).",
    ),
    "cancel": ("remote", "cancel", "Cancel a queued or running submission."),
    "leaderboard": (
        "remote",
        "leaderboard",
        "Show a challenge phase's leaderboard (public phases need no sign-in).",
    ),
    "team": (
        "teams",
        "team",
        "Your team on the server: a team shares its quotas and its place on the boards.",
    ),
    "organize": (
        "organize",
        "organize",
        "See everyone's submissions; rerun, disqualify, reveal (organizers).",
    ),
    "replay": (
        "replays",
        "replay",
        "Replay episode K of RESULT.json (aigc evaluate --json) or of SUBMISSION_ID.",
    ),
    "samples": (
        "replays",
        "samples",
        "Show a text submission's samples: best, worst, random, and where judges disagree.",
    ),
}


class CommandGroup(click.Group):
    """A group that imports a command's module when the command is used, not before."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        module, function, _ = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(f"aigc.cli.{module}"), function)
        if not isinstance(command, click.Command):
            raise TypeError(f"aigc.cli.{module}.{function} is not a click command")
        self.commands[cmd_name] = command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands from the table, so that listing them imports none."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in COMMANDS:
                summary = click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit)
            else:
                summary = self.commands[name].get_short_help_str(limit)
            rows.append((name, summary))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aigc")
def main() -> None:
    """AIGC, the AI Gym Challenge: write, check and evaluate reinforcement-learning agents."""
