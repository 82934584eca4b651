"""The organizer's ``aigc challenge check``, and reading a bundle for ``create`` and ``update``.

``aigc challenge check PATH`` (a YAML spec, a bundle folder or a bundle archive) runs, in
order, the spec's checks, the environment's start (an organizer's environment in its own
sandbox), Gymnasium's ``check_env`` on it (inside that sandbox), and a random agent
through the real evaluator, printing each step as ``aigc check`` does for agents.

``aigc challenge get ID`` downloads what participants may have of a server's challenge
(its public spec and, unless private, its bundle) into the user's data folder
(:mod:`aigc.cli.local_challenges`), where ``--challenge ID`` finds it.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from aigc.cli.console import fail, out, shown
from aigc.cli.develop import SANDBOX_OPTION, _make_sandbox
from aigc.submissions.challenge import ChallengeSpec, SpecError, load_challenge

if TYPE_CHECKING:
    import gymnasium as gym

    from aigc.submissions.sandbox import Sandbox


def read_bundle(path: Path) -> tuple[bytes, str, ChallengeSpec]:
    """The archive to upload for a bundle folder or archive, checked here first."""
    from aigc.submissions.bundle import open_bundle, pack_bundle

    with open_bundle(path) as bundle:
        spec = bundle.spec
    if Path(path).is_dir():
        return pack_bundle(path), f"{spec.id}.zip", spec
    return Path(path).read_bytes(), Path(path).name, spec


@contextmanager
def _opened(path: Path) -> Iterator[tuple[ChallengeSpec, Path | None]]:
    """The spec of a YAML file (no folder), or of a bundle with its (unpacked) folder."""
    from aigc.submissions.bundle import is_bundle_path, open_bundle

    if not is_bundle_path(path):
        yield load_challenge(path), None
        return
    data, _, _ = read_bundle(path)
    # Checked as the platform will open it: the archive that is uploaded, unpacked afresh.
    with tempfile.TemporaryDirectory(prefix="aigc-bundle-") as tmp:
        archive = Path(tmp) / ("bundle.zip" if data[:2] == b"PK" else "bundle.tar.gz")
        archive.write_bytes(data)
        with open_bundle(archive) as bundle:
            yield bundle.spec, bundle.folder


def _plain(text: str) -> str:
    """A warning without the terminal colours Gymnasium wraps it in."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _mark(ok: bool, name: str, message: str) -> None:
    out.print(f"{'[green]✓[/]' if ok else '[red]✗[/]'} {name}: {shown(message)}")


def _seeds(spec: ChallengeSpec, episodes: int) -> tuple[str, list[int]]:
    """A phase and seeds a random agent can play here (hidden seeds are the platform's)."""
    for phase in spec.phases:
        if not phase.seeds_hidden:
            return phase.id, phase.seeds(spec.id, min(episodes, phase.episodes))
    return spec.phases[0].id, list(range(episodes))


def _runtime_sandbox(runner: Sandbox, spec: ChallengeSpec) -> Sandbox:
    """The sandbox with the spec's runtime packages, marked as a step of the check."""
    from aigc.cli.develop import with_runtime

    if not spec.runtime.packages:
        return runner
    if runner.name != "docker":
        _mark(True, "runtime", "--sandbox local: the packages must be installed in this Python")
        return runner
    try:
        chosen = with_runtime(runner, spec)
    except click.ClickException as exc:
        _mark(False, "runtime", exc.message)
        sys.exit(1)
    image = getattr(chosen, "image", "")
    _mark(True, "runtime", f"{', '.join(spec.runtime.packages)} resolve; agents run in {image}")
    return chosen


@click.command("check")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--episodes", "-n", type=click.IntRange(min=1), default=3, show_default=True,
    help="Episodes the random agent plays.",
)  # fmt: skip
@SANDBOX_OPTION
def check(path: Path, episodes: int, sandbox: str | None) -> None:
    """Check a challenge (YAML, bundle folder or archive) before creating it."""
    from aigc.submissions.environment_host import EnvironmentFailed, EnvironmentHost
    from aigc.submissions.spaces import describe_space

    try:
        with _opened(path) as (spec, folder), ExitStack() as stack:
            _mark(
                True,
                "spec",
                f"{spec.id} ({spec.title}), phases {', '.join(p.id for p in spec.phases)}",
            )
            runner = _runtime_sandbox(_make_sandbox(sandbox), spec)
            make_env: Callable[[], gym.Env] = spec.environment.make
            if spec.environment.in_bundle:
                assert folder is not None
                host = EnvironmentHost(
                    folder, spec.environment, spec.metrics.info, spec.limits, runner
                )
                stack.callback(host.close)
                try:
                    host.start()
                    warnings = host.check()
                except EnvironmentFailed as exc:
                    _mark(False, "environment", exc.message)
                    sys.exit(1)
                where = "in its sandbox" if runner.isolated else "unsandboxed (--sandbox local)"
                observation, action = host.observation_space, host.action_space
                make_env = host.make
            else:
                env = spec.environment.make()
                observation, action = env.observation_space, env.action_space
                warnings = _check_here(env)
                where = "in this process (it ships with the platform)"
            _mark(
                True,
                "environment",
                f"{spec.environment.id} starts {where}: observations "
                f"{describe_space(observation)}, actions {describe_space(action)}",
            )
            _mark(
                True,
                "check_env",
                "Gymnasium's check_env passed"
                + (
                    f" with {len(warnings)} warning(s): {'; '.join(map(_plain, warnings))}"
                    if warnings
                    else ""
                ),
            )
            ok = _random_agent(spec, runner, make_env, episodes)
    except SpecError as exc:
        _mark(False, "spec", str(exc))
        sys.exit(1)
    if not ok:
        sys.exit(1)
    out.print("[green]The challenge is ready: aigc challenge create PATH[/]")


