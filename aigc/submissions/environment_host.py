"""An organizer's environment in its own sandbox, seen from the evaluator as gymnasium.Env objects.

:class:`EnvironmentHost` starts the environment runtime
(:mod:`aigc.submissions.environment_runtime`) in a sandbox with the agent's locks and the
bundle read-only, and speaks the wire protocol with it. :meth:`EnvironmentHost.make` hands
the evaluator :class:`RemoteEnv` proxies with the gymnasium.Env interface. The evaluator
keeps what it keeps with any environment: the seeds (passed to ``reset``), the check of
every action (against the space the runtime declared, checked when it arrives), the
returns and lengths. This side checks every observation against the observation space,
every reward, flag and info value, and takes from ``info`` only the names of
``metrics.info``. Every wait has a deadline (start-up, then per step) and obeys the
evaluation's cancel event; when the environment fails, :class:`EnvironmentFailed` says
why, for the organizer.

A replay (``render=True``) has the environment draw too: :meth:`RemoteEnv.render` returns
its frame, checked here (an H x W x 3 uint8 image within :data:`MAX_FRAME_SIDE` pixels a
side, or ansi text cut at :data:`MAX_TEXT_FRAME_CHARS` and made printable).
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker, TimeLimit

from aigc.safe_text import printable, short_message
from aigc.submissions import results as r
from aigc.submissions.challenge import EnvironmentSpec, Limits
from aigc.submissions.deadlines import check, until
from aigc.submissions.owners import make_temp_folder
from aigc.submissions.protocol import (
    ENVIRONMENT_MESSAGES,
    PROTOCOL_VERSION,
    Connection,
    DeadlineExceeded,
    PeerClosed,
    ProtocolError,
    decode_array,
    encode_array,
)
from aigc.submissions.sandbox import SOCKET_NAME, AgentProcess, Sandbox
from aigc.submissions.spaces import (
    ACTION_SPACES,
    decode_batch,
    decode_space,
    describe_space,
    encode_space,
    unbatch,
)

EXIT_WAIT = 2.0
MAX_FRAME_SIDE = 4096  # pixels; the frame cap of the protocol bounds the whole image too
MAX_TEXT_FRAME_CHARS = 2**16
RENDER_MODES = ("rgb_array", "ansi")


class EnvironmentFailed(Exception):
    """The organizer's environment failed; the message says how, for the organizer."""

    code = r.ENVIRONMENT_ERROR

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class EnvironmentHost:
    """One environment runtime in its sandbox, serving the environments of one evaluation."""

    def __init__(
        self,
        bundle_dir: Path,
        environment: EnvironmentSpec,
        info: Sequence[str],
        limits: Limits,
        sandbox: Sandbox,
        render: bool = False,
        cancel: threading.Event | None = None,
    ):
        if environment.entry_point is None:
            raise ValueError("only an environment of a bundle runs in its own sandbox")
        self.bundle_dir, self.environment, self.info = Path(bundle_dir), environment, tuple(info)
        self.limits, self.sandbox, self.render = limits, sandbox, render
        self.cancel = cancel  # set: every wait on the environment ends with EvaluationCancelled
        self.render_mode: str | None = None
        self.render_fps = 0.0
        self.process: AgentProcess | None = None
        self.conn: Connection | None = None
        self.workdir: Path | None = None
        self.count = 0
        self.logs = ""
        self.observation_space: gym.Space = gym.spaces.Discrete(1)
        self.action_space: gym.Space = gym.spaces.Discrete(1)

    def __enter__(self) -> EnvironmentHost:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the runtime and learn the environment's spaces, within the start-up time."""
        deadline = time.monotonic() + self.limits.startup_timeout
        self.workdir = make_temp_folder("eval")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self.workdir / SOCKET_NAME))
            listener.listen(1)
            self.process = self.sandbox.start_environment(
                self.bundle_dir, self.workdir, self.limits
            )
            self.conn = Connection(self._accept(listener, deadline))
        finally:
            listener.close()
        environment = self.environment
        hello = {
            "type": "env_hello",
            "protocol": PROTOCOL_VERSION,
            "entry_point": environment.entry_point,
            "kwargs_json": json.dumps(environment.kwargs),
            "max_episode_steps": environment.max_episode_steps or 0,
            "info": list(self.info),
            "render": self.render,
        }
        reply = self._ask(hello, deadline, "start")
        if reply["type"] != "env_hello" or reply["protocol"] != PROTOCOL_VERSION:
            raise EnvironmentFailed("the environment runtime did not answer env_hello")
        try:
            self.observation_space = decode_space(reply["observation_space"])
            self.action_space = decode_space(reply["action_space"])
            encode_space(self.observation_space)  # the agent must be able to receive it
        except (ProtocolError, ValueError) as exc:
            raise EnvironmentFailed(f"the environment declared an unusable space: {exc}") from None
        if not isinstance(self.action_space, ACTION_SPACES):
            raise EnvironmentFailed(
                f"the environment's action space {self.action_space} is not supported: use "
                "Discrete, Box, MultiDiscrete or MultiBinary"
            )
        if self.render:
            self._render_mode(reply["render_mode"], reply["render_fps"])

    def _render_mode(self, mode: str, fps: float) -> None:
        if mode not in RENDER_MODES:
            raise EnvironmentFailed(
                f"{self.environment.entry_point} renders neither rgb_array nor ansi frames "
                '(its class\'s metadata["render_modes"] names neither): its episodes cannot be '
                "shown"
            )
        self.render_mode = mode
        self.render_fps = float(fps) if math.isfinite(fps) and 0 < fps <= 1000 else 0.0

    def close(self) -> None:
        """Tell the runtime the evaluation is over, stop its sandbox, keep its logs."""
        if self.conn is not None:
            with contextlib.suppress(OSError, DeadlineExceeded, PeerClosed):
                self.conn.send({"type": "close"}, time.monotonic() + 1.0)
            self.conn.close()
            self.conn = None
        if self.process is not None:
            self.process.wait(1.0)
            self.process.stop()
            self.logs = self.process.logs()
            self.process = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    # -- what the evaluator asks ---------------------------------------------------------

    def make(self) -> RemoteEnv:
        """A new environment of this runtime (built there on its first reset)."""
        self.count += 1
        return RemoteEnv(self, self.count - 1)

    def reset(self, index: int, seed: int) -> tuple[Any, dict[str, Any]]:
        deadline = time.monotonic() + self.limits.step_timeout
        reply = self._ask({"type": "env_reset", "index": index, "seed": seed}, deadline, "reset")
        if reply["type"] != "env_observation":
            raise EnvironmentFailed(f"the environment answered reset with {reply['type']!r}")
        (observation,) = self._observations(reply["observation"], 1, "reset")
        return observation, {}

    def step_many(
        self, indices: Sequence[int], actions: Sequence[Any]
    ) -> list[tuple[Any, float, bool, bool, dict[str, Any]]]:
        """Step these environments with these (checked) actions in one round trip."""
        n = len(indices)
        array = np.asarray(actions)  # checked actions of one space: they stack
        message = {"type": "env_step", "indices": list(indices), "actions": encode_array(array)}
        deadline = time.monotonic() + self.limits.step_timeout * n
        reply = self._ask(message, deadline, "step")
        if reply["type"] != "env_steps":
            raise EnvironmentFailed(f"the environment answered step with {reply['type']!r}")
        observations = self._observations(reply["observations"], n, "step")
        rewards = self._flags(reply["rewards"], n, "rewards", "f")
        if not np.isfinite(rewards).all():
            raise EnvironmentFailed("the environment returned a reward that is NaN or infinite")
        terminated = self._flags(reply["terminated"], n, "terminated", "b")
        truncated = self._flags(reply["truncated"], n, "truncated", "b")
        infos = self._infos(reply["infos"], n)
        return [
            (observations[i], float(rewards[i]), bool(terminated[i]), bool(truncated[i]), infos[i])
            for i in range(n)
        ]

    def frame(self, index: int) -> np.ndarray | str:
        """The frame environment ``index`` draws now: an H x W x 3 uint8 image, or text."""
        if self.render_mode is None:
            raise EnvironmentFailed("the environment was not started to render")
        deadline = time.monotonic() + self.limits.step_timeout
        reply = self._ask({"type": "env_render", "index": index}, deadline, "render")
        if reply["type"] != "env_frame":
            raise EnvironmentFailed(f"the environment answered render with {reply['type']!r}")
        frame = reply["frame"]
        if self.render_mode == "ansi":
            if not isinstance(frame, str):
                raise EnvironmentFailed("the environment's render() gave no ansi text")
            return printable(frame[:MAX_TEXT_FRAME_CHARS])
        try:
            image = decode_array(frame, "frame")
        except ProtocolError as exc:
            raise EnvironmentFailed(f"the environment's render() gave a bad frame: {exc}") from None
        height, width = image.shape[:2] if image.ndim >= 2 else (0, 0)
        if (
            image.dtype != np.uint8
            or image.ndim != 3
            or image.shape[2] != 3
            or not 0 < height <= MAX_FRAME_SIDE
            or not 0 < width <= MAX_FRAME_SIDE
        ):
            raise EnvironmentFailed(
                f"the environment's render() gave a frame of shape {image.shape} and dtype "
                f"{image.dtype}: return an H x W x 3 uint8 image of at most {MAX_FRAME_SIDE} "
                "pixels a side"
            )
        return image

    def check(self) -> list[str]:
        """Run Gymnasium's check_env on the environment in its sandbox; return its warnings."""
        deadline = time.monotonic() + self.limits.startup_timeout
        reply = self._ask({"type": "env_check"}, deadline, "check_env")
        if reply["type"] != "env_checked":
            raise EnvironmentFailed(f"the environment answered env_check with {reply['type']!r}")
        return [short_message(str(w), 300) for w in reply["warnings"][:50]]

    # -- checks of what comes back -------------------------------------------------------

    def _observations(self, batch: Any, n: int, where: str) -> list[Any]:
        space = self.observation_space
        try:
            decoded = decode_batch(batch, space, n)
            observations = unbatch(decoded, space)
        except (ProtocolError, ValueError, TypeError) as exc:
            raise EnvironmentFailed(
                f"the environment's observations from {where} do not fit its observation "
                f"space {describe_space(space)}: {exc}"
            ) from None
        if len(observations) != n:
            raise EnvironmentFailed(f"the environment returned {len(observations)} observations")
        if not batch_within(decoded, space):
            raise EnvironmentFailed(
                f"the environment returned an observation from {where} outside its "
                f"observation space {describe_space(space)}: return observations in it"
            )
        return observations

    def _flags(self, value: Any, n: int, name: str, kind: str) -> np.ndarray:
        try:
            array = decode_array(value, name)
        except ProtocolError as exc:
            raise EnvironmentFailed(f"the environment sent bad {name}: {exc}") from None
        if array.shape != (n,) or array.dtype.kind != kind:
            raise EnvironmentFailed(f"the environment sent {name} of shape {array.shape}")
        return array

    def _infos(self, value: Any, n: int) -> list[dict[str, Any]]:
        if not isinstance(value, list) or len(value) != n:
            raise EnvironmentFailed("the environment sent no info for each step")
        infos = []
        for info in value:
            if not isinstance(info, dict) or not set(info) <= set(self.info):
                raise EnvironmentFailed(
                    "the environment sent info beyond the names of metrics.info"
                )
            kept: dict[str, Any] = {}
            for name, number in info.items():
                ok = number is None or (
                    isinstance(number, int | float)
                    and not isinstance(number, bool)
                    and math.isfinite(number)
                )
                if not ok:
                    raise EnvironmentFailed(f"the environment's info {name!r} is not a number")
                kept[name] = number
            infos.append(kept)
        return infos

    # -- talking to the runtime ----------------------------------------------------------

    def _ask(self, message: dict[str, Any], deadline: float, where: str) -> dict:
        if self.conn is None:
            raise EnvironmentFailed("the environment's sandbox is not running")
        conn = self.conn
        try:
            conn.queue(message)
            until(deadline, conn.flush, self.cancel)
            reply = until(deadline, lambda d: conn.recv(ENVIRONMENT_MESSAGES, d), self.cancel)
        except DeadlineExceeded:
            limit = self.limits.startup_timeout if where in ("start", "check_env") else None
            allowed = f"{limit:g} s to start" if limit else f"{self.limits.step_timeout:g} s a step"
            raise EnvironmentFailed(
                f"the environment did not answer {where} within the {allowed}: make it faster"
            ) from None
        except PeerClosed:
            raise EnvironmentFailed(self._exit_message(where)) from None
        except (ProtocolError, OSError) as exc:
            raise EnvironmentFailed(f"the environment broke the protocol: {exc}") from None
        if reply["type"] == "error":
            raise EnvironmentFailed(short_message(str(reply["message"])))
        return reply

    def _accept(self, listener: socket.socket, deadline: float) -> socket.socket:
        assert self.process is not None
        while True:
            check(self.cancel)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EnvironmentFailed(
                    f"the environment runtime did not connect within "
                    f"{self.limits.startup_timeout:g} s"
                )
            listener.settimeout(min(0.1, remaining))
            try:
                conn, _ = listener.accept()
                return conn
            except TimeoutError:
                if self.process.poll() is not None:
                    raise EnvironmentFailed(self._exit_message("start")) from None

    def _exit_message(self, where: str) -> str:
        assert self.process is not None
        self.process.wait(EXIT_WAIT)
        message = f"the environment process {self.process.exit_reason()} during {where}"
        lines = [line.strip() for line in self.process.logs().splitlines() if line.strip()]
        return f"{message}; its last output: {short_message(lines[-1], 300)}" if lines else message


