"""Organizers' environments in their own sandbox: the score of in-process, hostile ones contained.

The environments are bundles in tests/submissions/environments; the agents play in the
real Docker sandbox, and so do the environments. Hostile environments report what they
tried (``BLOCKED: ...`` or ``ESCAPED: ...``) as the agents of test_hostile.py do.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from aigc.submissions import results as r
from aigc.submissions.challenge import ChallengeSpec, parse_challenge_yaml
from aigc.submissions.deadlines import EvaluationCancelled
from aigc.submissions.docker_sandbox import DockerSandbox
from aigc.submissions.environment_host import (
    MAX_TEXT_FRAME_CHARS,
    EnvironmentFailed,
    EnvironmentHost,
)
from aigc.submissions.evaluator import evaluate
from aigc.submissions.recording import encode_actions
from aigc.submissions.replay import (
    RenderLimits,
    ReplayError,
    ReplayMismatch,
    render_env,
    replay_episode,
)
from aigc.submissions.results import EpisodeResult, EvaluationResult
from aigc.submissions.sandbox import LocalSandbox

from .conftest import HOST_SERVICES, agent, loopback_answers

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("docker_sandbox")]

ENVIRONMENTS = Path(__file__).parent / "environments"
CORRIDOR = ENVIRONMENTS / "corridor"


def corridor() -> ChallengeSpec:
    return parse_challenge_yaml((CORRIDOR / "challenge.yaml").read_text(), bundle=CORRIDOR)


def hostile_spec(name: str, kwargs: str = "{}", step: str = "2s") -> ChallengeSpec:
    text = f"""\
