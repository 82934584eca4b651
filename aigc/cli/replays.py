"""``aigc replay`` and ``aigc samples``: see what an agent did, episode by episode.

A replay re-runs a recorded episode here, in the trusted environment, with its seed and
actions (no agent code runs), from a result file written by ``aigc evaluate --json`` or
from a submission on the server. An organizer's environment (a challenge bundle's) is
re-run in its own sandbox, from the bundle given with ``--challenge PATH``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from aigc.cli.console import fail, out, shown
from aigc.safe_text import printable

SAMPLE_KINDS = ("best", "worst", "random", "disagreement")


def _remote(method: str, path: str) -> Any:
    from aigc.cli.client import ApiFailure, Client, load_login

    login = load_login()
    if login is None:
        raise fail("not signed in: run aigc login --server URL first")
    try:
        return Client(login.server, login.token).call(method, path)
    except ApiFailure as exc:
        raise fail(str(exc)) from None


@contextmanager
def _given_challenge(challenge: str | None) -> Iterator[tuple[Any, Path | None]]:
    """The spec of --challenge (an id, a YAML file, a bundle folder or archive) and the
    bundle's unpacked folder; (None, None) without --challenge."""
    from aigc.cli.challenges import _opened
    from aigc.submissions.challenge import SpecError, get_challenge

    if challenge is None:
        yield None, None
        return
    path = Path(challenge)
    try:
        if not path.exists():
            yield get_challenge(challenge), None
            return
        with _opened(path) as (spec, folder):
            yield spec, folder
    except SpecError as exc:
        raise fail(f"{exc} (pass the challenge's YAML or bundle with --challenge PATH)") from None


def _from_file(path: Path, given: Any, index: int) -> tuple[Any, Any, Any]:
    """The environment, limits and recorded episode ``index`` of a result file."""
    from aigc.submissions.challenge import SpecError, get_challenge
    from aigc.submissions.results import EvaluationResult

    try:
        result = EvaluationResult.from_json(path.read_text(encoding="utf-8"))
    except (ValueError, TypeError, KeyError) as exc:
        raise fail(f"{path} is not a result of aigc evaluate --json: {exc}") from None
    try:
        spec = given or get_challenge(result.challenge)
    except SpecError as exc:
        raise fail(f"{exc} (pass the challenge's YAML or bundle with --challenge PATH)") from None
    found = [e for e in result.episodes if e.index == index]
    if not found:
        raise fail(
            f"{path} has no episode {index}: it has episodes 0 to {len(result.episodes) - 1}"
        )
    return spec.environment, spec.limits, found[0]


def _from_server(submission_id: int, index: int, given: Any) -> tuple[Any, Any, Any]:
    """The environment, limits and recorded episode ``index`` of a submission on the server."""
    from aigc.submissions.challenge import EnvironmentSpec, Limits
    from aigc.submissions.results import EpisodeResult

    body = _remote("GET", f"/submissions/{submission_id}/episodes/{index}")
    env, e = body["environment"], body["episode"]
    entry_point = env.get("entry_point")
    if entry_point is not None:
        if given is None or given.environment.entry_point != entry_point:
            raise fail(
                f"submission {submission_id}'s environment is the organizer's "
                f"{shown(entry_point)}, replayed only in its own sandbox: give the challenge's "
                "bundle folder or archive with --challenge PATH"
            )
        environment, limits = given.environment, given.limits
    else:
        environment = EnvironmentSpec(
            env["id"], dict(env["kwargs"] or {}), env["max_episode_steps"]
        )
        limits = Limits()
    episode = EpisodeResult(
        index=e["index"],
        seed=e["seed"],
        total_return=float("nan") if e["return"] is None else e["return"],
        length=e["length"],
        wall_time=e["wall_time"],
        terminated=e["terminated"],
        truncated=e["truncated"],
        success=e["success"],
        values=e["values"],
        actions=e["actions"],
        prompt=e.get("prompt"),
        completion=e.get("completion"),
    )
    return environment, limits, episode