class RemoteEnv(gym.Env):
    """One environment of an :class:`EnvironmentHost`, with the gymnasium.Env interface."""

    def __init__(self, host: EnvironmentHost, index: int):
        self.host, self.index = host, index
        self.observation_space = host.observation_space
        self.action_space = host.action_space
        self.render_mode = host.render_mode
        self.metadata = {"render_modes": list(RENDER_MODES), "render_fps": host.render_fps}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        if seed is None:
            raise ValueError("the evaluator gives every episode its seed")
        return self.host.reset(self.index, int(seed))

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        return self.host.step_many([self.index], [action])[0]

    def render(self) -> Any:
        return self.host.frame(self.index)


def batch_within(batch: Any, space: gym.Space) -> bool:
    """Whether every observation of a decoded batch is in ``space`` (checked at once)."""
    if isinstance(space, gym.spaces.Dict):
        return all(batch_within(batch[k], s) for k, s in space.spaces.items())
    if isinstance(space, gym.spaces.Tuple):
        return all(batch_within(b, s) for b, s in zip(batch, space.spaces, strict=True))
    array = np.asarray(batch)
    if isinstance(space, gym.spaces.Box):
        if space.dtype is None or not np.can_cast(array.dtype, space.dtype):
            return False
        return bool(np.all(array >= space.low) and np.all(array <= space.high))
    if isinstance(space, gym.spaces.Discrete):
        start = int(space.start)
        return array.dtype.kind in "iu" and bool(
            np.all(array >= start) and np.all(array < start + int(space.n))
        )
    if isinstance(space, gym.spaces.MultiDiscrete):
        return array.dtype.kind in "iu" and bool(
            np.all(array >= space.start) and np.all(array < space.start + space.nvec)
        )
    if isinstance(space, gym.spaces.MultiBinary):
        return array.dtype.kind in "biu" and bool(np.all((array == 0) | (array == 1)))
    return all(space.contains(o) for o in array)


