"""``aigc check``: small named checks of an agent package, joined by one driver.

Each check returns what the next one needs, or raises :class:`CheckFailed` with one line
that says what is wrong and how to fix it. The last checks run the agent through the real
runtime in a child process, exactly as an evaluation does, on a few episodes.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from aigc.submissions import results
from aigc.submissions.challenge import ChallengeSpec, SpecError, get_challenge
from aigc.submissions.evaluator import evaluate
from aigc.submissions.package import (
    Manifest,
    PackageError,
    entry_module_path,
    install_files,
    read_manifest,
    runtime_holds,
)
from aigc.submissions.results import EvaluationResult
from aigc.submissions.sandbox import Sandbox

if TYPE_CHECKING:
    import gymnasium as gym

# Opens what makes a challenge's environments for one run (None: the spec's own make).
OpenEnvironment = Callable[[ChallengeSpec], AbstractContextManager[Callable[[], "gym.Env"] | None]]

CHECK_EPISODES = 3
T = TypeVar("T")


class CheckFailed(Exception):
    """A check did not pass; the message names the fix."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    message: str
    warning: bool = False  # passed, but something in the package will not do what it seems


def install_warning(package_dir: Path, added: tuple[str, ...] = ()) -> str | None:
    """Say that requirements.txt and the like are ignored, and what the runtime holds
    (``added``: the challenge's runtime packages)."""
    found = install_files(package_dir)
    if not found:
        return None
    holds = runtime_holds()
    if added:
        holds += f", plus the challenge's runtime packages {', '.join(added)}"
    return (
        f"{', '.join(found)} ignored: this challenge's runtime holds {holds}; "
        "ask the organizer or vendor pure-Python code"
    )


def check_manifest(package_dir: Path) -> Manifest:
    try:
        return read_manifest(package_dir)
    except PackageError as exc:
        raise CheckFailed(str(exc)) from None


def check_entry_point(package_dir: Path, manifest: Manifest) -> str:
    path = entry_module_path(package_dir, manifest)
    if path is None:
        raise CheckFailed(
            f"entry point module {manifest.module!r} not found: create "
            f"{manifest.module.replace('.', '/')}.py or fix entry_point in aigc.toml"
        )
    return f"{path.relative_to(package_dir)} defines {manifest.class_name}"


def check_challenge(
    manifest: Manifest,
    challenge: str | None,
    resolve: Callable[[str], ChallengeSpec] = get_challenge,
) -> ChallengeSpec:
    name = challenge or manifest.challenge
    if name is None:
        raise CheckFailed(
            'no challenge to check against: pass --challenge ID or add challenge = "ID" '
            "to aigc.toml"
        )
    try:
        return resolve(name)
    except SpecError as exc:
        raise CheckFailed(str(exc)) from None


def public_phase(challenge: ChallengeSpec) -> str:
    """Return the first phase whose seeds participants may use."""
    for phase in challenge.phases:
        if not phase.seeds_hidden:
            return phase.id
    raise CheckFailed(f"challenge {challenge.id!r} has no phase with public seeds to check on")


def check_agent_starts(run: EvaluationResult) -> EvaluationResult:
    if run.failure is not None and run.failure.code == results.AGENT_START_FAILED:
        raise CheckFailed(run.failure.message)
    return run


def check_actions(run: EvaluationResult) -> str:
    if run.failure is not None:
        raise CheckFailed(run.failure.message)
    return f"{len(run.episodes)} episodes, {run.steps} actions, all inside the action space"


def run_agent(
    package_dir: Path,
    spec: ChallengeSpec,
    phase: str,
    episodes: int,
    sandbox: Sandbox | None,
    open_environment: OpenEnvironment | None = None,
) -> EvaluationResult:
    try:
        with (open_environment or (lambda _: nullcontext()))(spec) as make_env:
            return evaluate(
                package_dir,
                spec,
                phase,
                sandbox=sandbox,
                episodes=episodes,
                parallel=episodes,
                make_env=make_env,
            )
    except (SpecError, PackageError) as exc:
        raise CheckFailed(str(exc)) from None


def _record(
    report: list[CheckResult], name: str, fn: Callable[[], T], describe: Callable[[T], str]
) -> T:
    try:
        value = fn()
    except CheckFailed as exc:
        report.append(CheckResult(name, False, str(exc)))
        raise
    report.append(CheckResult(name, True, describe(value)))
    return value


def check_package(
    package_dir: Path,
    challenge: str | None = None,
    sandbox: Sandbox | None = None,
    resolve: Callable[[str], ChallengeSpec] = get_challenge,
    open_environment: OpenEnvironment | None = None,
) -> list[CheckResult]:
    """Run every check in order, stopping at the first that fails.

    ``resolve`` finds a challenge by name (built-in ones and YAML files by default);
    ``open_environment`` says how its environments are made (an organizer's in a sandbox).
    """
    report: list[CheckResult] = []
    try:
        manifest = _record(
            report,
            "manifest",
            lambda: check_manifest(package_dir),
            lambda m: f"{m.name}, entry point {m.entry_point}",
        )
        _record(report, "entry point", lambda: check_entry_point(package_dir, manifest), str)
        warning = install_warning(package_dir)
        if warning is not None:
            report.append(CheckResult("packages", True, warning, warning=True))
        spec = _record(
            report,
            "challenge",
            lambda: check_challenge(manifest, challenge, resolve),
            lambda c: f"{c.id} ({c.environment.id})",
        )
        if warning is not None and spec.runtime.packages:
            packages = next(i for i, item in enumerate(report) if item.name == "packages")
            added = install_warning(package_dir, spec.runtime.packages) or warning
            report[packages] = CheckResult("packages", True, added, warning=True)
        phase = _record(
            report, "phase", lambda: public_phase(spec), lambda p: f"{p} (public seeds)"
        )
        episodes = min(CHECK_EPISODES, spec.phase(phase).episodes)
        run = _record(
            report,
            "agent starts",
            lambda: check_agent_starts(
                run_agent(package_dir, spec, phase, episodes, sandbox, open_environment)
            ),
            lambda _: "imported and built in a separate process; it answered the evaluator",
        )
        _record(report, "actions", lambda: check_actions(run), str)
    except CheckFailed:
        pass
    return report