id: {name.replace("_", "-")}
title: {name}
environment: {{entry_point: "env:Env", kwargs: {kwargs}, max_episode_steps: 20}}
phases: [{{id: dev, episodes: 2, seeds: [1, 2]}}]
limits: {{step_timeout: {step}, startup_timeout: 60s}}
metrics: {{info: [reached]}}
"""
    return parse_challenge_yaml(text, bundle=ENVIRONMENTS / name)


def in_sandbox(
    bundle: Path, spec: ChallengeSpec, sandbox: DockerSandbox, package: Path
) -> tuple[EvaluationResult, str]:
    """Evaluate with the environment in its own container; return the result and its logs."""
    host = EnvironmentHost(bundle, spec.environment, spec.metrics.info, spec.limits, sandbox)
    try:
        host.start()
        result = evaluate(package, spec, "dev", sandbox=sandbox, make_env=host.make)
    finally:
        host.close()
    return result, host.logs


def test_the_score_is_the_same_with_the_environment_in_its_sandbox(
    docker_sandbox: DockerSandbox,
) -> None:
    spec = corridor()
    walker = agent("corridor_walker")
    here = evaluate(
        walker,
        spec,
        "dev",
        sandbox=docker_sandbox,
        make_env=lambda: spec.environment.make(CORRIDOR),
    )
    there, _ = in_sandbox(CORRIDOR, spec, docker_sandbox, walker)
    assert here.failure is None and there.failure is None
    assert there.metrics == here.metrics
    assert there.score == here.score and there.score is not None
    assert [e.total_return for e in there.episodes] == [e.total_return for e in here.episodes]
    assert [e.values for e in there.episodes] == [e.values for e in here.episodes]
    assert all(e.values["reached"] is not None for e in there.episodes)


def test_check_env_runs_inside_the_sandbox(docker_sandbox: DockerSandbox) -> None:
    spec = corridor()
    with EnvironmentHost(CORRIDOR, spec.environment, (), spec.limits, docker_sandbox) as host:
        assert isinstance(host.check(), list)
        assert set(host.observation_space.spaces) == {"position", "goal"}  # type: ignore[attr-defined]


def test_an_environment_reaches_nothing_of_the_platform(
    docker_sandbox: DockerSandbox, tmp_path: Path
) -> None:
    database = tmp_path / "platform.sqlite3"
    database.write_text("rows")
    kwargs = f"{{database: '{database}', agent_folder: '{tmp_path}'}}"
    result, _ = in_sandbox(
        ENVIRONMENTS / "hostile_probe",
        hostile_spec("hostile_probe", kwargs),
        docker_sandbox,
        agent("good"),
    )
    assert result.failure is not None and result.failure.code == r.ENVIRONMENT_ERROR
    assert "BLOCKED: interfaces lo" in result.failure.message, result.failure.message
    assert "ESCAPED" not in result.failure.message
    assert any(loopback_answers(port) for port in HOST_SERVICES)  # they do answer out here


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bad_observation", "outside its observation space Discrete(2)"),
        ("hang_step", "did not answer step within the 2 s a step"),
        ("huge_info", "a frame of 2147483648 bytes exceeds the cap"),
    ],
)
def test_a_failing_environment_is_the_organizers_failure_with_a_reason(
    docker_sandbox: DockerSandbox, name: str, expected: str
) -> None:
    # The huge info takes its time to build: it is the frame after it that must fail.
    spec = hostile_spec(name, step="2s" if name == "hang_step" else "30s")
    result, _ = in_sandbox(ENVIRONMENTS / name, spec, docker_sandbox, agent("random"))
    assert result.failure is not None, result.metrics
    assert result.failure.code == r.ENVIRONMENT_ERROR
    assert expected in result.failure.message, result.failure.message


def test_a_cancel_reaches_an_environment_that_hangs_in_step() -> None:
    """Cancelling stops the evaluation although the environment never answers its step."""
    spec = hostile_spec("hang_step", step="120s")  # without the cancel: a failure in 120 s
    bundle, cancel = ENVIRONMENTS / "hang_step", threading.Event()
    info, limits = spec.metrics.info, spec.limits
    with EnvironmentHost(
        bundle, spec.environment, info, limits, LocalSandbox(), cancel=cancel
    ) as host:
        env = host.make()
        env.reset(seed=1)
        threading.Timer(1.0, cancel.set).start()
        with pytest.raises(EvaluationCancelled):
            env.step(0)
    # The evaluator passes its own cancel event on: the whole evaluation ends cancelled.
    cancel.clear()
    with EnvironmentHost(
        bundle, spec.environment, info, limits, LocalSandbox(), cancel=cancel
    ) as host:
        threading.Timer(1.0, cancel.set).start()
        with pytest.raises(EvaluationCancelled):
            evaluate(
                agent("random"),
                spec,
                "dev",
                sandbox=LocalSandbox(),
                make_env=host.make,
                cancel=cancel,
            )


def test_a_huge_info_reaches_the_evaluator_as_the_declared_names_only() -> None:
    spec = hostile_spec("huge_info", step="30s")
    host = EnvironmentHost(
        ENVIRONMENTS / "huge_info",
        spec.environment,
        spec.metrics.info,
        spec.limits,
        LocalSandbox(),
    )
    with host:
        env = host.make()
        env.reset(seed=1)
        assert env.step(0)[4] == {"reached": None}
        with pytest.raises(EnvironmentFailed, match="exceeds the cap"):
            env.step(0)


def test_a_bundle_s_episode_replays_in_its_sandbox_with_the_recorded_return(
    docker_sandbox: DockerSandbox,
) -> None:
    spec = corridor()
    result, _ = in_sandbox(CORRIDOR, spec, docker_sandbox, agent("corridor_walker"))
    assert result.failure is None and result.episodes
    episode = result.episodes[0]
    assert episode.actions and episode.length >= 1
    with render_env(spec.environment, CORRIDOR, docker_sandbox, spec.limits) as env:
        assert env.render_mode == "rgb_array"
        played = replay_episode(spec.environment, episode, RenderLimits(), env)
        # The same sandbox replays another episode, and tells a changed return apart.
        changed = dataclasses.replace(result.episodes[1], total_return=123.0)
        with pytest.raises(ReplayMismatch, match="returned differently"):
            replay_episode(spec.environment, changed, RenderLimits(), env)
    assert played.kind == "rgb" and played.total_return == episode.total_return
    assert played.length == episode.length and played.fps == 4.0
    assert len(played.frames) == episode.length + 1
    width = 8 * (spec.environment.kwargs["length"] + 1)
    assert all(f.shape == (8, width, 3) and f.dtype == np.uint8 for f in played.frames)
    walker = [int(np.flatnonzero(f[4, :, 0] == 255)[0]) // 8 for f in played.frames]
    assert len(set(walker)) == len(played.frames)  # the walker moves a cell every step


def _bad_render_episode() -> EpisodeResult:
    space = gym.spaces.Discrete(2)
    return EpisodeResult(
        0, 1, 2.0 - 1.0, 2, 0.0, True, False, actions=encode_actions([0, 1], space)
    )


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ("huge", "a frame of 27000"),
        ("tall", "a frame of shape (5000, 2, 3) and dtype uint8"),
        ("flat", "a frame of shape (64, 64) and dtype uint8"),
        ("float", "a frame of shape (8, 8, 3) and dtype float32"),
        ("objects", "raised ProtocolError in render"),
    ],
)
def test_a_frame_a_replay_cannot_show_is_refused_with_the_reason(
    docker_sandbox: DockerSandbox, frame: str, expected: str
) -> None:
    spec = hostile_spec("bad_render", f"{{frame: {frame}}}", step="30s")
    with (
        pytest.raises(ReplayError, match="the environment failed on replay") as refused,
        render_env(
            spec.environment, ENVIRONMENTS / "bad_render", docker_sandbox, spec.limits
        ) as env,
    ):
        replay_episode(spec.environment, _bad_render_episode(), RenderLimits(), env)
    assert expected in str(refused.value), refused.value
    if frame != "huge":
        assert "return an H x W x 3 uint8 image" in str(refused.value) or frame == "objects"


def test_a_text_frame_comes_back_printable_and_bounded(docker_sandbox: DockerSandbox) -> None:
    spec = hostile_spec("bad_render")
    environment = dataclasses.replace(spec.environment, entry_point="env:TextEnv")
    bundle = ENVIRONMENTS / "bad_render"
    with render_env(environment, bundle, docker_sandbox, spec.limits) as env:
        assert env.render_mode == "ansi"
        played = replay_episode(environment, _bad_render_episode(), RenderLimits(), env)
    assert played.kind == "text" and len(played.frames) == 3
    assert all(len(f) <= MAX_TEXT_FRAME_CHARS * 2 for f in played.frames)
    assert all("\x1b" not in f and "\x07" not in f for f in played.frames)
    assert played.frames[0].startswith("\\x1b[2J")