def step_all(
    envs: Sequence[gym.Env], actions: Sequence[Any]
) -> list[tuple[Any, Any, bool, bool, dict[str, Any]]]:
    """Step each environment with its action: one round trip when they share a sandbox, one
    call of their class's ``step_batch`` when they have one (the text environment scores
    the completions that end in one batch)."""
    if not envs:
        return []
    # Per round trip, on the evaluator's hot path: the first environment decides which
    # look is worth taking, so plain environments pay for no look at each one.
    first = envs[0]
    if isinstance(first, RemoteEnv):
        host = first.host
        if all(isinstance(env, RemoteEnv) and env.host is host for env in envs):
            indices = [env.index for env in envs if isinstance(env, RemoteEnv)]
            return list(host.step_many(indices, actions))
    else:
        step_batch = _class_batch(envs, "step_batch")
        if step_batch is not None:
            return list(step_batch(actions))
    return [env.step(action) for env, action in zip(envs, actions, strict=True)]


def _class_batch(envs: Sequence[gym.Env], method: str) -> Callable[[Sequence[Any]], Any] | None:
    """The environments' class's ``method(envs, actions)`` on the environments inside their
    wrappers, as a function of the actions; None for one environment, where the class has no
    such method, or where a wrapper would act on the step."""
    if len(envs) < 2:
        return None
    kind = type(envs[0].unwrapped)
    batch = getattr(kind, method, None)
    if batch is None:
        return None
    inner = [_passed_through(env) for env in envs]
    if not all(type(env) is kind for env in inner):  # None where a wrapper would act
        return None
    return lambda actions: batch(inner, actions)


