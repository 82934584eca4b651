"""``aigc train`` and ``aigc baselines build``: train reference agents into agent packages."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from aigc.baselines import common
from aigc.cli.console import err, fail, out
from aigc.cli.develop import CHALLENGE_HELP
from aigc.extras import MissingExtra, require
from aigc.submissions.challenge import SpecError, get_challenge
from aigc.submissions.package import MANIFEST


def _check_out_folder(folder: Path) -> None:
    """Refuse to write into a folder that holds something other than an agent package."""
    if folder.is_file():
        raise fail(f"{folder} is a file: give a folder for the agent package")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MANIFEST).is_file():
        raise fail(
            f"{folder} is not empty and holds no agent package: choose a new folder "
            "(a folder with an earlier training's package is overwritten)"
        )


def _require(what: str, *extras: str) -> None:
    """End the command with the one line that names a missing extra, before any work."""
    try:
        for extra in extras:
            require(extra, what)
    except MissingExtra as exc:
        raise fail(str(exc)) from None


def _train(algorithm: str, settings: common.TrainingSettings, folder: Path) -> common.TrainingLog:
    try:
        return common.run(algorithm, settings, folder)
    except ValueError as exc:  # the algorithm does not fit the challenge's spaces
        raise fail(str(exc)) from None


@click.command()
@click.argument("algorithm", type=click.Choice(common.ALGORITHMS))
@click.option("--challenge", "-c", required=True, help=CHALLENGE_HELP)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    help="Environment steps to train for. Default: the algorithm's default for the challenge.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the whole training.")
@click.option(
    "--out",
    "-o",
    "folder",
    required=True,
    type=click.Path(path_type=Path),
    help="The folder to write the agent package and its learning curve into.",
)
@click.option(
    "--set",
    "changes",
    multiple=True,
    metavar="NAME=VALUE",
    help="Change one setting, e.g. --set learning_rate=3e-4 (repeatable; the settings are "
    "listed by python -m aigc.baselines.ALGORITHM --help).",
)
def train(
    algorithm: str,
    challenge: str,
    steps: int | None,
    seed: int,
    folder: Path,
    changes: tuple[str, ...],
) -> None:
    """Train ALGORITHM (qlearning, dqn, ppo, ppo-text) on a challenge; write an agent package.

    Shows a progress bar while it trains; at the end FOLDER holds the agent (aigc.toml,
    agent.py, the weights), settings.json, and the learning curve as learning_curve.csv and
    learning_curve.png. The package is ready for `aigc check` and `aigc evaluate`.
    """
    _require("aigc train", "train")
    if algorithm == "ppo-text":
        _require("aigc train ppo-text", "text")
    try:
        spec = get_challenge(challenge)
    except (SpecError, MissingExtra) as exc:
        raise fail(str(exc)) from None
    _check_out_folder(folder)
    given = {"seed": seed} | ({"total_steps": steps} if steps else {})
    try:
        settings = common.default_settings(algorithm, challenge, **given)
        settings = common.apply_overrides(settings, changes)
    except (TypeError, ValueError) as exc:
        raise fail(str(exc)) from None
    log = _train(algorithm, settings, folder)
    mean = log.recent_mean()
    recent = "no episode ended" if mean is None else f"last 20 episodes' mean return {mean:.2f}"
    rate = log.steps / max(log.wall_time, 1e-9)
    out.print(
        f"Trained {algorithm} on [bold]{spec.id}[/] for {log.steps:,} steps in "
        f"{log.wall_time:.1f} s ({rate:,.0f} steps/s); {recent}."
    )
    curves = "learning_curve.png/.csv" + (
        " and rlhf_curve.png/.csv" if (folder / "rlhf_curve.png").is_file() else ""
    )
    out.print(f"Wrote the agent package and {curves} to {folder}/. Next:")
    out.print(f"  aigc check {folder}")
    out.print(f"  aigc evaluate {folder}")


@click.group()
def baselines() -> None:
    """Build the platform's baseline agents."""


def _baselines_dir() -> Path:
    from aigc.platform.settings import baselines_dir_from_env

    folder = baselines_dir_from_env()
    if folder is None:
        raise fail("AIGC_BASELINES_DIR=none turns baselines off: give --out FOLDER to build them")
    return folder


@baselines.command("build")
@click.option(
    "--challenge",
    "-c",
    "challenges",
    multiple=True,
    type=click.Choice(list(common.BASELINES)),
    help="Only this built-in challenge (repeatable). Default: all of them.",
)
@click.option(
    "--out",
    "-o",
    "folder",
    type=click.Path(path_type=Path),
    help="Where to write <challenge>/<algorithm>/. Default: the folder the platform seeds "
    "its baselines from (AIGC_BASELINES_DIR, else the baselines that ship with it).",
)
def baselines_build(challenges: tuple[str, ...], folder: Path | None) -> None:
    """Train the default baselines of the built-in challenges, reproducibly (fixed seeds).

    Each is written to FOLDER/<challenge>/<algorithm>/, where the platform finds it on its
    next start and evaluates it for every phase's board.
    """
    _require("aigc baselines build", "train", "text")
    from aigc.baselines.text_agent import write_reference_package  # loads torch

    folder = folder or _baselines_dir()
    table = Table(title=f"Baselines in {folder}", title_justify="left")
    table.add_column("challenge")
    table.add_column("algorithm")
    for column in ("steps", "wall time", "last 20 episodes"):
        table.add_column(column, justify="right")
    for challenge in challenges or tuple(common.BASELINES):
        for algorithm in common.BASELINES[challenge]:
            target = folder / challenge / algorithm
            _check_out_folder(target)
            err.print(f"[bold]{challenge}[/]: {algorithm} → {target}")
            log = _train(algorithm, common.default_settings(algorithm, challenge), target)
            mean = log.recent_mean()
            table.add_row(
                challenge,
                algorithm,
                f"{log.steps:,}",
                f"{log.wall_time:.1f} s",
                "—" if mean is None else f"{mean:.2f}",
            )
        for name in common.REFERENCE_PACKAGES.get(challenge, ()):
            target = folder / challenge / name
            _check_out_folder(target)
            err.print(f"[bold]{challenge}[/]: {name} (not trained) → {target}")
            write_reference_package(target)
            table.add_row(challenge, name, "—", "—", "—")
    out.print(table)
    out.print(f"Check each with: aigc evaluate {folder}/<challenge>/<algorithm>")
