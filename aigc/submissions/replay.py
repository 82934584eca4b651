"""Replays: one recorded episode re-run on the trusted side, checked, and rendered.

A replay makes the challenge's environment afresh, resets it with the episode's seed and
steps it with the recorded actions (see :mod:`aigc.submissions.recording`); no agent code
runs. The return and length it gets must be those recorded, or the environment is not
deterministic and the replay is refused with :class:`ReplayMismatch`. Frames come from
``render()``: ``rgb_array`` images where the environment draws them, ``ansi`` text
otherwise. Rendering is bounded by :class:`RenderLimits`: at most ``max_frames`` frames
(a long episode keeps every k-th step) and at most ``max_width`` pixels wide.

An organizer's environment (a bundle's ``entry_point``) is never built in this process: it
is re-run in its own sandbox (:mod:`aigc.submissions.environment_host`), which sends each
frame over the wire protocol, checked there. :func:`render_env` makes either kind.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator

from aigc.submissions.challenge import EnvironmentSpec, Limits
from aigc.submissions.recording import RecordingError, decode_actions
from aigc.submissions.results import EpisodeResult

if TYPE_CHECKING:
    from aigc.submissions.sandbox import Sandbox

RETURN_TOLERANCE = 1e-6  # relative: the same floats summed in the same order agree exactly
# Absolute, for returns near 0: a reward computed by a model in float32 (the text
# environment's reward model) rounds differently when the evaluator scored it in a batch
# with others than when the replay scores it alone, by a few parts in 10^7.
RETURN_ABSOLUTE_TOLERANCE = 1e-5
DEFAULT_FPS = 30.0


class ReplayError(Exception):
    """An episode that cannot be replayed; the message says why and what to do."""


class ReplayMismatch(ReplayError):
    """The environment did not repeat the recorded episode: it is not deterministic."""


@dataclass(frozen=True)
class RenderLimits:
    """How much a replay renders at most."""

    max_frames: int = 1000
    max_width: int = 640

    def __post_init__(self) -> None:
        if self.max_frames < 2 or self.max_width < 16:
            raise ValueError("render at least 2 frames and 16 pixels wide")


@dataclass
class Replay:
    """A replayed episode: its frames, and the text of a text environment."""

    episode: EpisodeResult
    kind: Literal["rgb", "text"]
    frames: list[Any] = field(default_factory=list)  # HxWx3 uint8 arrays, or str
    steps_per_frame: int = 1
    fps: float = DEFAULT_FPS  # of the frames as kept
    total_return: float = 0.0  # as replayed (equal to the recorded one)
    length: int = 0
    info: dict[str, Any] = field(default_factory=dict)  # of the last step

    @property
    def text(self) -> str:
        """What a text replay shows: the last frame, or the prompt and completion."""
        if "prompt" in self.info and "completion" in self.info:
            return f"{self.info['prompt']}{self.info['completion']}"
        return str(self.frames[-1]) if self.frames else ""


def render_modes(environment: EnvironmentSpec) -> list[str]:
    """The render modes the environment declares."""
    import aigc.envs  # noqa: F401  (the platform's own environments register on import)

    try:
        entry = gym.spec(environment.id).entry_point
    except gym.error.Error as exc:
        raise ReplayError(
            f"{environment.id} is not installed here: install the package that registers it ({exc})"
        ) from None
    creator = load_env_creator(entry) if isinstance(entry, str) else entry
    metadata = getattr(creator, "metadata", None) or {}
    return list(metadata.get("render_modes", []))


def make_render_env(environment: EnvironmentSpec) -> gym.Env:
    """The environment, drawing rgb_array frames, or ansi text where it cannot."""
    # pygame draws off screen: it needs neither a display nor a sound card.
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    if environment.entry_point is not None:
        # The organizer's code never runs in a trusted process: not even to draw frames.
        raise _in_its_sandbox(environment)
    modes = render_modes(environment)
    mode = "rgb_array" if "rgb_array" in modes else "ansi" if "ansi" in modes else None
    if mode is None:
        raise ReplayError(
            f"{environment.id} renders neither rgb_array nor ansi frames: "
            "its episodes cannot be shown"
        )
    kwargs: dict[str, Any] = dict(environment.kwargs)
    if environment.max_episode_steps is not None:
        kwargs["max_episode_steps"] = environment.max_episode_steps
    return gym.make(environment.id, render_mode=mode, **kwargs)


def _in_its_sandbox(environment: EnvironmentSpec) -> ReplayError:
    return ReplayError(
        f"{environment.entry_point} is the organizer's environment, replayed only in its "
        "own sandbox: give the challenge's bundle folder or archive with --challenge PATH"
    )


@contextmanager
def render_env(
    environment: EnvironmentSpec,
    bundle: Path | None = None,
    sandbox: Sandbox | None = None,
    limits: Limits | None = None,
) -> Iterator[gym.Env]:
    """The challenge's environment, drawing: built here, or a bundle's in its own sandbox.

    A bundle's environment needs the bundle's folder and a sandbox to run it in; whatever
    it does wrong there (a frame too big or of the wrong shape, a crash, a hang) is a
    :class:`ReplayError` saying so. ``limits`` are the challenge's (its time to start, to
    step, its memory), as in evaluation.
    """
    if environment.entry_point is None:
        env = make_render_env(environment)
        try:
            yield env
        finally:
            env.close()
        return
    from aigc.submissions.environment_host import EnvironmentFailed, EnvironmentHost

    if bundle is None or sandbox is None:
        raise _in_its_sandbox(environment)
    host = EnvironmentHost(bundle, environment, (), limits or Limits(), sandbox, render=True)
    try:
        host.start()
        yield host.make()
    except EnvironmentFailed as exc:
        raise ReplayError(f"the environment failed on replay: {exc.message}") from None
    finally:
        host.close()


def replay_episode(
    environment: EnvironmentSpec,
    episode: EpisodeResult,
    limits: RenderLimits | None = None,
    env: gym.Env | None = None,
) -> Replay:
    """Re-run a recorded episode and render it; raise ReplayMismatch if it comes out
    differently, ReplayError if it has no recording."""
    limits = limits or RenderLimits()
    if episode.actions is None:
        raise ReplayError(
            f"episode {episode.index} has no recorded actions (it was evaluated before "
            "recording, or was longer than a recording keeps): evaluate the agent again"
        )
    own = env is None
    env = env or make_render_env(environment)
    try:
        return _run(env, episode, limits)
    finally:
        if own:
            env.close()


def _run(env: gym.Env, episode: EpisodeResult, limits: RenderLimits) -> Replay:
    try:
        actions = decode_actions(episode.actions or "", env.action_space, episode.length)
    except RecordingError as exc:
        raise ReplayError(f"episode {episode.index} cannot be replayed: {exc}") from None
    text = env.render_mode == "ansi"
    stride = max(1, math.ceil((episode.length + 1) / limits.max_frames))
    replay = Replay(episode, "text" if text else "rgb", steps_per_frame=stride)
    fps = float(env.metadata.get("render_fps") or DEFAULT_FPS)
    replay.fps = max(fps / stride, 1.0)
    env.reset(seed=episode.seed)
    replay.frames.append(_frame(env, limits))
    ended, total = False, 0.0
    info: dict[str, Any] = {}
    for step, action in enumerate(actions, start=1):
        if ended:
            raise ReplayMismatch(_mismatch(episode, total, step - 1, "ended early"))
        _, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        ended = bool(terminated or truncated)
        if step % stride == 0 or ended or step == episode.length:
            replay.frames.append(_frame(env, limits))
    if not ended:
        raise ReplayMismatch(_mismatch(episode, total, episode.length, "did not end"))
    if not _same(total, episode.total_return):
        raise ReplayMismatch(_mismatch(episode, total, episode.length, "returned differently"))
    replay.total_return, replay.length, replay.info = total, episode.length, dict(info)
    return replay


def _same(replayed: float, recorded: float) -> bool:
    if math.isnan(recorded) or math.isnan(replayed):
        return math.isnan(recorded) and math.isnan(replayed)
    return math.isclose(
        replayed, recorded, rel_tol=RETURN_TOLERANCE, abs_tol=RETURN_ABSOLUTE_TOLERANCE
    )


def _mismatch(episode: EpisodeResult, total: float, length: int, how: str) -> str:
    return (
        f"episode {episode.index} (seed {episode.seed}) {how} on replay: recorded return "
        f"{episode.total_return:.6g} in {episode.length} steps, replayed {total:.6g} in "
        f"{length} steps with the same seed and actions; the environment is not "
        "deterministic (it draws randomness outside reset(seed=...)'s np_random, or "
        "depends on state kept between episodes): make it draw only from self.np_random"
    )


def _frame(env: gym.Env, limits: RenderLimits) -> Any:
    frame: Any = env.render()
    if env.render_mode == "ansi":
        return str(frame)
    image = np.asarray(frame)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ReplayError(f"render() gave an image of shape {image.shape}: expected H x W x 3")
    factor = math.ceil(image.shape[1] / limits.max_width)
    return np.ascontiguousarray(image[::factor, ::factor, :3], dtype=np.uint8)