def _check_here(env: gym.Env) -> list[str]:
    import warnings

    from gymnasium.utils.env_checker import check_env

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            check_env(env.unwrapped, skip_render_check=True)
        except Exception as exc:
            raise SpecError(f"check_env failed: {exc}") from None
        finally:
            env.close()
    return [str(w.message).splitlines()[0][:300] for w in caught]


def _random_agent(
    spec: ChallengeSpec, runner: Sandbox, make_env: Callable[[], gym.Env], episodes: int
) -> bool:
    from aigc.submissions.evaluator import evaluate
    from aigc.submissions.package import write_starter_package

    phase, seeds = _seeds(spec, episodes)
    with tempfile.TemporaryDirectory(prefix="aigc-random-") as tmp:
        package = Path(tmp) / "random"
        write_starter_package(package, spec.id, "(any)", "(any)")
        try:
            result = evaluate(package, spec, phase, sandbox=runner, seeds=seeds, make_env=make_env)
        except SpecError as exc:
            raise fail(str(exc)) from None
    if result.failure is not None:
        _mark(False, "random agent", f"{result.failure.code}: {result.failure.message}")
        return False
    metric = spec.metrics.primary
    _mark(
        True,
        "random agent",
        f"{len(result.episodes)} episodes of phase {phase}, {result.steps} steps, "
        f"{metric} {result.score:g}"
        if result.score is not None
        else f"{metric}: no score",
    )
    return True


MAX_BUNDLE_DOWNLOAD = 2**30


@click.command("get")
@click.argument("challenge_id", metavar="ID")
@click.option("--server", help="Ask this server (default: the one signed in to).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep it in this folder (then --challenge DIR) instead of your data folder.",
)
def get(challenge_id: str, server: str | None, out_dir: Path | None) -> None:
    """Download a server's challenge to work on it here: its public spec and environment."""
    from aigc.cli.client import DEFAULT_SERVER, ApiFailure, Client, load_login
    from aigc.cli.local_challenges import private_message, save_challenge
    from aigc.submissions.bundle import open_bundle
    from aigc.submissions.challenge import builtin_challenge_ids

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", challenge_id):
        raise fail(f"{challenge_id!r} is not a challenge id: aigc challenges lists them")
    login = load_login()
    client = (
        Client(server)
        if server
        else Client(login.server, login.token)
        if login
        else Client(DEFAULT_SERVER)
    )
    try:
        about = client.call("GET", f"/challenges/{challenge_id}")
        spec_yaml = client.text(f"/challenges/{challenge_id}/spec")
        bundle = None
        if about.get("bundle") and not about.get("environment_private"):
            bundle = client.download(f"/challenges/{challenge_id}/bundle", MAX_BUNDLE_DOWNLOAD)
    except ApiFailure as exc:
        raise fail(str(exc)) from None
    try:
        with ExitStack() as stack:
            folder = None
            if bundle is not None:
                tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aigc-get-")))
                (tmp / "bundle.zip").write_bytes(bundle)
                folder = stack.enter_context(open_bundle(tmp / "bundle.zip")).folder
            where, spec = save_challenge(
                spec_yaml, folder, client.server, int(about["version"]), out_dir
            )
    except SpecError as exc:
        raise fail(f"the server's {challenge_id} cannot be used here: {exc}") from None
    out.print(f"downloaded challenge {shown(spec.id)} (version {about['version']}) to {where}")
    name = spec.id
    if out_dir is not None:
        name = str(where)
    elif spec.id in builtin_challenge_ids():
        name = str(where)
        out_note = f"{shown(spec.id)} is also built in, and --challenge {shown(spec.id)} means "
        out.print(f"[yellow]note:[/] {out_note}the built-in one: pass --challenge {where}")
    if about.get("environment_private"):
        out.print(f"[yellow]note:[/] {shown(private_message(spec.id))}")
        out.print(f"Next: aigc init-agent my-agent --challenge {shown(name)}, then aigc submit")
        return
    out.print(f"Next: aigc init-agent my-agent --challenge {shown(name)}")