Scores = Callable[[], dict[int, tuple[float, dict[str, Any]]]]
"""Scores the episodes that a step ended: their rewards and infos by row."""


def step_all_then_score(
    envs: Sequence[gym.Env], actions: Sequence[Any]
) -> tuple[list[tuple[Any, Any, bool, bool, dict[str, Any]]], Scores | None]:
    """Step as :func:`step_all` does; where the environments' class has a
    ``step_batch_then_score`` (the text environment), leave the scoring of the episodes that
    end to the function returned (see ``aigc.envs.textgen.env.step_batch_then_score``), else
    return None for it."""
    later = _class_batch(envs, "step_batch_then_score")
    if later is None:
        return step_all(envs, actions), None
    stepped, scores = later(actions)
    return list(stepped), scores


def _passed_through(env: gym.Env) -> gym.Env | None:
    """The environment inside ``env`` if its wrappers would only pass a step on to it (those
    of ``gymnasium.make`` once they have checked a first step), else None."""
    while isinstance(env, gym.Wrapper):
        # Exactly these classes: a subclass may do more in its step.
        checked = type(env) is OrderEnforcing and env.has_reset
        checked |= type(env) is PassiveEnvChecker and env.checked_step
        if not checked:
            return None
        env = env.env
    return env


StepResult = tuple[Any, Any, bool, bool, dict[str, Any]]


def direct_step(env: gym.Env) -> Callable[[Any], StepResult] | None:
    """``env.step`` past the wrappers of ``gymnasium.make`` that would only pass the step on,
    with a TimeLimit's count kept as the TimeLimit keeps it; None while one of them would
    still act (before the first step has been checked), or for any other wrapper.

    The same results as ``env.step``, for a few calls less on every step.
    """
    limit: Any = env if type(env) is TimeLimit else None  # its count, kept as its step keeps it
    inner = _passed_through(env if limit is None else limit.env)
    if inner is None or inner is env:
        return None
    step = inner.step
    if limit is None:
        return step

    def counted(action: Any) -> StepResult:
        observation, reward, terminated, truncated, info = step(action)
        limit._elapsed_steps += 1
        if limit._elapsed_steps >= limit._max_episode_steps:
            truncated = True
        return observation, reward, terminated, truncated, info

    return counted
