"""``aigc init-agent``, ``check``, ``evaluate`` and ``sandbox``: write and try an agent here."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aigc.cli.console import err, fail, out, show_progress, shown
from aigc.cli.local_challenges import LocalChallenge, find_challenge, private_message
from aigc.extras import MissingExtra
from aigc.submissions.challenge import ChallengeSpec, SpecError, builtin_challenge_ids
from aigc.submissions.checks import check_package
from aigc.submissions.evaluator import DEFAULT_PARALLEL
from aigc.submissions.evaluator import evaluate as run_evaluation
from aigc.submissions.package import (
    PackageError,
    open_package,
    read_manifest,
    write_starter_package,
)
from aigc.submissions.results import EpisodeResult, EvaluationResult
from aigc.submissions.sandbox import LocalSandbox, Sandbox, SandboxError
from aigc.submissions.spaces import describe_space

if TYPE_CHECKING:
    import docker
    import gymnasium as gym

CHALLENGE_HELP = (
    "A built-in challenge id ("
    + ", ".join(builtin_challenge_ids())
    + "), one downloaded by aigc challenge get ID, a YAML file or a bundle folder."
)


def _make_sandbox(kind: str | None) -> Sandbox:
    """Build the chosen sandbox; without a choice, Docker when an engine answers."""
    if kind in (None, "docker"):  # the Docker SDK is loaded only for these
        from aigc.submissions.docker_sandbox import DockerSandbox, docker_client
        from aigc.submissions.images import ImageError

        client = docker_client()
        if kind == "docker" and client is None:
            raise fail(
                "no Docker engine answers: start Docker, or use --sandbox local for code you trust"
            )
        if client is not None:
            try:
                return DockerSandbox(client=client, progress=show_progress)
            except (ImageError, SandboxError) as exc:
                raise fail(str(exc)) from None
    err.print(
        "[yellow]warning:[/] "
        + ("no Docker engine answers, so " if kind is None else "")
        + "--sandbox local runs the agent's code unsandboxed, with your rights: "
        "only evaluate code you trust."
    )
    return LocalSandbox()


def _manifest_challenge(folder: Path) -> str | None:
    """The challenge aigc.toml names, if it can be read (its check reports it otherwise)."""
    try:
        return read_manifest(folder).challenge
    except PackageError:
        return None


def with_runtime(runner: Sandbox, spec: ChallengeSpec) -> Sandbox:
    """The sandbox with the challenge's runtime packages: in Docker, the image derived for
    them, built here (the wheels from pip's configured index, or from the folder
    AIGC_RUNTIME_WHEELS names); the local sandbox runs this Python, where they must be
    installed."""
    if not spec.runtime.packages or runner.name != "docker":
        return runner
    from aigc.submissions.docker_sandbox import DockerSandbox
    from aigc.submissions.images import ImageError

    assert isinstance(runner, DockerSandbox)
    wheels = os.environ.get("AIGC_RUNTIME_WHEELS", "").strip()
    try:
        return runner.with_packages(spec.runtime.packages, Path(wheels) if wheels else None)
    except (ImageError, SpecError) as exc:  # SpecError: pip's line, they do not resolve
        raise fail(f"{spec.id}: {exc}") from None


SANDBOX_OPTION = click.option(
    "--sandbox",
    type=click.Choice(["docker", "local"]),
    help="Where the agent runs. Default: docker when an engine answers, else local.",
)
TRUST_OPTION = click.option(
    "--trust-environment",
    is_flag=True,
    help="Run a challenge's own environment code (its organizer's) in this process, with "
    "your rights, instead of in its Docker sandbox.",
)


@contextmanager
def environment_for(
    local: LocalChallenge, agent_sandbox: Sandbox | None, trust: bool
) -> Iterator[Callable[[], gym.Env] | None]:
    """How environments are made here: as usual, or the organizer's code in its sandbox.

    An environment of a challenge's bundle is its organizer's code: it runs in the Docker
    sandbox, with the locks of an agent's, as on the platform; in this process only when
    the participant chooses to trust it (``--trust-environment``).
    """
    environment = local.spec.environment
    if not environment.in_bundle:
        yield None
        return
    if local.bundle is None:
        raise SpecError(private_message(local.spec.id))
    bundle = local.bundle
    if trust:
        yield lambda: environment.make(bundle)
        return
    from aigc.submissions.environment_host import EnvironmentFailed, EnvironmentHost

    sandbox = agent_sandbox if agent_sandbox is not None and agent_sandbox.isolated else None
    if sandbox is None:
        from aigc.submissions.docker_sandbox import DockerSandbox, docker_client

        client = docker_client()
        if client is None:
            raise fail(
                f"no Docker engine answers: the environment of {local.spec.id!r} is its "
                "organizer's code and runs in the Docker sandbox; start Docker, or pass "
                "--trust-environment to run it in this process"
            )
        sandbox = DockerSandbox(client=client, progress=show_progress)
    spec = local.spec
    try:
        with EnvironmentHost(bundle, environment, spec.metrics.info, spec.limits, sandbox) as host:
            yield host.make
    except EnvironmentFailed as exc:
        raise fail(f"the challenge's environment failed: {exc.message}") from None


def _spaces(local: LocalChallenge, trust: bool) -> tuple[str, str]:
    """The observation and action spaces, described for the starter agent."""
    if local.private:
        hidden = "(the environment is private: see the challenge's page)"
        return hidden, hidden
    with environment_for(local, None, trust) as make_env:
        env = make_env() if make_env is not None else local.spec.environment.make()
        try:
            return describe_space(env.observation_space), describe_space(env.action_space)
        finally:
            env.close()


@click.command("init-agent")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--challenge", "-c", required=True, help=CHALLENGE_HELP)
@TRUST_OPTION
def init_agent(directory: Path, challenge: str, trust_environment: bool) -> None:
    """Write a working random agent package into DIRECTORY."""
    try:
        local = find_challenge(challenge)
        spec = local.spec
        write_starter_package(directory, spec.id, *_spaces(local, trust_environment))
    except (SpecError, PackageError, MissingExtra) as exc:
        raise fail(str(exc)) from None
    if local.private:
        out.print(f"[yellow]note:[/] {shown(private_message(spec.id))}")
    out.print(f"Wrote a random agent for [bold]{spec.id}[/] to {directory}/ (aigc.toml, agent.py).")
    out.print(f"Next: edit {directory}/agent.py, then run")
    out.print(f"  aigc check {directory}")
    out.print(f"  aigc evaluate {directory}")


@click.command()
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--challenge", "-c", help=CHALLENGE_HELP + " Default: the one in aigc.toml.")
@SANDBOX_OPTION
@TRUST_OPTION
def check(
    package: Path, challenge: str | None, sandbox: str | None, trust_environment: bool
) -> None:
    """Check an agent package (folder, .zip or .tar.gz) before submitting it."""
    found: list[LocalChallenge] = []

    def resolve(name: str) -> ChallengeSpec:
        found.append(find_challenge(name))
        return found[-1].spec

    try:
        with open_package(package) as folder:
            runner = _make_sandbox(sandbox)
            name = challenge or _manifest_challenge(folder)
            try:
                spec = find_challenge(name).spec if name is not None else None
            except SpecError:
                spec = None  # the check of the challenge below says what is wrong
            if spec is not None:
                runner = with_runtime(runner, spec)
            report = check_package(
                folder,
                challenge,
                runner,
                resolve=resolve,
                open_environment=lambda _: environment_for(found[-1], runner, trust_environment),
            )
    except (PackageError, MissingExtra) as exc:
        raise fail(str(exc)) from None
    for item in report:
        mark = "[yellow]![/]" if item.warning else "[green]✓[/]" if item.ok else "[red]✗[/]"
        out.print(f"{mark} {item.name}: {shown(item.message)}")
    if not all(item.ok for item in report):
        sys.exit(1)
    out.print("[green]The package is ready to submit.[/]")


@click.command()
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--challenge", "-c", help=CHALLENGE_HELP + " Default: the one in aigc.toml.")
@click.option(
    "--phase", "-p", default="dev", show_default=True, help="The phase whose seeds to use."
)
@click.option("--episodes", "-n", type=click.IntRange(min=1), help="Run only the first N episodes.")
@click.option(
    "--seeds",
    "seed_text",
    metavar="LIST",
    help="Play these seeds, in this order, e.g. 1000-1099 or 7,42,1000-1009 "
    "(a platform result lists each episode's seed).",
)
@click.option(
    "--parallel",
    type=click.IntRange(min=1, max=256),
    default=DEFAULT_PARALLEL,
    show_default=True,
    help="Episodes run side by side (the agent answers them in one round trip).",
)
@SANDBOX_OPTION
@TRUST_OPTION
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the result here.")
def evaluate(
    package: Path,
    challenge: str | None,
    phase: str,
    episodes: int | None,
    seed_text: str | None,
    parallel: int,
    sandbox: str | None,
    trust_environment: bool,
    json_path: Path | None,
) -> None:
    """Evaluate an agent package on a challenge phase, exactly as the platform does."""
    seeds = parse_seeds(seed_text) if seed_text is not None else None
    try:
        with open_package(package) as folder:
            name = challenge or read_manifest(folder).challenge
            if name is None:
                raise fail(
                    'no challenge given: pass --challenge ID or add challenge = "ID" to aigc.toml'
                )
            local = find_challenge(name)
            spec = local.spec
            if local.private:
                raise SpecError(private_message(spec.id))
            if seeds is None:  # fails early on hidden seeds
                seeds = spec.phase(phase).seeds(spec.id, episodes)
            seeds = seeds[:episodes] if episodes else seeds
            total = len(seeds)
            runner = with_runtime(_make_sandbox(sandbox), spec)
            with (
                environment_for(local, runner, trust_environment) as make_env,
                Progress(
                    TextColumn("[bold]{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[score]}"),
                    TimeElapsedColumn(),
                    console=err,
                    transient=True,
                ) as progress,
            ):
                task = progress.add_task(f"{spec.id}/{phase}", total=total, score="")
                returns: list[float] = []

                def on_episode(episode: EpisodeResult, done: int, _total: int) -> None:
                    returns.append(episode.total_return)
                    mean = sum(returns) / len(returns)
                    progress.update(task, completed=done, score=f"mean return {mean:.2f}")

                result = run_evaluation(
                    folder,
                    spec,
                    phase,
                    sandbox=runner,
                    seeds=seeds,
                    parallel=parallel,
                    on_episode=on_episode,
                    make_env=make_env,
                )
    except (SpecError, PackageError, MissingExtra) as exc:
        raise fail(str(exc)) from None
    _print_summary(result)
    if json_path is not None:
        json_path.write_text(result.to_json(indent=2) + "\n", encoding="utf-8")
        out.print(f"Result written to {json_path}")
    if result.failure is not None:
        sys.exit(1)


MAX_SEEDS = 100_000


def parse_seeds(text: str) -> list[int]:
    """Read a seed list such as ``7,42,1000-1009``; raise a one-line error naming the fix."""
    seeds: list[int] = []
    for part in text.replace(" ", "").split(","):
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise fail(
                f"--seeds: {part!r} is not a seed or a range: write e.g. 7,42,1000-1009"
            ) from None
        if not 0 <= first <= last < 2**31:
            raise fail(f"--seeds: {part!r} must be seeds from 0 to {2**31 - 1}, low to high")
        if len(seeds) + last - first + 1 > MAX_SEEDS:
            raise fail(f"--seeds: at most {MAX_SEEDS} seeds")
        seeds.extend(range(first, last + 1))
    return seeds


def _print_summary(result: EvaluationResult) -> None:
    table = Table(
        title=f"{shown(result.agent)} on {result.challenge}/{result.phase}", title_justify="left"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in result.metrics.items():
        label = f"{name} (primary)" if name == result.primary_metric else name
        table.add_row(label, "—" if value is None else f"{value:.4g}")
    table.add_row("episodes", f"{len(result.episodes)} of {result.episodes_requested}")
    rate = result.steps / result.wall_time if result.wall_time else 0.0
    table.add_row("wall time", f"{result.wall_time:.2f} s ({rate:,.0f} steps/s)")
    if result.startup_time is not None:
        table.add_row("agent startup", f"{result.startup_time:.2f} s")
    out.print(table)
    if result.failure is not None:
        failure = result.failure
        out.print(f"[red]Evaluation failed ({failure.code}):[/] {shown(failure.message)}")


@click.group()
def sandbox() -> None:
    """Manage the Docker sandbox: its image and leftover containers."""


def _docker() -> docker.DockerClient:
    from aigc.submissions.docker_sandbox import docker_client

    client = docker_client()
    if client is None:
        raise fail("no Docker engine answers: start Docker (e.g. dockerd) and try again")
    return client


@sandbox.command("build")
def sandbox_build() -> None:
    """Build the agent-runtime image if it is missing, and print its tag."""
    from aigc.submissions.images import ImageError, runtime_image

    try:
        tag = runtime_image(_docker(), progress=show_progress)
    except ImageError as exc:
        raise fail(str(exc)) from None
    out.print(tag)


@sandbox.command("reap")
def sandbox_reap() -> None:
    """Remove sandbox containers left behind by evaluators that are gone."""
    from aigc.submissions.docker_sandbox import reap_stale_containers

    removed = reap_stale_containers(_docker())
    out.print(
        f"removed {len(removed)} container(s)" + (f": {', '.join(removed)}" if removed else "")
    )