@click.command()
@click.argument("source")
@click.option("--episode", "-e", "index", type=click.IntRange(min=0), required=True)
@click.option(
    "--out",
    "-o",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The file to write: .gif, .mp4, .webm, or .txt for text environments.",
)
@click.option(
    "--challenge",
    "-c",
    help="The challenge id, YAML file, or bundle folder or archive (needed for a bundle's).",
)
@click.option(
    "--sandbox",
    type=click.Choice(["docker", "local"]),
    default="docker",
    show_default=True,
    help="Where a bundle's environment is re-run: local only for code you trust.",
)
@click.option(
    "--max-frames",
    type=click.IntRange(min=2, max=10_000),
    default=1000,
    show_default=True,
    help="Longer episodes keep every k-th step.",
)
@click.option("--max-width", type=click.IntRange(min=16, max=4096), default=640, show_default=True)
def replay(
    source: str,
    index: int,
    out_path: Path,
    challenge: str | None,
    sandbox: str,
    max_frames: int,
    max_width: int,
) -> None:
    """Replay episode K of RESULT.json (aigc evaluate --json) or of SUBMISSION_ID.

    The episode is re-run here with its seed and recorded actions; its return and length
    must come out as recorded. A challenge bundle's environment is re-run in its own
    sandbox, from the bundle given with --challenge PATH.
    """
    from aigc.submissions.replay import RenderLimits, ReplayError, render_env, replay_episode
    from aigc.submissions.replay_files import check_suffix, replay_text, write_replay

    if out_path.suffix.lower() != ".txt":
        from aigc.extras import MissingExtra, require

        try:
            require("replay", f"aigc replay to {out_path.suffix or 'a file without a suffix'}")
        except MissingExtra as exc:
            raise fail(str(exc)) from None
    path = Path(source)
    if not path.is_file() and not source.isdigit():
        raise fail(f"{source} is neither a result file nor a submission id: give one of them")
    with _given_challenge(challenge) as (given, folder):
        if path.is_file():
            environment, limits, episode = _from_file(path, given, index)
        else:
            environment, limits, episode = _from_server(int(source), index, given)
        runner = None
        if environment.entry_point is not None and folder is not None:
            from aigc.cli.develop import _make_sandbox, with_runtime

            runner = _make_sandbox(sandbox)
            if given is not None:
                runner = with_runtime(runner, given)
        try:
            with render_env(environment, folder, runner, limits) as env:
                check_suffix(out_path, "text" if env.render_mode == "ansi" else "rgb")
                played = replay_episode(
                    environment, episode, RenderLimits(max_frames, max_width), env
                )
            write_replay(played, out_path)
        except ReplayError as exc:
            raise fail(str(exc)) from None
    out.print(
        f"episode {index} (seed {episode.seed}): return {played.total_return:.6g} in "
        f"{played.length} steps, as recorded; {len(played.frames)} frames written to {out_path}"
    )
    if played.kind == "text":
        # The completion is the agent's: its control characters are shown, not obeyed.
        click.echo(printable(replay_text(played)), nl=False)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return shown(value)


def print_episodes(submission_id: int) -> None:
    """Print every episode of a submission: seed, return, length, success, info values."""
    body = _remote("GET", f"/submissions/{submission_id}/episodes")
    names = list(body.get("info", []))
    table = Table("episode", "seed", "return", "length", "success", *map(shown, names), "ended")
    for e in body["episodes"]:
        ended = "terminated" if e["terminated"] else "truncated" if e["truncated"] else "—"
        table.add_row(
            str(e["index"]),
            _cell(e["seed"]),
            _cell(e["return"]),
            str(e["length"]),
            _cell(e["success"]),
            *(_cell(e["values"].get(n)) for n in names),
            ended,
        )
    failure = body.get("failure")
    at = failure.get("episode") if failure else None
    if failure and isinstance(at, int):
        step = failure.get("step")
        where = f"failed at step {step}" if isinstance(step, int) else "failed"
        table.add_row(
            str(at),
            "—",
            "—",
            str(step) if isinstance(step, int) else "—",
            "—",
            *("—" for _ in names),
            f"[red]{where}: {shown(failure['code'])}[/]",
        )
    out.print(table)
    if failure:
        what = f"episode {at} failed" if isinstance(at, int) else "not finished"
        out.print(f"[red]{what}[/]: {shown(failure['code'])}: {shown(failure['message'])}")


@click.command()
@click.argument("submission_id", type=int)
@click.option(
    "--kind",
    "-k",
    type=click.Choice(SAMPLE_KINDS),
    multiple=True,
    help="Only these groups (default: all).",
)
def samples(submission_id: int, kind: tuple[str, ...]) -> None:
    """Show a text submission's samples: best, worst, random, and where judges disagree.

    The last group holds the episodes where the reward model and the gold judge disagree
    most: the reward-hacking view.
    """
    body = _remote("GET", f"/submissions/{submission_id}/samples")
    for group in kind or SAMPLE_KINDS:
        title = body["titles"][group]
        out.print(f"[bold]{shown(title)}[/]")
        for s in body["samples"][group]:
            figures = ", ".join(
                f"{name} {_cell(s[name])}" for name in ("score", "gold", "nll", "gap")
            )
            out.print(f"  episode {s['index']}: {figures}")
            out.print(f"    prompt:     {shown(s['prompt'])}")
            out.print(f"    completion: {shown(s['completion'])}")
        if not body["samples"][group]:
            out.print("  (none)")
